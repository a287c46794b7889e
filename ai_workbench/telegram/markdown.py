"""Markdown (what models write) as Telegram's HTML parse mode.

Telegram formats a message from a small HTML subset: ``b i u s code pre a blockquote``, with
``&lt; &gt; &amp; &quot;`` as the only named entities. markdown-it-py (CommonMark, the parser
rich uses) reads the answer; :func:`to_telegram_html` writes each node in that subset:
headings in bold, lists with bullets or numbers, fenced code as ``<pre><code
class="language-x">``, tables kept as monospaced source, raw HTML escaped as text, links only
for http(s), tg and mailto addresses. Whatever Telegram still refuses, the bot sends as plain
text (:mod:`ai_workbench.telegram.bot`).
"""

from __future__ import annotations

import html
from functools import cache
from typing import Any

__all__ = ["to_telegram_html"]

_LINK_SCHEMES = ("http://", "https://", "tg://", "mailto:")
_INLINE_TAGS = {"strong": "b", "em": "i", "s": "s"}


@cache
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable(["strikethrough", "table"])


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def to_telegram_html(markdown: str) -> str:
    """``markdown`` in Telegram's HTML parse mode."""
    from markdown_it.tree import SyntaxTreeNode

    tree = SyntaxTreeNode(_parser().parse(markdown))
    lines = markdown.split("\n")
    return _blocks(tree.children, lines, tight=False).strip("\n")


def _blocks(nodes: Any, lines: list[str], *, tight: bool) -> str:
    parts = [_block(node, lines) for node in nodes]
    return ("\n" if tight else "\n\n").join(part for part in parts if part != "")


def _block(node: Any, lines: list[str]) -> str:
    kind = node.type
    if kind == "paragraph":
        return _inline_of(node)
    if kind == "heading":
        return f"<b>{_inline_of(node)}</b>"
    if kind in ("fence", "code_block"):
        code = node.content.rstrip("\n")
        language = (node.info or "").strip().split(" ")[0] if kind == "fence" else ""
        if language:
            return f'<pre><code class="language-{_attr(language)}">{_esc(code)}</code></pre>'
        return f"<pre>{_esc(code)}</pre>"
    if kind in ("bullet_list", "ordered_list"):
        return _list(node, lines)
    if kind == "blockquote":
        return f"<blockquote>{_blocks(node.children, lines, tight=False)}</blockquote>"
    if kind == "hr":
        return "──────────"
    if kind == "table":
        start, end = node.map
        return f"<pre>{_esc(chr(10).join(lines[start:end]).strip())}</pre>"
    if kind == "html_block":
        return _esc(node.content.rstrip("\n"))
    if kind == "inline":
        return _inline(node.children)
    # Anything else markdown-it may add: its text, escaped.
    return _blocks(node.children, lines, tight=False) if node.children else _esc(node.content)


def _list(node: Any, lines: list[str]) -> str:
    ordered = node.type == "ordered_list"
    number = int(node.attrs.get("start", 1)) if ordered else 0
    items = []
    for item in node.children:
        marker = f"{number}." if ordered else "•"
        number += 1
        body = _blocks(item.children, lines, tight=True)
        pad = " " * (len(marker) + 1)
        body = body.replace("\n", "\n" + pad)
        items.append(f"{marker} {body}")
    return "\n".join(items)


def _inline_of(node: Any) -> str:
    return "".join(_inline(child.children) for child in node.children)


def _inline(nodes: Any) -> str:
    out: list[str] = []
    for node in nodes:
        kind = node.type
        if kind == "text":
            out.append(_esc(node.content))
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind == "code_inline":
            out.append(f"<code>{_esc(node.content)}</code>")
        elif kind in _INLINE_TAGS:
            tag = _INLINE_TAGS[kind]
            out.append(f"<{tag}>{_inline(node.children)}</{tag}>")
        elif kind == "link":
            href = str(node.attrs.get("href", ""))
            text = _inline(node.children)
            if href.lower().startswith(_LINK_SCHEMES):
                out.append(f'<a href="{_attr(href)}">{text}</a>')
            else:
                out.append(text)
        elif kind == "image":
            alt = _inline(node.children) or "image"
            out.append(f"{alt} ({_esc(str(node.attrs.get('src', '')))})")
        elif kind == "html_inline":
            out.append(_esc(node.content))
        else:
            out.append(_inline(node.children) if node.children else _esc(node.content))
    return "".join(out)
