"""The in-process event stream (core.events) and the feeds that turn cross-process sources
(the shell spool, rows other processes write, index run reports) into its events."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

from ai_workbench.core.events import (
    EventBus,
    FeedRunner,
    IndexRunFinished,
    SessionsChanged,
    ShellFailure,
    SuggestionAdded,
    SuggestionChanged,
)


def failure(n: int) -> ShellFailure:
    return ShellFailure(event_id=str(n), shell="bash", status=1, command=f"cmd {n}", cwd="/")


async def drain(sub: Any, count: int, timeout: float = 5.0) -> list[Any]:
    return [await asyncio.wait_for(sub.get(), timeout) for _ in range(count)]


# --------------------------------------------------------------------------------- the bus


async def test_events_arrive_in_publish_order_even_from_another_thread() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    worker = threading.Thread(target=lambda: [bus.publish(failure(n)) for n in range(200)])
    worker.start()
    got = await drain(sub, 200)
    worker.join()
    assert [e.event_id for e in got] == [str(n) for n in range(200)]


async def test_every_subscriber_gets_every_event_it_asked_for() -> None:
    bus = EventBus()
    everything, shell_only = bus.subscribe(), bus.subscribe(ShellFailure)
    seen: list[Any] = []
    bus.on(seen.append, SessionsChanged)
    bus.publish(failure(1))
    bus.publish(SessionsChanged(count=3))
    bus.publish(failure(2))
    assert [e.kind for e in await drain(everything, 3)] == [
        "shell.failure",
        "sessions.changed",
        "shell.failure",
    ]
    assert [e.event_id for e in await drain(shell_only, 2)] == ["1", "2"]
    assert shell_only.get_nowait() is None
    await asyncio.sleep(0)
    assert seen == [SessionsChanged(count=3)]


async def test_unsubscribed_listeners_hear_nothing_more() -> None:
    bus = EventBus()
    heard: list[Any] = []
    stop = bus.on(heard.append)
    sub = bus.subscribe()
    assert bus.subscriber_count == 2
    bus.publish(failure(1))
    await asyncio.sleep(0)
    stop()
    async with sub:
        assert (await sub.get()).event_id == "1"
    assert bus.subscriber_count == 0
    bus.publish(failure(2))
    await asyncio.sleep(0.01)
    assert [e.event_id for e in heard] == ["1"]
    assert [e async for e in sub] == []  # a closed subscription ends its iteration


async def test_a_closed_subscription_wakes_its_reader() -> None:
    bus = EventBus()
    sub = bus.subscribe()

    async def read_all() -> list[Any]:
        return [event async for event in sub]

    reader = asyncio.create_task(read_all())
    await asyncio.sleep(0.01)
    bus.publish(failure(1))
    await asyncio.sleep(0.01)
    sub.close()
    assert [e.event_id for e in await asyncio.wait_for(reader, 2)] == ["1"]


async def test_a_slow_subscriber_does_not_block_publish_or_the_others() -> None:
    bus = EventBus()
    slow = bus.subscribe(maxsize=10)  # never read while publishing
    blocked = threading.Event()
    bus.on(lambda event: blocked.wait(0.002))  # dawdles: 2 s for 1,000 events if inline
    fast = bus.subscribe()
    started = time.perf_counter()
    worker = threading.Thread(target=lambda: [bus.publish(failure(n)) for n in range(1000)])
    worker.start()
    worker.join(timeout=5)
    took = time.perf_counter() - started
    assert not worker.is_alive() and took < 1.0  # publish returned without waiting on anyone
    got = await drain(fast, 1000)
    assert [e.event_id for e in got][-1] == "999"
    await asyncio.sleep(0)
    kept = [slow.get_nowait() for _ in range(10)]
    assert [e.event_id for e in kept] == [str(n) for n in range(990, 1000)]  # the newest
    assert slow.dropped == 990 and slow.get_nowait() is None


def test_publishing_to_a_subscriber_whose_loop_is_gone_is_harmless() -> None:
    bus = EventBus()

    async def subscribe() -> None:
        bus.subscribe()
        bus.on(print)

    asyncio.run(subscribe())  # the loop closes with both subscribers still registered
    bus.publish(failure(1))  # no error, and the dead subscribers are dropped
    assert bus.subscriber_count == 0


def test_events_serialise_for_the_wire_without_in_process_objects() -> None:
    added = SuggestionAdded(id=7, suggestion_kind="shell", title="fix", item=object())
    assert added.to_dict() == {"kind": "suggestion.added", "id": 7, "suggestion_kind": "shell",
                               "title": "fix"}  # fmt: skip
    json.dumps(IndexRunFinished("/p", "/r.json", {"added": 3}).to_dict())


async def test_the_runner_keeps_a_failing_feed_going_and_stops_them_all() -> None:
    class Flaky:
        name, interval = "flaky", 0.01

        def __init__(self) -> None:
            self.calls = 0

        async def poll(self) -> None:
            self.calls += 1
            raise RuntimeError("source unreadable")

    feed, runner = Flaky(), FeedRunner()
    runner.start([feed])
    await asyncio.sleep(0.1)
    await runner.stop()
    calls = feed.calls
    assert calls >= 3
    await asyncio.sleep(0.05)
    assert feed.calls == calls


# ------------------------------------------------------------------------------- the feeds


async def test_the_spool_feed_publishes_new_failures_redacted() -> None:
    from ai_workbench.shell.feed import SpoolFeed
    from ai_workbench.shell.spool import ShellEvent, append_event

    append_event(ShellEvent(id="old", shell="bash", status=1, cmd="before-start", cwd="/tmp"))
    bus = EventBus()
    sub = bus.subscribe(ShellFailure)
    feed = SpoolFeed(bus)
    await feed.poll()  # first look: what is there already is not news
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    append_event(ShellEvent(id="e1", shell="zsh", status=127, cmd="gti status", cwd="/w"))
    append_event(ShellEvent(id="e2", shell="bash", status=1, cmd=f"curl -H 'x: {token}'", cwd="/w"))
    await feed.poll()
    got = await drain(sub, 2)
    assert [(e.event_id, e.status) for e in got] == [("e1", 127), ("e2", 1)]
    assert token not in got[1].command and "REDACTED" in got[1].command
    await feed.poll()  # nothing new
    assert sub.get_nowait() is None


async def test_the_suggestion_feed_sees_this_and_other_processes(store: Any, db_path: Path) -> None:
    from ai_workbench.store import Store
    from ai_workbench.suggestions.feed import SuggestionFeed
    from ai_workbench.suggestions.service import SuggestionQueue

    bus = EventBus()
    sub = bus.subscribe()
    # Another process: its own connection to the same database file (a second queue object
    # on the same Store is this process, whose status changes are heard at once).
    other_store = await Store.open(db_path)
    mine, elsewhere = SuggestionQueue(store), SuggestionQueue(other_store)
    before = await elsewhere.add("tip", "queued before the feed started")
    feed = SuggestionFeed(bus, mine)
    await feed.poll()
    here = await mine.add("tip", "added in this process")
    (event,) = await drain(sub, 1)  # at once, no poll needed
    assert isinstance(event, SuggestionAdded) and event.item is here
    other = await elsewhere.add("shell", "added by another process")
    await elsewhere.dismiss(before.id)
    await feed.poll()
    added, changed = await drain(sub, 2)
    assert (added.id, added.title) == (other.id, "added by another process")
    assert changed == SuggestionChanged(id=before.id, status="closed")
    await feed.poll()
    assert sub.get_nowait() is None
    feed.close()
    await other_store.close()


async def test_the_sessions_feed_announces_sessions_made_elsewhere(store: Any) -> None:
    from ai_workbench.chat.feed import SessionsFeed
    from ai_workbench.chat.sessions import SessionService

    bus = EventBus()
    sub = bus.subscribe()
    feed = SessionsFeed(bus, SessionService(store))
    await feed.poll()
    await feed.poll()
    assert sub.get_nowait() is None
    await store.create_session(title="from aiw ask")
    await feed.poll()
    assert await drain(sub, 1) == [SessionsChanged(count=1)]


async def test_the_index_feed_announces_a_new_run_report(tmp_path: Path) -> None:
    from ai_workbench.core import paths
    from ai_workbench.knowledge.feed import IndexRunFeed
    from ai_workbench.knowledge.service import project_key

    root = tmp_path / "project"
    root.mkdir()
    runs = paths.data_dir() / "knowledge" / project_key(root) / "runs"
    runs.mkdir(parents=True)
    (runs / "20240101-000000.json").write_text(json.dumps({"added": 1}))
    bus = EventBus()
    sub = bus.subscribe()
    feed = IndexRunFeed(bus, root)
    await feed.poll()
    assert feed.seen == runs / "20240101-000000.json" and sub.get_nowait() is None
    (runs / "20240102-000000.json").write_text(json.dumps({"added": 3, "failed": 0}))
    await feed.poll()
    (event,) = await drain(sub, 1)
    assert event.report == {"added": 3, "failed": 0}
    assert event.report_path == str(runs / "20240102-000000.json")
