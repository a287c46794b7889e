"""File-watch suggestions: save-to-suggestion latency and the idle watcher's CPU.

1. **Latency**: a real file in a temp git repo is saved with an ``AI?`` (then an ``AI!``)
   comment while :class:`~ai_workbench.watch.WatchService` runs with the default settings
   (``watch.debounce_ms`` = 300); the loopback fake model (``tests/fake_llm.py``) answers at once.
   Timed from just before the write to the moment the suggestion is committed to the queue
   (the queue's subscriber fires). Target: ≤ 1 s.
2. **Idle CPU**: a 2,000-file tree (100 directories × 20 files) is watched for a minute with no
   change; CPU is this process's user+system time (every thread, the watcher's included) over
   wall time. Target: < 1 %.

    python bench/watch.py [--runs 10] [--files 2000] [--idle-seconds 60]

Everything happens in temp dirs with fresh XDG dirs; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

TARGET_LATENCY_S = 1.0
TARGET_IDLE_CPU = 1.0  # percent


def _isolate(base: Path) -> None:
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        path = base / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(path)
    for name in list(os.environ):
        if name.startswith("AIW_"):
            del os.environ[name]
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"


async def _latency(base: Path, runs: int) -> dict[str, list[float]]:
    from ai_workbench.core.settings import load_config
    from ai_workbench.store import Store
    from ai_workbench.suggestions.service import SuggestionQueue
    from ai_workbench.watch import WatchService
    from tests.fake_llm import FakeLLM

    root = base / "latency"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    target = root / "app.py"
    target.write_text("def fetch(url):\n    return get(url)\n")
    settings = load_config(cwd=root).settings
    settings = settings.model_copy(
        update={"watch": settings.watch.model_copy(update={"max_calls_per_minute": 600})}
    )
    arrived: asyncio.Queue[float] = asyncio.Queue()
    times: dict[str, list[float]] = {"AI? (answer)": [], "AI! (patch)": []}
    with FakeLLM() as fake:
        store = await Store.open(base / "bench.db")
        queue = SuggestionQueue(store)
        queue.subscribe(lambda _item: arrived.put_nowait(time.perf_counter()))
        service = WatchService(root, settings, queue, model="openai/echo", api_base=fake.base_url)
        await service.start()
        try:
            for run in range(runs):
                for label in times:
                    if label.startswith("AI?"):
                        fake.reply = "It fetches the URL."
                        text = f"def fetch(url):\n    return get(url)  # what is run {run}? AI?\n"
                    else:
                        fake.reply = (
                            "```diff\n--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n"
                            " def fetch(url):\n-    return get(url)\n"
                            f"+    return get(url, timeout={run + 1})\n```\n"
                        )
                        text = f"def fetch(url):\n    return get(url)  # timeout {run + 1} AI!\n"
                    started = time.perf_counter()
                    target.write_text(text)
                    done = await asyncio.wait_for(arrived.get(), timeout=30)
                    times[label].append(done - started)
                    await asyncio.sleep(0.05)
        finally:
            await service.stop()
            await store.close()
    return times


async def _idle(base: Path, files: int, seconds: float) -> tuple[float, float, float]:
    from ai_workbench.core.settings import load_config
    from ai_workbench.store import Store
    from ai_workbench.suggestions.service import SuggestionQueue
    from ai_workbench.watch import WatchService

    root = base / "tree"
    per_dir = 20
    for n in range(files):
        folder = root / f"pkg{n // per_dir:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{n % per_dir:02d}.py").write_text(f"VALUE_{n} = {n}\n" * 20)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    settings = load_config(cwd=root).settings
    store = await Store.open(base / "idle.db")
    service = WatchService(root, settings, SuggestionQueue(store), model="openai/echo")
    started = time.perf_counter()
    await service.start()
    start_ms = (time.perf_counter() - started) * 1000
    await asyncio.sleep(1.0)  # let start-up settle
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await service.stop()
    await store.close()
    return start_ms, cpu, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="saves timed per kind")
    parser.add_argument("--files", type=int, default=2000, help="files in the idle tree")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="idle time measured")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="aiw-bench-watch-") as tmp:
        base = Path(tmp)
        _isolate(base)
        times = asyncio.run(_latency(base, args.runs))
        print(f"save -> suggestion in the queue ({args.runs} saves each, debounce 300 ms):")
        worst = 0.0
        for label, values in times.items():
            ms = sorted(v * 1000 for v in values)
            worst = max(worst, ms[-1])
            print(
                f"  {label:13} median {statistics.median(ms):6.0f} ms  min {ms[0]:5.0f} ms"
                f"  max {ms[-1]:5.0f} ms"
            )
        verdict = "ok" if worst <= TARGET_LATENCY_S * 1000 else "OVER"
        print(f"  target <= {TARGET_LATENCY_S * 1000:.0f} ms (every save): {verdict}")

        start_ms, cpu, wall = asyncio.run(_idle(base, args.files, args.idle_seconds))
        percent = cpu / wall * 100
        print(f"idle watcher on {args.files} files:")
        print(f"  watch registered in {start_ms:.0f} ms")
        print(f"  CPU {cpu * 1000:.0f} ms over {wall:.1f} s wall = {percent:.2f} %")
        verdict = "ok" if percent < TARGET_IDLE_CPU else "OVER"
        print(f"  target < {TARGET_IDLE_CPU:.0f} %: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
