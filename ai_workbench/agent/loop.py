"""The run loop: the model proposes, the toolbox (policy, sandbox) disposes, until done or a limit.

Each round streams the model's answer (text appears as it comes, :class:`TextDelta`); the tool
calls it asks for arrive in the OpenAI tools format through either engine
(:func:`~ai_workbench.core.llm.engines.stream_chat` puts split argument deltas and Ollama's
index-0 batches together), or, for a model or server without tool calls, as one fenced JSON action
per turn (:mod:`ai_workbench.agent.protocol`). ``supports_tools`` on the model's profile chooses:
``true``, ``false``, or ``auto`` (offer tools; when the server refuses the ``tools`` field,
switch to the text protocol and remember that endpoint while aiw runs). Every call goes through
the toolbox, which applies the policy and records a step; ``ask_user`` is the loop's own tool.

Limits end a run with a summary of what was done and what is left: steps (tool calls), a token
and a cost budget, a wall-clock limit. At the step limit the model is asked once more, without
tools, what is left.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from ai_workbench.agent import protocol as text_protocol
from ai_workbench.agent.check import (
    MAX_CHECKS,
    could_not_check,
    is_prose,
    narrowed,
    same_check,
    wants_a_fix,
)
from ai_workbench.agent.codeturn import code_messages, code_request
from ai_workbench.agent.events import (
    AgentEvent,
    Notice,
    QuestionAsked,
    StepFinished,
    StepStarted,
    TextDelta,
)
from ai_workbench.agent.shown import changes_code, is_test_path, shown_edits
from ai_workbench.agent.summary import RunSummary, StepInfo, is_test_command
from ai_workbench.agent.trace import trace_turn
from ai_workbench.core.errors import ProviderError
from ai_workbench.core.llm.engines import StreamResult, refuses_tools, stream_chat
from ai_workbench.core.llm.profiles import ResolvedProvider
from ai_workbench.core.llm.structured import endpoint_key
from ai_workbench.core.llm.toolloop import assistant_message, malformed_outcome, tool_message
from ai_workbench.core.llm.tools import ToolCall, ToolOutcome
from ai_workbench.core.redact import redact_text

__all__ = [
    "ASK_USER",
    "AgentLoop",
    "AgentTools",
    "AskUser",
    "RunLimits",
    "forget_tool_refusals",
]

Protocol_ = Literal["tools", "text"]
AskUser = Callable[[str], Awaitable[str]]
Emit = Callable[[AgentEvent], None]
OnStep = Callable[[StepInfo], Awaitable[None]]

#: The loop's own tool: a clarifying question for the user.
ASK_USER = "ask_user"
ASK_USER_SPEC: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": ASK_USER,
        "description": "Ask the user a clarifying question when the goal is unclear or a "
        "decision is theirs. The answer comes back as the result.",
        "parameters": {
            "type": "object",
            "properties": {"question": {"type": "string", "description": "one short question"}},
            "required": ["question"],
        },
    },
}
#: Refusals in a row after which the run stops (the model keeps asking for what is not allowed).
MAX_REFUSALS_IN_A_ROW = 3
#: The same call (tool and arguments) this many times in a row is not run again.
MAX_REPEATS = 2
#: Times a run asks the model to make a change it only showed (code in its answer, no edit).
MAX_PUSHES = 2
#: Turns without tools in which the model is asked for its change as code (small models write
#: code far better than tool calls): after a push, a loop, failed edits or a second failed check.
MAX_CODE_TURNS = 3
#: After each failed check the temperature rises by this much, up to WARMEST.
WARM_STEP = 0.3
WARMEST = 0.9
EDIT_TOOLS = ("edit_file", "write_file")
# An answer that says what the model is about to do ("I'll fix it and run the tests") but
# ends without doing it.
_ANNOUNCES = re.compile(
    r"\b(?:I'll|I will|I am going to|I'm going to|Let me|Let's|Next,? I|Now,? I)\b", re.I
)
_REPEATED = "repeated call, not run again"
_TARGET_KEYS = ("path", "command", "cmd", "pattern", "query", "question", "action", "args")
# endpoint|model of servers that refused the tools field (in-process memory, like structured)
_TEXT_ONLY: set[str] = set()


def forget_tool_refusals() -> None:
    """Forget which servers refused tool calls (tests; a workbench that switched servers)."""
    _TEXT_ONLY.clear()


class AgentTools(Protocol):
    """What the loop needs from the toolbox (``agent.tools.AgentToolbox`` satisfies it): the
    specs, a way to run one call (policy, approval, sandbox, redaction, output cut) and the
    step records it keeps (``tool``, ``args_redacted``, ``decision``, ``exit_code``,
    ``duration_ms``, ``output_digest``, ``diff``, ``changed_files``)."""

    steps: list[Any]

    def specs(self) -> list[dict[str, Any]]: ...

    async def call(self, call: ToolCall) -> ToolOutcome: ...


@dataclass
class RunLimits:
    """When a run stops on its own: tool calls, wall-clock seconds, tokens, dollars."""

    max_steps: int = 20
    wall_clock_s: float = 1800.0
    token_budget: int | None = 200_000
    cost_budget: float | None = None
    max_output_tokens: int | None = 4096  # per model answer

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> RunLimits:
        """The limits of ``settings.agent`` (``[agent]`` in config), then the non-``None``
        ``overrides`` (command-line flags) on top. The single place that reads them."""
        agent = getattr(settings, "agent", None)
        limits = cls(
            max_steps=int(getattr(agent, "max_steps", cls.max_steps)),
            wall_clock_s=float(getattr(agent, "max_seconds", cls.wall_clock_s)),
            token_budget=getattr(agent, "max_tokens", cls.token_budget),
            cost_budget=getattr(agent, "max_cost", cls.cost_budget),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(limits, key, value)
        return limits


class AgentLoop:
    """One run of the loop. Its state (steps, tokens) stays readable after a cancel."""

    def __init__(
        self,
        provider: ResolvedProvider,
        toolbox: AgentTools,
        limits: RunLimits,
        *,
        emit: Emit,
        ask: AskUser | None = None,
        on_step: OnStep | None = None,
        stream_options: dict[str, Any] | None = None,
        check: str | None = None,
        goal: str = "",
        code_first: bool = False,
    ) -> None:
        self.provider = provider
        self.code_first = code_first  # a fix of failing tests in named files: code first
        self.check = check  # the project's test command, run before "done" (agent/check.py)
        self.goal = goal
        self.toolbox = toolbox
        self.limits = limits
        self.emit = emit
        self.ask = ask
        self.on_step = on_step
        self.options = dict(stream_options or {})
        self.steps: list[StepInfo] = []
        self.tokens_in = 0
        self.tokens_out = 0
        self.protocol: Protocol_ = self._first_protocol()
        self.started = time.monotonic()
        self.last_text = ""
        self._refusals_in_a_row = 0
        self._calls_made = 0
        self._free_calls = 0  # reads the loop made itself (the files the goal names)
        self._keys: list[tuple[str, str]] = []
        self._checks = 0
        self._code_turns = 0
        self._code_turn = False  # the next turn offers no tools: the change as code
        self._fixing = False  # started with the tests and a code turn (code_first)
        self._code_request = ""  # what the next code turn asks, whole
        self._fix_check = ""  # the check narrowed to the tests the goal names (fixing)
        self._given: list[str] = []  # the files the goal names and those attached
        self.error: ProviderError | None = None  # what ended the run, when a provider failed

    # -- the run -----------------------------------------------------------------------------

    async def run(
        self,
        messages: Sequence[dict[str, Any]],
        look_first: Sequence[str] = (),
        attached: Sequence[str] = (),
    ) -> RunSummary:
        """Run until the model finishes, asks headless, or a limit ends it.

        ``look_first``: project files to read before the model's first turn (the files the goal
        names); they are steps like any other but do not count against the step limit.
        ``attached``: project files the user attached (``-f``, already in ``messages``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.wall_clock_s
        history = list(messages)
        history += await self._look_first(look_first)
        self._given = list(dict.fromkeys([*look_first, *attached]))
        if self._fix_first(self._given):
            assert self.check is not None
            self._fix_check = narrowed(self.check, [p for p in self._given if is_test_path(p)])
            await self._test_first(history)
        if self.protocol == "text":
            history = self._to_text(history)
        nudged = False
        pushed = 0
        while True:
            over = self._over_budget()
            if over is not None:
                return await self._stopped(over, history, wrap_up=False)
            if self._calls_made - self._free_calls >= self.limits.max_steps:
                why = f"the step limit of {self.limits.max_steps} tool calls is reached"
                return await self._stopped(why, history, wrap_up=True, deadline=deadline)
            part = StreamResult()
            offer = self._specs() if self.protocol == "tools" and not self._code_turn else None
            code_turn, self._code_turn = self._code_turn, False
            sent = self._code_messages(history) if code_turn else history
            try:
                async with asyncio.timeout_at(deadline):
                    shown = await self._stream(sent, part, offer)
            except TimeoutError:
                self._count(part, sent, offer)  # what the cut answer cost
                self.last_text = part.text or self.last_text
                return await self._stopped(self._clock_reason(), history, wrap_up=False)
            except ProviderError as exc:
                self._count(part, sent, offer)
                if offer and self._tools_refused(exc, part):
                    history = self._to_text(history)
                    continue
                return self._finish("error", str(exc), final_text=part.text, error=exc)
            self._count(part, sent, offer)
            calls = list(part.tool_calls) if offer else []
            if not offer and self.protocol == "tools" and part.tool_calls:
                calls = list(part.tool_calls)  # a server that sends calls though none offered
            textual = False
            # code shown for a file comes first: a small model writes the fix, then "runs the
            # tests" as made-up text (the check before done runs them for real)
            fix = code_turn and self._fixing  # a fix-first code turn: the tests judge it now
            if not calls and await self._apply_shown(part.text, history, shown, fix=fix):
                if fix:
                    ended = await self._check_the_fix(part.text, history)
                    if ended is not None:
                        return ended
                continue
            if not calls and fix and self._same_code_again(part.text, history):
                continue
            if not calls:
                action = text_protocol.parse_action(part.text, self._calls_made)
                if action is not None:
                    calls, textual = [action], True
            if not calls:
                rest = part.text[len(shown) :]
                if rest:
                    self.emit(TextDelta(rest))
                if not part.text.strip() and not nudged:
                    nudged = True
                    history.append({"role": "assistant", "content": ""})
                    history.append(_user("Continue: take the next step, or summarize if done."))
                    continue
                if pushed < MAX_PUSHES and self._described_not_done(part.text):
                    pushed += 1
                    history.append({"role": "assistant", "content": part.text})
                    if self._ask_for_code(
                        history, "the model described a change without making it"
                    ):
                        continue
                    history.append(_user(self._make_it_prompt()))
                    self.emit(
                        Notice(
                            "the model showed a change without making it; asked it to make the "
                            "change with the tools"
                        )
                    )
                    continue
                if await self._check_before_done(part.text, history):
                    continue
                return self._done(part.text)
            self.last_text = part.text or self.last_text
            if textual:
                history.append({"role": "assistant", "content": part.text})
            else:
                history.append(assistant_message(part.text, calls))
            for call in calls:
                finish = text_protocol.FINISH_TOOLS
                if textual and call.name in finish and call.error is None:
                    args = call.arguments or {}
                    said = next((str(v) for v in args.values() if isinstance(v, str)), "")
                    history.pop()  # the check puts the answer back with what it found
                    if await self._check_before_done(part.text, history):
                        break
                    return self._done(said or shown)
                # a batch larger than what is left (the reads done first are free)
                if self._calls_made - self._free_calls >= self.limits.max_steps:
                    history.append(tool_message(call, _NOT_RUN))
                    continue
                try:
                    async with asyncio.timeout_at(deadline):
                        outcome, stop = await self._call(call)
                except TimeoutError:
                    return await self._stopped(self._clock_reason(), history, wrap_up=False)
                if textual:
                    history.append(text_protocol.result_message(call, outcome.text))
                else:
                    history.append(tool_message(call, outcome))
                if stop is not None:
                    return stop
            stuck = self._stuck()
            if stuck:
                self._ask_for_code(history, stuck)
            if self._refusals_in_a_row >= MAX_REFUSALS_IN_A_ROW:
                return self._finish(
                    "refused",
                    f"{self._refusals_in_a_row} actions in a row were not allowed; stopped",
                    final_text=self.last_text,
                    left="the actions that were not allowed (listed above)",
                )

    # -- one round ---------------------------------------------------------------------------

    async def _stream(
        self, history: list[dict[str, Any]], part: StreamResult, offer: list[dict[str, Any]] | None
    ) -> str:
        """Stream one answer; emit its prose as it comes (an action block held back)."""
        hold = text_protocol.ActionFilter()
        shown = ""
        options = {"max_tokens": self.limits.max_output_tokens, **self.options}
        stream = stream_chat(self.provider, history, part, tools=offer, **options)
        try:
            async for piece in stream:
                visible = hold.feed(piece)
                if visible:
                    shown += visible
                    self.emit(TextDelta(visible))
            tail = hold.flush()
            if tail:
                shown += tail
                self.emit(TextDelta(tail))
        finally:
            await stream.aclose()
            trace_turn(history, offer, part.text, list(part.tool_calls))
        return shown

    async def _look_first(self, paths: Sequence[str]) -> list[dict[str, Any]]:
        """Read ``paths`` as steps of the run, before the model's first turn; the messages that
        show the reads and their results (as if the model had asked for them). A read that
        fails is logged but not shown."""
        if "read_file" not in self._names():
            return []
        messages: list[dict[str, Any]] = []
        for path in paths:
            call = _loop_call(self._calls_made + 1, "read_file", {"path": path})
            outcome, _ = await self._call(call, free=True)
            if outcome.is_error:
                continue
            messages.append(assistant_message("", [call]))
            messages.append(tool_message(call, outcome))
        self._refusals_in_a_row = 0
        return messages

    async def _apply_shown(
        self, text: str, history: list[dict[str, Any]], shown: str = "", *, fix: bool = False
    ) -> bool:
        """Code the answer shows for a project file, proposed as ``edit_file`` calls (they pass
        the policy like the model's own); False when the answer shows no clear change. A
        ``fix`` (a code turn for failing tests) must change code, not only its comments."""
        read = getattr(self.toolbox, "current_text", None)
        if "```" not in text or read is None or "edit_file" not in self._names():
            return False
        seen = [str(s.args.get("path")) for s in self.steps if s.tool == "read_file"]
        seen += self._given  # attached with -f: read too
        edits = shown_edits(text, read, seen)
        if fix:
            edits = [e for e in edits if changes_code(e.path, read(e.path), e.content)]
        left = self.limits.max_steps - (self._calls_made - self._free_calls)
        if not edits or len(edits) > left:
            return False
        calls = [
            _loop_call(self._calls_made + i, "edit_file", {"path": e.path, "content": e.content})
            for i, e in enumerate(edits, 1)
        ]
        rest = text[len(shown) :]
        if rest:
            self.emit(TextDelta(rest))
        names = ", ".join(e.path for e in edits)
        self.emit(Notice(f"the answer showed a change to {names} without making it: proposed "
                         "it as an edit"))  # fmt: skip
        textual = self.protocol == "text"
        history.append(
            {"role": "assistant", "content": text} if textual else assistant_message(text, calls)
        )
        for call in calls:
            outcome, _ = await self._call(call)
            if textual:
                history.append(text_protocol.result_message(call, outcome.text))
            else:
                history.append(tool_message(call, outcome))
        return True

    async def _check_before_done(self, text: str, history: list[dict[str, Any]]) -> bool:
        """Run the project's tests before a run that changed files (or was asked to fix a
        test) ends; a failure goes back to the model. False: the run may end."""
        if self.check is None or self._checks >= MAX_CHECKS or "run_command" not in self._names():
            return False
        code = [f for s in self.steps for f in s.changed_files if not is_prose(f)]
        if not code and not wants_a_fix(self.goal):
            return False  # nothing but docs changed (a README is not checked by the tests)
        if any(
            s.command and same_check(s.command, self.check) and s.exit_code == 0
            and not s.refused and not could_not_check(s.exit_code, s.output)
            for s in self._since_last_change()
        ):  # fmt: skip
            return False  # the model ran these tests after its last change, and they passed
        self._checks += 1
        call, outcome, step = await self._run_check(
            self.check, f"before finishing, the project's tests: {self.check}"
        )
        if step.refused or step.exit_code in (None, 0):
            return False
        if could_not_check(step.exit_code, outcome.text):
            self.emit(Notice(f"{self.check} could not check anything (exit {step.exit_code})"))
            return False
        told = (
            "You said you were done, but the project's tests fail (the output above says where "
            "and why). Fix the cause in the code, not the tests; then finish."
        )
        self._warm_up()
        if self._checks >= 2 and self._start_code_turn():  # the second failure: the code
            told = f"{told}\n\n{self._code_prompt()}"
            self.emit(Notice("the tests still fail: asked the model for the fix as code"))
        self._send_back(history, call, outcome, told, said=text)
        return True

    async def _run_check(self, command: str, notice: str) -> tuple[ToolCall, ToolOutcome, StepInfo]:
        """Run a test command as the loop's own step (through the policy and the sandbox, not
        counted against the step limit): the call, its outcome and the step recorded."""
        call = _loop_call(self._calls_made + 1, "run_command", {"command": command})
        self.emit(Notice(notice))
        outcome, _ = await self._call(call, free=True)
        return call, outcome, self.steps[-1]

    def _send_back(
        self,
        history: list[dict[str, Any]],
        call: ToolCall,
        outcome: ToolOutcome,
        told: str,
        *,
        said: str | None = None,
    ) -> None:
        """Put a check the loop ran into the history, with what the model is told: ``said``,
        the model's answer that led to it (None when it is in the history already)."""
        if self.protocol == "text":
            if said is not None:
                history.append({"role": "assistant", "content": said})
            command = (call.arguments or {}).get("command", "")
            history.append(_user(f"The tests were run: {command}\n{outcome.text}\n\n{told}"))
        else:
            history.append(assistant_message(said or "", [call]))
            history.append(tool_message(call, outcome))
            history.append(_user(told))

    def _fix_first(self, given: Sequence[str]) -> bool:
        """Whether the run starts with the tests and a turn for the fix as code: the goal asks
        to change code about failing tests and names the code or it is attached (a file that
        is not a test or a document), and the project has a test command. A small model fixes
        a bug it is shown far more often than it finds it through tools; a larger one loses
        nothing (one turn, then the tools)."""
        return (
            self.code_first
            and self.check is not None
            and wants_a_fix(self.goal)
            and any(not is_test_path(p) and not is_prose(p) for p in given)
            and {"run_command", "edit_file"} <= self._names()
            and getattr(self.toolbox, "current_text", None) is not None
        )

    async def _test_first(self, history: list[dict[str, Any]]) -> None:
        """Run the project's tests before the first turn (the failure the goal speaks of, in
        the model's context); when they fail, the first turn asks for the fix as code."""
        call, outcome, step = await self._run_check(
            self._fix_check, f"first, the tests: {self._fix_check}"
        )
        history.append(assistant_message("", [call]))
        history.append(tool_message(call, outcome))
        if (
            step.refused
            or step.exit_code in (None, 0)
            or could_not_check(step.exit_code, step.output)
        ):
            return  # passing already, not run, or nothing to learn: the tools from the start
        if not self._start_code_turn():
            return
        self._fixing = True
        history.append(_user(self._code_prompt(first=True)))
        self.emit(Notice("the tests fail as the goal says: asked the model for the fix as code"))

    async def _check_the_fix(self, text: str, history: list[dict[str, Any]]) -> RunSummary | None:
        """After a code turn's fix is applied: the tests, at once. They pass: the run is done.
        They fail: another code turn (a little hotter) while there are any, else the tools."""
        command = self._fix_check
        call, outcome, step = await self._run_check(
            command, f"the fix is applied; the tests: {command}"
        )
        if step.refused or step.exit_code is None or could_not_check(step.exit_code, step.output):
            self._fixing = False
            return None  # the usual loop: the model checks its own work
        if step.exit_code == 0:
            if command != self.check and await self._check_before_done(text, history):
                return None  # the named tests pass, the whole suite does not: back to work
            return self._finish(
                "done", "the fix is made and the project's tests pass", final_text=text
            )
        self._checks += 1
        self._warm_up()
        told = "The tests still fail (the output above says where and why)."
        if self._start_code_turn():
            told = f"Your change was applied; the tests still fail.\n\n{self._code_prompt()}"
            self.emit(Notice("the tests still fail: asked the model for another fix as code"))
        else:
            self._fixing = False
            told = f"{told} Fix the cause in the code, not the tests, with the tools."
        self._send_back(history, call, outcome, told)  # the answer is in the history already
        return None

    def _same_code_again(self, text: str, history: list[dict[str, Any]]) -> bool:
        """A code turn answered with code that changes nothing (the failing code, word for
        word): say so and ask once more, a little hotter, while code turns are left."""
        if "```" not in text or not self._start_code_turn():
            return False
        self._warm_up()
        history.append({"role": "assistant", "content": text})
        history.append(_user(self._code_prompt(same=True)))
        self.emit(Notice("the answer repeated the code as it is: asked for a change"))
        return True

    def _done(self, final_text: str) -> RunSummary:
        """The model finished: done, unless the checks are used up and the tests still fail
        after its last change (then the run ends at a limit, and says so)."""
        checks = (self.check, self._fix_check)
        failing = self.check is not None and any(
            s.command and any(c and same_check(s.command, c) for c in checks)
            and s.exit_code not in (None, 0) and not could_not_check(s.exit_code, s.output)
            for s in self._since_last_change()
        )  # fmt: skip
        if self._checks >= MAX_CHECKS and failing:
            return self._finish(
                "limit",
                f"the project's tests still fail after {self._checks} checks",
                final_text=final_text,
                left=f"make the tests pass ({self.check}); the last output is in the log",
            )
        return self._finish("done", "the model finished", final_text=final_text)

    def _since_last_change(self) -> list[StepInfo]:
        """The steps after the last one that changed a file (all of them when none did)."""
        last = max((i for i, s in enumerate(self.steps) if s.changed_files), default=-1)
        return self.steps[last + 1 :]

    def _warm_up(self) -> None:
        """After a failed check, sample a little hotter (+0.3, at most 0.9): at temperature 0 a
        model gives the same wrong fix word for word every time it is asked."""
        current = self.options.get("temperature")
        if isinstance(current, int | float) and current < WARMEST:
            self.options["temperature"] = round(min(WARMEST, float(current) + WARM_STEP), 2)

    def _start_code_turn(self) -> bool:
        """Make the next turn one without tools (counted), if any are left; False if not."""
        if (
            self._code_turns >= MAX_CODE_TURNS
            or "edit_file" not in self._names()
            or getattr(self.toolbox, "current_text", None) is None
        ):
            return False
        self._code_turns += 1
        self._code_turn = True
        return True

    def _ask_for_code(self, history: list[dict[str, Any]], why: str) -> bool:
        """Ask for the change as code in a turn without tools (shown code is then proposed as
        an edit, :meth:`_apply_shown`); False when that is not possible or used up."""
        if not self._start_code_turn():
            return False
        history.append(_user(self._code_prompt()))
        self.emit(Notice(f"{why}: asked it for the change as code (no tools this turn)"))
        return True

    def _stuck(self) -> str:
        """Why the model is going round in circles (its last calls change nothing), or ""."""
        if not self.steps or self.steps[-1].changed_files:
            return ""
        last = self.steps[-1]
        if last.summary == _REPEATED:
            return "the model repeated the same call"
        failed = [
            s
            for s in self._since_last_change()
            if s.tool in EDIT_TOOLS and s.is_error and not s.refused
        ]
        if last in failed and len(failed) >= 2:
            return "its edits did not apply"
        return ""

    def _code_prompt(self, *, first: bool = False, same: bool = False) -> str:
        """The code turn's request (agent/codeturn.py), kept for the turn to send whole."""
        self._code_request = code_request(
            self.goal,
            self.steps,
            self._given,
            getattr(self.toolbox, "current_text", None),
            tries=self._code_turns,
            first=first,
            same=same,
        )
        return self._code_request

    def _code_messages(self, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What a code turn sends: a conversation of its own (not the long history)."""
        return code_messages(self._code_request) if self._code_request else history

    def _names(self) -> set[str]:
        return {str(s.get("function", {}).get("name")) for s in self._specs()}

    def _described_not_done(self, text: str) -> bool:
        """The model ends the run with nothing changed though it could change files, after
        showing code in its answer or after an edit of its own failed: small models often
        write the fix into their answer instead of making it, or give up on a failed edit."""
        if any(s.changed_files for s in self.steps) or not self._names() & set(EDIT_TOOLS):
            return False
        return "```" in text or self._failed_edit() or bool(_ANNOUNCES.search(text))

    def _failed_edit(self) -> bool:
        return any(s.tool in EDIT_TOOLS and s.is_error and not s.refused for s in self.steps)

    def _make_it_prompt(self) -> str:
        if self.protocol == "text":
            how = (
                "answer with one JSON action, e.g.\n```json\n"
                '{"tool": "edit_file", "args": {"path": "app.py", "old_text": "the exact old '
                'lines", "new_text": "the new lines"}}\n```'
            )
        else:
            how = "call the edit_file tool (path, old_text copied exactly from the file, new_text)"
        why = (
            "your edit failed (its result says why) and code in your answer is not applied"
            if self._failed_edit()
            else "saying what you will do, or showing code, does not change the project"
        )
        return (
            f"You have not changed any file yet: {why}. Make the change now: {how}. Use "
            "write_file only for a new file. Then run the tests with run_command to check it."
        )

    def _hint(self, step: StepInfo) -> str:
        """A line after a result that tells a (small) model the usual next move."""
        if step.is_error and step.tool not in ("run_command",):
            return ""
        how = f" ({self.check})" if self.check else ""
        if step.changed_files and "run_command" in self._names():
            return f"The change is made. Next: run the tests{how} to check it."
        command = step.command
        if command is None or not is_test_command(command) or step.exit_code is None:
            return ""
        if could_not_check(step.exit_code, step.output):
            return f"That ran no tests at all, so it proves nothing. Run the project's tests{how}."
        if step.exit_code == 0:
            if any(s.changed_files for s in self.steps):
                return (
                    "The tests pass. If that reaches the goal, stop calling tools and answer "
                    "with a short summary of what you changed."
                )
            return ""
        return (
            "The tests fail: the output above says where and why. Fix the cause in the code "
            "(read the file again if you need to), then run the tests again."
        )

    async def _call(
        self, call: ToolCall, *, free: bool = False
    ) -> tuple[ToolOutcome, RunSummary | None]:
        """Run one call (or refuse it); record the step; maybe end the run (a question).
        A ``free`` call (one the loop makes itself) does not count against the step limit."""
        self._calls_made += 1
        self._free_calls += 1 if free else 0
        n = self._calls_made
        target = _target(call)
        self.emit(StepStarted(n, call.name or "?", target))
        started = time.perf_counter()
        stop: RunSummary | None = None
        record: Any = None
        key = (call.name, _key_of(call))
        if call.error is not None:
            outcome, decision = malformed_outcome(call), "error"
        elif call.name == ASK_USER:
            outcome, stop = await self._ask_user(call)
            decision = "auto"
        elif not free and self._repeats(key):  # the loop's own calls (the check) always run
            outcome = ToolOutcome(
                f"error: you made this exact {call.name} call {MAX_REPEATS} times already and "
                "its result will not change; do something else, or finish with a summary",
                is_error=True,
                summary=_REPEATED,
            )
            decision = "error"
        else:
            before = len(self.toolbox.steps)
            outcome = await self.toolbox.call(call)
            records = self.toolbox.steps[before:]
            record = records[-1] if records else None
            fallback = "error" if outcome.is_error else "auto"
            decision = getattr(record, "decision", None) or fallback
        step = StepInfo(
            n=n,
            tool=call.name or "?",
            target=target,
            args=getattr(record, "args_redacted", None) or _redacted(call.arguments or {}),
            decision=decision,
            exit_code=getattr(record, "exit_code", None),
            duration_ms=float(
                getattr(record, "duration_ms", None) or (time.perf_counter() - started) * 1000
            ),
            output_digest=str(getattr(record, "output_digest", "") or ""),
            diff=getattr(record, "diff", None),
            changed_files=list(getattr(record, "changed_files", None) or []),
            is_error=outcome.is_error,
            summary=outcome.summary or _first_line(outcome.text),
            output=outcome.text,
        )
        self.steps.append(step)
        self._keys.append(key)
        self._refusals_in_a_row = self._refusals_in_a_row + 1 if step.refused else 0
        if self.on_step is not None:
            await self.on_step(step)
        self.emit(StepFinished(step))
        hint = "" if free else self._hint(step)
        if hint:
            outcome = replace(outcome, text=f"{outcome.text}\n\n{hint}")
        return outcome, stop

    async def _ask_user(self, call: ToolCall) -> tuple[ToolOutcome, RunSummary | None]:
        question = str((call.arguments or {}).get("question") or "").strip()
        if not question:
            return ToolOutcome("error: ask_user needs a question", is_error=True), None
        if self.ask is None:
            self.emit(QuestionAsked(question))
            stop = self._finish(
                "question",
                "the model asked a question and nobody can answer it here (no terminal)",
                final_text=self.last_text,
                question=question,
                left=f"answer the question, then run again: {question}",
            )
            return ToolOutcome("(not answered: the run ends here)", summary="asked"), stop
        answer = redact_text((await self.ask(question)).strip())  # the model sees it
        text = f"The user answered: {answer}" if answer else "The user gave no answer."
        return ToolOutcome(text, summary="answered" if answer else "no answer"), None

    def _repeats(self, key: tuple[str, str]) -> bool:
        recent = self._keys[-MAX_REPEATS:]
        return len(recent) == MAX_REPEATS and all(k == key for k in recent)

    # -- protocol ----------------------------------------------------------------------------

    def _first_protocol(self) -> Protocol_:
        setting = getattr(self.provider, "supports_tools", "auto")
        if setting is False or str(setting).lower() == "false":
            return "text"
        if setting is True or str(setting).lower() == "true":
            return "tools"
        return "text" if endpoint_key(self.provider) in _TEXT_ONLY else "tools"

    def _specs(self) -> list[dict[str, Any]]:
        specs = list(self.toolbox.specs())
        if not any(s.get("function", {}).get("name") == ASK_USER for s in specs):
            specs.append(ASK_USER_SPEC)
        return specs

    def _tools_refused(self, exc: ProviderError, part: StreamResult) -> bool:
        """With supports_tools = auto: the server refused the tools field (before any text)."""
        if part.text or str(getattr(self.provider, "supports_tools", "auto")).lower() != "auto":
            return False
        if exc.kind == "bad_request" or refuses_tools(exc):
            _TEXT_ONLY.add(endpoint_key(self.provider))
            self.emit(
                Notice(
                    f"{self.provider.label()} refused tool calls ({exc.kind}); using the text "
                    "protocol (set supports_tools = false in its profile to skip the try)"
                )
            )
            return True
        return False

    def _to_text(self, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The history for the text protocol: tool specs in the system prompt, calls as text."""
        self.protocol = "text"
        section = text_protocol.protocol_prompt(self._specs())
        out: list[dict[str, Any]] = []
        for message in history:
            role = message.get("role")
            if role == "system" and not out:
                out.append({"role": "system", "content": f"{message.get('content') or ''}\n\n"
                            f"{section}".strip()})  # fmt: skip
            elif role == "assistant" and message.get("tool_calls"):
                parts = [message.get("content") or ""]
                for item in message["tool_calls"]:
                    fn = item.get("function") or {}
                    action = {"tool": fn.get("name"), "args": _loads(fn.get("arguments"))}
                    parts.append(f"```json\n{json.dumps(action)}\n```")
                out.append({"role": "assistant", "content": "\n".join(p for p in parts if p)})
            elif role == "tool":
                call = ToolCall(0, name=str(message.get("name") or "the tool"))
                out.append(text_protocol.result_message(call, str(message.get("content") or "")))
            elif role == "user" and out and out[-1].get("role") == "user":
                joined = f"{out[-1].get('content') or ''}\n\n{message.get('content') or ''}"
                out[-1] = {"role": "user", "content": joined}  # one turn, not two in a row
            else:
                out.append(message)
        if not out or out[0].get("role") != "system":
            out.insert(0, {"role": "system", "content": section})
        return out

    # -- limits and the end ------------------------------------------------------------------

    def _count(
        self,
        part: StreamResult,
        history: list[dict[str, Any]],
        offer: list[dict[str, Any]] | None = None,
    ) -> None:
        from ai_workbench.core.context import estimate_tokens

        if part.tokens_in is not None:
            self.tokens_in += part.tokens_in
        else:  # no usage from the server: estimate what was sent, the tools offered too
            sent = [str(m.get("content") or "") for m in history]
            sent += [json.dumps(m["tool_calls"]) for m in history if m.get("tool_calls")]
            if offer:
                sent.append(json.dumps(offer))
            self.tokens_in += sum(estimate_tokens(text) for text in sent)
        if part.tokens_out is not None:
            self.tokens_out += part.tokens_out
        else:
            said = part.text + "".join(c.arguments_text for c in part.tool_calls)
            self.tokens_out += estimate_tokens(said) if said else 0

    def cost(self) -> float | None:
        from ai_workbench.core.llm.costs import cost_of

        return cost_of(
            self.provider.model, self.tokens_in, self.tokens_out, is_local=self.provider.is_local
        )

    def _over_budget(self) -> str | None:
        budget = self.limits.token_budget
        used = self.tokens_in + self.tokens_out
        if budget is not None and used >= budget:
            return f"the token budget of {budget} is used up ({used} tokens)"
        if self.limits.cost_budget is not None:
            cost = self.cost()
            if cost is not None and cost >= self.limits.cost_budget:
                return f"the cost budget of ${self.limits.cost_budget:g} is used up (${cost:.4f})"
        return None

    def _clock_reason(self) -> str:
        return f"the wall-clock limit of {self.limits.wall_clock_s:g}s is reached"

    async def _stopped(
        self,
        why: str,
        history: list[dict[str, Any]],
        *,
        wrap_up: bool,
        deadline: float | None = None,
    ) -> RunSummary:
        """A limit ended the run: ask the model (at the step limit) what is left, then sum up."""
        left = ""
        if wrap_up and deadline is not None:
            remaining = deadline - asyncio.get_running_loop().time()
            ask = _user(
                f"Stop here: {why}. Do not call tools. In a few lines: what did you do, and "
                "what is left to reach the goal?"
            )
            part = StreamResult()
            if remaining > 1:
                self.emit(TextDelta("\n"))
                try:
                    async with asyncio.timeout(min(remaining, 120.0)):
                        options = {**self.options, "max_tokens": 400}
                        stream = stream_chat(self.provider, [*history, ask], part, **options)
                        try:
                            async for piece in stream:
                                self.emit(TextDelta(piece))
                        finally:
                            await stream.aclose()
                    left = part.text.strip()
                except (TimeoutError, ProviderError) as exc:
                    self.emit(Notice(f"could not ask the model what is left: {exc or 'timeout'}"))
                self._count(part, history)
        if not left:
            left = "the goal is not reached yet" + (
                f"; the model's last words: {_first_line(self.last_text, 300)}"
                if self.last_text.strip()
                else ""
            )
        return self._finish("limit", why, final_text=self.last_text, left=left)

    def _finish(
        self,
        status: str,
        reason: str,
        *,
        final_text: str = "",
        question: str | None = None,
        left: str = "",
        error: ProviderError | None = None,
    ) -> RunSummary:
        refused = [s for s in self.steps if s.refused]
        if status == "done" and refused:
            status = "refused"
            reason = (
                f"the model finished, but {len(refused)} action(s) were not allowed; the goal "
                "may be only partly done"
            )
        summary = RunSummary.from_steps(
            self.steps,
            status=status,
            reason=reason,
            final_text=final_text.strip(),
            question=question,
            left=left,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
            seconds=time.monotonic() - self.started,
            protocol=self.protocol,
        )
        self.error = error
        return summary

    def snapshot(self, status: str, reason: str) -> RunSummary:
        """The summary of a run stopped from outside (cancelled, crashed): what it did so far."""
        return self._finish(
            status, reason, final_text=self.last_text, left="the run was stopped before the end"
        )


_NOT_RUN = ToolOutcome(
    "error: not run: the step limit of this run is reached", is_error=True, summary="not run"
)


def _key_of(call: ToolCall) -> str:
    """A call's arguments as one text, however the model spaced or ordered them."""
    if isinstance(call.arguments, dict):
        return json.dumps(call.arguments, sort_keys=True, ensure_ascii=False)
    return call.arguments_text.strip()


def _loop_call(n: int, name: str, args: dict[str, Any]) -> ToolCall:
    """A call the loop makes itself (a read first, a shown change, the check before done)."""
    return ToolCall(
        index=0,
        id=f"aiw_{name}_{n}",
        name=name,
        arguments=args,
        arguments_text=json.dumps(args, ensure_ascii=False),
    )


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def _loads(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) and text.strip() else {}
    except ValueError:
        return text


def _target(call: ToolCall) -> str:
    args = call.arguments or {}
    for key in _TARGET_KEYS:
        value = args.get(key)
        if isinstance(value, list):
            value = " ".join(str(v) for v in value)
        if value:
            return _first_line(redact_text(str(value)), 120)
    if call.name.startswith("mcp__") and args:  # an MCP tool's own arguments, in short
        return _first_line(redact_text(json.dumps(args, ensure_ascii=False)), 120)
    return ""


def _redacted(args: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(redact_text(json.dumps(args, ensure_ascii=False)))
    except ValueError:
        return {"redacted": True}
    return value if isinstance(value, dict) else {"args": value}


def _first_line(text: str, width: int = 160) -> str:
    line = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"
