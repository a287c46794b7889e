"""`aiw task add|list|show|done|edit|rm|snooze|export` and `aiw remind`: tasks with natural dates
and their reminders (docs/tasks.md). The capability is ai_workbench.tasks; this module reads
flags, asks at a TTY when a date is ambiguous, and prints.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, fail, load_settings, open_store, run_async

T = TypeVar("T")
EXIT_USAGE = 2


def _input(ctx: click.Context) -> Any:
    from ai_workbench.tasks.intake import TaskInput

    loaded = load_settings(ctx)
    return TaskInput(loaded.settings.tasks)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _choose(exc: Any) -> Any:
    """Which reading of an ambiguous date: asked at a TTY; headless, exit with the reason."""
    if not _interactive():
        fail(f"ambiguous date: {exc}", EXIT_USAGE)
    click.echo(f"The date is ambiguous: {exc}", err=True)
    for number, choice in enumerate(exc.choices, 1):
        click.echo(f"  {number}) {choice:%a %Y-%m-%d %H:%M}", err=True)
    click.echo("  0) cancel", err=True)
    picked = click.prompt(
        "Which one", type=click.IntRange(0, len(exc.choices)), default=0, err=True
    )
    if picked == 0:
        fail("nothing saved (the date stayed ambiguous)", EXIT_USAGE)
    return exc.choices[picked - 1]


def _read(read: Callable[[], T]) -> T:
    """``read()``, a date error made one line and exit code 2."""
    from ai_workbench.core.errors import AiwError

    try:
        return read()
    except AiwError as exc:
        fail(str(exc), EXIT_USAGE)


def _service_run(body: Callable[[Any], Awaitable[T]]) -> T:
    async def go() -> T:
        from ai_workbench.tasks.service import TaskService

        store = await open_store()
        try:
            return await body(TaskService(store))
        finally:
            await store.close()

    return run_async(go)


def _line(task: Any, zone: Any) -> str:
    from ai_workbench.core.sanitize import strip_controls
    from ai_workbench.tasks.dates import format_due

    due = task.due(zone)
    when = f"{format_due(due, zone)[: -len(zone.key) - 1]}" if due else "—"
    flags = ""
    if task.rrule:
        flags += " ↻"
    if task.links:
        flags += f" 🔗{len(task.links)}"
    tags = " " + " ".join(f"+{t}" for t in task.tags) if task.tags else ""
    mark = "✓" if task.status == "done" else " "
    return f"{task.id:>5} {mark} {when:<20} {strip_controls(task.title)}{tags}{flags}"


@click.group(context_settings=CONTEXT_SETTINGS)
def task() -> None:
    """Tasks with natural dates, links and reminders (English and Russian dates).

    \b
    Examples:
      aiw task add "renew the TLS cert next friday 9am" --remind 1d --tag ops
      aiw task add "завтра в 10:00 позвонить врачу"
      aiw task add "standup every weekday at 9:30"
      aiw task list --due today
      aiw task snooze 12 2h
      aiw task export --ics tasks.ics
    """


@task.command("add", context_settings=CONTEXT_SETTINGS)
@click.argument("text", nargs=-1, required=True)
@click.option("--due", metavar="WHEN", help="The due time (then TEXT is the title as is).")
@click.option("--remind", metavar="LEAD", help="Remind this long before (15m, 2h, 1d) or none.")
@click.option("--rrule", metavar="RULE", help="Repeat by an RFC 5545 rule (FREQ=WEEKLY;BYDAY=MO).")
@click.option("--link", "urls", multiple=True, metavar="URL", help="Attach a URL (repeatable).")
@click.option("--file", "files", multiple=True, metavar="PATH", help="Attach a file (repeatable).")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag (repeatable).")
@click.option("--notes", default="", help="Free text kept with the task.")
@click.option("--json", "as_json", is_flag=True, help="Print the saved task as JSON.")
@click.pass_context
def task_add(
    ctx: click.Context,
    text: tuple[str, ...],
    due: str | None,
    remind: str | None,
    rrule: str | None,
    urls: tuple[str, ...],
    files: tuple[str, ...],
    tags: tuple[str, ...],
    notes: str,
    as_json: bool,
) -> None:
    """Add a task; the date in TEXT is read and echoed back ("due Fri 2026-12-04 09:00 …").

    An ambiguous date (03/04; "next friday" said on a Friday; "9am" when 9am has passed today)
    is asked about at a terminal and refused otherwise: nothing is guessed.
    """
    from ai_workbench.tasks.service import make_links

    reader = _input(ctx)
    draft = _read(
        lambda: reader.read(
            " ".join(text),
            due=due,
            rrule=rrule,
            remind=remind,
            tags=tags,
            links=make_links(urls, files),
            notes=notes,
            choose=_choose,
        )
    )

    async def body(service: Any) -> Any:
        return await draft.save(service)

    saved = _service_run(body)
    if as_json:
        click.echo(json.dumps(saved.to_dict(), ensure_ascii=False))
        return
    click.echo(f"added task {saved.id}: {draft.echo()}")


@task.command("list", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--due", "window", type=click.Choice(["today", "week", "overdue"]), help="Only these."
)
@click.option("--tag", help="Only tasks with this tag.")
@click.option("-a", "--all", "show_all", is_flag=True, help="Done tasks too.")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(0),
    help="At most this many (0: all; default 100, with --json all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one list).")
@click.pass_context
def task_list(
    ctx: click.Context,
    window: str | None,
    tag: str | None,
    show_all: bool,
    limit: int | None,
    as_json: bool,
) -> None:
    """Open tasks, soonest due first (undated at the end)."""
    from ai_workbench.tasks.dates import today_range, week_end

    reader = _input(ctx)
    now = reader.now()
    kwargs: dict[str, Any] = {"tag": tag, "status": None if show_all else "open"}
    if window == "today":
        kwargs["due_before"] = today_range(now)[1]
    elif window == "week":
        kwargs["due_before"] = week_end(now)
    elif window == "overdue":
        kwargs["due_before"] = now

    if limit is None:
        limit = 0 if as_json else 100

    async def body(service: Any) -> Any:
        found = await service.list(**kwargs, limit=limit + 1 if limit else None, reminders=as_json)
        more = 0
        if limit and len(found) > limit:
            found = found[:limit]
            more = -1  # counted below only when it matters
            if not window and not tag:
                more = await service.count(status=kwargs["status"]) - limit
        return found, more

    tasks, more = _service_run(body)
    if as_json:
        click.echo(json.dumps([t.to_dict() for t in tasks], ensure_ascii=False))
        return
    if not tasks:
        click.echo("no tasks" + (f" due {window}" if window else "") + ".")
        return
    zone = reader.zone
    click.echo(f"{'id':>5}   {'due (' + zone.key + ')':<20} title")
    for item in tasks:
        overdue = item.due_at is not None and item.due_at < now.timestamp()
        line = _line(item, zone)
        click.echo(click.style(line, fg="red") if overdue and item.status == "open" else line)
    if more:
        count = f"{more:,} more" if more > 0 else "more"
        click.echo(f"… and {count} (--limit 0 lists all)")


@task.command("show", context_settings=CONTEXT_SETTINGS)
@click.argument("task_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def task_show(ctx: click.Context, task_id: int, as_json: bool) -> None:
    """One task in full: dates, reminder, links, notes."""
    from ai_workbench.core.sanitize import strip_controls
    from ai_workbench.tasks.dates import format_due
    from ai_workbench.tasks.intake import describe_lead
    from ai_workbench.tasks.recur import describe

    reader = _input(ctx)

    async def body(service: Any) -> Any:
        return await service.get(task_id)

    item = _service_run(body)
    if as_json:
        click.echo(json.dumps(item.to_dict(), ensure_ascii=False))
        return
    zone = reader.zone
    click.echo(f"task {item.id}: {strip_controls(item.title)}  [{item.status}]")
    due = item.due(zone)
    click.echo(f"  due:      {format_due(due, zone) if due else '—'}")
    if item.rrule:
        click.echo(f"  repeats:  {describe(item.rrule)} ({item.rrule})")
    if due is not None:
        click.echo(f"  reminder: {describe_lead(item.remind_before)}")
    if item.next_reminder:
        from datetime import datetime

        nxt = datetime.fromtimestamp(item.next_reminder, zone)
        click.echo(f"  next:     {format_due(nxt, zone)}")
    if item.tags:
        click.echo("  tags:     " + " ".join(f"+{t}" for t in item.tags))
    for link in item.links:
        click.echo(f"  {link.kind + ':':<9} {strip_controls(link.target)}")
    if item.notes:
        click.echo("  notes:    " + strip_controls(item.notes))


@task.command("done", context_settings=CONTEXT_SETTINGS)
@click.argument("task_ids", type=int, nargs=-1, required=True)
@click.pass_context
def task_done(ctx: click.Context, task_ids: tuple[int, ...]) -> None:
    """Complete tasks (a repeating one moves to its next date)."""
    from ai_workbench.tasks.dates import format_due

    reader = _input(ctx)

    async def body(service: Any) -> list[Any]:
        return [await service.done(task_id) for task_id in task_ids]

    for item in _service_run(body):
        if item.status == "open":
            click.echo(f"task {item.id} done; next: {format_due(item.due(reader.zone))}")
        else:
            click.echo(f"task {item.id} done.")


@task.command("rm", context_settings=CONTEXT_SETTINGS)
@click.argument("task_ids", type=int, nargs=-1, required=True)
def task_rm(task_ids: tuple[int, ...]) -> None:
    """Delete tasks (and their reminders)."""

    async def body(service: Any) -> list[Any]:
        return [await service.remove(task_id) for task_id in task_ids]

    for item in _service_run(body):
        click.echo(f"deleted task {item.id}.")


@task.command("snooze", context_settings=CONTEXT_SETTINGS)
@click.argument("task_id", type=int)
@click.argument("duration", default="1h")
@click.pass_context
def task_snooze(ctx: click.Context, task_id: int, duration: str) -> None:
    """Remind again after DURATION (10m, 2h, 1d); the due time stays."""
    from ai_workbench.core.errors import AiwError
    from ai_workbench.tasks.dates import format_due, parse_duration

    reader = _input(ctx)
    try:
        delta = parse_duration(duration)
    except AiwError as exc:
        fail(str(exc), EXIT_USAGE)

    async def body(service: Any) -> Any:
        return await service.snooze(task_id, delta)

    item = _service_run(body)
    from datetime import datetime

    when = datetime.fromtimestamp(item.next_reminder or 0, reader.zone)
    click.echo(f"task {item.id} snoozed; reminder at {format_due(when, reader.zone)}.")


@task.command("edit", context_settings=CONTEXT_SETTINGS)
@click.argument("task_id", type=int)
@click.option("--title", help="A new title.")
@click.option("--due", metavar="WHEN", help="A new due time, or none.")
@click.option("--remind", metavar="LEAD", help="Remind this long before, or none.")
@click.option("--rrule", metavar="RULE", help="Repeat rule, or none.")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Replace the tags.")
@click.option("--link", "urls", multiple=True, metavar="URL", help="Add a URL.")
@click.option("--file", "files", multiple=True, metavar="PATH", help="Add a file.")
@click.option("--notes", help="Replace the notes.")
@click.option("--reopen", is_flag=True, help="Open a done task again.")
@click.pass_context
def task_edit(
    ctx: click.Context,
    task_id: int,
    title: str | None,
    due: str | None,
    remind: str | None,
    rrule: str | None,
    tags: tuple[str, ...],
    urls: tuple[str, ...],
    files: tuple[str, ...],
    notes: str | None,
    reopen: bool,
) -> None:
    """Change a task's fields; the new date is echoed back."""
    from ai_workbench.core.errors import AiwError
    from ai_workbench.tasks.dates import AmbiguousDate
    from ai_workbench.tasks.intake import check_rrule
    from ai_workbench.tasks.service import make_links

    reader = _input(ctx)
    changes: dict[str, Any] = {}
    try:
        if title is not None:
            changes["title"] = title
        if due is not None:
            if due.strip().lower() == "none":
                changes["due"] = None
            else:
                try:
                    changes["due"] = reader.when(due)
                except AmbiguousDate as exc:
                    changes["due"] = _choose(exc)
                changes["tz"] = reader.tz
        if remind is not None:
            changes["remind_before"] = reader.lead(remind)
        if rrule is not None:
            changes["rrule"] = None if rrule.lower() == "none" else check_rrule(rrule)
        if tags:
            changes["tags"] = list(tags)
        if notes is not None:
            changes["notes"] = notes
        new_links = make_links(urls, files)
    except AiwError as exc:
        fail(str(exc), EXIT_USAGE)

    async def body(service: Any) -> Any:
        if reopen:
            await service.reopen(task_id)
        if new_links:
            current = await service.get(task_id)
            changes["links"] = [*current.links, *new_links]
        return await service.edit(task_id, **changes)

    item = _service_run(body)
    from ai_workbench.tasks.intake import TaskDraft

    draft = TaskDraft(
        title=item.title, tz=item.tz, due=item.due(reader.zone), rrule=item.rrule,
        remind_before=None if item.remind_before is None else _seconds(item.remind_before),
        tags=item.tags, links=item.links,
    )  # fmt: skip
    click.echo(f"task {item.id}: {draft.echo()}")


def _seconds(value: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=value)


@task.command("export", context_settings=CONTEXT_SETTINGS)
@click.option("--ics", "ics_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-a", "--all", "show_all", is_flag=True, help="Done tasks too.")
def task_export(ics_path: Path, show_all: bool) -> None:
    """Write the tasks to an iCalendar file (VTODO, with reminders as alarms); - is stdout."""
    from ai_workbench.tasks.ics import to_ics

    async def body(service: Any) -> Any:
        return await service.list(status=None if show_all else "open")

    tasks = _service_run(body)
    data = to_ics(tasks)
    if str(ics_path) == "-":
        sys.stdout.buffer.write(data)
        return
    try:
        ics_path.write_bytes(data)
    except OSError as exc:
        fail(f"cannot write {ics_path}: {exc.strerror}; check the path", EXIT_USAGE)
    click.echo(f"wrote {len(tasks)} task(s) to {ics_path}")


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option("--once", is_flag=True, help="Deliver what is due now and exit (cron, timers).")
@click.option("--no-desktop", is_flag=True, help="Do not run notify-send.")
@click.pass_context
def remind(ctx: click.Context, once: bool, no_desktop: bool) -> None:
    """Deliver task reminders at their time, until Ctrl-C (docs/tasks.md has a systemd unit).

    Each reminder is delivered once even when the workbench or another `aiw remind` runs too.
    At a terminal it uses the notification escape (OSC 9 / OSC 777) and prints a line;
    notify-send shows it on the desktop when there is one. Reminders missed while nothing ran
    are listed once at the start.
    """
    loaded = load_settings(ctx)
    settings = loaded.settings.tasks

    async def go() -> int:
        from ai_workbench.tasks.dates import resolve_zone
        from ai_workbench.tasks.notify import desktop_hook, missed_line, terminal_hook
        from ai_workbench.tasks.scheduler import ReminderScheduler
        from ai_workbench.tasks.service import TaskService

        zone = resolve_zone(settings.timezone)
        store = await open_store()
        try:
            hooks: list[Any] = [terminal_hook(sys.stdout, escapes=sys.stdout.isatty(), zone=zone)]
            desktop = None if no_desktop or not settings.desktop_notify else desktop_hook(zone)
            if desktop is not None:
                hooks.append(desktop)

            def missed(reminders: list[Any]) -> None:
                click.echo(missed_line(reminders, zone))

            scheduler = ReminderScheduler(
                TaskService(store), hooks=hooks, on_missed=missed,
                grace=settings.missed_grace, recheck=settings.recheck_seconds,
            )  # fmt: skip
            if once:
                await scheduler.catch_up()
                await scheduler.deliver_due()
                return 0
            if sys.stdout.isatty():
                click.echo("aiw remind: waiting for reminders (Ctrl-C stops)", err=True)
            await scheduler.run()
            return 0
        finally:
            await store.close()

    sys.exit(run_async(go))


# ------------------------------------------------------------------ chat: proposed tasks


def chat_task_tools(loaded: Any, prompt: str) -> Any:
    """The ``propose_task`` toolbox when this ``aiw ask`` turn offers it (``[tasks]
    chat_tools``), else None."""
    from ai_workbench.tasks.toolbox import TaskToolbox, offer_tasks_tool

    settings = loaded.settings.tasks
    if not offer_tasks_tool(prompt, settings.chat_tools):
        return None
    from ai_workbench.tasks.intake import TaskInput

    return TaskToolbox(TaskInput(settings))


async def confirm_proposals(
    proposals: list[Any],
    store: Any,
    *,
    ask: Callable[[str], bool] | None,
    say: Callable[[str], None],
) -> list[Any]:
    """Show each task the model proposed; save it only when ``ask`` (a y/n at a TTY) says yes.
    Without ``ask`` (headless) nothing is saved: the exact ``aiw task add`` command is printed.
    Returns the saved tasks."""
    from ai_workbench.tasks.service import TaskService

    saved = []
    for proposal in proposals:
        say(f"the model proposes a task: {proposal.echo()}")
        if ask is None:
            say(f"not saved; to save it run: {proposal.command()}")
            continue
        if ask("Save this task?"):
            task = await proposal.accept(TaskService(store))
            saved.append(task)
            say(f"added task {task.id}")
        else:
            proposal.declined = True
            say("not saved")
    return saved


def tty_ask(question: str) -> bool:
    return click.confirm(question, default=False, err=True)
