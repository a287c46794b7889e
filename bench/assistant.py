"""The personal assistant's figures: tasks and reminders (this file's task parts) and memory /
session search (added beside them).

``bench_reminder_delay()``: the real scheduler (system clock, a real database in a temp dir)
with reminders due 0.3-3 s ahead, some known at start and some added while it sleeps (waking it
through the tasks service's change listeners): how late past its due time each is delivered.
Target: ≤ 1 s.

``bench_task_list()``: ``aiw task list``'s in-process work over 10,000 open tasks (the first
100 by due time, the count of the rest, the lines it prints; target ≤ 50 ms), ``--due today``,
and all 10,000 read as Task objects (what ``--json`` and ``--limit 0`` do).

    python bench/assistant.py [--tasks-only] [--reminders 10] [--tasks 10000] [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from ai_workbench.store import Store  # noqa: E402
from ai_workbench.tasks.scheduler import ReminderScheduler  # noqa: E402
from ai_workbench.tasks.service import TaskService  # noqa: E402

ZONE = ZoneInfo("Europe/Berlin")


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms"
    )


async def _reminder_delay(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "aiw.db")
        try:
            service = TaskService(store)
            delays: list[float] = []
            done = asyncio.Event()

            def delivered(reminder: Any) -> None:
                delays.append(time.time() - reminder.fire_at)
                if len(delays) == count:
                    done.set()

            known = count // 2
            now = time.time()
            for number in range(known):  # due times known when the scheduler starts
                due = datetime.fromtimestamp(now + 0.3 + number * 0.25, ZONE)
                await service.add(f"known {number}", due=due, tz=ZONE.key)
            scheduler = ReminderScheduler(service, hooks=[delivered], recheck=30)
            scheduler.start()
            await scheduler.started.wait()
            await asyncio.sleep(0.2)  # it is asleep now
            now = time.time()
            for number in range(count - known):  # added while it sleeps (wakes it)
                due = datetime.fromtimestamp(now + 0.5 + number * 0.25, ZONE)
                await service.add(f"added {number}", due=due, tz=ZONE.key)
            await asyncio.wait_for(done.wait(), timeout=30)
            wakeups = scheduler.wakeups
            await scheduler.stop()
        finally:
            await store.close()
    return {"delays": delays, "wakeups": wakeups}


def bench_reminder_delay(count: int = 10) -> dict[str, Any]:
    """Delivery delay past the due time (target ≤ 1 s); prints the figures."""
    result = asyncio.run(_reminder_delay(count))
    delays = result["delays"]
    verdict = "ok" if max(delays) <= 1.0 else "OVER TARGET"
    print(
        f"reminder delay past due ({len(delays)} reminders, half added while it slept): "
        f"{_ms(delays)}; {result['wakeups']} wake-ups in all (target ≤ 1000 ms: {verdict})"
    )
    return {"reminder_delay_ms": [round(d * 1000, 1) for d in delays], **result}


async def _task_list(total: int, runs: int) -> dict[str, Any]:
    from ai_workbench.cli.task import _line

    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "aiw.db")
        try:
            service = TaskService(store)
            now = time.time()
            rows = [
                (
                    "local", f"task number {n} with a title of some length", "open",
                    now + (n - total // 10) * 3600, ZONE.key, json.dumps(["ops"] if n % 3 else []),
                    now, now,
                )
                for n in range(total)
            ]  # fmt: skip
            async with store._write() as db:
                await db.executemany(
                    "INSERT INTO tasks (owner, title, status, due_at, tz, tags, created, updated)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                await db.executemany(
                    "INSERT INTO reminders (task_id, owner, fire_at) VALUES (?, 'local', ?)",
                    [(n + 1, row[3]) for n, row in enumerate(rows)],
                )
            shown: list[float] = []  # what `aiw task list` does: 100 lines and a count
            full: list[float] = []  # every one of the 10,000 as Task objects (JSON, the pane)
            today: list[float] = []  # --due today: an indexed range
            for _ in range(runs):
                started = time.perf_counter()
                tasks = await service.list(limit=101)
                more = await service.count() - 100
                lines = [_line(task, ZONE) for task in tasks[:100]]
                shown.append(time.perf_counter() - started)
                started = time.perf_counter()
                every = await service.list()
                full.append(time.perf_counter() - started)
                started = time.perf_counter()
                await service.list(due_before=datetime.now(ZONE) + timedelta(days=1))
                today.append(time.perf_counter() - started)
            assert len(lines) == 100 and more == total - 100 and len(every) == total
        finally:
            await store.close()
    return {"shown": shown, "full": full, "due_today": today}


def bench_task_list(total: int = 10_000, runs: int = 20) -> dict[str, Any]:
    """``task list`` over ``total`` tasks in process (target ≤ 50 ms); prints the figures."""
    result = asyncio.run(_task_list(total, runs))
    p50 = statistics.median(result["shown"])
    verdict = "ok" if p50 <= 0.05 else "OVER TARGET"
    print(f"task list over {total:,} open tasks, {runs} runs each:")
    print(f"  aiw task list (first 100 + count): {_ms(result['shown'])}")
    print(f"  --due today (indexed range):      {_ms(result['due_today'])}")
    print(f"  all {total:,} as Task objects:      {_ms(result['full'])}")
    print(f"  target p50 ≤ 50 ms for `aiw task list`: {verdict}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks-only", action="store_true", help="Only the tasks figures.")
    parser.add_argument("--reminders", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    bench_reminder_delay(args.reminders)
    bench_task_list(args.tasks, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
