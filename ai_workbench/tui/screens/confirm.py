"""Small modals: yes/no confirmation, one line of text, and a message to read."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

ResultT = TypeVar("ResultT")


class InputModal(ModalScreen[ResultT | None]):
    """A modal built around one text field: it has the focus (its cursor steady under test) and
    ``cancel`` (Esc in the subclasses' bindings) closes the modal with None.

    Textual calls ``on_mount`` of every class in the MRO, so a subclass's own ``on_mount`` runs
    first and this one after it.
    """

    def on_mount(self) -> None:
        field = self.query_one(Input)
        field.cursor_blink = not self.app.is_headless
        field.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question; **y** confirms, **n** or **Esc** declines (the default)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, message: str, *, yes: str = "Yes", danger: bool = True):
        super().__init__(classes="modal")
        self.title_text = title
        self.message = message
        self.yes_label = yes
        self.danger = danger

    def compose(self) -> Any:
        with Vertical(classes="dialog"):
            yield Static(f"[b]{escape(self.title_text)}[/b]", classes="dialog-title")
            yield Static(escape(self.message), classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    f"{self.yes_label} (y)",
                    id="yes",
                    variant="error" if self.danger else "primary",
                )
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class TextPromptScreen(InputModal[str]):
    """Ask for one line of text (e.g. a new session title); Enter saves, Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="text_prompt.cancel"),
    ]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> Any:
        with Vertical(classes="dialog"):
            yield Static(f"[b]{escape(self.title_text)}[/b]", classes="dialog-title")
            yield Input(self.value, placeholder=self.placeholder, id="text-prompt-input")
            yield Static("[dim]Enter saves · Esc cancels[/dim]", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)


class MessageScreen(ModalScreen[None]):
    """A message that needs reading (a startup problem, a long error)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Close", id="message.close"),
    ]

    def __init__(
        self, title: str, message: str, *, severity: str = "error", markdown: bool = False
    ) -> None:
        super().__init__(classes=f"modal -{severity}")
        self.title_text = title
        self.message = message
        self.markdown = markdown  # render ``message`` as (untrusted) Markdown

    def compose(self) -> Any:
        with Vertical(classes="dialog"):
            yield Static(f"[b]{escape(self.title_text)}[/b]", classes="dialog-title")
            with VerticalScroll(classes="dialog-scroll"):  # long output, a whole patch
                yield Static(self._body(), classes="dialog-body")
            yield Static("[dim]↑/↓ scroll · Enter or Esc closes[/dim]", classes="dialog-hint")

    def _body(self) -> Any:
        if not self.markdown:
            return escape(self.message)
        from textual.content import Content

        from ai_workbench.tui.markdown_lines import markdown_lines

        return Content("\n").join(markdown_lines(self.message))

    def action_close(self) -> None:
        self.dismiss(None)
