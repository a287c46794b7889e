"""Where aiw keeps things: XDG dirs (platformdirs), bundled resources, the project root."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "aiw"


def config_dir() -> Path:
    """User config dir (``$XDG_CONFIG_HOME/aiw``); ``AIW_CONFIG_DIR`` overrides it."""
    override = os.environ.get("AIW_CONFIG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False)


def data_dir() -> Path:
    """User data dir (``$XDG_DATA_HOME/aiw``); ``AIW_DATA_DIR`` overrides it."""
    override = os.environ.get("AIW_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents as 0700 (what aiw keeps is private).

    ``Path.mkdir(mode=...)`` applies the mode to the last component only, so a data dir created
    as the parent of the first file would be 0755; here every directory aiw creates is 0700.
    The default data dir, when it exists already, is tightened too (not an ``AIW_DATA_DIR``
    the user chose, which may be shared on purpose).
    """
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        else:
            os.chmod(directory, 0o700)  # whatever the umask
    if not os.environ.get("AIW_DATA_DIR"):
        default = data_dir()
        if path == default or default in path.parents:
            tighten_dir(default)
    return path


def tighten_dir(directory: Path) -> None:
    """Remove group and other permissions from one of aiw's own directories (if ours)."""
    try:
        mode = directory.stat().st_mode & 0o777
        if mode & 0o077 and directory.stat().st_uid == os.getuid():
            os.chmod(directory, mode & 0o700)
    except OSError:
        pass


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists and only its owner can read it (0600) before it is written.

    SQLite gives its -wal and -shm files the database file's permissions, so creating the file
    0600 before ``connect`` keeps all three private whatever the umask.
    """
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        sibling = path.with_name(path.name + suffix)
        try:
            if sibling.stat().st_mode & 0o077:
                os.chmod(sibling, 0o600)
        except OSError:
            pass
    return path


def runtime_dir() -> Path:
    """Per-user runtime dir for spools and sockets (falls back to the data dir)."""
    from platformdirs import user_runtime_path

    try:
        return user_runtime_path(APP_NAME, appauthor=False)
    except Exception:  # pragma: no cover - platforms without a runtime dir
        return data_dir() / "run"


def user_config_file() -> Path:
    return config_dir() / "config.toml"


def bundled_dir(name: str) -> Path:
    """A top-level resource dir (personas, themes, plugins) from the wheel or the source tree."""
    here = Path(__file__).resolve().parent.parent  # the ai_workbench package
    installed = here / "_bundled" / name
    if installed.is_dir():
        return installed
    return here.parent / name


def find_project_root(start: Path | None = None) -> Path:
    """The nearest ancestor holding ``.git`` (the repo root), else ``start`` itself."""
    start = (start or Path.cwd()).resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


def find_project_config(start: Path | None = None) -> Path | None:
    """The nearest ``.aiw.toml`` walking up from ``start``, stopping at the repo root."""
    start = (start or Path.cwd()).resolve()
    for candidate in (start, *start.parents):
        cfg = candidate / ".aiw.toml"
        if cfg.is_file():
            return cfg
        if (candidate / ".git").exists():
            return None
    return None
