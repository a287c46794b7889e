"""Memory and session search figures (issue 19): search latency over many messages, and the
prompt tokens memory adds to each chat turn.

1. Session search: ``--messages`` messages (default 100,000; sessions of 50, 30 random words
   each, plus planted error messages and code fragments) written into a real aiw database with
   its FTS5 word and trigram indexes; then every query of :data:`QUERIES` runs ``--rounds``
   times through ``SessionService.search`` (the one search the CLI, the workbench and the MCP
   server use), interleaved. Prints p50/p95 per query kind and overall (target p50 ≤ 30 ms).
2. Prompt tokens: a profile of ``--facts`` pinned facts plus ``--recall-facts`` recall-only
   ones; the system-prompt section memory adds for a few prompts (profile block + recalled
   facts) and the ``remember_fact`` tool's spec, in estimated tokens (4 characters a token, as
   chat's window fitting counts them), with the section's build time.

Run from the repo root::

    python bench/assistant_memory.py
    python bench/assistant_memory.py --messages 10000 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

WORDS = [
    "deploy", "cluster", "retry", "timeout", "config", "parser", "cache", "index", "query",
    "table", "schema", "migration", "worker", "thread", "socket", "request", "response",
    "header", "token", "session", "commit", "branch", "merge", "test", "fixture", "mock",
    "build", "docker", "image", "volume", "network", "proxy", "router", "handler", "logger",
]  # fmt: skip
RARE = ["zeppelin", "quokka", "marzipan", "obsidian", "tamarind"]
PLANTED = [
    "Traceback (most recent call last):\n  File \"app.py\", line 3\nKeyError: 'id'",
    "the bug is in foo_bar(x) when x is None",
    "psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint",
    "TypeError: unsupported operand type(s) for +: 'int' and 'str'",
]
QUERIES = {
    "words (common)": ["retry timeout", "docker volume", "merge branch commit"],
    "words (rare)": ["zeppelin", "quokka budget", "marzipan"],
    "prefix": ["migrat*", "sock*"],
    "exact text": ["KeyError: 'id'", "foo_bar(", "UniqueViolation: duplicate", "+: 'int'"],
}


async def build(path: Path, messages: int) -> float:
    from ai_workbench.store import Store

    rng = random.Random(19)
    now = time.time()
    started = time.perf_counter()
    async with Store(path) as store, store._write() as db:
        for start in range(0, messages, 50):
            sid = f"{start:032x}"
            stamp = now - (messages - start) * 30
            await db.execute(
                "INSERT INTO sessions (id, title, model, context, created, updated)"
                " VALUES (?, ?, ?, '[]', ?, ?)",
                (sid, f"session {start // 50}", "qwen", stamp, stamp),
            )
            rows = []
            for n in range(start, min(start + 50, messages)):
                words = [rng.choice(WORDS) for _ in range(30)]
                if rng.random() < 0.01:
                    words.append(rng.choice(RARE))
                text = " ".join(words)
                if rng.random() < 0.002:
                    text += "\n" + rng.choice(PLANTED)
                role = "user" if n % 2 == 0 else "assistant"
                when = now - (messages - n) * 30
                rows.append((sid, role, text, when, when))
            await db.executemany(
                "INSERT INTO messages (session_id, role, content, created, updated)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
    return time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def search_bench(
    path: Path, rounds: int, limit: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU milliseconds per search, by query kind (CPU time, which other jobs on the
    machine disturb far less, counts SQLite's thread too)."""
    from ai_workbench.chat.sessions import SessionService
    from ai_workbench.store import Store

    times: dict[str, list[float]] = {kind: [] for kind in QUERIES}
    cpu: dict[str, list[float]] = {kind: [] for kind in QUERIES}
    counts: dict[str, int] = {}
    async with Store(path) as store:
        service = SessionService(store)
        await service.search("warm up", limit)
        for _ in range(rounds):
            for kind, queries in QUERIES.items():
                for query in queries:
                    start, start_cpu = time.perf_counter(), time.process_time()
                    hits = await service.search(query, limit)
                    times[kind].append((time.perf_counter() - start) * 1000)
                    cpu[kind].append((time.process_time() - start_cpu) * 1000)
                    counts[query] = len(hits)
    print("  hits per query:", json.dumps(counts))
    return times, cpu


async def tokens_bench(path: Path, facts: int, recall_facts: int) -> None:
    from ai_workbench.core.context import estimate_tokens
    from ai_workbench.core.settings import KnowledgeSettings, MemorySettings
    from ai_workbench.memory.service import MemoryService
    from ai_workbench.memory.tools import _SPEC
    from ai_workbench.store import Store

    profile = [
        "My timezone is Europe/Berlin", "I write Python 3.12 and TypeScript",
        "I prefer pytest with plain asserts over unittest", "We deploy with Helm on k3s",
        "Keep answers short; show code first", "Our CI is GitHub Actions",
        "The main database is PostgreSQL 16", "I use neovim and tmux",
        "Staging is at staging.internal, production at prod.internal",
        "Commit messages follow Conventional Commits",
    ]  # fmt: skip
    recall = [
        "The payments service retries failed charges 3 times with exponential backoff",
        "The billing cron runs at 02:00 UTC", "Our Kafka cluster has 6 brokers",
        "Frontend builds use Vite; the bundle limit is 250 KB",
        "On-call rotation changes on Mondays", "Grafana dashboards live in the ops repo",
        "The legacy API is Flask 1.1 and must stay on Python 3.8",
        "S3 buckets are in eu-central-1",
    ]  # fmt: skip
    prompts = [
        "why does the payments retry fire twice?",
        "write a haiku about the sea",
        "how do I add a Kafka consumer in Python?",
    ]
    async with Store(path) as store:
        memory = MemoryService(store, MemorySettings(), KnowledgeSettings())
        await memory.clear("all")
        for n in range(facts):
            await memory.add(profile[n % len(profile)] + ("" if n < len(profile) else f" ({n})"))
        for n in range(recall_facts):
            base = recall[n % len(recall)]
            await memory.add(base + ("" if n < len(recall) else f" ({n})"), pinned=False)
        block = await memory.profile_block()
        print(f"  profile block: {facts} pinned facts -> ~{estimate_tokens(block)} tokens "
              f"(budget {memory.settings.profile_tokens})")  # fmt: skip
        for prompt in prompts:
            start = time.perf_counter()
            section = await memory.system_section(prompt)
            took = (time.perf_counter() - start) * 1000
            recalled = section.count("\n- ") - block.count("\n- ")
            print(
                f"  {prompt!r}: +~{estimate_tokens(section)} tokens in the system prompt "
                f"({recalled} recalled fact(s)), built in {took:.1f} ms"
            )
        spec = estimate_tokens(json.dumps(_SPEC))
        print(f"  remember_fact tool spec: +~{spec} tokens per request that offers it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--facts", type=int, default=10)
    parser.add_argument("--recall-facts", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        took = asyncio.run(build(path, args.messages))
        size = path.stat().st_size / 1e6
        print(f"session search: {args.messages:,} messages written in {took:.1f} s "
              f"(database {size:.0f} MB with both FTS5 indexes)")  # fmt: skip
        times, cpu = asyncio.run(search_bench(path, args.rounds, args.limit))
        for kind, values in times.items():
            cpu50 = statistics.median(cpu[kind])
            print(f"  {kind:<16} p50 {statistics.median(values):6.1f} ms   "
                  f"p95 {pct(values, 0.95):6.1f} ms   CPU p50 {cpu50:6.1f} ms"
                  f"   ({len(values)} searches)")  # fmt: skip
        every = [t for values in times.values() for t in values]
        every_cpu = [t for values in cpu.values() for t in values]
        p50 = statistics.median(every)
        verdict = "meets" if p50 <= 30 else "MISSES"
        print(f"  all              p50 {p50:6.1f} ms   p95 {pct(every, 0.95):6.1f} ms   "
              f"CPU p50 {statistics.median(every_cpu):6.1f} ms   "
              f"(wall p50 {verdict} the 30 ms target; "
              f"load average {os.getloadavg()[0]:.1f})")  # fmt: skip
        print("memory prompt tokens per turn:")
        asyncio.run(tokens_bench(Path(tmp) / "memory.db", args.facts, args.recall_facts))


if __name__ == "__main__":
    main()
