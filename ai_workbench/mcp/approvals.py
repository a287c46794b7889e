""" "Always allow this tool", remembered per server and tool in the user data dir.

The file (``mcp_approvals.json``, private) maps a server name to the tools the user allowed for
good; ``aiw mcp forget`` (or deleting the file) takes the permission back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ai_workbench.core import paths

FILE_NAME = "mcp_approvals.json"


def approvals_file() -> Path:
    return paths.data_dir() / FILE_NAME


def _load() -> dict[str, list[str]]:
    try:
        data = json.loads(approvals_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): [str(t) for t in v] for k, v in data.items() if isinstance(v, list)}


def _save(data: dict[str, list[str]]) -> None:
    path = approvals_file()
    paths.ensure_private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def is_always_allowed(server: str, tool: str) -> bool:
    return tool in _load().get(server, [])


def allow_always(server: str, tool: str) -> None:
    data = _load()
    tools = data.setdefault(server, [])
    if tool not in tools:
        tools.append(tool)
        tools.sort()
        _save(data)


def forget(server: str, tool: str | None = None) -> int:
    """Take back "always allow" for one tool or a whole server; how many were taken back."""
    data = _load()
    tools = data.get(server, [])
    removed = [t for t in tools if tool is None or t == tool]
    if not removed:
        return 0
    data[server] = [t for t in tools if t not in removed]
    if not data[server]:
        del data[server]
    _save(data)
    return len(removed)


def allowed() -> dict[str, list[str]]:
    return _load()
