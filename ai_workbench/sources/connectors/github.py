"""GitHub: a repository's issues and pull requests (``/repos/O/R/issues?state=all`` lists
both) through the REST API, following ``Link: rel="next"``. Each listing page is requested
with its last ``ETag`` (``If-None-Match``): a 304 costs no rate limit and says every issue on
it is unchanged; otherwise ``updated_at`` decides per issue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ai_workbench.sources.http import Http, next_link, token_from_env
from ai_workbench.sources.models import (
    Content,
    Failed,
    Fetched,
    Item,
    Known,
    Same,
    Source,
    SourceError,
    SourceInputError,
)

PER_PAGE = 100
API = "https://api.github.com"


class GitHub:
    def __init__(self, source: Source) -> None:
        opts = source.options
        self.repo = source.location.strip("/")
        self.api = (opts.get("api_url") or API).rstrip("/")
        token = token_from_env(opts.get("token_env"), f"GitHub {self.repo}")
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        } | ({"Authorization": f"Bearer {token}"} if token else {})
        self.http = Http(headers=headers, token_env=opts.get("token_env"))
        self.notes: list[str] = []

    async def close(self) -> None:
        await self.http.close()

    async def items(self, known: dict[str, Known], state: dict[str, Any]) -> AsyncIterator[Item]:
        old_pages: dict[str, Any] = state.get("pages") or {}
        pages: dict[str, Any] = {}
        url: str | None = f"{self.api}/repos/{self.repo}/issues?state=all&per_page={PER_PAGE}"
        not_modified = 0
        while url:
            cached = old_pages.get(url)
            headers = {}
            if cached and all(i in known for i in cached.get("ids", [])):
                headers["If-None-Match"] = cached["etag"]
            response = await self.http.get(url, headers=headers)
            if response.status_code == 304 and cached:
                not_modified += 1
                pages[url] = cached
                for ext in cached["ids"]:
                    yield Same(ext)
                url = cached.get("next")
                continue
            if response.status_code == 404:
                raise SourceInputError(f"404 Not Found: {url} (check OWNER/REPO and --api-url)")
            if response.status_code >= 400:
                raise SourceError(f"{response.status_code} {response.reason_phrase} from {url}")
            data = response.json()
            ids: list[str] = []
            for entry in data if isinstance(data, list) else []:
                item = _item(entry, known)
                ids.append(item.external_id)
                yield item
            nxt = next_link(response)
            etag = response.headers.get("etag")
            if etag:
                pages[url] = {"etag": etag, "ids": ids, "next": nxt}
            url = nxt
        state["pages"] = pages
        if not_modified:
            self.notes.append(f"{not_modified} listing page(s) unchanged (HTTP 304)")


def _item(entry: dict[str, Any], known: dict[str, Known]) -> Item:
    number = entry.get("number")
    is_pr = "pull_request" in entry
    ext = f"{'pull' if is_pr else 'issue'}/{number}"
    url = str(entry.get("html_url") or "")
    if number is None or not url:
        return Failed(ext, url, "unexpected issue shape: no number or html_url")
    updated = entry.get("updated_at")
    old = known.get(ext)
    if old is not None and updated and old.version == updated:
        return Same(ext)
    kind = "Pull request" if is_pr else "Issue"
    title = f"{kind} #{number}: {entry.get('title', '')}"
    labels = ", ".join(str(x.get("name", x)) if isinstance(x, dict) else str(x)
                       for x in entry.get("labels") or [])  # fmt: skip
    meta = f"State: {entry.get('state', '?')}" + (f"; labels: {labels}" if labels else "")
    text = f"# {title}\n\n{meta}\n\n{entry.get('body') or ''}"
    return Fetched(ext, title, url, updated, Content(text=text))
