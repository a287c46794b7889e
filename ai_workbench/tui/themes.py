"""Themes: bundled ones in ``themes/``, the user's in ``<config_dir>/themes``.

A theme file is TOML or JSON holding the fields of :class:`textual.theme.Theme` (``name``,
``primary``, ``background``, ``dark``, ... and an optional ``variables`` table). A user theme with
the name of a bundled one replaces it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

THEME_FIELDS = {
    "name",
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "dark",
    "luminosity_spread",
    "text_alpha",
    "variables",
}


def theme_dirs() -> list[Path]:
    from ai_workbench.core.paths import bundled_dir, config_dir

    return [bundled_dir("themes"), config_dir() / "themes"]


def _read(path: Path) -> dict[str, Any]:
    import tomllib  # here, not at start-up: the first frame reads no TOML without a config

    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    if not isinstance(data, dict):
        raise ValueError("expected a table of theme fields")
    return data


def theme_from_file(path: Path) -> Any:
    """A :class:`textual.theme.Theme` from one file; ValueError with a clear line if broken."""
    from textual.theme import Theme

    try:
        data = _read(path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # TOMLDecodeError is a ValueError
        raise ValueError(f"{path}: cannot read theme: {exc}") from None
    unknown = sorted(set(data) - THEME_FIELDS)
    if unknown:
        raise ValueError(f"{path}: unknown theme key(s) {', '.join(unknown)}")
    data.setdefault("name", path.stem)
    if "primary" not in data:
        raise ValueError(f'{path}: primary: expected a colour such as "#5e81ac"')
    try:
        theme = Theme(**data)
        from textual.color import Color

        for key in ("primary", "secondary", "accent", "background", "surface", "foreground"):
            if data.get(key):
                Color.parse(data[key])
    except Exception as exc:
        raise ValueError(f"{path}: invalid theme: {exc}") from None
    return theme


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".toml", ".json") and p.is_file())


def load_themes() -> tuple[list[Any], list[str]]:
    """Every theme found (later dirs override earlier ones by name) and the problems met."""
    themes: dict[str, Any] = {}
    errors: list[str] = []
    for folder in theme_dirs():
        for path in _files(folder):
            try:
                theme = theme_from_file(path)
            except ValueError as exc:
                errors.append(str(exc))
                continue
            themes[theme.name] = theme
    return list(themes.values()), errors


def peek_theme_name(cwd: Path | None = None) -> str | None:
    """The configured theme name, read cheaply (no pydantic) so the first frame has it.

    Same precedence as the settings: ``AIW_THEME`` › project ``.aiw.toml`` › user config.
    The full settings load later in a worker and win if they disagree.
    """
    env = os.environ.get("AIW_THEME")
    if env:
        return env
    from ai_workbench.core.paths import find_project_config, user_config_file

    # Mirrors ai_workbench.core.settings.user_config_path without importing pydantic.
    override = os.environ.get("AIW_CONFIG")
    user = Path(override).expanduser() if override else user_config_file()
    for path in (find_project_config(cwd), user):
        if path is None:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        import tomllib  # only when there is a file to read

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue
        name = data.get("theme")
        if isinstance(name, str) and name:
            return name
    return None


def find_theme_file(name: str) -> Path | None:
    """The file defining theme ``name`` (user dir first), by file stem or by its ``name``."""
    for folder in reversed(theme_dirs()):
        for path in _files(folder):
            if path.stem == name:
                return path
    return None
