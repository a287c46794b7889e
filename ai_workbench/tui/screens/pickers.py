"""A palette-style picker: type to filter, Enter chooses (personas, models, code blocks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.markup import escape
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ai_workbench.tui.screens.confirm import InputModal

CUSTOM_PREFIX = "\x00custom:"


@dataclass(frozen=True)
class PickItem:
    value: str
    label: str  # plain text
    detail: str = ""  # plain text, shown dimmed
    current: bool = False


class PickerScreen(InputModal[str]):
    """Returns the chosen item's ``value`` (or the typed text when ``allow_custom``)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("down", "move(1)", "Down", show=False),
        Binding("up", "move(-1)", "Up", show=False),
    ]

    def __init__(
        self,
        title: str,
        items: Sequence[PickItem],
        *,
        allow_custom: str | None = None,
        placeholder: str = "Type to filter",
    ) -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.items = list(items)
        self.allow_custom = allow_custom  # label prefix for "use what I typed", e.g. "Use model"
        self.placeholder = placeholder

    def compose(self) -> Any:
        with Vertical(classes="dialog picker"):
            yield Static(f"[b]{escape(self.title_text)}[/b]", classes="dialog-title")
            yield Input(placeholder=self.placeholder, id="picker-filter")
            yield OptionList(id="picker-options")
            yield Static("[dim]Enter chooses · Esc cancels[/dim]", classes="dialog-hint")

    def on_mount(self) -> None:  # then InputModal.on_mount focuses the filter
        self._refresh("")

    def _option(self, item: PickItem, matcher: Any = None) -> Option:
        label = matcher.highlight(item.label) if matcher is not None else Content(item.label)
        mark = Content.from_markup("[$accent]● [/]") if item.current else Content("  ")
        prompt = Content.assemble(mark, label)
        if item.detail:
            prompt = Content.assemble(
                prompt, "\n  ", Content.from_markup(f"[dim]{escape(item.detail)}[/dim]")
            )
        return Option(prompt, id=item.value)

    def _refresh(self, query: str) -> None:
        options = self.query_one(OptionList)
        query = query.strip()
        if not query:
            shown = [self._option(item) for item in self.items]
        else:
            from textual.fuzzy import Matcher

            matcher = Matcher(query)
            scored = []
            for index, item in enumerate(self.items):
                score = max(matcher.match(item.label), matcher.match(item.detail) * 0.5)
                if score > 0:
                    scored.append((-score, index, item))
            scored.sort()
            shown = [self._option(item, matcher) for _, _, item in scored]
            if self.allow_custom and not any(i.value == query for i in self.items):
                prompt = Content.from_markup(
                    f"  {escape(self.allow_custom)} [b]{escape(query)}[/b]"
                )
                shown.append(Option(prompt, id=CUSTOM_PREFIX + query))
        options.set_options(shown)
        if shown:
            current = next((i for i, item in enumerate(self.items) if item.current), None)
            options.highlighted = current if (not query and current is not None) else 0

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._refresh(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        option = self.query_one(OptionList).highlighted_option
        if option is None:
            self.app.bell()
            return
        self._choose(option.id or "")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose(event.option.id or "")

    def _choose(self, value: str) -> None:
        if value.startswith(CUSTOM_PREFIX):
            value = value[len(CUSTOM_PREFIX) :]
        self.dismiss(value)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if step > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()
