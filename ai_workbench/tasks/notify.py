"""How a reminder reaches the user outside the workbench: the terminal's notification escape
(OSC 9 and OSC 777, passed through tmux), a desktop notification (``notify-send`` when it is on
PATH and a desktop session exists), and the lines both print.

Every text is stripped of control sequences before it goes into an escape or a command line, so
a task title cannot smuggle its own escapes into the terminal.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from ai_workbench.core.sanitize import strip_controls
from ai_workbench.tasks.service import Reminder

__all__ = [
    "desktop_hook",
    "missed_line",
    "osc_notification",
    "reminder_lines",
    "terminal_hook",
]


def _plain(text: str, width: int = 200) -> str:
    text = " ".join(strip_controls(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def reminder_lines(reminder: Reminder, zone: ZoneInfo | None = None) -> tuple[str, str]:
    """(title, body) of a reminder's notification."""
    from ai_workbench.tasks.dates import format_due

    body = _plain(reminder.title)
    due = reminder.due()
    if due is not None:
        when = "was due" if due.timestamp() < datetime.now().timestamp() - 60 else "due"
        body += f" ({when} {format_due(due, zone)})"
    return f"Reminder: task {reminder.task_id}", body


def missed_line(reminders: Sequence[Reminder], zone: ZoneInfo | None = None) -> str:
    """``3 reminders missed while aiw was not running: a (due …); b; c``."""
    from ai_workbench.tasks.dates import format_due

    items = []
    for reminder in reminders[:5]:
        due = reminder.due()
        when = f" (due {format_due(due, zone)})" if due else ""
        items.append(f"#{reminder.task_id} {_plain(reminder.title, 60)}{when}")
    more = f"; and {len(reminders) - 5} more" if len(reminders) > 5 else ""
    noun = "reminder" if len(reminders) == 1 else "reminders"
    return f"{len(reminders)} {noun} missed while aiw was not running: {'; '.join(items)}{more}"


def osc_notification(title: str, body: str, *, tmux: bool | None = None) -> str:
    """OSC 9 (iTerm2, WezTerm, Windows Terminal, kitty) and OSC 777 (rxvt, foot, Ghostty,
    VTE) desktop-notification escapes; wrapped for tmux's passthrough when inside tmux."""
    title, body = _plain(title, 80).replace(";", ","), _plain(body)
    sequences = [f"\x1b]9;{title}: {body}\x07", f"\x1b]777;notify;{title};{body}\x07"]
    if tmux if tmux is not None else bool(os.environ.get("TMUX")):
        sequences = ["\x1bPtmux;" + s.replace("\x1b", "\x1b\x1b") + "\x1b\\" for s in sequences]
    return "".join(sequences)


def terminal_hook(
    stream: IO[str], *, escapes: bool, zone: ZoneInfo | None = None
) -> Callable[[Reminder], None]:
    """Print a reminder as a line (and, at a terminal, its notification escapes)."""

    def deliver(reminder: Reminder) -> None:
        title, body = reminder_lines(reminder, zone)
        if escapes:
            stream.write(osc_notification(title, body) + "\a")
        stream.write(f"{title}: {body}\n")
        stream.flush()

    return deliver


def desktop_available(env: dict[str, str] | None = None) -> str | None:
    """The notify-send path when a desktop session can show it, else None."""
    env = dict(os.environ if env is None else env)
    session = ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")
    if not any(env.get(name) for name in session):
        return None
    return shutil.which("notify-send", path=env.get("PATH"))


def desktop_hook(
    zone: ZoneInfo | None = None, *, command: str | None = None
) -> Callable[[Reminder], Any] | None:
    """A hook that runs ``notify-send`` (no shell), or None when there is no desktop."""
    program = command or desktop_available()
    if program is None:
        return None

    async def deliver(reminder: Reminder) -> None:
        title, body = reminder_lines(reminder, zone)
        proc = await asyncio.create_subprocess_exec(
            program, "--app-name=aiw", title, body,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await asyncio.wait_for(proc.wait(), timeout=10)
        except TimeoutError:
            proc.kill()

    return deliver
