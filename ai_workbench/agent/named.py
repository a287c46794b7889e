"""The project files a goal names, so the agent can open them before the model's first turn.

A user writes "test_items.py fails with an IndexError: fix last() in items.py"; a strong model
reads both files first, a small one (1-3B) often answers from memory instead and invents code
that is not there. The loop reads the files the goal names up front (through the toolbox, so
the policy, the audit log and redaction apply as for any read) and the model starts from what
is really in them.
"""

from __future__ import annotations

import re
from pathlib import Path

from ai_workbench.agent import confine

__all__ = ["files_named_in"]

# A path-like word: has a dot-extension or a slash, e.g. `calc.py`, src/app.ts, ./docs/x.md
_WORD = re.compile(r"[\w.~/-]*[\w-](?:\.[A-Za-z0-9]{1,8}|/[\w.-]+)")


def files_named_in(goal: str, root: Path, *, limit: int = 4, max_bytes: int = 64_000) -> list[str]:
    """Project-relative names of existing files inside ``root`` that ``goal`` mentions, in the
    order they appear (at most ``limit``). Paths outside the project, inside ``.git``,
    secret-looking names, directories and files over ``max_bytes`` are left out."""
    found: list[str] = []
    for match in _WORD.finditer(goal):
        word = match.group(0).rstrip(".")
        if not word or word.startswith(("~", "/")):  # home and absolute paths: not the project's
            continue
        try:
            path, rel = confine.resolve(root, word)
        except (confine.OutsideProject, OSError, ValueError):
            continue
        if rel in found or confine.is_git_path(rel) or confine.is_secret_file(rel):
            continue
        try:
            if not path.is_file() or path.stat().st_size > max_bytes:
                continue
        except OSError:
            continue
        found.append(rel)
        if len(found) >= limit:
            break
    return found
