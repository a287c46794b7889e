"""Chat's tables and queries: sessions, messages, attachments and full-text search over messages.

The SQL lives here, beside the chat capability; the connection, transactions and error messages
come from the database kernel (:class:`ai_workbench.core.db.Database`). The DDL is in
:mod:`ai_workbench.chat.schema`. :class:`ChatStore` adds the chat methods to the kernel; the
store that interfaces open (:class:`ai_workbench.store.Store`) is composed from it, so
``store.add_message(...)`` works on that store as before.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from ai_workbench.core.db import LOCAL_OWNER, UNSET, Database, StoreError, _Unset, from_row
from ai_workbench.core.errors import EXIT_INPUT

__all__ = [
    "LOCAL_OWNER",
    "ROLES",
    "STATUSES",
    "AmbiguousSession",
    "Attachment",
    "ChatStore",
    "Message",
    "MessageNotFound",
    "Role",
    "SearchHit",
    "Session",
    "SessionNotFound",
    "Status",
    "fts_query",
]

Role = Literal["system", "user", "assistant"]
Status = Literal["complete", "partial", "error"]
ROLES: Final[tuple[str, ...]] = ("system", "user", "assistant")
STATUSES: Final[tuple[str, ...]] = ("complete", "partial", "error")


# --------------------------------------------------------------------------------------- errors


class SessionNotFound(StoreError):
    """No session has this id or id prefix."""

    exit_code = EXIT_INPUT

    def __init__(self, query: str, *, path: Path | None = None) -> None:
        super().__init__(f"no session matches {query!r}", path=path)
        self.query = query


class AmbiguousSession(StoreError):
    """An id prefix matches more than one session."""

    exit_code = EXIT_INPUT

    def __init__(
        self, query: str, matches: Sequence[Session], total: int, *, path: Path | None = None
    ) -> None:
        width = min(32, max(8, len(query) + 2))
        shown = ", ".join(
            f"{s.id[:width]}… " + (f'"{_clip(s.title, 40)}"' if s.title else "(untitled)")
            for s in matches
        )
        if total > len(matches):
            shown += ", …"
        super().__init__(
            f"{query!r} matches {total} sessions: {shown}; type more characters", path=path
        )
        self.query = query
        self.matches = list(matches)
        self.total = total


class MessageNotFound(StoreError):
    """No message has this id."""

    exit_code = EXIT_INPUT

    def __init__(self, message_id: int, *, path: Path | None = None) -> None:
        super().__init__(f"no message with id {message_id}", path=path)
        self.message_id = message_id


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------------------------- records


@dataclass(slots=True)
class Session:
    id: str
    title: str
    persona: str | None
    model: str | None
    context: list[str]
    created: float
    updated: float
    message_count: int = 0
    api_base: str | None = None
    owner: str = "local"  # the aiw user it belongs to ('local': the workbench and the CLI)


@dataclass(slots=True)
class Attachment:
    id: int
    message_id: int
    path: str
    sha256: str | None
    size: int | None


@dataclass(slots=True)
class Message:
    id: int
    session_id: str
    role: str
    content: str
    status: str
    model: str | None
    provider: str | None
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: int | None
    cost: float | None
    error: str | None
    created: float
    updated: float
    attachments: list[Attachment] = field(default_factory=list)


@dataclass(slots=True)
class SearchHit:
    session_id: str
    session_title: str
    message_id: int
    role: str
    snippet: str
    created: float = 0.0
    model: str | None = None
    match: str = "words"  # words (FTS5, bm25) | text (trigram substring) | both

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "session_title": self.session_title,
            "message_id": self.message_id,
            "role": self.role,
            "snippet": self.snippet,
            "created": self.created,
            "model": self.model,
            "match": self.match,
        }


# ---------------------------------------------------------------------------------- queries

_SESSION_SELECT = (
    "SELECT s.id, s.title, s.persona, s.model, s.api_base, s.context, s.created, s.updated,"
    " s.owner,"
    " (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS message_count"
    " FROM sessions s"
)
_MESSAGE_COLUMNS = (
    "id, session_id, role, content, status, model, provider, tokens_in, tokens_out,"
    " latency_ms, cost, error, created, updated"
)
_AMBIGUOUS_SHOWN: Final = 5
_WORD = re.compile(r"\w")
RANK_WINDOW: Final = 2_000  # bm25 ranks at most this many (the newest) matches of a query
_CODE_LIKE = re.compile(r"[^\w\s*]")  # punctuation: a code fragment or an error message


class ChatStore(Database):
    """The kernel plus chat's queries (sessions, messages, attachments, search)."""

    # ---- sessions

    async def create_session(
        self,
        *,
        title: str = "",
        persona: str | None = None,
        model: str | None = None,
        context: Iterable[str] | None = None,
        api_base: str | None = None,
        owner: str = LOCAL_OWNER,
    ) -> Session:
        now = time.time()
        session = Session(
            id=uuid.uuid4().hex,
            title=title,
            persona=persona,
            model=model,
            context=list(context or []),
            created=now,
            updated=now,
            api_base=api_base,
            owner=owner,
        )
        async with self._write() as db:
            await self._run(
                db,
                "INSERT INTO sessions (id, title, persona, model, api_base, context, created,"
                " updated, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session.id,
                    title,
                    persona,
                    model,
                    api_base,
                    json.dumps(session.context),
                    now,
                    now,
                    owner,
                ),
            )
        return session

    async def get_session(self, id_or_prefix: str, *, owner: str = LOCAL_OWNER) -> Session:
        """The session with this id, or the only one whose id starts with it (case-insensitive),
        among ``owner``'s sessions (another user's session is "not found", never shown)."""
        query = id_or_prefix.strip().lower()
        if not query:
            raise SessionNotFound(id_or_prefix, path=self.path)
        async with self._read() as db:
            row = await self._one(
                db, f"{_SESSION_SELECT} WHERE s.id = ? AND s.owner = ?", (query, owner)
            )
            if row is not None:
                return _session(row)
            # Range scan on the primary key index: every id that starts with `query`.
            bounds = (query, query + "\U0010ffff", owner)
            (total,) = await self._one(
                db,
                "SELECT COUNT(*) FROM sessions WHERE id >= ? AND id < ? AND owner = ?",
                bounds,
            )
            rows = await self._all(
                db,
                f"{_SESSION_SELECT} WHERE s.id >= ? AND s.id < ? AND s.owner = ?"
                " ORDER BY s.updated DESC LIMIT ?",
                (*bounds, _AMBIGUOUS_SHOWN),
            )
        if total == 0:
            raise SessionNotFound(id_or_prefix, path=self.path)
        if total > 1:
            raise AmbiguousSession(id_or_prefix, [_session(r) for r in rows], total, path=self.path)
        return _session(rows[0])

    async def list_sessions(
        self, limit: int | None = None, *, owner: str = LOCAL_OWNER
    ) -> list[Session]:
        """``owner``'s sessions, most recently updated first, with their message counts."""
        async with self._read() as db:
            rows = await self._all(
                db,
                f"{_SESSION_SELECT} WHERE s.owner = ?"
                " ORDER BY s.updated DESC, s.created DESC LIMIT ?",
                (owner, -1 if limit is None else max(0, limit)),
            )
        return [_session(r) for r in rows]

    async def failed_session_ids(self, *, owner: str = LOCAL_OWNER) -> set[str]:
        """Sessions that never got an answer: they have answers and every one failed empty
        (one query; what :meth:`SessionService.listing` leaves out)."""
        async with self._read() as db:
            rows = await self._all(
                db,
                "SELECT m.session_id FROM messages m JOIN sessions s ON s.id = m.session_id"
                " WHERE m.role = 'assistant' AND s.owner = ? GROUP BY m.session_id"
                " HAVING SUM(CASE WHEN m.status = 'error' AND COALESCE(m.content, '') = ''"
                " THEN 0 ELSE 1 END) = 0",
                (owner,),
            )
        return {str(r[0]) for r in rows}

    async def update_session(
        self,
        session_id: str,
        *,
        title: str | _Unset = UNSET,
        persona: str | _Unset | None = UNSET,
        model: str | _Unset | None = UNSET,
        context: Iterable[str] | _Unset | None = UNSET,
        api_base: str | _Unset | None = UNSET,
    ) -> Session:
        """Change only the given fields (``None`` clears persona/model), bump ``updated``."""
        changes: dict[str, Any] = {}
        if not isinstance(title, _Unset):
            changes["title"] = title
        if not isinstance(persona, _Unset):
            changes["persona"] = persona
        if not isinstance(model, _Unset):
            changes["model"] = model
        if not isinstance(context, _Unset):
            changes["context"] = json.dumps(list(context or []))
        if not isinstance(api_base, _Unset):
            changes["api_base"] = api_base
        changes["updated"] = time.time()
        async with self._write() as db:
            await self._update(
                db, "sessions", changes, session_id, missing=self._no_session(session_id)
            )
            row = await self._one(db, f"{_SESSION_SELECT} WHERE s.id = ?", (session_id,))
        return _session(row)

    async def touch_session(self, session_id: str) -> None:
        """Mark the session as just used (moves it to the top of ``list_sessions``)."""
        async with self._write() as db:
            await self._update(
                db,
                "sessions",
                {"updated": time.time()},
                session_id,
                missing=self._no_session(session_id),
            )

    async def delete_session(self, session_id: str) -> None:
        """Delete the session with its messages and attachments (feedback rows are kept)."""
        async with self._write() as db:
            await self._delete(db, "sessions", session_id, missing=self._no_session(session_id))

    # ---- messages

    async def add_message(
        self,
        session_id: str,
        role: Role | str,
        content: str,
        *,
        status: Status | str = "complete",
        model: str | None = None,
        provider: str | None = None,
    ) -> int:
        """Append a message to the session (bumping its ``updated``); return the message id."""
        _check_choice("role", role, ROLES)
        _check_choice("status", status, STATUSES)
        now = time.time()
        async with self._write() as db:
            await self._update(
                db, "sessions", {"updated": now}, session_id, missing=self._no_session(session_id)
            )
            _, message_id = await self._run(
                db,
                "INSERT INTO messages (session_id, role, content, status, model, provider,"
                " created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, role, content, status, model, provider, now, now),
            )
        return message_id

    async def update_message(
        self,
        message_id: int,
        *,
        content: str | _Unset = UNSET,
        status: Status | str | _Unset = UNSET,
        tokens_in: int | _Unset | None = UNSET,
        tokens_out: int | _Unset | None = UNSET,
        latency_ms: int | _Unset | None = UNSET,
        cost: float | _Unset | None = UNSET,
        error: str | _Unset | None = UNSET,
        model: str | _Unset | None = UNSET,
        provider: str | _Unset | None = UNSET,
    ) -> None:
        """Change only the given fields (``None`` clears a nullable one), bump ``updated``."""
        given = {
            "content": content,
            "status": status,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "latency_ms": latency_ms,
            "cost": cost,
            "error": error,
            "model": model,
            "provider": provider,
        }
        changes: dict[str, Any] = {
            name: value for name, value in given.items() if not isinstance(value, _Unset)
        }
        if "content" in changes and not isinstance(changes["content"], str):
            raise ValueError("content must be a string")
        if "status" in changes:
            _check_choice("status", changes["status"], STATUSES)
        if "content" in changes:
            changes["indexed"] = 1  # the whole text: (re)index it (see append_message)
        changes["updated"] = time.time()
        async with self._write() as db:
            await self._update(
                db, "messages", changes, message_id, missing=self._no_message(message_id)
            )

    async def append_message(self, message_id: int, text: str) -> None:
        """Append ``text`` to a message's content (a streaming answer's periodic save).

        Costs the new text only: the message leaves the full-text index until its whole text
        is saved with :meth:`update_message` (``content=``), which indexes it once.
        """
        async with self._write() as db:
            count, _ = await self._run(
                db,
                "UPDATE messages SET content = content || ?, indexed = 0, updated = ? WHERE id = ?",
                (text, time.time(), message_id),
            )
            if count == 0:
                raise self._no_message(message_id)

    async def get_message(self, message_id: int) -> Message:
        async with self._read() as db:
            row = await self._one(
                db, f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
            )
            if row is None:
                raise self._no_message(message_id)
            attachments = await self._all(
                db,
                "SELECT id, message_id, path, sha256, size FROM attachments"
                " WHERE message_id = ? ORDER BY id",
                (message_id,),
            )
        message = _message(row)
        message.attachments = [_attachment(a) for a in attachments]
        return message

    async def message_owner(self, message_id: int) -> str | None:
        """The owner of the session a message belongs to (``None``: no such message)."""
        async with self._read() as db:
            row = await self._one(
                db,
                "SELECT s.owner FROM messages m JOIN sessions s ON s.id = m.session_id"
                " WHERE m.id = ?",
                (message_id,),
            )
        return None if row is None else str(row[0])

    async def get_messages(self, session_id: str) -> list[Message]:
        """The session's messages in order, each with its attachments."""
        async with self._read() as db:
            exists = await self._one(db, "SELECT 1 FROM sessions WHERE id = ?", (session_id,))
            if exists is None:
                raise self._no_session(session_id)
            rows = await self._all(
                db,
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE session_id = ? ORDER BY id",
                (session_id,),
            )
            attachment_rows = await self._all(
                db,
                "SELECT a.id, a.message_id, a.path, a.sha256, a.size FROM attachments a"
                " JOIN messages m ON m.id = a.message_id WHERE m.session_id = ? ORDER BY a.id",
                (session_id,),
            )
        messages = [_message(r) for r in rows]
        by_id = {m.id: m for m in messages}
        for a in attachment_rows:
            by_id[a["message_id"]].attachments.append(_attachment(a))
        return messages

    async def add_attachment(
        self,
        message_id: int,
        path: str | os.PathLike[str],
        *,
        sha256: str | None = None,
        size: int | None = None,
    ) -> int:
        """Record a file attached to a message; return the attachment id."""
        async with self._write() as db:
            if await self._one(db, "SELECT 1 FROM messages WHERE id = ?", (message_id,)) is None:
                raise self._no_message(message_id)
            _, attachment_id = await self._run(
                db,
                "INSERT INTO attachments (message_id, path, sha256, size, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (message_id, os.fspath(path), sha256, size, time.time()),
            )
        return attachment_id

    def _no_session(self, session_id: str) -> SessionNotFound:
        return SessionNotFound(session_id, path=self.path)

    def _no_message(self, message_id: int) -> MessageNotFound:
        return MessageNotFound(message_id, path=self.path)

    # ---- search

    async def search_messages(
        self,
        query: str,
        limit: int = 50,
        *,
        highlight: tuple[str, str] = ("[", "]"),
        owner: str = LOCAL_OWNER,
        since: float | None = None,
        model: str | None = None,
    ) -> list[SearchHit]:
        """Search over all message bodies, best matches first: words (FTS5, bm25) merged with
        substrings (the trigram index), each message once.

        Words: every whitespace-separated word must occur (words are quoted, so ``"``, ``OR``,
        ``(``, ``NEAR`` … are plain text, never FTS5 syntax); a trailing ``*`` makes a word a
        prefix. Substring: the whole query as typed (case-insensitive, 3+ characters), so
        ``KeyError: 'id'`` or ``foo_bar(`` find exactly that text. A query with punctuation
        (code, an error message) lists its exact matches first. ``since`` (unix time) and
        ``model`` (the answer's or the session's model) narrow the search. Matched text in
        ``snippet`` is wrapped in ``highlight``.
        """
        if limit <= 0:
            return []
        words = await self._search_words(query, limit, highlight, since, model, owner)
        text = await self._search_text(query, limit, highlight, since, model, owner)
        exact_first = bool(_CODE_LIKE.search(query.strip()))
        by_id = {hit.message_id: hit for hit in words}
        for hit in text:
            found = by_id.get(hit.message_id)
            if found is not None:
                found.match = "both"
                if exact_first:  # the whole text highlighted, not its words apart
                    found.snippet = hit.snippet
        both = [h for h in words if h.match == "both"]
        only_words = [h for h in words if h.match == "words"]
        only_text = [h for h in text if h.message_id not in by_id]
        ordered = both + (only_text + only_words if exact_first else only_words + only_text)
        return ordered[:limit]

    @staticmethod
    def _filters(since: float | None, model: str | None, owner: str) -> tuple[str, list[Any]]:
        sql, params = " AND s.owner = ?", [owner]  # one user never searches another's sessions
        if since is not None:
            sql += " AND m.created >= ?"
            params.append(since)
        if model:  # part of the name: "qwen2.5-coder" finds "ollama/qwen2.5-coder:1.5b"
            sql += " AND (instr(lower(m.model), ?) > 0 OR instr(lower(s.model), ?) > 0)"
            params += [model.lower(), model.lower()]
        return sql, params

    async def _search_words(
        self,
        query: str,
        limit: int,
        highlight: tuple[str, str],
        since: float | None,
        model: str | None,
        owner: str = LOCAL_OWNER,
    ) -> list[SearchHit]:
        """bm25 over the :data:`RANK_WINDOW` newest matching messages (a query matching more,
        say two common words, ranks the recent ones: ranking every match of 100,000 messages
        took 150-200 ms, this 3-5 ms), snippets for the best ``limit`` only."""
        match = fts_query(query)
        if not match:
            return []
        where, params = self._filters(since, model, owner)
        source = (
            " FROM messages_fts f JOIN messages m ON m.id = f.rowid"
            " JOIN sessions s ON s.id = m.session_id"
            f" WHERE messages_fts MATCH ?{where}"
        )
        async with self._read() as db:
            edge = await self._one(
                db,
                f"SELECT f.rowid{source} ORDER BY f.rowid DESC LIMIT 1 OFFSET ?",
                (match, *params, RANK_WINDOW - 1),
            )
            floor = edge[0] if edge is not None else 0
            ranked = await self._all(
                db,
                f"SELECT f.rowid{source} AND f.rowid >= ? ORDER BY f.rank, f.rowid DESC LIMIT ?",
                (match, *params, floor, limit),
            )
            return await self._hits(db, "messages_fts", 16, match, [r[0] for r in ranked],
                                    highlight, "words")  # fmt: skip

    async def _search_text(
        self,
        query: str,
        limit: int,
        highlight: tuple[str, str],
        since: float | None,
        model: str | None,
        owner: str = LOCAL_OWNER,
    ) -> list[SearchHit]:
        """The newest messages that contain the whole query (trigram index, 3+ characters)."""
        needle = query.strip()
        if len(needle) < 3:  # the trigram index cannot look up shorter strings
            return []
        where, params = self._filters(since, model, owner)
        phrase = '"' + needle.replace('"', '""') + '"'
        async with self._read() as db:
            rows = await self._all(
                db,
                "SELECT f.rowid FROM messages_trigram f JOIN messages m ON m.id = f.rowid"
                " JOIN sessions s ON s.id = m.session_id"
                f" WHERE messages_trigram MATCH ?{where} ORDER BY f.rowid DESC LIMIT ?",
                (phrase, *params, limit),
            )
            return await self._text_hits(db, needle, [r[0] for r in rows], highlight)

    async def _text_hits(
        self, db: Any, needle: str, ids: Sequence[int], highlight: tuple[str, str]
    ) -> list[SearchHit]:
        """Hits for substring matches, the snippet cut from the message around the whole match
        (FTS5's snippet() counts trigrams, so a long match was cut inside its highlight)."""
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        rows = await self._all(
            db,
            "SELECT m.session_id, s.title, m.id, m.role, m.content, m.created,"
            " COALESCE(m.model, s.model) FROM messages m JOIN sessions s ON s.id = m.session_id"
            f" WHERE m.id IN ({marks})",
            tuple(ids),
        )
        by_id: dict[int, SearchHit] = {}
        for row in rows:
            cut = text_snippet(str(row[4] or ""), needle, highlight)
            by_id[row[2]] = _hit((*row[:4], cut, *row[5:]), "text")
        return [by_id[i] for i in ids if i in by_id]

    async def _hits(
        self,
        db: Any,
        table: str,
        tokens: int,
        match: str,
        ids: Sequence[int],
        highlight: tuple[str, str],
        kind: str,
    ) -> list[SearchHit]:
        """Hits for the messages ``ids`` (in that order) with ``table``'s snippets."""
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        rows = await self._all(
            db,
            "SELECT m.session_id, s.title, m.id, m.role,"
            f" snippet({table}, 0, ?, ?, '…', {tokens}), m.created, COALESCE(m.model, s.model)"
            f" FROM {table} f JOIN messages m ON m.id = f.rowid"
            " JOIN sessions s ON s.id = m.session_id"
            f" WHERE {table} MATCH ? AND f.rowid IN ({marks})",
            (*highlight, match, *ids),
        )
        by_id = {r[2]: _hit(r, kind) for r in rows}
        return [by_id[i] for i in ids if i in by_id]


# ---------------------------------------------------------------------------------- helpers


def fts_query(text: str) -> str:
    """Turn free user text into a safe FTS5 query: each word quoted, all words required."""
    terms: list[str] = []
    for word in text.split():
        prefix = word.endswith("*")
        word = word.rstrip("*")
        if not _WORD.search(word):
            continue  # only punctuation: the tokenizer would drop it anyway
        quoted = '"' + word.replace('"', '""') + '"'
        terms.append(quoted + ("*" if prefix else ""))
    return " ".join(terms)


def text_snippet(
    content: str, needle: str, highlight: tuple[str, str] = ("[", "]"), context: int = 40
) -> str:
    """``content`` around the first case-insensitive occurrence of ``needle``: the whole match
    wrapped in ``highlight``, about ``context`` characters either side (cut at a space where
    one is near), whitespace runs as one space, ``…`` where text was left out."""
    at = content.lower().find(needle.lower())
    if at < 0:
        at, size = 0, 0
    else:
        size = len(needle)
    start, end = max(0, at - context), min(len(content), at + size + context)
    if start > 0:
        space = content.find(" ", start, at)
        start = space + 1 if space >= 0 and space - start < context // 2 else start
    if end < len(content):
        space = content.rfind(" ", at + size, end)
        end = space if space >= 0 and end - space < context // 2 else end
    before, match, after = content[start:at], content[at : at + size], content[at + size : end]
    text = before + (highlight[0] + match + highlight[1] if size else "") + after
    text = " ".join(text.split())
    return ("…" if start > 0 else "") + text + ("…" if end < len(content) else "")


def _hit(row: Any, match: str) -> SearchHit:
    return SearchHit(
        session_id=row[0], session_title=row[1], message_id=row[2], role=row[3],
        snippet=row[4], created=row[5], model=row[6], match=match,
    )  # fmt: skip


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _context(raw: str | None) -> list[str]:
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _session(row: sqlite3.Row) -> Session:
    return from_row(Session, row, context=_context(row["context"]))


def _message(row: sqlite3.Row) -> Message:
    return from_row(Message, row)


def _attachment(row: sqlite3.Row) -> Attachment:
    return from_row(Attachment, row)
