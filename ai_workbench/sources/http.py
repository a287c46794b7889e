"""HTTP for the connectors: tokens from the environment, bounded retries that honour 429 and
``Retry-After``, and the pagination headers the APIs use (``Link: <…>; rel="next"``,
``X-Next-Page``)."""

from __future__ import annotations

import asyncio
import email.utils
import os
import re
import time
from typing import Any

import httpx

from ai_workbench.sources.models import SourceAuthError, SourceError, SourceInputError

MAX_RETRIES = 4
MAX_WAIT_S = 120.0
TIMEOUT_S = 30.0
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([^";]+)"?')


def token_from_env(var: str | None, what: str) -> str | None:
    """The token in ``$var`` (never stored anywhere by aiw); a clear error when it is unset."""
    if not var:
        return None
    value = os.environ.get(var, "").strip()
    if not value:
        raise SourceAuthError(
            f"the environment variable {var} is not set: export {var}=<token for {what}> "
            "(aiw reads tokens only from the environment and never stores them)"
        )
    return value


def next_link(response: httpx.Response) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header (GitHub, GitLab)."""
    for url, rel in _LINK.findall(response.headers.get("link", "")):
        if "next" in rel.split():
            return url
    return None


def retry_after(response: httpx.Response, default: float = 5.0) -> float:
    """Seconds to wait: ``Retry-After`` (seconds or an HTTP date), or GitHub's
    ``x-ratelimit-reset`` when the remaining quota is 0."""
    value = response.headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
            return max(0.0, when - time.time())
        except (TypeError, ValueError):
            return default
    reset = response.headers.get("x-ratelimit-reset")
    if reset and reset.isdigit():
        return max(0.0, float(reset) - time.time())
    return default


class Http:
    """One client per sync run. ``notes`` collects what the run report should say (waits)."""

    def __init__(
        self,
        *,
        headers: dict[str, str] | None = None,
        token_env: str | None = None,
        auth: Any = None,
        timeout: float = TIMEOUT_S,
        max_wait: float = MAX_WAIT_S,
    ) -> None:
        from ai_workbench import __version__

        self.token_env = token_env
        self.notes: list[str] = []
        self.requests = 0
        self.max_wait = max_wait
        base = {"User-Agent": f"aiw/{__version__} (+sources)", "Accept": "application/json"}
        self.client = httpx.AsyncClient(
            headers=base | (headers or {}), auth=auth, timeout=timeout, follow_redirects=True
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def get(
        self,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """GET with bounded retries on 429/503 (waiting as told) and on connection errors.
        401/403 raise :class:`SourceAuthError` naming the token's variable."""
        for attempt in range(MAX_RETRIES + 1):
            try:
                self.requests += 1
                response = await self.client.get(url, params=params, headers=headers)
            except httpx.HTTPError as exc:
                if attempt == MAX_RETRIES:
                    raise SourceError(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None
                await asyncio.sleep(min(2.0**attempt, 10.0))
                continue
            status = response.status_code
            limited = status == 403 and response.headers.get("x-ratelimit-remaining") == "0"
            if status in (429, 503) or limited:
                wait = retry_after(response)
                if attempt == MAX_RETRIES or wait > self.max_wait:
                    raise SourceError(
                        f"{status} from {_short(url)}: rate limited, asked to wait {wait:.0f} s "
                        f"(more than aiw waits, {self.max_wait:.0f} s); the next sync resumes"
                    )
                self.notes.append(f"{status} from {_short(url)}: waited {wait:.1f} s as asked")
                await asyncio.sleep(wait)
                continue
            if status in (401, 403):
                which = f" in ${self.token_env}" if self.token_env else " (none was given)"
                raise SourceAuthError(
                    f"{status} {response.reason_phrase} from {_short(url)}: check the token"
                    f"{which} and its permissions"
                )
            return response
        raise AssertionError("unreachable")

    async def get_json(self, url: str, **kw: Any) -> tuple[Any, httpx.Response]:
        response = await self.get(url, **kw)
        if response.status_code == 404:
            raise SourceInputError(
                f"404 Not Found: {_short(url)} (check the URL, space or project)"
            )
        if response.status_code >= 400:
            raise SourceError(f"{response.status_code} {response.reason_phrase} from {_short(url)}")
        try:
            return response.json(), response
        except ValueError:
            raise SourceError(f"{_short(url)} did not answer with JSON") from None


def _short(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."
