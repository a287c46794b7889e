"""The seeded-bug cases behind bench/review_quality.py: well-formed, and scored as expected.

With the loopback model answering exactly the seeded bugs, the review finds them all (each
case's diff really has those lines as added lines); with an extra nit per case, precision
drops while recall stays.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ai_workbench.review.evaluate import Score, load_cases, materialise, score
from tests.test_review_core import run_review

CASES = Path(__file__).parent / "data" / "review_seeded"


def _oracle(cases: list[Any], nit: bool) -> Any:
    by_file = {}
    for case in cases:
        for bug in case.bugs:
            by_file.setdefault(bug["file"], []).append(
                dict(
                    bug,
                    severity="error",
                    title=bug["note"],
                    explanation=bug["note"],
                    confidence=0.9,
                )
            )
        if nit:
            path = next(iter(case.files))
            by_file.setdefault(path, []).append(
                {
                    "file": path,
                    "line_start": 1,
                    "line_end": 1,
                    "severity": "info",
                    "category": "docs",
                    "title": "Consider a docstring",
                    "confidence": 0.9,
                    "explanation": "Public functions deserve docstrings.",
                }
            )

    def reply(body: dict[str, Any]) -> str:
        user = body["messages"][1]["content"]
        hits = [f for path, items in by_file.items() if f"### {path} (" in user for f in items]
        return json.dumps({"findings": hits})

    return reply


async def _evaluate(isolated_env: Any, fake_llm: Any, nit: bool) -> Score:
    cases = load_cases(CASES)
    assert len(cases) >= 5 and any(not c.bugs for c in cases)
    fake_llm.reply_fn = _oracle(cases, nit)
    total = Score()
    for case in cases:
        root = materialise(case, isolated_env.work / case.name)
        result = await run_review(root, fake_llm, queue_suggestions=False)
        assert not result.errors
        total.add(score(case, result.shown))
    return total


async def test_an_oracle_model_scores_perfectly(isolated_env, fake_llm) -> None:
    total = await _evaluate(isolated_env, fake_llm, nit=False)
    assert (total.precision, total.recall) == (1.0, 1.0)
    assert total.bugs == total.bugs_found == 5


async def test_noise_lowers_precision_not_recall(isolated_env, fake_llm) -> None:
    total = await _evaluate(isolated_env, fake_llm, nit=True)
    assert total.recall == 1.0
    assert total.precision < 1.0 and total.noise
