"""The conversation pane's model set-up: which model answers (probed after the first frame,
in a worker), the model chip's honesty, and the welcome view (panes/welcome.py) shown in place
of an empty conversation when nothing answers, or on request. A mixin of the chat pane, kept
apart so the chat turn stays readable; the welcome's widgets are imported when first shown.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual.worker import Worker

from ai_workbench.tui.context import escape
from ai_workbench.tui.messages import SetupRequested


class ModelSetup:
    """Mixed into ChatPane (which provides ctx, bar, log_view, prompt, session, streaming)."""

    ctx: Any
    bar: Any
    log_view: Any
    prompt: Any
    session: Any
    streaming: bool
    app: Any
    run_worker: Any
    mount: Any
    notify: Any
    set_status: Any
    refresh_chips: Any

    def init_setup(self) -> None:
        self.welcome: Any = None  # panes/welcome.py's WelcomePane, mounted when first needed
        self._welcome_pinned = False  # opened on purpose (palette, chip): stays until Esc
        self._welcome_dismissed = False  # closed with Esc: not shown again on its own
        self._settled = asyncio.Event()  # the session to start with is open (or there is none)

    def start_probe(self) -> None:
        """Ask which model answers once the config is in (after the first frame), in a
        worker: the model chip and the welcome view follow what it finds."""
        self.run_worker(self._first_probe(), group="probe-first", exit_on_error=False)

    async def _first_probe(self) -> None:
        from ai_workbench.tui.panes.welcome import run_probe

        await self.ctx.config_ready.wait()
        if self.ctx.loaded is None:
            return
        report = await run_probe(self.ctx)
        if await self.ctx.wait_store():
            await self._settled.wait()  # decide on the conversation the user will see
        self.apply_report(report, announce=True)

    def recheck(self) -> Worker[None]:
        """Probe again (a provider failed, the user started a server or saved a model)."""
        return self.run_worker(self._recheck(), group="probe", exclusive=True, exit_on_error=False)

    async def _recheck(self) -> None:
        from ai_workbench.tui.panes.welcome import run_probe

        if self.ctx.loaded is None:
            return
        self.apply_report(await run_probe(self.ctx))

    def apply_report(self, report: Any, *, announce: bool = False) -> None:
        from ai_workbench.tui.panes.welcome import model_state

        if report is None:
            return
        self.bar.report = report
        self.refresh_chips()
        if self.welcome is not None:
            self.welcome.show_report(report)
        answers, reason = model_state(report, self.ctx, self.bar.effective_choice())
        self._sync_welcome()
        if answers is False and announce and not self._welcome_shown():
            self.set_status(
                f"[$error]The model does not answer[/] ({escape(reason)}) · "
                "[b]Ctrl+P[/b] → Set up a model"
            )

    def _welcome_shown(self) -> bool:
        return self.welcome is not None and self.welcome.display

    def _sync_welcome(self) -> None:
        """Show the welcome view in an empty conversation when the model does not answer."""
        from ai_workbench.tui.panes.welcome import model_state

        report = self.bar.report
        if report is None:
            return
        answers, _ = model_state(report, self.ctx, self.bar.effective_choice())
        empty = self.session is None and not self.streaming and not self.log_view.views
        automatic = answers is False and empty and not self._welcome_dismissed
        if self._welcome_pinned or automatic:
            self.show_welcome(focus=False)
        else:
            self.hide_welcome()

    def show_welcome(self, *, focus: bool = True, pin: bool = False) -> None:
        from ai_workbench.tui.panes.welcome import WelcomePane

        self._welcome_pinned = self._welcome_pinned or pin
        if self.welcome is None:
            self.welcome = WelcomePane(self.ctx, id="welcome")
            self.mount(self.welcome, before=self.log_view)
            if self.bar.report is not None:
                self.welcome.call_after_refresh(self.welcome.show_report, self.bar.report)
        self.welcome.display = True
        self.log_view.display = False
        if self._welcome_pinned:
            self.set_status("")
        if focus:
            self.welcome.call_after_refresh(self._focus_welcome)

    def _focus_welcome(self) -> None:
        if self.welcome is not None:
            self.welcome.query_one("#welcome-ways").focus()

    def hide_welcome(self) -> None:
        if not self._welcome_shown():
            return
        had_focus = self.app.focused is not None and self.welcome in self.app.focused.ancestors
        self.welcome.display = False
        self.log_view.display = True
        if had_focus:
            self.prompt.focus()

    def on_setup_requested(self, event: SetupRequested) -> None:
        event.stop()
        self.setup_requested()

    def setup_requested(self) -> None:
        """The palette's "Set up a model" (and Enter on a model chip that does not answer)."""
        if self.ctx.loaded is None:
            self.notify("Still loading the configuration…", severity="warning")
            return
        self.show_welcome(focus=True, pin=True)
        self.recheck()

    def on_welcome_pane_closed(self, event: Any) -> None:
        event.stop()
        self._welcome_pinned = False
        self._welcome_dismissed = True
        self.hide_welcome()
        self.prompt.focus()

    def on_welcome_pane_recheck_requested(self, event: Any) -> None:
        event.stop()
        self.recheck()

    def on_welcome_pane_saved(self, event: Any) -> None:
        """A tested model was saved as the default: use it now, here and for new sessions."""
        event.stop()
        self.ctx.cli_choice = None
        self.bar.use_model(event.choice)
        self._welcome_pinned = False
        self.notify(f"Saved to {event.path}; the conversation now uses {event.choice.label}.")
        self.recheck()
        self.prompt.focus()
