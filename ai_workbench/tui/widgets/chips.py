"""The bar above the conversation: session title, token total, and chips for the session's
persona, model and the files attached to the next prompt (change: Enter, remove: Delete)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static


@dataclass(frozen=True)
class ChipData:
    kind: str  # persona | model | file
    value: str  # persona id, model name or file path ("" when unset)
    label: str
    warn: bool = False  # shown as a problem (a model that does not answer)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"


class Chip(Static, can_focus=True):
    """One removable, changeable value."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,space", "change", "Change", id="chip.change"),
        Binding("delete,backspace,x", "remove", "Remove", id="chip.remove"),
    ]

    class Changed(Message):
        """The user wants to change this chip's value."""

        def __init__(self, chip: ChipData) -> None:
            super().__init__()
            self.chip = chip

    class Removed(Message):
        """The user removed this chip."""

        def __init__(self, chip: ChipData) -> None:
            super().__init__()
            self.chip = chip

    def __init__(self, data: ChipData) -> None:
        removable = data.kind == "file" or bool(data.value)
        mark = " [dim]×[/dim]" if removable else ""
        classes = f"chip -{data.kind}" + (" -warn" if data.warn else "")
        super().__init__(f"{escape(data.label)}{mark}", classes=classes)
        self.data = data
        self.tooltip = (
            "Enter: change · Delete: remove" if data.kind != "file" else "Delete: detach the file"
        )

    def action_change(self) -> None:
        if self.data.kind == "file":
            self.app.bell()
            return
        self.post_message(self.Changed(self.data))

    def action_remove(self) -> None:
        self.post_message(self.Removed(self.data))

    def on_click(self, event: Any) -> None:
        if self.data.kind == "file" or event.x >= self.size.width - 2:
            self.post_message(self.Removed(self.data))
        else:
            self.post_message(self.Changed(self.data))


class ChipBar(Vertical):
    """Session title and token total on top, chips below."""

    HELP = """\
## Session chips

The open session's **persona** and **model**, and the **files** attached to the next prompt.

- **Enter** on a chip changes it (a picker opens); **Delete** removes it
  (persona → none, model → the configured default, file → detached)
- **Ctrl+O** picks a model and **Ctrl+R** a persona from anywhere
"""

    title: reactive[str] = reactive("New session")
    tokens: reactive[int] = reactive(0)
    cost: reactive[float | None] = reactive(None)
    chips: reactive[tuple[ChipData, ...]] = reactive((), recompose=True)

    def compose(self) -> Any:
        with Horizontal(classes="chip-title-row"):
            yield Static(self._title_markup(), classes="session-title", markup=True)
            yield Static(self._tokens_markup(), classes="session-tokens", markup=True)
        with Horizontal(classes="chip-row"):
            for chip in self.chips:
                yield Chip(chip)

    def _title_markup(self) -> str:
        return f"[b]{escape(self.title)}[/b]"

    def _tokens_markup(self) -> str:
        if not self.tokens:
            return ""
        from ai_workbench.core.llm.costs import format_cost

        cost = f" · {format_cost(self.cost)}" if self.cost is not None else ""
        return f"[dim]Σ {self.tokens:,} tok{cost}[/dim]"

    def watch_title(self) -> None:
        if self.is_mounted:
            for item in self.query(".session-title").results(Static):
                item.update(self._title_markup())

    def watch_cost(self) -> None:
        self.watch_tokens()

    def watch_tokens(self) -> None:
        if self.is_mounted:
            for item in self.query(".session-tokens").results(Static):
                item.update(self._tokens_markup())
