"""Score a review against seeded bugs: precision, recall and F1 (bench/review_quality.py).

A seeded-bug case is a JSON file: ``name``, ``files`` (``path`` → ``before``/``after`` text)
and ``bugs`` (``file``, ``line_start``, ``line_end``, ``category``, ``note``). A shown finding
*matches* a bug when it is in the same file and its lines overlap the bug's lines widened by
``slack``. Precision = matching findings / shown findings; recall = bugs found / bugs. A case
with no bugs (a clean refactor) measures noise: every finding there lowers precision.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ai_workbench.review.models import Finding

SLACK = 2


@dataclass
class Case:
    name: str
    files: dict[str, dict[str, str]]
    bugs: list[dict[str, Any]]


@dataclass
class Score:
    findings: int = 0
    true_findings: int = 0
    bugs: int = 0
    bugs_found: int = 0
    missed: list[str] = field(default_factory=list)
    noise: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.findings += other.findings
        self.true_findings += other.true_findings
        self.bugs += other.bugs
        self.bugs_found += other.bugs_found
        self.missed += other.missed
        self.noise += other.noise

    @property
    def precision(self) -> float:
        return self.true_findings / self.findings if self.findings else 1.0

    @property
    def recall(self) -> float:
        return self.bugs_found / self.bugs if self.bugs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_cases(folder: Path) -> list[Case]:
    cases = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        cases.append(Case(data["name"], data["files"], data["bugs"]))
    return cases


def materialise(case: Case, root: Path) -> Path:
    """A git repo whose HEAD has the ``before`` files and whose working tree the ``after``."""
    root.mkdir(parents=True, exist_ok=True)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "eval@example.com")
    git("config", "user.name", "eval")
    for name, texts in case.files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(texts["before"], encoding="utf-8")
    git("add", ".")
    git("commit", "-qm", "before")
    for name, texts in case.files.items():
        (root / name).write_text(texts["after"], encoding="utf-8")
    return root


def _hits(finding: Finding, bug: dict[str, Any]) -> bool:
    if finding.path != bug["file"]:
        return False
    start, end = bug["line_start"] - SLACK, bug["line_end"] + SLACK
    return finding.line_start <= end and finding.line_end >= start


def score(case: Case, findings: list[Finding]) -> Score:
    result = Score(findings=len(findings), bugs=len(case.bugs))
    for f in findings:
        if any(_hits(f, bug) for bug in case.bugs):
            result.true_findings += 1
        else:
            result.noise.append(f"{case.name}: {f.path}:{f.line_start} {f.title}")
    for bug in case.bugs:
        if any(_hits(f, bug) for f in findings):
            result.bugs_found += 1
        else:
            result.missed.append(f"{case.name}: {bug['file']}:{bug['line_start']} {bug['note']}")
    return result
