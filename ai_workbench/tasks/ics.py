"""``aiw task export --ics FILE``: the tasks as an iCalendar file (VTODO with DUE, RRULE, a
VALARM for the reminder, categories from tags, URL/ATTACH links), written with icalendar."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ai_workbench.tasks.service import Task

__all__ = ["to_ics"]


def to_ics(tasks: Sequence[Task], *, host: str = "aiw.local") -> bytes:
    """The calendar's bytes (RFC 5545)."""
    from icalendar import Alarm, Calendar, Todo, vRecur

    calendar = Calendar()
    calendar.add("prodid", "-//aiw//tasks//EN")
    calendar.add("version", "2.0")
    for task in tasks:
        todo = Todo()
        todo.add("uid", f"task-{task.id}-{task.owner}@{host}")
        todo.add("summary", task.title)
        todo.add("dtstamp", datetime.fromtimestamp(task.updated, UTC))
        todo.add("created", datetime.fromtimestamp(task.created, UTC))
        todo.add("status", "COMPLETED" if task.status == "done" else "NEEDS-ACTION")
        if task.notes:
            todo.add("description", task.notes)
        if task.done_at:
            todo.add("completed", datetime.fromtimestamp(task.done_at, UTC))
        if task.due_at is not None:
            due = datetime.fromtimestamp(task.due_at, ZoneInfo(task.tz))
            todo.add("dtstart", due)
            todo.add("due", due)
            if task.rrule:
                todo.add("rrule", vRecur.from_ical(task.rrule))
            if task.remind_before is not None and task.status == "open":
                alarm = Alarm()
                alarm.add("action", "DISPLAY")
                alarm.add("description", task.title)
                alarm.add("trigger", -timedelta(seconds=task.remind_before))
                todo.add_component(alarm)
        if task.tags:
            todo.add("categories", task.tags)
        for link in task.links:
            if link.kind == "url" and "url" not in todo:
                todo.add("url", link.target)
            else:
                target = link.target if link.kind == "url" else f"file://{link.target}"
                todo.add("attach", target)
        calendar.add_component(todo)
    return calendar.to_ical()
