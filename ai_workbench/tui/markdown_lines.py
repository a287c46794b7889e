"""Markdown for small spaces (suggestion cards): a few styled lines instead of raw ``**`` and
fences. The text is untrusted (model output): control sequences are stripped first and the
result is built as Textual ``Content`` with styles attached to spans, never parsed as markup,
so ``[b]`` or ``[@click=…]`` in the text stays text.
"""

from __future__ import annotations

from typing import Any

from textual.content import Content

CODE_STYLE = "$text-accent"
DIFF_STYLES = {"+": "$text-success", "-": "$text-error", "@": "$text-accent"}
BULLET = "• "


def markdown_lines(text: str) -> list[Content]:
    """``text`` (Markdown) as one styled :class:`Content` per line, block by block."""
    from markdown_it import MarkdownIt

    from ai_workbench.core.sanitize import strip_controls

    source = strip_controls(text)
    tokens = MarkdownIt("commonmark").parse(source)
    lines: list[Content] = []
    prefix: list[str] = []  # list bullets / quote marks of the open blocks
    ordered: list[int] = []
    for token in tokens:
        kind = token.type
        if kind == "bullet_list_open":
            ordered.append(0)
        elif kind == "ordered_list_open":
            ordered.append(int(token.attrGet("start") or 1))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            ordered.pop()
        elif kind == "list_item_open":
            if ordered and ordered[-1]:
                prefix.append(f"{ordered[-1]}. ")
                ordered[-1] += 1
            else:
                prefix.append(BULLET)
        elif kind == "list_item_close":
            prefix.pop()
        elif kind == "blockquote_open":
            prefix.append("▎ ")
        elif kind == "blockquote_close":
            prefix.pop()
        elif kind == "inline":
            style = "bold" if _in_heading(tokens, token) else ""
            for part in _inline(token.children or []).split("\n"):
                lines.append(_prefixed(prefix, part.stylize(style) if style else part))
        elif kind in ("fence", "code_block"):
            diff = (token.info or "").strip().lower() in ("diff", "patch")
            for raw in token.content.rstrip("\n").split("\n"):
                style = DIFF_STYLES.get(raw[:1], "dim") if diff else CODE_STYLE
                lines.append(_prefixed(prefix, Content.styled(raw, style)))
        elif kind == "hr":
            lines.append(Content.styled("───", "dim"))
        elif kind == "html_block":
            lines.extend(_prefixed(prefix, Content(raw)) for raw in token.content.splitlines())
    return lines


def markdown_preview(text: str, max_lines: int, width: int = 400) -> Content:
    """The first ``max_lines`` non-empty lines of ``text`` rendered, at most ``width`` cells."""
    kept = [line for line in markdown_lines(text) if line.plain.strip()][:max_lines]
    joined = Content("\n").join(kept)
    if len(joined.plain) > width:
        joined = joined[: width - 1] + Content("…")
    return joined


def _prefixed(prefix: list[str], line: Content) -> Content:
    if not prefix:
        return line
    indent = "".join("  " if p == BULLET else p for p in prefix[:-1])
    return Content(indent + prefix[-1]) + line


def _in_heading(tokens: list[Any], inline: Any) -> bool:
    index = tokens.index(inline)
    return index > 0 and tokens[index - 1].type == "heading_open"


def _inline(children: list[Any]) -> Content:
    parts: list[Content] = []
    styles: list[str] = []
    for child in children:
        kind = child.type
        if kind == "text" or kind == "html_inline":
            parts.append(_styled(child.content, styles))
        elif kind == "code_inline":
            parts.append(_styled(child.content, [*styles, CODE_STYLE]))
        elif kind in ("softbreak", "hardbreak"):
            parts.append(Content("\n"))
        elif kind == "strong_open":
            styles.append("bold")
        elif kind == "em_open":
            styles.append("italic")
        elif kind == "link_open":
            styles.append("underline")
        elif kind in ("strong_close", "em_close", "link_close") and styles:
            styles.pop()
        elif kind == "image":
            parts.append(_styled(child.content or "image", [*styles, "dim"]))
    return Content("").join(parts)


def _styled(text: str, styles: list[str]) -> Content:
    return Content.styled(text, " ".join(styles)) if styles else Content(text)
