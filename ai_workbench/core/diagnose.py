"""Health checks of aiw's own files, for `aiw doctor` (no capability knowledge here).

Each check returns :class:`Check` rows: ``ok``, ``warn`` (works, but worth a look) or
``fail`` (something is broken; ``code`` is the exit code that failure has elsewhere in aiw).
Nothing here creates or changes a file: the database is opened read-only.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ai_workbench.core.errors import EXIT_STORAGE

__all__ = ["Check", "data_dir_checks"]

Status = Literal["ok", "warn", "fail", "info"]


@dataclass(slots=True)
class Check:
    area: str  # "config", "providers", "index", "shell", "data"
    name: str
    status: Status
    detail: str
    fix: str = ""
    code: int = 0  # exit code when status == "fail"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def data_dir_checks(data_dir: Path, db_path: Path, schema_version: int) -> list[Check]:
    """The data dir exists and only its owner can write it; the database opens and is current
    (``schema_version``: what this release's migrations reach, from ai_workbench.schema)."""

    checks: list[Check] = []
    if not data_dir.exists():
        checks.append(
            Check("data", "data dir", "info", f"{data_dir} does not exist yet (made on first use)")
        )
        return checks
    if not data_dir.is_dir():
        return [
            Check("data", "data dir", "fail", f"{data_dir} is not a directory",
                  f"move it away; aiw keeps sessions and indexes in {data_dir}", EXIT_STORAGE)
        ]  # fmt: skip
    mode = _mode(data_dir)
    if not os.access(data_dir, os.W_OK | os.X_OK):
        checks.append(
            Check("data", "data dir", "fail", f"{data_dir} is not writable by you",
                  f"chown or chmod u+rwx {data_dir}", EXIT_STORAGE)
        )  # fmt: skip
    elif mode & (stat.S_IWGRP | stat.S_IWOTH):
        checks.append(
            Check("data", "data dir", "fail",
                  f"{data_dir} is writable by others (mode {mode:o}): they could change your "
                  "sessions and shell analyses", f"chmod go-w {data_dir}", EXIT_STORAGE)
        )  # fmt: skip
    elif mode & (stat.S_IRGRP | stat.S_IROTH):
        checks.append(
            Check("data", "data dir", "warn",
                  f"{data_dir} is readable by others (mode {mode:o}); sessions hold your prompts",
                  f"chmod 700 {data_dir}")
        )  # fmt: skip
    else:
        checks.append(Check("data", "data dir", "ok", f"{data_dir} (mode {mode:o})"))

    if not db_path.exists():
        checks.append(
            Check("data", "database", "info", f"{db_path} does not exist yet (made on first ask)")
        )
        return checks
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=2)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            result = str(conn.execute("PRAGMA quick_check").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        checks.append(
            Check("data", "database", "fail", f"{db_path}: {exc}",
                  "close other aiw processes; if it stays unreadable, move the file away "
                  "(a new one is created)", EXIT_STORAGE)
        )  # fmt: skip
        return checks
    if result != "ok":
        checks.append(
            Check("data", "database", "fail", f"{db_path}: integrity check failed: {result}",
                  "restore a backup or move the file away", EXIT_STORAGE)
        )  # fmt: skip
    elif version > schema_version:
        checks.append(
            Check("data", "database", "fail",
                  f"{db_path} is from a newer aiw (schema {version}, this aiw knows "
                  f"{schema_version})", "upgrade aiw", EXIT_STORAGE)
        )  # fmt: skip
    else:
        behind = schema_version - version
        pending = f", {behind} migration(s) pending" if behind > 0 else ""
        checks.append(Check("data", "database", "ok", f"{db_path} (schema {version}{pending})"))
    return checks
