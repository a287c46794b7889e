"""A sliding-window limit on model calls (``watch.max_calls_per_minute``).

Saves can come much faster than a user wants to pay for model calls. The watcher asks
:meth:`RateLimiter.delay` before each call; when the last minute already holds the maximum,
the job waits (and is shown as waiting) instead of being dropped.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most ``per_minute`` calls in any 60-second window."""

    def __init__(
        self, per_minute: int, *, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self.window = window
        self.clock = clock
        self._calls: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self._calls and now - self._calls[0] >= self.window:
            self._calls.popleft()

    def delay(self) -> float:
        """Seconds until a call is allowed (0.0: now)."""
        now = self.clock()
        self._trim(now)
        if len(self._calls) < self.per_minute:
            return 0.0
        return max(0.0, self._calls[0] + self.window - now)

    def take(self) -> None:
        """Record a call made now."""
        now = self.clock()
        self._trim(now)
        self._calls.append(now)

    @property
    def used(self) -> int:
        """Calls in the current window."""
        self._trim(self.clock())
        return len(self._calls)
