"""Which project files count: what git does not ignore (used by the file tree and services).

With git available and the project a work tree, ``git ls-files --cached --others
--exclude-standard`` decides (every .gitignore, .git/info/exclude and the global excludes file
are honoured). Otherwise the root ``.gitignore`` is applied with pathspec's ``GitIgnoreSpec``
(full git semantics: ``**``, ``dir/``, anchoring, ``!negation``), which beats a hand parser that
gets the corner cases wrong. ``.git`` itself is always hidden.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALWAYS_HIDDEN = {".git"}


@dataclass
class VisibleSet:
    """A predicate over paths under ``root`` built from git or .gitignore."""

    root: Path
    files: set[str] | None = None  # relative posix paths (git mode)
    dirs: set[str] | None = None
    spec: Any = None  # pathspec.GitIgnoreSpec from the root .gitignore (no-git mode)
    source: str = "none"

    def __call__(self, path: Path) -> bool:
        try:
            rel = path.resolve().relative_to(self.root)
        except ValueError:
            return False
        parts = rel.parts
        if not parts:
            return True
        if any(part in ALWAYS_HIDDEN for part in parts):
            return False
        posix = rel.as_posix()
        if self.files is not None and self.dirs is not None:
            return posix in self.files or posix in self.dirs
        if self.spec is not None:
            return not self.spec.match_file(posix + ("/" if path.is_dir() else ""))
        return True


def _git_listing(root: Path) -> tuple[set[str], set[str]] | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        proc = subprocess.run(
            [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            timeout=20,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    files = {name for name in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if name}
    dirs: set[str] = set()
    for name in files:
        parent = name.rpartition("/")[0]
        while parent and parent not in dirs:
            dirs.add(parent)
            parent = parent.rpartition("/")[0]
    return files, dirs


def visible_set(root: Path) -> VisibleSet:
    """Build the predicate (runs git: call it from a thread worker)."""
    root = root.resolve()
    if (root / ".git").exists():
        listing = _git_listing(root)
        if listing is not None:
            files, dirs = listing
            return VisibleSet(root, files=files, dirs=dirs, source="git")
    return VisibleSet(root, spec=gitignore_spec(root), source=".gitignore")


def gitignore_spec(root: Path) -> Any:
    """``pathspec.GitIgnoreSpec`` of the root ``.gitignore`` and ``.git/info/exclude``."""
    import pathspec

    lines: list[str] = []
    for name in (".gitignore", ".git/info/exclude"):
        try:
            lines += (root / name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
    return pathspec.GitIgnoreSpec.from_lines(lines)


Predicate = Callable[[Path], bool]
