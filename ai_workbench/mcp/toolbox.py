"""MCP tools offered to a model: specs in the OpenAI format, and each call confirmed and cleaned.

:class:`McpToolbox` is a :class:`ai_workbench.core.llm.tools.Toolbox`. Before a call it applies the
server's approval (``ask`` by default, ``auto``, ``never`` per server or per tool); ``ask`` goes to
the approver the interface gave (a TTY prompt in the CLI) unless the user chose "always allow this
tool" before (remembered per server and tool, :mod:`ai_workbench.mcp.approvals`). The result is
stripped of control sequences, redacted and cut before the model sees it; the user sees the
arguments and a summary of the result through ``report``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ai_workbench.core.llm.tools import ToolCall, ToolOutcome
from ai_workbench.mcp import approvals
from ai_workbench.mcp.hub import McpCallError, McpHub, ToolInfo
from ai_workbench.mcp.results import clean, result_text, summary

Decision = Literal["once", "always", "deny"]
Approver = Callable[[ToolInfo, dict[str, Any]], Awaitable[Decision]]
MAX_DESCRIPTION = 1024


@dataclass
class ToolEvent:
    """What the user is shown: a call about to run, its result, or a refusal."""

    phase: Literal["call", "result", "refused"]
    server: str
    tool: str
    arguments: dict[str, Any]
    text: str = ""
    is_error: bool = False
    redacted: int = 0
    cut: bool = False

    def arguments_line(self, width: int = 300) -> str:
        line = json.dumps(self.arguments, ensure_ascii=False, sort_keys=True)
        return line if len(line) <= width else line[: width - 1] + "…"


def tool_spec(info: ToolInfo) -> dict[str, Any]:
    """The tool in the OpenAI ``tools`` format, its input schema passed through."""
    schema = dict(info.input_schema or {})
    schema.setdefault("type", "object")
    if schema.get("type") == "object":
        schema.setdefault("properties", {})
    description = info.description or f"{info.name} (from the MCP server {info.server})"
    return {
        "type": "function",
        "function": {
            "name": info.qualified,
            "description": description[:MAX_DESCRIPTION],
            "parameters": schema,
        },
    }


class McpToolbox:
    """The tools of some of a hub's servers, as one model sees them."""

    def __init__(
        self,
        hub: McpHub,
        servers: Iterable[str] | None = None,
        *,
        approver: Approver | None = None,
        max_result_chars: int = 20_000,
        report: Callable[[ToolEvent], None] | None = None,
    ) -> None:
        self.hub = hub
        self.servers = list(servers) if servers is not None else None
        self.approver = approver
        self.max_result_chars = max_result_chars
        self.report = report
        self.calls = 0

    def _offered(self) -> list[ToolInfo]:
        offered = []
        for info in self.hub.tools(self.servers):
            spec = self.hub.get(info.server).spec
            if spec.approval_for(info.name) != "never":
                offered.append(info)
        return offered

    def specs(self) -> list[dict[str, Any]]:
        return [tool_spec(info) for info in self._offered()]

    def _find(self, name: str) -> ToolInfo | None:
        return next((info for info in self._offered() if info.qualified == name), None)

    def _tell(self, event: ToolEvent) -> None:
        if self.report is not None:
            self.report(event)

    async def call(self, call: ToolCall) -> ToolOutcome:
        info = self._find(call.name)
        args = call.arguments or {}
        if info is None:
            names = ", ".join(i.qualified for i in self._offered()) or "none"
            return ToolOutcome(
                f"error: there is no tool named {call.name}; the tools are: {names}",
                is_error=True,
                summary="unknown tool",
            )
        spec = self.hub.get(info.server).spec
        policy = spec.approval_for(info.name)
        if policy == "ask" and approvals.is_always_allowed(info.server, info.name):
            policy = "auto"
        if policy == "ask":
            decision: Decision = "deny"
            if self.approver is not None:
                decision = await self.approver(info, args)
            if decision == "always":
                approvals.allow_always(info.server, info.name)
            if decision == "deny":
                self._tell(ToolEvent("refused", info.server, info.name, args))
                return ToolOutcome(
                    f"error: the user did not allow this call of {info.name}; do not call it "
                    "again for this request, answer with what you have",
                    is_error=True,
                    summary="not allowed",
                )
        self._tell(ToolEvent("call", info.server, info.name, args))
        self.calls += 1
        try:
            result = await self.hub.call(info.server, info.name, args)
        except McpCallError as exc:
            message = str(exc)
            self._tell(ToolEvent("result", info.server, info.name, args, message, is_error=True))
            return ToolOutcome(f"error: {message}", is_error=True, summary=message)
        text, redacted, was_cut = clean(result_text(result), self.max_result_chars)
        is_error = bool(getattr(result, "is_error", False))
        self._tell(
            ToolEvent("result", info.server, info.name, args, text, is_error, redacted, was_cut)
        )
        body = f"error: {text}" if is_error else text
        return ToolOutcome(body or "(the tool returned nothing)", is_error, summary(text))
