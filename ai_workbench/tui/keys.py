"""Key remapping: every Binding has an ``id``; users map ids to keys.

The map is the ``keys`` table of the settings (``[keys]`` in config.toml, ``.aiw.toml``, or
``AIW_KEYS__…``), then ``[keys]`` in ``<config_dir>/keys.toml`` (or top-level ``id = "key"`` pairs
in that file), which wins::

    # ~/.config/aiw/config.toml
    [keys]
    "prompt.send" = "ctrl+s"
    "prompt.newline" = "enter"
    "app.files" = "ctrl+t"
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def keys_file() -> Path:
    from ai_workbench.core.paths import config_dir

    return config_dir() / "keys.toml"


def _pairs(data: Mapping[str, Any], where: str, errors: list[str]) -> dict[str, str]:
    keymap: dict[str, str] = {}
    for binding_id, keys in data.items():
        if isinstance(keys, list) and all(isinstance(k, str) for k in keys):
            keys = ",".join(keys)
        if not isinstance(keys, str) or not keys.strip():
            errors.append(f'{where}: {binding_id}: expected a key string such as "ctrl+s"')
            continue
        keymap[str(binding_id)] = keys.replace(" ", "")
    return keymap


def load_keymap(settings: Any = None) -> tuple[dict[str, str], list[str]]:
    """(binding id → keys, problems). Never raises: a broken file is reported, not fatal."""
    errors: list[str] = []
    keymap: dict[str, str] = {}
    from_settings = getattr(settings, "keys", None)
    if isinstance(from_settings, Mapping):
        keymap.update(_pairs(from_settings, "config keys", errors))
    import tomllib  # (in the boot thread, not at import: key_display runs before the first frame)

    path = keys_file()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return keymap, errors
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        errors.append(f"{path}: cannot read key map: {exc}")
        return keymap, errors
    table = data.get("keys", data)
    if not isinstance(table, Mapping):
        errors.append(f'{path}: [keys] must be a table of binding id = "key"')
        return keymap, errors
    keymap.update(_pairs({k: v for k, v in table.items() if k != "keys"}, str(path), errors))
    return keymap, errors


def key_display(app: Any, binding_id: str | None) -> str:
    """How the key bound to ``binding_id`` is shown in ``app`` (after the user's key map)."""
    from textual.binding import Binding

    from ai_workbench.tui.widgets.chat import ChatLog
    from ai_workbench.tui.widgets.chips import Chip
    from ai_workbench.tui.widgets.prompt import PromptInput
    from ai_workbench.tui.widgets.session_list import SessionOptions

    if not binding_id:
        return ""
    owners: list[Any] = [type(app), PromptInput, ChatLog, SessionOptions, Chip]
    # The file tree and the suggestions pane import after the first frame, not for this.
    if binding_id.startswith("files."):
        from ai_workbench.tui.widgets.file_tree import ProjectTree

        owners.append(ProjectTree)
    if binding_id.startswith("suggestions."):
        from ai_workbench.tui.widgets.suggestions import SuggestionOptions

        owners.append(SuggestionOptions)
    for owner in owners:
        for binding in owner.BINDINGS:
            if isinstance(binding, Binding) and binding.id == binding_id:
                keys = app.keymap.get(binding_id, binding.key)
                first = keys.split(",")[0].strip()
                return app.get_key_display(Binding(first, ""))
    return ""
