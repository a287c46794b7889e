"""The tasks commands of the bot: ``/task TEXT``, ``/tasks [today|week|overdue]``, ``/done ID``
and ``/snooze ID 2h``, for the paired user (the task's ``owner`` is their aiw user name).

``/task`` reads the text with the same natural-date rules as ``aiw task add``
(:class:`ai_workbench.tasks.intake.TaskInput`, the ``[tasks]`` settings) and echoes what it
read. An ambiguous date ("03/04") saves nothing: the reply lists the readings and how to say
which one. Each function returns the reply's plain text; nothing here imports
python-telegram-bot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ai_workbench.core.errors import AiwError
from ai_workbench.core.sanitize import strip_controls
from ai_workbench.tasks.dates import AmbiguousDate, format_due, parse_duration
from ai_workbench.tasks.intake import WINDOWS, TaskInput, due_window
from ai_workbench.tasks.service import Task, TaskNotFound, TaskService

__all__ = ["TASK_USAGE", "TaskCommands"]

TASK_USAGE = (
    "Usage: /task TEXT, e.g. /task renew the TLS cert next friday 9am\n"
    "/tasks lists your open tasks (/tasks today, week or overdue); "
    "/done ID completes one, /snooze ID 2h reminds you again later."
)
_LIST_LIMIT = 30


class TaskCommands:
    """The tasks commands over one store, with the ``[tasks]`` settings."""

    def __init__(
        self, store: Any, settings: Any = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.service = TaskService(store)
        self.reader = TaskInput(settings, clock=clock)

    async def add(self, owner: str, text: str) -> str:
        if not text.strip():
            return TASK_USAGE
        try:
            draft = self.reader.read(text)
        except AmbiguousDate as exc:
            return ambiguous_reply(exc, text)
        except AiwError as exc:
            return f"Not saved: {exc}"
        task = await draft.save(self.service, owner=owner)
        return f"Added task {task.id}: {draft.echo()}"

    async def list(self, owner: str, window: str) -> str:
        window = window.strip().lower()
        if window and window not in WINDOWS:
            return f"/tasks {window}: say /tasks, or /tasks {', '.join(WINDOWS)}"
        now = self.reader.now()
        found = await self.service.list(
            owner=owner, due_before=due_window(window, now), limit=_LIST_LIMIT + 1
        )
        if not found:
            return "No open tasks" + (f" due {window}." if window else ".")
        lines = [task_line(task, self.reader, now) for task in found[:_LIST_LIMIT]]
        if len(found) > _LIST_LIMIT:
            lines.append("… and more (aiw task list shows all)")
        title = "Your open tasks" + (f" due {window}" if window else "") + ":"
        return "\n".join([title, *lines])

    async def done(self, owner: str, argument: str) -> str:
        task_id = _task_id(argument)
        if task_id is None:
            return "Usage: /done ID (the number /tasks shows)"
        try:
            task = await self.service.done(task_id, owner=owner)
        except TaskNotFound:
            return f"You have no task {task_id} (/tasks lists yours)."
        except AiwError as exc:
            return str(exc)
        title = strip_controls(task.title)
        if task.status == "open" and task.due_at is not None:  # a repeating task moved on
            return f"Done: {title}. Next: {format_due(task.due(self.reader.zone))}"
        return f"Done: task {task.id}, {title}."

    async def snooze(self, owner: str, argument: str) -> str:
        parts = argument.split()
        task_id = _task_id(parts[0]) if parts else None
        if task_id is None or len(parts) != 2:
            return "Usage: /snooze ID 2h (or 10m, 1d)"
        try:
            delta = parse_duration(parts[1])
            task = await self.service.snooze(task_id, delta, owner=owner)
        except TaskNotFound:
            return f"You have no task {task_id} (/tasks lists yours)."
        except AiwError as exc:
            return str(exc)
        when = datetime.fromtimestamp(task.next_reminder or 0, self.reader.zone)
        return f"Snoozed task {task.id}: I'll remind you {format_due(when)}."


def ambiguous_reply(exc: AmbiguousDate, text: str) -> str:
    """The readings of an ambiguous date and how to pick one; nothing is saved."""
    phrase = strip_controls(exc.phrase)
    lines = [f"Not saved: {phrase!r} could mean"]
    lines += [f"• {choice:%a %Y-%m-%d %H:%M}" for choice in exc.choices]
    example = strip_controls(text).replace(exc.phrase, f"{exc.choices[0]:%Y-%m-%d %H:%M}", 1)
    lines.append(f"Send it again with the date you mean, e.g. /task {example}")
    return "\n".join(lines)


def task_line(task: Task, reader: TaskInput, now: datetime) -> str:
    due = task.due(reader.zone)
    when = format_due(due) if due is not None else "no due date"
    late = " ⚠ overdue" if due is not None and due < now else ""
    tags = "".join(f" +{tag}" for tag in task.tags)
    return f"{task.id}. {strip_controls(task.title)} ({when}){late}{tags}"


def _task_id(text: str) -> int | None:
    text = text.strip().lstrip("#")
    return int(text) if text.isdigit() else None
