"""Check each finding against the diff: where does it sit, and may it be shown there?

A finding whose range overlaps added lines is trimmed to the first run of added lines in it.
One that misses them is moved only on evidence: the ``existing_code`` it quotes matches an
added line. Otherwise the model's own line is kept when it lies in a hunk the model was shown
(the context of a change, with its enclosing function: the problem may well be there), and a finding
outside everything shown is held back as ``off-change`` (counted and listed, not shown as a
finding). Nothing is moved onto a changed line merely for being near it: on a one-line diff
that made every finding "hit".
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import PurePosixPath

from ai_workbench.review.diff import FileDiff
from ai_workbench.review.models import Finding, normalise_code


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


def anchor(
    finding: Finding, fd: FileDiff | None, shown: Sequence[tuple[int, int]] | None = None
) -> str:
    """Place ``finding``; return ``"kept"``, ``"reanchored"``, ``"context"`` (kept on a
    context line the model was shown), ``"off-change"`` (outside all of them) or
    ``"discarded"`` (no such file in the diff, or nothing added to it).

    ``shown``: the new-side line spans of this file the model saw (the review unit's blocks:
    each change with its surrounding lines); without them, the diff's hunks."""
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
    outcome = "reanchored" if moved else "kept"
    if placed is None:
        spans = list(shown) if shown else [(h.new_start, h.new_end) for h in fd.hunks]
        span = next((s for s in spans if s[0] <= start <= s[1]), None)
        if span is None:
            finding.line_text = lines[start - 1] if 0 < start <= len(lines) else ""
            return "off-change"
        placed, moved, outcome = (start, min(end, span[1])), False, "context"
    finding.line_start, finding.line_end = placed
    finding.line_text = lines[placed[0] - 1] if placed[0] - 1 < len(lines) else ""
    finding.reanchored = moved
    return outcome


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
