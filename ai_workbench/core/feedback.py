"""Likes and dislikes (+1/-1, with an optional comment) on anything aiw shows.

A rating belongs to a target: ``target_kind`` (``'message'``, ``'finding'``, ``'chunk'``,
``'suggestion'``, ...) and ``target_id`` (stored as text, so ints and strings both work). One rating
per target: rating again changes it. Comments are redacted before they are stored.

Usage::

    feedback = FeedbackService(store)
    await feedback.rate("message", 42, +1)
    ratings = await feedback.for_targets("message", [m.id for m in messages])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from ai_workbench.core.redact import redact_text
from ai_workbench.core.store import Feedback, Store

__all__ = ["Feedback", "FeedbackService"]

_COLUMNS = "id, target_kind, target_id, rating, comment, created, updated"
_CHUNK: Final = 500
"""Ids per ``IN (...)`` query: well below SQLite's host-parameter limit."""


class FeedbackService:
    """Ratings on top of a :class:`Store` (reuses its connection and transactions)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def rate(
        self,
        target_kind: str,
        target_id: str | int,
        rating: int,
        comment: str | None = None,
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
            return await self.store.set_feedback(target_kind, target_id, rating)
        text = redact_text(comment).strip()
        return await self.store.set_feedback(target_kind, target_id, rating, text or None)

    async def get(self, target_kind: str, target_id: str | int) -> Feedback | None:
        """The target's rating, or ``None`` if it has none."""
        return await self.store.get_feedback(target_kind, target_id)

    async def clear(self, target_kind: str, target_id: str | int) -> bool:
        """Remove the target's rating; return whether there was one."""
        return await self.store.delete_feedback(target_kind, target_id)

    async def for_targets(
        self, target_kind: str, target_ids: Iterable[str | int]
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
                    f"SELECT {_COLUMNS} FROM feedback WHERE target_kind = ?"
                    f" AND target_id IN ({', '.join('?' * len(chunk))})",
                    (target_kind, *chunk),
                )
                for row in rows:
                    item = _feedback(row)
                    result[item.target_id] = item
        return result

    async def summary(self, target_kind: str | None = None) -> dict[str, int]:
        """``{"likes": n, "dislikes": m}`` over every target (or one kind's)."""
        sql = "SELECT rating, COUNT(*) FROM feedback"
        params: tuple[Any, ...] = ()
        if target_kind is not None:
            sql += " WHERE target_kind = ?"
            params = (target_kind,)
        store = self.store
        async with store._read() as db:
            rows = await store._all(db, sql + " GROUP BY rating", params)
        by_rating = {int(rating): int(n) for rating, n in rows}
        return {"likes": by_rating.get(1, 0), "dislikes": by_rating.get(-1, 0)}


def _feedback(row: Any) -> Feedback:
    return Feedback(
        id=row["id"],
        target_kind=row["target_kind"],
        target_id=row["target_id"],
        rating=row["rating"],
        comment=row["comment"],
        created=row["created"],
        updated=row["updated"],
    )
