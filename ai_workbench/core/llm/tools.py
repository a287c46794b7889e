"""Tool calls in the OpenAI tools format: streamed deltas put together into whole calls.

A model that wants a tool answers with ``delta.tool_calls`` instead of (or beside) text. Servers
split one call across many chunks: the first carries ``index``, ``id`` and ``function.name``, the
next ones only more ``function.arguments`` text for the same ``index``. Ollama sends a parallel
batch with every call on ``index`` 0, each complete in one chunk with its own ``id``:
:class:`ToolCallAccumulator` starts a new call when a chunk on a used index brings a different id
(or a new name after complete arguments).

Running the calls and streaming again is the job of
:func:`ai_workbench.core.llm.toolloop.stream_with_tools`; :class:`Toolbox` is what it runs them
through. Malformed arguments become an ``error`` on the call, never an exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

_NAME_RE = re.compile(r"[^A-Za-z0-9_-]")


def tool_name(*parts: str) -> str:
    """A function name every provider accepts (``[A-Za-z0-9_-]{1,64}``), e.g. ``mcp__git__log``."""
    name = "__".join(_NAME_RE.sub("_", part) for part in parts)
    return name[:64] or "tool"


@dataclass
class ToolCall:
    """One call the model asked for; ``arguments`` is ``None`` when ``error`` says why."""

    index: int
    id: str = ""
    name: str = ""
    arguments_text: str = ""
    arguments: dict[str, Any] | None = None
    error: str | None = None

    def parse(self) -> None:
        text = self.arguments_text.strip()
        if not text:
            self.arguments = {}
            return
        try:
            value = json.loads(text)
        except ValueError as exc:
            self.error = f"the arguments are not valid JSON ({exc.msg} at character {exc.pos})"
            return
        if not isinstance(value, dict):
            self.error = f"the arguments must be a JSON object, not {type(value).__name__}"
            return
        self.arguments = value

    def as_message_part(self) -> dict[str, Any]:
        """The call as the assistant message's ``tool_calls`` item (sent back next round)."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments_text or "{}"},
        }


class ToolCallAccumulator:
    """Puts streamed ``tool_calls`` deltas (dicts in OpenAI's shape) together, per call."""

    def __init__(self) -> None:
        self.calls: list[ToolCall] = []
        self._by_index: dict[int, ToolCall] = {}

    def feed(self, deltas: Sequence[Mapping[str, Any]]) -> None:
        for delta in deltas:
            if not isinstance(delta, Mapping):
                continue
            raw_index = delta.get("index")
            index = raw_index if isinstance(raw_index, int) else len(self.calls)
            call_id = str(delta.get("id") or "")
            function = delta.get("function") or {}
            name = str(function.get("name") or "") if isinstance(function, Mapping) else ""
            args = function.get("arguments") if isinstance(function, Mapping) else None
            if isinstance(args, (dict, list)):  # some servers send parsed arguments
                args = json.dumps(args)
            current = self._by_index.get(index)
            if current is None or self._starts_new(current, call_id, name):
                current = ToolCall(index=len(self.calls))
                self.calls.append(current)
                self._by_index[index] = current
            if call_id:
                current.id = call_id
            if name:
                current.name = name if not current.name else current.name
            if isinstance(args, str):
                current.arguments_text += args

    @staticmethod
    def _starts_new(current: ToolCall, call_id: str, name: str) -> bool:
        if call_id and current.id and call_id != current.id:
            return True
        if name and current.name and not call_id:
            try:
                json.loads(current.arguments_text or "{}")
            except ValueError:
                return False
            return True
        return False

    def finish(self) -> list[ToolCall]:
        """The calls, arguments parsed, each with an id (made up when the server gave none)."""
        for number, call in enumerate(self.calls):
            if not call.id:
                call.id = f"call_{number}"
            if not call.name:
                call.error = "the call has no function name"
            else:
                call.parse()
        return self.calls


@dataclass
class ToolOutcome:
    """What a tool answered, ready for the model (redacted, cut) and for the user."""

    text: str
    is_error: bool = False
    summary: str = ""


class Toolbox(Protocol):
    """Tools a model may call: their specs (OpenAI ``tools`` items) and how to run one."""

    def specs(self) -> list[dict[str, Any]]: ...

    async def call(self, call: ToolCall) -> ToolOutcome: ...


class Toolboxes:
    """Several toolboxes offered as one (MCP tools and ``propose_task`` in one turn)."""

    def __init__(self, *boxes: Toolbox | None) -> None:
        self.boxes = [box for box in boxes if box is not None]

    def specs(self) -> list[dict[str, Any]]:
        return [spec for box in self.boxes for spec in box.specs()]

    async def call(self, call: ToolCall) -> ToolOutcome:
        for box in self.boxes:
            if any(spec.get("function", {}).get("name") == call.name for spec in box.specs()):
                return await box.call(call)
        names = ", ".join(s["function"]["name"] for s in self.specs()) or "none"
        return ToolOutcome(
            f"error: there is no tool named {call.name}; the tools are: {names}",
            is_error=True,
            summary="unknown tool",
        )
