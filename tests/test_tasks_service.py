"""Tasks, reminders and the scheduler on a real SQLite database, with a controllable clock."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ai_workbench.core.events import EventBus, ReminderDue
from ai_workbench.store import Store
from ai_workbench.tasks.ics import to_ics
from ai_workbench.tasks.notify import missed_line, osc_notification
from ai_workbench.tasks.scheduler import ManualClock, ReminderScheduler
from ai_workbench.tasks.service import Link, TaskNotFound, TaskService

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 12, 2, 15, 0, tzinfo=BERLIN).timestamp()


def service_on(store: Any, clock: ManualClock) -> TaskService:
    return TaskService(store, clock=clock.now)


def due_in(clock: ManualClock, seconds: float) -> datetime:
    return datetime.fromtimestamp(clock.now() + seconds, BERLIN)


async def settle(condition: Any, clock: ManualClock | None = None, rounds: int = 200) -> None:
    """Let the scheduler's task run until ``condition()`` holds (no wall-clock sleeping)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")


async def test_tasks_are_scoped_per_user(store: Store) -> None:
    clock = ManualClock(T0)
    tasks = service_on(store, clock)
    mine = await tasks.add("renew cert", due=due_in(clock, 3600), tz="Europe/Berlin")
    theirs = await tasks.add("water plants", owner="alice")

    assert [t.title for t in await tasks.list()] == ["renew cert"]
    assert [t.title for t in await tasks.list(owner="alice")] == ["water plants"]
    with pytest.raises(TaskNotFound):
        await tasks.get(theirs.id)  # the local user cannot see alice's task
    with pytest.raises(TaskNotFound):
        await tasks.done(mine.id, owner="alice")
    with pytest.raises(TaskNotFound):
        await tasks.remove(mine.id, owner="alice")
    assert await tasks.next_fire_at(owner="alice") is None
    assert await tasks.next_fire_at() == pytest.approx(clock.now() + 3600)


async def test_list_filters_and_order(store: Store) -> None:
    clock = ManualClock(T0)
    tasks = service_on(store, clock)
    await tasks.add("later", due=due_in(clock, 3 * 86400), tags=["ops"])
    await tasks.add("undated")
    await tasks.add("overdue", due=due_in(clock, -3600), remind_before=None)
    soon = await tasks.add("soon", due=due_in(clock, 600), tags=["ops", "+home"])
    await tasks.done(soon.id)

    assert [t.title for t in await tasks.list()] == ["overdue", "later", "undated"]
    assert [t.title for t in await tasks.list(status=None, tag="ops")] == ["soon", "later"]
    now = datetime.fromtimestamp(clock.now(), BERLIN)
    assert [t.title for t in await tasks.list(due_before=now)] == ["overdue"]
    assert (await tasks.get(soon.id)).tags == ["home", "ops"]


async def test_secrets_in_a_title_are_redacted(store: Store) -> None:
    tasks = TaskService(store)
    task = await tasks.add("rotate key ghp_" + "a" * 36 + " today")
    assert "ghp_" not in task.title and "REDACTED" in task.title


async def test_done_on_a_repeating_task_moves_it_to_the_next_occurrence(store: Store) -> None:
    clock = ManualClock(T0)
    tasks = service_on(store, clock)
    monday = datetime(2026, 12, 7, 10, 0, tzinfo=BERLIN)
    task = await tasks.add("standup", due=monday, tz="Europe/Berlin", rrule="FREQ=WEEKLY;BYDAY=MO")

    after = await tasks.done(task.id)

    assert after.status == "open"
    assert after.due(BERLIN) == datetime(2026, 12, 14, 10, 0, tzinfo=BERLIN)
    assert after.next_reminder == pytest.approx(after.due_at)


async def test_scheduler_sleeps_until_the_due_time_then_delivers_once(store: Store) -> None:
    clock = ManualClock(T0)
    tasks = service_on(store, clock)
    bus = EventBus()
    events: list[ReminderDue] = []
    bus.on(events.append, ReminderDue)
    got: list[Any] = []
    scheduler = ReminderScheduler(tasks, clock=clock, hooks=[got.append], bus=bus, recheck=3600)
    await tasks.add("renew cert", due=due_in(clock, 600), tz="Europe/Berlin")
    scheduler.start()
    try:
        await settle(lambda: clock.sleeping == 1)
        clock.advance(599)  # one second early: nothing yet
        await settle(lambda: clock.sleeping == 1)
        assert got == []
        wakeups = scheduler.wakeups
        clock.advance(1)
        await settle(lambda: len(got) == 1)
        await settle(lambda: clock.sleeping == 1)
        assert scheduler.wakeups - wakeups <= 2  # it slept; it did not spin
        assert got[0].title == "renew cert"
        assert [e.title for e in events] == ["renew cert"] and not events[0].missed
        clock.advance(3600)
        await settle(lambda: clock.sleeping == 1)
        assert len(got) == 1  # delivered once
    finally:
        await scheduler.stop()


async def test_a_new_task_wakes_the_sleeping_scheduler(store: Store) -> None:
    clock = ManualClock(T0)
    tasks = service_on(store, clock)
    got: list[Any] = []
    scheduler = ReminderScheduler(tasks, clock=clock, hooks=[got.append], recheck=3600)
    scheduler.start()
    try:
        await settle(lambda: clock.sleeping == 1)  # nothing to do: sleeping for an hour
        await tasks.add("deploy", due=due_in(clock, 30), tz="Europe/Berlin")
        await settle(lambda: scheduler.wakeups >= 1)
        clock.advance(30)  # the new, earlier due time is what it now sleeps until
        await settle(lambda: len(got) == 1)
    finally:
        await scheduler.stop()


async def test_two_schedulers_deliver_a_reminder_once(tmp_path: Path) -> None:
    """Two processes' worth: two connections to one database file, one clock."""
    path = tmp_path / "aiw.db"
    clock = ManualClock(T0)
    first_store, second_store = await Store.open(path), await Store.open(path)
    try:
        first, second = service_on(first_store, clock), service_on(second_store, clock)
        for number in range(5):
            await first.add(f"task {number}", due=due_in(clock, 60 + number), tz="Europe/Berlin")
        got_a: list[Any] = []
        got_b: list[Any] = []
        a = ReminderScheduler(first, clock=clock, hooks=[got_a.append], name="a", recheck=5)
        b = ReminderScheduler(second, clock=clock, hooks=[got_b.append], name="b", recheck=5)
        a.start()
        b.start()
        await settle(lambda: clock.sleeping == 2)
        clock.advance(120)
        await settle(lambda: len(got_a) + len(got_b) == 5)
        clock.advance(120)
        await asyncio.sleep(0.1)
        await a.stop()
        await b.stop()
        titles = sorted(r.title for r in got_a + got_b)
        assert titles == [f"task {n}" for n in range(5)]  # each once, none twice
        claimed = await first.claimed()
        assert len(claimed) == 5 and {by for _, by, _ in claimed} <= {"a", "b"}
    finally:
        await first_store.close()
        await second_store.close()


async def test_missed_reminders_are_listed_at_the_next_start_not_fired(tmp_path: Path) -> None:
    path = tmp_path / "aiw.db"
    clock = ManualClock(T0)
    store = await Store.open(path)
    tasks = service_on(store, clock)
    for title, delay in (("backup", 60), ("renew", 120), ("call", 180), ("later", 86400)):
        await tasks.add(title, due=due_in(clock, delay), tz="Europe/Berlin")
    await store.close()  # nothing runs for two hours
    clock.advance(7200)

    store = await Store.open(path)
    try:
        tasks = service_on(store, clock)
        missed: list[list[Any]] = []
        delivered: list[Any] = []
        scheduler = ReminderScheduler(
            tasks, clock=clock, hooks=[delivered.append], on_missed=missed.append, recheck=60
        )
        scheduler.start()
        await settle(lambda: scheduler.started.is_set() and clock.sleeping == 1)
        assert delivered == []  # no burst
        assert [[r.title for r in batch] for batch in missed] == [["backup", "renew", "call"]]
        line = missed_line(missed[0], BERLIN)
        assert line.startswith("3 reminders missed while aiw was not running: #1 backup (due")
        clock.advance(86400 - 7200)  # the last one's due time
        await settle(lambda: len(delivered) == 1)
        assert delivered[0].title == "later"
        await scheduler.stop()
        # a restart does not list them again
        again: list[Any] = []
        second = ReminderScheduler(tasks, clock=clock, on_missed=again.append)
        assert await second.catch_up() == [] and again == []
    finally:
        await store.close()


async def test_snooze_and_edit_rearm_the_reminder(store: Store) -> None:
    clock = ManualClock(T0)
    tasks = service_on(store, clock)
    task = await tasks.add("renew", due=due_in(clock, 60), tz="Europe/Berlin")
    snoozed = await tasks.snooze(task.id, timedelta(hours=2))
    assert snoozed.next_reminder == pytest.approx(clock.now() + 7200)
    assert snoozed.due_at == task.due_at  # the due time stays
    edited = await tasks.edit(task.id, due=due_in(clock, 86400), remind_before=timedelta(hours=1))
    assert edited.next_reminder == pytest.approx(clock.now() + 86400 - 3600)
    done = await tasks.done(task.id)
    assert done.status == "done" and done.next_reminder is None
    assert await tasks.next_fire_at() is None


async def test_ics_export_parses_back(store: Store, tmp_path: Path) -> None:
    from icalendar import Calendar

    clock = ManualClock(T0)
    tasks = service_on(store, clock)
    doc = tmp_path / "runbook.md"
    doc.write_text("steps")
    await tasks.add(
        "renew the TLS cert",
        due=datetime(2026, 12, 4, 9, 0, tzinfo=BERLIN),
        tz="Europe/Berlin",
        remind_before=timedelta(days=1),
        tags=["ops"],
        links=[Link("url", "https://example.com/cert"), Link("file", str(doc))],
    )
    await tasks.add(
        "standup",
        due=datetime(2026, 12, 7, 10, 0, tzinfo=BERLIN),
        tz="Europe/Berlin",
        rrule="FREQ=WEEKLY;BYDAY=MO",
    )
    calendar = Calendar.from_ical(to_ics(await tasks.list()))
    todos = {str(t["summary"]): t for t in calendar.walk("VTODO")}

    cert = todos["renew the TLS cert"]
    assert cert.decoded("due") == datetime(2026, 12, 4, 9, 0, tzinfo=BERLIN)
    assert str(cert["url"]) == "https://example.com/cert"
    assert str(cert["attach"]) == f"file://{doc}"
    assert cert["categories"].cats == ["ops"]
    (alarm,) = cert.walk("VALARM")
    assert alarm.decoded("trigger") == -timedelta(days=1)
    assert todos["standup"]["rrule"]["FREQ"] == ["WEEKLY"]


def test_terminal_escapes_carry_no_smuggled_controls() -> None:
    text = osc_notification("Reminder", "rotate keys \x1b]52;c;Zm9v\x07 now", tmux=False)
    assert text.count("\x1b]") == 2  # OSC 9 and OSC 777, nothing from the title
    assert "52;c" not in text.replace("\x1b]52", "")  # the smuggled sequence is gone
    assert "\x1b]9;Reminder: rotate keys" in text
    wrapped = osc_notification("Reminder", "x", tmux=True)
    assert wrapped.startswith("\x1bPtmux;\x1b\x1b]9;")


async def test_reminders_found_late_after_a_suspend_are_listed_not_fired(store: Store) -> None:
    clock = ManualClock(T0)
    tasks = service_on(store, clock)
    for title, delay in (("standup", 600), ("deploy", 900)):
        await tasks.add(title, due=due_in(clock, delay), tz="Europe/Berlin")
    missed: list[list[Any]] = []
    delivered: list[Any] = []
    scheduler = ReminderScheduler(
        tasks, clock=clock, hooks=[delivered.append], on_missed=missed.append, recheck=60
    )
    scheduler.start()
    try:
        await settle(lambda: clock.sleeping == 1)
        clock.advance(5 * 3600)  # the laptop slept through both
        await settle(lambda: len(missed) == 1)
        assert [r.title for r in missed[0]] == ["standup", "deploy"] and delivered == []
    finally:
        await scheduler.stop()


async def test_a_repeating_task_reminds_at_every_occurrence(store: Store) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 9, 0, tzinfo=BERLIN).timestamp())  # a Monday
    tasks = service_on(store, clock)
    monday = datetime(2026, 12, 7, 10, 0, tzinfo=BERLIN)
    task = await tasks.add(
        "standup", due=monday, tz="Europe/Berlin", rrule="FREQ=WEEKLY;BYDAY=MO",
        remind_before=timedelta(minutes=5),
    )  # fmt: skip
    got: list[Any] = []
    scheduler = ReminderScheduler(tasks, clock=clock, hooks=[got.append], recheck=3600)
    scheduler.start()
    try:
        await settle(lambda: clock.sleeping == 1)
        clock.advance(55 * 60)  # 09:55
        await settle(lambda: len(got) == 1)
        after = await tasks.get(task.id)
        next_week = datetime(2026, 12, 14, 9, 55, tzinfo=BERLIN).timestamp()
        assert after.next_reminder == pytest.approx(next_week)
        assert after.due(BERLIN) == monday  # not done: still due on the 7th
        clock.advance(next_week - clock.now())
        await settle(lambda: len(got) == 2)  # not marked done, reminded again
    finally:
        await scheduler.stop()
