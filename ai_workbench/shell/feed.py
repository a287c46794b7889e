"""The shell spool as events: each failed command the hook records becomes a
:class:`~ai_workbench.core.events.ShellFailure` on the bus (see :mod:`ai_workbench.core.events`).

One look is a ``stat`` of the spool file; it is read (from the offset already seen, in a
thread) only when its size changed. The first look records where the spool stands: failures
from before the process started are not news. The command is redacted before it is published,
since the spool holds it as typed until the worker scrubs it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ai_workbench.core.events import EventBus, ShellFailure

SPOOL_POLL_SECONDS = 1.0


class SpoolFeed:
    """Publishes :class:`ShellFailure` for each event appended to the spool."""

    name = "shell-spool"

    def __init__(
        self, bus: EventBus, path: Path | None = None, interval: float = SPOOL_POLL_SECONDS
    ) -> None:
        self.bus = bus
        self.path = path
        self.interval = interval
        self.offset: int | None = None  # bytes of the spool already seen

    def _file(self) -> Path:
        from ai_workbench.shell.spool import spool_file

        return self.path or spool_file()

    def _size(self) -> int:
        try:
            return self._file().stat().st_size
        except OSError:
            return 0

    async def poll(self) -> None:
        size = self._size()
        if self.offset is None:  # first look: only what happens from now on counts
            self.offset = size
            return
        if size != self.offset:
            await asyncio.to_thread(self.read_new)

    def read_new(self) -> list[ShellFailure]:
        """Read what was appended since the last look and publish it (any thread)."""
        from ai_workbench.core.redact import redact_text
        from ai_workbench.shell.spool import read_events

        events, self.offset = read_events(self.offset or 0, self.path)
        published = []
        for event in events:
            failure = ShellFailure(
                event_id=event.id,
                shell=event.shell,
                status=event.status,
                command=redact_text(event.cmd),
                cwd=event.cwd,
            )
            self.bus.publish(failure)
            published.append(failure)
        return published
