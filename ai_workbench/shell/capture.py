"""Read a failed command's output after the fact, from the program that still shows it.

Default capture (``shell.capture = "scrollback"``): nothing runs while the command runs, so
vim, less, ssh and sudo prompts and colours are untouched. After the failure the worker asks
the multiplexer or terminal that holds the screen:

* tmux: ``tmux capture-pane -p -J -t $TMUX_PANE -S -N`` (wrapped lines joined);
* GNU screen: ``screen -X hardcopy -h FILE``;
* kitty (remote control on): ``kitty @ get-text --extent last_cmd_output``;
* WezTerm: ``wezterm cli get-text --pane-id $WEZTERM_PANE --start-line -N``.

From a screen dump :func:`extract_output` takes the lines after the last line that shows the
command and before the next prompt. Outside those programs the output is "unavailable".

The opt-in modes (``capture = "tee"`` / ``"pty"``) leave a file per failed command in the
spool dir, named in the event (``out``): :func:`read_out_file` reads it (the pty proxy writes
it a moment after the hook's D mark, so it waits briefly), cleans terminal codes and removes
it; when it is missing the worker falls back to the scrollback.
Limits (docs/shell.md): merged stdout+stderr, only what is on screen (``clear``, full-screen
programs and a small scrollback lose it), long lines as the terminal wrapped them.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MAX_CAPTURE_BYTES",
    "Capture",
    "capture_output",
    "clean_terminal_text",
    "extract_output",
    "read_out_file",
    "tail_bytes",
]

SCROLLBACK_LINES = 400
MAX_CAPTURE_BYTES = 65_536  # the largest shell.max_output_bytes
TIMEOUT = 3.0
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


@dataclass(frozen=True, slots=True)
class Capture:
    """The output found (``None``: unavailable) and where it came from."""

    text: str | None
    source: str  # tmux | screen | kitty | wezterm | none
    note: str = ""


def tail_bytes(text: str, limit: int) -> str:
    """The last ``limit`` bytes of ``text`` (UTF-8), cut at a line start when one is near."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    cut = data[-limit:].decode("utf-8", errors="ignore")
    newline = cut.find("\n")
    if 0 <= newline < 200:
        cut = cut[newline + 1 :]
    return "…\n" + cut


def extract_output(screen: str, command: str) -> str | None:
    """The output of ``command`` in a screen dump: between its command line and the next prompt.

    Returns ``None`` when the command line is not on the screen (cleared, scrolled away).
    """
    lines = [_ANSI.sub("", line).rstrip() for line in screen.splitlines()]
    while lines and not lines[-1].strip():
        lines.pop()
    cmd_lines = [ln.rstrip() for ln in command.strip().splitlines() if ln.strip()]
    if not cmd_lines or not lines:
        return None
    first = cmd_lines[0].strip()
    start = None
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].endswith(first) or (len(first) > 60 and first[:60] in lines[index]):
            start = index
            break
    if start is None:
        return None
    prefix = lines[start][: len(lines[start]) - len(first)] if lines[start].endswith(first) else ""
    body_start = start + len(cmd_lines)
    # Continuation lines of a multi-line command are shown after a PS2 prompt: skip them.
    end = None
    prompt_mark = prefix.strip()
    for index in range(body_start, len(lines)):
        if prompt_mark and lines[index].startswith(prefix.rstrip()):
            end = index
            break
    if end is None:
        # No recognisable prompt: the last line is the prompt the shell has drawn since,
        # unless the dump was taken before it (then every line is output).
        end = len(lines) - 1 if len(lines) - 1 >= body_start and not prompt_mark else len(lines)
    body = lines[body_start:end]
    while body and not body[-1].strip():
        body.pop()
    return "\n".join(body)


def clean_terminal_text(raw: bytes) -> str:
    """Terminal output as plain text: escape codes removed, ``\r`` rewrites and backspaces
    applied (a progress bar leaves its last state), no trailing blank lines."""
    text = _ANSI.sub("", raw.decode("utf-8", errors="replace"))
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.rstrip("\r").rsplit("\r", 1)[-1]
        while "\b" in line:
            at = line.index("\b")
            line = line[: max(at - 1, 0)] + line[at + 1 :]
        lines.append("".join(c for c in line if c == "\t" or c >= " ").rstrip())
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)


_OUT_NAME = re.compile(r"^(?:tee-[\w-]+\.err|pty-[\w-]+\.out)$")


def read_out_file(path: str, kind: str, spool: Path, *, wait: float = 3.0) -> Capture | None:
    """The output an opt-in capture mode saved for a failed command, or None when absent.

    Only files named like the tee reader's and the pty proxy's, in the spool dir, are read
    (the event names the file; nothing else is opened). The file is removed after reading.
    """
    target = Path(path)
    if not _OUT_NAME.match(target.name) or target.parent.resolve() != spool.resolve():
        return None
    deadline = time.monotonic() + (wait if kind == "pty" else 0.0)
    while True:
        try:
            raw = target.read_bytes()
            break
        except FileNotFoundError:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)
        except OSError:
            return None
    with contextlib.suppress(OSError):
        target.unlink()
    return Capture(clean_terminal_text(raw[-MAX_CAPTURE_BYTES * 2 :]), kind)


def _run(argv: list[str], env: Mapping[str, str]) -> str | None:
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _screen_dump(env: Mapping[str, str]) -> str | None:
    fd, name = tempfile.mkstemp(prefix="aiw-screen-", suffix=".txt")
    os.close(fd)
    try:
        argv = ["screen", "-S", env["STY"]]
        if env.get("WINDOW"):
            argv += ["-p", env["WINDOW"]]
        if _run([*argv, "-X", "hardcopy", "-h", name], env) is None:
            return None
        return Path(name).read_text(encoding="utf-8", errors="replace")
    finally:
        Path(name).unlink(missing_ok=True)


def capture_output(
    command: str,
    *,
    env: Mapping[str, str] | None = None,
    tmux_pane: str = "",
    max_bytes: int = 4096,
) -> Capture:
    """Find the output of ``command``, which just failed in the terminal described by ``env``."""
    env = dict(os.environ if env is None else env)
    pane = tmux_pane or env.get("TMUX_PANE", "")
    if env.get("TMUX") and pane:
        dump = _run(
            ["tmux", "capture-pane", "-p", "-J", "-t", pane, "-S", f"-{SCROLLBACK_LINES}"], env
        )
        return _from_dump(dump, command, "tmux", max_bytes)
    if env.get("STY"):
        return _from_dump(_screen_dump(env), command, "screen", max_bytes)
    if env.get("KITTY_WINDOW_ID") and env.get("KITTY_LISTEN_ON"):
        text = _run(
            [
                "kitty",
                "@",
                "--to",
                env["KITTY_LISTEN_ON"],
                "get-text",
                "--match",
                f"id:{env['KITTY_WINDOW_ID']}",
                "--extent",
                "last_cmd_output",
            ],
            env,
        )
        if text and text.strip():
            return Capture(tail_bytes(_ANSI.sub("", text).rstrip(), max_bytes), "kitty")
        return Capture(
            None, "kitty", "kitty gave no output (shell integration or remote control off)"
        )
    if env.get("WEZTERM_PANE"):
        dump = _run(
            [
                "wezterm",
                "cli",
                "get-text",
                "--pane-id",
                env["WEZTERM_PANE"],
                "--start-line",
                f"-{SCROLLBACK_LINES}",
            ],
            env,
        )
        return _from_dump(dump, command, "wezterm", max_bytes)
    return Capture(None, "none", "not in tmux, screen, kitty or WezTerm")


def _from_dump(dump: str | None, command: str, source: str, max_bytes: int) -> Capture:
    if dump is None:
        return Capture(None, source, f"{source} did not answer")
    text = extract_output(dump, command)
    if text is None:
        return Capture(None, source, "the command is no longer on the screen")
    return Capture(tail_bytes(text, max_bytes), source)
