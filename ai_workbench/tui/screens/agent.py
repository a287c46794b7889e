"""Agent mode in the workbench: hand a goal to a model with tools and watch it work.

The screen runs a goal through :class:`~ai_workbench.agent.service.AgentService` in a worker
(nothing blocks the UI) and shows the run's events as they come: the model's text as it streams,
one row per step in the step list (tool, target, decision, result), each edit's diff, notices,
and the summary at the end. An approval the policy asks for opens
:class:`~ai_workbench.tui.screens.agent_approval.ApprovalScreen` with the whole command or diff;
an ``ask_user`` question appears in the screen with a field for the answer. **Esc** stops a run
(its steps stay in the log) and, with no run going, goes back to the conversation. Past runs are
listed with their status; **+** / **-** rate one, **Enter** shows it.

Everything shown that came from the model, a file or a command is stripped of control
sequences and never read as markup.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from ai_workbench.tui.context import escape
from ai_workbench.tui.screens.agent_approval import ApprovalScreen, clean, highlighted

MODES = ("plan", "ask", "auto-edit", "full-auto")
MODE_HELP = {
    "plan": "plan: read-only tools, ends with a plan",
    "ask": "ask: every write and command asks",
    "auto-edit": "auto-edit: edits run, commands ask",
    "full-auto": "full-auto: edits and allowed commands run in the sandbox",
}
DECISION_STYLE = {
    "user-denied": "$error",
    "refused": "$error",
    "error": "$error",
    "user-approved": "$success",
    "auto": "$success",
}
STATUS_STYLE = {"done": "$success", "cancelled": "$warning", "running": "$accent"}


def clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def step_result(step: Any) -> str:
    """What a step came to, in a few words: ``exit 0 · 3 passed``, ``changed calc.py``."""
    result = clean(step.summary or "")
    if step.exit_code is not None and not result.startswith("exit"):
        result = f"exit {step.exit_code}" + (f" · {result}" if result else "")
    if step.changed_files:
        changed = ", ".join(clean(p) for p in step.changed_files)
        result = f"changed {changed}" + (f" · {result}" if result else "")
    return result or "ok"


def decision_cell(decision: str) -> Content:
    style = DECISION_STYLE.get(decision, "$warning" if decision == "asks…" else "")
    if decision.startswith("rule:"):
        style = "$success"
    return Content.styled(decision, style) if style else Content(decision)


class RunList(OptionList):
    """Past runs, newest first: Enter shows one, + / - rate it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("plus", "rate(1)", "Like", id="agent.like", tooltip="Like this run"),
        Binding("minus", "rate(-1)", "Dislike", id="agent.dislike", tooltip="Dislike this run"),
    ]

    def action_rate(self, rating: int) -> None:
        screen = self.screen
        if isinstance(screen, AgentScreen):
            screen.rate_highlighted(rating)


class AgentScreen(Screen[None]):
    """Goal, mode, the live step list, the model's text and diffs, past runs."""

    HELP = """\
## Agent mode

Type a goal and press **Enter**: the model works on it with tools (read, search, edit, run
commands, git) under the permission policy of the mode chosen next to the goal.

- **plan** reads only; **ask** (the default) asks before every write and command;
  **auto-edit** edits without asking, commands ask; **full-auto** runs edits and allowed
  commands in the sandbox, everything else asks.
- When the policy asks, a dialog shows the whole command or diff and why it asks:
  **o** once, **r** always in this run, **a** always (writes the rule shown to your
  settings), **d** / **n** deny.
- A question from the model appears above the goal with a field for your answer.
- **Ctrl+T** chooses the MCP servers whose tools runs offer (`mcp__NAME__TOOL`; first
  `[agent] mcp_servers`); each call passes the same policy (rules such as `mcp__git__*`).
- **Esc** stops the run (every step so far stays in the log, `aiw agent log`); with no run
  going it goes back to the conversation.
- Past runs: **Enter** shows one, **+ / -** like or dislike it (with a comment).
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "escape", "Stop / back", id="agent.stop",
                tooltip="Stop the run (the log is kept); with no run, back to the workbench"),
        Binding("ctrl+r", "focus_runs", "Past runs", id="agent.runs", show=False),
        Binding("ctrl+t", "pick_tools", "MCP tools", id="agent.tools",
                tooltip="Choose the MCP servers whose tools the runs offer"),
    ]  # fmt: skip

    DEFAULT_CSS = """
    AgentScreen { layout: vertical; }
    AgentScreen #agent-status { height: 1; padding: 0 1; background: $panel; }
    AgentScreen #agent-top { height: auto; }
    AgentScreen #agent-goal { width: 1fr; }
    AgentScreen #agent-mode { width: 24; }
    AgentScreen #agent-question { height: auto; display: none; padding: 0 1;
                                  border: round $warning; }
    AgentScreen #agent-question.-asking { display: block; }
    AgentScreen #agent-steps { height: auto; max-height: 35%; min-height: 3; }
    AgentScreen #agent-body { height: 1fr; }
    AgentScreen #agent-side { width: 42; border-left: vkey $panel; }
    AgentScreen .agent-label { height: 1; padding: 0 1; color: $text-muted; }
    AgentScreen #agent-runs { height: 1fr; border: none; }
    AgentScreen #agent-log { width: 1fr; padding: 0 1; }
    AgentScreen .agent-text { margin-top: 1; }
    AgentScreen .agent-diff { margin: 0 0 0 2; background: $boost; }
    AgentScreen .agent-summary { margin-top: 1; padding: 0 1; border: round $primary; }
    """

    def __init__(
        self, service: Any, model_args: dict[str, str | None] | None = None, mcp: Any = None
    ) -> None:
        super().__init__()
        self.service = service
        self.model_args = dict(model_args or {})
        # The workbench's MCP servers (tui/mcp.py WorkbenchMcp; None: none configured) and the
        # ones whose tools runs offer, first [agent] mcp_servers.
        self.mcp = mcp
        settings = getattr(service, "settings", None)
        wanted = getattr(getattr(settings, "agent", None), "mcp_servers", None) or []
        if mcp is not None and hasattr(service, "default_mcp_servers"):
            wanted = service.default_mcp_servers()  # an untrusted project cannot add any
        names = list(getattr(mcp, "names", []) or [])
        self.mcp_chosen: set[str] = {n for n in wanted if n in names}
        self.run: Any = None  # the AgentRun in progress
        self.run_id: int | None = None
        self.mode = ""
        self.steps: dict[int, Any] = {}  # n -> StepInfo, once finished
        self.summary: Any = None
        self.runs: list[Any] = []
        self.question: Any = None  # the QuestionAsked waiting for an answer
        self.approval: ApprovalScreen | None = None
        self._stopping: tuple[Any, asyncio.Future[Any]] | None = None
        self._text: Static | None = None
        self._text_parts: list[str] = []

    # ------------------------------------------------------------------ layout

    def compose(self) -> Any:
        settings = getattr(self.service, "settings", None)
        mode = getattr(getattr(settings, "agent", None), "mode", "ask")
        if hasattr(self.service, "default_mode"):  # an untrusted project cannot loosen it
            mode = self.service.default_mode()
        yield Static(self._idle_status(), id="agent-status")
        with Horizontal(id="agent-top"):
            yield Input(
                placeholder="Goal, e.g. make the failing test in tests/test_calc.py pass",
                id="agent-goal",
            )
            yield Select(
                [(m, m) for m in MODES],
                value=mode if mode in MODES else "ask",
                allow_blank=False,
                id="agent-mode",
                tooltip="\n".join(MODE_HELP.values()),
            )
        with Vertical(id="agent-question"):
            yield Static("", id="agent-question-text")
            yield Input(placeholder="Your answer (Enter sends)", id="agent-answer")
        yield DataTable(id="agent-steps", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="agent-body"):
            yield VerticalScroll(id="agent-log")
            with Vertical(id="agent-side"):
                yield Static("Past runs · Enter shows · +/- rate", classes="agent-label")
                yield RunList(id="agent-runs")
        yield Footer()

    def on_mount(self) -> None:
        table = self.steps_table
        table.add_column("#", key="n")
        table.add_column("tool", key="tool")
        table.add_column("target", key="target")
        table.add_column("decision", key="decision", width=14)  # user-approved, rule:…
        table.add_column("result", key="result")
        goal = self.query_one("#agent-goal", Input)
        goal.cursor_blink = not self.app.is_headless
        goal.focus()
        self.load_runs()

    async def on_unmount(self) -> None:
        """The workbench quits during a run: stop it while the database is still open, so it
        is stored as stopped with its steps."""
        run = self.run
        if run is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.stop_run(run)), 5)

    def stop_run(self, run: Any) -> asyncio.Future[Any]:
        """Stop ``run`` once: Esc, the worker going away and the screen closing share it (a
        second cancel would cut the run's own clean-up, which stores it as stopped)."""
        if self._stopping is None or self._stopping[0] is not run:
            task = asyncio.ensure_future(run.stop())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._stopping = (run, task)
        return self._stopping[1]

    @property
    def steps_table(self) -> DataTable[Any]:
        return self.query_one("#agent-steps", DataTable)

    @property
    def log_view(self) -> VerticalScroll:
        return self.query_one("#agent-log", VerticalScroll)

    @property
    def running(self) -> bool:
        return self.run is not None

    def _idle_status(self) -> str:
        return (
            "[b]Agent[/b] · type a goal, choose a mode, Enter starts · "
            f"{escape(self._tools_label())} · Esc back"
        )

    def _tools_label(self) -> str:
        """``tools: git, docs (Ctrl+T)``: the MCP servers whose tools runs offer."""
        if self.mcp is None:
            return "no MCP tools"
        chosen = [n for n in self.mcp.names if n in self.mcp_chosen]
        return f"MCP tools: {', '.join(chosen) if chosen else 'none'} (Ctrl+T)"

    def _status(self, content: str | Content) -> None:
        self.query_one("#agent-status", Static).update(content)

    # ------------------------------------------------------------------ starting a run

    @on(Input.Submitted, "#agent-goal")
    def _goal_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        goal = event.value.strip()
        if not goal:
            self.notify("Type a goal first, e.g. make the tests pass.", severity="warning")
            return
        if self.running:
            self.notify("A run is going: Esc stops it first.", severity="warning")
            return
        mode = self.query_one("#agent-mode", Select).value
        self.start(goal, str(mode) if mode in MODES else "ask")

    def start(self, goal: str, mode: str) -> None:
        from ai_workbench.agent.service import AgentRequest

        request = AgentRequest(goal=goal, mode=mode, **self.model_args)
        if self.mcp is not None:  # the choice here replaces [agent] mcp_servers
            request.mcp_servers = [n for n in self.mcp.names if n in self.mcp_chosen]
            request.mcp_hub = self.mcp.hub
        self._reset()
        self._status(Content.assemble(("Agent", "bold"), " · starting… ", (clip(goal, 80), "dim")))
        self.run_id = None
        self._drive(request)

    def _reset(self) -> None:
        self.steps_table.clear()
        self.steps.clear()
        self.summary = None
        self._text, self._text_parts = None, []
        self.log_view.remove_children()
        self._hide_question()

    @work(group="agent-run", exit_on_error=False)
    async def _drive(self, request: Any) -> None:
        try:
            run = await self.service.start(request)
        except Exception as exc:  # a bad mode, an unknown provider, no toolbox: one line
            self._failed(exc)
            return
        self.run = run
        try:
            async for event in run.events():
                self.show_event(event)
        except asyncio.CancelledError:  # the screen or the app goes away: stop the run too
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.stop_run(run)), 5)
            raise
        finally:
            self.run = None
            self._close_prompts()
        self.load_runs()

    def _failed(self, exc: BaseException) -> None:
        what = clean(str(exc)) or type(exc).__name__
        if isinstance(exc, ImportError):
            what = f"agent tools are not available in this install ({what})"
        self._status(Content.assemble(("Agent", "bold"), " · ", ("could not start: ", "$error"),
                                      what))  # fmt: skip
        self._log(Content.styled(f"✗ could not start: {what}", "$error"))
        self.notify(what, title="Agent", severity="error", timeout=10)
        self.query_one("#agent-goal", Input).focus()

    # ------------------------------------------------------------------ events

    def show_event(self, event: Any) -> None:
        from ai_workbench.agent import events as ev

        if isinstance(event, ev.TextDelta):
            self._add_text(event.text)
        elif isinstance(event, ev.RunStarted):
            self.run_id, self.mode = event.run_id, clean(event.mode)
            sandbox = f" · sandbox {event.sandbox}" if event.sandbox else ""
            self._status(Content.assemble(
                ("Agent", "bold"), f" · run {event.run_id} · mode {event.mode} · ",
                clean(event.model), sandbox, " · ", ("working… Esc stops", "$accent"),
            ))  # fmt: skip
            self._log(Content.assemble(("Goal: ", "bold"), clean(event.goal)))
        elif isinstance(event, ev.StepStarted):
            self._text = None
            self.steps_table.add_row(
                str(event.n), clean(event.tool), clip(clean(event.target), 40),
                decision_cell("…"), "running", key=str(event.n),
            )  # fmt: skip
            self.steps_table.move_cursor(row=self.steps_table.row_count - 1)
        elif isinstance(event, ev.StepFinished):
            self._step_finished(event.step)
        elif isinstance(event, ev.ApprovalNeeded):
            self._ask_approval(event)
        elif isinstance(event, ev.QuestionAsked):
            self._show_question(event)
        elif isinstance(event, ev.Notice):
            self._text = None
            self._log(Content.styled(f"aiw: {clean(event.text)}", "dim italic"))
        elif isinstance(event, ev.RunFinished):
            self._finished(event.summary)

    def _log(self, content: Content | str, classes: str = "") -> Static:
        widget = Static(content, classes=classes, markup=False)
        view = self.log_view
        at_end = view.scroll_y >= view.max_scroll_y - 1
        view.mount(widget)
        if at_end:
            view.call_after_refresh(view.scroll_end, animate=False)
        return widget

    def _add_text(self, text: str) -> None:
        text = clean(text)
        if not text:
            return
        if self._text is None:
            self._text_parts = []
            self._text = self._log("", "agent-text")
        self._text_parts.append(text)
        self._text.update(Content("".join(self._text_parts).strip("\n")))
        view = self.log_view
        if view.scroll_y >= view.max_scroll_y - 2:
            view.call_after_refresh(view.scroll_end, animate=False)

    def _set_cell(self, n: int, column: str, value: Any) -> None:
        table = self.steps_table
        with contextlib.suppress(Exception):  # a row from before a reset
            table.update_cell(str(n), column, value, update_width=True)

    def _step_finished(self, step: Any) -> None:
        self._text = None
        self.steps[step.n] = step
        if str(step.n) not in self.steps_table.rows:
            self.steps_table.add_row(str(step.n), clean(step.tool), "", "", "", key=str(step.n))
        self._set_cell(step.n, "target", clip(clean(step.target), 40))
        self._set_cell(step.n, "decision", decision_cell(clean(step.decision)))
        self._set_cell(step.n, "result", clip(step_result(step), 40))
        bad = step.refused or step.is_error
        mark = "✗" if bad else "▸"
        line = f"{mark} {step.n} {clean(step.tool)} {clip(clean(step.target), 80)}"
        self._log(Content.assemble(
            (line, "bold $error" if bad else "bold"), " ",
            decision_cell(clean(step.decision)), f" → {step_result(step)}",
        ))  # fmt: skip
        if step.diff and not step.refused:
            self._log(highlighted(clean(step.diff)), "agent-diff")

    def _finished(self, summary: Any) -> None:
        self.summary = summary
        self._text = None
        for n in list(self.steps_table.rows):
            if int(n.value or 0) not in self.steps:
                self._set_cell(int(n.value or 0), "decision", decision_cell("stopped"))
                self._set_cell(int(n.value or 0), "result", "")
        style = STATUS_STYLE.get(summary.status, "$warning")
        self._log(Content(clean(summary.text())), "agent-summary")
        run = f"run {self.run_id} · mode {self.mode} · " if self.run_id is not None else ""
        self._status(Content.assemble(
            ("Agent", "bold"), f" · {run}", (summary.status, f"bold {style}"), " · ",
            clip(clean(summary.reason), 70), " · Enter starts another · Esc back",
        ))  # fmt: skip
        self._close_prompts()
        goal = self.query_one("#agent-goal", Input)
        goal.focus()

    # ------------------------------------------------------------------ approvals and questions

    def _ask_approval(self, event: Any) -> None:
        reply = event.reply
        current = self.steps_table.row_count
        if current:
            n = int(list(self.steps_table.rows)[-1].value or 0)
            if n not in self.steps:
                self._set_cell(n, "decision", decision_cell("asks…"))

        def answered(answer: str | None) -> None:
            self.approval = None
            if not reply.done():
                reply.set_result(answer or "deny")

        self.approval = ApprovalScreen(event.request)
        self.app.push_screen(self.approval, answered)

    def _show_question(self, event: Any) -> None:
        self._text = None
        question = clean(event.question)
        self._log(Content.assemble(("? ", "bold $warning"), question))
        if event.reply is None:  # nobody can answer (never the case here): the run ends
            return
        self.question = event
        self.query_one("#agent-question-text", Static).update(
            Content.assemble(("The agent asks: ", "bold $warning"), question)
        )
        box = self.query_one("#agent-question")
        box.add_class("-asking")
        answer = self.query_one("#agent-answer", Input)
        answer.value = ""
        answer.cursor_blink = not self.app.is_headless
        answer.focus()

    @on(Input.Submitted, "#agent-answer")
    def _answer_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        question = self.question
        if question is None:
            return
        self._hide_question()
        answer = event.value.strip()
        self._log(Content.assemble(("↳ ", "bold"), answer or "(no answer)"))
        if question.reply is not None and not question.reply.done():
            question.reply.set_result(answer)

    def _hide_question(self) -> None:
        self.question = None
        self.query_one("#agent-question").remove_class("-asking")
        self.query_one("#agent-answer", Input).value = ""

    def _close_prompts(self) -> None:
        """The run ended (or stopped): no dialog or question stays open for it."""
        if self.approval is not None:
            approval, self.approval = self.approval, None
            if approval.is_attached and approval in self.app.screen_stack:
                approval.dismiss("deny")
        if self.question is not None:
            self._hide_question()

    # ------------------------------------------------------------------ keys

    def action_escape(self) -> None:
        if self.run is not None:
            self._status(Content.assemble(("Agent", "bold"), " · stopping…"))
            self.stop_run(self.run)
            return
        self.app.pop_screen()

    def action_focus_runs(self) -> None:
        self.query_one("#agent-runs", RunList).focus()

    def action_pick_tools(self) -> None:
        """Choose the MCP servers whose tools the next runs offer."""
        if self.mcp is None:
            self.notify(
                "No MCP servers are configured (aiw mcp add NAME -- COMMAND; docs/mcp.md).",
                severity="warning",
                timeout=6,
            )
            return
        from ai_workbench.tui.screens.mcp import McpServersScreen

        def picked(chosen: set[str] | None) -> None:
            if chosen is None:
                return
            self.mcp_chosen = set(chosen)
            if not self.running and self.summary is None:
                self._status(self._idle_status())
            self.notify(self._tools_label().replace(" (Ctrl+T)", "") + " for the next run",
                        timeout=4)  # fmt: skip

        self.app.push_screen(McpServersScreen(self.mcp, self.mcp_chosen, "agent runs"), picked)

    # ------------------------------------------------------------------ past runs

    @work(group="agent-runs", exclusive=True, exit_on_error=False)
    async def load_runs(self) -> None:
        from ai_workbench.agent.service import RATING_KIND
        from ai_workbench.core.feedback import FeedbackService

        try:
            runs = await self.service.list_runs(30)
            ratings = await FeedbackService(self.service.store).for_targets(
                RATING_KIND, [r.id for r in runs]
            )
        except Exception as exc:
            self.notify(f"cannot list past runs: {clean(str(exc))}", severity="warning")
            return
        for record in runs:
            rated = ratings.get(str(record.id))
            if rated is not None:
                record.rating, record.comment = rated.rating, rated.comment
        self.runs = runs
        options = self.query_one("#agent-runs", RunList)
        highlighted_index = options.highlighted
        options.clear_options()
        options.add_options([Option(self._run_label(r), id=f"run-{r.id}") for r in runs])
        if runs:
            options.highlighted = min(highlighted_index or 0, len(runs) - 1)

    def _run_label(self, record: Any) -> Content:
        when = time.strftime("%m-%d %H:%M", time.localtime(record.started))
        rating = {1: " ▲", -1: " ▼"}.get(record.rating or 0, "")
        style = STATUS_STYLE.get(record.status, "$warning")
        return Content.assemble(
            (f"{record.id:>3} ", "bold"), (when, "dim"), " ", (f"{record.status:<9}", style),
            f" {record.steps:>2} steps  ", clip(clean(record.goal), 60), (rating, "bold"),
        )  # fmt: skip

    def _highlighted_run(self) -> Any:
        options = self.query_one("#agent-runs", RunList)
        index = options.highlighted
        if index is None or index >= len(self.runs):
            return None
        return self.runs[index]

    @on(OptionList.OptionSelected, "#agent-runs")
    def _run_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        record = self._highlighted_run()
        if record is not None:
            self._show_record(record.id)

    @work(group="agent-show", exclusive=True, exit_on_error=False)
    async def _show_record(self, run_id: int) -> None:
        if self.running:
            self.notify("A run is going: its steps are shown until it ends.", severity="warning")
            return
        try:
            record = await self.service.show(run_id)
        except Exception as exc:
            self.notify(clean(str(exc)), severity="error")
            return
        self._reset()
        self.run_id = record.id
        self._log(Content.assemble(("Goal: ", "bold"), clean(record.goal)))
        for row in record.step_rows:
            self.steps_table.add_row(
                str(row.n), clean(row.tool), clip(clean(row.target), 40),
                decision_cell(clean(row.decision)), clip(clean(row.summary or ""), 40),
                key=str(row.n),
            )  # fmt: skip
            self._log(Content.assemble(
                (f"▸ {row.n} {clean(row.tool)} {clip(clean(row.target), 80)} ", "bold"),
                decision_cell(clean(row.decision)), f" → {clean(row.summary or '') or 'ok'}",
            ))  # fmt: skip
            if row.diff:
                self._log(highlighted(clean(row.diff)), "agent-diff")
        reason = clean(record.exit_reason or "")
        self._log(Content(f"{record.status}: {reason}".strip(": ")), "agent-summary")
        self._status(Content.assemble(
            ("Agent", "bold"), f" · run {record.id} · {clean(record.mode)} · ",
            (record.status, STATUS_STYLE.get(record.status, "$warning")),
            " · ", clip(clean(record.goal), 60),
        ))  # fmt: skip

    def rate_highlighted(self, rating: int) -> None:
        from ai_workbench.tui.screens.feedback import FeedbackResult, FeedbackScreen

        record = self._highlighted_run()
        if record is None:
            return

        def done(result: FeedbackResult | None) -> None:
            if result is not None and result.rating is not None:
                self._rate(record.id, result.rating, result.comment)

        self.app.push_screen(
            FeedbackScreen(
                rating, excerpt=clip(clean(record.goal), 80), comment=record.comment,
                existing=record.rating is not None,
            ),
            done,
        )  # fmt: skip

    @work(group="agent-rate", exit_on_error=False)
    async def _rate(self, run_id: int, rating: int, comment: str | None) -> None:
        try:
            await self.service.rate(run_id, rating, comment or None)
        except Exception as exc:
            self.notify(clean(str(exc)), severity="error")
            return
        self.notify(f"run {run_id} {'liked' if rating > 0 else 'disliked'}", timeout=3)
        self.load_runs()


def open_agent(app: Any) -> None:
    """Show agent mode (``app.action_agent``, Ctrl+G); again from there goes back."""
    if isinstance(app.screen, AgentScreen):
        if not app.screen.running:
            app.pop_screen()
        else:
            app.notify("A run is going: Esc stops it first.", severity="warning")
        return
    if app.store is None or app.loaded is None:  # still starting: open once it is ready
        app.run_worker(_open_when_ready(app), group="agent-open", exclusive=True)
        return
    from ai_workbench.agent.service import AgentService

    mcp = getattr(getattr(app, "ctx", None), "mcp", None)
    app.push_screen(AgentScreen(AgentService(app.loaded, app.store), app.model_args(), mcp))


async def _open_when_ready(app: Any) -> None:
    problem = await app.ctx.wait_ready()
    if problem or app.store is None or app.loaded is None:
        app.notify(clean(problem or "the database is not open"), title="Agent", severity="error")
        return
    if not isinstance(app.screen, AgentScreen):
        open_agent(app)
