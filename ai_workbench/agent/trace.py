"""A trace of what the model saw and said, for whoever tunes the loop or a model's settings.

``AIW_AGENT_TRACE=FILE`` appends one JSON line per model turn: the messages sent (as sent:
tool outputs already redacted and cut), the tools offered, the answer's text and tool calls.
Off unless the variable is set; a file that cannot be written is skipped, never an error.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

__all__ = ["trace_turn"]

VARIABLE = "AIW_AGENT_TRACE"


def trace_turn(
    messages: list[dict[str, Any]],
    offered: list[dict[str, Any]] | None,
    text: str,
    calls: list[Any],
) -> None:
    """Append this turn to the trace file, if one is set."""
    path = os.environ.get(VARIABLE, "").strip()
    if not path:
        return
    entry = {
        "at": time.time(),
        "offered": [str(s.get("function", {}).get("name")) for s in offered or []],
        "messages": messages,
        "text": text,
        "calls": [
            {"name": c.name, "arguments": c.arguments, "error": c.error} for c in calls or []
        ],
    }
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
    except OSError:
        return
