"""What a run tells the interface while it works, in order (:meth:`AgentRun.events`).

A headless CLI prints them one line each; the workbench's agent pane shows the live step list,
diffs, and a modal for :class:`ApprovalNeeded` / :class:`QuestionAsked`, which carry a future the
interface resolves with the user's choice (an event nobody answers is refused when the run
stops). Every event has ``to_dict()`` for ``--json`` streams.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ai_workbench.agent.summary import RunSummary, StepInfo

__all__ = [
    "AgentEvent",
    "ApprovalNeeded",
    "Notice",
    "QuestionAsked",
    "RunFinished",
    "RunStarted",
    "StepFinished",
    "StepStarted",
    "TextDelta",
]


@dataclass
class AgentEvent:
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "reply"}
        return {"event": self.kind, **data}


@dataclass
class RunStarted(AgentEvent):
    kind: ClassVar[str] = "run_started"
    run_id: int
    goal: str
    mode: str
    model: str
    protocol: str  # tools | text | auto (decided at the first request)
    sandbox: str = ""
    session_id: str = ""


@dataclass
class TextDelta(AgentEvent):
    """Model text as it streams (control sequences already stripped)."""

    kind: ClassVar[str] = "text"
    text: str


@dataclass
class StepStarted(AgentEvent):
    kind: ClassVar[str] = "step_started"
    n: int
    tool: str
    target: str


@dataclass
class StepFinished(AgentEvent):
    kind: ClassVar[str] = "step_finished"
    step: StepInfo

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self.step)
        data.pop("output", None)
        return {"event": self.kind, **data}


@dataclass
class ApprovalNeeded(AgentEvent):
    """The policy asks: ``request`` (an ``agent.tools.ApprovalRequest``: summary, the whole
    command or diff in ``detail``, reason, the rule "always" would write). Resolve ``reply`` with
    ``"once"``, ``"run"`` (always, this run), ``"always"`` (writes the rule) or ``"deny"``."""

    kind: ClassVar[str] = "approval"
    request: Any
    reply: asyncio.Future[str] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        request = self.request
        fields = ("tool", "summary", "detail", "reason", "rule")
        return {"event": self.kind, **{k: getattr(request, k, None) for k in fields}}


@dataclass
class QuestionAsked(AgentEvent):
    """The model's ``ask_user``: resolve ``reply`` with the answer. ``reply`` is ``None`` when
    nobody can answer (headless): the run then ends with the question."""

    kind: ClassVar[str] = "question"
    question: str
    reply: asyncio.Future[str] | None = field(default=None, repr=False)


@dataclass
class Notice(AgentEvent):
    kind: ClassVar[str] = "notice"
    text: str


@dataclass
class RunFinished(AgentEvent):
    kind: ClassVar[str] = "done"
    summary: RunSummary

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, **self.summary.to_dict()}
