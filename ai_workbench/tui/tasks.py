"""Tasks in the workbench, outside the tasks pane: the reminder scheduler running as a background
task (its reminders as notifications), and the ``propose_task`` tool of a chat turn with the
confirmation the user gives before anything is saved.

Nothing here is imported before the first frame; the tasks capability (and dateparser, on the
first date read) load when the store is open or a turn offers the tool.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from ai_workbench.core.events import ReminderDue
from ai_workbench.tui.context import Workbench, clip


def task_input(ctx: Workbench) -> Any:
    from ai_workbench.tasks.intake import TaskInput

    settings = getattr(getattr(ctx.loaded, "settings", None), "tasks", None)
    return TaskInput(settings)


def task_toolbox(ctx: Workbench, prompt: str) -> Any:
    """The ``propose_task`` toolbox when this turn offers it (``[tasks] chat_tools``)."""
    from ai_workbench.tasks.toolbox import TaskToolbox, offer_tasks_tool

    settings = getattr(getattr(ctx.loaded, "settings", None), "tasks", None)
    mode = getattr(settings, "chat_tools", "auto")
    if not offer_tasks_tool(prompt, mode):
        return None
    try:
        return TaskToolbox(task_input(ctx))
    except Exception:  # a bad [tasks] timezone: the turn goes on without the tool
        return None


def with_task_tools(tools: Any, task_tools: Any) -> Any:
    if task_tools is None:
        return tools
    from ai_workbench.core.llm.tools import Toolboxes

    return Toolboxes(tools, task_tools)


async def confirm_proposals(app: Any, ctx: Workbench, proposals: list[Any]) -> list[Any]:
    """Ask (a modal, y/n) about each task the model proposed; save only the confirmed ones."""
    from ai_workbench.tasks.service import TaskService
    from ai_workbench.tui.screens.confirm import ConfirmScreen

    saved = []
    for proposal in proposals:
        screen = ConfirmScreen(
            "Save this task?",
            f"The model proposes a task:\n\n{proposal.echo()}",
            yes="Save",
            danger=False,
        )
        if not await app.push_screen_wait(screen):
            proposal.declined = True
            app.notify("Task not saved.", timeout=3)
            continue
        try:
            task = await proposal.accept(TaskService(ctx.store))
        except Exception as exc:
            app.notify(f"could not save the task: {exc}", severity="error", timeout=10)
            continue
        saved.append(task)
        app.notify(f"Added task {task.id}: {clip(task.title, 60)}", title="Tasks", timeout=5)
    return saved


class Reminders:
    """The workbench's reminder scheduler and how its reminders are shown."""

    def __init__(self, app: Any, ctx: Workbench) -> None:
        self.app = app
        self.ctx = ctx
        self.scheduler: Any = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        """Start once the settings and the store are ready (Background.start_with_store)."""
        if self.ctx.store is None or self.scheduler is not None:
            return
        from ai_workbench.tasks.notify import desktop_hook
        from ai_workbench.tasks.scheduler import ReminderScheduler
        from ai_workbench.tasks.service import TaskService

        settings = getattr(getattr(self.ctx.loaded, "settings", None), "tasks", None)
        hooks = []
        zone = None
        with contextlib.suppress(Exception):
            zone = task_input(self.ctx).zone
        if settings is None or settings.desktop_notify:
            desktop = desktop_hook(zone)
            if desktop is not None:
                hooks.append(desktop)
        self._zone = zone
        self._unsubscribe = self.ctx.bus.on(self._due, ReminderDue)
        self.scheduler = ReminderScheduler(
            TaskService(self.ctx.store),
            hooks=hooks,
            on_missed=self._missed,
            bus=self.ctx.bus,
            grace=getattr(settings, "missed_grace", 120.0),
            recheck=getattr(settings, "recheck_seconds", 30.0),
        )
        self.scheduler.start()

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.scheduler is not None:
            await self.scheduler.stop()

    def _due(self, event: ReminderDue) -> None:
        if event.missed:
            return  # listed once by _missed
        from ai_workbench.tasks.notify import reminder_lines
        from ai_workbench.tasks.service import Reminder

        reminder = Reminder(
            event.reminder_id, event.task_id, event.owner, event.fire_at, event.title,
            event.due_at, getattr(self._zone, "key", "UTC"),
        )  # fmt: skip
        title, body = reminder_lines(reminder, self._zone)
        self.app.bell()
        self.app.notify(body, title=title, severity="warning", timeout=30)

    def _missed(self, reminders: list[Any]) -> None:
        from ai_workbench.tasks.notify import missed_line

        self.app.notify(missed_line(reminders, self._zone), title="Tasks", timeout=20)
