"""What a document is grounded in: excerpts with a ``path:lines`` each, and which template
inputs they answer.

Excerpts come from the project index (``--kb``, the knowledge service's search hits), the
files given with ``-f``, a chat session (``--session``) and the code scans (routes, containers).
An input is answered when an excerpt covers most of the content words of its query; what no
excerpt answers becomes a clarifying question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ai_workbench.core.redact import redact_text

WINDOW = 30  # lines per excerpt of an attached file or session
COVERAGE = 0.6  # share of a query's content words an excerpt needs to answer it
MAX_EXCERPT = 1_200  # characters of one excerpt sent to the model
_WORD = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])|\d+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "which",
        "who",
        "with",
        "how",
        "do",
        "does",
        "should",
    ]
)


@dataclass
class Source:
    """One excerpt the model may cite as ``[S<n>]``."""

    location: str  # path:start-end, or "session <id>:start-end"
    text: str
    origin: str  # kb | file | session | code
    n: int = 0
    cited: bool = False

    @property
    def label(self) -> str:
        return f"S{self.n}"


@dataclass
class Answer:
    key: str
    value: str
    how: str  # user | default | source | given
    sources: list[str] = field(default_factory=list)  # labels of the excerpts behind it


def words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if w.lower() not in _STOP and len(w) > 2}


def coverage(query: str, text: str) -> float:
    q = words(query)
    if not q:
        return 0.0
    return len(q & words(text)) / len(q)


def windows(name: str, text: str, origin: str) -> list[Source]:
    """``text`` cut into excerpts of :data:`WINDOW` lines, each located ``name:start-end``."""
    lines = text.split("\n")
    out = []
    for start in range(0, len(lines), WINDOW):
        chunk = "\n".join(lines[start : start + WINDOW]).strip()
        if chunk:
            end = min(start + WINDOW, len(lines))
            out.append(
                Source(f"{name}:{start + 1}-{end}", redact_text(chunk)[: MAX_EXCERPT * 2], origin)
            )
    return out


class SourceSet:
    """The numbered excerpts of one document (duplicates by location dropped)."""

    def __init__(self) -> None:
        self.items: list[Source] = []
        self._seen: set[str] = set()

    def add(self, source: Source) -> Source:
        if source.location in self._seen:
            return next(s for s in self.items if s.location == source.location)
        self._seen.add(source.location)
        source.n = len(self.items) + 1
        self.items.append(source)
        return source

    def extend(self, sources: Iterable[Source]) -> None:
        for s in sources:
            self.add(s)

    def best_for(self, query: str, pool: Iterable[Source] | None = None) -> Source | None:
        best, score = None, 0.0
        for s in pool if pool is not None else self.items:
            c = coverage(query, s.text)
            if c > score:
                best, score = s, c
        return best if score >= COVERAGE else None

    def mark_cited(self, text: str) -> None:
        for s in self.items:
            if re.search(rf"\[{s.label}\]|\b{re.escape(s.location)}", text):
                s.cited = True

    def prompt_block(self, budget: int = 9_000) -> str:
        parts, used = [], 0
        for s in self.items:
            excerpt = s.text[:MAX_EXCERPT]
            if used + len(excerpt) > budget:
                break
            used += len(excerpt)
            parts.append(f"[{s.label}] {s.location}\n{excerpt}")
        return "\n\n".join(parts)

    def appendix(self) -> str:
        if not self.items:
            return ""
        lines = []
        for s in self.items:
            mark = "" if s.cited else " (consulted, not cited)"
            lines.append(f"- **[{s.label}]** `{s.location}` — {s.origin}{mark}")
        return "\n".join(lines)
