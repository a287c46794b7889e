"""How good and how fast is the command risk classifier?  Rates (never runs) the corpus in
tests/data/risk_corpus.py and prints: dangerous shapes caught, everyday commands falsely rated
dangerous, how the everyday ones split between safe and moderate, and time per rating.
Run from the repository root::

    python bench/risk_classifier.py            # figures
    python bench/risk_classifier.py --verbose  # plus every miss and every everyday rating
    python bench/risk_classifier.py --check    # exit 1 on any miss or false alarm
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ai_workbench.core.safety.risk import classify
from tests.data.risk_corpus import DANGEROUS, EVERYDAY


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timing passes over the corpus")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()

    classify("ls")  # load the parser once, outside the timing
    missed = [c for c in DANGEROUS if classify(c).level != "dangerous"]
    everyday = {c: classify(c) for c in EVERYDAY}
    false_alarms = [c for c, r in everyday.items() if r.level == "dangerous"]
    split = Counter(r.level for r in everyday.values())

    corpus = DANGEROUS + EVERYDAY
    per_pass = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        for command in corpus:
            classify(command)
        per_pass.append((time.perf_counter() - started) / len(corpus))
    worst = 0.0
    for command in corpus:
        started = time.perf_counter()
        classify(command)
        worst = max(worst, time.perf_counter() - started)

    caught = len(DANGEROUS) - len(missed)
    print(f"dangerous caught:          {caught}/{len(DANGEROUS)}")
    print(f"everyday false-dangerous:  {len(false_alarms)}/{len(EVERYDAY)}")
    print(
        f"everyday rated:            safe {split['safe']}, moderate {split['moderate']}, "
        f"dangerous {split['dangerous']}"
    )
    print(
        f"time per rating:           median {statistics.median(per_pass) * 1e3:.2f} ms "
        f"(worst single {worst * 1e3:.2f} ms, {len(corpus)} commands x {args.repeat})"
    )
    for command in missed:
        print(f"MISSED     {command!r}: {classify(command).level}")
    for command in false_alarms:
        print(f"FALSE ALARM {command!r}: {'; '.join(everyday[command].reasons)}")
    if args.verbose:
        for command, risk in everyday.items():
            print(f"  {risk.level:9} {command!r}  ({'; '.join(risk.reasons)})")
    return 1 if args.check and (missed or false_alarms) else 0


if __name__ == "__main__":
    sys.exit(main())
