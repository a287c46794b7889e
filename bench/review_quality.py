"""Precision and recall of `aiw review` on seeded-bug diffs, with a real model.

Each case in tests/data/review_seeded/ is a small repository (before → after) with known bugs
(and one clean refactor that measures noise). The review runs with the model you name or the
configured default; findings shown are matched to the seeded bugs by file and line (±2).

    python bench/review_quality.py --model openai/gpt-4o-mini
    python bench/review_quality.py --model openai/qwen2.5-coder --api-base http://127.0.0.1:8080/v1
    python bench/review_quality.py --provider ollama --no-learning

Prints per-case results, then precision, recall and F1 over all cases; missed bugs and noisy
findings are listed. Needs a reachable model; exit 2 when the review cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

CASES = REPO_ROOT / "tests" / "data" / "review_seeded"


async def run(args: argparse.Namespace) -> int:
    from ai_workbench.core.errors import AiwError
    from ai_workbench.core.settings import load_config
    from ai_workbench.review import ReviewOptions, ReviewService
    from ai_workbench.review.evaluate import Score, load_cases, materialise, score
    from ai_workbench.store import Store

    total = Score()
    with tempfile.TemporaryDirectory() as tmp:
        if args.fresh_db:
            os.environ["AIW_DATA_DIR"] = str(Path(tmp) / "data")
        for case in load_cases(CASES):
            root = materialise(case, Path(tmp) / case.name)
            loaded = load_config(cwd=root)
            async with await Store.open() as store:
                opts = ReviewOptions(
                    model=args.model,
                    api_base=args.api_base,
                    provider=args.provider,
                    learning=not args.no_learning,
                    queue_suggestions=False,
                    cwd=root,
                )
                try:
                    result = await ReviewService(loaded, store).review(opts)
                except AiwError as exc:
                    print(f"aiw: error: {exc}", file=sys.stderr)
                    return 2
            s = score(case, result.shown)
            total.add(s)
            print(
                f"{case.name:<16} findings {s.findings}  true {s.true_findings}  "
                f"bugs {s.bugs_found}/{s.bugs}  held {result.stats.held_total}  "
                f"calls {result.stats.calls}"
            )
    print(
        f"\nprecision {total.precision:.2f}  recall {total.recall:.2f}  F1 {total.f1:.2f}  "
        f"({total.true_findings}/{total.findings} findings true, "
        f"{total.bugs_found}/{total.bugs} bugs found)"
    )
    for line in total.missed:
        print(f"missed: {line}")
    for line in total.noise:
        print(f"noise:  {line}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-m", "--model", help="model (litellm name) or profile")
    parser.add_argument("--api-base", help="endpoint for --model")
    parser.add_argument("-P", "--provider", help="provider profile from config")
    parser.add_argument("--no-learning", action="store_true", help="ignore learnings")
    parser.add_argument(
        "--fresh-db", action="store_true", help="use a throwaway database (no learnings)"
    )
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
