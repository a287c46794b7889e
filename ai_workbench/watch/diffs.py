"""Turn a model's unified diff into an exact patch of the project.

Models write diffs loosely: wrong line numbers and counts, missing file headers, a dropped
space on empty context lines. ``git apply`` (what :mod:`ai_workbench.core.patches` uses to
write files) rightly refuses such diffs. So the watcher applies the model's hunks *in memory*,
locating each by its content (near the line it names, then anywhere, then ignoring trailing
whitespace), removes the AI comment that asked for the change, and emits a fresh, exact diff
with :mod:`difflib` against the file as it was read. That exact diff is what the suggestion
stores and what ``apply`` later checks against the file's digest.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

__all__ = [
    "DiffError",
    "FileDiff",
    "Hunk",
    "apply_hunks",
    "diff_stats",
    "extract_diff",
    "make_diff",
    "parse_diff",
]

_FENCE_RE = re.compile(r"^```[ \t]*([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_HUNK_RE = re.compile(r"^@@+ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@+")


class DiffError(ValueError):
    """The model's diff cannot be used (no diff, or a hunk whose lines are not in the file)."""


@dataclass(slots=True)
class Hunk:
    old_start: int  # 1-based, as the model wrote it (only a hint)
    lines: list[str] = field(default_factory=list)  # with their ' ', '-', '+' prefix

    @property
    def old(self) -> list[str]:
        return [line[1:] for line in self.lines if line[:1] in (" ", "-")]

    @property
    def new(self) -> list[str]:
        return [line[1:] for line in self.lines if line[:1] in (" ", "+")]


@dataclass(slots=True)
class FileDiff:
    old_path: str | None  # None: /dev/null (a new file) or no header at all
    new_path: str | None  # None: /dev/null (a deleted file) or no header at all
    hunks: list[Hunk] = field(default_factory=list)
    headers: bool = True

    @property
    def path(self) -> str | None:
        return self.new_path or self.old_path


def extract_diff(answer: str) -> str | None:
    """The diff inside a model's answer: ```diff fences first, else the bare diff text."""
    blocks = []
    for match in _FENCE_RE.finditer(answer):
        lang, body = match.group(1).lower(), match.group(2)
        if lang in ("diff", "patch", "udiff") or _looks_like_diff(body):
            blocks.append(body)
    if blocks:
        return "\n".join(block.rstrip("\n") for block in blocks) + "\n"
    lines = answer.splitlines()
    for index, line in enumerate(lines):
        if line.startswith(("--- ", "diff --git ", "@@ -")):
            return "\n".join(lines[index:]) + "\n"
    return None


def _looks_like_diff(text: str) -> bool:
    return any(_HUNK_RE.match(line) for line in text.splitlines())


def _header_path(raw: str) -> str | None:
    name = raw.split("\t", 1)[0].strip().strip('"')
    if name == "/dev/null":
        return None
    if name.startswith(("a/", "b/")):
        name = name[2:]
    return name


def parse_diff(text: str) -> list[FileDiff]:
    """Files and hunks of a unified diff (hunk counts are ignored: bodies decide).

    Raises DiffError for a hunk that neither adds nor removes a line."""
    files: list[FileDiff] = []
    current: FileDiff | None = None
    hunk: Hunk | None = None
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git ") or line.startswith(
            ("index ", "new file mode", "deleted file mode")
        ):
            hunk = None
            i += 1
            continue
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            current = FileDiff(_header_path(line[4:]), _header_path(lines[i + 1][4:]))
            files.append(current)
            hunk = None
            i += 2
            continue
        match = _HUNK_RE.match(line)
        if match:
            if current is None:
                current = FileDiff(None, None, headers=False)
                files.append(current)
            hunk = Hunk(int(match.group(1)))
            current.hunks.append(hunk)
            i += 1
            continue
        if hunk is not None:
            if line == "":
                hunk.lines.append(" ")
            elif line[0] in " +-":
                hunk.lines.append(line)
            elif line.startswith("\\"):
                pass  # "\ No newline at end of file"
            else:
                hunk = None
        i += 1
    for item in files:
        for number, each in enumerate(item.hunks, 1):
            while each.lines and each.lines[-1] == " ":  # blank "context" at the text's end
                each.lines.pop()
            if not any(line[:1] in "+-" for line in each.lines):
                # e.g. a body whose lines lack their ' '/'+'/'-' prefixes: the hunk ends at
                # its first line, and an empty hunk would "apply" as no change at all
                name = item.path or "the file"
                raise DiffError(
                    f"hunk {number} of the model's diff for {name} has no added or removed "
                    "line (are its lines missing their '+'/'-'/' ' prefixes?)"
                )
    return [item for item in files if item.hunks or item.new_path is None]


def _find(haystack: list[str], needle: list[str], hint: int, start: int) -> int:
    """Index where ``needle`` occurs in ``haystack`` at or after ``start``, nearest ``hint``."""
    if not needle:
        return max(start, min(hint, len(haystack)))
    for norm in (lambda s: s, str.rstrip, lambda s: " ".join(s.split())):
        target = [norm(x) for x in needle]
        first = target[0]
        candidates = [
            i
            for i in range(start, len(haystack) - len(needle) + 1)
            if norm(haystack[i]) == first
            and [norm(x) for x in haystack[i : i + len(needle)]] == target
        ]
        if candidates:
            return min(candidates, key=lambda i: abs(i - hint))
    return -1


def apply_hunks(lines: list[str], hunks: list[Hunk], path: str) -> list[str]:
    """``lines`` (no line endings) with ``hunks`` applied, located by content."""
    out = list(lines)
    offset = 0  # how far earlier hunks moved the text
    floor = 0  # hunks apply in order: never search before the previous one's end
    for number, hunk in enumerate(hunks, 1):
        old, new = hunk.old, hunk.new
        hint = max(0, hunk.old_start - 1 + offset)
        at = _find(out, old, hint, floor)
        if at < 0:
            at = _find(out, old, hint, 0)  # models sometimes order hunks wrongly
        if at < 0:
            first = next((x for x in old if x.strip()), old[0] if old else "")
            raise DiffError(
                f"{path}: hunk {number} of the model's diff does not match the file "
                f"(no lines like {first.strip()[:60]!r})"
            )
        out[at : at + len(old)] = new
        offset += len(new) - len(old)
        floor = at + len(new)
    return out


def make_diff(path: str, old_text: str | None, new_text: str | None) -> str:
    """An exact unified diff (``a/``/``b/`` prefixes, 3 lines of context) for one file.

    ``old_text`` None creates the file, ``new_text`` None deletes it. Returns "" when equal.
    """
    if old_text == new_text:
        return ""
    old_lines = _with_eof_marker((old_text or "").splitlines(keepends=True))
    new_lines = _with_eof_marker((new_text or "").splitlines(keepends=True))
    diff = list(
        difflib.unified_diff(
            old_lines,
            new_lines,
            fromfile="/dev/null" if old_text is None else f"a/{path}",
            tofile="/dev/null" if new_text is None else f"b/{path}",
            n=3,
        )
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in diff)


def _with_eof_marker(lines: list[str]) -> list[str]:
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] = lines[-1] + "\n\\ No newline at end of file\n"
    return lines


def diff_stats(diff: str) -> tuple[int, int, int]:
    """(files, added lines, removed lines) of a unified diff."""
    files = added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+++ "):
            files += 1
        elif line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return files, added, removed


def safe_relpath(name: str | None) -> str | None:
    """``name`` as a project-relative POSIX path, or None when it leaves the project (absolute,
    ``..``) or points into ``.git``."""
    if not name:
        return None
    name = name.strip()
    while name.startswith("./"):
        name = name[2:]
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or pure.parts[0] == ".git":
        return None
    return pure.as_posix()


def restore_redacted(real: list[str], shown: list[str], changed: list[str], path: str) -> list[str]:
    """``changed`` (an edit of ``shown``, the redacted lines the model saw) mapped back onto
    ``real``: unchanged lines come from ``real``, and a changed line that still holds a
    ``[REDACTED:`` marker must be one the model kept as it was, so its real text is restored.
    A new line holding a marker would write the placeholder into the file: refused."""
    import difflib

    out: list[str] = []
    matcher = difflib.SequenceMatcher(a=shown, b=changed, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.extend(real[i1:i2])
            continue
        for line in changed[j1:j2]:
            if "[REDACTED:" in line:
                match = next((k for k in range(i1, i2) if shown[k] == line), None)
                if match is None:
                    raise DiffError(f"{path}: the change would write a redacted secret")
                line = real[match]
            out.append(line)
    return out


def combined_patch(
    new: dict[str, str], base: dict[str, tuple[str, str]], nothing: str
) -> tuple[str, dict[str, str]]:
    """One patch for every file in ``new`` (path -> new text) against ``base`` (path -> (old
    text, its digest)), and the digests the files must still have when it is applied;
    :class:`DiffError` ``nothing`` when no file changes."""
    patch = ""
    expect: dict[str, str] = {}
    for target, text in new.items():
        old_text, digest = base[target]
        piece = make_diff(target, old_text, text)
        if piece:
            patch += piece
            expect[target] = digest
    if not patch:
        raise DiffError(nothing)
    return patch, expect
