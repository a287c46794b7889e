"""The tasks pane (left column, F6): overdue, due today, upcoming and undated tasks of the local
user, and keys to act on the highlighted one: **d** done, **s** snooze an hour, **S** snooze a
day, **o** open its link (the browser) or attached file (the desktop's opener), **r** reload.

It reloads when a task changes in this process (the tasks service's change listeners: the
scheduler, a confirmed proposal, the pane's own keys) and when a reminder falls due.
"""

from __future__ import annotations

import shutil
import subprocess
import webbrowser
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ai_workbench.core.events import ReminderDue
from ai_workbench.tui.context import Workbench, clip

SECTIONS = ("Overdue", "Today", "Upcoming", "No date")


def default_opener(target: str, kind: str) -> None:
    """Open a URL in the browser, a file with the desktop's opener (runs in a thread)."""
    if kind == "url":
        webbrowser.open(target)
        return
    opener = shutil.which("xdg-open") or shutil.which("open")
    if opener is None:
        raise RuntimeError("no xdg-open (or open) on PATH to open the file with")
    # a fixed program and one path argument, no shell
    subprocess.Popen(
        [opener, target], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def section_of(task: Any, now: datetime) -> str:
    if task.due_at is None:
        return "No date"
    due = datetime.fromtimestamp(task.due_at, now.tzinfo)
    if due < now:
        return "Overdue"
    if due.date() == now.date():
        return "Today"
    return "Upcoming"


class TasksPane(Vertical):
    """The local user's open tasks, grouped by when they are due."""

    HELP = """\
## Tasks

Your open tasks: *Overdue*, *Today*, *Upcoming* and *No date* (↻ repeats, 🔗 has links).
Add them with `aiw task add "renew the cert next friday 9am"`, or ask in chat ("remind me
to …"): a task the model proposes is saved only after you confirm it.

- **d** marks the task done (a repeating one moves to its next date)
- **s** / **S** snoozes its reminder an hour / a day
- **o** opens its link in the browser, or its attached file
- **r** reloads; **F6** hides the pane

Reminders pop up here while the workbench runs (`aiw remind` delivers them when it does not).
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "done", "Done", id="tasks.done"),
        Binding("s", "snooze(3600)", "Snooze 1h", id="tasks.snooze"),
        Binding("S", "snooze(86400)", "Snooze 1d", id="tasks.snooze_day", show=False),
        Binding("o", "open", "Open link", id="tasks.open"),
        Binding("r", "reload", "Reload", id="tasks.reload", show=False),
    ]

    def __init__(self, ctx: Workbench, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx
        self.tasks: list[Any] = []
        self.opener: Callable[[str, str], None] = default_opener
        self._unsubscribe: list[Callable[[], None]] = []
        self.loaded = 0  # loads done (tests wait on it)
        self._listening = False

    def compose(self) -> Any:
        yield Static("[b]Tasks[/b] [dim]d done · s snooze · o open[/dim]", classes="pane-title")
        yield OptionList(id="task-list")

    @property
    def options(self) -> OptionList:
        return self.query_one("#task-list", OptionList)

    def on_mount(self) -> None:
        self._unsubscribe.append(self.ctx.bus.on(lambda _e: self.reload(), ReminderDue))
        self.reload()

    def on_unmount(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def _service(self) -> Any:
        from ai_workbench.tasks.service import TaskService

        return TaskService(self.ctx.store)

    @work(group="tasks-load", exclusive=True, exit_on_error=False)
    async def reload(self) -> None:
        if not await self.ctx.wait_store():
            return
        service = self._service()
        if not self._listening:  # hear changes made through any tasks service
            self._listening = True
            self._unsubscribe.append(service.on_change(self.reload))
        try:
            tasks = await service.list()
        except Exception as exc:
            self.notify(f"tasks: {exc}", severity="error")
            return
        self.show(tasks)
        self.loaded += 1

    def show(self, tasks: list[Any]) -> None:
        from ai_workbench.tui.tasks import task_input

        zone = task_input(self.ctx).zone
        now = datetime.now(zone)
        options = self.options
        highlighted = self.current()
        self.tasks = tasks
        grouped: dict[str, list[Any]] = {name: [] for name in SECTIONS}
        for task in tasks:
            grouped[section_of(task, now)].append(task)
        items: list[Option] = []
        for name in SECTIONS:
            if not grouped[name]:
                continue
            items.append(Option(Content.from_markup(f"[b]{name}[/b]"), disabled=True))
            for task in grouped[name]:
                items.append(Option(self._line(task, zone, name), id=f"task-{task.id}"))
        if not items:
            empty = Content('No open tasks. aiw task add "…" adds one.')
            items.append(Option(empty, disabled=True))
        options.clear_options()
        options.add_options(items)
        if highlighted is not None:
            index = next((i for i, o in enumerate(items) if o.id == f"task-{highlighted.id}"), None)
            if index is not None:
                options.highlighted = index
        elif any(not o.disabled for o in items):
            options.highlighted = next(i for i, o in enumerate(items) if not o.disabled)

    @staticmethod
    def _line(task: Any, zone: Any, section: str) -> Content:
        due = task.due(zone)
        if due is None:
            when = ""
        elif section == "Today":
            when = f"{due:%H:%M} "
        else:
            when = f"{due:%a %d %b %H:%M} "
        marks = (" ↻" if task.rrule else "") + (" 🔗" if task.links else "")
        style = "$error" if section == "Overdue" else "$text-muted"
        return Content.assemble((when, style), clip(task.title, 80), marks)

    def current(self) -> Any:
        options = self.options
        if options.highlighted is None:
            return None
        option = options.get_option_at_index(options.highlighted)
        if option.id is None:
            return None
        task_id = int(option.id.removeprefix("task-"))
        return next((t for t in self.tasks if t.id == task_id), None)

    # ---- keys

    def action_reload(self) -> None:
        self.reload()

    def action_done(self) -> None:
        task = self.current()
        if task is not None:
            self._act(task, "done")

    def action_snooze(self, seconds: int) -> None:
        task = self.current()
        if task is not None:
            self._act(task, "snooze", seconds)

    @work(group="tasks-act", exit_on_error=False)
    async def _act(self, task: Any, what: str, seconds: int = 0) -> None:
        service = self._service()
        try:
            if what == "done":
                after = await service.done(task.id)
                verb = "Done" if after.status == "done" else "Done; next one scheduled"
            else:
                await service.snooze(task.id, timedelta(seconds=seconds))
                verb = f"Snoozed {'a day' if seconds >= 86400 else 'an hour'}"
        except Exception as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"{verb}: {clip(task.title, 50)}", timeout=3)

    def action_open(self) -> None:
        task = self.current()
        if task is None:
            return
        if not task.links:
            self.notify("This task has no link or file.", timeout=3)
            return
        link = task.links[0]
        self.run_worker(
            lambda: self._open(link.target, link.kind), thread=True, group="tasks-open",
            exit_on_error=False,
        )  # fmt: skip

    def _open(self, target: str, kind: str) -> None:  # a thread: the opener may block
        try:
            self.opener(target, kind)
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"cannot open {target}: {exc}", severity="error")
            return
        self.app.call_from_thread(self.notify, f"Opened {clip(target, 60)}", timeout=3)
