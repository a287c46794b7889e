"""Which files the watcher looks at: .gitignore rules, aiw's own files and tool caches left out.

A save must never trigger a request for a file the user would not commit (build output, a
virtualenv, ``node_modules``), nor for something aiw itself writes (its database and WAL, its
data, config and cache dirs, ``.aiw.toml``, ``.aiw/``), nor for an editor's swap and backup
files. Rules, in order:

1. built-in directory names (``.git``, ``node_modules``, ``__pycache__``, virtualenvs, caches)
   and file patterns (SQLite files, swap files, ``*.orig``/``*.rej``);
2. aiw's own directories when they live inside the project;
3. every ``.gitignore`` from the project root down (nested ones apply to their own directory,
   deeper files override shallower ones, negations work) and ``.git/info/exclude``, matched with
   pathspec's implementation of git's rules;
4. ``watch.ignore``: extra gitignore-style patterns from the settings.

The same object is the watchfiles filter (events are dropped in the watcher thread, before they
reach the event loop) and the walker used by ``--now`` to find AI comments in the tree.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["IGNORED_DIR_NAMES", "IGNORED_FILE_PATTERNS", "ProjectIgnore"]

IGNORED_DIR_NAMES: frozenset[str] = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".jj",
        ".aiw",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".cache",
        ".direnv",
        ".eggs",
        ".idea",
        ".vscode",
        ".next",
        ".nuxt",
        ".terraform",
        ".gradle",
        ".ipynb_checkpoints",
    }
)

IGNORED_FILE_PATTERNS: tuple[str, ...] = (
    ".aiw.toml",
    "*.db",
    "*.db-wal",
    "*.db-shm",
    "*.db-journal",
    "*.sqlite",
    "*.sqlite3",
    "*.sqlite-wal",
    "*.sqlite-shm",
    "*.py[cod]",
    "*.swp",
    "*.swo",
    "*.swx",
    "*~",
    ".#*",
    "#*#",
    "4913",  # vim's write-permission probe
    "*.tmp",
    "*.orig",
    "*.rej",
    ".DS_Store",
    "*.log",
)


class ProjectIgnore:
    """Decides whether a path under ``root`` is watched; callable as a watchfiles filter."""

    def __init__(
        self,
        root: Path,
        extra_patterns: Iterable[str] = (),
        aiw_paths: Iterable[Path] | None = None,
    ) -> None:
        import pathspec

        self._pathspec: Any = pathspec
        self.root = Path(root).resolve()
        self._root_str = str(self.root)
        self._builtin = pathspec.GitIgnoreSpec.from_lines(IGNORED_FILE_PATTERNS)
        extra = [p for p in extra_patterns if p.strip()]
        self._extra = pathspec.GitIgnoreSpec.from_lines(extra) if extra else None
        self._own: list[str] = []
        for path in aiw_paths if aiw_paths is not None else _aiw_paths():
            try:
                rel = Path(path).resolve().relative_to(self.root)
            except (ValueError, OSError):
                continue
            if rel.parts:
                self._own.append(rel.as_posix())
        self._specs: dict[str, Any] = {}  # dir relpath ("" for root) -> spec or None
        self._dir_cache: dict[str, bool] = {}

    # ---- the rules

    def _spec_for(self, rel_dir: str) -> Any:
        if rel_dir in self._specs:
            return self._specs[rel_dir]
        base = self.root / rel_dir if rel_dir else self.root
        lines: list[str] = []
        if not rel_dir:
            lines.extend(_read_lines(self.root / ".git" / "info" / "exclude"))
        lines.extend(_read_lines(base / ".gitignore"))
        spec = self._pathspec.GitIgnoreSpec.from_lines(lines) if lines else None
        self._specs[rel_dir] = spec
        return spec

    def invalidate(self) -> None:
        """Forget parsed .gitignore files (one changed)."""
        self._specs.clear()
        self._dir_cache.clear()

    def _matches_gitignore(self, parts: list[str], is_dir: bool) -> bool:
        """Git's verdict for the path ``parts`` (relative to the root)."""
        ignored = False
        for depth in range(len(parts)):
            spec = self._spec_for("/".join(parts[:depth]))
            if spec is None:
                continue
            sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
            check = getattr(spec, "check_file", None)
            if check is not None:
                verdict = check(sub).include
                if verdict is not None:
                    ignored = bool(verdict)
            elif spec.match_file(sub):
                ignored = True
        return ignored

    def _ignored_parts(self, parts: list[str], is_dir: bool) -> bool:
        if not parts:
            return False
        rel = "/".join(parts)
        if any(rel == own or rel.startswith(own + "/") for own in self._own):
            return True
        dirs = parts if is_dir else parts[:-1]
        if any(name in IGNORED_DIR_NAMES for name in dirs):
            return True
        # a file inside an ignored directory is ignored, whatever the patterns say (git too)
        for depth in range(1, len(dirs) + (0 if is_dir else 1)):
            if self._dir_ignored(parts[:depth]):
                return True
        if is_dir:
            return self._dir_ignored(parts)
        if self._builtin.match_file(parts[-1]):
            return True
        if self._extra is not None and self._extra.match_file(rel):
            return True
        return self._matches_gitignore(parts, False)

    def _dir_ignored(self, parts: list[str]) -> bool:
        rel = "/".join(parts)
        cached = self._dir_cache.get(rel)
        if cached is None:
            cached = parts[-1] in IGNORED_DIR_NAMES or self._matches_gitignore(parts, True)
            if not cached and self._extra is not None:
                cached = bool(self._extra.match_file(rel + "/"))
            self._dir_cache[rel] = cached
        return cached

    # ---- public

    def relative(self, path: str | Path) -> str | None:
        """The POSIX path relative to the root, or None for a path outside it."""
        text = os.path.abspath(str(path))
        if text == self._root_str:
            return ""
        if not text.startswith(self._root_str + os.sep):
            return None
        return text[len(self._root_str) + 1 :].replace(os.sep, "/")

    def ignored(self, path: str | Path, *, is_dir: bool = False) -> bool:
        """Whether ``path`` (absolute, or relative to the root) is left alone."""
        candidate = Path(path)
        rel = self.relative(candidate if candidate.is_absolute() else self.root / candidate)
        if rel is None:
            return True
        return self._ignored_parts(rel.split("/") if rel else [], is_dir)

    def __call__(self, change: Any, path: str) -> bool:
        """watchfiles filter: True to keep the event. A .gitignore change resets the rules."""
        rel = self.relative(path)
        if rel is None or not rel:
            return False
        parts = rel.split("/")
        if parts[-1] == ".gitignore":
            self.invalidate()
            return False
        return not self._ignored_parts(parts, False)

    def walk(self) -> Iterator[Path]:
        """Every watched file under the root (ignored directories are not entered)."""
        stack: list[tuple[Path, list[str]]] = [(self.root, [])]
        while stack:
            directory, parts = stack.pop()
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                sub = [*parts, entry.name]
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                    is_file = entry.is_file(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir:
                    if not self._ignored_parts(sub, True):
                        stack.append((Path(entry.path), sub))
                elif is_file and not self._ignored_parts(sub, False):
                    yield Path(entry.path)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _aiw_paths() -> list[Path]:
    """aiw's own data, config and cache directories (ignored when inside a project)."""
    from ai_workbench.core import paths

    found: list[Path] = []
    for getter in (paths.data_dir, paths.config_dir):
        try:
            found.append(getter())
        except Exception:  # platformdirs failing is no reason to stop watching
            continue
    try:
        from platformdirs import user_cache_path

        found.append(user_cache_path(paths.APP_NAME, appauthor=False))
    except Exception:
        pass
    return found
