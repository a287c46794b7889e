"""Like / dislike an answer with an optional comment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.markup import escape
from textual.widgets import Input, Static

from ai_workbench.tui.screens.confirm import InputModal


@dataclass
class FeedbackResult:
    rating: int | None  # +1, -1, or None to remove the rating
    comment: str | None = None


class FeedbackScreen(InputModal[FeedbackResult]):
    """Enter saves the rating with the comment (empty: none); Esc cancels; Ctrl+D removes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="feedback.cancel"),
        Binding("ctrl+d", "remove", "Remove rating", id="feedback.remove"),
        Binding("ctrl+t", "toggle", "Like/dislike", id="feedback.toggle"),
    ]

    def __init__(
        self, rating: int, *, excerpt: str = "", comment: str | None = None, existing: bool = False
    ) -> None:
        super().__init__(classes="modal")
        self.rating = rating
        self.excerpt = excerpt
        self.comment = comment or ""
        self.existing = existing

    def _title(self) -> str:
        if self.rating > 0:
            return "[b $success]▲ Like[/] this answer"
        return "[b $error]▼ Dislike[/] this answer"

    def compose(self) -> Any:
        with Vertical(classes="dialog", id="feedback-dialog"):
            yield Static(self._title(), classes="dialog-title", id="feedback-title")
            if self.excerpt:
                yield Static(f"[dim]{escape(self.excerpt)}[/dim]", classes="dialog-body")
            yield Input(
                self.comment,
                placeholder="Optional comment: what was good or wrong?",
                id="feedback-comment",
            )
            remove = " · Ctrl+D removes the rating" if self.existing else ""
            yield Static(
                f"[dim]Enter saves · Esc cancels · Ctrl+T switches like/dislike{remove}[/dim]",
                classes="dialog-hint",
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(FeedbackResult(self.rating, event.value.strip()))

    def action_toggle(self) -> None:
        self.rating = -self.rating
        self.query_one("#feedback-title", Static).update(self._title())

    def action_remove(self) -> None:
        if self.existing:
            self.dismiss(FeedbackResult(None))
        else:
            self.app.bell()
