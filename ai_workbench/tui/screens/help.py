"""F1: help for the focused pane, with the keys that work there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static

KeySection = tuple[str, Sequence[tuple[str, str]]]


def keys_markup(sections: Sequence[KeySection]) -> str:
    """Key tables as aligned markup (much cheaper to render than Markdown tables)."""
    width = max((len(key) for _, rows in sections for key, _ in rows), default=4) + 2
    lines: list[str] = []
    for title, rows in sections:
        if not rows:
            continue
        lines.append(f"[b $primary]{escape(title)}[/]")
        for key, what in rows:
            lines.append(f"  [b $accent]{escape(key.ljust(width))}[/]{escape(what)}")
        lines.append("")
    return "\n".join(lines).rstrip()


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "close", "Close", id="help.close"),
    ]

    def __init__(self, markdown: str, keys: Sequence[KeySection] = ()) -> None:
        super().__init__(classes="modal")
        self.markdown = markdown
        self.keys = list(keys)

    @property
    def text(self) -> str:
        """Everything the screen shows, as plain text (for tests and screen readers)."""
        rows = [f"{key} {what}" for _, section in self.keys for key, what in section]
        return "\n".join([self.markdown, *[title for title, _ in self.keys], *rows])

    def compose(self) -> Any:
        with Vertical(classes="dialog", id="help-dialog"):
            with VerticalScroll(id="help-scroll"):
                yield Markdown(self.markdown, id="help-text")
                yield Static(keys_markup(self.keys), id="help-keys")
            yield Static(
                "[dim]Esc or F1 closes · Ctrl+P lists every command[/dim]", classes="dialog-hint"
            )

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)
