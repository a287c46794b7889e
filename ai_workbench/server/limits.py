"""Per-user limits: a token bucket of requests, a cap on model calls at once, a body size.

All state is per server process (with ``--workers N`` each worker keeps its own buckets, so a
user's effective rate is at most N times the setting; docs/server.md says so).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from ai_workbench.server.problems import ApiProblem, problem_dict


@dataclass
class TokenBucket:
    """``capacity`` requests at once, refilled at ``rate`` per second."""

    rate: float
    capacity: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def take(self, now: float | None = None) -> float:
        """Take one token: 0.0 when allowed, else the seconds until one is there."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """One :class:`TokenBucket` per user; settings are read on every take (they can change)."""

    def __init__(self, settings: Callable[[], Any]) -> None:
        self._settings = settings
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def check(self, user: str) -> None:
        cfg = self._settings()
        rate, burst = cfg.rate_per_minute / 60.0, float(cfg.burst)
        with self._lock:
            bucket = self._buckets.get(user)
            if bucket is None or bucket.rate != rate or bucket.capacity != burst:
                bucket = self._buckets[user] = TokenBucket(rate, burst)
            wait = bucket.take()
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise ApiProblem(
                429,
                f"rate limit: {cfg.rate_per_minute:g} requests a minute, {cfg.burst} at once "
                f"(server.rate_per_minute, server.burst); retry in {retry} s",
                kind="rate-limited",
                headers={"Retry-After": str(retry)},
            )


class ModelSlots:
    """At most ``server.max_model_calls`` model calls per user at once (429 beyond)."""

    def __init__(self, settings: Callable[[], Any]) -> None:
        self._settings = settings
        self._running: dict[str, int] = {}

    def acquire(self, user: str) -> None:
        cap = self._settings().max_model_calls
        running = self._running.get(user, 0)
        if running >= cap:
            raise ApiProblem(
                429,
                f"{running} model call(s) of yours are running; at most {cap} at once "
                "(server.max_model_calls): wait for one to finish",
                kind="too-many-model-calls",
                headers={"Retry-After": "1"},
            )
        self._running[user] = running + 1

    def release(self, user: str) -> None:
        left = self._running.get(user, 1) - 1
        if left > 0:
            self._running[user] = left
        else:
            self._running.pop(user, None)

    @contextlib.asynccontextmanager
    async def slot(self, user: str) -> AsyncIterator[None]:
        self.acquire(user)
        try:
            yield
        finally:
            self.release(user)


class BodyLimit:
    """ASGI middleware: a body over ``limit()`` bytes gets 413 (by its Content-Length at once,
    or while it is read when it has none)."""

    def __init__(self, app: Any, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    size = 0
                if size > limit:
                    await _send_413(send, limit, scope.get("path", ""))
                    return
                await self.app(scope, receive, send)  # the server holds it to that length
                return
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): read the body here, up to the limit, then replay it.
        messages: list[Any] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > limit:
                await _send_413(send, limit, scope.get("path", ""))
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Any:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)


class ServerTiming:
    """ASGI middleware: ``Server-Timing: app;dur=MS`` on every response, the time from the
    request's arrival to its response's start (handler, limits, serialising a JSON body)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Any) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", ()))
                headers.append((b"server-timing", f"app;dur={ms:.3f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)


async def _send_413(send: Any, limit: int, path: str) -> None:
    import json

    body = json.dumps(
        problem_dict(
            413,
            f"the request body is larger than {limit} bytes (server.max_body_bytes)",
            instance=path,
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
