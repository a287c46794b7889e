"""Index runs as events: a run report written by ``aiw index`` (in any process) becomes an
:class:`~ai_workbench.core.events.IndexRunFinished` on the bus (see
:mod:`ai_workbench.core.events`). One look is a directory listing (:func:`latest_report`);
the first look only records the newest report, so earlier runs are not news."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from ai_workbench.core.events import EventBus, IndexRunFinished

INDEX_POLL_SECONDS = 3.0


class IndexRunFeed:
    """Publishes :class:`IndexRunFinished` for each new run report of ``root``'s index."""

    name = "index-runs"

    def __init__(self, bus: EventBus, root: Path, interval: float = INDEX_POLL_SECONDS) -> None:
        self.bus = bus
        self.root = Path(root)
        self.interval = interval
        self.seen: Path | None = None  # the newest report already looked at

    async def poll(self) -> None:
        await asyncio.to_thread(self.look)

    def look(self) -> IndexRunFinished | None:
        from ai_workbench.knowledge.service import latest_report

        latest = latest_report(self.root)
        if self.seen is None:  # first look: only runs from now on are news
            self.seen = latest or Path()
            return None
        if latest is None or latest == self.seen:
            return None
        self.seen = latest
        try:
            report = json.loads(latest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        event = IndexRunFinished(
            str(self.root), str(latest), report if isinstance(report, dict) else {}
        )
        self.bus.publish(event)
        return event
