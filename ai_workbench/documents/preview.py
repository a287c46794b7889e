"""A document for the terminal: diagrams drawn as text (termaid) or shown as their source."""

from __future__ import annotations

from ai_workbench.documents.markdown import blocks


def terminal_markdown(body: str, width: int = 100) -> str:
    """``body`` with each Mermaid diagram that termaid can draw replaced by a ``text`` block of
    box art (its language noted); other diagrams stay as source."""
    from ai_workbench.documents.render import text_preview

    lines = body.split("\n")
    for block in reversed([b for b in blocks(body) if b.diagram]):
        art = text_preview(block.diagram or "", block.text, width)
        if art is None:
            continue
        lines[block.start : block.end + 1] = [
            f"```text  ({block.diagram} diagram, drawn as text; exported as SVG)",
            *art.rstrip("\n").split("\n"),
            "```",
        ]
    return "\n".join(lines)
