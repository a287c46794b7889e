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
