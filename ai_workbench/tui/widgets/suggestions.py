"""The suggestions panel: what aiw proposes (review findings, shell fixes, tips), live."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.markup import escape
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class SuggestionOptions(OptionList):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d,delete", "dismiss", "Dismiss", id="suggestions.dismiss"),
        Binding("1", "run(0)", "Action 1", id="suggestions.action1", show=False),
        Binding("2", "run(1)", "Action 2", id="suggestions.action2", show=False),
        Binding("3", "run(2)", "Action 3", id="suggestions.action3", show=False),
        Binding("4", "run(3)", "Action 4", id="suggestions.action4", show=False),
        Binding("5", "run(4)", "Action 5", id="suggestions.action5", show=False),
        Binding("plus", "rate(1)", "Like", id="suggestions.like", tooltip="Like this suggestion"),
        Binding("minus", "rate(-1)", "Dislike", id="suggestions.dislike", tooltip="Dislike it"),
    ]

    def _panel(self) -> SuggestionsPanel | None:
        parent = self.parent
        return parent if isinstance(parent, SuggestionsPanel) else None

    def action_dismiss(self) -> None:
        panel = self._panel()
        if panel is not None:
            panel.request_dismiss()

    def action_run(self, index: int) -> None:
        panel = self._panel()
        if panel is not None:
            panel.request_action(index)

    def action_rate(self, rating: int) -> None:
        panel = self._panel()
        if panel is not None:
            panel.request_rate(rating)


class SuggestionsPanel(Vertical):
    """Right pane: open suggestions, newest first."""

    HELP = """\
## Suggestions

What aiw proposes while you work: review findings, fixes for failed shell commands, notes
from the watcher. New ones appear here at once and as a notification.

- **Enter** or **1** runs the first action, **2**–**5** the others (shown under each item)
- **+** / **-** like or dislike it, with an optional comment (a review finding's rating
  teaches later reviews)
- **d** dismisses the highlighted suggestion (it will not come back)
- **F3** hides or shows this pane
"""

    class Dismiss(Message):
        def __init__(self, suggestion: Any) -> None:
            super().__init__()
            self.suggestion = suggestion

    class Rate(Message):
        def __init__(self, suggestion: Any, rating: int) -> None:
            super().__init__()
            self.suggestion = suggestion
            self.rating = rating

    class RunAction(Message):
        def __init__(self, suggestion: Any, action: Any) -> None:
            super().__init__()
            self.suggestion = suggestion
            self.action = action

    class Ready(Message):
        """The panel is mounted (it is lazy) and can be filled."""

    class Seen(Message):
        def __init__(self, suggestion: Any) -> None:
            super().__init__()
            self.suggestion = suggestion

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.items: list[Any] = []
        self.ratings: dict[int, int] = {}  # suggestion id -> +1 / -1 rated in this run
        self._title = Static("Suggestions", classes="pane-title")
        self._status = Static("Loading…", classes="pane-status")
        self.options = SuggestionOptions(id="suggestion-options")

    def on_mount(self) -> None:
        self.post_message(self.Ready())

    def compose(self) -> Any:
        yield self._title
        yield self._status
        yield self.options

    def set_items(self, items: Sequence[Any]) -> None:
        highlighted = self.options.highlighted_option
        keep = highlighted.id if highlighted is not None else None
        self.items = list(items)
        self.options.set_options([self._option(item) for item in self.items])
        count = len(self.items)
        self._title.update(f"Suggestions ({count})" if count else "Suggestions")
        self._status.update("Nothing to suggest right now." if not count else "")
        self._status.display = not count
        index = None
        if keep is not None:
            try:
                index = self.options.get_option_index(keep)
            except Exception:
                index = None
        self.options.highlighted = index if index is not None else (0 if count else None)

    def add_item(self, item: Any) -> None:
        if any(existing.id == item.id for existing in self.items):
            return
        self.set_items([item, *self.items])

    def remove_item(self, suggestion_id: int) -> None:
        self.set_items([item for item in self.items if item.id != suggestion_id])

    def _option(self, item: Any) -> Option:
        new = "[b $accent]new[/] " if item.status == "new" else ""
        rated = {1: " [b $success]▲[/]", -1: " [b $error]▼[/]"}.get(
            self.ratings.get(item.id, 0), ""
        )
        kind = f"[reverse $secondary] {escape(item.kind)} [/]"
        head = f"{new}{kind} [b]{escape(item.title)}[/b]{rated}"
        parts = [Content.from_markup(head)]
        if item.body:  # Markdown from a model: rendered, never read as markup
            from ai_workbench.tui.markdown_lines import markdown_preview

            parts.append(markdown_preview(item.body, 4))
        lines: list[str] = []
        if item.actions:
            actions = "  ".join(
                f"[b $accent]{n}[/] {escape(a.label)}"
                for n, a in enumerate(item.actions[:5], 1)
                if a.id != "dismiss"
            )
            lines.append(actions + "  [b $accent]d[/] dismiss")
        else:
            lines.append("[b $accent]d[/] dismiss")
        parts.append(Content.from_markup("\n".join(lines)))
        return Option(Content("\n").join(parts), id=f"g:{item.id}")

    def _highlighted_item(self) -> Any | None:
        option = self.options.highlighted_option
        if option is None or not option.id:
            return None
        wanted = int(option.id.split(":", 1)[1])
        return next((item for item in self.items if item.id == wanted), None)

    def request_dismiss(self) -> None:
        item = self._highlighted_item()
        if item is None:
            self.app.bell()
            return
        self.post_message(self.Dismiss(item))

    def request_rate(self, rating: int) -> None:
        item = self._highlighted_item()
        if item is None:
            self.app.bell()
            return
        self.post_message(self.Rate(item, rating))

    def set_rating(self, suggestion_id: int, rating: int | None) -> None:
        if rating is None:
            self.ratings.pop(suggestion_id, None)
        else:
            self.ratings[suggestion_id] = rating
        self.set_items(self.items)

    def request_action(self, index: int) -> None:
        item = self._highlighted_item()
        if item is None or index >= len(item.actions):
            self.app.bell()
            return
        self.post_message(self.RunAction(item, item.actions[index]))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.request_action(0)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        item = self._highlighted_item()
        if item is not None and item.status == "new" and self.options.has_focus:
            self.post_message(self.Seen(item))
