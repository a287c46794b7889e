"""Sessions as events: sessions added or changed by another process (``aiw ask`` in another
terminal) become :class:`~ai_workbench.core.events.SessionsChanged` on the bus (see
:mod:`ai_workbench.core.events`). One look reads the session list's metadata (no messages)."""

from __future__ import annotations

from typing import Any

from ai_workbench.core.events import EventBus, SessionsChanged

SESSIONS_POLL_SECONDS = 3.0


class SessionsFeed:
    """Publishes :class:`SessionsChanged` when the session list's metadata changes."""

    name = "sessions"

    def __init__(
        self, bus: EventBus, sessions: Any, interval: float = SESSIONS_POLL_SECONDS
    ) -> None:
        self.bus = bus
        self.sessions = sessions  # a chat.sessions.SessionService
        self.interval = interval
        self.fingerprint: tuple[Any, ...] | None = None

    async def poll(self) -> None:
        titles = await self.sessions.titles()
        fingerprint = tuple(
            (s.id, s.title, s.message_count, s.model, getattr(s, "updated", None)) for s in titles
        )
        if self.fingerprint is None:
            self.fingerprint = fingerprint
            return
        if fingerprint != self.fingerprint:
            self.fingerprint = fingerprint
            self.bus.publish(SessionsChanged(count=len(titles)))
