"""The events spool: one JSON line per failed command, in the per-user runtime dir.

The hook appends a line with a single ``write`` on an ``O_APPEND`` descriptor (the shell's
``>>``), which Linux keeps whole even when several shells append at once, as long as a line
stays below the pipe buffer size (the hook caps the command at 4000 characters). Readers (the
worker, the workbench) read complete lines only and skip anything that is not valid JSON
(blank lines included).

The command line is written as typed, so it may hold a secret. Once the worker has stored the
event (redacted) in the database it overwrites that line in place with the redacted event,
padded with spaces to the same length (:func:`scrub_event`): no raw secret stays on disk, the
file never changes size or offsets under the hook's appends or a reader's saved offset, and
``read_events`` returns the redacted line. An event the worker drops (a sensitive directory)
becomes a blank line. Lines are never removed otherwise; the file is rotated past
:data:`MAX_SPOOL_BYTES`. The directory is 0700 and the file 0600.

Event keys (version 1): ``id`` (``pid-µs-random``), ``shell``, ``status`` (exit code),
``pipestatus`` (space separated), ``cmd``, ``cwd``, ``t0``/``t1`` (µs since the epoch, 0 when
the shell cannot tell), ``pid``, ``tmux_pane``, ``histfile``; with an opt-in capture mode also
``out`` (the file the tee reader or the pty proxy writes the output to) and ``outk``
(``tee`` | ``pty``). The event the hook hands to the worker (in its environment, never on disk
or in its argv) adds ``history``: the shell session's commands before the failed one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_SPOOL_BYTES",
    "ShellEvent",
    "append_event",
    "ensure_private",
    "find_event",
    "read_events",
    "scrub_event",
    "spool_dir",
    "spool_file",
]

#: The spool is rotated (renamed to ``events.jsonl.1``) once it grows past this.
MAX_SPOOL_BYTES = 512 * 1024


def spool_dir() -> Path:
    """``$XDG_RUNTIME_DIR/aiw/shell`` (falls back to the data dir without a runtime dir)."""
    import warnings

    from ai_workbench.core import paths

    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        return paths.runtime_dir() / "shell"


def spool_file() -> Path:
    return spool_dir() / "events.jsonl"


@dataclass(frozen=True, slots=True)
class ShellEvent:
    """One failed command as the hook saw it."""

    id: str
    shell: str
    status: int
    cmd: str
    cwd: str
    pipestatus: str = ""
    t0: int = 0
    t1: int = 0
    pid: int = 0
    tmux_pane: str = ""
    histfile: str = ""
    out: str = ""
    outk: str = ""
    history: tuple[str, ...] = ()  # only in the worker's copy; never written to the spool

    @property
    def duration_ms(self) -> int | None:
        if self.t0 > 0 and self.t1 >= self.t0:
            return (self.t1 - self.t0) // 1000
        return None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShellEvent:
        """Build from a spool line's object; raise ValueError when a required key is bad."""
        try:
            return cls(
                id=str(data["id"]),
                shell=str(data.get("shell", "")),
                status=int(data["status"]),
                cmd=str(data["cmd"]),
                cwd=str(data.get("cwd", "")),
                pipestatus=str(data.get("pipestatus", "")),
                t0=int(data.get("t0") or 0),
                t1=int(data.get("t1") or 0),
                pid=int(data.get("pid") or 0),
                tmux_pane=str(data.get("tmux_pane", "")),
                histfile=str(data.get("histfile", "")),
                out=str(data.get("out", "")),
                outk=str(data.get("outk", "")),
                history=tuple(str(h) for h in data.get("history") or () if isinstance(h, str)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a shell event: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        """The spool line's object (``history`` is left out: it stays off the disk)."""
        return {
            "v": 1,
            "id": self.id,
            "shell": self.shell,
            "status": self.status,
            "pipestatus": self.pipestatus,
            "cmd": self.cmd,
            "cwd": self.cwd,
            "t0": self.t0,
            "t1": self.t1,
            "pid": self.pid,
            "tmux_pane": self.tmux_pane,
            "histfile": self.histfile,
            **({"out": self.out, "outk": self.outk} if self.outk else {}),
        }


def ensure_dir(path: Path | None = None) -> Path:
    """Create the spool dir (mode 0700: command lines are private)."""
    directory = path or spool_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def ensure_private(path: Path | None = None) -> Path:
    """The spool dir (0700) and file (0600), created or put right. The hook's ``>>`` would
    create the file with the shell's umask (often 0644) after a rotation; this runs at
    `aiw shell init` and in every worker."""
    target = path or spool_file()
    ensure_dir(target.parent)
    if target.parent.stat().st_mode & 0o777 != 0o700:
        os.chmod(target.parent, 0o700)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o777 != 0o600:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return target


def append_event(event: ShellEvent, path: Path | None = None) -> None:
    """Append ``event`` as one line with one ``write`` (what the hook does in shell)."""
    target = path or spool_file()
    ensure_dir(target.parent)
    line = (json.dumps(event.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_events(offset: int = 0, path: Path | None = None) -> tuple[list[ShellEvent], int]:
    """Events in complete lines from byte ``offset`` on, and the offset to resume from.

    A consumer that polls (the workbench) keeps the returned offset; when the file shrank
    (rotated) it starts again from 0.
    """
    target = path or spool_file()
    try:
        with target.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if offset > size:
                offset = 0
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return [], 0
    end = data.rfind(b"\n") + 1
    events: list[ShellEvent] = []
    for raw in data[:end].splitlines():
        try:
            events.append(ShellEvent.from_json(json.loads(raw)))
        except (ValueError, UnicodeDecodeError):
            continue
    return events, offset + end


def find_event(event_id: str, path: Path | None = None) -> ShellEvent | None:
    events, _ = read_events(0, path)
    for event in reversed(events):
        if event.id == event_id:
            return event
    return None


def rotate_if_large(path: Path | None = None, limit: int = MAX_SPOOL_BYTES) -> bool:
    """Rename a spool past ``limit`` bytes to ``.1`` (the hook's next ``>>`` starts a new one)."""
    target = path or spool_file()
    try:
        if target.stat().st_size <= limit:
            return False
        os.replace(target, target.with_name(target.name + ".1"))
        return True
    except FileNotFoundError:
        return False


_MINIMAL_KEYS = ("v", "id", "shell", "status", "cmd", "cwd")


def _fit(event: ShellEvent, size: int) -> bytes | None:
    """``event`` as a line of exactly ``size`` bytes (spaces before the newline), or None.

    Redaction can make the command longer than the line it replaces: then the line keeps
    only what readers need once the event is stored (id, shell, status, command, cwd), and
    as a last resort the command is cut with "…" (a cut redacted command, never a raw one)."""

    def dump(data: dict[str, Any]) -> bytes:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    full = event.to_json()
    minimal = {key: full[key] for key in _MINIMAL_KEYS}
    cmd = event.cmd
    for line in (dump(full), dump(minimal)):
        if len(line) + 1 <= size:
            return line + b" " * (size - 1 - len(line)) + b"\n"
    while cmd:
        cmd = cmd[: max(0, len(cmd) - 2)]
        line = dump({**minimal, "cmd": cmd + "…"})
        if len(line) + 1 <= size:
            return line + b" " * (size - 1 - len(line)) + b"\n"
    return None


def scrub_event(event_id: str, replacement: ShellEvent | None, path: Path | None = None) -> int:
    """Overwrite the spool line(s) of ``event_id`` in place, same length: with
    ``replacement`` (the redacted event) or, when None, with a blank line. Looks in the
    rotated file too. Returns how many lines changed."""
    target = path or spool_file()
    needle = json.dumps(event_id).encode("utf-8")  # the quoted id, as either writer puts it
    changed = 0
    for candidate in (target, target.with_name(target.name + ".1")):
        try:
            fd = os.open(candidate, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            data = b""
            while chunk := os.read(fd, 1 << 20):
                data += chunk
            begin = 0
            while (end := data.find(b"\n", begin)) >= 0:  # complete lines only
                raw, at = data[begin:end], begin
                begin = end + 1
                if needle not in raw:
                    continue
                try:
                    parsed = json.loads(raw)
                    if str(parsed.get("id")) != event_id:
                        continue
                    if replacement is not None and ShellEvent.from_json(parsed) == replacement:
                        continue  # nothing to hide: leave the line alone
                except (ValueError, UnicodeDecodeError, AttributeError):
                    continue
                size = len(raw) + 1
                line = None if replacement is None else _fit(replacement, size)
                if line is None:
                    line = b" " * (size - 1) + b"\n"
                if line != data[at:begin]:
                    os.pwrite(fd, line, at)
                    changed += 1
        finally:
            os.close(fd)
    return changed
