"""The stderr reader of ``capture = "tee"``: one long-lived process per shell, no process per
command.

At start-up the hook runs ``exec {r}< <(python -I -S tee.py FIFO DIR TOKEN MAX)``. This process
makes the FIFO, opens it read-write, says ``ready`` on stdout (the shell's ``{r}``) and the
shell opens the FIFO for writing. For each command not on the skip list the shell's preexec
points the command's fd 2 at the FIFO; its precmd points
fd 2 back at the terminal, writes an end marker with the exit status and waits for this
process to answer on ``{r}``. Everything between the markers is copied to the terminal at once
(the reader's own stderr is the terminal), and the last ``MAX`` bytes are kept; on a non-zero
status they go to ``DIR/tee-<id>.err`` for the worker, written before the answer, so the file
exists when the hook writes the event and the command's last error line is on the screen
before the next prompt.

Markers are ``\\x1e<TOKEN>E<status> <id>\\n`` (TOKEN is random per shell, so program output
cannot fake one) and ``\\x1e<TOKEN>H\\n`` once the shell opened the FIFO (its name is then
removed). A command's stderr is what arrives after the previous marker: the FIFO only gets
data while a command runs, so the shell needs no start marker (one write and one wake-up less
per command); ``S`` still resets the buffer. The process ends when the shell closes ``{r}``
(exit) or its parent goes away. Only the standard library: it runs with ``-I -S`` to start fast.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time
from pathlib import Path

__all__ = ["TeeSplitter", "cleanup_old", "main", "write_capture"]

#: Capture files older than this are removed (a worker reads its file within seconds).
STALE_SECONDS = 600.0


def write_capture(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, private to the user (mode 0600)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(tmp, path)


def cleanup_old(directory: Path, prefix: str, age: float = STALE_SECONDS) -> None:
    """Remove capture files named ``prefix*`` older than ``age`` seconds (never read)."""
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            if entry.name.startswith(prefix):
                with contextlib.suppress(OSError):
                    if now - entry.stat().st_mtime > age:
                        os.unlink(entry.path)


class TeeSplitter:
    """Splits the FIFO's byte stream into pass-through text and markers.

    :meth:`feed` returns ``(text, markers)`` pieces in order: ``("text", bytes)`` to copy to
    the terminal and ``("S"|"E"|"H", payload)`` markers. A possible marker cut at the end of
    a read is held back until the next read.
    """

    def __init__(self, token: bytes) -> None:
        self.lead = b"\x1e" + token
        self.pending = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        self.pending += data
        out: list[tuple[str, bytes]] = []
        buf = self.pending
        while True:
            at = buf.find(self.lead)
            if at < 0:
                keep = 0
                for size in range(min(len(self.lead) - 1, len(buf)), 0, -1):
                    if buf.endswith(self.lead[:size]):
                        keep = size
                        break
                if len(buf) > keep:
                    out.append(("text", bytes(buf[: len(buf) - keep])))
                    del buf[: len(buf) - keep]
                return out
            if at:
                out.append(("text", bytes(buf[:at])))
                del buf[:at]
            end = buf.find(b"\n")
            if end < 0:
                return out
            body = bytes(buf[len(self.lead) : end])
            del buf[: end + 1]
            if body[:1] in (b"S", b"E", b"H"):
                out.append((body[:1].decode(), body[1:]))


def _write_all(fd: int, data: bytes) -> bool:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4:
        print("usage: tee.py FIFO DIR TOKEN MAX_BYTES", file=sys.stderr)
        return 2
    fifo, directory, token, limit = Path(args[0]), Path(args[1]), args[2].encode(), int(args[3])
    parent = os.getppid()
    # The reader shares the shell's process group: Ctrl-C, Ctrl-\ or Ctrl-Z typed at the
    # prompt reach it too, and are not meant for it.
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGTTOU, signal.SIGTTIN):
        signal.signal(sig, signal.SIG_IGN)
    try:
        os.mkfifo(fifo, 0o600)
        fd = os.open(fifo, os.O_RDWR)  # read-write: never EOF, never blocks the shell's open
    except OSError as exc:
        print(f"aiw tee: cannot make {fifo}: {exc}", file=sys.stderr)
        return 1
    if not _write_all(1, f"ready {os.getpid()}\n".encode()):
        return 1
    splitter = TeeSplitter(token)
    captured = bytearray()
    opened_at = time.monotonic()
    linked = True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(1, 0)  # only POLLERR/POLLHUP: the shell closed its end (it exited)
    terminal = 2
    while True:
        if linked and time.monotonic() - opened_at > 30:
            with contextlib.suppress(OSError):
                fifo.unlink()  # the shell never said hello
            linked = False
        events = poller.poll(5000)
        if not events:
            if os.getppid() != parent:
                break
            continue
        if any(f == 1 for f, _ in events):
            break
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        for kind, payload in splitter.feed(data):
            if kind == "text":
                if terminal >= 0 and not _write_all(terminal, payload):
                    terminal = -1  # the terminal is gone; keep draining for the shell
                captured += payload
                if len(captured) > 2 * limit:
                    del captured[:-limit]
            elif kind == "H":
                captured.clear()
                if linked:
                    with contextlib.suppress(OSError):
                        fifo.unlink()
                    linked = False
            elif kind == "S":
                captured.clear()
            else:  # E<status> <id>
                status, _, ident = payload.decode("ascii", "replace").partition(" ")
                if status.strip() not in ("", "0") and captured:
                    ident = "".join(c for c in ident if c.isalnum() or c in "-_")
                    with contextlib.suppress(OSError):
                        write_capture(directory / f"tee-{ident}.err", bytes(captured[-limit:]))
                        cleanup_old(directory, "tee-")
                captured.clear()  # what comes next belongs to the next command
                if not _write_all(1, b"\n"):
                    break
    if linked:
        with contextlib.suppress(OSError):
            fifo.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
