"""Session management for the UI's session list: list, open, rename, delete, search, export.

A thin service over :class:`~ai_workbench.chat.store.ChatStore` so the UI never touches SQLite.
Unknown ids raise :class:`~ai_workbench.chat.store.SessionNotFound`; :meth:`SessionService.open`
and :meth:`SessionService.export` also accept a unique id prefix (an ambiguous one raises
:class:`~ai_workbench.chat.store.AmbiguousSession`).

Usage::

    sessions = SessionService(store)
    for s in await sessions.titles():
        print(s.id[:8], s.title, s.message_count)
    session, messages = await sessions.open(some_id)
    markdown = await sessions.export(session.id, "md")
"""

from __future__ import annotations

import enum
from typing import Literal

from ai_workbench.chat.export import session_json, session_markdown
from ai_workbench.chat.store import LOCAL_OWNER, Message, SearchHit, Session
from ai_workbench.chat.store import ChatStore as Store

__all__ = ["ExportFormat", "SearchHit", "Session", "SessionService"]

ExportFormat = Literal["md", "json"]


class _Keep(enum.Enum):
    KEEP = enum.auto()


KEEP = _Keep.KEEP  # set_model: leave the session's endpoint as it is
EXPORT_FORMATS: tuple[str, ...] = ("md", "json")


class SessionService:
    """Session operations on top of a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def titles(
        self,
        limit: int = 500,
        *,
        include_failed: bool = True,
        keep: str | None = None,
        owner: str = LOCAL_OWNER,
    ) -> list[Session]:
        """Sessions for the list, most recently updated first: metadata and message counts only.

        Without ``include_failed``, sessions that never got an answer are left out (as
        :meth:`listing` does), except ``keep`` (the one on screen).
        """
        if include_failed:
            return await self.store.list_sessions(limit=limit, owner=owner)
        failed = await self.store.failed_session_ids(owner=owner)
        failed.discard(keep or "")
        sessions = await self.store.list_sessions(limit=limit + len(failed), owner=owner)
        return [s for s in sessions if s.id not in failed][:limit]

    async def listing(
        self, limit: int | None = 50, *, include_failed: bool = False, owner: str = LOCAL_OWNER
    ) -> tuple[list[Session], set[str]]:
        """Sessions for `aiw sessions list`, most recent first, and the ids of failed ones.

        A *failed* session never got an answer: every request in it failed before a word came
        back (the model was unreachable, the key missing, ...). Its prompts are kept (they are
        saved before anything is sent), but it is left out unless ``include_failed``, so that
        a first run against a server that was not up does not fill the list with junk. It
        shows again as soon as one answer in it succeeds.
        """
        shown: list[Session] = []
        failed: set[str] = set()
        for session in await self.store.list_sessions(owner=owner):
            if limit is not None and len(shown) >= limit:
                break
            if session.message_count and await self._never_answered(session.id):
                failed.add(session.id)
                if not include_failed:
                    continue
            shown.append(session)
        return shown, failed

    async def _never_answered(self, session_id: str) -> bool:
        answers = [m for m in await self.store.get_messages(session_id) if m.role == "assistant"]
        return bool(answers) and all(m.status == "error" and not m.content for m in answers)

    async def open(
        self, session_id: str, *, owner: str = LOCAL_OWNER
    ) -> tuple[Session, list[Message]]:
        """The session (by id or unique prefix, among ``owner``'s) and its messages in order,
        with attachments."""
        session = await self.store.get_session(session_id, owner=owner)
        messages = await self.store.get_messages(session.id)
        return session, messages

    async def new(
        self,
        *,
        persona: str | None = None,
        model: str | None = None,
        title: str = "",
        owner: str = LOCAL_OWNER,
    ) -> Session:
        """Create an empty session."""
        return await self.store.create_session(
            title=title, persona=persona, model=model, owner=owner
        )

    async def rename(self, session_id: str, title: str) -> Session:
        """Set the session's title (surrounding whitespace removed); return the session."""
        return await self.store.update_session(session_id, title=title.strip())

    async def delete(self, session_id: str) -> None:
        """Delete the session with its messages and attachments (ratings are kept)."""
        await self.store.delete_session(session_id)

    async def set_persona(self, session_id: str, persona: str | None) -> Session:
        """Use ``persona`` for the session's next turns (``None``: the default persona)."""
        return await self.store.update_session(session_id, persona=persona)

    async def set_model(
        self, session_id: str, model: str | None, api_base: str | _Keep | None = KEEP
    ) -> Session:
        """Use ``model`` (at ``api_base``, when given) for the session's next turns
        (``None``: the configured default, at its own endpoint)."""
        if isinstance(api_base, _Keep):
            if model is not None:
                return await self.store.update_session(session_id, model=model)
            api_base = None
        return await self.store.update_session(session_id, model=model, api_base=api_base)

    async def search(
        self,
        query: str,
        limit: int = 50,
        *,
        highlight: tuple[str, str] = ("[", "]"),
        owner: str = LOCAL_OWNER,
        since: float | None = None,
        model: str | None = None,
    ) -> list[SearchHit]:
        """Search every message, best first (``aiw sessions search``, the workbench's session
        search, the MCP server's tool): words ranked by FTS5's bm25, where all words must occur,
        ``word*`` is a prefix and FTS5 syntax is plain text, merged with substring matches of
        the whole query (``KeyError: 'id'``, ``foo_bar(``) from the trigram index, each message
        once. ``since`` (unix time) and ``model`` narrow it. An empty query returns ``[]``.
        Matched text in each hit's ``snippet`` is wrapped in ``highlight``."""
        if not query or not query.strip():
            return []
        return await self.store.search_messages(
            query, limit, highlight=highlight, since=since, model=model, owner=owner
        )

    async def export(
        self, session_id: str, fmt: ExportFormat | str = "md", *, owner: str = LOCAL_OWNER
    ) -> str:
        """The whole session as Markdown (``"md"``) or JSON (``"json"``) text."""
        if fmt not in EXPORT_FORMATS:
            raise ValueError(
                f"export format must be one of {', '.join(EXPORT_FORMATS)}; got {fmt!r}"
            )
        from ai_workbench.core.feedback import FeedbackService

        session, messages = await self.open(session_id, owner=owner)
        feedback = await FeedbackService(self.store).for_targets(
            "message", [m.id for m in messages], owner=owner
        )
        if fmt == "json":
            return session_json(session, messages, feedback)
        return session_markdown(session, messages, feedback)
