"""Like / dislike a suggestion, routed to where the rating is used.

A review finding's rating goes through the review service (stored against the finding, its text,
category and file, and learned from by later reviews of the repository); any other suggestion's
rating is stored with the core feedback service against the suggestion itself
(``target_kind = "suggestion"``), where producers read it back.
"""

from __future__ import annotations

from typing import Any

from ai_workbench.core.db import Database as Store
from ai_workbench.core.feedback import Feedback, FeedbackService

__all__ = ["clear_suggestion_rating", "rate_suggestion", "suggestion_rating"]


def _finding_id(item: Any) -> int | None:
    payload = item.payload or {}
    value = payload.get("finding_id")
    return int(value) if item.kind == "review" and isinstance(value, int) else None


async def rate_suggestion(
    loaded: Any, store: Store, item: Any, rating: int, comment: str | None = None
) -> Feedback | None:
    """Store ``rating`` (+1/-1) with an optional comment; the saved feedback."""
    feedback = FeedbackService(store)
    finding = _finding_id(item)
    if finding is not None and loaded is not None:
        from ai_workbench.review import ReviewService

        await ReviewService(loaded, store).rate(finding, rating, comment)
        return await feedback.get("finding", finding)
    return await feedback.rate("suggestion", item.id, rating, comment)


async def clear_suggestion_rating(loaded: Any, store: Store, item: Any) -> None:
    finding = _finding_id(item)
    if finding is not None and loaded is not None:
        from ai_workbench.review import ReviewService

        await ReviewService(loaded, store).unrate(finding)
        return
    await FeedbackService(store).clear("suggestion", item.id)


async def suggestion_rating(store: Store, item: Any) -> Feedback | None:
    finding = _finding_id(item)
    if finding is not None:
        return await FeedbackService(store).get("finding", finding)
    return await FeedbackService(store).get("suggestion", item.id)
