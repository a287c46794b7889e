"""A web site: pages reached from a start URL within ``depth`` links, on the same site unless
told otherwise, as robots.txt allows (``aiw`` as the user agent). Each page is fetched with
its last ``ETag`` / ``Last-Modified`` (a 304 is unchanged), else its text's hash decides. A page
no longer reached, or answering 404/410, is gone; one that fails (5xx) is kept and reported."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from ai_workbench.sources.html import html_to_text
from ai_workbench.sources.http import Http
from ai_workbench.sources.models import (
    Content,
    Failed,
    Fetched,
    Item,
    Known,
    Same,
    Skipped,
    Source,
    SourceError,
)

AGENT = "aiw"
MAX_PAGES = 500
TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "text/markdown")


class WebSite:
    def __init__(self, source: Source) -> None:
        opts = source.options
        self.start = urldefrag(source.location)[0]
        self.depth = int(opts.get("depth", 1))
        self.same_site = bool(opts.get("same_site", True))
        self.max_pages = int(opts.get("max_pages", MAX_PAGES))
        self.http = Http(headers={"Accept": "text/html,text/plain;q=0.9,*/*;q=0.1"})
        self.robots: dict[str, RobotFileParser] = {}
        self.notes: list[str] = []

    async def close(self) -> None:
        await self.http.close()

    async def _allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        if site not in self.robots:
            parser = RobotFileParser()
            try:
                response = await self.http.get(site + "/robots.txt")
                lines = response.text.splitlines() if response.status_code == 200 else []
            except SourceError:
                lines = []
            parser.parse(lines)
            self.robots[site] = parser
        return self.robots[site].can_fetch(AGENT, url)

    def _follow(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return False
        return not self.same_site or parts.netloc == urlsplit(self.start).netloc

    async def items(self, known: dict[str, Known], state: dict[str, Any]) -> AsyncIterator[Item]:
        old_links: dict[str, list[str]] = state.get("links") or {}
        links: dict[str, list[str]] = {}
        queue: list[tuple[str, int]] = [(self.start, 0)]
        queued = {self.start}
        first = True
        while queue:
            url, level = queue.pop(0)
            if not await self._allowed(url):
                self.notes.append(f"robots.txt disallows {url}; not indexed")
                first = False
                continue
            item, found = await self._page(url, known.get(url), old_links.get(url), first)
            first = False
            if item is not None:
                yield item
            if found is None:
                continue
            links[url] = found
            if level >= self.depth:
                continue
            for href in found:
                if href not in queued and self._follow(href) and len(queued) < self.max_pages:
                    queued.add(href)
                    queue.append((href, level + 1))
        if len(queued) >= self.max_pages:
            self.notes.append(f"stopped at {self.max_pages} pages (max_pages)")
        state["links"] = links

    async def _page(
        self, url: str, old: Known | None, old_links: list[str] | None, first: bool
    ) -> tuple[Item | None, list[str] | None]:
        headers: dict[str, str] = {}
        if old is not None and old.version and old_links is not None:
            kind, _, value = old.version.partition(":")
            headers["If-None-Match" if kind == "etag" else "If-Modified-Since"] = value
        try:
            response = await self.http.get(url, headers=headers)
        except SourceError as exc:
            if first:
                raise
            return Failed(url, url, str(exc)), old_links
        status = response.status_code
        if status == 304 and old is not None:
            return Same(url), old_links
        if status in (404, 410):
            if first:
                raise SourceError(f"{status} from the start page {url}")
            return None, None  # gone: the sync removes it
        if status >= 400:
            if first:
                raise SourceError(f"{status} {response.reason_phrase} from the start page {url}")
            return Failed(url, url, f"{status} {response.reason_phrase}"), old_links
        final = urldefrag(str(response.url))[0]
        ctype = response.headers.get("content-type", "text/html").split(";")[0].strip().lower()
        etag = response.headers.get("etag")
        modified = response.headers.get("last-modified")
        version = f"etag:{etag}" if etag else (f"lm:{modified}" if modified else None)
        if ctype == "application/pdf":
            return Fetched(
                url, url, final, version, Content(data=response.content, suffix=".pdf")
            ), []
        if ctype not in TEXT_TYPES:
            return Skipped(url, url, f"not a text page ({ctype})"), []
        if ctype in ("text/html", "application/xhtml+xml"):
            title, text, hrefs, noindex = html_to_text(response.text)
            found = [urldefrag(urljoin(final, h))[0] for h in hrefs]
            if noindex:
                return Skipped(url, url, "the page asks not to be indexed (robots noindex)"), found
            title = title or url
            return Fetched(url, title, final, version, Content(text=f"# {title}\n\n{text}")), found
        suffix = ".md" if ctype == "text/markdown" else ".txt"
        return Fetched(url, url, final, version, Content(text=response.text, suffix=suffix)), []
