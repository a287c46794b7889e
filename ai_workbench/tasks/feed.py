"""Claimed reminders as events, across processes: :class:`ReminderFeed`.

A scheduler publishes :class:`~ai_workbench.core.events.ReminderDue` on its own process's bus
only. ``aiw serve --workers N`` runs one scheduler per worker, and a user's ``/v1/events``
stream may be on another worker than the one that claimed the reminder (or the reminder was
claimed by ``aiw telegram``, the workbench or ``aiw remind``). The feed looks at the reminders
table every few seconds and publishes each reminder claimed since its last look, once per
process; its first look only records the time, so earlier reminders are not news.
"""

from __future__ import annotations

import time
from typing import Any

from ai_workbench.core.events import ReminderDue
from ai_workbench.tasks.service import TaskService

__all__ = ["REMINDERS_POLL_SECONDS", "ReminderFeed"]

REMINDERS_POLL_SECONDS = 2.0
#: Claims by other processes can land with a slightly older timestamp than the last one seen:
#: each look reaches this far back and skips the reminders it already published.
_OVERLAP_SECONDS = 10.0


class ReminderFeed:
    """Publishes :class:`ReminderDue` for each reminder claimed by any scheduler."""

    name = "reminders"

    def __init__(
        self, bus: Any, service: TaskService, interval: float = REMINDERS_POLL_SECONDS
    ) -> None:
        self.bus = bus
        self.service = service
        self.interval = interval
        self.since: float | None = None
        self.seen: dict[int, float] = {}  # reminder id -> claimed_at, within the overlap

    async def poll(self) -> None:
        first = self.since is None
        since = time.time() if self.since is None else self.since
        found = await self.service.claimed_since(since - _OVERLAP_SECONDS, owner=None)
        self.since = since
        for claimed_at, outcome, reminder in found:
            if reminder.id in self.seen:
                continue
            self.seen[reminder.id] = claimed_at
            if first:  # what was claimed before this process looked is not news
                continue
            self.bus.publish(
                ReminderDue(
                    reminder_id=reminder.id,
                    task_id=reminder.task_id,
                    owner=reminder.owner,
                    title=reminder.title,
                    due_at=reminder.due_at,
                    fire_at=reminder.fire_at,
                    missed=outcome == "missed",
                )
            )
        if found:
            self.since = max(since, max(c for c, _, _ in found))
        cutoff = self.since - _OVERLAP_SECONDS
        self.seen = {k: v for k, v in self.seen.items() if v >= cutoff}
