"""``aiw shell pty``: run the user's shell under a pty proxy that keeps each command's output.

``capture = "pty"`` (docs/shell.md). The proxy opens a pseudo-terminal, starts the shell on
it and copies every byte both ways unchanged: the user's terminal is put in raw mode (the
shell's own line discipline does the work), window-size changes (SIGWINCH) are copied to the
pty, and the proxy exits with the shell's exit status. Nothing is added to or removed from the
stream: the OSC 133 marks the hook prints reach the terminal too (terminals that know them use
them, the rest ignore them).

On the side, :class:`MarkSplitter` watches the output for the hook's OSC 133 marks (``A``
prompt, ``B`` command line, ``C`` output starts, ``D;status`` command done) and keeps the
output between C and D in a bounded buffer (the last 64 KB; nothing while a full-screen
program uses the alternate screen). When a D mark carries ``aiw=<id>`` (the hook adds it only
for a failure it reports) and a non-zero status, the buffer goes to ``<spool>/pty-<id>.out``,
where the worker picks it up. The shell sees ``AIW_PTY`` (that dir) and ``AIW_PTY_PID`` (the
proxy's pid; the hook emits marks only when it is its ``$PPID``).

Only the standard library: the proxy is in the path of every byte the terminal shows.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import select
import signal
import struct
import sys
import termios
import tty
from collections.abc import Sequence
from pathlib import Path

from ai_workbench.shell.integration import capture_mode
from ai_workbench.shell.tee import cleanup_old, write_capture

__all__ = ["MAX_KEEP", "MarkSplitter", "run_proxy", "shell_argv"]

MAX_KEEP = 65_536
_SEQ = re.compile(
    rb"\x1b\]133;([^\x07\x1b]*)(?:\x07|\x1b\\)"  # OSC 133 mark
    rb"|\x1b\[\?(?:1049|1047|47)([hl])"  # alternate screen on / off
)
NESTED = (
    "aiw shell pty: this shell already runs under aiw shell pty; "
    'start it from your rc file only outside one: [ -z "$AIW_PTY" ] && exec aiw shell pty'
)
_CARRY = 256  # an unfinished escape sequence at the end of a read waits for the next one


class MarkSplitter:
    """Keep the output between OSC 133 C and D; save it when D reports a failure."""

    def __init__(self, directory: Path, keep: int = MAX_KEEP) -> None:
        self.directory = directory
        self.keep = keep
        self.capturing = False
        self.alternate = False
        self.buffer = bytearray()
        self.carry = b""
        self.saved: list[Path] = []

    def _text(self, data: bytes) -> None:
        if self.capturing and not self.alternate and data:
            self.buffer += data
            if len(self.buffer) > 2 * self.keep:
                del self.buffer[: -self.keep]

    def feed(self, chunk: bytes) -> None:
        data = self.carry + chunk
        self.carry = b""
        at = 0
        for match in _SEQ.finditer(data):
            self._text(data[at : match.start()])
            at = match.end()
            if match.group(2) is not None:
                self.alternate = match.group(2) == b"h"
            else:
                self._mark(match.group(1).decode("ascii", "replace"))
        rest = data[at:]
        esc = rest.rfind(b"\x1b")
        if esc >= 0 and len(rest) - esc < _CARRY:
            self._text(rest[:esc])
            self.carry = rest[esc:]
        else:
            self._text(rest)

    def _mark(self, body: str) -> None:
        kind, _, params = body.partition(";")
        if kind == "C":
            self.capturing = True
            self.alternate = False
            self.buffer.clear()
        elif kind == "D":
            fields = params.split(";") if params else []
            status = fields[0] if fields else ""
            ident = next((f[4:] for f in fields[1:] if f.startswith("aiw=")), "")
            ident = "".join(c for c in ident if c.isalnum() or c in "-_")
            if self.capturing and ident and status not in ("", "0"):
                path = self.directory / f"pty-{ident}.out"
                with contextlib.suppress(OSError):
                    write_capture(path, bytes(self.buffer[-self.keep :]))
                    self.saved.append(path)
                    cleanup_old(self.directory, "pty-")
            self.capturing = False
            self.buffer.clear()
        elif kind == "A":
            self.capturing = False
            self.buffer.clear()


def shell_argv(argv: Sequence[str] = ()) -> list[str]:
    """The command to run: ``argv``, else ``$SHELL`` as an interactive shell, else bash."""
    if argv:
        return list(argv)
    shell = os.environ.get("SHELL") or "/bin/bash"
    if os.path.basename(shell) not in ("bash", "zsh"):
        shell = "/bin/bash" if os.path.exists("/bin/bash") else shell
    return [shell, "-i"]


def _winsize(fd: int) -> bytes | None:
    try:
        return fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [])


def run_proxy(argv: Sequence[str], directory: Path) -> int:
    """Run ``argv`` on a new pty, proxying the terminal; return its exit status."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    master, slave = os.openpty()
    size = _winsize(stdin) or _winsize(stdout) or struct.pack("HHHH", 24, 80, 0, 0)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    if os.isatty(stdin):  # the same modes (erase key, flow control, ...) as the terminal
        with contextlib.suppress(termios.error):
            termios.tcsetattr(slave, termios.TCSANOW, termios.tcgetattr(stdin))
    env = dict(os.environ)
    env["AIW_PTY"] = str(directory)
    env["AIW_PTY_PID"] = str(os.getpid())
    if capture_mode() != "none":  # running the proxy is the opt-in; "none" still wins
        env["AIW_SHELL__CAPTURE"] = "pty"
    pid = os.fork()
    if pid == 0:  # child: the shell, on the pty as its controlling terminal
        try:
            os.close(master)
            os.login_tty(slave)
            os.execvpe(argv[0], list(argv), env)
        except OSError as exc:
            os.write(2, f"aiw shell pty: cannot run {argv[0]}: {exc.strerror}\r\n".encode())
        os._exit(127)
    os.close(slave)
    splitter = MarkSplitter(directory)
    saved_mode = None
    if os.isatty(stdin):
        saved_mode = termios.tcgetattr(stdin)
        tty.setraw(stdin, termios.TCSANOW)

    def on_winch(_signum: int, _frame: object) -> None:
        new = _winsize(stdin) or _winsize(stdout)
        if new is not None:
            with contextlib.suppress(OSError):
                fcntl.ioctl(master, termios.TIOCSWINSZ, new)  # the kernel signals the shell

    def on_term(signum: int, _frame: object) -> None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGHUP if signum == signal.SIGHUP else signal.SIGTERM)

    signal.signal(signal.SIGWINCH, on_winch)
    for sig in (signal.SIGINT, signal.SIGQUIT):  # keys reach the shell as bytes; these are not ours
        signal.signal(sig, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_term)
    # Keystrokes (or a big paste) wait in `pending` while the shell is not reading, and the
    # proxy keeps copying the shell's output meanwhile: a blocking write to the pty while
    # the shell blocks on a full output buffer would hang both.
    os.set_blocking(master, False)
    pending = bytearray()
    stdin_open = True
    status: int | None = None
    try:
        while True:
            reads = [master] + ([stdin] if stdin_open and not pending else [])
            try:
                ready, writable, _ = select.select(reads, [master] if pending else [], [], 1.0)
            except InterruptedError:  # pragma: no cover - PEP 475 retries select
                continue
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except BlockingIOError:
                    data = None
                except OSError as exc:
                    if exc.errno != errno.EIO:
                        raise
                    data = b""
                if data == b"":  # EIO: every process left the pty
                    break
                if data:
                    _write_all(stdout, data)
                    splitter.feed(data)
            if writable:
                with contextlib.suppress(BlockingIOError):
                    del pending[: os.write(master, pending)]
            if stdin in ready:
                try:
                    data = os.read(stdin, 65536)
                except OSError:
                    data = b""
                if data:
                    pending += data
                else:  # our input ended (a pipe): stop reading it, keep the shell running
                    stdin_open = False
            if not ready and not writable:
                done, raw = os.waitpid(pid, os.WNOHANG)
                if done:  # the shell left; a background job may hold the pty: drain and go
                    status = os.waitstatus_to_exitcode(raw)
                    break
    finally:
        if saved_mode is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(stdin, termios.TCSAFLUSH, saved_mode)
        os.close(master)
    if status is None:
        _, raw = os.waitpid(pid, 0)
        status = os.waitstatus_to_exitcode(raw)
    return 128 - status if status < 0 else status


def main(argv: list[str] | None = None) -> int:
    """``python -m ai_workbench.shell.pty_proxy [SHELL ARGS...]``."""
    from ai_workbench.shell.spool import spool_dir

    args = sys.argv[1:] if argv is None else argv
    if os.environ.get("AIW_PTY_PID") == str(os.getppid()):
        # The proxy's own shell ran us again, e.g. an rc file with an unguarded
        # `exec aiw shell pty`: starting its shell would run that rc file again, forever.
        print(NESTED, file=sys.stderr)
        return 1
    return run_proxy(shell_argv(args), spool_dir())


if __name__ == "__main__":
    sys.exit(main())
