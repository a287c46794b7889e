"""How fast the workbench renders a streamed answer, and how fast it answers keys meanwhile.

    python bench/stream_render.py [--runs 3] [--tokens 2000]

The loopback fake server (tests/fake_llm.py) streams a Markdown answer of about ``--tokens``
tokens (headed sections of prose, lists, code blocks, a table), one word per SSE chunk as real
APIs do, with no delay: the model is never the bottleneck. The workbench runs in-process
(``App.run_test``, the headless driver: layout, Markdown parsing and compositing all happen,
only the bytes to the terminal are dropped) at 120x40.

Per run it prints:

- **tok/s rendered**: tokens of the answer / seconds from Enter until the answer is complete
  on screen (the Markdown widget holds the whole text and the stream has ended);
- **key latency**: while the answer streams, a key press is posted to the focused prompt every
  25 ms; its latency is the time until the prompt's text shows the character. Worst and p95.

Targets (issue 4): >= 1,000 tok/s rendered and a worst key latency < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

KEY_INTERVAL = 0.025


def markdown_answer(tokens: int) -> str:
    """A realistic technical answer of about ``tokens`` whitespace-separated words: headed
    sections of prose, bullet lists and code blocks, and one table (as the issue describes)."""
    parts: list[str] = []
    section = 0
    table = (
        "| status | retry | why |\n| --- | --- | --- |\n| 429 | yes | rate limited |\n"
        "| 503 | yes | overloaded |\n| 504 | yes | gateway timeout |\n| 400 | no | your bug |\n"
    )
    while sum(len(p.split()) for p in parts) < tokens - 40:
        section += 1
        parts.append(f"## {section}. Step {section}: configure the retry policy\n")
        parts.append(
            "The client retries **idempotent** requests with exponential backoff and full "
            "jitter, honouring `Retry-After` when the server sends it. Keep the retry budget "
            "small so that a slow dependency cannot pile up work in every caller at once, and "
            "make the budget visible in your metrics so you notice when it is spent.\n"
        )
        parts.append(
            "Measure before you tune: the p99 latency of the dependency tells you where the "
            "timeout belongs, and the error mix tells you which failures are worth a retry. "
            "Anything else is guesswork that only moves the outage somewhere else.\n"
        )
        parts.append(
            "- measure the p99 latency first\n- set the timeout just above it\n"
            "- cap retries at three, and never retry a `POST` without an idempotency key\n"
        )
        if section % 2:
            parts.append(
                "```python\nimport random\n\n\n"
                "def backoff(attempt: int, base: float = 0.2) -> float:\n"
                "    cap = min(10.0, base * 2 ** attempt)\n"
                "    return random.uniform(0, cap)  # full jitter\n```\n"
            )
    parts.append("## Which statuses to retry\n")
    parts.append(table)
    return "\n".join(parts)


async def one_run(tokens: int, workdir: Path) -> tuple[float, int, list[float], float]:
    from textual import events

    from ai_workbench.tui.app import AiwApp
    from tests.fake_llm import FakeLLM

    fake = FakeLLM().start()
    fake.reply = markdown_answer(tokens)
    fake.words_per_chunk = 1
    n_tokens = len(fake.reply.split())
    app = AiwApp(model="openai/echo", api_base=fake.base_url, cwd=workdir)
    latencies: list[float] = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            deadline = time.monotonic() + 30
            while not (app.store is not None and app.loaded is not None):
                if time.monotonic() > deadline:
                    raise SystemExit("the workbench did not finish starting in 30 s")
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            app.prompt.focus()
            app.prompt.insert("explain retries")
            started = time.perf_counter()
            cpu_started = time.process_time()
            # Posted, not pilot.press(): press() waits until the app is idle, i.e. the whole
            # answer has streamed, and no key could be timed meanwhile.
            app.post_message(events.Key("enter", "\r"))

            def answer_done() -> bool:
                views = app.chat_log.views
                return (
                    len(views) >= 2
                    and views[-1].role == "assistant"
                    and not app.streaming
                    and views[-1].text.strip() == fake.reply.strip()
                )

            while not app.streaming and not answer_done():
                await asyncio.sleep(0.001)
            typed = 0
            next_key = time.perf_counter()
            while not answer_done():
                now = time.perf_counter()
                if app.streaming and now >= next_key:
                    before = len(app.prompt.text)
                    sent = time.perf_counter()
                    app.post_message(events.Key("x", "x"))
                    while len(app.prompt.text) == before and app.streaming:
                        await asyncio.sleep(0.0005)
                    if len(app.prompt.text) > before:
                        latencies.append(time.perf_counter() - sent)
                        typed += 1
                    next_key = sent + KEY_INTERVAL
                await asyncio.sleep(0.001)
                if time.perf_counter() - started > 120:
                    raise SystemExit("the answer did not finish in 120 s")
            await pilot.pause()
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
    finally:
        fake.stop()
    return elapsed, n_tokens, latencies, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=2000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aiw-stream-bench-") as tmp:
        root = Path(tmp)
        os.environ.update(
            AIW_CONFIG_DIR=str(root / "config"),
            AIW_DATA_DIR=str(root / "data"),
            LITELLM_LOCAL_MODEL_COST_MAP="True",
        )
        work = root / "work"
        work.mkdir()
        rates: list[float] = []
        worst: list[float] = []
        for run in range(1, args.runs + 1):
            elapsed, n_tokens, latencies, cpu = asyncio.run(one_run(args.tokens, work))
            rate = n_tokens / elapsed
            rates.append(rate)
            lat_ms = sorted(x * 1000 for x in latencies)
            worst_ms = lat_ms[-1] if lat_ms else float("nan")
            p95 = lat_ms[int(0.95 * (len(lat_ms) - 1))] if lat_ms else float("nan")
            worst.append(worst_ms)
            print(
                f"run {run}: {n_tokens} tokens in {elapsed * 1000:.0f} ms = {rate:,.0f} tok/s "
                f"rendered (CPU {cpu * 1000:.0f} ms); {len(lat_ms)} keys while streaming: p50 "
                f"{statistics.median(lat_ms) if lat_ms else float('nan'):.1f} ms, p95 {p95:.1f} ms,"
                f" worst {worst_ms:.1f} ms"
            )
        print(
            f"median: {statistics.median(rates):,.0f} tok/s rendered (target >= 1,000); "
            f"worst key latency {max(worst):.1f} ms (target < 50 ms)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
