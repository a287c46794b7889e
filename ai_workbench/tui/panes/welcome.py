"""The welcome view: shown in place of the conversation when no model answers.

It says what was tried (the local servers aiw knows, the configured endpoints, which keys are
set) and why each failed, and offers the ways forward: the exact command that starts a local
server, a model a running server already serves, a cloud provider (the variable to export), or
any OpenAI-compatible URL and model typed in. **Test connection** sends one tiny real request;
**Save to user config** (enabled once the test passed) writes the profile and makes it the
default, and the conversation uses it at once. The work is ``core.llm.probe``'s; this module only
shows it. Reached from the palette too ("Set up a model").
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from ai_workbench.tui.context import ModelChoice, Workbench, escape

CUSTOM_PROFILE = "custom"


async def run_probe(ctx: Workbench) -> Any:
    """What answers now, for the chain the workbench uses (the ``--model`` / ``--provider``
    given on the command line, else the configured default chain); None if it cannot tell."""
    # httpx is imported off the event loop: the probe runs after the first frame, never in it.
    await asyncio.to_thread(importlib.import_module, "httpx")
    from ai_workbench.core.llm.probe import probe, with_choice

    settings = ctx.loaded.settings
    cli = ctx.cli_choice
    try:
        if cli is not None:
            if cli.provider and cli.provider not in settings.providers:
                return None  # an unknown provider: the start-up already says so
            settings = with_choice(
                settings, model=cli.model, api_base=cli.api_base, provider=cli.provider
            )
        return await probe(settings)
    except Exception:  # never a traceback over a check that could not run
        return None


def model_state(report: Any, ctx: Workbench, choice: ModelChoice | None) -> tuple[bool | None, str]:
    """Whether ``choice`` (None: the chain the probe judged) answers, per ``report``, and why
    not; None when the report cannot tell (a cloud model with its key set is not contacted)."""
    if choice is None or choice == ctx.cli_choice:
        chain = [p for p in report.profiles if p.role]
        if report.chain_usable:
            return True, ""
        return False, chain[0].reason if chain else "no provider configured"
    by_name = {p.name: p for p in report.profiles}
    if choice.provider and choice.provider in by_name:
        status = by_name[choice.provider]
        return status.usable, status.reason
    model = choice.model or ""
    if choice.api_base:
        base = choice.api_base.rstrip("/")
        for server in report.servers:
            if server.api_base.rstrip("/") in (base, f"{base}/v1"):
                if not server.reachable:
                    return False, f"{server.name}: {server.reason}"
                return True, ""
        return None, ""
    for server in report.servers:
        if server.reachable and model in server.models:
            return True, ""
    for status in report.profiles:
        if status.model == model and status.kind in ("auth", "connection", "offline"):
            return False, status.reason
    route = model.split("/", 1)[0] if "/" in model else ""
    for key in report.keys:
        if key.model.split("/", 1)[0] == route and route:
            return (None, "") if key.present else (False, f"${key.env} is not set")
    return None, ""


@dataclass(frozen=True)
class Candidate:
    """What a successful test makes saveable."""

    name: str
    model: str
    api_base: str | None
    api_key_env: str | None = None


class WelcomePane(VerticalScroll):
    """No model answers: what was tried, the ways forward, test and save."""

    HELP = """\
## Set up a model

Shown when no model answers (and from the palette: *Set up a model*). What was tried and why
each failed is listed first, then the ways forward.

- **Enter** on a way: a model a running server serves fills in the URL and model and is
  tested; a cloud provider whose key is set is tested; a command is copied
- Type any OpenAI-compatible **URL** (ending in /v1) and **model** name, then
  **Ctrl+T** (or Enter in the field) tests the connection with one tiny request
- **Ctrl+S** saves a tested choice to your user config as the default provider; the
  conversation uses it at once
- **Esc** goes back to the conversation
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+t", "test", "Test connection", id="welcome.test"),
        Binding("ctrl+s", "save", "Save", id="welcome.save"),
        Binding("escape", "close", "Back", id="welcome.close"),
    ]

    class Saved(Message):
        """A tested choice was written to the user config and the settings reloaded."""

        def __init__(self, choice: ModelChoice, path: str) -> None:
            super().__init__()
            self.choice = choice
            self.path = path

    class Closed(Message):
        """The user left the welcome view (Esc)."""

    class RecheckRequested(Message):
        """Probe again (the user started a server)."""

    def __init__(self, ctx: Workbench, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx
        self.report: Any = None
        self.tested: Candidate | None = None  # the last choice that passed the test
        self._actions: list[tuple[str, Any]] = []  # per option: (what, data)

    def compose(self) -> Any:
        yield Static("", id="welcome-title", markup=True)
        yield Static("", id="welcome-tried", markup=True)
        yield Static("[b]Ways forward[/b] [dim](Enter on one)[/dim]", classes="welcome-heading")
        yield OptionList(id="welcome-ways")
        yield Static(
            "[b]Any OpenAI-compatible server[/b] [dim]URL and the model it serves[/dim]",
            classes="welcome-heading",
        )
        with Horizontal(id="welcome-entry"):
            yield Input(placeholder="http://127.0.0.1:8080/v1", id="welcome-url")
            yield Input(placeholder="model name", id="welcome-model")
        with Horizontal(id="welcome-buttons"):
            yield Button("Test connection ^t", id="welcome-test", variant="primary")
            yield Button("Save to user config ^s", id="welcome-save", disabled=True)
            yield Button("Check again", id="welcome-recheck")
        yield Static("", id="welcome-result", markup=True)

    # ---- showing a report

    def show_report(self, report: Any) -> None:
        self.report = report
        answers, reason = model_state(report, self.ctx, None)
        if answers:
            title = "[b]Set up a model[/b] [dim]· the current one answers[/dim]"
        else:
            title = (
                "[b $error]No model answers yet.[/] "
                f"[dim]{escape(self._chain_label(report))}: {escape(reason)}[/dim]"
            )
        self.query_one("#welcome-title", Static).update(title)
        self.query_one("#welcome-tried", Static).update(self._tried_markup(report))
        self._fill_ways(report)

    def _chain_label(self, report: Any) -> str:
        chain = [p for p in report.profiles if p.role]
        if not chain:
            return "no provider"
        return f"{chain[0].model} ({chain[0].name})"

    def _tried_markup(self, report: Any) -> str:
        lines = [f"[b]Tried[/b] [dim](in {report.seconds:.1f}s)[/dim]"]
        for server in report.servers:
            mark = "[$success]✓[/]" if server.reachable else "[$error]✗[/]"
            where = server.api_base.removeprefix("http://").removesuffix("/v1")
            lines.append(
                f" {mark} [b]{escape(server.name)}[/b] [dim]{escape(where)}[/dim] "
                f"{escape(server.reason)}"
            )
        for status in report.profiles:
            if status.role and not status.local:
                mark = "[$success]✓[/]" if status.usable else "[$error]✗[/]"
                what = f"{status.name} ({status.role}): {status.reason}"
                lines.append(f" {mark} {escape(what)}")
        if report.keys:
            keys = " · ".join(
                f"${k.env} {'[$success]set[/]' if k.present else '[dim]not set[/dim]'}"
                for k in report.keys
            )
            lines.append(f" Keys: {keys}")
        return "\n".join(lines)

    def _fill_ways(self, report: Any) -> None:
        from ai_workbench.core.llm.probe import profile_name_for

        settings = self.ctx.loaded.settings
        options: list[Option] = []
        self._actions = []
        for server in report.servers:
            if not server.reachable:
                continue
            name = profile_name_for(settings, server)
            for model in server.models[:8]:
                text = Content.from_markup(
                    f"[b]Use {escape(model)}[/b] [dim]served now by {escape(server.name)} at "
                    f"{escape(server.api_base)}[/dim]"
                )
                options.append(Option(text))
                self._actions.append(("use", Candidate(name, model, server.api_base)))
        for way in report.ways:
            if way.kind != "local":
                continue  # served models are listed one by one, cloud ones below, URL has fields
            lines = [f"[b]{escape(way.title)}[/b]", f"[dim]{escape(way.detail)}:[/dim]"]
            lines += [f"  [$accent]$ {escape(c)}[/]" for c in way.commands]
            options.append(Option(Content.from_markup("\n".join(lines))))
            self._actions.append(("copy", way.commands[0] if way.commands else ""))
        for key in report.keys:  # cloud providers: one line each
            profile = settings.providers[key.provider]
            head = f"[b]{escape(key.provider)}[/b] [dim]{escape(profile.model)} · cloud[/dim]"
            if key.present:
                text = f"{head} · ${escape(key.env)} is set: Enter tests it"
                candidate = Candidate(key.provider, profile.model, profile.api_base, key.env)
                self._actions.append(("cloud", candidate))
            else:
                export = f"export {key.env}=<your key>"
                text = f"{head} · [$accent]$ {escape(export)}[/] [dim](then restart aiw)[/dim]"
                self._actions.append(("copy", export))
            options.append(Option(Content.from_markup(text)))
        ways = self.query_one("#welcome-ways", OptionList)
        ways.set_options(options)
        if options:
            ways.highlighted = 0

    # ---- choosing a way

    @on(OptionList.OptionSelected, "#welcome-ways")
    def _way_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_index >= len(self._actions):
            return
        what, data = self._actions[event.option_index]
        if what == "use":
            self.query_one("#welcome-url", Input).value = data.api_base or ""
            self.query_one("#welcome-model", Input).value = data.model
            self._test(data)
        elif what == "cloud":
            self._test(data)
        elif data:
            self.app.copy_to_clipboard(data)
            self.notify(f"Copied: {data}", timeout=4)

    @on(Input.Submitted, "#welcome-url, #welcome-model")
    def _field_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_test()

    @on(Input.Changed, "#welcome-url, #welcome-model")
    def _field_changed(self, event: Input.Changed) -> None:
        candidate = self._typed()
        if self.tested is not None and candidate != self.tested:
            self._set_tested(None)

    @on(Button.Pressed)
    def _button(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "welcome-test":
            self.action_test()
        elif event.button.id == "welcome-save":
            self.action_save()
        elif event.button.id == "welcome-recheck":
            self._result("[dim]asking the local servers again…[/dim]")
            self.post_message(self.RecheckRequested())

    def _typed(self) -> Candidate | None:
        url = self.query_one("#welcome-url", Input).value.strip()
        model = self.query_one("#welcome-model", Input).value.strip()
        if not model:
            return None
        if self.tested is not None and (self.tested.model, self.tested.api_base or "") == (
            model,
            url,
        ):
            return self.tested
        return Candidate(CUSTOM_PROFILE, model, url or None)

    def _result(self, markup: str) -> None:
        self.query_one("#welcome-result", Static).update(markup)

    def _set_tested(self, candidate: Candidate | None) -> None:
        self.tested = candidate
        self.query_one("#welcome-save", Button).disabled = candidate is None

    # ---- test and save

    def action_test(self) -> None:
        candidate = self._typed()
        if candidate is None:
            self._result("[$warning]Type the model name the server serves (and its URL).[/]")
            self.query_one("#welcome-model", Input).focus()
            return
        if candidate.api_base and not candidate.api_base.startswith(("http://", "https://")):
            self._result("[$error]The URL must start with http:// or https://[/]")
            self.query_one("#welcome-url", Input).focus()
            return
        self._test(candidate)

    @work(group="welcome-test", exclusive=True, exit_on_error=False)
    async def _test(self, candidate: Candidate) -> None:
        from ai_workbench.core.llm.probe import check_connection

        self._set_tested(None)
        where = candidate.api_base or candidate.name
        self._result(f"[dim]testing {escape(candidate.model)} at {escape(where)}…[/dim]")
        settings = self.ctx.loaded.settings
        if candidate.api_key_env:  # a configured cloud profile
            check = await check_connection(
                candidate.model, provider=candidate.name, settings=settings
            )
        else:
            check = await check_connection(candidate.model, candidate.api_base, settings=settings)
        if check.ok:
            self._set_tested(candidate)
            self._result(f"[$success]✓ {escape(check.message)}[/] [dim]· Ctrl+S saves it[/dim]")
            self.query_one("#welcome-save", Button).focus()
        else:
            self._result(f"[$error]✗ {escape(check.message)}[/]")

    def action_save(self) -> None:
        if self.tested is None:
            self._result("[$warning]Test the connection first (Ctrl+T).[/]")
            return
        self._save(self.tested)

    @work(group="welcome-save", exclusive=True, exit_on_error=False)
    async def _save(self, candidate: Candidate) -> None:
        from ai_workbench.core.llm.probe import save_provider
        from ai_workbench.core.settings import ConfigError, load_config

        ctx = self.ctx

        def write() -> tuple[str, Any]:
            path = save_provider(
                candidate.name,
                candidate.model,
                candidate.api_base,
                api_key_env=candidate.api_key_env,
            )
            return str(path), load_config(ctx.cli_overrides, cwd=ctx.cwd)

        try:
            path, loaded = await asyncio.to_thread(write)
        except (ConfigError, OSError) as exc:
            self._result(f"[$error]Not saved: {escape(str(exc))}[/]")
            return
        ctx.loaded = loaded
        profile = loaded.settings.providers[candidate.name]
        self._result(
            f"[$success]Saved to {escape(path)}:[/] default_provider = {escape(candidate.name)}"
        )
        choice = ModelChoice(provider=candidate.name, label=profile.model)
        self.post_message(self.Saved(choice, path))

    def action_close(self) -> None:
        self.post_message(self.Closed())
