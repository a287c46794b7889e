"""Tasks and reminders: the capability's public API.

:class:`TaskService` keeps a user's tasks (title, due time, recurrence, tags, links to URLs and
files, notes) and their reminders in the aiw database; every method takes ``owner`` (the user's
name, ``"local"`` for the workbench and CLI). Dates come in already read
(:mod:`ai_workbench.tasks.dates`); times are stored as UTC epoch seconds with the IANA zone they
were given in, so a recurring 10:00 stays 10:00 after a DST change.

A task with a due time and a ``remind_before`` has one pending reminder row at ``due -
remind_before``; editing the due time, snoozing or completing re-arms it. A scheduler
(:mod:`ai_workbench.tasks.scheduler`) *claims* a reminder with one atomic ``UPDATE ... WHERE
claimed_at IS NULL`` before delivering it, so with several schedulers running (workbench, ``aiw
remind``, ``aiw serve``) each reminder is delivered once.

In-process listeners (:meth:`TaskService.on_change`) hear every change made through any service
on the same database object: the scheduler re-arms at once, the workbench pane reloads.
"""

from __future__ import annotations

import builtins
import json
import logging
import time
import weakref
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from ai_workbench.core.db import Database, StoreError
from ai_workbench.core.errors import EXIT_INPUT, InputError
from ai_workbench.core.redact import redact_text
from ai_workbench.core.sanitize import strip_controls

__all__ = [
    "LOCAL",
    "Link",
    "Reminder",
    "Task",
    "TaskNotFound",
    "TaskService",
]

log = logging.getLogger(__name__)

LOCAL: Final = "local"
_COLUMNS = (
    "id, owner, title, notes, status, due_at, tz, rrule, remind_before, tags, links, created,"
    " updated, done_at"
)
_UNSET: Any = object()


class TaskNotFound(StoreError):
    """No task of this user has this id."""

    exit_code = EXIT_INPUT

    def __init__(self, task_id: int) -> None:
        super().__init__(f"no task with id {task_id}; `aiw task list --all` shows the ids")
        self.task_id = task_id


@dataclass(frozen=True, slots=True)
class Link:
    kind: str  # url | file
    target: str


@dataclass(slots=True)
class Task:
    id: int
    owner: str
    title: str
    notes: str
    status: str
    due_at: float | None
    tz: str
    rrule: str | None
    remind_before: float | None
    tags: list[str]
    links: list[Link]
    created: float
    updated: float
    done_at: float | None = None
    next_reminder: float | None = None

    def due(self, zone: ZoneInfo | None = None) -> datetime | None:
        """The due time, aware, in ``zone`` (the task's own by default)."""
        if self.due_at is None:
            return None
        return datetime.fromtimestamp(self.due_at, zone or ZoneInfo(self.tz))

    def to_dict(self) -> dict[str, Any]:
        due = self.due()
        return {
            "id": self.id,
            "owner": self.owner,
            "title": self.title,
            "notes": self.notes,
            "status": self.status,
            "due": due.isoformat() if due else None,
            "tz": self.tz,
            "rrule": self.rrule,
            "remind_before_seconds": self.remind_before,
            "next_reminder": (
                datetime.fromtimestamp(self.next_reminder, ZoneInfo(self.tz)).isoformat()
                if self.next_reminder
                else None
            ),
            "tags": self.tags,
            "links": [{"kind": link.kind, "target": link.target} for link in self.links],
            "created": self.created,
            "done_at": self.done_at,
        }


@dataclass(slots=True)
class Reminder:
    """A reminder to deliver (or one that was missed): the task's state when it fired."""

    id: int
    task_id: int
    owner: str
    fire_at: float
    title: str
    due_at: float | None
    tz: str
    links: list[Link] = field(default_factory=list)

    def due(self) -> datetime | None:
        if self.due_at is None:
            return None
        return datetime.fromtimestamp(self.due_at, ZoneInfo(self.tz))


Listener = Callable[[], None]
#: Whose reminders: one user name, several (a scheduler for the paired Telegram users, or the
#: server's members), or None for everyone.
Owners = str | Collection[str] | None


def _owner_clause(column: str, owner: Owners) -> tuple[str, builtins.list[str]]:
    """`` AND column = ?`` / `` AND column IN (...)`` for ``owner``; ``("", [])`` for None.
    An empty collection matches nothing."""
    if owner is None:
        return "", []
    if isinstance(owner, str):
        return f" AND {column} = ?", [owner]
    names = sorted(set(owner))
    if not names:
        return " AND 0", []
    return f" AND {column} IN ({', '.join('?' * len(names))})", names


_listeners: weakref.WeakKeyDictionary[Any, builtins.list[Listener]] = weakref.WeakKeyDictionary()


def _clean(text: str) -> str:
    return redact_text(strip_controls(text)).strip()


def _json_list(text: str | None) -> list[Any]:
    return [] if not text or text == "[]" else json.loads(text)


def _task(row: Any) -> Task:
    """A task from a row of ``_COLUMNS`` (and ``next_reminder`` when selected); by position,
    which is what keeps listing 10,000 tasks cheap."""
    links = row[10]
    return Task(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
        _json_list(row[9]),
        [Link(**item) for item in _json_list(links)] if links and links != "[]" else [],
        row[11], row[12], row[13], row[14] if len(row) > 14 else None,
    )  # fmt: skip


def _reminder(row: Any) -> Reminder:
    """A reminder from a row of ``reminders`` joined with its task (by column name)."""
    return Reminder(
        id=row["id"],
        task_id=row["task_id"],
        owner=row["owner"],
        fire_at=row["fire_at"],
        title=row["title"],
        due_at=row["due_at"],
        tz=row["tz"],
        links=[Link(**item) for item in json.loads(row["links"] or "[]")],
    )


def make_links(urls: Iterable[str] = (), files: Iterable[str | Path] = ()) -> list[Link]:
    """Links from ``--link`` URLs and ``--file`` paths (made absolute; they must exist)."""
    links: list[Link] = []
    for url in urls:
        url = url.strip()
        if not url.startswith(("http://", "https://", "mailto:", "file://")):
            raise InputError(f"--link {url!r} is not a URL; write it with https:// (or http://)")
        links.append(Link("url", strip_controls(url)))
    for item in files:
        path = Path(item).expanduser()
        if not path.exists():
            raise InputError(f"--file {item}: no such file; check the path")
        links.append(Link("file", str(path.resolve())))
    return links


class TaskService:
    """Tasks and reminders on a :class:`~ai_workbench.core.db.Database` (shares it)."""

    def __init__(self, store: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    # ---- change listeners

    def on_change(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener()`` after every change through any service on this database."""
        listeners = _listeners.setdefault(self.store, [])
        listeners.append(listener)

        def unsubscribe() -> None:
            if listener in listeners:
                listeners.remove(listener)

        return unsubscribe

    def _changed(self) -> None:
        for listener in list(_listeners.get(self.store, ())):
            try:
                listener()
            except Exception:
                log.exception("task change listener failed")

    # ---- tasks

    async def add(
        self,
        title: str,
        *,
        due: datetime | None = None,
        tz: str = "UTC",
        rrule: str | None = None,
        remind_before: timedelta | None = timedelta(0),
        tags: Sequence[str] = (),
        links: Sequence[Link] = (),
        notes: str = "",
        owner: str = LOCAL,
    ) -> Task:
        """Save a new open task (and its reminder when it has a due time and ``remind_before``
        is not None)."""
        title = _clean(title)
        if not title:
            raise InputError('a task needs a title, e.g. aiw task add "renew the cert friday"')
        if rrule and due is None:
            raise InputError("a repeating task needs its first due time")
        now = self.clock()
        due_at = due.timestamp() if due else None
        before = remind_before.total_seconds() if remind_before is not None else None
        values = {
            "owner": owner,
            "title": title,
            "notes": _clean(notes),
            "status": "open",
            "due_at": due_at,
            "tz": tz,
            "rrule": rrule,
            "remind_before": before,
            "tags": json.dumps(sorted({t.strip().lstrip("+") for t in tags if t.strip()})),
            "links": json.dumps([{"kind": x.kind, "target": x.target} for x in links]),
            "created": now,
            "updated": now,
        }
        async with self.store._write() as db:
            task_id = await self.store._insert(db, "tasks", values)
            await self._arm(db, task_id, owner, due_at, before)
        self._changed()
        return await self.get(task_id, owner=owner)

    async def get(self, task_id: int, *, owner: str = LOCAL) -> Task:
        async with self.store._read() as db:
            row = await self.store._one(
                db,
                f"SELECT {_COLUMNS}, {_NEXT} FROM tasks WHERE id = ? AND owner = ?",
                (task_id, owner),
            )
        if row is None:
            raise TaskNotFound(task_id)
        return _task(row)

    async def list(
        self,
        *,
        owner: str = LOCAL,
        status: str | None = "open",
        due_before: datetime | None = None,
        due_from: datetime | None = None,
        tag: str | None = None,
        undated: bool = True,
        limit: int | None = None,
        reminders: bool = False,
    ) -> builtins.list[Task]:
        """The user's tasks, soonest due first (undated last, unless ``undated`` is False or a
        due range is given); with ``reminders``, each with its next reminder time."""
        where, params = ["owner = ?"], [owner]
        if status:
            where.append("status = ?")
            params.append(status)
        if due_before is not None:
            where.append("due_at < ?")
            params.append(due_before.timestamp())
        if due_from is not None:
            where.append("due_at >= ?")
            params.append(due_from.timestamp())
        if not undated and due_before is None and due_from is None:
            where.append("due_at IS NOT NULL")
        if tag:
            where.append("EXISTS (SELECT 1 FROM json_each(tasks.tags) WHERE value = ?)")
            params.append(tag.lstrip("+"))
        sql = (
            f"SELECT {_COLUMNS}{', ' + _NEXT if reminders else ''} FROM tasks"
            f" WHERE {' AND '.join(where)} ORDER BY due_at IS NULL, due_at, id"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        async with self.store._read() as db:
            rows = await self.store._all(db, sql, params)
        return [_task(row) for row in rows]

    async def edit(
        self,
        task_id: int,
        *,
        owner: str = LOCAL,
        title: str | None = None,
        due: datetime | None = _UNSET,
        tz: str | None = None,
        rrule: str | None = _UNSET,
        remind_before: timedelta | None = _UNSET,
        tags: Sequence[str] | None = None,
        links: Sequence[Link] | None = None,
        notes: str | None = None,
    ) -> Task:
        """Change some fields (``due=None`` clears the date); the reminder is re-armed."""
        task = await self.get(task_id, owner=owner)
        changes: dict[str, Any] = {"updated": self.clock()}
        if title is not None:
            if not _clean(title):
                raise InputError("the title cannot be empty")
            changes["title"] = _clean(title)
        if notes is not None:
            changes["notes"] = _clean(notes)
        if due is not _UNSET:
            changes["due_at"] = due.timestamp() if due is not None else None
            if due is None:
                changes["rrule"] = None
        if tz is not None:
            changes["tz"] = tz
        if rrule is not _UNSET:
            changes["rrule"] = rrule
        if remind_before is not _UNSET:
            changes["remind_before"] = (
                remind_before.total_seconds() if remind_before is not None else None
            )
        if tags is not None:
            changes["tags"] = json.dumps(sorted({t.strip().lstrip("+") for t in tags if t}))
        if links is not None:
            changes["links"] = json.dumps([{"kind": x.kind, "target": x.target} for x in links])
        due_at = changes.get("due_at", task.due_at)
        before = changes.get("remind_before", task.remind_before)
        async with self.store._write() as db:
            await self.store._update(db, "tasks", changes, task_id, missing=TaskNotFound(task_id))
            if task.status == "open":
                await self._arm(db, task_id, owner, due_at, before)
        self._changed()
        return await self.get(task_id, owner=owner)

    async def done(self, task_id: int, *, owner: str = LOCAL) -> Task:
        """Complete a task. A repeating one moves to its next occurrence after now (and stays
        open); the returned task says which."""
        from ai_workbench.tasks.recur import next_occurrence

        task = await self.get(task_id, owner=owner)
        if task.status == "done":
            raise InputError(f"task {task_id} is already done")
        now = self.clock()
        zone = ZoneInfo(task.tz)
        if task.rrule and task.due_at is not None:
            start = datetime.fromtimestamp(task.due_at, zone)
            after = datetime.fromtimestamp(max(now, task.due_at), zone)
            nxt = next_occurrence(task.rrule, start, after)
            if nxt is not None:
                async with self.store._write() as db:
                    await self.store._run(
                        db,
                        "UPDATE tasks SET due_at = ?, updated = ? WHERE id = ?",
                        (nxt.timestamp(), now, task_id),
                    )
                    await self._arm(db, task_id, owner, nxt.timestamp(), task.remind_before)
                self._changed()
                return await self.get(task_id, owner=owner)
        async with self.store._write() as db:
            await self.store._run(
                db,
                "UPDATE tasks SET status = 'done', done_at = ?, updated = ? WHERE id = ?",
                (now, now, task_id),
            )
            await self._disarm(db, task_id)
        self._changed()
        return await self.get(task_id, owner=owner)

    async def reopen(self, task_id: int, *, owner: str = LOCAL) -> Task:
        task = await self.get(task_id, owner=owner)
        async with self.store._write() as db:
            await self.store._run(
                db,
                "UPDATE tasks SET status = 'open', done_at = NULL, updated = ? WHERE id = ?",
                (self.clock(), task_id),
            )
            await self._arm(db, task_id, owner, task.due_at, task.remind_before)
        self._changed()
        return await self.get(task_id, owner=owner)

    async def remove(self, task_id: int, *, owner: str = LOCAL) -> Task:
        task = await self.get(task_id, owner=owner)
        async with self.store._write() as db:
            await self.store._run(db, "DELETE FROM reminders WHERE task_id = ?", (task_id,))
            await self.store._run(
                db, "DELETE FROM tasks WHERE id = ? AND owner = ?", (task_id, owner)
            )
        self._changed()
        return task

    async def snooze(self, task_id: int, delta: timedelta, *, owner: str = LOCAL) -> Task:
        """Remind again ``delta`` from now (the due time stays; ``edit --due`` moves it)."""
        task = await self.get(task_id, owner=owner)
        if task.status != "open":
            raise InputError(f"task {task_id} is done; `aiw task edit {task_id}` to reopen it")
        if delta.total_seconds() <= 0:
            raise InputError("snooze for a positive time, e.g. 10m, 2h or 1d")
        fire_at = self.clock() + delta.total_seconds()
        async with self.store._write() as db:
            await self._disarm(db, task_id)
            await self.store._insert(
                db, "reminders", {"task_id": task_id, "owner": owner, "fire_at": fire_at}
            )
        self._changed()
        return await self.get(task_id, owner=owner)

    async def count(self, *, owner: str = LOCAL, status: str | None = "open") -> int:
        sql, params = "SELECT count(*) FROM tasks WHERE owner = ?", [owner]
        if status:
            sql += " AND status = ?"
            params.append(status)
        async with self.store._read() as db:
            row = await self.store._one(db, sql, params)
        return int(row[0])

    # ---- reminders (the scheduler's side)

    async def next_fire_at(self, *, owner: Owners = LOCAL) -> float | None:
        """When the earliest unclaimed reminder is due (of ``owner`` — one name or several —
        or of everyone)."""
        clause, values = _owner_clause("owner", owner)
        sql = "SELECT min(fire_at) FROM reminders WHERE claimed_at IS NULL" + clause
        params: tuple[Any, ...] = tuple(values)
        async with self.store._read() as db:
            row = await self.store._one(db, sql, params)
        return row[0] if row and row[0] is not None else None

    async def pending(
        self, until: float, *, owner: Owners = LOCAL, since: float | None = None
    ) -> builtins.list[Reminder]:
        """Unclaimed reminders due at or before ``until`` (and at or after ``since``) of
        ``owner`` (one name, several, or everyone with None)."""
        where = ["r.claimed_at IS NULL", "r.fire_at <= ?"]
        params: builtins.list[Any] = [until]
        if since is not None:
            where.append("r.fire_at >= ?")
            params.append(since)
        clause, values = _owner_clause("r.owner", owner)
        if clause:
            where.append(clause.removeprefix(" AND "))
            params.extend(values)
        sql = (
            "SELECT r.id, r.task_id, r.owner, r.fire_at, t.title, t.due_at, t.tz, t.links"
            " FROM reminders r JOIN tasks t ON t.id = r.task_id"
            f" WHERE {' AND '.join(where)} ORDER BY r.fire_at, r.id"
        )
        async with self.store._read() as db:
            rows = await self.store._all(db, sql, params)
        return [_reminder(row) for row in rows]

    async def claim(self, reminder_id: int, *, by: str, outcome: str = "delivered") -> bool:
        """Take a reminder for delivery (or mark it missed): True for exactly one caller, even
        across processes (one atomic UPDATE ... WHERE claimed_at IS NULL)."""
        async with self.store._write() as db:
            count, _ = await self.store._run(
                db,
                "UPDATE reminders SET claimed_at = ?, claimed_by = ?, outcome = ?"
                " WHERE id = ? AND claimed_at IS NULL",
                (self.clock(), by, outcome, reminder_id),
            )
        return count == 1

    async def rearm_repeating(self, reminder: Reminder) -> float | None:
        """After a repeating task's reminder fired (or was missed): arm the one for its next
        occurrence still ahead, so every occurrence reminds (the due time stays on the oldest
        one not done; ``done`` moves it on). The new reminder's time, or None."""
        from ai_workbench.tasks.recur import next_occurrence

        async with self.store._read() as db:
            row = await self.store._one(
                db,
                f"SELECT {_COLUMNS}, {_NEXT} FROM tasks WHERE id = ?",
                (reminder.task_id,),
            )
        if row is None:
            return None
        task = _task(row)
        if task.status != "open" or not task.rrule or task.due_at is None:
            return None
        if task.next_reminder is not None or task.remind_before is None:
            return None  # already armed (snoozed, edited) or no reminders wanted
        lead = task.remind_before
        zone = ZoneInfo(task.tz)
        start = datetime.fromtimestamp(task.due_at, zone)
        after = max(reminder.fire_at + lead, self.clock() + lead)
        nxt = next_occurrence(task.rrule, start, datetime.fromtimestamp(after, zone))
        if nxt is None:
            return None
        fire_at = nxt.timestamp() - lead
        async with self.store._write() as db:
            await self.store._insert(
                db,
                "reminders",
                {"task_id": task.id, "owner": task.owner, "fire_at": fire_at},
            )
        self._changed()
        return fire_at

    async def claimed_since(
        self, since: float, *, owner: Owners = None, limit: int = 500
    ) -> builtins.list[tuple[float, str, Reminder]]:
        """(claimed_at, outcome, reminder) of the reminders claimed at or after ``since`` by any
        scheduler of any process, in claim order (the server's event feed)."""
        clause, values = _owner_clause("r.owner", owner)
        sql = (
            "SELECT r.id, r.task_id, r.owner, r.fire_at, r.claimed_at, r.outcome, t.title,"
            " t.due_at, t.tz, t.links FROM reminders r JOIN tasks t ON t.id = r.task_id"
            f" WHERE r.claimed_at >= ?{clause} ORDER BY r.claimed_at, r.id LIMIT {int(limit)}"
        )
        async with self.store._read() as db:
            rows = await self.store._all(db, sql, [since, *values])
        return [
            (
                row["claimed_at"],
                row["outcome"] or "delivered",
                _reminder(row),
            )
            for row in rows
        ]

    async def claimed(self, *, owner: str | None = LOCAL) -> builtins.list[tuple[int, str, str]]:
        """(reminder id, claimed_by, outcome) of every claimed reminder (tests, doctor)."""
        sql = "SELECT id, claimed_by, outcome FROM reminders WHERE claimed_at IS NOT NULL"
        params: tuple[Any, ...] = ()
        if owner is not None:
            sql += " AND owner = ?"
            params = (owner,)
        async with self.store._read() as db:
            rows = await self.store._all(db, sql + " ORDER BY id", params)
        return [(row[0], row[1], row[2]) for row in rows]

    # ---- internals

    async def _disarm(self, db: Any, task_id: int) -> None:
        await self.store._run(
            db, "DELETE FROM reminders WHERE task_id = ? AND claimed_at IS NULL", (task_id,)
        )

    async def _arm(
        self, db: Any, task_id: int, owner: str, due_at: float | None, before: float | None
    ) -> None:
        await self._disarm(db, task_id)
        if due_at is None or before is None:
            return
        await self.store._insert(
            db, "reminders", {"task_id": task_id, "owner": owner, "fire_at": due_at - before}
        )


_NEXT = (
    "(SELECT min(fire_at) FROM reminders WHERE reminders.task_id = tasks.id"
    " AND claimed_at IS NULL) AS next_reminder"
)
