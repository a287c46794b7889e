"""The finding model shared by every part of the review: what the model said, checked and placed.

A :class:`Finding` sits on new-side lines of one file (repo-relative, forward slashes), carries a
severity (``error`` / ``warning`` / ``info``), a category that becomes the stable rule id
``aiw/<category>``, a confidence in 0..1 and optionally a unified diff that fixes it. Findings the
filters hold back (low confidence, over the per-file cap, resembling disliked ones) keep their
``held_reason`` so they are counted and can be shown, never silently lost.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: Final[tuple[str, ...]] = ("error", "warning", "info")
SEVERITY_RANK: Final[dict[str, int]] = {"error": 3, "warning": 2, "info": 1}
CATEGORIES: Final[tuple[str, ...]] = (
    "bug",
    "security",
    "performance",
    "maintainability",
    "test",
    "docs",
)
FINDING_STATUSES: Final[tuple[str, ...]] = ("open", "held", "applied", "dismissed")
HELD_LOW_CONFIDENCE: Final = "low-confidence"
HELD_CAP: Final = "per-file-cap"
HELD_LEARNED: Final = "learned"
HELD_OFF_CHANGE: Final = "off-change"  # the model's line is outside every hunk it was shown
HELD_REASONS: Final[tuple[str, ...]] = (
    HELD_LOW_CONFIDENCE,
    HELD_CAP,
    HELD_LEARNED,
    HELD_OFF_CHANGE,
)
MODES: Final[tuple[str, ...]] = ("worktree", "staged", "range", "files")


def rule_id(category: str) -> str:
    """The stable rule id SARIF, CodeClimate and the learnings use: ``aiw/<category>``."""
    return f"aiw/{category}"


def normalise_code(text: str) -> str:
    return " ".join(text.split())


def fingerprint_of(category: str, path: str, line_text: str, title: str = "") -> str:
    """A hash of rule, path and the normalised anchored line (not its number: lines move)."""
    raw = "\x1f".join((rule_id(category), path, normalise_code(line_text), normalise_code(title)))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


@dataclass
class Finding:
    path: str
    line_start: int
    line_end: int
    severity: str
    category: str
    title: str
    explanation: str
    confidence: float = 1.0
    patch: str | None = None
    existing_code: str | None = None
    improved_code: str | None = None
    # filled in by anchoring, filtering and storage
    line_text: str = ""
    reanchored: bool = False
    held_reason: str | None = None
    learning_note: str | None = None
    fingerprint: str = ""
    status: str = "open"
    id: int | None = None
    run_id: int | None = None

    @property
    def rule_id(self) -> str:
        return rule_id(self.category)

    @property
    def shown(self) -> bool:
        return self.held_reason is None

    def compute_fingerprint(self) -> str:
        self.fingerprint = fingerprint_of(self.category, self.path, self.line_text, self.title)
        return self.fingerprint

    def sort_key(self) -> tuple[Any, ...]:
        return (self.path, self.line_start, -SEVERITY_RANK.get(self.severity, 0), self.title)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "severity": self.severity,
            "category": self.category,
            "rule_id": self.rule_id,
            "title": self.title,
            "explanation": self.explanation,
            "confidence": round(self.confidence, 3),
            "patch": self.patch,
            "fingerprint": self.fingerprint,
            "reanchored": self.reanchored,
            "held_reason": self.held_reason,
            "learning_note": self.learning_note,
            "status": self.status,
        }


@dataclass
class ReviewStats:
    """Counts a run reports so nothing disappears without a number."""

    files: int = 0
    hunks: int = 0
    units: int = 0
    calls: int = 0
    tokens_sent: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    raw_findings: int = 0
    reanchored: int = 0
    discarded: int = 0
    held: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HELD_REASONS, 0))
    retries: int = 0
    repaired: int = 0  # replies read only after json-repair (their fixes are dropped)
    truncated: int = 0  # replies cut at the token limit
    interrupted: int = 0  # calls the server interrupted (no finish_reason)
    failed_units: int = 0
    parallel: int = 0  # calls run at once
    skipped_files: list[str] = field(default_factory=list)
    duration_ms: int = 0

    @property
    def held_total(self) -> int:
        return sum(self.held.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "hunks": self.hunks,
            "units": self.units,
            "calls": self.calls,
            "tokens_sent": self.tokens_sent,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "raw_findings": self.raw_findings,
            "reanchored": self.reanchored,
            "discarded": self.discarded,
            "held": dict(self.held),
            "retries": self.retries,
            "repaired": self.repaired,
            "truncated": self.truncated,
            "interrupted": self.interrupted,
            "failed_units": self.failed_units,
            "parallel": self.parallel,
            "skipped_files": list(self.skipped_files),
            "duration_ms": self.duration_ms,
        }


@dataclass
class ReviewResult:
    """One review run: every finding (shown and held), the counts and the problems met."""

    root: str
    mode: str
    target: str
    model: str
    findings: list[Finding] = field(default_factory=list)
    stats: ReviewStats = field(default_factory=ReviewStats)
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    learning: bool = True
    run_id: int | None = None
    # the reviewed ChangeSet (core.review.diff), for showing each finding's hunk
    changes: Any = None
    # repo-relative path -> sha256 of the file on disk when reviewed (for apply's `expect`)
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def shown(self) -> list[Finding]:
        return [f for f in self.findings if f.shown]

    @property
    def held(self) -> list[Finding]:
        return [f for f in self.findings if not f.shown]

    @property
    def status(self) -> str:
        if self.errors and not self.stats.units - self.stats.failed_units:
            return "error"
        return "partial" if self.errors else "complete"

    def worst(self) -> str | None:
        ranks = [SEVERITY_RANK[f.severity] for f in self.shown]
        if not ranks:
            return None
        best = max(ranks)
        return next(name for name, rank in SEVERITY_RANK.items() if rank == best)
