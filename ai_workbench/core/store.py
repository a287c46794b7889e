"""The aiw SQLite store: sessions, messages, attachments, feedback, full-text search, audit log.

One database file (``data_dir() / "aiw.db"``) in WAL mode, shared by every aiw process of the user.
The connection runs with ``isolation_level=None`` and every write is one short explicit
``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction; ``busy_timeout`` makes concurrent writers from other
processes wait for each other instead of failing. Within one process the ``Store`` serialises its
own transactions with an ``asyncio.Lock``, so tasks sharing a store cannot interleave them.

Usage::

    async with await Store.open() as store:      # or: async with Store(path) as store:
        session = await store.create_session(title="hello")
        msg_id = await store.add_message(session.id, "user", "hi")
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import os
import re
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

import aiosqlite

from ai_workbench.core.errors import EXIT_INPUT, EXIT_STORAGE, AiwError
from ai_workbench.core.migrations import MIGRATIONS, split_statements
from ai_workbench.core.paths import data_dir

__all__ = [
    "ROLES",
    "STATUSES",
    "UNSET",
    "AmbiguousSession",
    "Attachment",
    "Feedback",
    "Message",
    "MessageNotFound",
    "Role",
    "SearchHit",
    "Session",
    "SessionNotFound",
    "Status",
    "Store",
    "StoreError",
    "default_db_path",
]

Role = Literal["system", "user", "assistant"]
Status = Literal["complete", "partial", "error"]
ROLES: Final[tuple[str, ...]] = ("system", "user", "assistant")
STATUSES: Final[tuple[str, ...]] = ("complete", "partial", "error")

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds a statement waits for another process's lock before giving up (``busy_timeout``)."""


class _Unset(enum.Enum):
    UNSET = enum.auto()

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset.UNSET
"""Sentinel for "argument not given" in the partial-update methods (``None`` means "set NULL")."""


# --------------------------------------------------------------------------------------- errors


class StoreError(AiwError):
    """A database problem; the message names the database file and says what to do."""

    exit_code = EXIT_STORAGE

    def __init__(
        self, message: str, *, path: Path | None = None, exit_code: int | None = None
    ) -> None:
        super().__init__(message, exit_code)
        self.path = path


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
class Feedback:
    id: int
    target_kind: str
    target_id: str
    rating: int
    comment: str | None
    created: float
    updated: float


@dataclass(slots=True)
class SearchHit:
    session_id: str
    session_title: str
    message_id: int
    role: str
    snippet: str


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/aiw/aiw.db`` (``AIW_DATA_DIR`` overrides the directory)."""
    return data_dir() / "aiw.db"


# ------------------------------------------------------------------------------------ store

_SESSION_SELECT = (
    "SELECT s.id, s.title, s.persona, s.model, s.api_base, s.context, s.created, s.updated,"
    " (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS message_count"
    " FROM sessions s"
)
_MESSAGE_COLUMNS = (
    "id, session_id, role, content, status, model, provider, tokens_in, tokens_out,"
    " latency_ms, cost, error, created, updated"
)
_FEEDBACK_COLUMNS = "id, target_kind, target_id, rating, comment, created, updated"
_AMBIGUOUS_SHOWN: Final = 5
_WORD = re.compile(r"\w")


class Store:
    """Async access to the aiw database: ``await Store.open()`` or ``async with Store()``."""

    def __init__(self, path: Path | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path: Path = Path(path) if path is not None else default_db_path()
        self.timeout = timeout
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    # ---- lifecycle

    @classmethod
    async def open(cls, path: Path | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> Store:
        """Connect to (creating if needed) the database at ``path``; bring its schema up to date."""
        store = cls(path, timeout=timeout)
        await store._connect()
        return store

    async def _connect(self) -> None:
        if self._db is not None:
            return
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise StoreError(
                f"cannot create the directory for database {path}: {e}; check permissions or set"
                " AIW_DATA_DIR to a writable directory",
                path=path,
            ) from e
        is_new = not path.exists()
        with self._translate():
            db = await aiosqlite.connect(path, isolation_level=None)
        try:
            if is_new:
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o600)  # chat history is private; -wal/-shm inherit this
            db.row_factory = sqlite3.Row
            with self._translate():
                await db.execute(f"PRAGMA busy_timeout = {max(0, int(self.timeout * 1000))}")
                await self._enable_wal(db)
                await db.execute("PRAGMA foreign_keys = ON")
                await db.execute("PRAGMA synchronous = NORMAL")
                await self._migrate(db)
        except BaseException:
            with contextlib.suppress(Exception):
                await db.close()
            raise
        self._db = db

    async def _enable_wal(self, db: aiosqlite.Connection) -> None:
        """Switch to WAL. Changing the journal mode can report SQLITE_BUSY at once, without
        the busy handler, while another process opens the same new file: retry it."""
        deadline = time.monotonic() + max(self.timeout, 0.5)
        while True:
            try:
                await db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.02)

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        db, self._db = self._db, None
        if db is None:
            return
        async with self._lock:
            with contextlib.suppress(sqlite3.Error):
                await db.execute("PRAGMA optimize")
            await db.close()

    @property
    def is_open(self) -> bool:
        return self._db is not None

    async def __aenter__(self) -> Store:
        await self._connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "open" if self._db is not None else "closed"
        return f"<Store {str(self.path)!r} {state}>"

    # ---- migrations

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        target = len(MIGRATIONS)
        version = await self._user_version(db)
        self._check_version(version, target)
        if version == target:
            return
        # Take the write lock, then look again: another process may have migrated meanwhile.
        await db.execute("BEGIN IMMEDIATE")
        try:
            version = await self._user_version(db)
            self._check_version(version, target)
            for index in range(version, target):
                for statement in split_statements(MIGRATIONS[index]):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {index + 1}")
            await db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    await db.execute("ROLLBACK")
            raise

    @staticmethod
    async def _user_version(db: aiosqlite.Connection) -> int:
        async with db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row is not None else 0

    def _check_version(self, version: int, target: int) -> None:
        if version > target:
            raise StoreError(
                f"database {self.path} was created by a newer aiw (schema {version} > {target});"
                " upgrade aiw",
                path=self.path,
            )

    # ---- plumbing

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        """Turn sqlite3 errors into StoreError messages that name the file and say what to do."""
        try:
            yield
        except sqlite3.Error as e:
            raise self._store_error(e) from e

    def _store_error(self, e: sqlite3.Error) -> StoreError:
        path = self.path
        text = str(e)
        low = text.lower()
        if "locked" in low or "busy" in low:
            return StoreError(
                f"database {path} is locked by another process (waited {self.timeout:g}s);"
                " close other aiw instances or try again",
                path=path,
            )
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            return StoreError(
                f"{path} is not a usable aiw database ({text}); move it aside"
                f" (mv '{path}' '{path}.bad') and aiw will create a new one",
                path=path,
            )
        if "unable to open" in low:
            return StoreError(
                f"cannot open database {path} ({text}); check that the directory exists and is"
                " writable, or set AIW_DATA_DIR",
                path=path,
            )
        if "readonly" in low or "read-only" in low:
            return StoreError(
                f"database {path} is read-only ({text}); check its permissions", path=path
            )
        if "disk is full" in low or "disk i/o" in low:
            return StoreError(f"database {path}: {text}; free disk space and retry", path=path)
        return StoreError(f"database {path}: {text}", path=path)

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError(
                f"store for {self.path} is not open; use `await Store.open()` or `async with`",
                path=self.path,
            )
        return self._db

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One short write transaction: BEGIN IMMEDIATE … COMMIT, ROLLBACK on any error."""
        db = self._conn()
        async with self._lock:
            with self._translate():
                await db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    await db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            await db.execute("ROLLBACK")
                    raise

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        """A read transaction, so several SELECTs see one consistent snapshot."""
        db = self._conn()
        async with self._lock:
            with self._translate():
                await db.execute("BEGIN")
                try:
                    yield db
                finally:
                    if db.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            await db.execute("COMMIT")

    @staticmethod
    async def _all(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    @staticmethod
    async def _one(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
        async with db.execute(sql, params) as cur:
            return await cur.fetchone()

    @staticmethod
    async def _run(
        db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()
    ) -> tuple[int, int]:
        """Execute a write; return (rowcount, lastrowid)."""
        async with db.execute(sql, params) as cur:
            return cur.rowcount, cur.lastrowid or 0

    # ---- sessions

    async def create_session(
        self,
        *,
        title: str = "",
        persona: str | None = None,
        model: str | None = None,
        context: Iterable[str] | None = None,
        api_base: str | None = None,
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
        )
        async with self._write() as db:
            await self._run(
                db,
                "INSERT INTO sessions (id, title, persona, model, api_base, context, created,"
                " updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session.id,
                    title,
                    persona,
                    model,
                    api_base,
                    json.dumps(session.context),
                    now,
                    now,
                ),
            )
        return session

    async def get_session(self, id_or_prefix: str) -> Session:
        """The session with this id, or the only one whose id starts with it (case-insensitive)."""
        query = id_or_prefix.strip().lower()
        if not query:
            raise SessionNotFound(id_or_prefix, path=self.path)
        async with self._read() as db:
            row = await self._one(db, f"{_SESSION_SELECT} WHERE s.id = ?", (query,))
            if row is not None:
                return _session(row)
            # Range scan on the primary key index: every id that starts with `query`.
            bounds = (query, query + "\U0010ffff")
            (total,) = await self._one(
                db, "SELECT COUNT(*) FROM sessions WHERE id >= ? AND id < ?", bounds
            )
            rows = await self._all(
                db,
                f"{_SESSION_SELECT} WHERE s.id >= ? AND s.id < ? ORDER BY s.updated DESC LIMIT ?",
                (*bounds, _AMBIGUOUS_SHOWN),
            )
        if total == 0:
            raise SessionNotFound(id_or_prefix, path=self.path)
        if total > 1:
            raise AmbiguousSession(id_or_prefix, [_session(r) for r in rows], total, path=self.path)
        return _session(rows[0])

    async def list_sessions(self, limit: int | None = None) -> list[Session]:
        """Sessions, most recently updated first, with their message counts."""
        async with self._read() as db:
            rows = await self._all(
                db,
                f"{_SESSION_SELECT} ORDER BY s.updated DESC, s.created DESC LIMIT ?",
                (-1 if limit is None else max(0, limit),),
            )
        return [_session(r) for r in rows]

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
        assignments = ", ".join(f"{name} = ?" for name in changes)
        async with self._write() as db:
            count, _ = await self._run(
                db,
                f"UPDATE sessions SET {assignments} WHERE id = ?",
                (*changes.values(), session_id),
            )
            if count == 0:
                raise SessionNotFound(session_id, path=self.path)
            row = await self._one(db, f"{_SESSION_SELECT} WHERE s.id = ?", (session_id,))
        return _session(row)

    async def touch_session(self, session_id: str) -> None:
        """Mark the session as just used (moves it to the top of ``list_sessions``)."""
        async with self._write() as db:
            count, _ = await self._run(
                db, "UPDATE sessions SET updated = ? WHERE id = ?", (time.time(), session_id)
            )
            if count == 0:
                raise SessionNotFound(session_id, path=self.path)

    async def delete_session(self, session_id: str) -> None:
        """Delete the session with its messages and attachments (feedback rows are kept)."""
        async with self._write() as db:
            count, _ = await self._run(db, "DELETE FROM sessions WHERE id = ?", (session_id,))
            if count == 0:
                raise SessionNotFound(session_id, path=self.path)

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
            count, _ = await self._run(
                db, "UPDATE sessions SET updated = ? WHERE id = ?", (now, session_id)
            )
            if count == 0:
                raise SessionNotFound(session_id, path=self.path)
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
        assignments = ", ".join(f"{name} = ?" for name in changes)
        async with self._write() as db:
            count, _ = await self._run(
                db,
                f"UPDATE messages SET {assignments} WHERE id = ?",
                (*changes.values(), message_id),
            )
            if count == 0:
                raise MessageNotFound(message_id, path=self.path)

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
                raise MessageNotFound(message_id, path=self.path)

    async def get_message(self, message_id: int) -> Message:
        async with self._read() as db:
            row = await self._one(
                db, f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
            )
            if row is None:
                raise MessageNotFound(message_id, path=self.path)
            attachments = await self._all(
                db,
                "SELECT id, message_id, path, sha256, size FROM attachments"
                " WHERE message_id = ? ORDER BY id",
                (message_id,),
            )
        message = _message(row)
        message.attachments = [_attachment(a) for a in attachments]
        return message

    async def get_messages(self, session_id: str) -> list[Message]:
        """The session's messages in order, each with its attachments."""
        async with self._read() as db:
            exists = await self._one(db, "SELECT 1 FROM sessions WHERE id = ?", (session_id,))
            if exists is None:
                raise SessionNotFound(session_id, path=self.path)
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
                raise MessageNotFound(message_id, path=self.path)
            _, attachment_id = await self._run(
                db,
                "INSERT INTO attachments (message_id, path, sha256, size, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (message_id, os.fspath(path), sha256, size, time.time()),
            )
        return attachment_id

    # ---- feedback

    async def set_feedback(
        self,
        target_kind: str,
        target_id: str | int,
        rating: int,
        comment: str | _Unset | None = UNSET,
    ) -> Feedback:
        """Rate a target +1/-1, or change an existing rating.

        ``comment`` replaces the stored comment when given (``None`` clears it); when not given, an
        existing comment is kept, so re-rating from a key binding does not wipe it.
        """
        if isinstance(rating, bool) or rating not in (-1, 1):
            raise ValueError(f"rating must be 1 or -1, not {rating!r}")
        if not target_kind:
            raise ValueError("target_kind must not be empty")
        key = (target_kind, str(target_id))
        now = time.time()
        new_comment = None if isinstance(comment, _Unset) else comment
        on_conflict = "rating = excluded.rating, updated = excluded.updated"
        if not isinstance(comment, _Unset):
            on_conflict += ", comment = excluded.comment"
        async with self._write() as db:
            await self._run(
                db,
                "INSERT INTO feedback (target_kind, target_id, rating, comment, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                f" ON CONFLICT (target_kind, target_id) DO UPDATE SET {on_conflict}",
                (*key, rating, new_comment, now, now),
            )
            row = await self._one(
                db,
                f"SELECT {_FEEDBACK_COLUMNS} FROM feedback WHERE target_kind = ? AND target_id = ?",
                key,
            )
        return _feedback(row)

    async def get_feedback(self, target_kind: str, target_id: str | int) -> Feedback | None:
        async with self._read() as db:
            row = await self._one(
                db,
                f"SELECT {_FEEDBACK_COLUMNS} FROM feedback WHERE target_kind = ? AND target_id = ?",
                (target_kind, str(target_id)),
            )
        return None if row is None else _feedback(row)

    async def list_feedback(self, target_kind: str | None = None) -> list[Feedback]:
        """All feedback (or one kind's), most recently changed first."""
        sql = f"SELECT {_FEEDBACK_COLUMNS} FROM feedback"
        params: tuple[Any, ...] = ()
        if target_kind is not None:
            sql += " WHERE target_kind = ?"
            params = (target_kind,)
        async with self._read() as db:
            rows = await self._all(db, sql + " ORDER BY updated DESC, id DESC", params)
        return [_feedback(r) for r in rows]

    async def delete_feedback(self, target_kind: str, target_id: str | int) -> bool:
        """Remove a rating; return whether there was one."""
        async with self._write() as db:
            count, _ = await self._run(
                db,
                "DELETE FROM feedback WHERE target_kind = ? AND target_id = ?",
                (target_kind, str(target_id)),
            )
        return count > 0

    # ---- search

    async def search_messages(
        self, query: str, limit: int = 50, *, highlight: tuple[str, str] = ("[", "]")
    ) -> list[SearchHit]:
        """Full-text search over all message bodies, best matches first.

        Every whitespace-separated word must occur (words are quoted, so ``"``, ``OR``, ``(``,
        ``NEAR`` … are plain text, never FTS5 syntax); a trailing ``*`` makes a word a prefix.
        Matched words in ``snippet`` are wrapped in ``highlight``.
        """
        match = fts_query(query)
        if not match or limit <= 0:
            return []
        start, end = highlight
        async with self._read() as db:
            rows = await self._all(
                db,
                "SELECT m.session_id, s.title, m.id, m.role,"
                " snippet(messages_fts, 0, ?, ?, '…', 16) AS snippet"
                " FROM messages_fts"
                " JOIN messages m ON m.id = messages_fts.rowid"
                " JOIN sessions s ON s.id = m.session_id"
                " WHERE messages_fts MATCH ?"
                " ORDER BY rank, m.id DESC LIMIT ?",
                (start, end, match, limit),
            )
        return [
            SearchHit(session_id=r[0], session_title=r[1], message_id=r[2], role=r[3], snippet=r[4])
            for r in rows
        ]

    # ---- audit

    async def audit(self, action: str, detail: str | Mapping[str, Any] | None = None) -> int:
        """Append to the audit log of tool actions; a mapping ``detail`` is stored as JSON."""
        text = detail if detail is None or isinstance(detail, str) else json.dumps(detail)
        async with self._write() as db:
            _, audit_id = await self._run(
                db,
                "INSERT INTO audit (action, detail, created) VALUES (?, ?, ?)",
                (action, text, time.time()),
            )
        return audit_id

    # ---- maintenance

    async def backup(self, dest: str | os.PathLike[str]) -> Path:
        """Write a consistent copy of the database to ``dest`` (``VACUUM INTO``, safe in use)."""
        target = Path(dest)
        if target.exists():
            raise StoreError(f"backup target {target} already exists; remove it or pick another")
        db = self._conn()
        async with self._lock:
            with self._translate():
                await db.execute("VACUUM INTO ?", (os.fspath(target),))
        return target


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
    return Session(
        id=row["id"],
        title=row["title"],
        persona=row["persona"],
        model=row["model"],
        context=_context(row["context"]),
        created=row["created"],
        updated=row["updated"],
        message_count=row["message_count"],
        api_base=row["api_base"],
    )


def _message(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"],
        session_id=row["session_id"],
        role=row["role"],
        content=row["content"],
        status=row["status"],
        model=row["model"],
        provider=row["provider"],
        tokens_in=row["tokens_in"],
        tokens_out=row["tokens_out"],
        latency_ms=row["latency_ms"],
        cost=row["cost"],
        error=row["error"],
        created=row["created"],
        updated=row["updated"],
    )


def _attachment(row: sqlite3.Row) -> Attachment:
    return Attachment(
        id=row["id"],
        message_id=row["message_id"],
        path=row["path"],
        sha256=row["sha256"],
        size=row["size"],
    )


def _feedback(row: sqlite3.Row) -> Feedback:
    return Feedback(
        id=row["id"],
        target_kind=row["target_kind"],
        target_id=row["target_id"],
        rating=row["rating"],
        comment=row["comment"],
        created=row["created"],
        updated=row["updated"],
    )
