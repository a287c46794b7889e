"""The aiw workbench: sessions, conversation, prompt, files and suggestions in one screen.

This module is the composition root: it builds the shared context (tui/context.py), composes
the panes (tui/panes/), routes the messages one pane sends for another, and holds the global
keys. Behaviour lives in the panes; start-up in tui/boot.py; the feeds, announcements, index
and file watcher in tui/background.py.

Start-up paints first and loads after: this module imports Textual and the pane modules only.
Settings, themes and the key map load in a thread; the session database opens in an async
worker (titles first, messages when a session opens); litellm is imported in a thread after
the first frame, and only when a configured provider needs it. Screens (review, help, pickers,
feedback, confirmations), the file tree and the palette's provider import when first shown;
the suggestions pane once the first frame is painted.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from ai_workbench.tui import messages as msg
from ai_workbench.tui.background import Background
from ai_workbench.tui.boot import Boot, early_theme, first_screen
from ai_workbench.tui.context import ModelChoice, Workbench
from ai_workbench.tui.panes.chat import ChatPane
from ai_workbench.tui.panes.sessions import SessionsPane
from ai_workbench.tui.widgets.chat import ChatLog
from ai_workbench.tui.widgets.chips import ChipBar
from ai_workbench.tui.widgets.footer import Footer
from ai_workbench.tui.widgets.prompt import PromptInput
from ai_workbench.tui.widgets.session_list import SessionList

if TYPE_CHECKING:
    from textual.screen import Screen

    from ai_workbench.tui.commands import PaletteCommand
    from ai_workbench.tui.widgets.suggestions import SuggestionsPanel

MIN_WIDTH = 60
MIN_HEIGHT = 15


def _aiw_commands() -> Any:
    """The palette provider, imported when the palette first opens."""
    from ai_workbench.tui.commands import AiwCommands

    return AiwCommands


def _binding(key: str, action: str, what: str, id: str, tip: str = "", **kw: Any) -> Binding:
    return Binding(key, action, what, id=id, tooltip=tip, **kw)


class AiwApp(App[None]):
    """The workbench. All keyword arguments are optional; they mirror `aiw`'s flags."""

    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    TITLE = "aiw"
    COMMANDS = App.COMMANDS | {_aiw_commands}
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (100, "-wide")]

    BINDINGS: ClassVar[list[BindingType]] = [
        _binding("f1", "help", "Help", "app.help", "Help for the focused pane"),
        _binding("escape", "cancel_answer", "Cancel", "app.cancel", "Stop the answer"),
        _binding("ctrl+n", "new_session", "New", "app.new_session", "New session"),
        _binding("ctrl+o", "pick_model", "Model", "app.model", "Choose the model"),
        _binding("ctrl+r", "pick_persona", "Persona", "app.persona", "Choose the persona",
                 show=False),
        _binding("f2", "toggle_files", "Files", "app.files", "Show/hide the file tree"),
        _binding("f3", "toggle_suggestions", "Suggestions", "app.suggestions",
                 "Show/hide the suggestions"),
        _binding("f6", "toggle_tasks", "Tasks", "app.tasks", "Show/hide the tasks",
                 show=False, priority=True),  # over the prompt's own F6 (select line)
        _binding("ctrl+f", "search_sessions", "Search", "app.search", "Search", show=False),
        Binding("ctrl+l", "focus_chat", "Conversation", id="app.focus_chat", show=False),
        _binding("f7", "toggle_kb", "Knowledge", "app.kb",
                 "Ground answers in the project index (aiw index) on/off",
                 show=False, priority=True),  # over the prompt's own F7 (select all)
        Binding("ctrl+k", "focus_prompt", "Prompt", id="app.focus_prompt", show=False),
        _binding("f4", "review", "Review", "app.review", "Review changes", show=False),
        _binding("ctrl+g", "agent", "Agent", "app.agent", "Agent mode: a goal, worked with tools",
                 show=False),
        _binding("f5", "process_ai_comments", "AI comments", "app.watch_now",
                 "Process pending AI! / AI? comments now",
                 show=False, priority=True),  # over the prompt's own F5 (select word)
    ]  # fmt: skip

    def __init__(
        self,
        *,
        model: str | None = None,
        api_base: str | None = None,
        persona: str | None = None,
        session: str | None = None,
        provider: str | None = None,
        offline: bool | None = None,
        cwd: Path | None = None,
        store_path: Path | None = None,
        config_overrides: dict[str, Any] | None = None,
        kb: bool = False,
    ) -> None:
        super().__init__()
        overrides = dict(config_overrides or {})
        if offline:
            overrides["offline"] = True
        cli_choice = None
        if model or api_base or provider:
            label = model or (f"{provider} profile" if provider else "default model")
            cli_choice = ModelChoice(model, api_base, provider, label)
        self.cwd = Path(cwd or Path.cwd()).resolve()
        self.ctx = Workbench(self.cwd, overrides, store_path, cli_choice)
        self.initial_session = session
        self._persona, self._kb = persona, kb
        # Runs the editor command instead of suspending the app (tests; the headless driver
        # cannot hand the terminal over).
        self.editor_runner: Any = None
        self.first_frame_ms: float | None = None
        self.keymap: dict[str, str] = {}
        self.boot = Boot(self, self.ctx)
        self.background = Background(self, self.ctx, self.model_args)
        # Paint the first frame in the configured theme: a cheap peek (tomllib, no pydantic);
        # the full settings load in a worker right after.
        early_theme(self, self.ctx)

    # ------------------------------------------------------------------ composition

    def compose(self) -> ComposeResult:
        ctx = self.ctx
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield SessionsPane(ctx, id="sessions")
            chat = ChatPane(ctx, persona=self._persona, kb=self._kb, id="center")
            chat.bar.show(None, 0, None)  # the chips, composed with the bar (no recompose)
            yield chat
            yield Static(id="suggestions-slot")  # its place until the pane mounts (boot.py)
        yield Static(id="too-small")
        yield Footer()

    @property
    def chat(self) -> ChatPane:
        return self.query_one("#center", ChatPane)

    @property
    def session_list(self) -> SessionsPane:
        return self.query_one("#sessions", SessionsPane)

    chat_log: ChatLog = property(lambda self: self.chat.log_view)  # type: ignore[assignment]
    prompt: PromptInput = property(lambda self: self.chat.prompt)  # type: ignore[assignment]
    chip_bar: ChipBar = property(lambda self: self.chat.bar)  # type: ignore[assignment]

    def suggestions_panel(self) -> SuggestionsPanel | None:
        return next(iter(self.query("#suggestions")), None)  # type: ignore[return-value]

    def get_default_screen(self) -> Screen:
        return first_screen(self)

    # State that lives in the panes and the context, read here by tests and by screens
    # (review's open_review reads store, loaded, model_choice and cwd).
    session = property(lambda self: self.chat.session)
    streaming = property(lambda self: self.chat.streaming)
    attached = property(lambda self: self.chat.bar.attached)
    model_choice = property(lambda self: self.chat.bar.model_choice)
    kb_on = property(lambda self: self.chat.bar.kb_on)
    last_export = property(lambda self: self.session_list.last_export)
    loaded = property(lambda self: self.ctx.loaded)
    store = property(lambda self: self.ctx.store)
    suggestion_queue = property(lambda self: self.ctx.suggestion_queue)
    watch_service = property(lambda self: self.ctx.watch_service)
    _seen_report = property(lambda self: self.background.seen_report)
    _warm = property(lambda self: self.ctx.warm, lambda self, v: setattr(self.ctx, "warm", v))

    def model_args(self) -> dict[str, str | None]:
        return self.chat.bar.model_args()

    # ------------------------------------------------------------------ start-up

    def on_mount(self) -> None:
        self._apply_size(self.size.width, self.size.height)
        self.chat_log.set_empty_text(self._empty_text())
        self.chat.refresh_chips()
        self.prompt.focus()
        self.theme_changed_signal.subscribe(self, self.boot.theme_changed)
        # Paint first: everything else starts once the first frame is out (tui/boot.py).

    def on_ready(self) -> None:
        self.call_after_refresh(self.boot.first_frame)

    def config_applied(self) -> None:
        """Settings, themes and keys are in (boot): redraw what shows them."""
        self.chat_log.set_empty_text(self._empty_text())
        self.chat.refresh_chips()

    async def store_opened(self) -> None:
        await self.session_list.load_titles()
        self.chat.open_first(self.initial_session, self.session_list.sessions)
        self.background.start_with_store()

    async def on_unmount(self) -> None:
        await self.background.stop()
        if self.ctx.store is not None:
            with contextlib.suppress(Exception):
                await self.ctx.store.close()

    # ------------------------------------------------------------------ size and status

    def on_resize(self, event: Any) -> None:
        self._apply_size(event.size.width, event.size.height)

    def _apply_size(self, width: int, height: int) -> None:
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.screen.set_class(small, "-too-small")
        if small:
            self.query_one("#too-small", Static).update(
                f"aiw needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT};\n"
                f"this one is {width}×{height}.\n\nEnlarge the window (or make the font smaller)."
            )

    def set_status(self, markup: str) -> None:
        self.chat.set_status(markup)

    def _empty_text(self) -> str:
        key = self.key_for
        return (
            f"[b]New session.[/b] [b]{key('prompt.send')}[/b] sends, "
            f"[b]{key('prompt.newline')}[/b] adds a line.\n[dim][b]^p[/b] every command · "
            f"[b]{key('app.help')}[/b] help · [b]{key('app.files')}[/b] files · "
            f"[b]{key('app.model')}[/b] model[/dim]"
        )

    # ------------------------------------------------------------------ routing between panes

    @on(SessionList.OpenRequested)
    def _open_requested(self, event: SessionList.OpenRequested) -> None:
        self.chat.open_session(event.session_id, event.message_id)

    @on(SessionList.ActionRequested)
    def _session_action(self, event: SessionList.ActionRequested) -> None:
        if event.action == "new":  # the rest are the sessions pane's own
            self.action_new_session()

    @on(msg.SessionShown)
    def _session_shown(self, event: msg.SessionShown) -> None:
        self.session_list.shown(event.session_id, event.changed)

    @on(msg.SessionEdited)
    def _session_edited(self, event: msg.SessionEdited) -> None:
        self.chat.session_edited(event.session)

    @on(msg.SessionDeleted)
    def _session_deleted(self, event: msg.SessionDeleted) -> None:
        session = self.chat.session
        if session is not None and session.id == event.session_id:
            self.action_new_session()

    @on(msg.PromptDraft)
    def _prompt_draft(self, event: msg.PromptDraft) -> None:
        self.chat.draft(event.text)

    @on(msg.ModelChanged)
    def _model_changed(self) -> None:
        self.boot.recheck_warmup()

    @on(msg.OpenInEditor)
    def _open_in_editor(self, event: msg.OpenInEditor) -> None:
        self.open_in_editor(event.path, event.line)

    def on_project_tree_attach_requested(self, event: Any) -> None:
        self.chat.bar.toggle_attachment(event.path)

    def on_project_tree_edit_requested(self, event: Any) -> None:
        self.open_in_editor(event.path)

    def open_in_editor(self, path: Path, line: int | None = None) -> None:
        from ai_workbench.tui.editor import editor_command, run_editor

        if self.editor_runner is not None:  # headless tests: record the command instead
            editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
            self.editor_runner(editor_command(editor, path, line))
            return
        run_editor(self, path, line)

    # ------------------------------------------------------------------ global keys

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_answer":
            return self.chat.streaming
        return True

    def action_cancel_answer(self) -> None:
        self.chat.cancel_turn(None)

    def action_new_session(self) -> None:
        self.chat.new_session()

    def action_send_prompt(self) -> None:
        self.prompt.action_submit()

    def action_pick_model(self) -> None:
        self.chat.bar.pick_model()

    def action_setup_model(self) -> None:
        self.chat.setup_requested()

    def action_pick_persona(self) -> None:
        self.chat.bar.pick_persona()

    def action_toggle_kb(self) -> None:
        self.chat.bar.toggle_kb()

    def action_mcp_servers(self) -> None:
        self.chat.bar.pick_mcp()

    def action_memory(self) -> None:
        from ai_workbench.tui.screens.memory import MemoryScreen

        self.push_screen(MemoryScreen(self.ctx))

    def action_message(self, kind: str) -> None:
        self.chat.log_view.act_on(kind)

    def action_search_sessions(self) -> None:
        self.session_list.search_input.focus()

    def action_focus_prompt(self) -> None:
        self.prompt.focus()

    def action_focus_chat(self) -> None:
        self.chat_log.focus()

    def action_index_project(self) -> None:
        self.background.index_project()

    def action_process_ai_comments(self) -> None:
        self.background.process_ai_comments()

    def action_sources(self) -> None:
        from ai_workbench.tui.screens.sources import open_sources

        open_sources(self)

    def action_review(self) -> None:
        from ai_workbench.tui.screens.review import open_review

        open_review(self)

    def action_agent(self) -> None:
        from ai_workbench.tui.screens.agent import open_agent

        open_agent(self)

    def action_documents(self) -> None:
        from ai_workbench.tui.screens.documents import open_documents

        open_documents(self)

    def action_help(self) -> None:
        from ai_workbench.tui.screens.help import HelpScreen, help_for_focus

        text, keys = help_for_focus(self)
        self.push_screen(HelpScreen(text, keys))

    async def action_toggle_files(self) -> None:
        from ai_workbench.tui.widgets.file_tree import FileTreePane

        panes = list(self.query("#files").results(FileTreePane))
        if not panes:  # first F2: mount it (it loads the project's files itself)
            await self.query_one("#left").mount(FileTreePane(self.ctx.project_root, id="files"))
            return
        self._toggle_pane(panes[0], panes[0].project_tree)

    async def action_toggle_tasks(self) -> None:
        from ai_workbench.tui.panes.tasks import TasksPane

        panes = list(self.query("#tasks").results(TasksPane))
        if not panes:  # first F6: mount it (it loads the tasks itself)
            pane = TasksPane(self.ctx, id="tasks")
            await self.query_one("#left").mount(pane)
            pane.options.focus()
            return
        self._toggle_pane(panes[0], panes[0].options)

    def action_toggle_suggestions(self) -> None:
        panel = self.suggestions_panel()
        if panel is not None:
            self._toggle_pane(panel, panel.options)

    def _toggle_pane(self, pane: Any, focus: Any) -> None:
        pane.display = not pane.display
        if pane.display and focus is not None:
            focus.focus()
        elif not pane.display and self.focused is not None and pane in self.focused.ancestors:
            self.prompt.focus()

    def action_rename_session(self) -> None:
        self.session_list.command("rename", self.chat.session)

    def action_delete_session(self) -> None:
        self.session_list.command("delete", self.chat.session)

    def action_export(self, fmt: str) -> None:
        self.session_list.command(f"export_{fmt}", self.chat.session)

    # ------------------------------------------------------------------ keys and the palette

    def palette_commands(self) -> list[PaletteCommand]:
        from ai_workbench.tui.commands import palette_commands

        return palette_commands()

    def key_for(self, binding_id: str | None) -> str:
        """How the key bound to ``binding_id`` is shown (after the user's key map)."""
        from ai_workbench.tui.keys import key_display

        return key_display(self, binding_id)


def run_app(**options: Any) -> None:
    """Entry point for `aiw` with no subcommand (the collector is off until Boot.start)."""
    import gc

    try:
        AiwApp(**options).run()
    finally:
        gc.enable()
