"""The conversation: one :class:`MessageView` per message in a :class:`ChatLog`.

Answers stream into a view's :class:`~textual.widgets.Markdown` through
``Markdown.get_stream`` (the app's chat worker drives it); the log is anchored so it follows
the stream until the user scrolls up.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.widgets import Static

CODE_BLOCK = re.compile(r"^(`{3,}|~{3,})[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)


def code_blocks(markdown: str) -> list[str]:
    """The bodies of the fenced code blocks in ``markdown``, in order."""
    return [m.group(2).rstrip("\n") for m in CODE_BLOCK.finditer(markdown)]


def _tokens(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1000:.1f}k" if n >= 10_000 else str(n)


@dataclass
class MessageInfo:
    """What a message view shows besides the text itself."""

    role: str
    message_id: int | None = None
    status: str = "complete"  # complete | partial | error
    model: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: float | None = None  # US dollars; None when unknown
    attachments: list[str] = field(default_factory=list)
    error: str | None = None
    rating: int | None = None
    comment: str | None = None
    streaming: bool = False
    waiting: str | None = None  # e.g. "loading model client…"
    note: str | None = None  # e.g. where an answer the database refused was kept


class MessageView(Vertical):
    """One message: a header line (who, model, tokens, status, rating) and its Markdown."""

    def __init__(self, text: str, info: MessageInfo) -> None:
        super().__init__(classes=f"message -{info.role}")
        self.text = text
        self.info = info
        from textual.widgets import Markdown  # markdown-it loads with the first message

        self._header = Static(classes="msg-header", markup=True)
        self._body = Markdown(text, classes="msg-body")
        self._error = Static(classes="msg-error", markup=True)

    @property
    def markdown(self) -> Any:
        return self._body

    @property
    def role(self) -> str:
        return self.info.role

    def compose(self) -> Any:
        yield self._header
        yield self._body
        yield self._error

    def on_mount(self) -> None:
        self.refresh_info()

    def update_info(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self.info, key, value)
        if self.is_mounted:
            self.refresh_info()

    def refresh_info(self) -> None:
        info = self.info
        self.set_class(info.status == "partial" and not info.streaming, "-partial")
        self.set_class(info.status == "error" and not info.streaming, "-failed")
        self.set_class(not self.text and info.role == "assistant", "-empty")
        self._header.update(self.header_markup())
        if info.error and not info.streaming:
            hint = (
                "[dim]Your message is kept: select this answer (ctrl+l) and press r to retry.[/]"
                if info.status == "error"
                else "[dim]Select it (ctrl+l) and press r to regenerate.[/]"
            )
            self._error.update(f"{escape(info.error)}\n{hint}")
            self._error.display = True
        elif info.note and not info.streaming:
            self._error.update(f"[$warning]{escape(info.note)}[/]")
            self._error.display = True
        else:
            self._error.display = False

    def header_markup(self) -> str:
        info = self.info
        parts: list[str] = []
        if info.role == "system":  # a summary note (short-term memory, chat/summaries.py)
            parts.append("[b $warning]Summary of the earlier conversation[/] [dim]· memory[/dim]")
        elif info.role == "user":
            parts.append("[b]You[/b]")
            from ai_workbench.core.context import estimate_tokens

            parts.append(f"[dim]~{_tokens(estimate_tokens(self.text))} tok[/dim]")
            parts.extend(f"[$accent]@{escape(name)}[/]" for name in info.attachments)
        else:
            who = "[b $primary]Assistant[/]"
            if info.model:
                who += f" [dim]· {escape(info.model)}[/dim]"
            parts.append(who)
            if info.waiting:
                parts.append(f"[$warning]{escape(info.waiting)}[/]")
            elif info.streaming:
                parts.append("[$accent]streaming… (esc cancels)[/]")
            elif info.tokens_in is not None or info.tokens_out is not None:
                tokens_in, tokens_out = _tokens(info.tokens_in), _tokens(info.tokens_out)
                parts.append(f"[dim]in\u00a0{tokens_in} · out\u00a0{tokens_out}\u00a0tok[/dim]")
                if info.cost is not None:
                    from ai_workbench.core.llm.costs import format_cost

                    parts.append(f"[dim]{format_cost(info.cost)}[/dim]")
            if not info.streaming:
                if info.status == "partial":
                    parts.append("[b $warning]partial[/]")
                elif info.status == "error":
                    parts.append("[b $error]failed[/]")
            if info.rating == 1:
                parts.append("[b $success]▲\u00a0liked[/]")
            elif info.rating == -1:
                parts.append("[b $error]▼\u00a0disliked[/]")
            if info.rating and info.comment:
                comment = info.comment if len(info.comment) <= 60 else info.comment[:59] + "…"
                parts.append(f"[i]“{escape(comment)}”[/i]")
        return "  ".join(parts)

    def set_selected(self, selected: bool) -> None:
        self.set_class(selected, "-selected")

    def add_tool_line(self, line: Any, *, replace_last: bool = False) -> None:
        """Show a tool call (or its result, over the call's line) above the answer's text, as
        a ``Content`` (untrusted text is never markup); the lines are the conversation's, not
        the saved answer's."""
        from textual.content import Content

        lines: list[Any] = getattr(self, "tool_lines", [])
        if replace_last and lines:
            lines[-1] = line
        else:
            lines.append(line)
        self.tool_lines = lines
        tools = next(iter(self.query(".msg-tools").results(Static)), None)
        if tools is None:
            tools = Static(classes="msg-tools")
            self.mount(tools, before=self._body)
        tools.update(Content("\n").join(lines))


class ChatLog(VerticalScroll, can_focus=True):
    """The conversation of the open session."""

    HELP = """\
## Conversation

The open session as Markdown; answers stream in at the bottom and the view follows them
until you scroll up.

Move between messages with **up/down** (or **k/j**). On the selected message:

- **+** / **-** like or dislike an answer, with an optional comment (press again to edit it)
- **c** copies the message, **y** copies a code block from it
- **e** puts a prompt back into the prompt box to edit and resend it
- **r** regenerates an answer (or retries a failed turn)
- **o** opens a location the answer cites (`path:12-30`) in your editor

**Esc** cancels a streaming answer; what arrived so far is kept, marked *partial*.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "select(-1)", "Previous", id="chat.previous", show=False),
        Binding("down,j", "select(1)", "Next", id="chat.next", show=False),
        Binding("plus", "act('like')", "Like", id="chat.like", tooltip="Like this answer"),
        Binding(
            "minus", "act('dislike')", "Dislike", id="chat.dislike", tooltip="Dislike this answer"
        ),
        Binding("c", "act('copy')", "Copy", id="chat.copy", tooltip="Copy the message"),
        Binding("y", "act('copy_code')", "Code", id="chat.copy_code", tooltip="Copy a code block"),
        Binding("e", "act('edit')", "Edit", id="chat.edit", tooltip="Edit and resend the prompt"),
        Binding("r", "act('regenerate')", "Regenerate", id="chat.regenerate"),
        Binding("o", "act('open_citation')", "Open cited", id="chat.open_citation", show=False),
        Binding("i", "app.focus_prompt", "Prompt", id="chat.prompt", show=False),
    ]

    class Action(Message):
        """The user asked for ``action`` on ``view``."""

        def __init__(self, action: str, view: MessageView) -> None:
            super().__init__()
            self.action = action
            self.view = view

    #: Messages mounted when a session opens; older ones are mounted a page at a time when the
    #: user scrolls or moves to the top. A 200-message session then opens in a fraction of the
    #: time and memory (bench/idle_memory.py), and nothing is lost: they are all still there.
    PAGE = 40

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.selected_index = -1
        self._empty = Static(classes="chat-empty", markup=True)
        self._more = Static(classes="chat-more", markup=True)
        self._earlier: list[MessageView] = []  # not mounted yet, oldest first
        self._earlier_lock = asyncio.Lock()

    def compose(self) -> Any:
        yield self._more
        yield self._empty

    def on_mount(self) -> None:
        self.anchor()

    def set_empty_text(self, markup: str) -> None:
        self._empty.update(markup)

    @property
    def views(self) -> list[MessageView]:
        return list(self.query_children(MessageView))

    def _sync_empty(self) -> None:
        self._empty.display = not any(True for _ in self.query_children(MessageView))

    def _sync_more(self) -> None:
        count = len(self._earlier)
        self._more.display = bool(count)
        if count:
            self._more.update(
                f"[dim]↑ {count} earlier message{'s' if count != 1 else ''}: scroll up or "
                "move above the first to load them[/dim]"
            )

    @property
    def earlier_count(self) -> int:
        """Messages of the open session not mounted yet (older than the first shown)."""
        return len(self._earlier)

    async def clear_messages(self) -> None:
        self.selected_index = -1
        self._earlier = []
        await self.remove_children(MessageView)
        self._sync_empty()
        self._sync_more()

    async def load(self, views: Sequence[MessageView]) -> None:
        self.selected_index = -1
        await self.remove_children(MessageView)
        views = list(views)
        split = max(0, len(views) - self.PAGE)
        while split > 0 and views[split].role != "user":
            split -= 1  # start at a prompt, so every shown answer has its question
        self._earlier, shown = views[:split], views[split:]
        if shown:
            await self.mount_all(shown)
        self._sync_empty()
        self._sync_more()
        self.scroll_end(animate=False, immediate=True)
        self.anchor()

    async def load_earlier(self, count: int | None = None) -> int:
        """Mount the next ``count`` (a page) older messages above the first; how many."""
        async with self._earlier_lock:
            return await self._load_earlier(count)

    async def _load_earlier(self, count: int | None = None) -> int:
        if not self._earlier:
            return 0
        take = min(len(self._earlier), count or self.PAGE)
        while take < len(self._earlier) and self._earlier[-take].role != "user":
            take += 1
        batch = self._earlier[-take:]
        del self._earlier[-take:]
        first = next(iter(self.query_children(MessageView)), None)
        selected = self.selected
        if first is not None:
            await self.mount_all(batch, before=first)
        else:
            await self.mount_all(batch)
        if selected is not None:
            self.selected_index = self.views.index(selected)
        self._sync_more()
        if first is not None:
            self.call_after_refresh(self.scroll_to_widget, first, animate=False, top=True)
        return take

    async def _load_earlier_at_top(self) -> None:
        async with self._earlier_lock:
            if self.scroll_y <= 0:
                await self._load_earlier()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value <= 0 < old_value and self._earlier:
            self.run_worker(self._load_earlier_at_top(), group="chat-earlier", exclusive=True)

    async def add(self, view: MessageView) -> MessageView:
        await self.mount(view)
        self._sync_empty()
        self.anchor()
        return view

    def find(self, message_id: int) -> MessageView | None:
        for view in self.query_children(MessageView):
            if view.info.message_id == message_id:
                return view
        return None

    async def reveal(self, message_id: int) -> MessageView | None:
        """Find a message, mounting older pages until it is there (search results jump here)."""
        if any(view.info.message_id == message_id for view in self._earlier):
            while self._earlier and self.find(message_id) is None:
                await self.load_earlier()
        return self.find(message_id)

    def select_view(self, view: MessageView | None, *, center: bool = True) -> None:
        views = self.views
        for item in views:
            item.set_selected(item is view)
        self.selected_index = views.index(view) if view in views else -1
        if view is not None:
            self.release_anchor()
            self.scroll_to_widget(view, animate=False, top=not center, center=center)

    @property
    def selected(self) -> MessageView | None:
        views = self.views
        if 0 <= self.selected_index < len(views):
            return views[self.selected_index]
        return None

    def last(self, role: str | None = None) -> MessageView | None:
        for view in reversed(self.views):
            if role is None or view.role == role:
                return view
        return None

    def target(self, role: str | None = None) -> MessageView | None:
        """The selected message, or the last one (of ``role``) when none is selected."""
        return self.selected or self.last(role)

    def on_focus(self) -> None:
        if self.selected is None:
            last = self.last("assistant") or self.last()
            if last is not None:
                self.select_view(last, center=False)

    def on_blur(self) -> None:
        pass

    async def action_select(self, step: int) -> None:
        views = self.views
        if not views:
            return
        if step < 0 and self.selected_index == 0 and self._earlier:
            async with self._earlier_lock:  # a scroll to the top may be loading a page now
                if self.selected_index == 0:
                    await self._load_earlier()
            views = self.views
        index = self.selected_index
        index = len(views) - 1 if index < 0 else max(0, min(len(views) - 1, index + step))
        self.select_view(views[index], center=False)

    def action_act(self, action: str) -> None:
        answers_only = ("like", "dislike", "copy_code", "regenerate", "open_citation")
        role = "assistant" if action in answers_only else None
        view = self.selected
        if view is None or (role and view.role != role and action != "regenerate"):
            view = self.last(role)
        if view is None:
            self.app.bell()
            return
        self.post_message(self.Action(action, view))

    def previous_user(self, view: MessageView) -> MessageView | None:
        """The user message that ``view`` answers (``view`` itself if it is a user message)."""
        views = self.views
        if view not in views:
            return None
        for item in reversed(views[: views.index(view) + 1]):
            if item.role == "user":
                return item
        return None

    def session_cost(self) -> float | None:
        """Dollars for the session's answers, None when no answer's cost is known."""
        costs = [v.info.cost for v in [*self._earlier, *self.views] if v.info.cost is not None]
        return sum(costs) if costs else None

    def session_tokens(self) -> int:
        every = [*self._earlier, *self.views]
        return sum((v.info.tokens_in or 0) + (v.info.tokens_out or 0) for v in every)


def views_from_messages(messages: Iterable[Any], ratings: dict[str, Any]) -> list[MessageView]:
    """Message views for stored messages (``chat.store.Message``) with their ratings."""
    import os

    views = []
    from ai_workbench.chat.summaries import is_summary_note

    for message in messages:
        if message.role == "system" and not is_summary_note(message.role, message.content):
            continue
        feedback = ratings.get(str(message.id))
        info = MessageInfo(
            role=message.role,
            message_id=message.id,
            status=message.status,
            model=message.model,
            tokens_in=message.tokens_in,
            tokens_out=message.tokens_out,
            cost=message.cost,
            attachments=[os.path.basename(a.path) for a in message.attachments],
            error=message.error if message.status != "complete" else None,
            rating=feedback.rating if feedback else None,
            comment=feedback.comment if feedback else None,
        )
        if message.status == "partial" and info.error == "interrupted":
            info.error = None  # cancelled by the user: the "partial" tag says it all
        views.append(MessageView(message.content, info))
    return views
