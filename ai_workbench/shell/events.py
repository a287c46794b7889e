"""Failed commands and their analyses in the aiw database (table ``shell_events``).

Everything stored here has been through :func:`ai_workbench.core.redact.redact_text` first.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from ai_workbench.core.db import Database, StoreError, from_row
from ai_workbench.core.errors import EXIT_INPUT
from ai_workbench.core.redact import redact_text
from ai_workbench.shell.spool import ShellEvent

__all__ = ["EventNotFound", "ShellEventStore", "StoredEvent"]

_COLUMNS = (
    "id, uid, user, shell, command, exit_code, cwd, duration_ms, stderr, capture, context,"
    " explanation, suggestions, model, status, error, cache_key, suggestion_id, created, updated"
)


class EventNotFound(StoreError):
    exit_code = EXIT_INPUT


@dataclass(slots=True)
class StoredEvent:
    id: int
    uid: str
    user: str
    shell: str
    command: str
    exit_code: int
    cwd: str
    duration_ms: int | None
    stderr: str | None
    capture: str
    context: dict[str, Any] | None
    explanation: str | None
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    status: str = "new"
    error: str | None = None
    cache_key: str | None = None
    suggestion_id: int | None = None
    created: float = 0.0
    updated: float = 0.0


def _json(raw: str | None, default: Any) -> Any:
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return default


def _row(row: Any) -> StoredEvent:
    suggestions = _json(row["suggestions"], [])
    return from_row(
        StoredEvent,
        row,
        context=_json(row["context"], None),
        suggestions=suggestions if isinstance(suggestions, list) else [],
    )


class ShellEventStore:
    """Shell events on top of a :class:`~ai_workbench.core.db.Database` (shares its connection)."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def record(
        self,
        event: ShellEvent,
        *,
        user: str,
        stderr: str | None,
        capture: str,
        status: str = "new",
        error: str | None = None,
    ) -> StoredEvent:
        """Insert the event (redacted); an event id already stored returns the stored row."""
        now = time.time()
        store = self.store
        async with store._write() as db:
            row = await store._one(
                db, f"SELECT {_COLUMNS} FROM shell_events WHERE uid = ?", (event.id,)
            )
            if row is not None:
                return _row(row)
            _, new_id = await store._run(
                db,
                "INSERT INTO shell_events (uid, user, shell, command, exit_code, cwd, duration_ms,"
                " stderr, capture, status, error, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.id,
                    user,
                    event.shell,
                    redact_text(event.cmd),
                    event.status,
                    event.cwd,
                    event.duration_ms,
                    None if stderr is None else redact_text(stderr),
                    capture,
                    status,
                    error,
                    event.t1 / 1e6 if event.t1 else now,
                    now,
                ),
            )
            row = await store._one(
                db, f"SELECT {_COLUMNS} FROM shell_events WHERE id = ?", (new_id,)
            )
        return _row(row)

    async def get(self, event_id: int) -> StoredEvent:
        event = await self._first(" WHERE id = ?", (event_id,))
        if event is None:
            raise EventNotFound(f"no shell event with id {event_id} (see `aiw history`)")
        return event

    async def get_uid(self, uid: str) -> StoredEvent | None:
        return await self._first(" WHERE uid = ?", (uid,))

    async def latest(self, *, include_ignored: bool = False) -> StoredEvent | None:
        where = "" if include_ignored else " WHERE status != 'ignored'"
        return await self._first(f"{where} ORDER BY created DESC, id DESC LIMIT 1")

    async def recent(self, limit: int = 20) -> list[StoredEvent]:
        store = self.store
        async with store._read() as db:
            rows = await store._all(
                db,
                f"SELECT {_COLUMNS} FROM shell_events WHERE status != 'ignored'"
                " ORDER BY created DESC, id DESC LIMIT ?",
                (max(0, limit),),
            )
        return [_row(r) for r in rows]

    async def cached(self, cache_key: str, exclude: int) -> StoredEvent | None:
        """A finished analysis of the same error (same normalised command and output)."""
        return await self._first(
            " WHERE cache_key = ? AND status = 'done' AND id != ? ORDER BY id DESC LIMIT 1",
            (cache_key, exclude),
        )

    async def _first(self, tail: str, params: tuple[Any, ...] = ()) -> StoredEvent | None:
        """The first event ``SELECT ... FROM shell_events{tail}`` finds, or ``None``."""
        store = self.store
        async with store._read() as db:
            row = await store._one(db, f"SELECT {_COLUMNS} FROM shell_events{tail}", params)
        return None if row is None else _row(row)

    async def update(self, event_id: int, **fields: Any) -> None:
        """Set columns (context/suggestions as Python values; text redacted)."""
        allowed = {
            "context", "explanation", "suggestions", "model", "status", "error", "cache_key",
            "suggestion_id", "stderr", "capture",
        }  # fmt: skip
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown shell_events fields: {sorted(unknown)}")
        values: dict[str, Any] = {}
        for key, value in fields.items():
            if key in ("context", "suggestions") and value is not None:
                value = redact_text(json.dumps(value, ensure_ascii=False))
            elif key in ("explanation", "stderr", "error") and value is not None:
                value = redact_text(str(value))
            values[key] = value
        values["updated"] = time.time()
        store = self.store
        async with store._write() as db:
            await store._update(
                db,
                "shell_events",
                values,
                event_id,
                missing=EventNotFound(f"no shell event with id {event_id}"),
            )

    async def claim(self, event_id: int) -> bool:
        """Mark an event as being analysed unless another process already does (or did)."""
        store = self.store
        async with store._write() as db:
            count, _ = await store._run(
                db,
                "UPDATE shell_events SET status = 'analysing', updated = ? WHERE id = ?"
                " AND (status IN ('new', 'error') OR (status = 'analysing' AND updated < ?))",
                (time.time(), event_id, time.time() - 300),
            )
        return count == 1
