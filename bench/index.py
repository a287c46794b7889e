"""Index speed on the running interpreter's standard library (about 2,000 files everywhere).

Usage::

    python bench/index.py                 # lexical + built-in embeddings
    python bench/index.py --no-embed      # lexical only
    python bench/index.py --queries 300

Copies the stdlib (without site-packages and caches) to a temp dir, then prints: files per
second for a first index (lexical, and with embeddings), the time of a re-index with nothing
changed and with one file changed, and search latency p50/p95 (lexical and hybrid) at the
resulting number of chunks. Targets (issue 7): ≥ 200 files/s lexical, unchanged re-index
≤ 1 s, one changed file ≤ 1 s, search p50 ≤ 50 ms at 50k chunks.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-embed", action="store_true", help="lexical index only")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    from ai_workbench.core.settings import KnowledgeSettings
    from ai_workbench.knowledge.service import KnowledgeService

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "stdlib"
        shutil.copytree(
            stdlib, root, ignore=shutil.ignore_patterns("site-packages", "__pycache__", "*.pyc")
        )
        print(f"stdlib: {stdlib} (Python {sys.version.split()[0]})")
        service = KnowledgeService(KnowledgeSettings(), root, data_dir=Path(tmp) / "data")

        report = service.index(embed=False)
        lexical_s = report.duration_s
        files = len(report.added)
        print(
            f"first index, lexical:   {files} files, {report.chunks_total} chunks in "
            f"{lexical_s:.2f} s = {files / lexical_s:.0f} files/s "
            f"({len(report.skipped)} skipped, {len(report.failed)} failed)"
        )
        if not args.no_embed:
            clock = time.perf_counter()
            service._embed_pending(report, [])
            spent = time.perf_counter() - clock
            print(
                f"embeddings:             {report.chunks_embedded} chunks in {spent:.2f} s "
                f"({report.chunks_embedded / spent:.0f} chunks/s, {report.embedding_model}); "
                f"first index total {files / (lexical_s + spent):.0f} files/s"
            )

        again = service.index(embed=not args.no_embed)
        print(f"re-index, no change:    {again.duration_s:.3f} s ({again.unchanged} unchanged)")

        target = root / "json" / "decoder.py"
        target.write_text(target.read_text() + "\n\ndef bench_marker():\n    return 42\n")
        changed = service.index(embed=not args.no_embed)
        print(
            f"re-index, 1 changed:    {changed.duration_s:.3f} s "
            f"(updated {changed.updated}, {changed.chunks_embedded} chunks embedded)"
        )

        words = sorted(
            {
                w
                for w in re.findall(r"def ([a-z_]{6,})", (root / "os.py").read_text())
                + re.findall(r"def ([a-z_]{6,})", (root / "subprocess.py").read_text())
            }
        )
        rng = random.Random(7)
        queries = [
            f"{rng.choice(words).replace('_', ' ')} {rng.choice(['file', 'error', 'path'])}"
            for _ in range(args.queries)
        ]
        modes = ["lexical"] if args.no_embed else ["lexical", "hybrid"]
        for mode in modes:
            service.search_sync(queries[0], 10, mode=mode)  # warm up (model load)
            times = []
            for query in queries:
                clock = time.perf_counter()
                service.search_sync(query, 10, mode=mode)
                times.append((time.perf_counter() - clock) * 1000)
            print(
                f"search {mode:<8}        p50 {percentile(times, 0.5):.1f} ms, p95 "
                f"{percentile(times, 0.95):.1f} ms, mean {statistics.mean(times):.1f} ms "
                f"({len(times)} queries, {changed.chunks_total} chunks)"
            )
        service.close()


if __name__ == "__main__":
    main()
