"""What a run did: its steps, the files it changed (diffstat), commands and tests it ran.

:class:`StepInfo` is one tool call as the loop saw it (made from the toolbox's step record);
:class:`RunSummary` is the end of a run, for the terminal (:meth:`RunSummary.text`), ``--json``
(:meth:`RunSummary.to_dict`) and the audit log.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FileChange", "RunSummary", "StepInfo", "TestRun", "diffstat", "is_test_command"]

# Test runners, at the start of a command or of a part of a compound command.
_TEST_RE = re.compile(
    r"(?:^|[;&|(]\s*|\s-c\s+['\"]?)(?:\S+=\S+\s+)*(?:"
    r"(?:(?:\S*/)?python[\d.]*|uv run|poetry run|pipenv run|hatch run)?\s*(?:-m\s+)?"
    r"(?:\S*/)?(?:pytest|py\.test|unittest)"
    r"|tox|nox|(?:npm|pnpm|yarn|bun)\s+(?:run\s+)?test|npx\s+(?:jest|vitest|mocha)|jest|vitest|mocha"
    r"|go\s+test|cargo\s+(?:test|nextest)|make\s+(?:test|check)|ctest|mvn\s+\S*\s*test"
    r"|gradle\w*\s+test|\./gradlew\s+test|rspec|bundle\s+exec\s+rspec|phpunit|dotnet\s+test"
    r"|deno\s+test|mix\s+test|swift\s+test|zig\s+build\s+test"
    r")\b"
)
_COUNTS_RE = re.compile(
    r"\b(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|tests? passed|tests? failed)\b"
)
_GO_RE = re.compile(r"^(ok|FAIL)\s+\S+", re.M)


def is_test_command(command: str) -> bool:
    """Whether ``command`` runs a test suite (pytest, npm test, go test, cargo test, ...)."""
    return bool(_TEST_RE.search(command.strip()))


@dataclass
class StepInfo:
    """One tool call of a run, as the audit log and the summary see it."""

    n: int
    tool: str
    target: str
    args: dict[str, Any]
    decision: str  # auto | rule:<r> | user-approved | user-denied | refused | error
    exit_code: int | None = None
    duration_ms: float = 0.0
    output_digest: str = ""
    diff: str | None = None
    changed_files: list[str] = field(default_factory=list)
    is_error: bool = False
    summary: str = ""
    output: str = ""  # what went back to the model (for test counts); not stored

    @property
    def refused(self) -> bool:
        return self.decision in ("refused", "user-denied")

    @property
    def command(self) -> str | None:
        if self.tool in ("run_command", "bash", "shell"):
            value = self.args.get("command") or self.args.get("cmd")
            if isinstance(value, list):
                return shlex.join(str(v) for v in value)
            return str(value) if value else None
        return None


@dataclass
class FileChange:
    path: str
    added: int = 0
    removed: int = 0


@dataclass
class TestRun:
    command: str
    exit_code: int | None
    passed: bool
    counts: str = ""  # "3 passed, 1 failed" when the output says


@dataclass
class RunSummary:
    status: str  # done | limit | question | refused | error | cancelled
    reason: str
    final_text: str = ""
    question: str | None = None
    left: str = ""  # what is left to do, when the run ended before the goal
    steps: int = 0
    files: list[FileChange] = field(default_factory=list)
    commands: list[tuple[str, int | None]] = field(default_factory=list)
    tests: list[TestRun] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float | None = None
    seconds: float = 0.0
    protocol: str = "tools"
    run_id: int | None = None
    session_id: str | None = None

    @classmethod
    def from_steps(cls, steps: list[StepInfo], **fields: Any) -> RunSummary:
        summary = cls(**fields)
        summary.steps = len(steps)
        summary.files = diffstat(steps)
        for step in steps:
            if step.refused:
                summary.refused.append(f"{step.tool} {step.target}".strip())
            command = step.command
            if command is None or step.refused or step.decision == "error":
                continue
            summary.commands.append((command, step.exit_code))
            if is_test_command(command):
                counts = ", ".join(f"{n} {what}" for n, what in _COUNTS_RE.findall(step.output))
                if not counts:
                    counts = ", ".join(f"{word}" for word in _GO_RE.findall(step.output))
                summary.tests.append(
                    TestRun(command, step.exit_code, step.exit_code == 0, counts[:120])
                )
        return summary

    @property
    def tests_passed(self) -> bool | None:
        """Whether the last test run passed (``None``: no tests ran)."""
        return self.tests[-1].passed if self.tests else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["commands"] = [{"command": c, "exit_code": e} for c, e in self.commands]
        data["tests_passed"] = self.tests_passed
        return data

    def text(self) -> str:
        """The summary for the terminal (plain text, a few lines)."""
        lines = [f"{_HEADLINE.get(self.status, self.status)}: {self.reason}"]
        if self.question:
            lines.append(f"question: {self.question}")
        if self.files:
            total_a = sum(f.added for f in self.files)
            total_r = sum(f.removed for f in self.files)
            lines.append(f"files changed: {len(self.files)} (+{total_a} -{total_r})")
            lines.extend(f"  {f.path} | +{f.added} -{f.removed}" for f in self.files)
        else:
            lines.append("files changed: none")
        if self.commands:
            lines.append(f"commands run: {len(self.commands)}")
            lines.extend(
                f"  $ {_one_line(c)}  → exit {'?' if e is None else e}" for c, e in self.commands
            )
        if self.tests:
            last = self.tests[-1]
            verdict = "passed" if last.passed else "failed"
            counts = f" ({last.counts})" if last.counts else ""
            lines.append(f"tests: {len(self.tests)} run(s), the last {verdict}{counts}")
        else:
            lines.append("tests: none run")
        if self.refused:
            lines.append(f"not allowed: {', '.join(self.refused[:5])}")
        if self.left:
            lines.append(f"left to do: {self.left}")
        usage = f"{self.steps} step(s), {self.tokens_in + self.tokens_out} tokens"
        if self.cost:
            usage += f", ${self.cost:.4f}"
        lines.append(f"{usage}, {self.seconds:.1f}s")
        return "\n".join(lines)


_HEADLINE = {
    "done": "done",
    "limit": "stopped at a limit",
    "question": "needs an answer",
    "refused": "finished with actions not allowed",
    "error": "failed",
    "cancelled": "stopped",
}


def _one_line(text: str, width: int = 100) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def diffstat(steps: list[StepInfo]) -> list[FileChange]:
    """Lines added and removed per file over the steps' diffs (files without a diff: 0/0)."""
    changes: dict[str, FileChange] = {}
    for step in steps:
        if step.refused:
            continue
        current: FileChange | None = None
        for line in (step.diff or "").splitlines():
            if line.startswith("+++ "):
                path = line[4:].strip().split("\t")[0]
                path = path[2:] if path.startswith(("a/", "b/")) else path
                if path != "/dev/null":
                    current = changes.setdefault(path, FileChange(path))
            elif line.startswith("--- ") or line.startswith("diff --git"):
                continue
            elif current is not None and line.startswith("+"):
                current.added += 1
            elif current is not None and line.startswith("-"):
                current.removed += 1
        for path in step.changed_files:
            changes.setdefault(path, FileChange(path))
    return sorted(changes.values(), key=lambda change: change.path)
