"""Agent runs and steps in the aiw database (tables from :mod:`ai_workbench.agent.schema`).

Reuses the :class:`~ai_workbench.core.db.Database` connection and its short transactions, like the
review store does. Everything stored is redacted first (the toolbox redacts step arguments; the
goal, targets, summaries and diffs are redacted again here, which is idempotent).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from ai_workbench.agent.summary import RunSummary, StepInfo
from ai_workbench.core.db import Database, StoreError
from ai_workbench.core.errors import EXIT_INPUT
from ai_workbench.core.redact import redact_text

__all__ = ["AgentStore", "RunNotFound", "RunRecord", "StepRow"]

_RUN_COLUMNS = (
    "id, owner, goal, mode, model, provider, project, persona, sandbox, protocol, session_id,"
    " status, exit_reason, summary, tokens_in, tokens_out, cost, steps, started, ended"
)
_STEP_COLUMNS = (
    "n, tool, target, args, decision, exit_code, duration_ms, output_digest, summary, diff,"
    " changed_files, is_error, created"
)


class RunNotFound(StoreError):
    exit_code = EXIT_INPUT


@dataclass
class StepRow:
    n: int
    tool: str
    target: str
    args: dict[str, Any]
    decision: str
    exit_code: int | None
    duration_ms: float | None
    output_digest: str | None
    summary: str | None
    diff: str | None
    changed_files: list[str]
    is_error: bool
    created: float


@dataclass
class RunRecord:
    id: int
    owner: str
    goal: str
    mode: str
    model: str | None
    provider: str | None
    project: str
    persona: str | None
    sandbox: str | None
    protocol: str | None
    session_id: str | None
    status: str
    exit_reason: str | None
    summary: dict[str, Any] | None
    tokens_in: int | None
    tokens_out: int | None
    cost: float | None
    steps: int
    started: float
    ended: float | None
    step_rows: list[StepRow] = field(default_factory=list)
    rating: int | None = None
    comment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        data = asdict(self)
        data["step_rows"] = [asdict(s) for s in self.step_rows]
        return data


def _json(raw: str | None, default: Any) -> Any:
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return default


class AgentStore:
    """The agent's queries on a shared :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def start_run(
        self,
        *,
        goal: str,
        mode: str,
        model: str,
        provider: str,
        project: str,
        persona: str | None,
        sandbox: str,
        protocol: str,
        session_id: str | None,
        owner: str = "local",
    ) -> int:
        values = {
            "owner": owner,
            "goal": redact_text(goal),
            "mode": mode,
            "model": model,
            "provider": provider,
            "project": project,
            "persona": persona,
            "sandbox": sandbox,
            "protocol": protocol,
            "session_id": session_id,
            "status": "running",
            "started": time.time(),
        }
        async with self.store._write() as db:
            return await self.store._insert(db, "agent_runs", values)

    async def add_step(self, run_id: int, step: StepInfo) -> None:
        diff = redact_text(step.diff) if step.diff else None
        async with self.store._write() as db:
            await self.store._insert(
                db,
                "agent_steps",
                {
                    "run_id": run_id,
                    "n": step.n,
                    "tool": step.tool,
                    "target": redact_text(step.target),
                    "args": redact_text(json.dumps(step.args, ensure_ascii=False, default=str)),
                    "decision": step.decision,
                    "exit_code": step.exit_code,
                    "duration_ms": round(step.duration_ms, 1),
                    "output_digest": step.output_digest or None,
                    "summary": redact_text(step.summary) if step.summary else None,
                    "diff": diff,
                    "changed_files": json.dumps(step.changed_files),
                    "is_error": int(step.is_error),
                    "created": time.time(),
                },
            )
            await self.store._run(
                db, "UPDATE agent_runs SET steps = steps + 1 WHERE id = ?", (run_id,)
            )

    async def finish_run(self, run_id: int, summary: RunSummary, cost: float | None) -> None:
        data = summary.to_dict()
        text = redact_text(json.dumps(data, ensure_ascii=False, default=str))
        async with self.store._write() as db:
            await self.store._run(
                db,
                "UPDATE agent_runs SET status = ?, exit_reason = ?, summary = ?, tokens_in = ?,"
                " tokens_out = ?, cost = ?, protocol = ?, ended = ? WHERE id = ?",
                (
                    summary.status,
                    redact_text(summary.reason),
                    text,
                    summary.tokens_in,
                    summary.tokens_out,
                    cost,
                    summary.protocol,
                    time.time(),
                    run_id,
                ),
            )

    async def get_run(self, ref: int | str | None = None, owner: str = "local") -> RunRecord:
        """A run with its steps: by id, or the latest (``None``)."""
        async with self.store._read() as db:
            if ref is None:
                row = await self.store._one(
                    db,
                    f"SELECT {_RUN_COLUMNS} FROM agent_runs WHERE owner = ?"
                    " ORDER BY id DESC LIMIT 1",
                    (owner,),
                )
                missing = 'no agent run yet; start one with aiw agent "GOAL"'
            else:
                try:
                    run_id = int(ref)
                except ValueError:
                    raise RunNotFound(f"'{ref}' is not a run number (see aiw agent log)") from None
                row = await self.store._one(
                    db,
                    f"SELECT {_RUN_COLUMNS} FROM agent_runs WHERE id = ? AND owner = ?",
                    (run_id, owner),
                )
                missing = f"no agent run {ref} (aiw agent log lists them)"
            if row is None:
                raise RunNotFound(missing)
            steps = await self.store._all(
                db,
                f"SELECT {_STEP_COLUMNS} FROM agent_steps WHERE run_id = ? ORDER BY n",
                (row["id"],),
            )
        record = _run(row)
        record.step_rows = [_step(s) for s in steps]
        return record

    async def list_runs(self, limit: int = 20, owner: str = "local") -> list[RunRecord]:
        async with self.store._read() as db:
            rows = await self.store._all(
                db,
                f"SELECT {_RUN_COLUMNS} FROM agent_runs WHERE owner = ? ORDER BY id DESC LIMIT ?",
                (owner, max(0, limit)),
            )
        return [_run(r) for r in rows]


def _run(row: Any) -> RunRecord:
    return RunRecord(
        id=row["id"],
        owner=row["owner"],
        goal=row["goal"],
        mode=row["mode"],
        model=row["model"],
        provider=row["provider"],
        project=row["project"],
        persona=row["persona"],
        sandbox=row["sandbox"],
        protocol=row["protocol"],
        session_id=row["session_id"],
        status=row["status"],
        exit_reason=row["exit_reason"],
        summary=_json(row["summary"], None),
        tokens_in=row["tokens_in"],
        tokens_out=row["tokens_out"],
        cost=row["cost"],
        steps=row["steps"],
        started=row["started"],
        ended=row["ended"],
    )


def _step(row: Any) -> StepRow:
    return StepRow(
        n=row["n"],
        tool=row["tool"],
        target=row["target"],
        args=_json(row["args"], {}),
        decision=row["decision"],
        exit_code=row["exit_code"],
        duration_ms=row["duration_ms"],
        output_digest=row["output_digest"],
        summary=row["summary"],
        diff=row["diff"],
        changed_files=_json(row["changed_files"], []),
        is_error=bool(row["is_error"]),
        created=row["created"],
    )
