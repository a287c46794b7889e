"""The text protocol: tool calls for models and servers without OpenAI tool calls.

The model is told the tools in its system prompt and answers with one fenced JSON action per
turn::

    ```json
    {"tool": "read_file", "args": {"path": "src/app.py"}}
    ```

The result comes back as the next user message; an answer without an action is the final one.
:func:`parse_action` also reads the forms small models fall into on their own even when offered
real tools: Qwen/Hermes ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``, a made-up tag
naming the tool in an attribute (``<request function="edit_file">{...}</request>``, ``<invoke
name="read_file" path="a.py"/>``), a change written up as if it were a result (``<tool_output
tool="write_file" path=".." content=".."/>``: the model meant to make it) and a bare JSON
object. An action whose JSON is broken beyond repair becomes a call with an ``error``, which
goes back to the model as a tool error, like malformed OpenAI arguments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from ai_workbench.core.llm.tools import ToolCall

__all__ = ["FINISH_TOOLS", "ActionFilter", "parse_action", "protocol_prompt", "result_message"]

#: Names a small model may give its final answer as an action: the run is done.
FINISH_TOOLS = frozenset({"finish", "final_answer", "done", "answer", "task_complete"})

_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\n(.*?)(?:```|\Z)", re.S)
_TOOL_CALL_RE = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|\Z)", re.S)
# <request type="function" function="edit_file">{...}</request>, <invoke name="x" a="1"/>: the
# tags small models make up (after the <tool_output> wrappers they see), name in an attribute,
# arguments as a JSON body or as the other attributes
_TAGGED_RE = re.compile(
    r"<(?P<tag>request|tool_request|function_call|function|invoke|tool_use|tool_output|tool|call"
    r"|action)\b"
    r"(?P<attrs>[^<>]*?\b(?:function|name|tool)\s*=\s*\"[\w.-]+\"[^<>]*?)/?>",
    re.I,
)
_BODY_RE = re.compile(r"\s*(\{.*?\})\s*</", re.S)
_ATTR_RE = re.compile(r"([A-Za-z_][\w-]*)\s*=\s*\"([^\"]*)\"")
_NOT_ARGS = frozenset({"type", "function", "name", "tool", "id", "lines", "sandbox"})
# A made-up <tool_output tool="write_file" path=".." content=".."/> is the model's own change
# written as if it were done; a made-up read's output is only an imitation of what it saw.
_IMITATED_READS = frozenset({"read_file", "list_dir", "grep", "search_index", "git"})
_MARKERS = ("```", "<tool_call>")
# Where models put the tool's name and its arguments (ours first; then OpenAI/Hermes,
# LangChain's ReAct and other agents' shapes).
_NAME_KEYS = ("tool", "name", "function", "action", "tool_name")
_ARGS_KEYS = ("args", "arguments", "parameters", "action_input", "tool_input", "input", "params")


def protocol_prompt(specs: Sequence[dict[str, Any]]) -> str:
    """The system-prompt section that teaches the protocol and lists the tools."""
    lines = [
        "## How to use tools",
        "",
        "To use a tool, answer with exactly one fenced JSON block and nothing after it:",
        "",
        "```json",
        '{"tool": "read_file", "args": {"path": "src/app.py"}}',
        "```",
        "",
        "You get the tool's result in the next message; then take the next step. One tool per "
        "answer. When the goal is reached, answer WITHOUT a JSON block: a short summary of what "
        "you did.",
        "",
        "## Tools",
    ]
    for spec in specs:
        function = spec.get("function") or {}
        name = function.get("name", "?")
        params = function.get("parameters") or {}
        props = params.get("properties") or {}
        required = set(params.get("required") or [])
        args = ", ".join(
            f"{key}: {(value or {}).get('type', 'any')}{'' if key in required else '?'}"
            for key, value in props.items()
        )
        description = " ".join(str(function.get("description") or "").split())
        lines.append(f"- {name}({args}): {description}")
    return "\n".join(lines)


def result_message(call: ToolCall, text: str) -> dict[str, str]:
    """The user message that carries a tool's result back to a text-protocol model."""
    return {
        "role": "user",
        "content": f"Result of {call.name or 'the action'}:\n{text}\n\n"
        "Take the next step (one JSON action), or answer without a block when the goal is done.",
    }


def parse_action(text: str, number: int = 0) -> ToolCall | None:
    """The first action in a model's answer as a :class:`ToolCall`, or ``None`` (no action).

    The call's ``arguments_text`` is the JSON of its arguments; ``error`` says why an action
    that was clearly meant could not be read."""
    for match in _TOOL_CALL_RE.finditer(text):
        call = _from_json(match.group(1), number, tagged=True)
        if call is not None:
            return call
    for match in _TAGGED_RE.finditer(text):
        call = _from_tag(match, text[match.end() :], number)
        if call is not None:
            return call
    for match in _FENCE_RE.finditer(text):
        language, body = match.group(1).lower(), match.group(2)
        if language not in ("", "json", "json5", "tool", "tool_call", "action"):
            continue
        call = _from_json(body, number, tagged=language in ("tool", "tool_call", "action"))
        if call is not None:
            return call
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        return _from_json(stripped, number, tagged=False)
    return None


def _from_json(body: str, number: int, *, tagged: bool) -> ToolCall | None:
    value = _loads(body)
    call = ToolCall(index=number, id=f"text_{number}")
    if isinstance(value, dict):
        name_key = next((k for k in _NAME_KEYS if value.get(k)), None)
        name = value.get(name_key) if name_key else None
        if isinstance(name, dict):  # {"function": {"name": ..., "arguments": ...}}
            value, name_key = name, "name"
            name = value.get("name")
        if not isinstance(name, str) or not name:
            return _broken(call, "the action has no tool name") if tagged else None
        args_key = next((k for k in _ARGS_KEYS if k in value), None)
        args: Any
        if args_key is not None:
            args = value[args_key]
        else:  # {"tool": "read_file", "path": "x"}: the arguments beside the name
            args = {k: v for k, v in value.items() if k != name_key}
        if args is None:
            args = {}
        if isinstance(args, str):
            args = _loads(args) if args.strip() else {}
        call.name = name
        if not isinstance(args, dict):
            call.arguments_text = json.dumps(args)
            call.error = "the action's args must be a JSON object"
            return call
        call.arguments = args
        call.arguments_text = json.dumps(args, ensure_ascii=False)
        return call
    if tagged or '"tool"' in body or '"name"' in body:
        return _broken(call, "the action is not valid JSON")
    return None


def _from_tag(match: re.Match[str], after: str, number: int) -> ToolCall | None:
    attrs = {k: _unescape(v) for k, v in _ATTR_RE.findall(match.group("attrs"))}
    name = next((attrs[k] for k in ("function", "name", "tool") if attrs.get(k)), "")
    if name == "function":  # type="function" name="..." in the other order
        name = attrs.get("name", "")
    if match.group("tag").lower() == "tool_output" and name in _IMITATED_READS:
        return None
    body = _BODY_RE.match(after)
    args: Any = (
        _loads(body.group(1)) if body else {k: v for k, v in attrs.items() if k not in _NOT_ARGS}
    )
    call = ToolCall(index=number, id=f"text_{number}", name=name)
    if not isinstance(args, dict):
        return _broken(call, "the action's arguments are not a JSON object")
    call.arguments = args
    call.arguments_text = json.dumps(args, ensure_ascii=False)
    return call


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(value: str) -> str:
    """An attribute value as the model meant it: ``\\n`` a newline, ``&quot;`` a quote."""
    value = re.sub(r"\\([nt\"\\])", lambda m: _ESCAPES[m.group(1)], value)
    return (
        value.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )


def _broken(call: ToolCall, why: str) -> ToolCall:
    call.name = call.name or "action"
    call.error = (
        f"{why}; answer with one fenced block such as "
        '```json\n{"tool": "read_file", "args": {"path": "README.md"}}\n```'
    )
    return call


# Python's triple-quoted strings, which small models put in JSON for multi-line code
_TRIPLE = re.compile(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'', re.S)


def _loads(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        pass
    if '"""' in body or "'''" in body:
        body = _TRIPLE.sub(lambda m: json.dumps(m.group(1) or m.group(2) or ""), body)
    try:  # raw newlines and tabs inside strings
        return json.loads(body, strict=False)
    except ValueError:
        pass
    try:
        import json_repair

        value = json_repair.loads(body)
    except Exception:
        return None
    return value if isinstance(value, dict) and value else None


class ActionFilter:
    """Streams a text-protocol answer's prose and holds back its action block.

    ``feed`` returns what may be shown now; text from the first fence or ``<tool_call>`` on is
    kept back (a marker split across deltas is held until it is clear)."""

    def __init__(self) -> None:
        self.hidden = False
        self._pending = ""

    def feed(self, text: str) -> str:
        if self.hidden:
            return ""
        buffer = self._pending + text
        cut = min((i for i in (buffer.find(m) for m in _MARKERS) if i >= 0), default=-1)
        if cut >= 0:
            self.hidden = True
            self._pending = ""
            return buffer[:cut]
        keep = 0
        for marker in _MARKERS:
            for size in range(len(marker) - 1, 0, -1):
                if buffer.endswith(marker[:size]):
                    keep = max(keep, size)
                    break
        self._pending = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep]

    def flush(self) -> str:
        rest, self._pending = ("" if self.hidden else self._pending), ""
        return rest
