"""``propose_task``: the tool a chat model calls to propose a task or a reminder.

The tool never saves anything. A call is read like ``aiw task add`` reads its text (the same
dates, timezone and ambiguity rules, :mod:`ai_workbench.tasks.intake`) and becomes a
:class:`Proposal` the interface shows the user after the answer: ``aiw ask`` asks y/n at a TTY
and otherwise prints the exact ``aiw task add`` command; the workbench opens a confirmation.
Only a confirmed proposal is saved (:meth:`Proposal.accept`). The model is told so, and an
ambiguous date goes back to it as an error that says to ask the user which date they mean.

:func:`offer_tasks_tool` decides whether a turn offers the tool (``[tasks] chat_tools``): ``auto``
offers it when the prompt speaks of reminders, tasks or deadlines (English or Russian), so other
turns carry no tool schema (fewer prompt tokens; small local models that handle tools poorly are
not tempted).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ai_workbench.core.errors import AiwError
from ai_workbench.core.llm.tools import ToolCall, ToolOutcome
from ai_workbench.tasks.dates import AmbiguousDate
from ai_workbench.tasks.intake import TaskDraft, TaskInput
from ai_workbench.tasks.service import LOCAL, Link, Task, TaskService

__all__ = ["TOOL_NAME", "Proposal", "TaskToolbox", "offer_tasks_tool"]

TOOL_NAME: Final = "propose_task"
_INTENT_RE: Final = re.compile(
    r"\b(remind|reminder|todo|to-do|task|deadline|due|schedule|don't forget|dont forget)"
    r"|напомн|напоминан|задач|дедлайн|не забыть|срок",
    re.IGNORECASE,
)


def offer_tasks_tool(prompt: str, mode: str = "auto") -> bool:
    """Whether a chat turn with ``prompt`` offers ``propose_task``."""
    if mode == "never":
        return False
    return mode == "always" or bool(_INTENT_RE.search(prompt or ""))


@dataclass
class Proposal:
    """A task the model proposed, waiting for the user's yes."""

    draft: TaskDraft
    accepted: Task | None = None
    declined: bool = False

    def echo(self) -> str:
        return self.draft.echo()

    def command(self) -> str:
        return self.draft.command()

    async def accept(self, service: TaskService, *, owner: str = LOCAL) -> Task:
        if self.accepted is None:
            self.accepted = await self.draft.save(service, owner=owner)
        return self.accepted


SPEC: Final[dict[str, Any]] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": (
            "Propose a task or a reminder for the user. Nothing is saved until the user confirms "
            "it. Call it when the user asks to be reminded of something or to keep track of a "
            "task; put the date in `when` in the user's own words (e.g. 'next Tuesday at 10', "
            "'завтра в 9:00', 'every monday 10:00') or as YYYY-MM-DD HH:MM."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "title": {"type": "string", "description": "What to do, without the date."},
                "when": {"type": "string", "description": "When it is due (optional)."},
                "remind_before": {
                    "type": "string",
                    "description": "How long before the due time to remind: 15m, 2h, 1d.",
                },
                "tags": {"type": "array", "items": {"type": "string"}},
                "link": {"type": "string", "description": "A URL the task is about."},
                "notes": {"type": "string"},
            },
            "required": ["title"],
        },
    },
}


class TaskToolbox:
    """The ``propose_task`` tool: collects proposals, saves nothing."""

    def __init__(
        self, reader: TaskInput, *, on_proposal: Callable[[Proposal], None] | None = None
    ) -> None:
        self.reader = reader
        self.on_proposal = on_proposal
        self.proposals: list[Proposal] = []

    def specs(self) -> list[dict[str, Any]]:
        return [SPEC]

    async def call(self, call: ToolCall) -> ToolOutcome:
        if call.name != TOOL_NAME:
            return ToolOutcome(
                f"error: there is no tool named {call.name}; the tool is {TOOL_NAME}",
                is_error=True,
                summary="unknown tool",
            )
        args = call.arguments or {}
        title = str(args.get("title") or "").strip()
        when = str(args.get("when") or "").strip()
        if not title:
            return ToolOutcome("error: `title` is required", is_error=True, summary="no title")
        links = []
        link = str(args.get("link") or "").strip()
        if link.startswith(("http://", "https://")):
            links.append(Link("url", link))
        tags = [str(t) for t in args.get("tags") or [] if str(t).strip()]
        remind = str(args.get("remind_before") or "").strip() or None
        notes = str(args.get("notes") or "")
        try:
            # in a thread: dateparser's first use loads its locale data (a workbench stays live)
            draft = await asyncio.to_thread(
                self.reader.read, title, due=when or None, remind=remind, tags=tags, links=links,
                notes=notes,
            )  # fmt: skip
        except AmbiguousDate as exc:
            return ToolOutcome(
                f"error: the date is ambiguous: {exc}. Ask the user which date they mean; do "
                "not pick one yourself.",
                is_error=True,
                summary="ambiguous date",
            )
        except AiwError as exc:
            return ToolOutcome(f"error: {exc}", is_error=True, summary=str(exc))
        proposal = Proposal(draft)
        self.proposals.append(proposal)
        if self.on_proposal is not None:
            self.on_proposal(proposal)
        return ToolOutcome(
            f"Proposed to the user: {draft.echo()}. It is NOT saved yet: the user confirms it "
            "after your answer. Tell them briefly what you proposed (title and date).",
            summary=draft.echo(),
        )
