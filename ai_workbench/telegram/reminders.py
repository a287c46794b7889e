"""Reminders of paired users, delivered to their Telegram chats while ``aiw telegram`` runs.

One :class:`~ai_workbench.tasks.scheduler.ReminderScheduler` serves every aiw user who has a
paired Telegram account (asked again at each wake-up, so a user paired while the bot runs is
served from then on). A task's ``owner`` is the aiw user name; the ``telegram_links`` table maps
it to one or more Telegram ids (a private chat's id is the user's id). The scheduler *claims*
each reminder in the database before delivering it, so with the workbench, ``aiw remind`` or
``aiw serve`` running too a reminder still arrives once, from whichever claimed it.

Reminders that fell due while nothing ran are not fired in a burst: each paired user gets one
message listing theirs ("2 reminders missed while aiw was not running: ...").
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from ai_workbench.tasks.notify import missed_line, reminder_lines
from ai_workbench.tasks.scheduler import Clock, ReminderScheduler
from ai_workbench.tasks.service import Reminder, TaskService
from ai_workbench.telegram.links import TelegramLinks

__all__ = ["reminder_text", "telegram_scheduler"]

log = logging.getLogger("ai_workbench.telegram")

Send = Callable[[int, str], Awaitable[None]]


def reminder_text(reminder: Reminder, zone: ZoneInfo | None = None) -> str:
    """``⏰ Reminder: renew the cert (due Fri 2026-12-04 09:00 Europe/Berlin)`` and the task's
    links, one a line, then how to act on it."""
    _, body = reminder_lines(reminder, zone)
    lines = [f"⏰ Reminder: {body}"]
    lines += [f"🔗 {link.target}" for link in reminder.links[:5]]
    task = reminder.task_id
    lines.append(f"task {task}: /done {task} · /snooze {task} 1h")
    return "\n".join(lines)


def telegram_scheduler(
    store: Any,
    send: Send,
    *,
    settings: Any,
    clock: Clock | None = None,
    on_event: Callable[[str], None] | None = None,
) -> ReminderScheduler:
    """The scheduler of the paired users' reminders; ``send(chat_id, text)`` delivers one.
    ``settings`` is the ``[tasks]`` section (timezone, missed grace, recheck)."""
    from ai_workbench.tasks.dates import resolve_zone

    links = TelegramLinks(store)
    zone = resolve_zone(getattr(settings, "timezone", "") or "")
    event = on_event or (lambda line: log.info("%s", line))

    async def paired() -> list[str]:
        return sorted({link.owner for link in await links.list()})

    async def chats(owner: str) -> list[int]:
        return [link.telegram_id for link in await links.list() if link.owner == owner]

    async def deliver(reminder: Reminder) -> None:
        targets = await chats(reminder.owner)
        if not targets:
            event(f"reminder {reminder.id} of {reminder.owner}: no paired chat any more")
        for chat_id in targets:
            await send(chat_id, reminder_text(reminder, zone))
        event(f"reminder of task {reminder.task_id} sent to {reminder.owner}")

    async def missed(reminders: list[Reminder]) -> None:
        by_owner: dict[str, list[Reminder]] = defaultdict(list)
        for reminder in reminders:
            by_owner[reminder.owner].append(reminder)
        for owner, theirs in by_owner.items():
            for chat_id in await chats(owner):
                await send(chat_id, "⏰ " + missed_line(theirs, zone))

    return ReminderScheduler(
        TaskService(store),
        owner=None,
        owners=paired,
        clock=clock,
        hooks=[deliver],
        on_missed=missed,
        grace=getattr(settings, "missed_grace", 120.0),
        recheck=getattr(settings, "recheck_seconds", 30.0),
        name=None,
    )
