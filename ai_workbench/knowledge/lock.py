"""One writer at a time on a project's local index, across processes.

The workbench, the watcher, ``aiw index`` in another terminal and ``aiw sources sync`` from a
timer may all want to write the same ``index.db`` and Chroma store; Chroma's persistent client
is not safe with several writing processes. :class:`IndexLock` is an exclusive ``flock`` on
``<index dir>/write.lock``: the holder writes its pid and command line into the file, so a
second writer can say who it waits for (or fail fast with ``wait=False``). The lock belongs to
an open file description, so two threads of one process exclude each other too, and the
kernel releases it when a holder dies (no stale lock to clean up by hand).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from ai_workbench.core.errors import EXIT_STORAGE, AiwError

LOCK_NAME = "write.lock"


class IndexBusy(AiwError):
    """Another process writes the index and the caller asked not to wait."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_STORAGE)


def holder_text(info: dict[str, object] | None) -> str:
    """ "pid 123 (aiw index, since 21:03:07)" for a waiting message."""
    if not info:
        return "another process"
    since = info.get("since")
    when = time.strftime(", since %H:%M:%S", time.localtime(float(since))) if since else ""
    command = str(info.get("command") or "?")
    return f"pid {info.get('pid', '?')} ({command[:80]}{when})"


def _command_line() -> str:
    args = [os.path.basename(sys.argv[0] or "python"), *sys.argv[1:]]
    if args[0] in ("__main__.py", "-m") or args[0].startswith("python"):
        args[0] = "aiw"
    return " ".join(args)


class IndexLock:
    """``with IndexLock(dir, wait=True, on_wait=print):`` holds the write lock of ``dir``.

    ``on_wait(holder)`` is called once, with a description of the holder, before blocking;
    ``timeout`` (seconds) bounds the wait (then :class:`IndexBusy`)."""

    def __init__(
        self,
        directory: Path,
        *,
        wait: bool = True,
        on_wait: Callable[[str], None] | None = None,
        timeout: float | None = None,
        command: str | None = None,
    ) -> None:
        self.path = Path(directory) / LOCK_NAME
        self.wait = wait
        self.on_wait = on_wait
        self.timeout = timeout
        self.command = command or _command_line()
        self._fd: int | None = None

    def holder(self) -> dict[str, object] | None:
        """Who holds the lock, as it wrote itself into the file (None if unknown)."""
        try:
            text = self.path.read_text(encoding="utf-8").strip()
            return json.loads(text) if text else None
        except (OSError, ValueError):
            return None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                who = holder_text(self.holder())
                if not self.wait:
                    raise IndexBusy(
                        f"the index at {self.path.parent} is being written by {who}; "
                        "try again when it is done (or leave out --no-wait to wait)"
                    ) from None
                if self.on_wait is not None:
                    self.on_wait(who)
                self._block(fd, who)
            os.ftruncate(fd, 0)
            info = {"pid": os.getpid(), "command": self.command, "since": time.time()}
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _block(self, fd: int, who: str) -> None:
        if self.timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexBusy(
                        f"the index at {self.path.parent} is still being written by {who} "
                        f"after {self.timeout:.0f} s"
                    ) from None
                time.sleep(0.1)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> IndexLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
