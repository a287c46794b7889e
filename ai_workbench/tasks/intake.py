"""From what the user (or the model) wrote to a task ready to save: :class:`TaskDraft`.

:class:`TaskInput` applies the ``[tasks]`` settings (timezone, date order, default time, default
reminder lead) to :mod:`ai_workbench.tasks.dates`; the CLI, the workbench and the chat tool all
read tasks through it, so "next friday" means the same everywhere. A draft echoes its reading
("due Fri 2026-12-04 09:00 Europe/Berlin") and spells the exact ``aiw task add`` command that
saves it (what a headless ``aiw ask`` prints for a proposed task instead of saving it).
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock_time
from typing import Any

from ai_workbench.tasks.dates import (
    AmbiguousDate,
    Parsed,
    clean_title,
    format_due,
    parse_duration,
    parse_task_text,
    parse_when,
    resolve_zone,
)
from ai_workbench.tasks.service import LOCAL, Link, Task, TaskService

__all__ = ["WINDOWS", "TaskDraft", "TaskInput", "describe_lead", "due_window"]

_TAG_RE = re.compile(r"(?<!\S)\+([^\W\d][\w-]*)")


def describe_lead(seconds: float | None) -> str:
    if seconds is None:
        return "no reminder"
    if seconds == 0:
        return "remind at the due time"
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"remind {int(seconds // size)}{unit} before"
    return f"remind {int(seconds)}s before"


@dataclass
class TaskDraft:
    """A task read but not saved."""

    title: str
    tz: str
    due: datetime | None = None
    rrule: str | None = None
    remind_before: timedelta | None = timedelta(0)
    tags: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    notes: str = ""
    phrase: str = ""

    def echo(self) -> str:
        """``"renew the cert" due Fri 2026-12-04 09:00 Europe/Berlin, remind 1d before``."""
        from ai_workbench.core.sanitize import strip_controls
        from ai_workbench.tasks.recur import describe

        parts = [f'"{strip_controls(self.title)}"']
        if self.due is not None:
            parts.append(f"due {format_due(self.due)}")
            if self.rrule:
                parts.append(f"repeats {describe(self.rrule)}")
            lead = self.remind_before.total_seconds() if self.remind_before is not None else None
            parts.append(describe_lead(lead))
        else:
            parts.append("no due date")
        if self.tags:
            parts.append("tags " + ", ".join(self.tags))
        if self.links:
            parts.append(f"{len(self.links)} link(s)")
        return ", ".join(parts[:1]) + " " + ", ".join(parts[1:])

    def command(self) -> str:
        """The ``aiw task add`` command that saves exactly this task."""
        args = ["aiw", "task", "add", self.title]
        if self.due is not None:
            args += ["--due", f"{self.due:%Y-%m-%d %H:%M}"]
            if self.rrule:
                args += ["--rrule", self.rrule]
            lead = self.remind_before
            if lead is None:
                args += ["--remind", "none"]
            elif lead.total_seconds():
                args += ["--remind", describe_lead(lead.total_seconds()).split()[1]]
        for tag in self.tags:
            args += ["--tag", tag]
        for link in self.links:
            args += ["--link" if link.kind == "url" else "--file", link.target]
        if self.notes:
            args += ["--notes", self.notes]
        return " ".join(shlex.quote(a) for a in args)

    async def save(self, service: TaskService, *, owner: str = LOCAL) -> Task:
        return await service.add(
            self.title,
            due=self.due,
            tz=self.tz,
            rrule=self.rrule,
            remind_before=self.remind_before if self.due is not None else None,
            tags=self.tags,
            links=self.links,
            notes=self.notes,
            owner=owner,
        )


class TaskInput:
    """Reads tasks with the user's ``[tasks]`` settings (or the defaults)."""

    def __init__(self, settings: Any = None, *, clock: Callable[[], float] = time.time) -> None:
        self.timezone = getattr(settings, "timezone", "") or ""
        self.date_order = getattr(settings, "date_order", "") or ""
        hour, minute = (getattr(settings, "default_time", "") or "09:00").split(":")
        self.default_time = clock_time(int(hour), int(minute))
        self.default_lead = getattr(settings, "remind_before", "0m") or "0m"
        self.clock = clock
        self.zone = resolve_zone(self.timezone)

    @property
    def tz(self) -> str:
        return self.zone.key

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), self.zone)

    def lead(self, remind: str | None) -> timedelta | None:
        """``--remind``: a lead time (1d, 2h), ``none`` for no reminder, None: the default."""
        value = self.default_lead if remind is None else remind
        if value.strip().lower() in ("none", "no", "off", "never"):
            return None
        return parse_duration(value)

    def when(self, phrase: str) -> datetime:
        return parse_when(
            phrase, self.now(), date_order=self.date_order, default_time=self.default_time
        )

    def read(
        self,
        text: str,
        *,
        due: str | None = None,
        rrule: str | None = None,
        remind: str | None = None,
        tags: Sequence[str] = (),
        links: Sequence[Link] = (),
        notes: str = "",
        choose: Callable[[AmbiguousDate], datetime] | None = None,
    ) -> TaskDraft:
        """The draft for ``text`` (its date phrase read, unless ``due`` gives the date).

        An ambiguous date raises :class:`AmbiguousDate`, or goes to ``choose`` (an interface
        asking the user) which returns the reading to use."""
        inline = _TAG_RE.findall(text)  # taskwarrior's "+ops" in the text is a tag
        text = " ".join(_TAG_RE.sub(" ", text).split()) if inline else text
        tags = [*tags, *inline]
        if due:
            title, rule, phrase = " ".join(text.split()), None, due
            try:
                when = self.when(due)
            except AmbiguousDate as exc:
                if choose is None:
                    raise
                when = choose(exc)
        else:
            try:
                parsed = parse_task_text(
                    text, self.now(), date_order=self.date_order, default_time=self.default_time
                )
            except AmbiguousDate as exc:
                if choose is None:
                    raise
                rest = " ".join(text.replace(exc.phrase, " ", 1).split())
                parsed = Parsed(title=clean_title(rest) or rest, due=choose(exc), phrase=exc.phrase)
            title, when, rule, phrase = parsed.title, parsed.due, parsed.rrule, parsed.phrase
        if remind is not None and when is None and remind.strip().lower() != "none":
            from ai_workbench.core.errors import InputError

            raise InputError(
                "--remind needs a due time: put a date in the text or give --due "
                "(or `aiw task snooze ID 2h` to be reminded of an undated task)"
            )
        if rrule:
            rule = check_rrule(rrule)
            if when is None:
                from ai_workbench.core.errors import InputError

                raise InputError("--rrule needs a due time (--due or a date in the text)")
        return TaskDraft(
            title=title,
            tz=self.tz,
            due=when,
            rrule=rule,
            remind_before=self.lead(remind),
            tags=list(dict.fromkeys(t.lstrip("+") for t in tags if t.strip())),
            links=list(links),
            notes=notes,
            phrase=phrase,
        )


def check_rrule(rule: str) -> str:
    """``rule`` when python-dateutil reads it as an RRULE, else one clear error."""
    from dateutil.rrule import rrulestr

    from ai_workbench.core.errors import InputError

    rule = rule.strip().removeprefix("RRULE:")
    try:
        rrulestr(rule, dtstart=datetime(2026, 1, 1))
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"--rrule {rule!r} is not an RFC 5545 rule ({exc}); e.g. FREQ=WEEKLY;BYDAY=MO"
        ) from None
    return rule


WINDOWS: tuple[str, ...] = ("today", "week", "overdue")


def due_window(window: str | None, now: datetime) -> datetime | None:
    """The ``due_before`` of ``aiw task list --due WINDOW`` (today, week, overdue) at ``now``;
    None for no window. An unknown window is one clear error."""
    from ai_workbench.core.errors import InputError
    from ai_workbench.tasks.dates import today_range, week_end

    if not window:
        return None
    if window == "today":
        return today_range(now)[1]
    if window == "week":
        return week_end(now)
    if window == "overdue":
        return now
    raise InputError(f"due={window!r}: use one of {', '.join(WINDOWS)}")
