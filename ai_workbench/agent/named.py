"""The project files a goal names, so the agent can open them before the model's first turn.

A user writes "test_items.py fails with an IndexError: fix last() in items.py"; a strong model
reads both files first, a small one (1-3B) often answers from memory instead and invents code
that is not there. The loop reads the files the goal names up front (through the toolbox, so
the policy, the audit log and redaction apply as for any read) and the model starts from what
is really in them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ai_workbench.agent import confine

__all__ = ["files_named_in", "modules_tested_by"]

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


def modules_tested_by(test: str, root: Path, *, max_bytes: int = 64_000) -> list[str]:
    """The project's own Python modules a test file imports (``from calc import add`` →
    ``calc.py``; ``src/`` layouts, packages and relative imports too): the code under test,
    which a goal such as "make test_calc.py pass" is about without naming it. Third-party
    and standard modules are not files of the project and drop out."""
    if not test.endswith(".py"):
        return []
    try:
        path, test_rel = confine.resolve(root, test)
        tree = ast.parse(path.read_text(errors="replace"))
    except (confine.OutsideProject, OSError, ValueError, SyntaxError):
        return []
    here = path.parent
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            base = None
            if node.level:  # from .calc import add: from the test's package (.. its parent)
                base = here
                for _ in range(node.level - 1):
                    base = base.parent
            # from . import calc: the names are the modules
            names = [node.module] if node.module else [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            base, names = None, [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            rel = _module_file(root, here, base, name)
            if rel is not None and rel not in found and rel != test_rel:
                try:
                    if (root / rel).stat().st_size <= max_bytes:
                        found.append(rel)
                except OSError:
                    continue
    return found


def _module_file(root: Path, here: Path, base: Path | None, name: str) -> str | None:
    parts = [p for p in name.split(".") if p]
    if not parts:
        return None
    bases = [base] if base is not None else [root, root / "src", here]
    for start in bases:
        for candidate in (start.joinpath(*parts).with_suffix(".py"),
                          start.joinpath(*parts, "__init__.py")):  # fmt: skip
            try:
                _path, rel = confine.resolve(root, str(candidate))
            except (confine.OutsideProject, OSError, ValueError):
                continue
            if candidate.is_file() and not confine.is_secret_file(rel):
                return rel
    return None
