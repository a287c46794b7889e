"""How `aiw telegram` shows a streamed answer: edits, their rate, and the cost of formatting.

    python bench/telegram_stream.py [--tokens 3000] [--delay 0.01] [--interval 1.0]

The bot (python-telegram-bot) runs in-process against the loopback fake Bot API
(tests/fake_telegram.py) and the loopback model (tests/fake_llm.py, model ``slow``: a Markdown
answer of about ``--tokens`` words, a chunk every ``--delay`` seconds). One paired user asks once.

It prints:

- **stream**: seconds the model streamed, messages the answer took, edits made, and the highest
  edit rate in any one-second window (target: at most 1 / ``--interval``);
- **final**: the formatted pass when the answer is done (Markdown -> HTML for every message);
- **format cost**: milliseconds to split and render (Markdown -> Telegram HTML) an answer of
  4, 40 and 400 kB, what every throttled edit and the final pass do.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def markdown_answer(words: int) -> str:
    parts, count, n = [], 0, 0
    while count < words:
        n += 1
        prose = " ".join(f"word{i}" for i in range(60))
        code = "\n".join(f"    total_{i} = part_{i} * rate  # step {i}" for i in range(15))
        parts.append(f"## Step {n}\n\n{prose} **bold** `x < y`\n\n```python\ndef f():\n{code}\n```")
        count += 60 + 15 * 7
    return "\n\n".join([*parts, "The end."])


def format_cost() -> list[tuple[int, float]]:
    from ai_workbench.telegram.markdown import to_telegram_html
    from ai_workbench.telegram.split import split_message

    rows = []
    for kb in (4, 40, 400):
        text = markdown_answer(kb * 1024 // 6)[: kb * 1024]
        started = time.perf_counter()
        runs = 5
        for _ in range(runs):
            for piece in split_message(text):
                to_telegram_html(piece)
        rows.append((kb, (time.perf_counter() - started) / runs * 1000))
    return rows


async def run(tokens: int, delay: float, interval: float) -> None:
    from click.testing import CliRunner

    from ai_workbench.cli.main import main
    from ai_workbench.core.settings import load_config
    from ai_workbench.store import Store
    from ai_workbench.telegram.bot import run_bot
    from tests.fake_llm import FakeLLM
    from tests.fake_telegram import TOKEN, FakeTelegram

    answer = markdown_answer(tokens)
    with FakeLLM() as llm, FakeTelegram() as tg, tempfile.TemporaryDirectory() as tmp:
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            os.environ[name] = str(Path(tmp, name))
        config = Path(tmp, "XDG_CONFIG_HOME", "aiw", "config.toml")
        config.parent.mkdir(parents=True)
        config.write_text(
            f'default_provider = "fake"\n[providers.fake]\nmodel = "openai/slow"\n'
            f'api_base = "{llm.base_url}"\n[telegram]\nbase_url = "{tg.base_url}"\n'
            f"edit_interval = {interval}\npoll_timeout = 1\nburst = 50\n"
        )
        llm.reply, llm.chunk_delay = answer, delay
        stop, ready = asyncio.Event(), asyncio.Event()
        store = await Store.open()
        task = asyncio.create_task(
            run_bot(load_config({}), store, TOKEN, stop, on_event=lambda _: None,
                    ready=lambda _: ready.set())
        )  # fmt: skip
        await ready.wait()
        tg.user_says(1, "/start")
        while not tg.chat(1):
            await asyncio.sleep(0.02)
        code = tg.chat(1)[0].text.split("pairing code is ")[1].split()[0]
        result = await asyncio.to_thread(CliRunner().invoke, main, ["telegram", "pair", code])
        assert result.exit_code == 0, result.output
        started = time.monotonic()
        tg.user_says(1, "explain")
        while not any("Step" in m.text for m in tg.chat(1)):
            await asyncio.sleep(0.01)
        while not any(m.parse_mode == "HTML" and "The end." in m.text for m in tg.chat(1)):
            await asyncio.sleep(0.01)
        done = time.monotonic()
        await asyncio.sleep(interval + 0.5)
        stop.set()
        await task
        await store.close()
    streaming = [
        t for t, m, p in tg.timed_calls if m == "editMessageText" and not p.get("parse_mode")
    ]
    peak = max((sum(1 for u in streaming if t <= u < t + 1.0) for t in streaming), default=0)
    formatted = [t for t, m, p in tg.timed_calls if p.get("parse_mode") and t >= started]
    last_plain = max(streaming, default=started)
    final = [t for t in formatted if t >= last_plain]
    messages = len(tg.chat(1)) - 1
    print(
        f"stream: {done - started:.1f} s, {messages} message(s), {len(streaming)} plain edits "
        f"(peak {peak} in any 1 s; throttle {1 / interval:g}/s), {len(formatted)} formatted"
    )
    print(
        f"final pass: {len(final)} formatted send/edit(s), done "
        f"{(done - last_plain) * 1000:.0f} ms after the last streaming edit"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=3000)
    parser.add_argument("--delay", type=float, default=0.01)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    asyncio.run(run(args.tokens, args.delay, args.interval))
    for kb, ms in format_cost():
        print(f"format cost: {kb:>3} kB answer split + rendered in {ms:.1f} ms")


if __name__ == "__main__":
    main()
