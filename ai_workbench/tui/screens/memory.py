"""The memory screen (Ctrl+P → *Memory*): what aiw remembers about you, by tier, editable.

Facts (long-term; ★ pinned: in every system prompt), session summaries (medium-term) and
long-session summaries (short-term). **a** adds a fact, **e** edits the highlighted one, **p**
pins/unpins it, **d** forgets it, **c** clears the highlighted item's tier (asks first), **s**
summarises finished sessions now, **Esc** closes. The confirmation before a fact the model
proposes is stored is :class:`RememberScreen`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

TITLES = {
    "long": "Facts (long-term) · ★ in every prompt",
    "medium": "Session summaries (medium-term)",
    "short": "Long-session summaries (short-term)",
}


def memory_service(ctx: Any) -> Any:
    """The memory service on the workbench's store (None until the store is open)."""
    if ctx.store is None or ctx.loaded is None:
        return None
    from ai_workbench.memory.service import MemoryService

    settings = ctx.loaded.settings
    return MemoryService(ctx.store, settings.memory, settings.knowledge)


class MemoryScreen(ModalScreen[None]):
    """Every memory of the local user, grouped by tier, with keys to change them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="memory.close"),
        Binding("a", "add", "Add fact", id="memory.add"),
        Binding("e", "edit", "Edit", id="memory.edit"),
        Binding("p", "pin", "Pin/unpin", id="memory.pin"),
        Binding("d,delete", "forget", "Forget", id="memory.forget"),
        Binding("c", "clear", "Clear tier", id="memory.clear"),
        Binding("s", "summarize", "Summarise sessions", id="memory.summarize"),
    ]

    def __init__(self, ctx: Any, owner: str = "local") -> None:
        super().__init__(classes="modal")
        self.ctx = ctx
        self.owner = owner
        self.items: list[Any] = []

    def compose(self) -> Any:
        with Vertical(classes="dialog picker", id="memory-dialog"):
            yield Static("[b]Memory: what aiw remembers about you[/b]", classes="dialog-title")
            yield OptionList(id="memory-list")
            yield Static("", id="memory-status", classes="dialog-hint")
            yield Static(
                "[dim]a add · e edit · p pin/unpin · d forget · c clear this tier · "
                "s summarise finished sessions · Esc closes[/dim]",
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.reload()

    @property
    def service(self) -> Any:
        return memory_service(self.ctx)

    def highlighted(self) -> Any:
        options = self.query_one(OptionList)
        option = options.highlighted_option if options.highlighted is not None else None
        if option is None or not option.id:
            return None
        return next((m for m in self.items if f"memory-{m.id}" == option.id), None)

    @work(group="memory", exclusive=True, exit_on_error=False)
    async def reload(self, select: int | None = None) -> None:
        service = self.service
        status = self.query_one("#memory-status", Static)
        if service is None:
            status.update("[$warning]the database is not open yet[/]")
            return
        try:
            self.items = await service.list(owner=self.owner)
            _, outside = await service.profile(owner=self.owner)
        except Exception as exc:
            status.update(f"[$error]{escape(str(exc))}[/]")
            return
        self._show(self.items, {m.id for m in outside}, select)

    def _show(self, items: list[Any], over_budget: set[int], select: int | None) -> None:
        from ai_workbench.core.sanitize import strip_controls

        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        tier = None
        for item in items:
            if item.tier != tier:
                tier = item.tier
                options.add_option(Option(f"[b]{TITLES[tier]}[/b]", disabled=True))
            text = " ".join(strip_controls(item.content).split())
            if len(text) > 200:
                text = text[:199] + "…"
            mark = "★ " if item.pinned else "  "
            notes = []
            if item.id in over_budget:
                notes.append("over the profile budget: recalled when relevant")
            if item.source == "model":
                notes.append("proposed by the model")
            if item.session_id:
                notes.append(f"session {item.session_id[:8]}")
            extra = f" [dim]({escape(', '.join(notes))})[/dim]" if notes else ""
            options.add_option(
                Option(f"{mark}#{item.id} {escape(text)}{extra}", id=f"memory-{item.id}")
            )
        counts = {t: sum(1 for m in items if m.tier == t) for t in TITLES}
        self.query_one("#memory-status", Static).update(
            "[dim]" + " · ".join(f"{counts[t]} {t}" for t in ("long", "medium", "short")) + "[/dim]"
            if items
            else '[dim]Nothing remembered yet. Press a to add a fact ("My timezone is …").[/dim]'
        )
        if select is not None:
            index = next(
                (i for i in range(options.option_count)
                 if options.get_option_at_index(i).id == f"memory-{select}"),
                None,
            )  # fmt: skip
            options.highlighted = index
        elif highlighted is not None and options.option_count:
            options.highlighted = min(highlighted, options.option_count - 1)
        if options.highlighted is not None and options.highlighted_option.disabled:
            options.action_cursor_down()

    # ---- actions

    def action_close(self) -> None:
        self.dismiss(None)

    def action_add(self) -> None:
        from ai_workbench.tui.screens.confirm import TextPromptScreen

        def done(text: str | None) -> None:
            if text and text.strip():
                self._change("add", text=text)

        self.app.push_screen(
            TextPromptScreen("Remember a fact about you", "", "e.g. My timezone is Europe/Berlin"),
            done,
        )

    def action_edit(self) -> None:
        from ai_workbench.tui.screens.confirm import TextPromptScreen

        item = self.highlighted()
        if item is None:
            self.app.bell()
            return

        def done(text: str | None) -> None:
            if text and text.strip() and text.strip() != item.content:
                self._change("edit", item.id, text=text)

        self.app.push_screen(TextPromptScreen(f"Edit memory #{item.id}", item.content), done)

    def action_pin(self) -> None:
        item = self.highlighted()
        if item is None or item.tier != "long":
            self.app.bell()
            return
        self._change("pin", item.id, text=item.content, pinned=not item.pinned)

    def action_forget(self) -> None:
        from ai_workbench.tui.screens.confirm import ConfirmScreen

        item = self.highlighted()
        if item is None:
            self.app.bell()
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._change("forget", item.id)

        text = item.content if len(item.content) <= 200 else item.content[:199] + "…"
        self.app.push_screen(ConfirmScreen(f"Forget memory #{item.id}?", text, yes="Forget"), done)

    def action_clear(self) -> None:
        from ai_workbench.tui.screens.confirm import ConfirmScreen

        item = self.highlighted()
        if item is None:
            self.app.bell()
            return
        count = sum(1 for m in self.items if m.tier == item.tier)

        def done(yes: bool | None) -> None:
            if yes:
                self._change("clear", tier=item.tier)

        message = f"All {count} memories of the {item.tier} tier will be deleted."
        self.app.push_screen(
            ConfirmScreen(f"Clear {TITLES[item.tier].split(' ·')[0]}?", message, yes="Clear"),
            done,
        )

    @work(group="memory-edit", exit_on_error=False)
    async def _change(
        self,
        what: str,
        memory_id: int | None = None,
        *,
        text: str = "",
        pinned: bool | None = None,
        tier: str = "",
    ) -> None:
        service = self.service
        if service is None:
            return
        select = memory_id
        try:
            if what == "add":
                added = await service.add(text, owner=self.owner)
                select = added.memory.id
                self._redacted(added.redacted)
            elif what in ("edit", "pin") and memory_id is not None:
                edited = await service.edit(memory_id, text, owner=self.owner, pinned=pinned)
                self._redacted(edited.redacted)
            elif what == "forget" and memory_id is not None:
                await service.forget(memory_id, owner=self.owner)
                select = None
                self.notify(f"Forgot memory #{memory_id}")
            elif what == "clear":
                removed = await service.clear(tier, owner=self.owner)
                select = None
                self.notify(f"Cleared {removed.get(tier, 0)} {tier}-term memories")
        except Exception as exc:
            self.notify(str(exc), title="Memory", severity="error")
            return
        self.reload(select)

    def action_summarize(self) -> None:
        self._summarize()

    @work(group="memory-summarize", exclusive=True, exit_on_error=False)
    async def _summarize(self) -> None:
        """Summaries of finished sessions (medium tier), as `aiw memory summarize` writes."""
        if self.ctx.store is None or self.ctx.loaded is None:
            return
        from ai_workbench.chat.service import ChatService

        status = self.query_one("#memory-status", Static)
        status.update("[$warning]summarising finished sessions…[/]")
        problems: list[str] = []
        try:
            written = await ChatService(self.ctx.loaded, self.ctx.store).summarize_sessions(
                owner=self.owner, notice=problems.append
            )
        except Exception as exc:
            self.notify(str(exc), title="Memory", severity="error")
            written = []
        for problem in problems[:3]:
            self.notify(escape(problem), title="Memory", severity="warning")
        self.notify(f"Summarised {len(written)} finished session(s)", title="Memory")
        self.reload()

    def _redacted(self, counts: dict[str, int]) -> None:
        if counts:
            self.notify(
                f"Redacted {sum(counts.values())} secret(s) before storing", severity="warning"
            )


class RememberScreen(ModalScreen[bool]):
    """The model proposes remembering a fact: **y** stores it, **n** / **Esc** does not."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Remember", id="remember.yes"),
        Binding("n,escape", "answer(False)", "No", id="remember.no"),
    ]

    def __init__(self, fact: str) -> None:
        super().__init__(classes="modal")
        self.fact = fact

    def compose(self) -> Any:
        with Vertical(classes="dialog", id="remember-dialog"):
            yield Static("[b]The model proposes remembering this about you[/b]",
                         classes="dialog-title")  # fmt: skip
            yield Static(escape(self.fact), id="remember-fact", classes="dialog-body")
            yield Static(
                "[dim]Remembered facts go into every prompt; Ctrl+P → Memory edits them.[/dim]",
                classes="dialog-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Remember (y)", id="yes", variant="primary")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
