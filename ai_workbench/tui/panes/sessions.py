"""The sessions pane (left): titles, full-text search, rename, delete and export. Opening a
session and starting a new one are the conversation's: those messages go on up to the app."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from textual import on, work

from ai_workbench.core.events import SessionsChanged
from ai_workbench.tui.context import Workbench, clip, escape
from ai_workbench.tui.messages import SessionDeleted, SessionEdited
from ai_workbench.tui.widgets.session_list import HL_CLOSE, HL_OPEN, SessionList


class SessionsPane(SessionList):
    """Reads and edits sessions through the session service; tells the app what changed."""

    def __init__(self, ctx: Workbench, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx
        self.last_export: Path | None = None
        self._unsubscribe: Any = None

    def on_mount(self) -> None:
        # Sessions `aiw ask` adds in another terminal arrive as events (chat/feed.py).
        self._unsubscribe = self.ctx.bus.on(self._sessions_changed, SessionsChanged)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    def _sessions_changed(self, event: SessionsChanged) -> None:
        if self.mode == "titles":
            self.reload()

    # ---- titles

    async def load_titles(self) -> None:
        if self.ctx.sessions is None:
            return
        try:
            # Sessions that never got an answer (the model was down) are left out, as
            # `aiw sessions list` does (`--all` shows them); the one on screen stays.
            titles = await self.ctx.sessions.titles(include_failed=False, keep=self.current_id)
        except Exception as exc:
            self.set_status(f"[$error]{escape(str(exc))}[/]")
            return
        self.set_sessions(titles, self.current_id)

    @work(group="titles", exclusive=True, exit_on_error=False)
    async def reload(self) -> None:
        await self.load_titles()

    def shown(self, session_id: str | None, changed: bool) -> None:
        """The conversation now shows ``session_id``; ``changed``: its title or count may have."""
        if session_id != self.current_id:
            self.set_current(session_id)
        if changed and self.ctx.sessions is not None:
            self.reload()

    @on(SessionList.RefreshRequested)
    def _refresh(self, event: SessionList.RefreshRequested) -> None:
        event.stop()
        if self.ctx.sessions is not None:
            self.reload()

    # ---- search

    @on(SessionList.SearchRequested)
    def _search_requested(self, event: SessionList.SearchRequested) -> None:
        event.stop()
        self._search(event.query)

    @work(group="search", exclusive=True, exit_on_error=False)
    async def _search(self, query: str) -> None:
        if not await self.ctx.wait_store():
            return
        try:
            hits = await self.ctx.sessions.search(query, highlight=(HL_OPEN, HL_CLOSE))
        except Exception as exc:
            self.set_status(f"[$error]search failed: {escape(str(exc))}[/]")
            return
        self.show_results(query, hits)

    # ---- rename, delete, export

    @on(SessionList.ActionRequested)
    def _action(self, event: SessionList.ActionRequested) -> None:
        if event.action == "new":
            return  # the conversation's: goes on up
        event.stop()
        if event.session_id is None:
            self.app.bell()
            return
        if event.action == "rename":
            self.rename(event.session_id)
        elif event.action == "delete":
            self.delete(event.session_id)
        elif event.action in ("export_md", "export_json"):
            self.export(event.session_id, event.action.removeprefix("export_"))

    def session_by_id(self, session_id: str) -> Any:
        return next((s for s in self.sessions if s.id == session_id), None)

    def highlighted_id(self) -> str | None:
        option = self.options.highlighted_option
        if option is not None and option.id:
            return option.id.split(":", 2)[1]
        return None

    def command(self, action: str, open_session: Any) -> None:
        """A palette command: on the open session, else the highlighted one."""
        target = open_session.id if open_session is not None else self.highlighted_id()
        if target is None:
            verb = action.partition("_")[0]
            self.notify(f"No session to {verb} yet.", severity="warning")
            return
        self.post_message(self.ActionRequested(action, target))

    def rename(self, session_id: str) -> None:
        from ai_workbench.tui.screens.confirm import TextPromptScreen

        session = self.session_by_id(session_id)
        title = session.title if session else ""

        def done(new_title: str | None) -> None:
            if new_title is not None and new_title.strip() and new_title.strip() != title:
                self._rename(session_id, new_title.strip())

        self.app.push_screen(TextPromptScreen("Rename session", title, "Session title"), done)

    @work(group="session-edit", exit_on_error=False)
    async def _rename(self, session_id: str, title: str) -> None:
        try:
            session = await self.ctx.sessions.rename(session_id, title)
        except Exception as exc:
            self.notify(str(exc), title="Rename", severity="error")
            return
        self.post_message(SessionEdited(session))
        await self.load_titles()
        self.notify(f"Renamed to “{clip(title, 60)}”")

    def delete(self, session_id: str) -> None:
        from ai_workbench.tui.screens.confirm import ConfirmScreen

        session = self.session_by_id(session_id)
        label = f"“{clip(session.title, 50)}”" if session and session.title else "this session"
        count = session.message_count if session else 0
        message = (
            f"{label} and its {count} message{'s' if count != 1 else ''} will be deleted. "
            "This cannot be undone."
        )

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._delete(session_id)

        self.app.push_screen(ConfirmScreen("Delete session?", message, yes="Delete"), done)

    @work(group="session-edit", exit_on_error=False)
    async def _delete(self, session_id: str) -> None:
        try:
            await self.ctx.sessions.delete(session_id)
        except Exception as exc:
            self.notify(str(exc), title="Delete", severity="error")
            return
        self.post_message(SessionDeleted(session_id))
        await self.load_titles()
        self.notify("Session deleted")

    @work(group="export", exit_on_error=False)
    async def export(self, session_id: str, fmt: str) -> None:
        try:
            text = await self.ctx.sessions.export(session_id, fmt)
            session = self.session_by_id(session_id)
            title = session.title if session else ""
            folder = self.ctx.project_root
            path = await asyncio.to_thread(write_export, folder, session_id, title, fmt, text)
        except Exception as exc:
            self.notify(f"export failed: {exc}", title="Export", severity="error")
            return
        self.last_export = path
        self.notify(f"Exported to {path}", title="Export", timeout=8)


def write_export(folder: Path, session_id: str, title: str, fmt: str, text: str) -> Path:
    import re

    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "session"
    path = folder / f"aiw-{slug}-{session_id[:8]}.{fmt}"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
