"""GitLab: a project's issues, merge requests and wiki pages through the REST API v4
(``PRIVATE-TOKEN``), following ``X-Next-Page`` / ``Link: rel="next"``. Issues and merge
requests are incremental by ``updated_at``; wiki pages (which carry no time) by content hash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx

from ai_workbench.sources.http import Http, next_link, token_from_env
from ai_workbench.sources.models import (
    Content,
    Failed,
    Fetched,
    Item,
    Known,
    Same,
    Source,
    SourceInputError,
)

PER_PAGE = 100


class GitLab:
    def __init__(self, source: Source) -> None:
        opts = source.options
        self.base = source.location.rstrip("/")
        self.project = str(opts["project"])
        token = token_from_env(opts.get("token_env"), f"GitLab at {self.base}")
        headers = {"PRIVATE-TOKEN": token} if token else {}
        self.http = Http(headers=headers, token_env=opts.get("token_env"))
        self.api = f"{self.base}/api/v4/projects/{quote(self.project, safe='')}"
        self.notes: list[str] = []

    async def close(self) -> None:
        await self.http.close()

    async def _pages(self, path: str, params: dict[str, Any]) -> AsyncIterator[Any]:
        url: str | None = f"{self.api}/{path}"
        query: dict[str, Any] | None = params | {"per_page": PER_PAGE}
        while url:
            data, response = await self.http.get_json(url, params=query)
            for entry in data if isinstance(data, list) else []:
                yield entry
            url, query = _next(response, url, query)

    async def items(self, known: dict[str, Known], state: dict[str, Any]) -> AsyncIterator[Item]:
        for path, prefix, label in (("issues", "issue", "issue"),
                                    ("merge_requests", "mr", "merge request")):  # fmt: skip
            async for entry in self._pages(path, {"state": "all", "order_by": "updated_at"}):
                yield _tracker_item(entry, prefix, label, known)
        try:
            async for page in self._pages("wikis", {"with_content": 1}):
                yield self._wiki_item(page)
        except SourceInputError:
            self.notes.append(f"{self.project} has no wiki (404); none indexed")

    def _wiki_item(self, page: dict[str, Any]) -> Item:
        slug = str(page.get("slug") or "")
        url = f"{self.base}/{self.project}/-/wikis/{slug}"
        if "content" not in page:
            return Failed(f"wiki/{slug}", url, "the wiki listing gave no content")
        title = str(page.get("title") or slug)
        fmt = str(page.get("format") or "markdown")
        text = str(page.get("content") or "")
        body = f"# {title}\n\n{text}" if fmt == "markdown" else f"{title}\n\n{text}"
        return Fetched(f"wiki/{slug}", title, url, None, Content(text=body))


def _tracker_item(entry: dict[str, Any], prefix: str, label: str, known: dict[str, Known]) -> Item:
    number = entry.get("iid")
    ext = f"{prefix}/{number}"
    url = str(entry.get("web_url") or "")
    updated = entry.get("updated_at")
    if number is None or not url:
        return Failed(ext, url, f"unexpected {label} shape: no iid or web_url")
    old = known.get(ext)
    if old is not None and updated and old.version == updated:
        return Same(ext)
    title = (
        f"{label.capitalize()} {'!' if prefix == 'mr' else '#'}{number}: {entry.get('title', '')}"
    )
    labels = ", ".join(str(x) for x in entry.get("labels") or [])
    meta = f"State: {entry.get('state', '?')}" + (f"; labels: {labels}" if labels else "")
    text = f"# {title}\n\n{meta}\n\n{entry.get('description') or ''}"
    return Fetched(ext, title, url, updated, Content(text=text))


def _next(
    response: httpx.Response, url: str, query: dict[str, Any] | None
) -> tuple[str | None, dict[str, Any] | None]:
    """GitLab says the next page in ``X-Next-Page`` (offset pagination) or ``Link``
    (keyset pagination, and offset too)."""
    link = next_link(response)
    if link:
        return link, None
    page = response.headers.get("x-next-page", "").strip()
    if page:
        base = url.split("?", 1)[0]
        params = dict(query or dict(response.request.url.params))
        params["page"] = page
        return base, params
    return None, None
