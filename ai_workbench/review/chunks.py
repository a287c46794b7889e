"""Split a change set into review units that fit the model's token budget.

Each hunk is shown with the code around it: a few lines either side, reaching back (up to
``reach`` lines) to the enclosing ``def``/``class``/``function`` line so the model sees what
the change lives in. Overlapping windows of one file merge into one block; a block larger than
the budget is cut into line windows; blocks are then packed greedily, in file order, into units
of at most ``budget`` tokens. Delete-only hunks are left out (there is no added line to put a
finding on); deleted and binary files are listed by name as skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ai_workbench.core.context import estimate_tokens
from ai_workbench.review.diff import ChangeSet, FileDiff

_ENCLOSING = re.compile(
    r"^\s*(?:async\s+def|def|class|function|func|fn|impl|struct|interface|enum|module)\b"
    r"|^\s*(?:public|private|protected|static|export)\b.*[({]\s*$"
)


@dataclass
class Block:
    path: str
    start: int  # new-side line numbers, inclusive
    end: int
    text: str
    tokens: int


@dataclass
class ReviewUnit:
    index: int
    blocks: list[Block] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return list(dict.fromkeys(b.path for b in self.blocks))

    @property
    def tokens(self) -> int:
        return sum(b.tokens for b in self.blocks)

    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)

    def label(self) -> str:
        spans = ", ".join(f"{b.path}:{b.start}-{b.end}" for b in self.blocks[:3])
        more = f" (+{len(self.blocks) - 3} more)" if len(self.blocks) > 3 else ""
        return spans + more


def _window(fd: FileDiff, before: int, after: int, reach: int) -> list[tuple[int, int]]:
    lines = fd.new_lines
    total = len(lines)
    spans: list[tuple[int, int]] = []
    for hunk in fd.hunks:
        added = hunk.added
        if not added:
            continue  # delete-only
        first, last = min(added), max(added)
        start = max(1, first - before)
        if not (start <= total and _ENCLOSING.match(lines[start - 1])):
            for n in range(min(start - 1, total), max(0, start - 1 - reach), -1):
                if _ENCLOSING.match(lines[n - 1]):
                    start = n
                    break
        end = min(total, last + after) if total else last
        spans.append((start, max(start, end)))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def render(fd: FileDiff, start: int, end: int) -> str:
    """Numbered new-side lines ``start..end``; ``+`` marks added lines, ``-`` removed ones."""
    lines = fd.new_lines
    added = fd.added_lines
    removed_before: dict[int, list[str]] = {}
    for hunk in fd.hunks:
        pending: list[str] = []
        for kind, _, new_no, text in hunk.lines:
            if kind == "-":
                pending.append(text)
            elif new_no is not None and pending:
                removed_before.setdefault(new_no, []).extend(pending)
                pending = []
        if pending:
            removed_before.setdefault(hunk.new_start + hunk.new_count, []).extend(pending)
    width = len(str(end))
    out = [f"### {fd.path} (lines {start}-{end})"]
    for n in range(start, end + 1):
        for text in removed_before.get(n, []):
            out.append(f"{'':>{width}} - {text}")
        text = lines[n - 1] if n - 1 < len(lines) else ""
        out.append(f"{n:>{width}} {'+' if n in added else ' '} {text}")
    for text in removed_before.get(end + 1, []) if end >= len(lines) else []:
        out.append(f"{'':>{width}} - {text}")
    return "\n".join(out)


def _blocks_for(fd: FileDiff, budget: int, before: int, after: int, reach: int) -> list[Block]:
    blocks: list[Block] = []
    for start, end in _window(fd, before, after, reach):
        text = render(fd, start, end)
        tokens = estimate_tokens(text)
        if tokens <= budget:
            blocks.append(Block(fd.path, start, end, text, tokens))
            continue
        # Too big for one call: cut into windows of about `budget` tokens.
        per_line = max(1, tokens // max(1, end - start + 1))
        step = max(10, budget // per_line - 2)
        for s in range(start, end + 1, step):
            e = min(end, s + step - 1)
            if not any(s <= n <= e for n in fd.added_lines):
                continue
            piece = render(fd, s, e)
            blocks.append(Block(fd.path, s, e, piece, estimate_tokens(piece)))
    return blocks


def plan_units(
    changes: ChangeSet,
    budget: int,
    *,
    before: int = 5,
    after: int = 3,
    reach: int = 10,
) -> tuple[list[ReviewUnit], list[str], int]:
    """(units, skipped file notes, hunks reviewed) for ``changes`` within ``budget`` tokens."""
    skipped: list[str] = []
    blocks: list[Block] = []
    hunks = 0
    for fd in changes.files:
        if fd.deleted:
            skipped.append(f"{fd.path} (deleted)")
            continue
        if fd.binary or fd.new_text is None:
            skipped.append(f"{fd.path} (binary or unreadable)")
            continue
        if not fd.added_lines:
            skipped.append(f"{fd.path} (only removals)")
            continue
        hunks += sum(1 for h in fd.hunks if h.added)
        blocks.extend(_blocks_for(fd, budget, before, after, reach))
    units: list[ReviewUnit] = []
    current = ReviewUnit(0)
    for block in blocks:
        if current.blocks and current.tokens + block.tokens > budget:
            units.append(current)
            current = ReviewUnit(len(units))
        current.blocks.append(block)
    if current.blocks:
        units.append(current)
    return units, skipped, hunks
