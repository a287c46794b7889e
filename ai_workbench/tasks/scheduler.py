"""The reminder scheduler: one asyncio object that sleeps until the next reminder is due.

It asks the database when the earliest unclaimed reminder fires, sleeps until then (not a
poll a second), and wakes early when a task changes in this process (the service's change
listeners set an :class:`asyncio.Event`). Changes made by *another* process (``aiw task add`` in
a terminal while the workbench runs) are seen at the latest after ``recheck`` seconds (30 by
default): the sleep is capped at that.

When a reminder is due the scheduler *claims* it (``UPDATE ... WHERE claimed_at IS NULL``), so
with several schedulers running — the workbench, ``aiw remind``, ``aiw serve`` — each reminder is
delivered by exactly one. Delivery goes to every hook in :attr:`ReminderScheduler.hooks` (the
workbench's notification, notify-send, the terminal's OSC 9 / OSC 777 escape; Telegram's in
:mod:`ai_workbench.telegram.reminders`) and a :class:`~ai_workbench.core.events.ReminderDue`
event on the bus, if one is given (``aiw serve`` sends those to the owner's ``/v1/events``).

On start, reminders that fell due more than ``grace`` seconds before (nothing was running) are
claimed as *missed* and handed to :attr:`on_missed` once, as a list ("3 reminders missed while
aiw was not running"), instead of firing in a burst; the same happens to reminders found that
late while running (the machine was suspended).

The clock is injectable (:class:`Clock`); tests drive a :class:`ManualClock` without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any, Protocol

from ai_workbench.tasks.service import LOCAL, Owners, Reminder, TaskService

__all__ = ["Clock", "ManualClock", "ReminderScheduler", "SystemClock"]

log = logging.getLogger(__name__)

Hook = Callable[[Reminder], "Awaitable[None] | None"]
MissedHook = Callable[[list[Reminder]], "Awaitable[None] | None"]


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float, wake: asyncio.Event) -> None:
        """Return after ``seconds`` or as soon as ``wake`` is set, whichever comes first."""
        ...


class SystemClock:
    """Wall-clock time and real sleeping."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float, wake: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=max(0.0, seconds))


class ManualClock:
    """A clock the caller moves (:meth:`advance`); sleepers wake when their time comes."""

    def __init__(self, start: float) -> None:
        self._now = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float, wake: asyncio.Event) -> None:
        if seconds <= 0 or wake.is_set():
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self._now + seconds, future)
        self._sleepers.append(entry)
        waiter = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait({future, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if entry in self._sleepers:
                self._sleepers.remove(entry)

    def advance(self, seconds: float) -> None:
        self._now += seconds
        for deadline, future in list(self._sleepers):
            if deadline <= self._now and not future.done():
                future.set_result(None)

    @property
    def sleeping(self) -> int:
        return len(self._sleepers)


class ReminderScheduler:
    """Delivers a user's (or several users', or everyone's with ``owner=None``) reminders at
    their time, once. ``owners``, when given, is asked before every look at the database for
    the users to serve now (the paired Telegram users, the server's members): a user added
    while it runs is served from its next wake-up (``recheck`` seconds at the latest)."""

    def __init__(
        self,
        service: TaskService,
        *,
        owner: Owners = LOCAL,
        owners: Callable[[], Awaitable[Collection[str]]] | None = None,
        clock: Clock | None = None,
        hooks: list[Hook] | None = None,
        on_missed: MissedHook | None = None,
        bus: Any = None,
        grace: float = 120.0,
        recheck: float = 30.0,
        name: str | None = None,
    ) -> None:
        self.service = service
        self.owner = owner
        self.owners = owners
        self.clock: Clock = clock or SystemClock()
        self.hooks: list[Hook] = list(hooks or [])
        self.on_missed = on_missed
        self.bus = bus
        self.grace = grace
        self.recheck = recheck
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.delivered: list[Reminder] = []
        self.missed: list[Reminder] = []
        self.wakeups = 0
        self._wake = asyncio.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.started = asyncio.Event()

    # ---- lifecycle

    def start(self) -> asyncio.Task[None]:
        """Run in the background on the current loop (the workbench, ``aiw serve``)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="reminders")
        return self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def poke(self) -> None:
        """Something changed: look at the next due time again now."""
        self._wake.set()

    async def run(self) -> None:
        """Report what was missed, then deliver reminders as they fall due, until cancelled."""
        self._unsubscribe = self.service.on_change(self.poke)
        try:
            await self.catch_up()
            self.started.set()
            while True:
                await self.step()
        finally:
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None

    async def scope(self) -> Owners:
        """Whose reminders this scheduler delivers now."""
        if self.owners is None:
            return self.owner
        try:
            return list(await self.owners())
        except Exception:
            log.exception("reminder scheduler: cannot tell whose reminders to deliver")
            return []

    async def catch_up(self) -> list[Reminder]:
        """Claim as missed the reminders that fell due more than ``grace`` seconds ago."""
        cutoff = self.clock.now() - self.grace
        missed = []
        for reminder in await self.service.pending(cutoff, owner=await self.scope()):
            if await self.service.claim(reminder.id, by=self.name, outcome="missed"):
                missed.append(reminder)
        self.missed.extend(missed)
        for reminder in missed:
            await self.service.rearm_repeating(reminder)
        if missed:
            self._publish(missed, missed=True)
            if self.on_missed is not None:
                await _maybe_await(self.on_missed(missed))
        return missed

    async def step(self) -> None:
        """Deliver what is due now, then sleep until the next due time (or a change)."""
        self._wake.clear()
        await self.deliver_due()
        nxt = await self.service.next_fire_at(owner=await self.scope())
        now = self.clock.now()
        wait = self.recheck if nxt is None else min(self.recheck, max(0.0, nxt - now))
        if wait > 0:
            await self.clock.sleep(wait, self._wake)
        self.wakeups += 1

    async def deliver_due(self) -> list[Reminder]:
        """Deliver the reminders due now. One more than ``grace`` late (the machine slept, the
        loop was blocked) is listed as missed with the others of its kind, not fired."""
        now = self.clock.now()
        scope = await self.scope()
        pending = await self.service.pending(now, owner=scope)
        if any(now - r.fire_at > self.grace for r in pending):
            await self.catch_up()
            pending = await self.service.pending(now, owner=scope)
        delivered = []
        for reminder in pending:
            if not await self.service.claim(reminder.id, by=self.name):
                continue  # another scheduler took it
            delivered.append(reminder)
            self.delivered.append(reminder)
            self._publish([reminder], missed=False)
            for hook in list(self.hooks):
                try:
                    await _maybe_await(hook(reminder))
                except Exception:
                    log.exception("reminder hook %r failed", hook)
            await self.service.rearm_repeating(reminder)
        return delivered

    def _publish(self, reminders: list[Reminder], *, missed: bool) -> None:
        if self.bus is None:
            return
        from ai_workbench.core.events import ReminderDue

        for reminder in reminders:
            self.bus.publish(
                ReminderDue(
                    reminder_id=reminder.id,
                    task_id=reminder.task_id,
                    owner=reminder.owner,
                    title=reminder.title,
                    due_at=reminder.due_at,
                    fire_at=reminder.fire_at,
                    missed=missed,
                )
            )


async def _maybe_await(value: Any) -> None:
    if inspect.isawaitable(value):
        await value
