"""What does saving a growing answer cost?  Rewrite (old) versus append (now).

Simulates a long answer streamed into a real aiw database: ``--saves`` periodic saves of
``--chunk`` new characters each, first by rewriting the whole message (``update_message``,
which also rewrites its full-text row), then by appending (``append_message``, one full-text
update at the end). Prints the total and the last save's time for both. Run from the repo root::

    python bench/answer_saves.py                 # 30 saves of 128 KB: a 3.8 MB answer
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path


async def _run(path: Path, saves: int, chunk: str, append: bool) -> tuple[float, float]:
    from ai_workbench.store import Store

    async with Store(path) as store:
        session = await store.create_session(title="bench")
        mid = await store.add_message(session.id, "assistant", "", status="partial")
        text = ""
        total = last = 0.0
        for _ in range(saves):
            text += chunk
            start = time.perf_counter()
            if append:
                await store.append_message(mid, chunk)
            else:
                await store.update_message(mid, content=text)
            last = time.perf_counter() - start
            total += last
        start = time.perf_counter()
        await store.update_message(mid, content=text, status="complete")
        total += time.perf_counter() - start
    return total, last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=30)
    parser.add_argument("--chunk-kb", type=int, default=128)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    words = " ".join(f"word{i}" for i in range(args.chunk_kb * 1024 // 8))
    chunk = (words + " ")[: args.chunk_kb * 1024]
    size = len(chunk) * args.saves / 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        for label, append in (("rewrite", False), ("append", True)):
            total, last = asyncio.run(_run(Path(tmp) / f"{label}.db", args.saves, chunk, append))
            print(
                f"{label:8s} {args.saves} saves, {size:.1f} MB answer: total {total * 1000:.0f} ms,"
                f" last save {last * 1000:.1f} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
