"""The chips pane: what the next prompt goes with (persona, model, project knowledge, attached
files), the pickers that change them, and saving a choice to the open session."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from textual import on, work

from ai_workbench.tui.context import ModelChoice, Workbench
from ai_workbench.tui.messages import ModelChanged, SessionEdited, SetupRequested, Status
from ai_workbench.tui.widgets.chips import Chip, ChipBar, ChipData


class ChoiceBar(ChipBar):
    """Owns the choices for the next turn; the conversation pane reads them when it sends."""

    def __init__(
        self, ctx: Workbench, *, persona: str | None = None, kb: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx
        self.persona_choice: str | None = persona
        self.model_choice: ModelChoice | None = ctx.cli_choice
        self.kb_on = kb  # ground prompts in the project index (F7)
        self.attached: list[Path] = []
        self.session: Any = None  # the open session (set by the conversation pane)
        self._discovered: list[Any] = []  # models local servers reported (model picker)
        # What the start-up probe found (core.llm.probe.ProbeReport), None until it ran: the
        # model chip never claims a model that does not answer.
        self.report: Any = None

    # ---- display

    def effective_persona(self) -> str | None:
        if self.persona_choice:
            return self.persona_choice
        if self.session is not None and self.session.persona:
            return self.session.persona
        loaded = self.ctx.loaded
        if loaded is not None and loaded.settings.chat.persona:
            return loaded.settings.chat.persona
        return None

    def _default_model_label(self) -> str:
        if self.ctx.loaded is None:
            return "…"
        settings = self.ctx.loaded.settings
        profile = settings.providers.get(settings.default_provider)
        return profile.model if profile else settings.default_provider

    def choice_label(self, choice: ModelChoice) -> str:
        if choice.model:
            return choice.model
        if choice.provider and self.ctx.loaded is not None:
            profile = self.ctx.loaded.settings.providers.get(choice.provider)
            if profile is not None:
                return profile.model
        return choice.label or "?"

    def show(self, session: Any, tokens: int, cost: float | None) -> None:
        """Redraw for ``session`` (None: a new session) with its token and cost totals."""
        self.session = session
        persona = self.effective_persona()
        chips = [ChipData("persona", persona or "", f"persona: {persona or 'none'}")]
        if self.model_choice is not None:
            label = self.choice_label(self.model_choice)
            value = label
        elif session is not None and session.model:
            label, value = session.model, ""
        else:
            label, value = self._default_model_label(), ""
        problem = self._availability()
        chips.append(ChipData("model", value, f"model: {label}{problem}", warn=bool(problem)))
        if self.kb_on:
            chips.append(ChipData("kb", "on", "knowledge: on"))
        if self.ctx.mcp is not None:  # MCP servers configured (started after the first frame)
            value, mcp_label, warn = self.ctx.mcp.chip(session.id if session else None)
            chips.append(ChipData("mcp", value, mcp_label, warn=warn))
        for path in self.attached:
            chips.append(ChipData("file", str(path), f"@{self.ctx.display_path(path)}"))
        if self.is_mounted:
            self.chips = tuple(chips)
        else:  # composed with them: no recompose (it would hold the first frame back)
            self.set_reactive(ChipBar.chips, tuple(chips))
        self.title = (session.title or "(untitled)") if session else "New session"
        self.tokens = tokens
        self.cost = cost

    def effective_choice(self) -> ModelChoice | None:
        """The model the next turn uses: the choice made, else the open session's own, else
        None (the configured default chain)."""
        session = self.session
        if self.model_choice is None and session is not None and session.model:
            return ModelChoice(session.model, session.api_base, label=session.model)
        return self.model_choice

    def _availability(self) -> str:
        """`` · not answering`` when the probe found the model in use unreachable."""
        from ai_workbench.tui.panes.welcome import model_state

        if self.report is None or self.ctx.loaded is None:
            return ""
        answers, _ = model_state(self.report, self.ctx, self.effective_choice())
        return "" if answers is not False else " ✗ no answer"

    def redraw(self) -> None:
        self.show(self.session, self.tokens, self.cost)

    # ---- chips

    @on(Chip.Changed)
    def _chip_changed(self, event: Chip.Changed) -> None:
        event.stop()
        if event.chip.kind == "persona":
            self.pick_persona()
        elif event.chip.kind == "model" and event.chip.warn:
            self.post_message(SetupRequested())
        elif event.chip.kind == "model":
            self.pick_model()
        elif event.chip.kind == "kb":
            self.toggle_kb()
        elif event.chip.kind == "mcp":
            self.pick_mcp()

    @on(Chip.Removed)
    def _chip_removed(self, event: Chip.Removed) -> None:
        """Removes the chip's value; the event goes on up (the conversation pane then puts
        the focus back in the prompt)."""
        chip = event.chip
        if chip.kind == "file":
            self.attached = [p for p in self.attached if str(p) != chip.value]
            self.redraw()
        elif chip.kind == "persona":
            self.persona_picked("-")
        elif chip.kind == "kb":
            self.toggle_kb()
        elif chip.kind == "mcp":
            self.mcp_picked(set())
        elif chip.kind == "model":
            stored = self.session is not None and bool(self.session.model)
            if self.model_choice is None and not stored:  # already the configured default
                event.stop()
                self.app.bell()
                return
            self.model_choice = None
            if self.session is not None:  # the session's own model goes too (saved below)
                self.session.model = None
                self.session.api_base = None
            self.redraw()
            self._persist(model=None)
            self.post_message(ModelChanged())
            self.notify("Model reset: the session's model or the configured default is used.")

    # ---- attachments and knowledge

    def toggle_attachment(self, path: Path) -> None:
        path = path.resolve()
        shown = self.ctx.display_path(path)
        if path in self.attached:
            self.attached.remove(path)
            self.notify(f"Detached {shown}")
        else:
            self.attached.append(path)
            self.notify(f"Attached {shown} to the next prompt")
        self.redraw()

    def attach(self, paths: list[Path]) -> None:
        for path in paths:
            if path not in self.attached:
                self.attached.append(path)
        self.redraw()

    def detach(self, paths: list[Path]) -> None:
        self.attached = [p for p in self.attached if p not in paths]

    def toggle_kb(self) -> None:
        self.kb_on = not self.kb_on
        self.redraw()
        if self.kb_on:
            self.notify(
                "Project knowledge on: answers are grounded in the project index and cite "
                "path:lines (o on an answer opens one). `aiw index` or the palette builds it.",
                timeout=6,
            )
        else:
            self.notify("Project knowledge off.", timeout=3)

    # ---- MCP servers' tools (per session, while the workbench runs)

    def pick_mcp(self) -> None:
        mcp = self.ctx.mcp
        if mcp is None:
            self.notify(
                "No MCP servers are configured (aiw mcp add NAME -- COMMAND; docs/mcp.md).",
                severity="warning",
                timeout=6,
            )
            return
        from ai_workbench.tui.screens.mcp import McpServersScreen

        chosen = mcp.chosen_for(self.session.id if self.session else None)
        self.app.push_screen(McpServersScreen(mcp, chosen), self.mcp_picked)

    def mcp_picked(self, chosen: set[str] | None) -> None:
        mcp = self.ctx.mcp
        if chosen is None or mcp is None:
            return
        session_id = self.session.id if self.session else None
        if chosen == mcp.chosen_for(session_id):
            return
        mcp.choose(session_id, chosen)
        self.redraw()
        names = ", ".join(n for n in mcp.names if n in chosen)
        self.notify(
            f"This session offers the model the tools of: {names}; every call asks first."
            if names
            else "This session offers the model no MCP tools.",
            timeout=5,
        )

    # ---- model

    def model_args(self) -> dict[str, str | None]:
        choice = self.model_choice
        if choice is None:
            return {"model": None, "api_base": None, "provider": None}
        return {"model": choice.model, "api_base": choice.api_base, "provider": choice.provider}

    def pick_model(self) -> None:
        if self.ctx.loaded is None:
            self.notify("Still loading the configuration…", severity="warning")
            return
        self._pick_model()

    @work(group="pick-model", exclusive=True, exit_on_error=False)
    async def _pick_model(self) -> None:
        """Profiles from the config, plus what the local servers report (asked concurrently,
        briefly: core.llm.discovery), in a palette-style picker."""
        from ai_workbench.core.llm.discovery import discover_models, endpoints_to_ask
        from ai_workbench.core.llm.profiles import resolve_chain
        from ai_workbench.tui.screens.pickers import PickerScreen, PickItem

        settings = self.ctx.loaded.settings
        cli = self.ctx.cli_choice
        current = self.model_choice
        items: list[PickItem] = []
        if cli is not None and cli.model:
            detail = "from the command line" + (f" · {cli.api_base}" if cli.api_base else "")
            items.append(PickItem("cli", cli.label, detail, current == cli))
        for name, profile in settings.providers.items():
            where = "local" if resolve_chain(settings, provider=name)[0].is_local else "cloud"
            key = ""
            if profile.api_key_env:
                is_set = bool(os.environ.get(profile.api_key_env))
                key = f" · ${profile.api_key_env} {'set' if is_set else 'not set'}"
            default = " · default" if name == settings.default_provider else ""
            chosen = current is not None and current.provider == name
            label = f"{name}: {profile.model}"
            items.append(PickItem(f"provider:{name}", label, where + key + default, chosen))
        extra = []
        if cli is not None and cli.api_base:
            extra.append(("command line", cli.api_base, cli.model or ""))
        self.post_message(Status("[dim]asking local servers for their models…[/dim]"))
        try:
            self._discovered = await discover_models(endpoints_to_ask(settings, extra))
        finally:
            self.post_message(Status(""))
        for index, found in enumerate(self._discovered):
            chosen = current is not None and current.model == found.model
            detail = f"served now by {found.source} · {found.api_base}"
            items.append(PickItem(f"found:{index}", found.model, detail, chosen))
        picker = PickerScreen("Model for this session", items, allow_custom="Use model")
        self.app.push_screen(picker, self.model_picked)

    def model_picked(self, value: str | None) -> None:
        if value is None:
            return
        cli = self.ctx.cli_choice
        if value == "cli" and cli is not None:
            choice = cli
        elif value.startswith("found:") and value[6:].isdigit() and self._discovered:
            found = self._discovered[int(value[6:])]
            choice = ModelChoice(model=found.model, api_base=found.api_base, label=found.model)
        elif value.startswith("provider:"):
            name = value.removeprefix("provider:")
            profile = self.ctx.loaded.settings.providers[name]
            choice = ModelChoice(provider=name, label=profile.model, model=None)
        else:
            api_base = cli.api_base if cli else None
            choice = ModelChoice(model=value, api_base=api_base, label=value)
        self.use_model(choice)
        self.notify(f"Model: {choice.label}")

    def use_model(self, choice: ModelChoice | None) -> None:
        """Use ``choice`` for the next turns and save it with the open session (only there:
        another session opens with its own)."""
        self.model_choice = choice
        self.redraw()
        if choice is None:
            self._persist(model=None)
        else:
            model, api_base = choice.model, choice.api_base
            if choice.provider and self.ctx.loaded is not None:
                profile = self.ctx.loaded.settings.providers.get(choice.provider)
                if profile is not None:
                    model = model or profile.model
                    api_base = api_base or profile.api_base
            self._persist(model=model or choice.label, api_base=api_base)
        self.post_message(ModelChanged())

    # ---- persona

    def pick_persona(self) -> None:
        self._persona_picker()

    @work(group="pickers", exclusive=True, exit_on_error=False)
    async def _persona_picker(self) -> None:
        from ai_workbench.chat.personas import load_personas
        from ai_workbench.tui.screens.pickers import PickerScreen, PickItem

        catalog = await asyncio.to_thread(load_personas, self.ctx.project_root)
        current = self.effective_persona()
        items = [PickItem("-", "(no persona)", "the configured default, if any", not current)]
        for persona in catalog:
            label = f"{persona.id}: {persona.name}"
            items.append(PickItem(persona.id, label, persona.description, persona.id == current))
        picker = PickerScreen("Persona for this session", items)
        self.app.push_screen(picker, self.persona_picked)

    def persona_picked(self, value: str | None) -> None:
        if value is None:
            return
        persona = None if value == "-" else value
        self.persona_choice = persona
        if self.session is not None:
            self.session.persona = persona
        self.redraw()
        self._persist(persona=persona)
        self.notify(f"Persona: {persona or 'none'}")

    # ---- saving a choice with the session

    def _persist(self, **changes: Any) -> None:
        if self.session is not None and self.ctx.sessions is not None:
            self._save_choice(self.session.id, changes)

    @work(group="session-edit", exit_on_error=False)
    async def _save_choice(self, session_id: str, changes: dict[str, Any]) -> None:
        sessions = self.ctx.sessions
        try:
            if "model" in changes:
                session = await sessions.set_model(
                    session_id, changes["model"], changes.get("api_base")
                )
            else:
                session = await sessions.set_persona(session_id, changes["persona"])
        except Exception as exc:
            self.notify(str(exc), severity="error")
            return
        self.post_message(SessionEdited(session))
