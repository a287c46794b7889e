"""A tool's answer made safe for the model and the terminal: text, redacted, stripped, cut.

MCP results are untrusted text from another program: control sequences are stripped
(core/sanitize.py), secrets redacted (core/redact.py) and the text cut to ``max_chars`` before
the model (or the user's terminal) sees any of it.
"""

from __future__ import annotations

import json
from typing import Any

from ai_workbench.core.redact import redact
from ai_workbench.core.sanitize import strip_controls


def result_text(result: Any) -> str:
    """The text of a ``CallToolResult`` (or a ``GetPromptResult``/``ReadResourceResult`` part):
    text blocks as they are, other blocks named, structured content as JSON when no text."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(str(getattr(block, "text", "")))
        elif kind == "image":
            parts.append(f"[image: {getattr(block, 'mime_type', 'unknown type')}]")
        elif kind == "audio":
            parts.append(f"[audio: {getattr(block, 'mime_type', 'unknown type')}]")
        elif kind == "resource":
            resource = getattr(block, "resource", None)
            text = getattr(resource, "text", None)
            uri = getattr(resource, "uri", "")
            parts.append(str(text) if text is not None else f"[binary resource {uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource {getattr(block, 'uri', '')}]")
        else:
            parts.append(f"[{kind or 'unknown'} content]")
    structured = getattr(result, "structured_content", None)
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False, indent=1))
    return "\n".join(parts)


def cut(text: str, max_chars: int) -> tuple[str, bool]:
    if len(text) <= max_chars:
        return text, False
    kept = text[:max_chars]
    note = f"\n[... cut by aiw: {len(text) - max_chars:,} more characters not shown]"
    return kept + note, True


def clean(text: str, max_chars: int) -> tuple[str, int, bool]:
    """(safe text, secrets redacted, cut?): stripped, redacted, then cut to ``max_chars``.

    A megabyte answer is first cut to twice the limit (redaction time grows with the text); the
    final cut comes after redaction, so a secret is never split before it is recognised."""
    rough, was_cut = (text[: max_chars * 2], True) if len(text) > max_chars * 2 else (text, False)
    redaction = redact(strip_controls(rough))
    safe, cut_again = cut(redaction.text, max_chars)
    if was_cut and not cut_again:
        safe += "\n[... cut by aiw: the rest of the result is not shown]"
    elif was_cut:
        safe = safe.rsplit("\n[... cut by aiw", 1)[0]
        safe += f"\n[... cut by aiw: {len(text) - max_chars:,} more characters not shown]"
    return safe, redaction.total, was_cut or cut_again


def summary(text: str, width: int = 160) -> str:
    """One line for the user: the start of the result."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
