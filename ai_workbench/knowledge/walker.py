"""Which files of a project get indexed.

Walks the tree once, pruning directories early (``.git``, virtualenvs, caches, anything the
project's ``.gitignore`` files or ``knowledge.exclude`` name), so a big repository costs one
``os.scandir`` per kept directory. Files are classified here (code, text, document) and the
reasons for skipping (too large, binary, ignored) are reported, never silently dropped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

# Always pruned, whatever .gitignore says: version control, environments, build caches.
ALWAYS_SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "__pycache__",
        ".mypy_cache", ".pytest_cache", ".ruff_cache", ".idea", ".eggs", "site-packages",
    }
)  # fmt: skip
# Files that hold secrets by convention: never read into the index.
SECRET_FILES = pathspec.GitIgnoreSpec.from_lines(
    [".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_ed25519*", ".netrc",
     ".pypirc", "*.keystore"]
)  # fmt: skip
DOCUMENT_SUFFIXES = frozenset({".pdf", ".docx"})
# Binary by name: not worth opening to sniff.
BINARY_SUFFIXES = frozenset(
    {
        ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".zip", ".gz", ".tgz",
        ".bz2", ".xz", ".7z", ".tar", ".whl", ".jar", ".so", ".dylib", ".dll", ".exe", ".o",
        ".a", ".pyc", ".pyo", ".class", ".db", ".sqlite", ".sqlite3", ".bin", ".pt", ".onnx",
        ".safetensors", ".woff", ".woff2", ".ttf", ".otf", ".mp3", ".mp4", ".mov", ".wav",
        ".doc", ".xls", ".xlsx", ".ppt", ".pptx", ".parquet", ".npy", ".pkl",
    }
)  # fmt: skip


@dataclass(frozen=True)
class FileEntry:
    """A file the walk kept: its path relative to the root (POSIX), size and mtime."""

    rel: str
    path: Path
    size: int
    mtime: float


@dataclass(frozen=True)
class Skipped:
    rel: str
    reason: str


@dataclass
class WalkResult:
    files: list[FileEntry]
    skipped: list[Skipped]


def _gitignore_spec(directory: Path, prefix: str) -> pathspec.PathSpec | None:
    """A directory's .gitignore, its patterns re-anchored at the walk root."""
    try:
        text = (directory / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        body = line[1:] if negate else line
        if prefix:
            anchored = "/" in body.rstrip("/")
            body = body.lstrip("/")
            body = f"{prefix}/{body}" if anchored else f"{prefix}/**/{body}"
        lines.append(("!" if negate else "") + body)
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def walk_files(
    root: Path,
    *,
    exclude: Sequence[str] = (),
    max_file_bytes: int = 1_048_576,
    max_document_bytes: int = 20_971_520,
    max_files: int = 50_000,
) -> WalkResult:
    """Every indexable file under ``root`` plus the ones left out and why."""
    root = root.resolve()
    files: list[FileEntry] = []
    skipped: list[Skipped] = []
    extra = pathspec.GitIgnoreSpec.from_lines(list(exclude)) if exclude else None
    specs: list[pathspec.PathSpec] = []

    def ignored(rel: str, is_dir: bool) -> bool:
        probe = rel + "/" if is_dir else rel
        if extra is not None and extra.match_file(probe):
            return True
        return any(spec.match_file(probe) for spec in specs)

    def visit(directory: Path, prefix: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
        spec = _gitignore_spec(directory, prefix)
        if spec is not None:
            specs.append(spec)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(Skipped(prefix or ".", f"cannot list directory: {exc.strerror}"))
            entries = []
        for entry in entries:
            rel = f"{prefix}/{entry.name}" if prefix else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if entry.name in ALWAYS_SKIP_DIRS or ignored(rel, True):
                    continue
                yield from visit(Path(entry.path), rel)
            elif entry.is_file(follow_symlinks=False) and not ignored(rel, False):
                yield rel, entry
        if spec is not None:
            specs.remove(spec)

    for rel, entry in visit(root, ""):
        if SECRET_FILES.match_file(rel):
            skipped.append(Skipped(rel, "holds secrets by convention (never indexed)"))
            continue
        suffix = os.path.splitext(entry.name)[1].lower()
        if suffix in BINARY_SUFFIXES:
            skipped.append(Skipped(rel, "binary file"))
            continue
        try:
            stat = entry.stat(follow_symlinks=False)
        except OSError as exc:
            skipped.append(Skipped(rel, f"cannot stat: {exc.strerror}"))
            continue
        limit = max_document_bytes if suffix in DOCUMENT_SUFFIXES else max_file_bytes
        if stat.st_size > limit:
            skipped.append(Skipped(rel, f"larger than {limit} bytes ({stat.st_size})"))
            continue
        if stat.st_size == 0:
            skipped.append(Skipped(rel, "empty file"))
            continue
        if len(files) >= max_files:
            skipped.append(Skipped(rel, f"over knowledge.max_files ({max_files})"))
            continue
        files.append(FileEntry(rel, Path(entry.path), stat.st_size, stat.st_mtime))
    return WalkResult(files, skipped)


def looks_binary(data: bytes) -> bool:
    """A NUL byte in the first 8 KiB: what git itself uses to call a file binary."""
    return b"\0" in data[:8192]
