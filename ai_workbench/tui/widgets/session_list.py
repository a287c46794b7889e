"""The session list: titles (bodies load when a session opens) and full-text search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.markup import escape
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

HL_OPEN, HL_CLOSE = "\x02", "\x03"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


class SessionOptions(OptionList):
    """The list itself; keys act on the highlighted session."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "request('new')", "New", id="sessions.new"),
        Binding("r", "request('rename')", "Rename", id="sessions.rename"),
        Binding("d,delete", "request('delete')", "Delete", id="sessions.delete"),
        Binding("x", "request('export_md')", "Export", id="sessions.export_md"),
        Binding(
            "X", "request('export_json')", "Export JSON", id="sessions.export_json", show=False
        ),
        Binding("slash", "request('search')", "Search", id="sessions.search"),
        Binding(
            "escape", "request('clear_search')", "Clear search", id="sessions.clear", show=False
        ),
    ]

    def action_request(self, action: str) -> None:
        parent = self.parent
        if isinstance(parent, SessionList):
            parent.request(action)


class SessionList(Vertical):
    """Left pane: search box, then session titles or search hits."""

    HELP = """\
## Sessions

Every chat session, newest first, including those made with `aiw ask`. Only titles are
loaded; a session's messages load when you open it.

- **Enter** opens the highlighted session; **n** starts a new one (also **Ctrl+N**)
- **r** renames, **d** deletes (after a confirmation), **x** exports as Markdown
  (**X** as JSON) into the project directory
- **/** (or **Ctrl+F** from anywhere) searches the text of every message of every session;
  **Enter** on a hit opens its session at that message; **Esc** clears the search
"""

    class OpenRequested(Message):
        def __init__(self, session_id: str, message_id: int | None = None) -> None:
            super().__init__()
            self.session_id = session_id
            self.message_id = message_id

    class ActionRequested(Message):
        def __init__(self, action: str, session_id: str | None) -> None:
            super().__init__()
            self.action = action
            self.session_id = session_id

    class RefreshRequested(Message):
        """The list got focus: worth re-reading the titles (`aiw ask` may have added some)."""

    class SearchRequested(Message):
        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sessions: list[Any] = []
        self.current_id: str | None = None
        self.mode = "titles"
        self._debounce: Timer | None = None
        self._status = Static("Loading sessions…", classes="pane-status", markup=True)
        self.search_input = Input(placeholder="Search all sessions", id="session-search")
        self.options = SessionOptions(id="session-options")

    def compose(self) -> Any:
        yield Static("Sessions", classes="pane-title")
        yield self.search_input
        yield self._status
        yield self.options

    # ---- state from the app

    def set_status(self, markup: str | None) -> None:
        self._status.update(markup or "")
        self._status.display = bool(markup)

    def set_sessions(self, sessions: Sequence[Any], current_id: str | None = None) -> None:
        def key(items: Sequence[Any]) -> list[tuple[Any, ...]]:
            return [(s.id, s.title, s.message_count, s.model) for s in items]

        unchanged = key(sessions) == key(self.sessions) and current_id == self.current_id
        self.sessions = list(sessions)
        self.current_id = current_id
        if self.mode == "titles" and (not unchanged or not self.options.option_count):
            self._show_titles()

    def set_current(self, current_id: str | None) -> None:
        self.current_id = current_id
        if self.mode == "titles":
            self._show_titles()

    def _title_option(self, session: Any) -> Option:
        current = session.id == self.current_id
        mark = "[$accent]●[/] " if current else ""
        title = escape(_clip(session.title or "(untitled)", 60))
        count = session.message_count
        meta = f"{count} message{'s' if count != 1 else ''}"
        if session.model:
            meta += f" · {session.model.rsplit('/', 1)[-1]}"
        prompt = Content.from_markup(f"{mark}[b]{title}[/b]\n[dim]{escape(meta)}[/dim]")
        return Option(prompt, id=f"s:{session.id}")

    def _show_titles(self) -> None:
        options = self.options
        highlighted = options.highlighted_option
        keep = highlighted.id if highlighted is not None else None
        options.set_options([self._title_option(s) for s in self.sessions])
        if not self.sessions:
            self.set_status("[dim]No sessions yet: type a prompt to start one.[/dim]")
        else:
            self.set_status(None)
        target = keep or (f"s:{self.current_id}" if self.current_id else None)
        index = None
        if target is not None:
            try:
                index = options.get_option_index(target)
            except Exception:
                index = None
        if index is None and self.sessions:
            index = 0
        options.highlighted = index

    def show_results(self, query: str, hits: Sequence[Any]) -> None:
        if self.search_input.value.strip() != query.strip():
            return  # a newer query is on its way
        self.mode = "results"
        options = []
        for hit in hits:
            snippet = escape(_clip(hit.snippet, 200))
            snippet = snippet.replace(HL_OPEN, "[b $accent]").replace(HL_CLOSE, "[/]")
            title = escape(_clip(hit.session_title or "(untitled)", 60))
            prompt = Content.from_markup(f"[b]{title}[/b]\n[dim]{hit.role}:[/dim] {snippet}")
            options.append(Option(prompt, id=f"h:{hit.session_id}:{hit.message_id}"))
        self.options.set_options(options)
        found = len(hits)
        self.set_status(
            f"[dim]{found} match{'es' if found != 1 else ''} for[/dim] {escape(query)}"
            if found
            else f"[dim]No message matches[/dim] {escape(query)}"
        )
        if options:
            self.options.highlighted = 0

    def clear_search(self) -> None:
        self.search_input.value = ""
        self.mode = "titles"
        self._show_titles()

    # ---- user input

    def request(self, action: str) -> None:
        if action == "search":
            self.search_input.focus()
            return
        if action == "clear_search":
            if self.mode == "results" or self.search_input.value:
                self.clear_search()
            return
        option = self.options.highlighted_option
        session_id = None
        if option is not None and option.id:
            session_id = option.id.split(":", 2)[1]
        self.post_message(self.ActionRequested(action, session_id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id or ""
        kind, _, rest = option_id.partition(":")
        if kind == "s":
            self.post_message(self.OpenRequested(rest))
        elif kind == "h":
            session_id, _, message_id = rest.rpartition(":")
            self.post_message(self.OpenRequested(session_id, int(message_id)))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._debounce is not None:
            self._debounce.stop()
        query = event.value.strip()
        if not query:
            self.mode = "titles"
            self._show_titles()
            return
        self._debounce = self.set_timer(
            0.25, lambda: self.post_message(self.SearchRequested(query))
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        query = event.value.strip()
        if query:
            if self._debounce is not None:
                self._debounce.stop()
            self.post_message(self.SearchRequested(query))
        self.options.focus()

    def on_descendant_focus(self, event: Any) -> None:
        if event.widget is self.options:
            self.post_message(self.RefreshRequested())

    def on_key(self, event: Any) -> None:
        if self.search_input.has_focus:
            if event.key == "down":
                event.stop()
                self.options.focus()
            elif event.key == "escape":
                event.stop()
                self.clear_search()
                self.options.focus()
