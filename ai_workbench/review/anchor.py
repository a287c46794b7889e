"""Check each finding against the diff: it must sit on added lines of a file that changed.

A finding whose range overlaps added lines is trimmed to the first run of added lines in it.
One that misses them is moved when the evidence says where it belongs: the ``existing_code``
it quotes matches an added line, or an added line lies within ``window`` lines of the range.
Otherwise it is discarded. Moves and discards are counted, so the user sees how often the
model pointed at the wrong place.
"""

from __future__ import annotations

import difflib
from pathlib import PurePosixPath

from ai_workbench.review.diff import FileDiff
from ai_workbench.review.models import Finding, normalise_code

WINDOW = 3


def resolve_path(raw: str, known: dict[str, FileDiff], root: str) -> str | None:
    """Map the model's spelling of a path (``./x``, ``a/x``, absolute, bare name) to a diff path."""
    name = raw.strip().strip("`'\"").replace("\\", "/")
    if name.startswith(root.rstrip("/") + "/"):
        name = name[len(root.rstrip("/")) + 1 :]
    while name.startswith("./"):
        name = name[2:]
    candidates = [name]
    if name.startswith(("a/", "b/")):
        candidates.append(name[2:])
    for candidate in candidates:
        if candidate in known:
            return candidate
    tails = [p for p in known if p.endswith("/" + name) or PurePosixPath(p).name == name]
    return tails[0] if len(tails) == 1 else None


def _runs(added: list[int], start: int, end: int) -> tuple[int, int] | None:
    inside = [n for n in added if start <= n <= end]
    if not inside:
        return None
    first = last = inside[0]
    while last + 1 in inside:
        last += 1
    return first, last


def anchor(finding: Finding, fd: FileDiff | None) -> str:
    """Place ``finding`` on added lines; return ``"kept"``, ``"reanchored"`` or ``"discarded"``."""
    if fd is None:
        return "discarded"
    added = sorted(fd.added_lines)
    if not added:
        return "discarded"
    lines = fd.new_lines
    start, end = finding.line_start, max(finding.line_end, finding.line_start)
    placed = _runs(added, start, end)
    moved = placed is not None and placed != (start, end)
    if placed is None and finding.existing_code:
        wanted = [normalise_code(x) for x in finding.existing_code.splitlines() if x.strip()]
        if wanted:
            hits = [
                n for n in added if n - 1 < len(lines) and normalise_code(lines[n - 1]) == wanted[0]
            ]
            if hits:
                best = min(hits, key=lambda n: abs(n - start))
                placed = (best, best + len(wanted) - 1)
                placed = _runs(added, placed[0], placed[1]) or (best, best)
                moved = True
    if placed is None:
        near = [n for n in added if start - WINDOW <= n <= end + WINDOW]
        if near:
            best = min(near, key=lambda n: min(abs(n - start), abs(n - end)))
            placed, moved = (best, best), True
    if placed is None:
        return "discarded"
    finding.line_start, finding.line_end = placed
    finding.line_text = lines[placed[0] - 1] if placed[0] - 1 < len(lines) else ""
    finding.reanchored = moved
    return "reanchored" if moved else "kept"


def build_patch(finding: Finding, fd: FileDiff) -> str | None:
    """A unified diff replacing ``existing_code`` with ``improved_code`` near the finding.

    The snippet must match whole lines of the new file (whitespace at line ends ignored); the
    occurrence nearest the finding is used. None when it cannot be placed.
    """
    if finding.existing_code is None or finding.improved_code is None or fd.new_text is None:
        return None
    text = fd.new_text
    lines = text.splitlines(keepends=True)
    want = [x.rstrip() for x in finding.existing_code.strip("\n").splitlines()]
    if not want or not any(want):
        return None
    size = len(want)
    stripped = [x.rstrip() for x in lines]
    hits = [i for i in range(len(lines) - size + 1) if stripped[i : i + size] == want]
    if not hits:
        # models often re-indent a copied snippet: match ignoring leading whitespace
        want_l = [x.strip() for x in want]
        hits = [
            i
            for i in range(len(lines) - size + 1)
            if [x.strip() for x in stripped[i : i + size]] == want_l
        ]
        if not hits:
            return None
    at = min(hits, key=lambda i: abs(i + 1 - finding.line_start))
    indent = _indent(lines[at]) if not want[0].startswith((" ", "\t")) else ""
    eol = "\r\n" if lines[at].endswith("\r\n") else "\n"
    new = [
        (indent + x if x.strip() else x).rstrip() + eol
        for x in finding.improved_code.strip("\n").splitlines()
    ]
    if not finding.improved_code.strip():
        new = []
    if at + size == len(lines) and not lines[-1].endswith("\n") and new:
        new[-1] = new[-1].rstrip("\r\n")
    after = lines[:at] + new + lines[at + size :]
    if after == lines:
        return None
    diff = difflib.unified_diff(lines, after, f"a/{fd.path}", f"b/{fd.path}", n=3)
    out = []
    for line in diff:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]
