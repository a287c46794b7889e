"""One typed, in-process event stream: what happened elsewhere, told once to every listener.

Several things an aiw process wants to show happen in *other* processes: the shell hook appends
a failed command to the spool file, ``aiw watch`` / the shell worker / ``aiw review`` queue
suggestions in the database, ``aiw index`` writes an index run report, ``aiw ask`` adds
sessions. Instead of every interface polling each of those with its own timer, one **feed** per
source turns it into typed events published on an :class:`EventBus`:

=====================  ============================================  =========================
event                  source (feed)                                  feed module
=====================  ============================================  =========================
:class:`ShellFailure`  the shell spool file (a stat a second)         ``shell/feed.py``
:class:`SuggestionAdded`, :class:`SuggestionChanged`
                       the suggestions table (in-process adds at      ``suggestions/feed.py``
                       once, other processes' rows by polling)
:class:`IndexRunFinished`  the index's run reports                    ``knowledge/feed.py``
:class:`SessionsChanged`   the sessions table (``aiw ask`` elsewhere)  ``chat/feed.py``
:class:`McpServerState`    an MCP server's connection (starting, ready,  ``mcp/feed.py``
                           failed), from the hub that runs it
:class:`ReminderDue`       a task's reminder fell due (or was missed),    ``tasks/scheduler.py``
                           claimed by this process's scheduler
=====================  ============================================  =========================

Feeds live with the capability that owns the source (core imports no capability) and publish
into this module's bus; a host process starts them with :class:`FeedRunner`. Listeners
subscribe to the bus, never to the sources:

- the workbench (``tui/``) registers callbacks (:meth:`EventBus.on`) that run on its event
  loop and update panes or show a notification;
- the HTTP server's SSE endpoint will do ``async for event in bus.subscribe(): yield
  sse(event.kind, event.to_dict())`` per client, and the Telegram channel the same with its
  own filter; both start the same feeds once per server process. :meth:`Event.to_dict` gives
  the JSON-safe fields for them.

Guarantees: :meth:`EventBus.publish` is thread-safe (feeds and watchers may run in threads) and
never blocks: each subscriber has its own queue, so a slow subscriber delays only itself (its
bounded queue drops its *oldest* events when full and counts them in ``dropped``). Every
subscriber sees the events it gets in the order they were published. Standard library only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Protocol

__all__ = [
    "Event",
    "EventBus",
    "Feed",
    "FeedRunner",
    "IndexRunFinished",
    "McpServerState",
    "ReminderDue",
    "SessionsChanged",
    "ShellFailure",
    "Subscription",
    "SuggestionAdded",
    "SuggestionChanged",
]

log = logging.getLogger(__name__)

#: Events a subscriber's queue holds before the oldest are dropped.
DEFAULT_QUEUE = 1000


# ------------------------------------------------------------------------------- event types


@dataclass(frozen=True)
class Event:
    """Base of every event; ``kind`` names it on the wire (SSE ``event:`` field)."""

    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        """The JSON-safe fields (objects kept for in-process listeners are left out)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if not f.metadata.get("local")}
        return {"kind": self.kind, **data}


#: Metadata of a field for in-process listeners only (left out by :meth:`Event.to_dict`).
LOCAL = {"local": True}


@dataclass(frozen=True)
class ShellFailure(Event):
    """A command failed in a shell with the hook installed (the command is redacted)."""

    kind: ClassVar[str] = "shell.failure"
    event_id: str
    shell: str
    status: int
    command: str
    cwd: str


@dataclass(frozen=True)
class SuggestionAdded(Event):
    """A suggestion was queued (here or by another process); ``item`` is the queue's object."""

    kind: ClassVar[str] = "suggestion.added"
    id: int
    suggestion_kind: str
    title: str
    item: Any = field(default=None, compare=False, repr=False, metadata=LOCAL)


@dataclass(frozen=True)
class SuggestionChanged(Event):
    """A suggestion left the open list (``status`` dismissed, applied, … or ``closed`` when
    another process closed it and the poll only saw it go)."""

    kind: ClassVar[str] = "suggestion.changed"
    id: int
    status: str


@dataclass(frozen=True)
class IndexRunFinished(Event):
    """An index run of ``project_root`` finished; ``report`` is its JSON run report."""

    kind: ClassVar[str] = "index.finished"
    project_root: str
    report_path: str
    report: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class SessionsChanged(Event):
    """Sessions were added, renamed or got messages (``count`` sessions now)."""

    kind: ClassVar[str] = "sessions.changed"
    count: int


@dataclass(frozen=True)
class McpServerState(Event):
    """An MCP server's connection changed: ``state`` is starting, ready, failed, disabled or
    stopped; ``tools`` how many it offers when ready; ``error`` why it failed (the reason and
    the tail of its stderr, redacted and stripped of control sequences)."""

    kind: ClassVar[str] = "mcp.server"
    server: str
    state: str
    tools: int = 0
    error: str = ""
    transport: str = ""  # stdio | http | memory
    target: str = ""  # the command or URL (for display)


@dataclass(frozen=True)
class ReminderDue(Event):
    """A task's reminder fell due and this process's scheduler claimed it (delivered once across
    every scheduler); ``missed`` when it fell due while nothing ran (listed at the next start).
    Times are UTC epoch seconds; ``owner`` is the user (Telegram delivers to paired users)."""

    kind: ClassVar[str] = "task.reminder"
    reminder_id: int
    task_id: int
    owner: str
    title: str
    due_at: float | None
    fire_at: float
    missed: bool = False


# ------------------------------------------------------------------------------------- bus


class Subscription:
    """A subscriber's queue: an async iterator of events, bound to the loop it was made on.

    ``async for event in subscription`` waits for events; :meth:`close` (or leaving ``async
    with``) ends the iteration and unsubscribes.
    """

    def __init__(
        self,
        bus: EventBus,
        types: tuple[type[Event], ...],
        maxsize: int,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._bus = bus
        self.types = types
        self.loop = loop
        self._queue: deque[Event] = deque(maxlen=maxsize)
        self._wake = asyncio.Event()
        self.closed = False
        self.dropped = 0  # events lost because this subscriber fell behind

    def wants(self, event: Event) -> bool:
        return not self.types or isinstance(event, self.types)

    def _put(self, event: Event) -> None:  # on the subscriber's loop
        if self.closed:
            return
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(event)
        self._wake.set()

    def _deliver(self, event: Event) -> None:  # from any thread
        _schedule(self.loop, self._put, event, self._bus, self)

    async def get(self) -> Event:
        """The next event (waits); raises ``StopAsyncIteration`` once closed and drained."""
        while not self._queue:
            if self.closed:
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()
        return self._queue.popleft()

    def get_nowait(self) -> Event | None:
        return self._queue.popleft() if self._queue else None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._remove(self)
            with contextlib.suppress(RuntimeError):  # the loop is gone: nothing waits
                self.loop.call_soon_threadsafe(self._wake.set)


class _Callback:
    """A callback subscriber: ``callback(event)`` runs on its loop, in publish order."""

    def __init__(
        self,
        bus: EventBus,
        callback: Callable[[Any], object],
        types: tuple[type[Event], ...],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._bus = bus
        self.callback = callback
        self.types = types
        self.loop = loop
        self.closed = False

    def wants(self, event: Event) -> bool:
        return not self.types or isinstance(event, self.types)

    def _call(self, event: Event) -> None:
        if self.closed:
            return
        try:
            self.callback(event)
        except Exception:
            log.exception("event subscriber %r failed on %s", self.callback, event.kind)

    def _deliver(self, event: Event) -> None:
        _schedule(self.loop, self._call, event, self._bus, self)

    def close(self) -> None:
        self.closed = True
        self._bus._remove(self)


def _schedule(
    loop: asyncio.AbstractEventLoop, fn: Callable[[Event], None], event: Event, bus: Any, sub: Any
) -> None:
    try:
        loop.call_soon_threadsafe(fn, event)
    except RuntimeError:  # the subscriber's loop is closed: it will never read again
        bus._remove(sub)


class EventBus:
    """Publish/subscribe for :class:`Event` objects within one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscription | _Callback] = []
        self.published = 0

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every interested subscriber; safe from any thread, never blocks."""
        with self._lock:
            subscribers = list(self._subscribers)
            self.published += 1
        for subscriber in subscribers:
            if subscriber.wants(event):
                subscriber._deliver(event)

    def subscribe(self, *types: type[Event], maxsize: int = DEFAULT_QUEUE) -> Subscription:
        """An async iterator of the events of ``types`` (every event when none are given).

        Call it on the loop that will read the events."""
        sub = Subscription(self, types, maxsize, asyncio.get_running_loop())
        with self._lock:
            self._subscribers.append(sub)
        return sub

    def on(
        self,
        callback: Callable[[Any], object],
        *types: type[Event],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Callable[[], None]:
        """Call ``callback(event)`` on ``loop`` (the running one by default) for each event of
        ``types``; returns the function that unsubscribes."""
        sub = _Callback(self, callback, types, loop or asyncio.get_running_loop())
        with self._lock:
            self._subscribers.append(sub)
        return sub.close

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def _remove(self, sub: Subscription | _Callback) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)


# ------------------------------------------------------------------------------------ feeds


class Feed(Protocol):
    """A poller that turns one cross-process source into events on a bus.

    ``poll`` looks once (cheaply: a stat, a directory listing, one query) and publishes what is
    new since its last look; its first look only records where the source stands, so what
    happened before the process started is not news."""

    name: str
    interval: float

    async def poll(self) -> None: ...


class FeedRunner:
    """Runs feeds as plain asyncio tasks: each polls at once, then every ``feed.interval``
    seconds; a failing poll is logged and retried at the next tick."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.feeds: dict[str, Feed] = {}

    def start(self, feeds: Iterable[Feed]) -> None:
        for feed in feeds:
            if feed.name in self._tasks:
                continue
            self.feeds[feed.name] = feed
            self._tasks[feed.name] = asyncio.create_task(self._run(feed), name=f"feed:{feed.name}")

    async def _run(self, feed: Feed) -> None:
        while True:
            try:
                await feed.poll()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("feed %s failed", feed.name)
            await asyncio.sleep(feed.interval)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
