"""The aiw workbench: sessions, conversation, prompt, files and suggestions in one screen.

Start-up paints first and loads after: this module imports Textual and the small widget
modules only. Settings, themes and the key map load in a thread worker; the session database
opens in an async worker (titles first, messages when a session opens); litellm is imported
in a thread after the first frame, and only when a configured provider needs it. Every
model, database, git and file call runs in a worker, so the UI never waits on one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.lazy import Lazy
from textual.widgets import Footer, Static

from ai_workbench.tui import STARTED_AT
from ai_workbench.tui.widgets.chat import (
    ChatLog,
    MessageInfo,
    MessageView,
    code_blocks,
    views_from_messages,
)
from ai_workbench.tui.widgets.chips import Chip, ChipBar, ChipData
from ai_workbench.tui.widgets.prompt import PromptInput
from ai_workbench.tui.widgets.session_list import HL_CLOSE, HL_OPEN, SessionList, SessionOptions
from ai_workbench.tui.widgets.suggestions import SuggestionOptions, SuggestionsPanel

if TYPE_CHECKING:
    from ai_workbench.tui.commands import PaletteCommand
    from ai_workbench.tui.screens.feedback import FeedbackResult
    from ai_workbench.tui.widgets.file_tree import FileTreePane

# Modals, the palette provider and the file tree import on first use: they are not part of
# the first frame (see bench/first_frame.py).

MIN_WIDTH = 60
MIN_HEIGHT = 15
POLL_SECONDS = 3.0  # suggestions and sessions written by other aiw processes
SPOOL_POLL_SECONDS = 1.0  # failed shell commands (a stat of the spool file; read when it grew)
BOOT_DELAY = 0.04  # seconds after the first frame before settings and the store load

APP_HELP = """\
## aiw workbench

Sessions on the left, the conversation in the middle, suggestions on the right.
**Tab** moves between panes; **F1** shows help for the pane you are in.

Type a prompt at the bottom and press **Enter**. Attach project files from the file tree
(**F2**). Pick a model (**Ctrl+O**) or a persona (**Ctrl+R**). Every command, with its key,
is in the palette (**Ctrl+P**), which also switches themes.

Keys can be remapped by binding id in `~/.config/aiw/keys.toml`, e.g.
`[keys]` `"prompt.send" = "ctrl+s"`.
"""


def _aiw_commands() -> Any:
    """The palette provider, imported when the palette first opens."""
    from ai_workbench.tui.commands import AiwCommands

    return AiwCommands


@dataclass(frozen=True)
class ModelChoice:
    """The model the next turns use, when the user chose one (command line or picker)."""

    model: str | None = None
    api_base: str | None = None
    provider: str | None = None
    label: str = ""


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


class AiwApp(App[None]):
    """The workbench. All keyword arguments are optional; they mirror `aiw`'s flags."""

    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    TITLE = "aiw"
    COMMANDS = App.COMMANDS | {_aiw_commands}
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (100, "-wide")]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", id="app.help", tooltip="Help for the focused pane"),
        Binding("escape", "cancel_answer", "Cancel", id="app.cancel", tooltip="Stop the answer"),
        Binding("ctrl+n", "new_session", "New", id="app.new_session", tooltip="New session"),
        Binding("ctrl+o", "pick_model", "Model", id="app.model", tooltip="Choose the model"),
        Binding(
            "ctrl+r",
            "pick_persona",
            "Persona",
            id="app.persona",
            show=False,
            tooltip="Choose the persona",
        ),
        Binding("f2", "toggle_files", "Files", id="app.files", tooltip="Show/hide the file tree"),
        Binding(
            "f3",
            "toggle_suggestions",
            "Suggestions",
            id="app.suggestions",
            tooltip="Show/hide the suggestions",
        ),
        Binding(
            "ctrl+f", "search_sessions", "Search", id="app.search", show=False, tooltip="Search"
        ),
        Binding("ctrl+l", "focus_chat", "Conversation", id="app.focus_chat", show=False),
        Binding(
            "f7",
            "toggle_kb",
            "Knowledge",
            id="app.kb",
            show=False,
            priority=True,  # over the prompt's own F7 (select all)
            tooltip="Ground answers in the project index (aiw index) on/off",
        ),
        Binding("ctrl+k", "focus_prompt", "Prompt", id="app.focus_prompt", show=False),
        Binding("f4", "review", "Review", id="app.review", show=False, tooltip="Review changes"),
        Binding(
            "f5",
            "process_ai_comments",
            "AI comments",
            id="app.watch_now",
            show=False,
            priority=True,  # over the prompt's own F5 (select word)
            tooltip="Process pending AI! / AI? comments now",
        ),
    ]

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
        self.kb_on = kb  # ground prompts in the project index (F7)
        # Runs the editor command instead of suspending the app (tests; the headless driver
        # cannot hand the terminal over).
        self.editor_runner: Any = None
        self.cwd = Path(cwd or Path.cwd()).resolve()
        self.cli_overrides = dict(config_overrides or {})
        if offline:
            self.cli_overrides["offline"] = True
        self.store_path = store_path
        self.initial_session = session
        self.persona_choice: str | None = persona
        self.cli_choice: ModelChoice | None = None
        if model or api_base or provider:
            label = model or (f"{provider} profile" if provider else "default model")
            self.cli_choice = ModelChoice(model, api_base, provider, label)
        self.model_choice: ModelChoice | None = self.cli_choice

        self.loaded: Any = None
        self.store: Any = None
        self.sessions: Any = None
        self.feedback: Any = None
        self.suggestion_queue: Any = None
        self.session: Any = None
        self.attached: list[Path] = []
        self.streaming = False
        self.first_frame_ms: float | None = None
        self.keymap: dict[str, str] = {}
        self.boot_errors: dict[str, str] = {}

        self._config_ready: asyncio.Event | None = None
        self._store_ready: asyncio.Event | None = None
        self._warm: asyncio.Event | None = None
        self._needs_litellm = False
        self._ready_seen = False
        self._theme_ready = False
        self._chat_worker: Any = None
        self._unsubscribe: Any = None
        self._known_suggestions: set[int] = set()
        self._file_pane: FileTreePane | None = None
        self.watch_service: Any = None  # core.watch.WatchService once started
        self._spool_offset: int | None = None  # bytes of the shell spool already seen
        self._discovered: list[Any] = []  # models local servers reported (model picker)
        self._seen_report: Path | None = None  # the newest index run report already announced
        self._own_reindexes = 0  # index updates our file watcher ran (not announced)
        self._status_text = ""

        # Paint the first frame in the configured theme: a cheap peek (tomllib, no pydantic);
        # the full settings load in a worker right after.
        self._early_theme()

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield SessionList(id="sessions")
            with Vertical(id="center"):
                yield ChipBar(id="chips")
                yield ChatLog(id="chat-log")
                yield Static(id="turn-status", markup=True)
                yield PromptInput(id="prompt")
            yield Lazy(SuggestionsPanel(id="suggestions"))
        yield Static(id="too-small")
        yield Footer()

    @property
    def chat_log(self) -> ChatLog:
        return self.query_one("#chat-log", ChatLog)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one("#prompt", PromptInput)

    @property
    def session_list(self) -> SessionList:
        return self.query_one("#sessions", SessionList)

    @property
    def chip_bar(self) -> ChipBar:
        return self.query_one("#chips", ChipBar)

    def suggestions_panel(self) -> SuggestionsPanel | None:
        found = self.query("#suggestions").results(SuggestionsPanel)
        return next(iter(found), None)

    # ------------------------------------------------------------------ start-up

    def _early_theme(self) -> None:
        try:
            from ai_workbench.tui.themes import find_theme_file, peek_theme_name, theme_from_file

            name = peek_theme_name(self.cwd)
            if not name:
                return
            if name not in self.available_themes:
                path = find_theme_file(name)
                if path is None:
                    return
                self.register_theme(theme_from_file(path))
            self.theme = name
        except Exception:
            return  # the full load reports problems

    def on_mount(self) -> None:
        self._config_ready = asyncio.Event()
        self._store_ready = asyncio.Event()
        self._apply_size(self.size.width, self.size.height)
        self.chat_log.set_empty_text(self._empty_text())
        self._update_chips()
        self.prompt.focus()
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        # Paint first: settings and the store start loading once the first frame is out (see
        # on_ready); started any earlier, the import-heavy config thread holds the GIL while
        # Textual's writer thread is still flushing that frame to the terminal.

    def _boot(self) -> None:
        self._load_config()
        self._open_store()

    def on_ready(self) -> None:
        # Everything alive now (modules, classes, the first screen) stays: keep it out of the
        # collector's full passes, and collect less often. Measured with bench/stream_render.py:
        # without this, full collections of the widget tree paused the UI for 85-240 ms.
        import gc

        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
        self.first_frame_ms = (time.perf_counter() - STARTED_AT) * 1000
        self.log.info(f"aiw workbench: first frame {self.first_frame_ms:.0f} ms after import")
        self.set_timer(BOOT_DELAY, self._boot)
        self._ready_seen = True
        if self._needs_litellm:
            self._warm_up()
        self._start_watch()

    def _cli_model_args(self) -> dict[str, str | None]:
        choice = self.model_choice
        if choice is None:
            return {"model": None, "api_base": None, "provider": None}
        return {"model": choice.model, "api_base": choice.api_base, "provider": choice.provider}

    @work(thread=True, group="boot", exit_on_error=False)
    def _load_config(self) -> None:
        from ai_workbench.core.settings import ConfigError, load_config
        from ai_workbench.tui.keys import load_keymap
        from ai_workbench.tui.themes import load_themes

        try:
            loaded = load_config(self.cli_overrides, cwd=self.cwd)
        except ConfigError as exc:
            self.call_from_thread(self._boot_failed, "config", str(exc))
            return
        except Exception as exc:  # a bug: say so, never a traceback
            self.call_from_thread(self._boot_failed, "config", f"internal error: {exc!r}")
            return
        problems: list[str] = []
        themes, theme_errors = load_themes()
        problems.extend(theme_errors)
        keymap, key_errors = load_keymap(loaded.settings)
        problems.extend(key_errors)
        needs, chain_error = self._chain_needs_litellm(loaded.settings)
        self.call_from_thread(
            self._config_loaded, loaded, themes, keymap, problems, needs, chain_error
        )
        # Import what the first prompt needs now, in this thread, while the user reads the
        # screen: a first answer would otherwise pay for it on the event loop (typing stalls).
        import importlib

        from ai_workbench.core.redact import redact_text

        importlib.import_module("ai_workbench.chat.service")
        importlib.import_module("textual.widgets._markdown")  # markdown-it, for the answer
        from textual.highlight import highlight

        highlight("x = 1", language="python")  # pygments' lexers, for code blocks

        redact_text("warm up the patterns")

    def _chain_needs_litellm(self, settings: Any) -> tuple[bool, str | None]:
        """Whether the providers in use need litellm (the direct engine needs no warm-up)."""
        from ai_workbench.core.errors import ProviderError
        from ai_workbench.core.llm.engines import choose_engine
        from ai_workbench.core.llm.profiles import resolve_chain

        try:
            chain = resolve_chain(settings, **self._cli_model_args())
        except ProviderError as exc:
            return False, str(exc)
        needs = False
        for provider in chain:
            try:
                needs = needs or choose_engine(provider, settings.engine) == "litellm"
            except ProviderError as exc:
                return False, str(exc)
        return needs, None

    def _config_loaded(
        self,
        loaded: Any,
        themes: list[Any],
        keymap: dict[str, str],
        problems: list[str],
        needs_litellm: bool,
        chain_error: str | None,
    ) -> None:
        self.loaded = loaded
        for theme in themes:
            self.register_theme(theme)
        wanted = loaded.settings.theme
        if wanted and wanted != self.theme:
            if wanted in self.available_themes:
                self.theme = wanted
            else:
                problems.append(
                    f"theme '{wanted}' is not installed; choose one with Ctrl+P → Theme"
                )
        self._theme_ready = True
        if keymap:
            self.keymap = keymap
            self.set_keymap(keymap)
            self.chat_log.set_empty_text(self._empty_text())
        for problem in problems:
            self.notify(problem, severity="warning", timeout=8)
        if chain_error:
            self._set_status(f"[$error]{chain_error}[/]")
            self.notify(chain_error, title="Provider", severity="error", timeout=12)
        self._update_chips()
        assert self._config_ready is not None
        self._config_ready.set()
        self._set_warmup(needs_litellm)

    def _set_warmup(self, needs: bool) -> None:
        if needs and self._warm is None:
            self._needs_litellm = True
            self._warm = asyncio.Event()
            if self._ready_seen:
                self._warm_up()

    @work(thread=True, group="warmup", exit_on_error=False)
    def _warm_up(self) -> None:
        from ai_workbench.core.llm.engines import import_litellm

        started = time.perf_counter()
        try:
            import_litellm()
        except Exception as exc:
            self.call_from_thread(
                self.notify, f"cannot load litellm: {exc}", severity="error", timeout=10
            )
        finally:
            took = (time.perf_counter() - started) * 1000
            self.call_from_thread(self._warm_done, took)

    def _warm_done(self, took_ms: float) -> None:
        self.log.info(f"aiw: model client ready in {took_ms:.0f} ms")
        if self._warm is not None:
            self._warm.set()

    @work(group="boot", exit_on_error=False)
    async def _open_store(self) -> None:
        # Import the store stack (aiosqlite, services) in a thread, not on the event loop.
        await asyncio.to_thread(_import_store_modules)
        from ai_workbench.chat.sessions import SessionService
        from ai_workbench.core.errors import AiwError
        from ai_workbench.core.feedback import FeedbackService
        from ai_workbench.store import Store
        from ai_workbench.suggestions.service import SuggestionQueue

        try:
            store = await Store.open(self.store_path)
        except AiwError as exc:
            self._boot_failed("store", str(exc))
            return
        except Exception as exc:
            self._boot_failed("store", f"cannot open the session database: {exc!r}")
            return
        self.store = store
        self.sessions = SessionService(store)
        self.feedback = FeedbackService(store)
        self.suggestion_queue = SuggestionQueue(store)
        self._unsubscribe = self.suggestion_queue.subscribe(self._on_new_suggestion)
        assert self._store_ready is not None
        self._store_ready.set()
        await self._reload_titles()
        if self.initial_session:
            self.open_session(self.initial_session)
        await self._fill_suggestions()
        self.set_interval(POLL_SECONDS, self._poll_suggestions)
        self.set_interval(SPOOL_POLL_SECONDS, self._check_shell_spool)

    def _boot_failed(self, what: str, message: str) -> None:
        from ai_workbench.tui.screens.confirm import MessageScreen

        self.boot_errors[what] = message
        title = "Configuration problem" if what == "config" else "Session database unavailable"
        if what == "store":
            self.session_list.set_status(f"[$error]{_escape(message)}[/]")
            assert self._store_ready is not None
            self._store_ready.set()
        else:
            assert self._config_ready is not None
            self._config_ready.set()
        self._set_status(f"[$error]{_escape(message)}[/]")
        self.push_screen(MessageScreen(title, message))

    async def on_unmount(self) -> None:
        if self.watch_service is not None:
            with contextlib.suppress(Exception):
                await self.watch_service.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.store is not None:
            with contextlib.suppress(Exception):
                await self.store.close()

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

    def _set_status(self, markup: str) -> None:
        self._status_text = markup
        status = self.query_one("#turn-status", Static)
        status.update(markup)
        status.set_class(bool(markup), "-visible")

    def _empty_text(self) -> str:
        keys = {
            name: self.key_for(binding_id)
            for name, binding_id in (
                ("send", "prompt.send"),
                ("newline", "prompt.newline"),
                ("help", "app.help"),
                ("files", "app.files"),
                ("model", "app.model"),
            )
        }
        return (
            f"[b]New session.[/b] [b]{keys['send']}[/b] sends, [b]{keys['newline']}[/b] adds a"
            f" line.\n[dim][b]^p[/b] every command · [b]{keys['help']}[/b] help · "
            f"[b]{keys['files']}[/b] files · [b]{keys['model']}[/b] model[/dim]"
        )

    # ------------------------------------------------------------------ chips

    def _default_model_label(self) -> str:
        if self.loaded is None:
            return "…"
        settings = self.loaded.settings
        profile = settings.providers.get(settings.default_provider)
        return profile.model if profile else settings.default_provider

    def _effective_persona(self) -> str | None:
        if self.persona_choice:
            return self.persona_choice
        if self.session is not None and self.session.persona:
            return self.session.persona
        if self.loaded is not None and self.loaded.settings.chat.persona:
            return self.loaded.settings.chat.persona
        return None

    def _update_chips(self) -> None:
        persona = self._effective_persona()
        chips = [ChipData("persona", persona or "", f"persona: {persona or 'none'}")]
        if self.model_choice is not None:
            label = self._choice_label(self.model_choice)
            chips.append(ChipData("model", label, f"model: {label}"))
        elif self.session is not None and self.session.model:
            chips.append(ChipData("model", "", f"model: {self.session.model}"))
        else:
            chips.append(ChipData("model", "", f"model: {self._default_model_label()}"))
        if self.kb_on:
            chips.append(ChipData("kb", "on", "knowledge: on"))
        for path in self.attached:
            chips.append(ChipData("file", str(path), f"@{self._display_path(path)}"))
        bar = self.chip_bar
        bar.chips = tuple(chips)
        bar.title = (self.session.title or "(untitled)") if self.session else "New session"
        bar.tokens = self.chat_log.session_tokens()
        bar.cost = self.chat_log.session_cost()

    def _choice_label(self, choice: ModelChoice) -> str:
        if choice.model:
            return choice.model
        if choice.provider and self.loaded is not None:
            profile = self.loaded.settings.providers.get(choice.provider)
            if profile is not None:
                return profile.model
        return choice.label or "?"

    def _display_path(self, path: Path) -> str:
        try:
            return path.relative_to(self.cwd).as_posix()
        except ValueError:
            return str(path)

    @on(Chip.Changed)
    def _chip_changed(self, event: Chip.Changed) -> None:
        if event.chip.kind == "persona":
            self.action_pick_persona()
        elif event.chip.kind == "model":
            self.action_pick_model()
        elif event.chip.kind == "kb":
            self.action_toggle_kb()

    @on(Chip.Removed)
    def _chip_removed(self, event: Chip.Removed) -> None:
        chip = event.chip
        if chip.kind == "file":
            self.attached = [p for p in self.attached if str(p) != chip.value]
            self._update_chips()
        elif chip.kind == "persona":
            self._persona_picked("-")
        elif chip.kind == "kb":
            self.action_toggle_kb()
        elif chip.kind == "model":
            if self.model_choice is None:
                self.bell()
                return
            self.model_choice = None
            self._update_chips()
            self._persist_session_choice(model=None)
            self.notify("Model reset: the session's model or the configured default is used.")
        self.prompt.focus()

    # ------------------------------------------------------------------ sessions

    async def _wait_store(self) -> bool:
        assert self._store_ready is not None
        await self._store_ready.wait()
        return self.store is not None

    async def _reload_titles(self) -> None:
        if self.sessions is None:
            return
        try:
            titles = await self.sessions.titles()
        except Exception as exc:
            self.session_list.set_status(f"[$error]{_escape(str(exc))}[/]")
            return
        self.session_list.set_sessions(titles, self.session.id if self.session else None)

    @work(group="titles", exclusive=True, exit_on_error=False)
    async def reload_titles(self) -> None:
        await self._reload_titles()

    def open_session(self, session_id: str, message_id: int | None = None) -> None:
        if self.streaming:
            self._cancel_turn("switched session")
        self._open_session_worker(session_id, message_id)

    @work(group="open", exclusive=True, exit_on_error=False)
    async def _open_session_worker(self, session_id: str, message_id: int | None) -> None:
        from ai_workbench.core.errors import AiwError

        if not await self._wait_store():
            return
        if self._chat_worker is not None and not self._chat_worker.is_finished:
            with contextlib.suppress(Exception):  # WorkerCancelled: it was just cancelled
                await self._chat_worker.wait()
        try:
            session, messages = await self.sessions.open(session_id)
            answer_ids = [m.id for m in messages if m.role == "assistant"]
            ratings = await self.feedback.for_targets("message", answer_ids)
        except AiwError as exc:
            self.notify(str(exc), title="Session", severity="error")
            return
        self.session = session
        self.persona_choice = None
        views = views_from_messages(messages, ratings)
        for view in views:
            stored = next((m for m in messages if m.id == view.info.message_id), None)
            if stored is not None:
                view.attachment_paths = [a.path for a in stored.attachments]  # type: ignore[attr-defined]
        await self.chat_log.load(views)
        self.session_list.set_current(session.id)
        self._update_chips()
        if message_id is not None:
            target = await self.chat_log.reveal(message_id)
            if target is not None:
                self.chat_log.focus()
                self.chat_log.select_view(target)
        elif not self.session_list.options.has_focus:
            self.prompt.focus()

    def action_new_session(self) -> None:
        if self.streaming:
            self._cancel_turn("new session")
        self.session = None
        self.persona_choice = None
        self.run_worker(self.chat_log.clear_messages(), group="open", exclusive=True)
        self.session_list.set_current(None)
        self._update_chips()
        self.prompt.focus()

    def action_search_sessions(self) -> None:
        self.session_list.search_input.focus()

    @on(SessionList.OpenRequested)
    def _session_open_requested(self, event: SessionList.OpenRequested) -> None:
        self.open_session(event.session_id, event.message_id)

    @on(SessionList.RefreshRequested)
    def _titles_refresh(self) -> None:
        if self.sessions is not None:
            self.reload_titles()

    @on(SessionList.SearchRequested)
    def _search_requested(self, event: SessionList.SearchRequested) -> None:
        self._search(event.query)

    @work(group="search", exclusive=True, exit_on_error=False)
    async def _search(self, query: str) -> None:
        if not await self._wait_store():
            return
        try:
            hits = await self.sessions.search(query, highlight=(HL_OPEN, HL_CLOSE))
        except Exception as exc:
            self.session_list.set_status(f"[$error]search failed: {_escape(str(exc))}[/]")
            return
        self.session_list.show_results(query, hits)

    @on(SessionList.ActionRequested)
    def _session_action(self, event: SessionList.ActionRequested) -> None:
        if event.action == "new":
            self.action_new_session()
            return
        if event.session_id is None:
            self.bell()
            return
        if event.action == "rename":
            self.rename_session(event.session_id)
        elif event.action == "delete":
            self.delete_session(event.session_id)
        elif event.action in ("export_md", "export_json"):
            self.export_session(event.session_id, event.action.removeprefix("export_"))

    def _session_by_id(self, session_id: str) -> Any:
        if self.session is not None and self.session.id == session_id:
            return self.session
        return next((s for s in self.session_list.sessions if s.id == session_id), None)

    def _target_session_id(self) -> str | None:
        """The session a palette command acts on: the open one, else the highlighted one."""
        if self.session is not None:
            return self.session.id
        option = self.session_list.options.highlighted_option
        if option is not None and option.id:
            return option.id.split(":", 2)[1]
        return None

    def rename_session(self, session_id: str) -> None:
        from ai_workbench.tui.screens.confirm import TextPromptScreen

        session = self._session_by_id(session_id)
        title = session.title if session else ""

        def done(new_title: str | None) -> None:
            if new_title is not None and new_title.strip() and new_title.strip() != title:
                self._rename(session_id, new_title.strip())

        self.push_screen(TextPromptScreen("Rename session", title, "Session title"), done)

    @work(group="session-edit", exit_on_error=False)
    async def _rename(self, session_id: str, title: str) -> None:
        try:
            session = await self.sessions.rename(session_id, title)
        except Exception as exc:
            self.notify(str(exc), title="Rename", severity="error")
            return
        if self.session is not None and self.session.id == session_id:
            self.session = session
            self._update_chips()
        await self._reload_titles()
        self.notify(f"Renamed to “{_clip(title, 60)}”")

    def delete_session(self, session_id: str) -> None:
        from ai_workbench.tui.screens.confirm import ConfirmScreen

        session = self._session_by_id(session_id)
        label = f"“{_clip(session.title, 50)}”" if session and session.title else "this session"
        count = session.message_count if session else 0
        message = (
            f"{label} and its {count} message{'s' if count != 1 else ''} will be deleted. "
            "This cannot be undone."
        )

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._delete(session_id)

        self.push_screen(ConfirmScreen("Delete session?", message, yes="Delete"), done)

    @work(group="session-edit", exit_on_error=False)
    async def _delete(self, session_id: str) -> None:
        try:
            await self.sessions.delete(session_id)
        except Exception as exc:
            self.notify(str(exc), title="Delete", severity="error")
            return
        if self.session is not None and self.session.id == session_id:
            self.action_new_session()
        await self._reload_titles()
        self.notify("Session deleted")

    def export_session(self, session_id: str, fmt: str) -> None:
        self._export(session_id, fmt)

    @work(group="export", exit_on_error=False)
    async def _export(self, session_id: str, fmt: str) -> None:
        try:
            text = await self.sessions.export(session_id, fmt)
            session = self._session_by_id(session_id)
            title = session.title if session else ""
            folder = self.loaded.project_root if self.loaded is not None else self.cwd
            path = await asyncio.to_thread(
                _write_export, Path(folder), session_id, title, fmt, text
            )
        except Exception as exc:
            self.notify(f"export failed: {exc}", title="Export", severity="error")
            return
        self.last_export = path
        self.notify(f"Exported to {path}", title="Export", timeout=8)

    # ------------------------------------------------------------------ a chat turn

    @on(PromptInput.Submitted)
    def _prompt_submitted(self, event: PromptInput.Submitted) -> None:
        text = event.text
        if self.streaming:
            self.notify("An answer is still streaming; Esc cancels it.", severity="warning")
            return
        if not text.strip() and not self.attached:
            self.bell()
            return
        self.prompt.remember(text)
        self.prompt.clear()
        self._chat_worker = self._run_turn(text, list(self.attached))

    def action_send_prompt(self) -> None:
        self.prompt.action_submit()

    def _ask_options(self, text: str, files: list[Path]) -> Any:
        from ai_workbench.chat.service import AskOptions

        choice = self.model_choice
        return AskOptions(
            prompt=text,
            files=[str(p) for p in files],
            persona=self.persona_choice,
            session=self.session.id if self.session else None,
            model=choice.model if choice else None,
            api_base=choice.api_base if choice else None,
            provider=choice.provider if choice else None,
            cwd=self.cwd,
        )

    def _notice(self, line: str) -> None:
        self.notify(line, severity="information", timeout=6)

    async def _wait_ready(self) -> str | None:
        """Wait for settings and the store; the problem that stops a turn, if any."""
        assert self._config_ready is not None and self._store_ready is not None
        if not (self._config_ready.is_set() and self._store_ready.is_set()):
            self._set_status("[dim]opening the session database…[/dim]")
            await asyncio.gather(self._config_ready.wait(), self._store_ready.wait())
            self._set_status("")
        if "config" in self.boot_errors:
            return self.boot_errors["config"]
        if "store" in self.boot_errors:
            return self.boot_errors["store"]
        return None

    def _restore_prompt(self, text: str, files: list[Path]) -> None:
        if not self.prompt.text.strip():
            self.prompt.set_text(text)
        for path in files:
            if path not in self.attached:
                self.attached.append(path)
        self._update_chips()

    @work(group="chat", exclusive=True, exit_on_error=False)
    async def _run_turn(
        self,
        text: str,
        files: list[Path],
        retry_turn: Any = None,
        reuse_message: int | None = None,
    ) -> None:
        from ai_workbench.chat.service import ChatService
        from ai_workbench.core.errors import AiwError

        log = self.chat_log
        answer: MessageView | None = None
        # Is the user's message on screen yet?
        shown = retry_turn is not None or reuse_message is not None
        self.streaming = True
        self.refresh_bindings()
        try:
            problem = await self._wait_ready()
            if problem is not None:
                self._restore_prompt(text, files)
                self.notify(problem, title="Cannot send", severity="error", timeout=10)
                return
            service = ChatService(self.loaded, self.store)
            if retry_turn is None:
                options = self._ask_options(text, files)
                if reuse_message is not None:
                    options = replace(options, reuse_user_message=reuse_message, files=[])
                if self.kb_on and reuse_message is None:
                    grounded = await self._ground(text, files)
                    if grounded is None:
                        return
                    options = replace(options, extra_context=grounded)
                try:
                    turn = await service.prepare(options, self._notice)
                except AiwError as exc:
                    if reuse_message is None:
                        self._restore_prompt(text, files)
                    self._set_status(f"[$error]{_escape(str(exc))}[/]")
                    self.notify(str(exc), title="Not sent", severity="error", timeout=10)
                    return
                self._set_status("")
                self.attached = [p for p in self.attached if p not in files]
                new_session = self.session is None or self.session.id != turn.session.id
                self.session = turn.session
                if new_session:
                    self.session_list.set_current(turn.session.id)
            if retry_turn is None and reuse_message is None:
                user_view = MessageView(
                    text,
                    MessageInfo(
                        role="user",
                        message_id=turn.user_message_id,
                        attachments=[os.path.basename(f.display) for f in turn.files],
                    ),
                )
                user_view.attachment_paths = [str(f.path) for f in turn.files]  # type: ignore[attr-defined]
                await log.add(user_view)
                shown = True
                self._update_chips()
                self.reload_titles()
            elif retry_turn is not None:
                turn = retry_turn
            answer = MessageView(
                "", MessageInfo(role="assistant", model=turn.chain[0].model, streaming=True)
            )
            answer.turn = turn  # type: ignore[attr-defined]
            answer.turn_choice = self.model_choice  # type: ignore[attr-defined]
            await log.add(answer)
            log.scroll_end(animate=False)
            if self._warm is not None and not self._warm.is_set():
                answer.update_info(waiting="loading model client…")
                self._set_status(
                    "[$warning]loading model client… your prompt is sent when ready[/]"
                )
                await self._warm.wait()
                self._set_status("")
                answer.update_info(waiting=None)
            result = await self._stream(service, turn, answer)
            await self._finish_turn(answer, result)
        except asyncio.CancelledError:
            if answer is not None:
                answer.update_info(streaming=False, waiting=None, status="partial", error=None)
                # ChatService saved the partial answer before re-raising; learn its id so it
                # can be rated, copied and regenerated like any other.
                turn_session = getattr(getattr(answer, "turn", None), "session", None)
                if turn_session is not None:
                    self.call_later(self._adopt_saved_answer, answer, turn_session.id)
            elif not shown:
                self._restore_prompt(text, files)  # cancelled before it was sent
            self._set_status("")
            raise
        except Exception as exc:  # a bug: show it, never a traceback
            message = f"internal error: {type(exc).__name__}: {exc} (please report it)"
            if answer is not None:
                answer.update_info(streaming=False, status="error", error=message)
            self.notify(message, severity="error", timeout=12)
        finally:
            self.streaming = False
            self.refresh_bindings()

    @work(group="adopt", exit_on_error=False)
    async def _adopt_saved_answer(self, answer: MessageView, session_id: str) -> None:
        try:
            session, messages = await self.sessions.open(session_id)
        except Exception:
            return
        saved = next((m for m in reversed(messages) if m.role == "assistant"), None)
        if saved is not None and answer.info.message_id is None:
            answer.update_info(
                message_id=saved.id,
                status=saved.status,
                tokens_in=saved.tokens_in,
                tokens_out=saved.tokens_out,
            )
        if self.session is not None and self.session.id == session.id:
            self.session = session
            self._update_chips()
        await self._reload_titles()

    async def _stream(self, service: Any, turn: Any, answer: MessageView) -> Any:
        from textual.widgets import Markdown

        stream = Markdown.get_stream(answer.markdown)
        pending: list[str] = []
        wake = asyncio.Event()

        def on_text(text: str) -> None:
            answer.text += text
            pending.append(text)
            wake.set()

        async def pump() -> None:
            while True:
                await wake.wait()
                wake.clear()
                if pending:
                    chunk = "".join(pending)
                    pending.clear()
                    if answer.has_class("-empty"):
                        answer.refresh_info()
                    await stream.write(chunk)

        pumping = asyncio.create_task(pump())
        try:
            return await service.run(turn, on_text, notice=self._notice)
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping
            if pending:
                await stream.write("".join(pending))
                pending.clear()
            await stream.stop()

    async def _finish_turn(self, answer: MessageView, result: Any) -> None:
        from ai_workbench.core.context import estimate_tokens

        stream = result.stream
        tokens_out = stream.tokens_out
        if tokens_out is None and result.text:
            tokens_out = estimate_tokens(result.text)
        answer.update_info(
            streaming=False,
            waiting=None,
            message_id=result.message_id,
            status=result.status,
            model=result.provider.model if result.provider else answer.info.model,
            tokens_in=stream.tokens_in,
            tokens_out=tokens_out,
            cost=result.cost,
            error=str(result.error) if result.error else None,
        )
        if result.error is not None:
            self.notify(str(result.error), title="Provider error", severity="error", timeout=12)
        self.session = result.session
        self._update_chips()
        await self._reload_titles()

    def action_cancel_answer(self) -> None:
        self._cancel_turn(None)

    def _cancel_turn(self, reason: str | None) -> None:
        worker = self._chat_worker
        if worker is not None and not worker.is_finished:
            worker.cancel()
            why = f" ({reason})" if reason else ""
            self.notify(f"Answer cancelled{why}; the partial answer is kept.", timeout=5)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_answer":
            return self.streaming
        return True

    # ------------------------------------------------------------------ message actions

    def action_message(self, kind: str) -> None:
        role = (
            "assistant"
            if kind in ("like", "dislike", "copy_code", "regenerate", "open_citation")
            else None
        )
        view = self.chat_log.target(role)
        if view is not None and role and view.role != role:
            view = self.chat_log.last(role)
        if view is None:
            self.notify("No message to act on yet.", severity="warning")
            return
        self._message_action(kind, view)

    @on(ChatLog.Action)
    def _chat_action(self, event: ChatLog.Action) -> None:
        self._message_action(event.action, event.view)

    def _message_action(self, kind: str, view: MessageView) -> None:
        if kind in ("like", "dislike"):
            self.rate_message(view, 1 if kind == "like" else -1)
        elif kind == "copy":
            self.copy_to_clipboard(view.text)
            self.notify(f"Copied the message ({len(view.text):,} characters)")
        elif kind == "copy_code":
            self.copy_code(view)
        elif kind == "edit":
            self.edit_prompt(view)
        elif kind == "regenerate":
            self.regenerate(view)
        elif kind == "open_citation":
            self.open_citation(view)

    def rate_message(self, view: MessageView, rating: int) -> None:
        from ai_workbench.tui.screens.feedback import FeedbackScreen

        if view.role != "assistant" or view.info.message_id is None or view.info.streaming:
            self.notify("Only a finished answer can be rated.", severity="warning")
            return
        existing = view.info.rating is not None
        first_line = next((line for line in view.text.splitlines() if line.strip()), "")
        first_line = first_line.replace("**", "").replace("`", "").lstrip("#> ")
        screen = FeedbackScreen(
            rating,
            excerpt=_clip(first_line, 70),
            comment=view.info.comment if existing else None,
            existing=existing,
        )

        def done(result: FeedbackResult | None) -> None:
            if result is not None:
                self._save_feedback(view, result)

        self.push_screen(screen, done)

    @work(group="feedback", exit_on_error=False)
    async def _save_feedback(self, view: MessageView, result: FeedbackResult) -> None:
        message_id = view.info.message_id
        try:
            if result.rating is None:
                await self.feedback.clear("message", message_id)
                view.update_info(rating=None, comment=None)
                self.notify("Rating removed")
                return
            saved = await self.feedback.rate("message", message_id, result.rating, result.comment)
        except Exception as exc:
            self.notify(f"could not save the rating: {exc}", severity="error")
            return
        view.update_info(rating=saved.rating, comment=saved.comment)
        sources = await self._rate_cited_sources(view, saved.rating, saved.comment)
        verdict = "Liked" if saved.rating > 0 else "Disliked"
        extra = f", with its {sources} cited source(s) in the project index" if sources else ""
        self.notify(verdict + extra, timeout=3)

    async def _rate_cited_sources(self, view: MessageView, rating: int, comment: str | None) -> int:
        """A rated grounded answer rates the indexed chunks it cites (issue 7): they rise or
        fall for similar questions. 0 when it cites nothing indexed."""
        from ai_workbench.tui.knowledge import citations, rate_cited

        if self.loaded is None or not citations(view.text, Path(self.loaded.project_root)):
            return 0
        user = self.chat_log.previous_user(view)
        try:
            return await rate_cited(
                self.loaded, self.store, view.text, rating, user.text if user else None, comment
            )
        except Exception as exc:  # no index yet, or a broken one: the message rating stands
            self.log.warning(f"rating cited sources: {exc}")
            return 0

    def copy_code(self, view: MessageView) -> None:
        from ai_workbench.tui.screens.pickers import PickerScreen, PickItem

        blocks = code_blocks(view.text)
        if not blocks:
            self.notify("No code block in this message.", severity="warning")
            return
        if len(blocks) == 1:
            self._copy_block(blocks[0])
            return
        items = [
            PickItem(
                str(index),
                _clip(next((ln for ln in block.splitlines() if ln.strip()), "(blank)"), 70),
                f"block {index + 1} · {len(block.splitlines())} lines",
            )
            for index, block in enumerate(blocks)
        ]

        def done(value: str | None) -> None:
            if value is not None:
                self._copy_block(blocks[int(value)])

        self.push_screen(PickerScreen("Copy which code block?", items), done)

    def _copy_block(self, block: str) -> None:
        self.copy_to_clipboard(block)
        lines = len(block.splitlines())
        self.notify(f"Copied the code block ({lines} line{'s' if lines != 1 else ''})")

    def edit_prompt(self, view: MessageView) -> None:
        user = self.chat_log.previous_user(view)
        if user is None:
            self.notify("No prompt to edit there.", severity="warning")
            return
        self.prompt.set_text(user.text)
        for raw in getattr(user, "attachment_paths", []):
            path = Path(raw)
            if path not in self.attached and path.exists():
                self.attached.append(path)
        self._update_chips()
        self.prompt.focus()
        self.notify("Editing an earlier prompt: Enter sends it as a new turn.", timeout=5)

    def regenerate(self, view: MessageView) -> None:
        if self.streaming:
            self.notify("An answer is still streaming; Esc cancels it.", severity="warning")
            return
        turn = getattr(view, "turn", None)
        if view.role == "assistant" and turn is not None and self.session is not None:
            if getattr(view, "turn_choice", None) != self.model_choice:
                turn = self._rechain(turn)
                if turn is None:
                    return
            self._chat_worker = self._run_turn("", [], retry_turn=turn)
            return
        user = self.chat_log.previous_user(view)
        if user is None:
            self.notify("No prompt to answer again there.", severity="warning")
            return
        if user.info.message_id is not None and self.session is not None:
            # A reopened session: answer the saved prompt again, without saving it twice.
            self._chat_worker = self._run_turn(user.text, [], reuse_message=user.info.message_id)
            return
        files = [Path(p) for p in getattr(user, "attachment_paths", []) if Path(p).exists()]
        self.notify("Asking again as a new turn; the earlier answer stays in the session.")
        self._chat_worker = self._run_turn(user.text, files)

    def _rechain(self, turn: Any) -> Any:
        from ai_workbench.core.errors import ProviderError
        from ai_workbench.core.llm.profiles import resolve_chain

        args = self._cli_model_args()
        if not any(args.values()) and self.session is not None and self.session.model:
            args["model"] = self.session.model
        try:
            chain = resolve_chain(self.loaded.settings, **args)
        except ProviderError as exc:
            self.notify(str(exc), severity="error")
            return None
        return replace(turn, chain=chain)

    # ------------------------------------------------------------------ pickers

    def action_pick_model(self) -> None:
        if self.loaded is None:
            self.notify("Still loading the configuration…", severity="warning")
            return
        self._pick_model()

    @work(group="pick-model", exclusive=True, exit_on_error=False)
    async def _pick_model(self) -> None:
        """Profiles from the config, plus what the local servers report (asked concurrently,
        briefly: core.model_discovery), in a palette-style picker."""
        from ai_workbench.core.llm.discovery import discover_models, endpoints_to_ask
        from ai_workbench.tui.screens.pickers import PickerScreen, PickItem

        settings = self.loaded.settings
        current = self.model_choice
        items: list[PickItem] = []
        if self.cli_choice is not None and self.cli_choice.model:
            detail = "from the command line"
            if self.cli_choice.api_base:
                detail += f" · {self.cli_choice.api_base}"
            items.append(PickItem("cli", self.cli_choice.label, detail, current == self.cli_choice))
        from ai_workbench.core.llm.profiles import resolve_chain

        for name, profile in settings.providers.items():
            where = "local" if resolve_chain(settings, provider=name)[0].is_local else "cloud"
            key = ""
            if profile.api_key_env:
                is_set = bool(os.environ.get(profile.api_key_env))
                key = f" · ${profile.api_key_env} {'set' if is_set else 'not set'}"
            default = " · default" if name == settings.default_provider else ""
            chosen = current is not None and current.provider == name
            items.append(
                PickItem(
                    f"provider:{name}", f"{name}: {profile.model}", where + key + default, chosen
                )
            )
        extra = []
        if self.cli_choice is not None and self.cli_choice.api_base:
            extra.append(("command line", self.cli_choice.api_base, self.cli_choice.model or ""))
        self._set_status("[dim]asking local servers for their models…[/dim]")
        try:
            self._discovered = await discover_models(endpoints_to_ask(settings, extra))
        finally:
            self._set_status("")
        for index, found in enumerate(self._discovered):
            chosen = current is not None and current.model == found.model
            detail = f"served now by {found.source} · {found.api_base}"
            items.append(PickItem(f"found:{index}", found.model, detail, chosen))
        self.push_screen(
            PickerScreen("Model for this session", items, allow_custom="Use model"),
            self._model_picked,
        )

    def _model_picked(self, value: str | None) -> None:
        if value is None:
            return
        if value == "cli" and self.cli_choice is not None:
            choice = self.cli_choice
        elif value.startswith("found:") and value[6:].isdigit() and self._discovered:
            found = self._discovered[int(value[6:])]
            choice = ModelChoice(model=found.model, api_base=found.api_base, label=found.model)
        elif value.startswith("provider:"):
            name = value.removeprefix("provider:")
            profile = self.loaded.settings.providers[name]
            choice = ModelChoice(provider=name, label=profile.model, model=None)
        else:
            api_base = self.cli_choice.api_base if self.cli_choice else None
            choice = ModelChoice(model=value, api_base=api_base, label=value)
        self.model_choice = choice
        self._update_chips()
        model_name = choice.model or choice.label
        self._persist_session_choice(model=model_name)
        self._recheck_warmup()
        self.notify(f"Model: {choice.label}")

    def _recheck_warmup(self) -> None:
        if self.loaded is None:
            return
        needs, problem = self._chain_needs_litellm(self.loaded.settings)
        if problem:
            self.notify(problem, severity="error", timeout=10)
        self._set_warmup(needs)

    def _persist_session_choice(self, **changes: Any) -> None:
        if self.session is not None and self.sessions is not None:
            self._save_session_choice(self.session.id, changes)

    @work(group="session-edit", exit_on_error=False)
    async def _save_session_choice(self, session_id: str, changes: dict[str, Any]) -> None:
        try:
            if "model" in changes:
                session = await self.sessions.set_model(session_id, changes["model"])
            else:
                session = await self.sessions.set_persona(session_id, changes["persona"])
        except Exception as exc:
            self.notify(str(exc), severity="error")
            return
        if self.session is not None and self.session.id == session.id:
            self.session = session
            self._update_chips()

    def action_pick_persona(self) -> None:
        self._persona_picker()

    @work(group="pickers", exclusive=True, exit_on_error=False)
    async def _persona_picker(self) -> None:
        from ai_workbench.chat.personas import load_personas
        from ai_workbench.tui.screens.pickers import PickerScreen, PickItem

        root = self.loaded.project_root if self.loaded is not None else self.cwd
        catalog = await asyncio.to_thread(load_personas, root)
        current = self._effective_persona()
        items = [PickItem("-", "(no persona)", "the configured default, if any", not current)]
        for persona in catalog:
            items.append(
                PickItem(
                    persona.id,
                    f"{persona.id}: {persona.name}",
                    persona.description,
                    persona.id == current,
                )
            )
        self.push_screen(PickerScreen("Persona for this session", items), self._persona_picked)

    def _persona_picked(self, value: str | None) -> None:
        if value is None:
            return
        persona = None if value == "-" else value
        self.persona_choice = persona
        if self.session is not None:
            self.session.persona = persona
        self._update_chips()
        self._persist_session_choice(persona=persona)
        self.notify(f"Persona: {persona or 'none'}")

    # ------------------------------------------------------------------ files

    async def action_toggle_files(self) -> None:
        from ai_workbench.tui.widgets.file_tree import FileTreePane

        pane = self._file_pane
        if pane is None:
            root = self.loaded.project_root if self.loaded is not None else self.cwd
            pane = FileTreePane(Path(root), id="files")
            self._file_pane = pane
            await self.query_one("#left").mount(pane)
            self._load_tree(pane)
            return
        pane.display = not pane.display
        if pane.display and pane.project_tree is not None:
            pane.project_tree.focus()
        elif not pane.display and self.focused is not None and pane in self.focused.ancestors:
            self.prompt.focus()

    @work(group="files", exclusive=True, exit_on_error=False)
    async def _load_tree(self, pane: FileTreePane) -> None:
        from ai_workbench.core.project_files import visible_set

        keep = await asyncio.to_thread(visible_set, pane.root)
        await pane.show_tree(keep, keep.source)

    def on_project_tree_attach_requested(self, event: Any) -> None:
        self.toggle_attachment(event.path)

    def toggle_attachment(self, path: Path) -> None:
        path = path.resolve()
        shown = self._display_path(path)
        if path in self.attached:
            self.attached.remove(path)
            self.notify(f"Detached {shown}")
        else:
            self.attached.append(path)
            self.notify(f"Attached {shown} to the next prompt")
        self._update_chips()

    def on_project_tree_edit_requested(self, event: Any) -> None:
        self.open_in_editor(event.path)

    def open_in_editor(self, path: Path, line: int | None = None) -> None:
        from ai_workbench.tui.editor import editor_command, run_editor

        if self.editor_runner is not None:  # headless tests: record the command instead
            editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
            self.editor_runner(editor_command(editor, path, line))
            return
        run_editor(self, path, line)

    # ------------------------------------------------------------------ project knowledge

    def action_toggle_kb(self) -> None:
        self.kb_on = not self.kb_on
        self._update_chips()
        if self.kb_on:
            self.notify(
                "Project knowledge on: answers are grounded in the project index and cite "
                "path:lines (o on an answer opens one). `aiw index` or the palette builds it.",
                timeout=6,
            )
        else:
            self.notify("Project knowledge off.", timeout=3)

    async def _ground(self, text: str, files: list[Path]) -> list[str] | None:
        """Context sections for a grounded prompt, or None when it must not be sent (then the
        prompt is back in the box and the reason, or the clarifying question, is shown)."""
        from ai_workbench.core.errors import AiwError
        from ai_workbench.tui.knowledge import ground

        self._set_status("[dim]searching the project index…[/dim]")
        try:
            section, question = await ground(self.loaded, self.store, text)
        except AiwError as exc:
            self._restore_prompt(text, files)
            self._set_status("")
            self.notify(
                f"{exc} (or press F7 to ask without project knowledge)",
                title="Not sent",
                severity="error",
                timeout=10,
            )
            return None
        finally:
            self._set_status("")
        if question:
            self._restore_prompt(text, files)
            note = MessageView(
                question, MessageInfo(role="assistant", model="aiw · project knowledge")
            )
            await self.chat_log.add(note)
            self.chat_log.scroll_end(animate=False)
            return None
        return [section] if section else []

    def action_index_project(self) -> None:
        if self.loaded is None:
            self.notify("Still starting up; try again in a moment.", severity="warning")
            return
        self.notify("Indexing the project in the background…", timeout=3)
        self._index_project()

    @work(thread=True, group="index", exclusive=True, exit_on_error=False)
    def _index_project(self) -> None:
        from ai_workbench.tui.knowledge import index_project, report_line

        try:
            report = index_project(self.loaded)
        except Exception as exc:
            self.call_from_thread(
                self.notify, f"indexing failed: {exc}", title="Index", severity="error"
            )
            return
        if report.report_path:
            self._seen_report = Path(report.report_path)  # announced here, not again by the poll
        self.call_from_thread(
            self.notify, f"Index updated: {report_line(report)}", title="Project index", timeout=8
        )

    def _check_index_runs(self) -> None:
        """Announce an index run that finished elsewhere (`aiw index` in another terminal)."""
        import json

        from ai_workbench.knowledge.service import latest_report
        from ai_workbench.tui.knowledge import report_line

        if self.loaded is None:
            return
        latest = latest_report(Path(self.loaded.project_root))
        if self._seen_report is None:  # first look: only runs from now on are news
            self._seen_report = latest or Path()
            return
        if latest is None or latest == self._seen_report:
            return
        self._seen_report = latest
        own = getattr(self.watch_service, "reindexed", 0)
        if own != self._own_reindexes:  # our file watcher's quiet update after saves: no news
            self._own_reindexes = own
            return
        try:
            report = json.loads(latest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        self.notify(f"Index updated: {report_line(report)}", title="Project index", timeout=8)

    def open_citation(self, view: MessageView) -> None:
        from ai_workbench.tui.knowledge import citations
        from ai_workbench.tui.screens.pickers import PickerScreen, PickItem

        root = Path(self.loaded.project_root) if self.loaded is not None else self.cwd
        found = citations(view.text, root)
        if not found:
            self.notify("No cited file location in this message.", severity="warning")
            return
        if len(found) == 1:
            self.open_in_editor(root / found[0].path, found[0].start)
            return
        items = [PickItem(str(i), c.label) for i, c in enumerate(found)]

        def chosen(value: str | None) -> None:
            if value is not None:
                hit = found[int(value)]
                self.open_in_editor(root / hit.path, hit.start)

        self.push_screen(PickerScreen("Open a cited location", items), chosen)

    # ------------------------------------------------------------------ suggestions

    def action_toggle_suggestions(self) -> None:
        panel = self.suggestions_panel()
        if panel is None:
            return
        panel.display = not panel.display
        if panel.display:
            panel.options.focus()
        elif self.focused is not None and panel in self.focused.ancestors:
            self.prompt.focus()

    @on(SuggestionsPanel.Seen)
    def _suggestion_seen(self, event: SuggestionsPanel.Seen) -> None:
        self._set_suggestion_status(event.suggestion, "seen")

    @on(SuggestionsPanel.Dismiss)
    def _suggestion_dismiss(self, event: SuggestionsPanel.Dismiss) -> None:
        self._set_suggestion_status(event.suggestion, "dismissed")

    @work(group="suggestions", exit_on_error=False)
    async def _set_suggestion_status(self, item: Any, status: str) -> None:
        try:
            await self.suggestion_queue.set_status(item.id, status)
        except Exception as exc:
            self.notify(str(exc), severity="error")
            return
        item.status = status
        panel = self.suggestions_panel()
        if panel is None:
            return
        if status in ("dismissed", "applied"):
            panel.remove_item(item.id)
            if status == "dismissed":
                self.notify(f"Dismissed: {_clip(item.title, 50)}", timeout=3)
        else:
            panel.set_items(panel.items)

    @on(SuggestionsPanel.Rate)
    def _suggestion_rate(self, event: SuggestionsPanel.Rate) -> None:
        self._rate_suggestion(event.suggestion, event.rating)

    @work(group="feedback", exit_on_error=False)
    async def _rate_suggestion(self, item: Any, rating: int) -> None:
        """Like/dislike a suggestion with an optional comment (core.suggestion_feedback)."""
        from ai_workbench.review.service import (
            clear_suggestion_rating,
            rate_suggestion,
            suggestion_rating,
        )
        from ai_workbench.tui.screens.feedback import FeedbackScreen

        if self.store is None:
            return
        existing = await suggestion_rating(self.store, item)
        result = await self.push_screen_wait(
            FeedbackScreen(
                rating,
                excerpt=_clip(item.title, 70),
                comment=existing.comment if existing else None,
                existing=existing is not None,
            )
        )
        if result is None:
            return
        panel = self.suggestions_panel()
        try:
            if result.rating is None:
                await clear_suggestion_rating(self.loaded, self.store, item)
            else:
                await rate_suggestion(self.loaded, self.store, item, result.rating, result.comment)
        except Exception as exc:
            self.notify(f"could not save the rating: {exc}", severity="error")
            return
        if panel is not None:
            panel.set_rating(item.id, result.rating)
        verdict = {1: "Liked", -1: "Disliked"}.get(result.rating or 0, "Rating removed")
        self.notify(verdict, timeout=3)

    @on(SuggestionsPanel.RunAction)
    def _suggestion_action(self, event: SuggestionsPanel.RunAction) -> None:
        item, action = event.suggestion, event.action
        payload = item.payload or {}
        if action.id == "dismiss":
            self._set_suggestion_status(item, "dismissed")
            return
        if action.id == "apply" and payload.get("patch"):

            def apply() -> None:  # a thread: git apply --check, then git apply
                from ai_workbench.core.patches import PatchError, apply_patch

                root = Path(str(payload.get("root") or self.cwd))
                try:
                    done = apply_patch(root, str(payload["patch"]), expect=payload.get("expect"))
                except PatchError as exc:
                    self.call_from_thread(
                        self.notify, str(exc), title="Not applied", severity="error", timeout=12
                    )
                    return
                self.call_from_thread(self._set_suggestion_status, item, "applied")
                self.call_from_thread(self.notify, f"Applied to {', '.join(done.paths)}")

            self.run_worker(apply, thread=True, group="suggestion-apply", exit_on_error=False)
            return
        if action.id == "run":
            self._run_fix(item)
            return
        if action.id == "view":
            from ai_workbench.tui.screens.confirm import MessageScreen

            text = item.body or str(payload.get("patch") or payload.get("text") or item.title)
            self.push_screen(MessageScreen(item.title, text, severity="info"))
            return
        if action.id == "copy" or (action.id not in ("ask", "open") and "command" in payload):
            text = str(payload.get("command") or payload.get("text") or item.body or item.title)
            self.copy_to_clipboard(text)
            self.notify(f"Copied: {_clip(text, 60)}")
        elif action.id == "open" and payload.get("path"):
            line = payload.get("line")
            self.open_in_editor(Path(str(payload["path"])), line if isinstance(line, int) else None)
            return  # looking at it is not acting on it: the item stays open
        elif action.id == "ask" or "prompt" in payload:
            self.prompt.set_text(str(payload.get("prompt") or f"{item.title}\n\n{item.body}"))
            self.prompt.focus()
        else:
            self.notify(
                f"The workbench cannot run “{action.label}” for {item.kind} suggestions yet.",
                severity="warning",
            )
            return
        self._set_suggestion_status(item, "applied")

    @work(group="run-fix", exclusive=True, exit_on_error=False)
    async def _run_fix(self, item: Any) -> None:
        """Pick, confirm (``yes`` typed for a dangerous one) and run a shell fix; see run_fix."""
        from ai_workbench.tui.run_fix import run_fix_flow

        if await run_fix_flow(self, item):
            self._set_suggestion_status(item, "applied")

    # ------------------------------------------------------------------ file watch

    @work(group="watch", exit_on_error=False)
    async def _start_watch(self) -> None:
        """Start the file watcher (watch.enabled) once settings and the store are ready."""
        assert self._config_ready is not None and self._store_ready is not None
        await self._config_ready.wait()
        await self._store_ready.wait()
        if self.loaded is None or self.suggestion_queue is None:
            return
        root = Path(self.loaded.project_root)
        if not self.loaded.settings.watch.enabled:
            return
        if not (root / ".git").exists() and not (root / ".aiw.toml").exists():
            return  # not a project (say, the home dir): watching all of it would be costly
        import importlib

        from ai_workbench.watch import WatchService

        service = WatchService(
            root,
            self.loaded.settings,
            self.suggestion_queue,
            on_event=self._watch_event,
            choose_model=self._cli_model_args,
            loaded=self.loaded,
        )
        await asyncio.to_thread(importlib.import_module, "watchfiles")  # off the event loop
        try:
            await service.start()
        except Exception as exc:
            self.notify(f"file watch is off: {exc}", severity="warning", timeout=8)
            return
        self.watch_service = service

    def _watch_event(self, event: Any) -> None:
        if event.kind == "waiting":
            self.notify(event.message, title="AI comments waiting", timeout=6)
        elif event.kind == "error":
            self.notify(event.message, title="File watch", severity="error", timeout=10)
        elif event.kind == "suggested" and event.suggestion is not None:
            self._suggestion_arrived(event.suggestion)  # review findings (deduped by id)

    def action_process_ai_comments(self) -> None:
        if self.watch_service is None:
            self.notify(
                "The file watcher is not running (watch.enabled = false?)", severity="warning"
            )
            return
        self.notify("Looking for AI! and AI? comments…", timeout=3)
        self.run_worker(self._process_ai_comments(), group="watch-now", exit_on_error=False)

    async def _process_ai_comments(self) -> None:
        count = await self.watch_service.process_pending_now(wait=False)
        if not count:
            self.notify("No new AI comments in the project.", timeout=4)

    # ------------------------------------------------------------------ shell failures

    def _check_shell_spool(self) -> None:
        """Notify at once when the shell hook records a failure; its analysis follows later."""
        from ai_workbench.shell.spool import spool_file

        try:
            size = spool_file().stat().st_size
        except OSError:
            size = 0
        if self._spool_offset is None:  # first look: only what happens from now on counts
            self._spool_offset = size
            return
        if size != self._spool_offset:
            self._read_shell_spool()

    @work(thread=True, group="shell-spool", exclusive=True, exit_on_error=False)
    def _read_shell_spool(self) -> None:
        from ai_workbench.core.redact import redact_text
        from ai_workbench.shell.spool import read_events

        events, offset = read_events(self._spool_offset or 0)
        self._spool_offset = offset
        analyse = self.loaded is None or self.loaded.settings.shell.auto_analyse
        follow = (
            "analysing… the fix will appear under Suggestions"
            if analyse
            else "`aiw explain` analyses it (automatic analysis is off)"
        )
        for event in events[-3:]:
            command = redact_text(event.cmd)  # the spool holds the command line as typed
            self.call_from_thread(
                self.notify,
                f"`{_clip(command, 60)}` failed (exit {event.status}) in {event.cwd}; {follow}",
                title="Shell",
                severity="warning",
                timeout=6,
            )

    def _on_new_suggestion(self, item: Any) -> None:
        """SuggestionQueue subscriber: runs in the adding task, maybe another thread."""
        if threading.get_ident() == self._thread_id:
            self._suggestion_arrived(item)
        else:
            self.call_from_thread(self._suggestion_arrived, item)

    def _suggestion_arrived(self, item: Any) -> None:
        if item.id in self._known_suggestions:
            return
        self._known_suggestions.add(item.id)
        panel = self.suggestions_panel()
        if panel is not None:
            panel.add_item(item)
        self.notify(f"{item.title}", title=f"Suggestion · {item.kind}", timeout=6)

    async def _fill_suggestions(self) -> None:
        if self.suggestion_queue is None:
            return
        try:
            items = await self.suggestion_queue.list()
        except Exception as exc:
            self.log.warning(f"suggestions: {exc}")
            return
        self._known_suggestions.update(item.id for item in items)
        panel = self.suggestions_panel()
        if panel is not None:
            panel.set_items(items)

    @on(SuggestionsPanel.Ready)
    def _suggestions_mounted(self) -> None:
        if self.suggestion_queue is not None:
            self.run_worker(self._fill_suggestions(), group="suggestions")

    @work(group="suggestions-poll", exclusive=True, exit_on_error=False)
    async def _poll_suggestions(self) -> None:
        """Pick up what other aiw processes did: queued suggestions, new sessions."""
        if self.suggestion_queue is None:
            return
        try:
            items = await self.suggestion_queue.list()
        except Exception:
            return
        fresh = [item for item in items if item.id not in self._known_suggestions]
        for item in reversed(fresh):
            self._suggestion_arrived(item)
        self._check_index_runs()
        if self.session_list.mode == "titles":
            await self._reload_titles()  # sessions made by `aiw ask` meanwhile

    # ------------------------------------------------------------------ themes

    def _on_theme_changed(self, theme: Any) -> None:
        if not self._theme_ready or self.loaded is None:
            return
        if theme.name == self.loaded.settings.theme:
            return
        self._save_theme(theme.name)

    @work(thread=True, group="theme", exclusive=True, exit_on_error=False)
    def _save_theme(self, name: str) -> None:
        from ai_workbench.core.settings import ConfigError, set_user_value

        try:
            path, _ = set_user_value("theme", name, cwd=self.cwd)
        except (ConfigError, OSError) as exc:
            self.call_from_thread(self.notify, f"could not save the theme: {exc}", severity="error")
            return
        self.loaded.settings.theme = name
        self.call_from_thread(self.notify, f"Theme {name} saved to {path}", timeout=4)

    # ------------------------------------------------------------------ focus, help, palette

    def action_focus_prompt(self) -> None:
        self.prompt.focus()

    def action_review(self) -> None:
        from ai_workbench.tui.screens.review import open_review

        open_review(self)

    def action_focus_chat(self) -> None:
        self.chat_log.focus()

    def action_help(self) -> None:
        from ai_workbench.tui.screens.help import HelpScreen

        text, keys = self.help_for_focus()
        self.push_screen(HelpScreen(text, keys))

    def help_for_focus(self) -> tuple[str, list[tuple[str, list[tuple[str, str]]]]]:
        """The focused pane's HELP text and the keys active now (pane first, then global)."""
        text = None
        node: Any = self.focused
        while node is not None and node is not self:
            text = getattr(type(node), "HELP", None)
            if text:
                break
            node = node.parent
        groups: dict[bool, dict[str, list[str]]] = {True: {}, False: {}}  # global? → what → keys
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.system or not (binding.id or binding.show):
                continue  # Textual's own scrolling / editing keys: documented upstream
            what = binding.tooltip or binding.description
            shown = self.get_key_display(replace(binding, key=key))
            keys = groups[isinstance(active.node, App)].setdefault(what, [])
            if shown not in keys:
                keys.append(shown)
        here = [(" ".join(keys), what) for what, keys in groups[False].items()]
        everywhere = [(" ".join(keys), what) for what, keys in groups[True].items()]
        everywhere.append((self.get_key_display(Binding("ctrl+p", "")), "Command palette"))
        everywhere.append((self.get_key_display(Binding("ctrl+q", "")), "Quit"))
        return text or APP_HELP, [("Keys here", here), ("Everywhere", everywhere)]

    def _all_bindings(self) -> Iterable[Binding]:
        from ai_workbench.tui.widgets.file_tree import ProjectTree

        for cls in (
            AiwApp,
            PromptInput,
            ChatLog,
            SessionOptions,
            ProjectTree,
            SuggestionOptions,
            Chip,
        ):
            for binding in cls.BINDINGS:
                if isinstance(binding, Binding):
                    yield binding

    def key_for(self, binding_id: str | None) -> str:
        """How the key bound to ``binding_id`` is shown (after the user's key map)."""
        if not binding_id:
            return ""
        for binding in self._all_bindings():
            if binding.id == binding_id:
                keys = self.keymap.get(binding_id, binding.key)
                first = keys.split(",")[0].strip()
                return self.get_key_display(Binding(first, ""))
        return ""

    def palette_commands(self) -> list[PaletteCommand]:
        from ai_workbench.tui.commands import PaletteCommand

        C = PaletteCommand
        conversation = "the conversation"
        sessions = "the session list"
        return [
            C("Send prompt", "Send what is in the prompt box", "send_prompt", "prompt.send"),
            C("New session", "Start an empty session", "new_session", "app.new_session"),
            C(
                "Search sessions",
                "Full-text search over every message of every session",
                "search_sessions",
                "app.search",
            ),
            C(
                "Rename session",
                "Give the session a new title",
                "rename_session",
                "sessions.rename",
                sessions,
            ),
            C(
                "Delete session",
                "Delete the session and its messages (asks first)",
                "delete_session",
                "sessions.delete",
                sessions,
            ),
            C(
                "Export session as Markdown",
                "Write the session to a .md file in the project",
                "export('md')",
                "sessions.export_md",
                sessions,
            ),
            C(
                "Export session as JSON",
                "Write the session to a .json file in the project",
                "export('json')",
                "sessions.export_json",
                sessions,
            ),
            C("Choose model", "Pick a provider profile or type a model", "pick_model", "app.model"),
            C(
                "Choose persona",
                "Pick the expert persona for this session",
                "pick_persona",
                "app.persona",
            ),
            C("Toggle file tree", "Show or hide the project's files", "toggle_files", "app.files"),
            C(
                "Toggle suggestions",
                "Show or hide the suggestions panel",
                "toggle_suggestions",
                "app.suggestions",
            ),
            C(
                "Toggle project knowledge",
                "Ground answers in the project index, with path:lines citations",
                "toggle_kb",
                "app.kb",
            ),
            C(
                "Index the project",
                "Build or update the project index (as `aiw index`) in the background",
                "index_project",
                None,
            ),
            C(
                "Open a cited location",
                "Open a path:lines cited by the selected (or last) answer in $EDITOR",
                "message('open_citation')",
                "chat.open_citation",
                conversation,
            ),
            C(
                "Process AI comments now",
                "Turn pending AI! / AI? comments in the project into suggestions",
                "process_ai_comments",
                "app.watch_now",
            ),
            C(
                "Cancel answer",
                "Stop the streaming answer (the partial text is kept)",
                "cancel_answer",
                "app.cancel",
            ),
            C(
                "Like answer",
                "Rate the selected (or last) answer +1",
                "message('like')",
                "chat.like",
                conversation,
            ),
            C(
                "Dislike answer",
                "Rate the selected (or last) answer -1",
                "message('dislike')",
                "chat.dislike",
                conversation,
            ),
            C(
                "Copy answer",
                "Copy the selected (or last) message",
                "message('copy')",
                "chat.copy",
                conversation,
            ),
            C(
                "Copy code block",
                "Copy a code block of the selected (or last) answer",
                "message('copy_code')",
                "chat.copy_code",
                conversation,
            ),
            C(
                "Edit and resend prompt",
                "Put the selected (or last) prompt back in the prompt box",
                "message('edit')",
                "chat.edit",
                conversation,
            ),
            C(
                "Regenerate answer",
                "Answer the selected (or last) prompt again; retries a failed turn",
                "message('regenerate')",
                "chat.regenerate",
                conversation,
            ),
            C("Focus conversation", "Move to the messages", "focus_chat", "app.focus_chat"),
            C("Focus prompt", "Move to the prompt box", "focus_prompt", "app.focus_prompt"),
            C("Help", "Help for the focused pane, with its keys", "help", "app.help"),
        ]

    def action_rename_session(self) -> None:
        session_id = self._target_session_id()
        if session_id is None:
            self.notify("No session to rename yet.", severity="warning")
            return
        self.rename_session(session_id)

    def action_delete_session(self) -> None:
        session_id = self._target_session_id()
        if session_id is None:
            self.notify("No session to delete.", severity="warning")
            return
        self.delete_session(session_id)

    def action_export(self, fmt: str) -> None:
        session_id = self._target_session_id()
        if session_id is None:
            self.notify("No session to export yet.", severity="warning")
            return
        self.export_session(session_id, fmt)


def _escape(text: str) -> str:
    from textual.markup import escape

    return escape(text)


def _write_export(folder: Path, session_id: str, title: str, fmt: str, text: str) -> Path:
    import re

    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "session"
    path = folder / f"aiw-{slug}-{session_id[:8]}.{fmt}"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _import_store_modules() -> None:
    import ai_workbench.chat.sessions
    import ai_workbench.core.feedback
    import ai_workbench.store
    import ai_workbench.suggestions.service  # noqa: F401


def run_app(**options: Any) -> None:
    """Entry point for `aiw` with no subcommand."""
    AiwApp(**options).run()
