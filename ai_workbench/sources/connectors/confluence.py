"""Confluence (Cloud and Data Center): the pages of one space through the REST API,
``/rest/api/content?spaceKey=KEY&type=page&expand=body.storage,version``, following
``_links.next``. A page's ``version.number`` makes the sync incremental."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from ai_workbench.sources.html import html_to_text
from ai_workbench.sources.http import Http, token_from_env
from ai_workbench.sources.models import Content, Failed, Fetched, Item, Known, Same, Source

PAGE_SIZE = 50


class Confluence:
    def __init__(self, source: Source) -> None:
        opts = source.options
        self.base = source.location.rstrip("/")
        self.space = opts["space"]
        token = token_from_env(opts.get("token_env"), f"Confluence at {self.base}")
        user = opts.get("user")
        auth = httpx.BasicAuth(user, token) if user and token else None
        headers = {"Authorization": f"Bearer {token}"} if token and not user else {}
        self.http = Http(headers=headers, auth=auth, token_env=opts.get("token_env"))

    async def close(self) -> None:
        await self.http.close()

    async def items(self, known: dict[str, Known], state: dict[str, Any]) -> AsyncIterator[Item]:
        url: str | None = f"{self.base}/rest/api/content"
        params: dict[str, Any] | None = {
            "spaceKey": self.space,
            "type": "page",
            "status": "current",
            "expand": "body.storage,version",
            "limit": PAGE_SIZE,
        }
        while url:
            data, _ = await self.http.get_json(url, params=params)
            params = None  # the next link carries them
            links = data.get("_links") or {}
            base = links.get("base") or self.base
            for page in data.get("results") or []:
                yield self._item(page, base, known)
            nxt = links.get("next")
            # "next" is relative to "base" (the site plus its context path, e.g. /wiki)
            url = _join(base, links.get("context") or "", nxt) if nxt else None

    def _item(self, page: dict[str, Any], base: str, known: dict[str, Known]) -> Item:
        page_id = str(page.get("id") or "")
        links = page.get("_links") or {}
        url = _join(base, "", links.get("webui") or f"/pages/viewpage.action?pageId={page_id}")
        try:
            version = str((page.get("version") or {})["number"])
            old = known.get(page_id)
            if old is not None and old.version == version:
                return Same(page_id)
            storage = page["body"]["storage"]["value"]
            if not isinstance(storage, str):
                return Failed(page_id, url, "the page has no body.storage value (no permission?)")
            _, text, _, _ = html_to_text(storage)
            title = str(page.get("title") or page_id)
            return Fetched(page_id, title, url, version, Content(text=f"# {title}\n\n{text}"))
        except (KeyError, TypeError) as exc:
            return Failed(page_id, url, f"unexpected page shape: missing {exc}")


def _join(base: str, context: str, path: str) -> str:
    """Confluence's links are relative to ``_links.base`` (which already holds the context
    path, e.g. ``/wiki``); ``next`` is relative to the host + context."""
    if path.startswith(("http://", "https://")):
        return path
    base = base.rstrip("/")
    if context and not base.endswith(context):
        base += context
    return base + "/" + path.lstrip("/")
