"""The database kernel: one SQLite connection, WAL, busy timeout, transactions, errors, migrations.

Every capability keeps its own tables and queries in its package (``chat/store.py``,
``review/storage.py``, ``shell/events.py``, ``suggestions/service.py``; feedback and the audit log,
which every capability shares, in ``core/feedback.py`` and ``core/audit.py``). This module knows
none of them: :class:`Database` opens the file, makes every failure a :class:`StoreError` that
names the file and says what to do, runs short transactions, and brings the schema up to date
with an ordered list of migration scripts it is *given* (``PRAGMA user_version`` counts the
applied ones). The list is assembled outside core, in :mod:`ai_workbench.schema`, and the store
interfaces open, :class:`ai_workbench.store.Store`, is composed there too; so core imports no
capability. (``core/store.py`` became this module: the kernel is what was left in core.)

One database file (``data_dir() / "aiw.db"``) in WAL mode, shared by every aiw process of the user.
The connection runs with ``isolation_level=None`` and every write is one short explicit
``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction; ``busy_timeout`` makes concurrent writers from other
processes wait for each other instead of failing. Within one process a ``Database`` serialises its
own transactions with an ``asyncio.Lock``, so tasks sharing it cannot interleave them.

Query code (a capability's mixin or query class) uses the kernel's protected helpers::

    async with db._write() as conn:                 # BEGIN IMMEDIATE ... COMMIT / ROLLBACK
        count, new_id = await db._run(conn, "INSERT ...", params)
    async with db._read() as conn:                  # one consistent snapshot
        rows = await db._all(conn, "SELECT ...", params)
    return [from_row(Record, r, tags=json.loads(r["tags"])) for r in rows]

``_insert`` writes one row from a ``{column: value}`` mapping and returns its id; ``_update`` and
``_delete`` are the "one row by id, or say it is not there" statements every query class has
(``UPDATE t SET a = ?, b = ? WHERE id = ?`` / ``DELETE FROM t WHERE id = ?``, raising the
caller's not-found error when no row has the id).

Opening::

    async with await Store.open() as store:          # ai_workbench.store.Store: every capability
        ...
    db = await Database.open(path, migrations=MIGRATIONS)   # the kernel alone
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import functools
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Final, Self, TypeVar

import aiosqlite

from ai_workbench.core.errors import EXIT_STORAGE, AiwError
from ai_workbench.core.migrations import split_statements
from ai_workbench.core.paths import data_dir

__all__ = [
    "DEFAULT_TIMEOUT",
    "LOCAL_OWNER",
    "UNSET",
    "Database",
    "StoreError",
    "default_db_path",
    "enable_wal",
    "from_row",
]

R = TypeVar("R")

LOCAL_OWNER: Final = "local"
"""The owner of per-user rows (sessions, feedback, audit) the workbench and the CLI write: the
single local user. `aiw serve` users own theirs by name (ai_workbench/users)."""

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


def enable_wal(db: sqlite3.Connection, timeout: float) -> None:
    """Switch ``db`` to WAL. Changing the journal mode can report SQLITE_BUSY at once, without
    the busy handler, while another process opens or creates the same new file: retried
    until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + max(timeout, 0.5)
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/aiw/aiw.db`` (``AIW_DATA_DIR`` overrides the directory)."""
    return data_dir() / "aiw.db"


# ------------------------------------------------------------------------------------ records


@functools.cache
def _init_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


def from_row(cls: type[R], row: Any, **converted: Any) -> R:
    """The dataclass ``cls`` made from a database row (``sqlite3.Row``).

    Each field takes the row's column of the same name; ``converted`` gives the fields that need
    more than a copy (JSON text, 0/1 as bool, a column with another name) or come from elsewhere.
    A field the row has no column for keeps its default.
    """
    columns = set(row.keys())
    values = {
        name: row[name] for name in _init_fields(cls) if name in columns and name not in converted
    }
    return cls(**values, **converted)


# ------------------------------------------------------------------------------------ kernel


class Database:
    """Async access to the aiw database file: ``await X.open()`` or ``async with X()``.

    ``MIGRATIONS`` (set by the composed store, or ``migrations=`` per instance) is the full ordered
    list of schema scripts: ``MIGRATIONS[i]`` brings ``user_version`` from ``i`` to ``i + 1``.
    """

    MIGRATIONS: ClassVar[Sequence[str] | None] = None

    def __init__(
        self,
        path: Path | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        migrations: Sequence[str] | None = None,
    ) -> None:
        self.path: Path = Path(path) if path is not None else default_db_path()
        self.timeout = timeout
        self.migrations: Sequence[str] | None = (
            migrations if migrations is not None else self.MIGRATIONS
        )
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    # ---- lifecycle

    @classmethod
    async def open(
        cls,
        path: Path | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        migrations: Sequence[str] | None = None,
    ) -> Self:
        """Connect to (creating if needed) the database at ``path``; bring its schema up to date."""
        store = cls(path, timeout=timeout, migrations=migrations)
        await store._connect()
        return store

    async def _connect(self) -> None:
        if self._db is not None:
            return
        if self.migrations is None:
            # A programming error, not a user's: without the full list a new file would get a
            # partial schema. ai_workbench.store.Store carries the list; so can migrations=.
            raise TypeError(
                f"{type(self).__name__} has no migrations list; open ai_workbench.store.Store or"
                " pass migrations=ai_workbench.schema.MIGRATIONS"
            )
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
        """Switch to WAL, retried while busy (see :func:`enable_wal`)."""
        deadline = time.monotonic() + max(self.timeout, 0.5)
        while True:
            try:
                await db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or time.monotonic() >= deadline:
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

    async def __aenter__(self) -> Self:
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
        return f"<{type(self).__name__} {str(self.path)!r} {state}>"

    # ---- migrations

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        """The migrations runner: apply every pending script, each with its version bump, all in
        one ``BEGIN IMMEDIATE`` transaction (a failure leaves the file as it was)."""
        migrations = self.migrations or ()
        target = len(migrations)
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
                for statement in split_statements(migrations[index]):
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
    async def _locked(self) -> AsyncIterator[aiosqlite.Connection]:
        """The open connection, with this process's lock held and sqlite3 errors translated."""
        db = self._conn()
        async with self._lock:
            with self._translate():
                yield db

    def _write(self) -> contextlib.AbstractAsyncContextManager[aiosqlite.Connection]:
        """One short write transaction: BEGIN IMMEDIATE … COMMIT, ROLLBACK on any error."""
        return self._transaction(write=True)

    def _read(self) -> contextlib.AbstractAsyncContextManager[aiosqlite.Connection]:
        """A read transaction, so several SELECTs see one consistent snapshot."""
        return self._transaction(write=False)

    @contextlib.asynccontextmanager
    async def _transaction(self, *, write: bool) -> AsyncIterator[aiosqlite.Connection]:
        async with self._locked() as db:
            await db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield db
                if write:
                    await db.execute("COMMIT")
            except BaseException:
                if write and db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        await db.execute("ROLLBACK")
                raise
            finally:
                if not write and db.in_transaction:  # a read ends with COMMIT, come what may
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

    @classmethod
    async def _insert(cls, db: aiosqlite.Connection, table: str, values: Mapping[str, Any]) -> int:
        """``INSERT INTO table (column, ...) VALUES (?, ...)`` with ``values``; the new row id."""
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        _, row_id = await cls._run(
            db, f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(values.values())
        )
        return row_id

    @classmethod
    async def _update(
        cls,
        db: aiosqlite.Connection,
        table: str,
        changes: Mapping[str, Any],
        row_id: object,
        *,
        missing: Exception,
    ) -> None:
        """``UPDATE table SET column = ?, ... WHERE id = ?`` with ``changes``; raise ``missing``
        when no row has ``row_id``."""
        assignments = ", ".join(f"{column} = ?" for column in changes)
        count, _ = await cls._run(
            db, f"UPDATE {table} SET {assignments} WHERE id = ?", (*changes.values(), row_id)
        )
        if count == 0:
            raise missing

    @classmethod
    async def _delete(
        cls, db: aiosqlite.Connection, table: str, row_id: object, *, missing: Exception
    ) -> None:
        """``DELETE FROM table WHERE id = ?``; raise ``missing`` when no row has ``row_id``."""
        count, _ = await cls._run(db, f"DELETE FROM {table} WHERE id = ?", (row_id,))
        if count == 0:
            raise missing

    # ---- maintenance

    async def backup(self, dest: str | os.PathLike[str]) -> Path:
        """Write a consistent copy of the database to ``dest`` (``VACUUM INTO``, safe in use)."""
        target = Path(dest)
        if target.exists():
            raise StoreError(f"backup target {target} already exists; remove it or pick another")
        async with self._locked() as db:
            await db.execute("VACUUM INTO ?", (os.fspath(target),))
        return target
