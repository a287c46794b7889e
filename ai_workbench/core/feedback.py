"""Likes and dislikes (+1/-1, with an optional comment) on anything aiw shows.

A rating belongs to a target: ``target_kind`` (``'message'``, ``'finding'``, ``'chunk'``,
``'suggestion'``, ...) and ``target_id`` (stored as text, so ints and strings both work). One rating
per target: rating again changes it. Comments are redacted before they are stored (by the service).

Every capability rates things, so the ``feedback`` table, its DDL (:data:`SCHEMA_V1`) and its
queries live in core. :class:`FeedbackQueries` gives the opened store its ``set_feedback`` /
``get_feedback`` / ``list_feedback`` / ``delete_feedback`` methods; :class:`FeedbackService` works
on any :class:`~ai_workbench.core.db.Database`, so a capability holding only the kernel can rate.

Usage::

    feedback = FeedbackService(store)
    await feedback.rate("message", 42, +1)
    ratings = await feedback.for_targets("message", [m.id for m in messages])
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from ai_workbench.core.db import LOCAL_OWNER, UNSET, Database, _Unset, from_row
from ai_workbench.core.redact import redact_text

__all__ = ["SCHEMA_V1", "SCHEMA_V8", "Feedback", "FeedbackQueries", "FeedbackService"]

SCHEMA_V1: Final = """
CREATE TABLE feedback (
    id           INTEGER PRIMARY KEY,
    target_kind  TEXT NOT NULL,           -- 'message', 'finding', 'chunk', 'suggestion', ...
    target_id    TEXT NOT NULL,
    rating       INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment      TEXT,
    created      REAL NOT NULL,
    updated      REAL NOT NULL,
    UNIQUE (target_kind, target_id)
);
"""
"""The feedback table (part of schema version 1)."""

SCHEMA_V8: Final = """
-- Ratings belong to an aiw user ('local': the workbench and the CLI): one rating per user and
-- target. SQLite cannot change a UNIQUE constraint in place, so the table is rebuilt.
CREATE TABLE feedback_v8 (
    id           INTEGER PRIMARY KEY,
    owner        TEXT NOT NULL DEFAULT 'local',
    target_kind  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    rating       INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment      TEXT,
    created      REAL NOT NULL,
    updated      REAL NOT NULL,
    UNIQUE (owner, target_kind, target_id)
);
INSERT INTO feedback_v8 (id, owner, target_kind, target_id, rating, comment, created, updated)
    SELECT id, 'local', target_kind, target_id, rating, comment, created, updated FROM feedback;
DROP TABLE feedback;
ALTER TABLE feedback_v8 RENAME TO feedback;
CREATE INDEX feedback_target ON feedback(target_kind, target_id);
"""
"""Feedback per user (part of schema version 8)."""

_COLUMNS = "id, owner, target_kind, target_id, rating, comment, created, updated"
_CHUNK: Final = 500
"""Ids per ``IN (...)`` query: well below SQLite's host-parameter limit."""


@dataclass(slots=True)
class Feedback:
    id: int
    target_kind: str
    target_id: str
    rating: int
    comment: str | None
    created: float
    updated: float
    owner: str = LOCAL_OWNER


class FeedbackQueries(Database):
    """The kernel plus the feedback methods (mixed into the store interfaces open)."""

    async def set_feedback(
        self,
        target_kind: str,
        target_id: str | int,
        rating: int,
        comment: str | _Unset | None = UNSET,
        *,
        owner: str = LOCAL_OWNER,
    ) -> Feedback:
        """Rate a target +1/-1, or change an existing rating.

        ``comment`` replaces the stored comment when given (``None`` clears it); when not given, an
        existing comment is kept, so re-rating from a key binding does not wipe it.
        """
        return await _upsert(self, target_kind, target_id, rating, comment, owner)

    async def get_feedback(
        self, target_kind: str, target_id: str | int, *, owner: str = LOCAL_OWNER
    ) -> Feedback | None:
        return await _get(self, target_kind, target_id, owner)

    async def list_feedback(
        self, target_kind: str | None = None, *, owner: str = LOCAL_OWNER
    ) -> list[Feedback]:
        """``owner``'s feedback (or one kind's), most recently changed first."""
        sql = f"SELECT {_COLUMNS} FROM feedback WHERE owner = ?"
        params: tuple[Any, ...] = (owner,)
        if target_kind is not None:
            sql += " AND target_kind = ?"
            params = (owner, target_kind)
        async with self._read() as db:
            rows = await self._all(db, sql + " ORDER BY updated DESC, id DESC", params)
        return [_feedback(r) for r in rows]

    async def delete_feedback(
        self, target_kind: str, target_id: str | int, *, owner: str = LOCAL_OWNER
    ) -> bool:
        """Remove a rating; return whether there was one."""
        return await _delete(self, target_kind, target_id, owner)


class FeedbackService:
    """Ratings on top of a :class:`Database` (reuses its connection and transactions)."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def rate(
        self,
        target_kind: str,
        target_id: str | int,
        rating: int,
        comment: str | None = None,
        *,
        owner: str = LOCAL_OWNER,
    ) -> Feedback:
        """Rate a target ``+1`` (like) or ``-1`` (dislike), or change its rating.

        ``comment=None`` leaves an existing comment as it is (re-rating from a key binding keeps
        it); a string replaces it after redaction, and an empty or blank string removes it.
        Raises ``ValueError`` for any rating other than ``1`` or ``-1``.
        """
        if isinstance(rating, bool) or not isinstance(rating, int) or rating not in (-1, 1):
            raise ValueError(f"rating must be 1 (like) or -1 (dislike), not {rating!r}")
        if not target_kind:
            raise ValueError("target_kind must not be empty")
        if comment is None:
            return await _upsert(self.store, target_kind, target_id, rating, UNSET, owner)
        text = redact_text(comment).strip()
        return await _upsert(self.store, target_kind, target_id, rating, text or None, owner)

    async def get(
        self, target_kind: str, target_id: str | int, *, owner: str = LOCAL_OWNER
    ) -> Feedback | None:
        """The target's rating, or ``None`` if it has none."""
        return await _get(self.store, target_kind, target_id, owner)

    async def clear(
        self, target_kind: str, target_id: str | int, *, owner: str = LOCAL_OWNER
    ) -> bool:
        """Remove the target's rating; return whether there was one."""
        return await _delete(self.store, target_kind, target_id, owner)

    async def for_targets(
        self, target_kind: str, target_ids: Iterable[str | int], *, owner: str = LOCAL_OWNER
    ) -> dict[str, Feedback]:
        """The ratings of many targets at once, keyed by ``str(target_id)``; unrated ones absent."""
        ids = list(dict.fromkeys(str(i) for i in target_ids))
        result: dict[str, Feedback] = {}
        if not ids:
            return result
        store = self.store
        async with store._read() as db:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                rows = await store._all(
                    db,
                    f"SELECT {_COLUMNS} FROM feedback WHERE owner = ? AND target_kind = ?"
                    f" AND target_id IN ({', '.join('?' * len(chunk))})",
                    (owner, target_kind, *chunk),
                )
                for row in rows:
                    item = _feedback(row)
                    result[item.target_id] = item
        return result

    async def ratings(self, target_kind: str, *, owner: str = LOCAL_OWNER) -> dict[str, int]:
        """``owner``'s ratings of one kind, ``{target_id: +1 or -1}`` (kinds with few ratings)."""
        store = self.store
        async with store._read() as db:
            rows = await store._all(
                db,
                "SELECT target_id, rating FROM feedback WHERE owner = ? AND target_kind = ?",
                (owner, target_kind),
            )
        return {str(r[0]): int(r[1]) for r in rows}

    async def summary(
        self, target_kind: str | None = None, *, owner: str = LOCAL_OWNER
    ) -> dict[str, int]:
        """``{"likes": n, "dislikes": m}`` over ``owner``'s targets (or one kind's)."""
        sql = "SELECT rating, COUNT(*) FROM feedback WHERE owner = ?"
        params: tuple[Any, ...] = (owner,)
        if target_kind is not None:
            sql += " AND target_kind = ?"
            params = (owner, target_kind)
        store = self.store
        async with store._read() as db:
            rows = await store._all(db, sql + " GROUP BY rating", params)
        by_rating = {int(rating): int(n) for rating, n in rows}
        return {"likes": by_rating.get(1, 0), "dislikes": by_rating.get(-1, 0)}


async def _upsert(
    store: Database,
    target_kind: str,
    target_id: str | int,
    rating: int,
    comment: str | _Unset | None,
    owner: str = LOCAL_OWNER,
) -> Feedback:
    if isinstance(rating, bool) or rating not in (-1, 1):
        raise ValueError(f"rating must be 1 or -1, not {rating!r}")
    if not target_kind:
        raise ValueError("target_kind must not be empty")
    key = (owner, target_kind, str(target_id))
    now = time.time()
    new_comment = None if isinstance(comment, _Unset) else comment
    on_conflict = "rating = excluded.rating, updated = excluded.updated"
    if not isinstance(comment, _Unset):
        on_conflict += ", comment = excluded.comment"
    async with store._write() as db:
        await store._run(
            db,
            "INSERT INTO feedback (owner, target_kind, target_id, rating, comment, created,"
            " updated) VALUES (?, ?, ?, ?, ?, ?, ?)"
            f" ON CONFLICT (owner, target_kind, target_id) DO UPDATE SET {on_conflict}",
            (*key, rating, new_comment, now, now),
        )
        row = await store._one(
            db,
            f"SELECT {_COLUMNS} FROM feedback WHERE owner = ? AND target_kind = ?"
            " AND target_id = ?",
            key,
        )
    return _feedback(row)


async def _get(
    store: Database, target_kind: str, target_id: str | int, owner: str = LOCAL_OWNER
) -> Feedback | None:
    async with store._read() as db:
        row = await store._one(
            db,
            f"SELECT {_COLUMNS} FROM feedback WHERE owner = ? AND target_kind = ?"
            " AND target_id = ?",
            (owner, target_kind, str(target_id)),
        )
    return None if row is None else _feedback(row)


async def _delete(
    store: Database, target_kind: str, target_id: str | int, owner: str = LOCAL_OWNER
) -> bool:
    async with store._write() as db:
        count, _ = await store._run(
            db,
            "DELETE FROM feedback WHERE owner = ? AND target_kind = ? AND target_id = ?",
            (owner, target_kind, str(target_id)),
        )
    return count > 0


def _feedback(row: sqlite3.Row) -> Feedback:
    return from_row(Feedback, row)
