"""Which projects may run their own code (``.aiw/plugins/*.py``).

A project's files arrive with a clone, so its plugins (Python code) run only after the user
trusts that project once, the way direnv asks for ``direnv allow``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ai_workbench.core import paths


def _trust_file() -> Path:
    return paths.config_dir() / "trusted_projects.json"


def _load() -> list[str]:
    try:
        data = json.loads(_trust_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(item) for item in data] if isinstance(data, list) else []


def is_trusted(root: Path) -> bool:
    return str(root.resolve()) in _load()


def set_trusted(root: Path, trusted: bool = True) -> bool:
    """Trust (or stop trusting) a project root; returns whether anything changed."""
    key = str(root.resolve())
    items = _load()
    if (key in items) == trusted:
        return False
    items = [*items, key] if trusted else [item for item in items if item != key]
    path = _trust_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(sorted(items), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return True
