"""Review runs, findings and learnings in the aiw database (tables from migration 4).

Reuses the :class:`~ai_workbench.core.db.Database` connection and its short transactions, like
the suggestion queue and feedback service do. Finding text is stored redacted.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from ai_workbench.core.db import Database, from_row
from ai_workbench.core.errors import InputError
from ai_workbench.core.redact import redact_text
from ai_workbench.review.models import Finding, ReviewResult

_FINDING_COLUMNS = (
    "id, run_id, path, line_start, line_end, severity, category, title, explanation,"
    " confidence, patch, line_text, fingerprint, reanchored, held_reason, note, status"
)
_LEARNING_COLUMNS = "id, repo, polarity, category, path_glob, rule, enabled, created, updated"


@dataclass
class RunRecord:
    id: int
    repo: str
    mode: str
    target: str
    model: str | None
    status: str
    learning: bool
    stats: dict[str, Any]
    errors: list[str]
    created: float


@dataclass
class LearningExample:
    finding_id: int | None
    path: str
    category: str
    severity: str
    title: str
    explanation: str
    comment: str | None


@dataclass
class Learning:
    id: int
    repo: str
    polarity: int  # -1: hold back findings like these; +1: show them to the model as examples
    category: str
    path_glob: str
    rule: str
    enabled: bool
    created: float
    updated: float
    examples: list[LearningExample]

    @property
    def kind(self) -> str:
        return "avoid" if self.polarity < 0 else "prefer"


class ReviewStore:
    def __init__(self, store: Database) -> None:
        self.store = store

    # ---- runs and findings

    async def start_run(
        self, repo: str, mode: str, target: str, model: str, persona: str, learning: bool
    ) -> int:
        now = time.time()
        async with self.store._write() as db:
            _, run_id = await self.store._run(
                db,
                "INSERT INTO review_runs (repo, mode, target, model, persona, status, learning,"
                " created, updated) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                (repo, mode, target, model, persona, int(learning), now, now),
            )
        return run_id

    async def finish_run(self, result: ReviewResult) -> None:
        """Store the run's outcome and every finding (shown and held); fill in their ids."""
        assert result.run_id is not None
        now = time.time()
        async with self.store._write() as db:
            await self.store._run(
                db,
                "UPDATE review_runs SET status = ?, stats = ?, errors = ?, updated = ?"
                " WHERE id = ?",
                (
                    result.status,
                    json.dumps(result.stats.to_dict()),
                    json.dumps([redact_text(e) for e in result.errors]),
                    now,
                    result.run_id,
                ),
            )
            for f in result.findings:
                status = "held" if f.held_reason else f.status
                _, fid = await self.store._run(
                    db,
                    f"INSERT INTO review_findings ({_FINDING_COLUMNS.replace('id, ', '', 1)},"
                    " created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " ?, ?)",
                    (
                        result.run_id,
                        f.path,
                        f.line_start,
                        f.line_end,
                        f.severity,
                        f.category,
                        redact_text(f.title),
                        redact_text(f.explanation),
                        f.confidence,
                        f.patch,
                        f.line_text,
                        f.fingerprint,
                        int(f.reanchored),
                        f.held_reason,
                        f.learning_note,
                        status,
                        now,
                        now,
                    ),
                )
                f.id, f.run_id = fid, result.run_id

    async def get_run(self, run_id: int) -> RunRecord:
        async with self.store._read() as db:
            row = await self.store._one(db, "SELECT * FROM review_runs WHERE id = ?", (run_id,))
        if row is None:
            raise InputError(f"no review run with id {run_id}")
        return _run(row)

    async def list_runs(self, repo: str | None = None, limit: int = 20) -> list[RunRecord]:
        sql = "SELECT * FROM review_runs"
        params: list[Any] = []
        if repo is not None:
            sql += " WHERE repo = ?"
            params.append(repo)
        sql += " ORDER BY created DESC, id DESC LIMIT ?"
        params.append(limit)
        async with self.store._read() as db:
            rows = await self.store._all(db, sql, params)
        return [_run(r) for r in rows]

    async def findings(self, run_id: int) -> list[Finding]:
        async with self.store._read() as db:
            rows = await self.store._all(
                db,
                f"SELECT {_FINDING_COLUMNS} FROM review_findings WHERE run_id = ? ORDER BY id",
                (run_id,),
            )
        return [_finding(r) for r in rows]

    async def get_finding(self, finding_id: int) -> Finding:
        async with self.store._read() as db:
            row = await self.store._one(
                db, f"SELECT {_FINDING_COLUMNS} FROM review_findings WHERE id = ?", (finding_id,)
            )
        if row is None:
            raise InputError(f"no review finding with id {finding_id}")
        return _finding(row)

    async def repo_of(self, finding_id: int) -> str:
        async with self.store._read() as db:
            row = await self.store._one(
                db,
                "SELECT r.repo FROM review_findings f JOIN review_runs r ON r.id = f.run_id"
                " WHERE f.id = ?",
                (finding_id,),
            )
        if row is None:
            raise InputError(f"no review finding with id {finding_id}")
        return str(row[0])

    async def set_finding_status(self, finding_id: int, status: str) -> None:
        async with self.store._write() as db:
            await self.store._update(
                db,
                "review_findings",
                {"status": status, "updated": time.time()},
                finding_id,
                missing=InputError(f"no review finding with id {finding_id}"),
            )

    # ---- learnings

    async def learnings(self, repo: str | None = None) -> list[Learning]:
        sql = f"SELECT {_LEARNING_COLUMNS} FROM review_learnings"
        params: tuple[Any, ...] = ()
        if repo is not None:
            sql += " WHERE repo = ?"
            params = (repo,)
        async with self.store._read() as db:
            rows = await self.store._all(db, sql + " ORDER BY id", params)
            examples = await self.store._all(
                db,
                "SELECT learning_id, finding_id, path, category, severity, title, explanation,"
                " comment FROM review_learning_examples ORDER BY id",
            )
        by_id: dict[int, list[LearningExample]] = {}
        for e in examples:
            by_id.setdefault(e[0], []).append(
                LearningExample(e[1], e[2], e[3], e[4], e[5], e[6], e[7])
            )
        return [_learning(r, by_id.get(r["id"], [])) for r in rows]

    async def get_learning(self, learning_id: int) -> Learning:
        for item in await self.learnings():
            if item.id == learning_id:
                return item
        raise InputError(f"no review learning with id {learning_id} (see `aiw review learnings`)")

    async def add_learning(
        self, repo: str, polarity: int, category: str, path_glob: str, rule: str
    ) -> int:
        now = time.time()
        row = {"repo": repo, "polarity": polarity, "category": category, "path_glob": path_glob}
        row.update(rule=redact_text(rule), enabled=1, created=now, updated=now)
        async with self.store._write() as db:
            return await self.store._insert(db, "review_learnings", row)

    async def add_example(self, learning_id: int, finding: Finding, comment: str | None) -> None:
        now = time.time()
        async with self.store._write() as db:
            await self.store._run(
                db,
                "INSERT OR REPLACE INTO review_learning_examples (learning_id, finding_id, path,"
                " category, severity, title, explanation, comment, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    learning_id,
                    finding.id,
                    finding.path,
                    finding.category,
                    finding.severity,
                    redact_text(finding.title),
                    redact_text(finding.explanation),
                    redact_text(comment) if comment else None,
                    now,
                ),
            )
            await self.store._run(
                db, "UPDATE review_learnings SET updated = ? WHERE id = ?", (now, learning_id)
            )

    async def remove_examples_of(self, finding_id: int) -> None:
        """Forget a finding's rating in every learning (re-rating moves it); drop empty ones."""
        async with self.store._write() as db:
            await self.store._run(
                db, "DELETE FROM review_learning_examples WHERE finding_id = ?", (finding_id,)
            )
            await self.store._run(
                db,
                "DELETE FROM review_learnings WHERE id NOT IN"
                " (SELECT DISTINCT learning_id FROM review_learning_examples)",
            )

    async def update_learning(self, learning_id: int, **changes: Any) -> Learning:
        allowed = {"rule", "category", "path_glob", "enabled"}
        bad = set(changes) - allowed
        if bad:
            raise ValueError(f"cannot change {', '.join(sorted(bad))}")
        if not changes:
            return await self.get_learning(learning_id)
        if "rule" in changes:
            changes["rule"] = redact_text(str(changes["rule"]))
        if "enabled" in changes:
            changes["enabled"] = int(bool(changes["enabled"]))
        changes["updated"] = time.time()
        async with self.store._write() as db:
            await self.store._update(
                db, "review_learnings", changes, learning_id, missing=_no_learning(learning_id)
            )
        return await self.get_learning(learning_id)

    async def delete_learning(self, learning_id: int) -> None:
        async with self.store._write() as db:
            await self.store._delete(
                db, "review_learnings", learning_id, missing=_no_learning(learning_id)
            )


def _no_learning(learning_id: int) -> InputError:
    return InputError(f"no review learning with id {learning_id}")


def _run(row: Any) -> RunRecord:
    return from_row(
        RunRecord,
        row,
        learning=bool(row["learning"]),
        stats=json.loads(row["stats"]) if row["stats"] else {},
        errors=json.loads(row["errors"]) if row["errors"] else [],
    )


def _finding(row: Any) -> Finding:
    return from_row(Finding, row, reanchored=bool(row["reanchored"]), learning_note=row["note"])


def _learning(row: Any, examples: list[LearningExample]) -> Learning:
    return from_row(Learning, row, enabled=bool(row["enabled"]), examples=examples)
