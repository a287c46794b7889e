"""Server-Sent Events framing (``text/event-stream``) for /v1/ask and /v1/events."""

from __future__ import annotations

import json
from typing import Any

SSE_MEDIA_TYPE = "text/event-stream"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: str, data: Any, *, id: str | None = None) -> bytes:
    """One event: ``event:`` name, optional ``id:``, JSON ``data:``."""
    lines = [f"event: {event}"]
    if id is not None:
        lines.append(f"id: {id}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def comment(text: str = "keep-alive") -> bytes:
    return f": {text}\n\n".encode()
