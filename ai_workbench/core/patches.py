"""Apply a model's unified diff to the project: checked first, confined to the project, never blind.

Review findings, file-watch suggestions and chat answers all carry patches written by a model. This
module is the one place they are written to disk, so the safety rules live here:

- **Inside the project only.** Every path a patch touches is resolved against the project root;
  absolute paths, ``..`` segments, symlinks leading outside and ``.git/`` are refused before git
  is asked anything.
- **Checked first.** ``git apply --check`` runs before ``git apply``; a patch that does not apply
  changes nothing and the error says which file and hunk failed, in git's words.
- **Not over newer work.** A producer records :func:`file_digest` of each file when it makes the
  suggestion and passes them as ``expect``; if a file changed since, the patch is refused, even if
  it would still apply, because the user's newer edit is what they are looking at.

``git apply`` is used rather than a hand-written patcher: it is on every developer machine, it
handles fuzz-free context matching, file creation and deletion, and renames, and it works outside a
git repository too (then it behaves like ``patch -p1``). Models often drop the ``a/``/``b/``
prefixes; :func:`normalise_patch` adds them so ``-p1`` is always right.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ai_workbench.core.errors import EXIT_INPUT, AiwError

__all__ = [
    "PatchError",
    "PatchResult",
    "apply_patch",
    "check_patch",
    "file_digest",
    "normalise_patch",
    "patch_paths",
]

GIT_TIMEOUT = 30.0
_HEADER = re.compile(r"^(---|\+\+\+) (\S.*?)(\t.*)?$")
_DIFF_GIT = re.compile(r"^diff --git (\S+) (\S+)$")
_FENCE = re.compile(r"^```[\w+-]*\s*$")


class PatchError(AiwError):
    """A patch that cannot be applied; nothing was changed."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, *, paths: list[str] | None = None) -> None:
        super().__init__(message)
        self.paths = paths or []


@dataclass(frozen=True, slots=True)
class PatchResult:
    """What :func:`apply_patch` changed (project-relative POSIX paths)."""

    paths: list[str]
    created: list[str]
    deleted: list[str]


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, or ``"absent"`` for a missing file (creation can be expected)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "absent"


def _strip_prefix(raw: str) -> str | None:
    """``a/x.py`` -> ``x.py``; ``/dev/null`` -> None."""
    name = raw.strip().strip('"')
    if name == "/dev/null":
        return None
    if name.startswith(("a/", "b/")):
        name = name[2:]
    return name


def normalise_patch(diff: str) -> str:
    """Make a model's diff something ``git apply -p1`` takes.

    Drops a surrounding code fence, adds missing ``a/``/``b/`` prefixes to ``---``/``+++`` lines
    and makes sure the text ends with a newline. Hunk bodies are left exactly as written.
    """
    lines = diff.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and _FENCE.match(lines[0]):
        lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines and lines[-1].strip() == "```":
            lines.pop()
    headers = _header_lines(lines)
    out: list[str] = []
    for index, line in enumerate(lines):
        match = _HEADER.match(line) if index in headers else None
        if match and not line.startswith(("--- a/", "+++ b/")):
            marker, name = match.group(1), match.group(2).strip()
            if name != "/dev/null":
                if name.startswith(("a/", "b/")):
                    name = name[2:]
                name = ("a/" if marker == "---" else "b/") + name
            line = f"{marker} {name}"
        out.append(line)
    return "\n".join(_recount(out)) + "\n"


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")


def _header_lines(lines: list[str]) -> set[int]:
    """Indices of ``---``/``+++`` file-header lines: a ``--- `` line directly followed by a
    ``+++ `` line. Inside a hunk, removing a ``-- SQL comment`` also gives a ``--- `` line;
    that one is content, not a header, and must not be rewritten."""
    found: set[int] = set()
    for i in range(len(lines) - 1):
        if lines[i].startswith("--- ") and lines[i + 1].startswith("+++ "):
            found.update((i, i + 1))
    return found


def _recount(lines: list[str]) -> list[str]:
    """Rewrite hunk headers' line counts from their bodies (models miscount them).

    A hunk ends at the next hunk, ``diff --git`` line or ``---``/``+++`` header pair, so unlike
    ``git apply --recount`` a following file's ``--- a/x`` line is not taken for a removal. A blank
    line inside a hunk is a context line whose leading space an editor or model dropped.
    """
    while lines and not lines[-1]:
        lines.pop()
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _HUNK.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            line = lines[j]
            if line.startswith(("@@", "diff --git ")):
                break
            if line.startswith("--- ") and j + 1 < len(lines) and lines[j + 1].startswith("+++ "):
                break
            if line == "":
                line = " "
            elif line[0] not in " +-\\":
                break
            body.append(line)
            j += 1
        old = sum(1 for line in body if line[0] in " -")
        new = sum(1 for line in body if line[0] in " +")
        old_start, new_start = int(match.group(1)), int(match.group(2))
        out.append(f"@@ -{old_start},{old} +{new_start},{new} @@{match.group(3)}")
        out.extend(body)
        i = j
    return out


def patch_paths(diff: str) -> list[str]:
    """Project-relative paths a patch touches, in order, without duplicates."""
    seen: list[str] = []
    lines = normalise_patch(diff).split("\n")
    headers = _header_lines(lines)
    for index, line in enumerate(lines):
        match = _HEADER.match(line) if index in headers else None
        names: list[str | None] = []
        if match:
            names = [_strip_prefix(match.group(2))]
        else:
            git = _DIFF_GIT.match(line)
            if git:
                names = [_strip_prefix(git.group(1)), _strip_prefix(git.group(2))]
        for name in names:
            if name and name not in seen:
                seen.append(name)
    return seen


def _changes(diff: str) -> tuple[list[str], list[str]]:
    """(created, deleted) paths from ``/dev/null`` headers."""
    created: list[str] = []
    deleted: list[str] = []
    previous: str | None = None
    lines = normalise_patch(diff).split("\n")
    headers = _header_lines(lines)
    for index, line in enumerate(lines):
        if index not in headers:
            continue
        if line.startswith("--- "):
            previous = line[4:].strip()
        elif line.startswith("+++ ") and previous is not None:
            new = line[4:].strip()
            if previous == "/dev/null" and new != "/dev/null":
                created.append(_strip_prefix(new) or "")
            elif new == "/dev/null":
                deleted.append(_strip_prefix(previous) or "")
            previous = None
    return created, deleted


def _confine(root: Path, paths: list[str]) -> None:
    """Refuse any path that would land outside ``root`` or inside ``.git``."""
    base = root.resolve()
    for name in paths:
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts:
            raise PatchError(f"patch refused: {name} is outside the project {base}", paths=[name])
        if pure.parts and pure.parts[0] == ".git":
            raise PatchError(f"patch refused: it would change git's own files ({name})")
        target = (base / pure).resolve()
        if target != base and base not in target.parents:
            raise PatchError(
                f"patch refused: {name} leads outside the project {base} (through a symlink)",
                paths=[name],
            )


_MODE = re.compile(r"^(old mode|new mode|new file mode|deleted file mode) (\d+)$")
_PLAIN_FILE = "100644"
_SYMLINK = "120000"


def _refuse_modes_and_links(root: Path, diff: str) -> None:
    """A model's patch changes text, not permissions: refuse mode changes (``old mode``/``new
    mode``), new executables, and new symlinks that point outside the project."""
    base = root.resolve()
    lines = normalise_patch(diff).split("\n")
    current = "?"
    link = False
    in_hunk = False
    for line in lines:
        git = _DIFF_GIT.match(line)
        if git:
            current = _strip_prefix(git.group(2)) or "?"
            link = in_hunk = False
            continue
        if line.startswith("+++ "):
            current = _strip_prefix(line[4:]) or current
            continue
        mode = _MODE.match(line)
        if mode:
            kind, value = mode.groups()
            if kind in ("old mode", "new mode"):
                raise PatchError(
                    f"patch refused: it changes the mode of {current} ({line}); "
                    "aiw applies content changes only, change modes yourself",
                    paths=[current],
                )
            if kind == "new file mode" and value == _SYMLINK:
                link = True
            elif kind == "new file mode" and value != _PLAIN_FILE:
                raise PatchError(
                    f"patch refused: it creates {current} with mode {value}; aiw creates "
                    "plain files only",
                    paths=[current],
                )
            continue
        if line.startswith("@@"):
            in_hunk = True
            continue
        if link and in_hunk and line.startswith("+"):
            target = line[1:]
            where = PurePosixPath(current).parent
            lexical = Path(os.path.normpath(base / where / target))
            resolved = (base / where / target).resolve()
            for candidate in (lexical, resolved):
                if target.startswith(("/", "~")) or (
                    candidate != base and base not in candidate.parents
                ):
                    raise PatchError(
                        f"patch refused: it creates {current} as a symlink to {target}, "
                        f"outside the project {base}",
                        paths=[current],
                    )
            link = False


def _git_apply(root: Path, patch: str, *, check: bool) -> subprocess.CompletedProcess[str]:
    args = ["git", "apply", "-p1", "--whitespace=nowarn", "--unidiff-zero"]
    if check:
        args.append("--check")
    args.append("-")
    try:
        return subprocess.run(
            args,
            cwd=root,
            input=patch,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError as exc:
        raise PatchError("git is not installed; it is needed to apply patches safely") from exc
    except subprocess.TimeoutExpired as exc:
        raise PatchError(f"git apply took longer than {GIT_TIMEOUT:.0f}s; nothing changed") from exc


def _git_message(stderr: str) -> str:
    lines = [line.removeprefix("error: ").strip() for line in stderr.splitlines() if line.strip()]
    return "; ".join(lines[:3]) or "git apply refused it"


def check_patch(root: Path, diff: str, *, expect: Mapping[str, str] | None = None) -> list[str]:
    """Raise :class:`PatchError` unless ``diff`` applies cleanly inside ``root``; return its paths.

    ``expect`` maps project-relative paths to :func:`file_digest` values taken when the patch was
    proposed; a file whose content differs now is refused (the user edited it since).
    """
    root = Path(root)
    if not diff.strip():
        raise PatchError("the patch is empty")
    paths = patch_paths(diff)
    if not paths:
        raise PatchError("not a unified diff: no ---/+++ file headers found")
    _confine(root, paths)
    _refuse_modes_and_links(root, diff)
    for name, digest in (expect or {}).items():
        _confine(root, [name])
        if file_digest(root / name) != digest:
            raise PatchError(
                f"{name} changed since the suggestion was made; nothing was applied "
                "(ask again for a fresh patch)",
                paths=[name],
            )
    result = _git_apply(root, normalise_patch(diff), check=True)
    if result.returncode != 0:
        raise PatchError(
            f"patch does not apply: {_git_message(result.stderr)}; nothing changed", paths=paths
        )
    return paths


def apply_patch(root: Path, diff: str, *, expect: Mapping[str, str] | None = None) -> PatchResult:
    """Check, then apply ``diff`` under ``root``. All or nothing: on any error no file changes."""
    root = Path(root)
    paths = check_patch(root, diff, expect=expect)
    result = _git_apply(root, normalise_patch(diff), check=False)
    if result.returncode != 0:  # raced with an edit between check and apply
        raise PatchError(f"patch failed: {_git_message(result.stderr)}", paths=paths)
    created, deleted = _changes(diff)
    return PatchResult(paths=paths, created=created, deleted=deleted)
