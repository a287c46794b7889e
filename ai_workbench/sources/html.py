"""HTML (web pages, Confluence's storage format) to Markdown-like text, with the page's title
and links, on the standard library's parser: headings become ``#`` lines (so the knowledge
chunker splits by section), blocks become lines, scripts, styles and navigation are dropped."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_BLOCKS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "li",
        "ul",
        "ol",
        "table",
        "tr",
        "br",
        "hr",
        "pre",
        "blockquote",
        "dd",
        "dt",
        "dl",
        "ac:structured-macro",
        "ac:rich-text-body",
        "tbody",
        "thead",
    ]
)
_SKIP = frozenset({"script", "style", "noscript", "nav", "svg", "template", "head"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.links: list[str] = []
        self.title = ""
        self._in_title = False
        self._skip = 0
        self._heading = 0
        self._pre = 0
        self.robots_noindex = False

    def _flush(self) -> None:
        text = "".join(self.current)
        self.current = []
        text = text if self._pre else re.sub(r"[ \t\r\f\v]+", " ", text).strip()
        if text:
            self.lines.append(("#" * self._heading + " " if self._heading else "") + text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "meta" and (values.get("name") or "").lower() == "robots":
            self.robots_noindex = "noindex" in (values.get("content") or "").lower()
        if tag == "title":
            self._in_title = True
        if tag in _SKIP:
            self._skip += 1
            return
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        if tag in _HEADINGS:
            self._flush()
            self._heading = _HEADINGS[tag]
        elif tag in _BLOCKS:
            self._flush()
        if tag == "pre":
            self._pre += 1
            self.lines.append("```")
        if tag == "li":
            self.current.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
            return
        if tag in _HEADINGS:
            self._flush()
            self._heading = 0
        elif tag in _BLOCKS or tag in ("td", "th"):
            if tag in ("td", "th"):
                self.current.append(" | ")
            else:
                self._flush()
        if tag == "pre":
            self._flush()
            self._pre = max(0, self._pre - 1)
            self.lines.append("```")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skip:
            return
        self.current.append(data)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("br", "hr"):
            self._flush()


def html_to_text(markup: str) -> tuple[str, str, list[str], bool]:
    """(title, Markdown-like text, hrefs, robots noindex) of an HTML page or fragment."""
    parser = _Extractor()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # html.parser is lenient; a pathological page still gives its text
        pass
    parser._flush()
    text = "\n".join(parser.lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return html.unescape(parser.title).strip(), text, parser.links, parser.robots_noindex
