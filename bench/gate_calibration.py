"""Calibrate the clarifying-question gate of `aiw ask --kb` (retrieval only, no model).

Usage::

    python bench/gate_calibration.py                 # this repo's docs/ at the set's commit
    python bench/gate_calibration.py --threshold 0.6 # try another knowledge.threshold

The labelled set ``bench/data/gate_questions.json`` holds answerable questions (with the docs
files that answer them) and vague ones, written over this repository's ``docs/`` at the commit
it names (extracted with ``git archive``, so the figures do not move with the docs). For each
question the gate either answers (best match ≥ threshold) or asks a clarifying question.

Printed: the two error rates, *answerable asked* (a clarifying question where the docs hold
the answer) and *vague answered* (an answer to a question that names nothing), the share of
answered questions whose best hit is in a right file, and each miss with its score.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
SET = Path(__file__).resolve().parent / "data" / "gate_questions.json"


def extract(commit: str, subdir: str, into: Path) -> None:
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, subdir],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=SET)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--quiet", action="store_true", help="only the summary")
    args = parser.parse_args(argv)

    from ai_workbench.core.settings import KnowledgeSettings
    from ai_workbench.knowledge.service import KnowledgeService

    labelled = json.loads(args.set.read_text())
    settings = KnowledgeSettings()
    if args.threshold is not None:
        settings = settings.model_copy(update={"threshold": args.threshold})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        extract(labelled["commit"], labelled["subdir"], root)
        service = KnowledgeService(settings, root, Path(tmp) / "data")
        try:
            service.index()
            asked: list[tuple[str, float, str]] = []
            right_file = 0
            answered_n = 0
            for item in labelled["answerable"]:
                result = service.search_sync(item["q"], settings.top_k)
                top = result.hits[0].rel if result.hits else "-"
                if not result.confident:
                    asked.append((item["q"], result.best, top))
                    continue
                answered_n += 1
                right_file += top in item["files"]
            answered: list[tuple[str, float, str]] = []
            for question in labelled["vague"]:
                result = service.search_sync(question, settings.top_k)
                if result.confident:
                    top = result.hits[0].rel if result.hits else "-"
                    answered.append((question, result.best, top))
        finally:
            service.close()
    n_a, n_v = len(labelled["answerable"]), len(labelled["vague"])
    print(f"threshold {settings.threshold:.2f}, docs at {labelled['commit']}")
    print(f"answerable asked:  {len(asked)}/{n_a} ({len(asked) / n_a:.0%})")
    print(f"vague answered:    {len(answered)}/{n_v} ({len(answered) / n_v:.0%})")
    if answered_n:
        print(f"answered with the best hit in a right file: {right_file}/{answered_n}")
    if not args.quiet:
        for q, score, top in asked:
            print(f"  asked    {score:.2f}  {q!r} (best: {top})")
        for q, score, top in answered:
            print(f"  answered {score:.2f}  {q!r} (best: {top})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
