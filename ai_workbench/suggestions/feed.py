"""The suggestion queue as events (see :mod:`ai_workbench.core.events`).

Suggestions this process queues are published at once (the queue's in-process subscriber
hook), and so are status changes made here, by any queue object on the same database (an
item applied in the review screen leaves the panel at once). Rows other processes write
(``aiw watch``, the shell worker, ``aiw review``) are found by a poll of the open list, which
also notices items another process closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ai_workbench.core.events import EventBus, SuggestionAdded, SuggestionChanged

OPEN = ("new", "seen")

SUGGESTIONS_POLL_SECONDS = 3.0


def added(item: Any) -> SuggestionAdded:
    return SuggestionAdded(id=item.id, suggestion_kind=item.kind, title=item.title, item=item)


class SuggestionFeed:
    """Publishes :class:`SuggestionAdded` / :class:`SuggestionChanged` for ``queue``."""

    name = "suggestions"

    def __init__(
        self, bus: EventBus, queue: Any, interval: float = SUGGESTIONS_POLL_SECONDS
    ) -> None:
        self.bus = bus
        self.queue = queue
        self.interval = interval
        self.open_ids: set[int] | None = None  # the open items at the last look
        self._unsubscribe: Callable[[], None] | None = queue.subscribe(self._added_here)
        self._unsubscribe_status: Callable[[], None] | None = queue.on_status_change(
            self._changed_here
        )

    def _added_here(self, item: Any) -> None:
        if self.open_ids is not None:
            self.open_ids.add(item.id)
        self.bus.publish(added(item))

    def _changed_here(self, item: Any) -> None:
        if item.status in OPEN:
            return
        if self.open_ids is not None:
            self.open_ids.discard(item.id)
        self.bus.publish(SuggestionChanged(id=item.id, status=item.status))

    async def poll(self) -> None:
        items = await self.queue.list()
        ids = {item.id for item in items}
        if self.open_ids is None:  # first look: what is queued now is not news
            self.open_ids = ids
            return
        for item in reversed(items):  # oldest first, as they were queued
            if item.id not in self.open_ids:
                self.bus.publish(added(item))
        for gone in sorted(self.open_ids - ids):
            self.bus.publish(SuggestionChanged(id=gone, status="closed"))
        self.open_ids = ids

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._unsubscribe_status is not None:
            self._unsubscribe_status()
            self._unsubscribe_status = None
