"""The workbench's start-up, after the first frame: settings, themes and the key map in a
thread; the session database in an async worker (its modules imported in a thread); litellm in
a thread when a provider in use needs it; the feeds once the store is open.

Nothing here runs before the first frame except :func:`early_theme` (a tomllib peek, no
pydantic), so the first paint is already in the user's theme, and :func:`first_screen`
(docs/workbench.md, "Speed").
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from ai_workbench.tui import STARTED_AT
from ai_workbench.tui.context import Workbench, escape

BOOT_DELAY = 0.04  # seconds after the first frame before settings and the store load


def early_theme(app: Any, ctx: Workbench) -> None:
    try:
        from ai_workbench.tui.themes import find_theme_file, peek_theme_name, theme_from_file

        name = peek_theme_name(ctx.cwd)
        if not name:
            return
        if name not in app.available_themes:
            path = find_theme_file(name)
            if path is None:
                return
            app.register_theme(theme_from_file(path))
        app.theme = name
    except Exception:
        return  # the full load reports problems


def first_screen(app: Any) -> Any:
    """The app's first screen, made so that nothing is done twice before the first frame.

    It has the breakpoint class (``-wide``/``-narrow``) its first resize would add: added then,
    after the panes are mounted, it restyles every widget. And it gives the prompt the focus
    itself: focusing the first focusable widget and then the prompt changed the footer's keys
    twice (each change recomposes the footer, see widgets/footer.py).
    """
    from textual.screen import Screen

    width = app.size.width
    names = [name for edge, name in sorted(app.HORIZONTAL_BREAKPOINTS) if width >= edge]
    screen = Screen(id="_default", classes=names[-1] if names else "")
    screen.AUTO_FOCUS = "#prompt"
    return screen


class Boot:
    """Loads what the first frame did not need, and reports what went wrong on screen."""

    def __init__(self, app: Any, ctx: Workbench) -> None:
        self.app = app
        self.ctx = ctx
        self.ready_seen = False  # the first frame is out
        self.theme_ready = False  # the configured theme is applied (later changes are saved)
        self._needs_litellm = False

    def start(self) -> None:
        _settle_collector()
        self.app.run_worker(self._load_config, thread=True, group="boot", exit_on_error=False)
        self.app.run_worker(self._open_store(), group="boot", exit_on_error=False)

    def first_frame(self) -> None:
        """The first frame is painted: start everything else. (Not earlier: the import-heavy
        config thread would hold the GIL while Textual's writer thread flushes the frame, and
        work on the UI loop delays the paint.)"""
        app = self.app
        app.first_frame_ms = (time.perf_counter() - STARTED_AT) * 1000
        app.log.info(f"aiw workbench: first frame {app.first_frame_ms:.0f} ms after import")
        self.ready_seen = True
        app.set_timer(BOOT_DELAY, self.start)
        app.call_later(self._mount_suggestions)
        if self._needs_litellm:
            self._start_warm_up()
        app.background.start_early()
        app.run_worker(app.background.start_watch(), group="watch", exit_on_error=False)
        app.run_worker(app.background.start_mcp(), group="mcp", exit_on_error=False)

    async def _mount_suggestions(self) -> None:
        """The suggestions pane, in the place kept for it (also where that is hidden, below
        100 columns: the pane announces new suggestions)."""
        from ai_workbench.tui.panes.suggestions import SuggestionsPane

        main = self.app.query_one("#main")
        slot = main.query_one("#suggestions-slot")
        async with main.batch():  # one repaint: the pane in, its placeholder out
            await main.mount(SuggestionsPane(self.ctx, id="suggestions"), after=slot)
            await slot.remove()

    # ---- settings, themes, keys

    def _load_config(self) -> None:  # a thread
        from ai_workbench.core.settings import ConfigError, load_config
        from ai_workbench.tui.keys import load_keymap
        from ai_workbench.tui.themes import load_themes

        app = self.app
        try:
            loaded = load_config(self.ctx.cli_overrides, cwd=self.ctx.cwd)
        except ConfigError as exc:
            app.call_from_thread(self.failed, "config", str(exc))
            return
        except Exception as exc:  # a bug: say so, never a traceback
            app.call_from_thread(self.failed, "config", f"internal error: {exc!r}")
            return
        problems: list[str] = []
        themes, theme_errors = load_themes()
        problems.extend(theme_errors)
        keymap, key_errors = load_keymap(loaded.settings)
        problems.extend(key_errors)
        needs, chain_error = self.chain_needs_litellm(loaded.settings)
        app.call_from_thread(
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

    def _config_loaded(
        self,
        loaded: Any,
        themes: list[Any],
        keymap: dict[str, str],
        problems: list[str],
        needs_litellm: bool,
        chain_error: str | None,
    ) -> None:
        app = self.app
        self.ctx.loaded = loaded
        for theme in themes:
            app.register_theme(theme)
        wanted = loaded.settings.theme
        if wanted and wanted != app.theme:
            if wanted in app.available_themes:
                app.theme = wanted
            else:
                problems.append(
                    f"theme '{wanted}' is not installed; choose one with Ctrl+P → Theme"
                )
        self.theme_ready = True
        if keymap:
            app.keymap = keymap
            app.set_keymap(keymap)
        for problem in problems:
            app.notify(problem, severity="warning", timeout=8)
        if chain_error:
            app.set_status(f"[$error]{chain_error}[/]")
            app.notify(chain_error, title="Provider", severity="error", timeout=12)
        app.config_applied()
        self.ctx.config_ready.set()
        self.set_warmup(needs_litellm)

    def chain_needs_litellm(self, settings: Any) -> tuple[bool, str | None]:
        """Whether the providers in use need litellm (the direct engine needs no warm-up)."""
        from ai_workbench.core.errors import ProviderError
        from ai_workbench.core.llm.engines import choose_engine
        from ai_workbench.core.llm.profiles import resolve_chain

        try:
            chain = resolve_chain(settings, **self.app.model_args())
        except ProviderError as exc:
            return False, str(exc)
        needs = False
        for provider in chain:
            try:
                needs = needs or choose_engine(provider, settings.engine) == "litellm"
            except ProviderError as exc:
                return False, str(exc)
        return needs, None

    # ---- the model client (litellm), when a provider needs it

    def set_warmup(self, needs: bool) -> None:
        if needs and self.ctx.warm is None:
            self._needs_litellm = True
            self.ctx.warm = asyncio.Event()
            if self.ready_seen:
                self._start_warm_up()

    def recheck_warmup(self) -> None:
        if self.ctx.loaded is None:
            return
        needs, problem = self.chain_needs_litellm(self.ctx.loaded.settings)
        if problem:
            self.app.notify(problem, severity="error", timeout=10)
        self.set_warmup(needs)

    def _start_warm_up(self) -> None:
        self.app.run_worker(self._warm_up, thread=True, group="warmup", exit_on_error=False)

    def _warm_up(self) -> None:  # a thread
        from ai_workbench.core.llm.engines import import_litellm

        started = time.perf_counter()
        try:
            import_litellm()
        except Exception as exc:
            self.app.call_from_thread(
                self.app.notify, f"cannot load litellm: {exc}", severity="error", timeout=10
            )
        finally:
            took = (time.perf_counter() - started) * 1000
            self.app.call_from_thread(self._warm_done, took)

    def _warm_done(self, took_ms: float) -> None:
        self.app.log.info(f"aiw: model client ready in {took_ms:.0f} ms")
        if self.ctx.warm is not None:
            self.ctx.warm.set()

    # ---- the session database

    async def _open_store(self) -> None:
        # Import the store stack (aiosqlite, services) in a thread, not on the event loop.
        await asyncio.to_thread(_import_store_modules)
        from ai_workbench.chat.sessions import SessionService
        from ai_workbench.core.errors import AiwError
        from ai_workbench.core.feedback import FeedbackService
        from ai_workbench.store import Store
        from ai_workbench.suggestions.service import SuggestionQueue

        ctx = self.ctx
        try:
            store = await Store.open(ctx.store_path)
        except AiwError as exc:
            self.failed("store", str(exc))
            return
        except Exception as exc:
            self.failed("store", f"cannot open the session database: {exc!r}")
            return
        ctx.store = store
        ctx.sessions = SessionService(store)
        ctx.feedback = FeedbackService(store)
        ctx.suggestion_queue = SuggestionQueue(store)
        ctx.store_ready.set()
        await self.app.store_opened()

    def failed(self, what: str, message: str) -> None:
        from ai_workbench.tui.screens.confirm import MessageScreen

        ctx = self.ctx
        ctx.boot_errors[what] = message
        title = "Configuration problem" if what == "config" else "Session database unavailable"
        if what == "store":
            self.app.session_list.set_status(f"[$error]{escape(message)}[/]")
            ctx.store_ready.set()
        else:
            ctx.config_ready.set()
        self.app.set_status(f"[$error]{escape(message)}[/]")
        self.app.push_screen(MessageScreen(title, message))

    # ---- themes chosen in the palette are remembered

    def theme_changed(self, theme: Any) -> None:
        loaded = self.ctx.loaded
        if not self.theme_ready or loaded is None or theme.name == loaded.settings.theme:
            return
        self.app.run_worker(
            lambda: self._save_theme(theme.name),
            thread=True,
            group="theme",
            exclusive=True,
            exit_on_error=False,
        )

    def _save_theme(self, name: str) -> None:  # a thread
        from ai_workbench.core.settings import ConfigError, set_user_value

        notify = self.app.notify
        try:
            path, _ = set_user_value("theme", name, cwd=self.ctx.cwd)
        except (ConfigError, OSError) as exc:
            self.app.call_from_thread(notify, f"could not save the theme: {exc}", severity="error")
            return
        self.ctx.loaded.settings.theme = name
        self.app.call_from_thread(notify, f"Theme {name} saved to {path}", timeout=4)


def _settle_collector() -> None:
    """`aiw` starts with the garbage collector off (cli/main.py): until the first frame nearly
    every object made stays alive, so collecting would only cost time (20-30 ms of CPU). Here,
    once the frame is out, one collection frees the few thousand objects that did die (~0.5 MB,
    10-20 ms), and everything alive now (modules, classes, the first screen) is kept out of
    later full passes, which then come less often. Measured with bench/stream_render.py:
    without the freeze, full collections of the widget tree paused the UI for 85-240 ms."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    gc.enable()


def _import_store_modules() -> None:
    import ai_workbench.chat.sessions
    import ai_workbench.core.feedback
    import ai_workbench.store
    import ai_workbench.suggestions.service  # noqa: F401
