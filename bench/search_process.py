"""`aiw search` as a process: wall time, CPU time and peak RSS, lexical and hybrid.

Usage::

    python bench/search_process.py [ROOT] [--repeat 7] [--query "..."]

Indexes ROOT (default: this repository) into a temporary data dir with `aiw index`, runs one
warm-up search (it builds the static model's vocabulary cache, once per install), then runs
`python -m ai_workbench search --mode M QUERY` REPEAT times per mode and query and prints, per
mode: median and best wall time, median CPU time (user + sys, from the child's rusage) and
the highest peak RSS. Wall time depends on what else the machine runs (the load average is
printed); CPU time and RSS do not, much. The issue's target: hybrid <= 0.5 s and <= 150 MB.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUERIES = [
    "assertion rewriting of comparisons",
    "where are retries configured",
    "fixture teardown order when a test fails",
]


def run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int, int]:
    """(wall s, cpu s, peak RSS in KB, exit status) of one process."""
    clock = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - clock
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, nargs="?", default=REPO, help="the project to index")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--query", action="append", help="a query (repeatable)")
    parser.add_argument("--modes", default="lexical,hybrid")
    args = parser.parse_args()
    queries = args.query or QUERIES
    root = args.root.resolve()
    with tempfile.TemporaryDirectory(prefix="aiw-bench-search-") as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "AIW_DATA_DIR": str(Path(tmp) / "data"),
            "AIW_CONFIG_DIR": str(Path(tmp) / "config"),
        }
        aiw = [sys.executable, "-m", "ai_workbench"]
        clock = time.perf_counter()
        wall, cpu, rss, code = run([*aiw, "index", str(root)], root, env)
        if code:
            sys.exit(f"aiw index {root} failed (exit {code})")
        print(f"indexed {root} in {time.perf_counter() - clock:.1f} s (peak RSS {rss // 1024} MB)")
        run([*aiw, "search", "--path", str(root), queries[0]], root, env)  # warm-up
        load = os.getloadavg()[0]
        print(f"load average {load:.2f} on {os.cpu_count()} CPUs; {args.repeat} runs per query")
        print(f"{'mode':<8} {'wall p50':>9} {'wall min':>9} {'CPU p50':>8} {'max RSS':>8}")
        for mode in args.modes.split(","):
            walls, cpus, peak = [], [], 0
            for _ in range(args.repeat):
                for query in queries:
                    cmd = [*aiw, "search", "--path", str(root), "--mode", mode, query]
                    wall, cpu, rss, code = run(cmd, root, env)
                    if code:
                        sys.exit(f"aiw search --mode {mode} failed (exit {code})")
                    walls.append(wall)
                    cpus.append(cpu)
                    peak = max(peak, rss)
            print(
                f"{mode:<8} {statistics.median(walls):>8.2f}s {min(walls):>8.2f}s "
                f"{statistics.median(cpus):>7.2f}s {peak / 1024:>6.0f}MB"
            )


if __name__ == "__main__":
    main()
