"""Medium-term memory without a keypress: while the workbench is open it writes the summary of
each finished session (idle ``[memory] finished_after_minutes``), a few at a time, with each
session's own model, as ``aiw memory summarize`` and the Memory screen's **s** do.

It waits ``FIRST_DELAY`` seconds after start, then looks every ``INTERVAL`` seconds; it never
starts while an answer streams (a local model serves one client at a time) and stays quiet
unless it wrote something. ``[memory] auto_summarize = false`` turns it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, ClassVar

from ai_workbench.tui.context import Workbench

log = logging.getLogger(__name__)


class SessionSummaries:
    """The background loop that summarises finished sessions (tier ``medium``)."""

    FIRST_DELAY: ClassVar[float] = 45.0  # let the first frame and the user's first turn go
    INTERVAL: ClassVar[float] = 600.0
    PER_PASS: ClassVar[int] = 2  # sessions summarised per look: a few model calls at most
    BUSY_RETRY: ClassVar[float] = 15.0  # an answer was streaming: look again this soon

    def __init__(self, app: Any, ctx: Workbench) -> None:
        self.app = app
        self.ctx = ctx
        self._task: asyncio.Task[None] | None = None
        self.given_up: set[str] = set()  # sessions whose model failed: not tried again here

    def start(self) -> None:
        memory = getattr(getattr(self.ctx.loaded, "settings", None), "memory", None)
        if self.ctx.store is None or memory is None or self._task is not None:
            return
        if not (memory.enabled and memory.auto_summarize):
            return
        self._task = asyncio.create_task(self._run(), name="aiw-session-summaries")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        await asyncio.sleep(self.FIRST_DELAY)
        while True:
            if self._busy():
                await asyncio.sleep(self.BUSY_RETRY)
                continue
            try:
                await self.summarize_once()
            except Exception:  # never let one bad pass end the loop
                log.debug("session summaries: a pass failed", exc_info=True)
            await asyncio.sleep(self.INTERVAL)

    def _busy(self) -> bool:
        try:
            return bool(self.app.streaming)
        except Exception:  # the chat pane is not mounted (yet): leave the model alone
            return True

    async def summarize_once(self) -> int:
        """One look: summarise up to ``PER_PASS`` finished sessions; how many were written."""
        if self.ctx.store is None or self.ctx.loaded is None:
            return 0
        from ai_workbench.chat.service import ChatService

        problems: list[str] = []
        failed: list[str] = []
        try:
            written = await ChatService(self.ctx.loaded, self.ctx.store).summarize_sessions(
                limit=self.PER_PASS, notice=problems.append, exclude=self.given_up, failed=failed
            )
        except Exception:  # the model is down, the database busy: try again next time
            log.debug("session summaries failed", exc_info=True)
            return 0
        self.given_up.update(failed)  # e.g. a model no longer configured: the others go on
        for problem in problems:
            log.debug("session summaries: %s", problem)
        if written:
            self.app.notify(
                f"Summarised {len(written)} finished session(s) into memory (Ctrl+P → Memory)",
                title="Memory",
                timeout=4,
            )
        return len(written)
