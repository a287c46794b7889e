"""Run a command a model proposed, after the user chose and confirmed it.

Used by the workbench for shell-fix suggestions (``aiw explain`` has its own terminal menu). The
rules that keep this safe live here, not in the UI:

- :func:`rate` re-rates the command with aiw's own classifier
  (``ai_workbench.core.safety.risk``) and the stricter of that and the model's label wins, so a
  model calling ``rm -rf ~`` "safe" does not make it so.
- :func:`confirmation_for` says what the user must do before it runs: press y for safe and
  moderate commands, type ``yes`` for a dangerous one.
- :func:`run_command` runs it in the failed command's directory (which must exist) with the
  user's shell, no stdin, a timeout, and returns the exit code and the last part of the output.
  The process group is killed on timeout or cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ai_workbench.core.errors import EXIT_INPUT, AiwError

__all__ = ["CommandRun", "Rated", "RunError", "confirmation_for", "rate", "run_command"]

MAX_OUTPUT = 64 * 1024
DEFAULT_TIMEOUT = 120.0
DANGER_WORD = "yes"


class RunError(AiwError):
    exit_code = EXIT_INPUT


@dataclass(frozen=True, slots=True)
class Rated:
    command: str
    level: Literal["safe", "moderate", "dangerous"]
    reasons: list[str]


@dataclass(frozen=True, slots=True)
class CommandRun:
    command: str
    cwd: str
    exit_code: int | None  # None: killed after the timeout or cancelled
    output: str  # stdout and stderr interleaved, the last MAX_OUTPUT bytes
    seconds: float
    truncated: bool


def rate(command: str, claimed: str | None = None) -> Rated:
    """The stricter of the model's ``claimed`` level and aiw's own classification."""
    from ai_workbench.core.safety.risk import classify, normalise_level, stricter

    risk = classify(command)
    level = stricter(risk.level, normalise_level(claimed))
    return Rated(command=command, level=level, reasons=list(risk.reasons))


def confirmation_for(rated: Rated) -> str | None:
    """The word the user must type to run ``rated`` (dangerous), or None (a y/n question)."""
    return DANGER_WORD if rated.level == "dangerous" else None


def _shell() -> str:
    shell = os.environ.get("SHELL", "")
    return shell if shell and Path(shell).exists() else "/bin/sh"


async def run_command(
    command: str, cwd: str | Path, timeout: float = DEFAULT_TIMEOUT
) -> CommandRun:
    """Run ``command`` with the user's shell in ``cwd``; never raises for a failing command."""
    where = Path(cwd).expanduser()
    if not where.is_dir():
        raise RunError(f"cannot run it: the directory {where} no longer exists")
    if not command.strip():
        raise RunError("nothing to run: the command is empty")
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        _shell(),
        "-c",
        command,
        cwd=where,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group: a timeout kills all of it
    )
    buffer = bytearray()
    truncated = False

    async def read() -> None:
        nonlocal truncated
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            buffer.extend(chunk)
            if len(buffer) > MAX_OUTPUT:
                del buffer[: len(buffer) - MAX_OUTPUT]
                truncated = True

    exit_code: int | None
    try:
        await asyncio.wait_for(asyncio.gather(read(), proc.wait()), timeout)
        exit_code = proc.returncode
    except (TimeoutError, asyncio.CancelledError) as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        exit_code = None
        buffer.extend(f"\n[aiw: stopped after {timeout:.0f}s]\n".encode())
    return CommandRun(
        command=command,
        cwd=str(where),
        exit_code=exit_code,
        output=buffer.decode("utf-8", "replace"),
        seconds=time.perf_counter() - started,
        truncated=truncated,
    )
