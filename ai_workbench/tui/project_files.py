"""Which project files to show: what git does not ignore (headless; no Textual).

With git available and the project a work tree, ``git ls-files --cached --others
--exclude-standard`` decides (every .gitignore, .git/info/exclude and the global excludes file
are honoured). Otherwise a small parser applies the root ``.gitignore`` (globs, ``dir/``,
anchored ``/x`` and ``!negation``). ``.git`` itself is always hidden.

This belongs with the other git helpers in ``ai_workbench.core`` once there is such a module;
it is kept free of Textual so it can move as is.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ALWAYS_HIDDEN = {".git"}


@dataclass
class VisibleSet:
    """A predicate over paths under ``root`` built from git or .gitignore."""

    root: Path
    files: set[str] | None = None  # relative posix paths (git mode)
    dirs: set[str] | None = None
    rules: list[tuple[bool, bool, bool, str]] | None = None  # (negate, dir_only, anchored, glob)
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
        if self.rules:
            return not _ignored(self.rules, posix, path.is_dir())
        return True


def _ignored(rules: list[tuple[bool, bool, bool, str]], rel: str, is_dir: bool) -> bool:
    ignored = False
    parts = rel.split("/")
    for negate, dir_only, anchored, pattern in rules:
        matched = False
        # A pattern matches the path or any of its parent directories.
        for depth in range(1, len(parts) + 1):
            candidate = "/".join(parts[:depth])
            candidate_is_dir = depth < len(parts) or is_dir
            if dir_only and not candidate_is_dir:
                continue
            if anchored:
                hit = fnmatch.fnmatchcase(candidate, pattern)
            else:
                hit = fnmatch.fnmatchcase(parts[depth - 1], pattern) or fnmatch.fnmatchcase(
                    candidate, pattern
                )
            if hit:
                matched = True
                break
        if matched:
            ignored = not negate
    return ignored


def parse_gitignore(text: str) -> list[tuple[bool, bool, bool, str]]:
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        line = line.lstrip("/")
        if line.startswith("**/"):
            line, anchored = line[3:], "/" in line[3:]
        if line:
            rules.append((negate, dir_only, anchored, line))
    return rules


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
    try:
        text = (root / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    return VisibleSet(root, rules=parse_gitignore(text), source=".gitignore")


Predicate = Callable[[Path], bool]
