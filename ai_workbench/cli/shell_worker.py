"""The detached worker the hook starts after a failure:
``python -m ai_workbench.cli.shell_worker`` (a process entry point, so it lives with the
interfaces) with the event (JSON, with the session's recent commands) in ``$AIW_SHELL_EVENT``. The
environment is readable by this user only, unlike argv; ``--event JSON`` still works for
hooks loaded before that change.

Once the event is stored (redacted) in the database, its spool line is overwritten with the
redacted event (:func:`ai_workbench.shell.spool.scrub_event`), or blanked when it is not
stored at all (a sensitive directory): no raw command line stays on disk.

It leaves the terminal's session first (so closing the terminal or Ctrl-C does not stop it),
reads the output from the scrollback at once (only the standard library is loaded by then),
and only then loads the config, the database and the provider client. Problems go to
``worker.log`` next to the spool; the shell never sees them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from ai_workbench.shell.capture import (
    MAX_CAPTURE_BYTES,
    Capture,
    capture_output,
    read_out_file,
    tail_bytes,
)
from ai_workbench.shell.spool import (
    ShellEvent,
    append_event,
    ensure_private,
    find_event,
    rotate_if_large,
    scrub_event,
    spool_dir,
)

HISTORY_LINES = 10
ENV_EVENT = "AIW_SHELL_EVENT"

LOG_LIMIT = 256 * 1024


def _log(message: str) -> None:
    try:
        path = spool_dir() / "worker.log"
        if path.exists() and path.stat().st_size > LOG_LIMIT:
            os.replace(path, path.with_name("worker.log.1"))
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{os.getpid()}] {message}\n")
    except OSError:
        pass


def _detach() -> None:
    with contextlib.suppress(OSError):  # already a session leader
        os.setsid()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


async def run(event: ShellEvent, capture: Capture) -> int:
    from ai_workbench.core.errors import AiwError
    from ai_workbench.core.settings import ConfigError, load_config
    from ai_workbench.shell import service
    from ai_workbench.shell.events import ShellEventStore
    from ai_workbench.shell.integration import is_off, sensitive_dirs
    from ai_workbench.shell.rules import ignore_reason

    try:
        loaded = load_config(cwd=Path(event.cwd) if os.path.isdir(event.cwd) else None)
    except ConfigError as exc:
        _log(f"config: {exc}")
        return 1
    shell = loaded.settings.shell
    if shell.capture == "none":
        capture = Capture(None, "none", "capture = none in config")
    elif capture.text is not None:
        capture = Capture(tail_bytes(capture.text, shell.max_output_bytes), capture.source)
    reason = ignore_reason(
        event.status,
        event.cmd,
        event.cwd,
        ignore=shell.ignore,
        sensitive=sensitive_dirs(shell.sensitive_dirs),
        pipestatus=event.pipestatus,
    )
    if reason and reason.startswith("sensitive"):
        _scrub(event.id, None)
        return 0  # nothing from a sensitive directory is stored
    from ai_workbench.store import Store  # the same entry point as every interface

    store = await Store.open()
    try:
        stored = await service.record(
            store, event, capture, ignored=reason, history=session_history(event)
        )
        _scrub(event.id, redacted(event))
        if reason or not shell.auto_analyse or is_off():
            return 0
        if not await ShellEventStore(store).claim(stored.id):
            return 0
        try:
            await service.analyse(store, loaded, stored, env=os.environ)
        except AiwError as exc:
            _log(f"event {stored.id}: analysis failed: {exc}")
            return 1
    finally:
        await store.close()
    return 0


def session_history(event: ShellEvent, limit: int = HISTORY_LINES) -> list[str]:
    """The commands the session ran before the failed one (the hook sends it last)."""
    entries = [h for h in event.history if h.strip()]
    if entries and entries[-1].strip() == event.cmd.strip():
        entries.pop()
    return entries[-limit:]


def redacted(event: ShellEvent) -> ShellEvent:
    """The event as the spool may keep it: command redacted, no history."""
    from dataclasses import replace

    from ai_workbench.core.redact import redact_text

    return replace(event, cmd=redact_text(event.cmd), history=())


def _scrub(event_id: str, replacement: ShellEvent | None) -> None:
    try:
        scrub_event(event_id, replacement)
    except OSError as exc:
        _log(f"spool: could not scrub event {event_id}: {exc}")


def first_capture(event: ShellEvent) -> Capture:
    """The opt-in mode's file when the hook named one, else (or when it is missing) the
    scrollback, with a note saying why."""
    if event.outk in ("tee", "pty") and event.out:
        saved = read_out_file(event.out, event.outk, spool_dir())
        # the proxy saw everything: an empty file means the command printed nothing
        if saved is not None and (saved.text or event.outk == "pty"):
            return saved
        why = (
            "tee: the command wrote nothing to stderr"
            if event.outk == "tee"
            else "pty: the proxy saved no output"
        )
        fallback = capture_output(event.cmd, tmux_pane=event.tmux_pane, max_bytes=MAX_CAPTURE_BYTES)
        if fallback.text is None:
            return Capture(None, event.outk, f"{why}; {fallback.note}")
        return fallback
    return capture_output(event.cmd, tmux_pane=event.tmux_pane, max_bytes=MAX_CAPTURE_BYTES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aiw-shell-worker")
    parser.add_argument("--event", help=f"the event (JSON); default: ${ENV_EVENT}")
    parser.add_argument("--no-detach", action="store_true")
    args = parser.parse_args(argv)
    if not args.no_detach:
        _detach()
    raw = args.event if args.event is not None else os.environ.pop(ENV_EVENT, "")
    try:
        event = ShellEvent.from_json(json.loads(raw or "null") or {})
    except ValueError as exc:
        _log(f"bad event: {exc}")
        return 2
    capture = first_capture(event)
    try:
        if find_event(event.id) is None:
            append_event(redacted(event))  # the hook could not write (spool dir missing)
        rotate_if_large()
        ensure_private()
    except OSError as exc:
        _log(f"spool: {exc}")
    try:
        return asyncio.run(run(event, capture))
    except Exception:
        _log("worker crashed:\n" + traceback.format_exc())
        return 1


if __name__ == "__main__":
    sys.exit(main())
