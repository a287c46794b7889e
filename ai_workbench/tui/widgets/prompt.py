"""The multi-line prompt: Enter sends, Ctrl+J (or Shift+Enter / Alt+Enter) adds a line."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

PLACEHOLDER = "Ask anything (Enter sends, Ctrl+J adds a line)"


class PromptInput(TextArea):
    """A TextArea that sends on Enter. Large pastes arrive as one edit (no per-key work)."""

    HELP = """\
## Prompt

Type your message; **Enter** sends it, **Ctrl+J** (also Shift+Enter or Alt+Enter where
the terminal reports them) starts a new line. Pasting a large block is fine.

Files attached from the file tree (**F2**, then **a**) go with the next prompt and show as
chips above the conversation. **Up** on the first line recalls earlier prompts.

Both keys can be remapped: `prompt.send` and `prompt.newline` in `~/.config/aiw/keys.toml`.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter", "submit", "Send", id="prompt.send", priority=True, tooltip="Send the prompt"
        ),
        Binding(
            "ctrl+j,shift+enter,alt+enter",
            "newline",
            "Newline",
            id="prompt.newline",
            tooltip="Insert a line break",
        ),
        Binding("up", "history(-1)", "Earlier", id="prompt.history_back", show=False),
        Binding("down", "history(1)", "Later", id="prompt.history_forward", show=False),
    ]

    class Submitted(Message):
        """The user pressed the send key."""

        def __init__(self, prompt: PromptInput, text: str) -> None:
            super().__init__()
            self.prompt = prompt
            self.text = text

        @property
        def control(self) -> PromptInput:
            return self.prompt

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("placeholder", PLACEHOLDER)
        super().__init__(soft_wrap=True, tab_behavior="focus", show_line_numbers=False, **kwargs)
        self.prompt_history: list[str] = []
        self._history_index: int | None = None
        self._draft = ""

    def on_mount(self) -> None:
        if self.app.is_headless:
            self.cursor_blink = False  # stable screenshots

    def action_submit(self) -> None:
        # A priority binding runs as soon as the app sees the key, before this widget has
        # processed the keys typed just before it (text + Enter in one burst, e.g. over SSH
        # or tmux). Read the text once the queued keys are in.
        self.call_later(self._submit)

    def _submit(self) -> None:
        self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        start, end = self.selection
        result = self.replace("\n", start, end, maintain_selection_offset=False)
        self.move_cursor(result.end_location)

    def remember(self, text: str) -> None:
        if text.strip() and (not self.prompt_history or self.prompt_history[-1] != text):
            self.prompt_history.append(text)
        self._history_index = None

    def action_history(self, step: int) -> None:
        location = self.cursor_location
        row = location[0]
        navigator = self.navigator
        if step < 0:
            at_edge = row == 0 and navigator.is_first_wrapped_line(location)
        else:
            at_edge = row == self.document.line_count - 1 and navigator.is_last_wrapped_line(
                location
            )
        if not at_edge or not self.prompt_history or (step > 0 and self._history_index is None):
            if step < 0:
                self.action_cursor_up()
            else:
                self.action_cursor_down()
            return
        if self._history_index is None:
            self._draft = self.text
            index = len(self.prompt_history) - 1
        else:
            index = self._history_index + step
        if index < 0:
            self.app.bell()
            return
        if index >= len(self.prompt_history):
            self._history_index = None
            self.load_text(self._draft)
        else:
            self._history_index = index
            self.load_text(self.prompt_history[index])
        self.move_cursor(self.document.end)

    def set_text(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)
        self._history_index = None
