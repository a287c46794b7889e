"""A streaming answer on its way to the database: saved as it grows, never lost, never endless.

:class:`AnswerSaver` appends what is new to the message every ``save_interval`` seconds, in a
background task, so a database locked by another process (each try waits up to the store's
``busy_timeout``) never stalls the stream. What could not be saved yet stays in memory and goes
with the next save. The final save retries for ``chat.save_retry_seconds``; if the database is
still locked then, the whole answer is written to a private recovery file in the data dir and
the caller says where.

:class:`AnswerCap` ends an answer that grows past ``chat.max_answer_bytes``,
``chat.max_answer_tokens`` or ``chat.max_answer_seconds`` (a model that never stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from ai_workbench.chat.store import ChatStore as Store
from ai_workbench.core.db import StoreError
from ai_workbench.core.paths import data_dir
from ai_workbench.core.settings import ChatSettings

Notice = Callable[[str], None]
RETRY_PAUSE = 0.5  # seconds between final-save attempts that failed at once


class AnswerSaver:
    """Periodic, append-only saves of one streaming answer (see the module docstring)."""

    def __init__(self, store: Store, message_id: int, interval: float, say: Notice) -> None:
        self.store = store
        self.message_id = message_id
        self.interval = interval
        self.say = say
        self.saved = 0  # characters of the answer already in the database
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._last = time.monotonic()
        self._warned = False

    def feed(self, text: str) -> None:
        """The answer so far; starts a background save when one is due and none is running."""
        now = time.monotonic()
        if now - self._last < self.interval or len(text) <= self.saved:
            return
        if self._task is not None and not self._task.done():
            return
        self._last = now
        self._task = asyncio.create_task(self._append(text, len(text)))

    async def _append(self, text: str, upto: int) -> None:
        try:
            await self.store.append_message(self.message_id, text[self.saved : upto])
        except StoreError as exc:
            self.failures += 1
            if not self._warned:
                self._warned = True
                self.say(f"{exc}; the answer is kept in memory and saved when the lock is gone")
            return
        self.saved = upto

    async def settle(self) -> None:
        """Wait for a save in flight (so nothing is appended after the final save)."""
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(Exception):
                await task

    async def finish(
        self, save: Callable[[], Awaitable[None]], patience: float
    ) -> StoreError | None:
        """Run the final ``save``, retrying a locked database for ``patience`` seconds.

        Return None once it worked, or the last error when the database stayed unusable.
        """
        await self.settle()
        deadline = time.monotonic() + patience
        while True:
            try:
                await save()
                return None
            except StoreError as exc:
                if time.monotonic() >= deadline:
                    return exc
                self.say(f"{exc}; retrying the save")
                await asyncio.sleep(RETRY_PAUSE)


def write_recovery(session_id: str, message_id: int, text: str, reason: str) -> Path:
    """Keep an answer that could not be saved: ``<data dir>/recovered/<session>-<id>.md``."""
    folder = data_dir() / "recovered"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{session_id[:8]}-{message_id}.md"
    header = (
        f"<!-- aiw: answer {message_id} of session {session_id}, not saved to the database: "
        f"{reason} -->\n\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(header + text)
    return path


class AnswerCap:
    """Stops an answer at ``max_answer_bytes`` / ``max_answer_tokens`` / ``max_answer_seconds``."""

    def __init__(self, chat: ChatSettings) -> None:
        self.max_bytes = chat.max_answer_bytes
        self.max_tokens = chat.max_answer_tokens
        self.max_seconds = chat.max_answer_seconds
        self.started = time.monotonic()
        self.bytes = 0

    def add(self, text: str, tokens_out: int | None) -> str | None:
        """Count a streamed piece; return why the answer must stop, or None."""
        self.bytes += len(text.encode("utf-8", "surrogatepass"))
        if self.bytes > self.max_bytes:
            return (
                f"the answer passed {self.max_bytes:,} bytes (chat.max_answer_bytes) and was "
                "stopped"
            )
        tokens = max(tokens_out or 0, self.bytes // 4)  # ~4 bytes a token when not reported
        if tokens > self.max_tokens:
            return (
                f"the answer passed about {self.max_tokens:,} tokens (chat.max_answer_tokens) "
                "and was stopped"
            )
        if time.monotonic() - self.started > self.max_seconds:
            return (
                f"the answer took longer than {self.max_seconds:g}s (chat.max_answer_seconds) "
                "and was stopped"
            )
        return None
