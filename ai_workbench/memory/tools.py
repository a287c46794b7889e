"""The ``remember_fact`` tool: the model proposes a fact about the user, the user decides.

Nothing is stored unless ``confirm`` (the interface's question: a prompt at a terminal, a modal in
the workbench) returns ``True``; a headless run shows the proposal with the exact
``aiw memory add`` command and stores nothing. The proposal is redacted before anyone sees it.
:class:`ToolChain` offers these tools beside others (MCP) in one turn.
"""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ai_workbench.core.errors import InputError
from ai_workbench.core.llm.tools import Toolbox, ToolCall, ToolOutcome
from ai_workbench.core.redact import redact_text
from ai_workbench.core.sanitize import strip_controls
from ai_workbench.memory.service import LOCAL, MAX_FACT_CHARS, MemoryService

__all__ = ["REMEMBER_FACT", "MemoryTools", "Proposal", "ToolChain", "add_command"]

REMEMBER_FACT: Final = "remember_fact"

_SPEC: Final[dict[str, Any]] = {
    "type": "function",
    "function": {
        "name": REMEMBER_FACT,
        "description": (
            "Propose remembering a lasting fact about the user (timezone, tools and stack, "
            "preferences, role) for future conversations. Only when the user states such a fact "
            "or asks you to remember it; the user is asked to confirm before it is saved."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "fact": {
                    "type": "string",
                    "description": "One short sentence about the user, e.g. 'Works in UTC+3'.",
                }
            },
            "required": ["fact"],
        },
    },
}


@dataclass(frozen=True, slots=True)
class Proposal:
    """A fact the model proposed (redacted, control characters removed) and how to save it."""

    fact: str
    command: str


Confirm = Callable[[Proposal], Awaitable[bool]]


def add_command(fact: str) -> str:
    """The exact command that saves ``fact`` (shell-quoted)."""
    return f"aiw memory add {shlex.quote(fact)}"


class MemoryTools:
    """A :class:`~ai_workbench.core.llm.tools.Toolbox` with ``remember_fact``."""

    def __init__(
        self,
        memory: MemoryService,
        confirm: Confirm,
        *,
        owner: str = LOCAL,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.memory = memory
        self.confirm = confirm
        self.owner = owner
        self.report = report
        self.proposals: list[Proposal] = []
        self.saved: list[int] = []

    def specs(self) -> list[dict[str, Any]]:
        return [_SPEC]

    def handles(self, name: str) -> bool:
        return name == REMEMBER_FACT

    async def call(self, call: ToolCall) -> ToolOutcome:
        args = call.arguments or {}
        raw = args.get("fact")
        if not isinstance(raw, str) or not raw.strip():
            return ToolOutcome(
                'error: give the fact as {"fact": "one sentence"}', is_error=True,
                summary="no fact given",
            )  # fmt: skip
        fact = " ".join(strip_controls(redact_text(raw)).split())[:MAX_FACT_CHARS]
        proposal = Proposal(fact, add_command(fact))
        self.proposals.append(proposal)
        if not await self.confirm(proposal):
            return ToolOutcome(
                "The user did not save this fact; do not propose it again in this conversation.",
                summary=f"not saved: {fact}",
            )
        try:
            added = await self.memory.add(fact, owner=self.owner, source="model")
        except InputError as exc:
            return ToolOutcome(f"error: {exc}", is_error=True, summary=str(exc))
        self.saved.append(added.memory.id)
        if self.report is not None:
            self.report(f"remembered #{added.memory.id}: {added.memory.content}")
        return ToolOutcome("Saved; it is in your context from now on.", summary=f"saved: {fact}")


class ToolChain:
    """Several toolboxes offered as one: each call goes to the first that has its name."""

    def __init__(self, boxes: Sequence[Toolbox | None]) -> None:
        self.boxes = [b for b in boxes if b is not None]

    def specs(self) -> list[dict[str, Any]]:
        return [spec for box in self.boxes for spec in box.specs()]

    async def call(self, call: ToolCall) -> ToolOutcome:
        for box in self.boxes:
            names = {s.get("function", {}).get("name") for s in box.specs()}
            if call.name in names:
                return await box.call(call)
        return ToolOutcome(f"error: there is no tool named {call.name!r}", is_error=True)


def with_memory_tools(tools: Toolbox | None, memory_tools: MemoryTools | None) -> Toolbox | None:
    """``tools`` plus ``memory_tools`` (either may be absent)."""
    if memory_tools is None:
        return tools
    if tools is None:
        return memory_tools
    return ToolChain([memory_tools, tools])
