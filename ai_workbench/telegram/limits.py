"""Per-user token buckets: ``burst`` messages at once, refilled at ``per_minute``.

A message takes a token; with none left the bot says "slow down" once (not to every message of
a flood) and ignores the message. The clock is injectable, so tests need no sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Decision", "RateLimiter"]

#: Buckets kept before the full ones (users quiet long enough) are forgotten.
MAX_USERS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


@dataclass(slots=True)
class Decision:
    allowed: bool
    warn: bool = False  # refused, and the user has not been told since the last allowed one
    retry_after: float = 0.0  # seconds until the next token


@dataclass
class RateLimiter:
    per_minute: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[int, _Bucket] = field(default_factory=dict)

    def take(self, user: int) -> Decision:
        now = self.clock()
        rate = self.per_minute / 60.0
        bucket = self._buckets.get(user)
        if bucket is None and len(self._buckets) >= MAX_USERS:
            self._forget_full(now, rate)
        if bucket is None:
            bucket = self._buckets[user] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.warned = False
            return Decision(True)
        warn = not bucket.warned
        bucket.warned = True
        return Decision(False, warn=warn, retry_after=(1.0 - bucket.tokens) / rate)

    def _forget_full(self, now: float, rate: float) -> None:
        for user, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * rate >= self.burst:
                del self._buckets[user]
