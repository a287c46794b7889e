"""Sync 1,000 fake Confluence pages into an index, then again unchanged, then with 10 changed.

The fake server (tests/sources_fakes.py) answers the real REST API's shapes on 127.0.0.1:
``/rest/api/content?spaceKey=…&expand=body.storage,version`` in pages of 50 with
``_links.next``. Each `aiw sources sync` is a real process (start-up, store, index, embedder
included) in a throwaway HOME/XDG. Target: the unchanged run ≤ 5 s and no embedding call.

    python bench/sources.py [--pages 1000] [--page-size 50]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sources_fakes import TOKEN, FakeApis  # noqa: E402

WORDS = "cache deploy rollback canary latency quota shard replica backup index token".split()  # noqa: SIM905


def page_html(n: int, version: int) -> str:
    words = " ".join(WORDS[(n + i) % len(WORDS)] for i in range(60))
    return (
        f"<h1>Page {n}</h1><p>Topic {n} v{version}: {words}.</p>"
        f"<h2>Details</h2><p>{words} {n * 7}.</p><ul><li>owner team-{n % 13}</li></ul>"
    )


def run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, dict]:
    clock = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ai_workbench", *args],
        env=env, cwd=cwd, capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - clock
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{done.stderr}")
    return elapsed, json.loads(done.stdout)[0] if done.stdout.strip() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--page-size", type=int, default=50)
    opts = parser.parse_args()

    with FakeApis(page_size=opts.page_size) as apis, tempfile.TemporaryDirectory() as tmp:
        for n in range(1, opts.pages + 1):
            apis.add_page(str(n), f"Page {n}", page_html(n, 1))
        base = Path(tmp)
        project = base / "proj"
        (project / ".git").mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIW_")}
        env.update(
            HOME=str(base / "home"), XDG_CONFIG_HOME=str(base / "config"),
            XDG_DATA_HOME=str(base / "data"), XDG_CACHE_HOME=str(base / "cache"),
            PYTHONPATH=str(ROOT), WIKI_TOKEN=TOKEN, NO_PROXY="127.0.0.1",
        )  # fmt: skip
        add = ["sources", "add", "confluence", f"{apis.url}/wiki", "--space", "ENG",
               "--token-env", "WIKI_TOKEN", "--name", "wiki"]  # fmt: skip
        subprocess.run([sys.executable, "-m", "ai_workbench", *add], env=env, cwd=project,
                       check=True, capture_output=True)  # fmt: skip
        sync = ["sources", "sync", "wiki", "--json"]
        rows = []
        before = len(apis.requests)
        for label in ("first", "unchanged"):
            elapsed, report = run(sync, env, project)
            rows.append((label, elapsed, report, len(apis.requests) - before))
            before = len(apis.requests)
        for n in range(1, 11):
            apis.add_page(str(n * 97), f"Page {n * 97}", page_html(n * 97, 2), version=2)
        elapsed, report = run(sync, env, project)
        rows.append(("10 changed", elapsed, report, len(apis.requests) - before))

    print(f"{opts.pages} fake Confluence pages, {opts.page_size} per listing page")
    print(
        f"{'run':<11} {'wall s':>7} {'in-run s':>8} {'added':>6} {'updated':>7} "
        f"{'unchanged':>9} {'emb calls':>9} {'chunks emb':>10} {'emb s':>6} {'requests':>8}"
    )
    for label, elapsed, r, requests in rows:
        print(
            f"{label:<11} {elapsed:7.2f} {r['duration_s']:8.2f} {len(r['added']):6d} "
            f"{len(r['updated']):7d} {r['unchanged']:9d} {r['embedding_calls']:9d} "
            f"{r['chunks_embedded']:10d} {r['embedding_s']:6.2f} {requests:8d}"
        )
    unchanged = rows[1]
    ok = unchanged[1] <= 5.0 and unchanged[2]["embedding_calls"] == 0
    print(f"target: unchanged run ≤ 5 s with no embedding call: {'met' if ok else 'MISSED'} "
          f"({unchanged[1]:.2f} s, {unchanged[2]['embedding_calls']} calls)")  # fmt: skip


if __name__ == "__main__":
    main()
