"""How `aiw review` scales with diff size: wall time, model calls and tokens sent.

Builds a real git repository in a temp dir with 20 files, changes every 4th line so the diff
has about N lines (removed + added) for N in 250, 1,000 and 4,000, and reviews it with the
review service against the loopback fake model (tests/fake_llm.py), which streams a fixed
JSON answer at a fixed pace (``--chunk-delay`` seconds per 3-word chunk). The 1,000-line
case also runs with ``max_parallel = 1`` to show what the bounded parallel calls buy.

    python bench/review.py                 # sizes 250 1000 4000
    python bench/review.py --sizes 1000 --chunk-delay 0.02

Prints one row per run; no network is used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.fake_llm import FakeLLM  # noqa: E402

FILES = 20


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def make_repo(root: Path, diff_lines: int) -> int:
    """A repo whose working tree differs from HEAD by about ``diff_lines`` lines."""
    root.mkdir(parents=True)
    git(root, "init", "-q")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "config", "user.name", "bench")
    changes = max(1, diff_lines // 2 // FILES)  # each change: 1 removed + 1 added line
    for f in range(FILES):
        lines = [f"value_{f}_{i} = compute({i})  # line {i}\n" for i in range(changes * 4)]
        (root / f"mod{f:02d}.py").write_text("".join(lines))
    git(root, "add", ".")
    git(root, "commit", "-qm", "base")
    for f in range(FILES):
        path = root / f"mod{f:02d}.py"
        lines = path.read_text().splitlines(keepends=True)
        for i in range(0, len(lines), 4):
            lines[i] = lines[i].replace("compute(", "compute_fast(")
        path.write_text("".join(lines))
    out = subprocess.run(["git", "diff", "--numstat"], cwd=root, capture_output=True, text=True)
    return sum(
        int(a) + int(d) for a, d, _ in (line.split("\t") for line in out.stdout.split("\n") if line)
    )


def reply_for(body: dict[str, Any]) -> str:
    import re

    user = body["messages"][-1]["content"]
    match = re.search(r"^### (\S+) \(lines (\d+)-", user, re.M)
    if not match:
        return '{"findings": []}'
    finding = {
        "file": match.group(1),
        "line_start": int(match.group(2)),
        "severity": "warning",
        "category": "performance",
        "title": "compute_fast is called in a loop",
        "explanation": "Each call recomputes the same table; hoist it out of the loop.",
        "confidence": 0.8,
    }
    return json.dumps({"findings": [finding]})


async def review_once(root: Path, fake: FakeLLM, parallel: int) -> dict[str, Any]:
    from ai_workbench.core.settings import load_config
    from ai_workbench.review import ReviewOptions, ReviewService
    from ai_workbench.store import Store

    loaded = load_config({"review": {"max_parallel": parallel}}, cwd=root)
    async with await Store.open() as store:
        service = ReviewService(loaded, store)
        started = time.perf_counter()
        result = await service.review(
            ReviewOptions(
                model="openai/echo", api_base=fake.base_url, cwd=root, queue_suggestions=False
            )
        )
        wall = time.perf_counter() - started
    return {
        "wall": wall,
        "calls": result.stats.calls,
        "units": result.stats.units,
        "tokens": result.stats.tokens_sent,
        "findings": len(result.shown),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 1000, 4000])
    parser.add_argument("--chunk-delay", type=float, default=0.01)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AIW_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["AIW_CONFIG_DIR"] = str(Path(tmp) / "config")
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "xdg")
        with FakeLLM() as fake:
            fake.chunk_delay = args.chunk_delay
            fake.reply_fn = reply_for
            sample = reply_for({"messages": [{"content": "### a.py (lines 1-2)"}]})
            pace = len(sample.split()) / 3 * args.chunk_delay
            print(
                f"loopback model: {args.chunk_delay * 1000:.0f} ms per 3-word chunk "
                f"(~{pace:.2f} s an answer)"
            )
            print(
                f"{'diff lines':>10} {'files':>5} {'parallel':>8} {'calls':>5} "
                f"{'tokens sent':>11} {'wall s':>7} {'s/1k lines':>10}"
            )
            runs = [(size, 4) for size in args.sizes]
            if 1000 in args.sizes:
                runs.append((1000, 1))
            for index, (size, parallel) in enumerate(runs):
                root = Path(tmp) / f"repo{index}"
                actual = make_repo(root, size)
                row = asyncio.run(review_once(root, fake, parallel))
                print(
                    f"{actual:>10} {FILES:>5} {parallel:>8} {row['calls']:>5} "
                    f"{row['tokens']:>11} {row['wall']:>7.2f} "
                    f"{row['wall'] / actual * 1000:>10.2f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
