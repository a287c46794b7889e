"""Idle memory of the workbench with a long session open: RSS of the real `aiw` in tmux.

    python bench/idle_memory.py [--messages 200] [--aiw PATH]

Seeds a fresh database (temp HOME/XDG dirs) with one session of ``--messages`` messages:
alternating prompts and Markdown answers of a few hundred words with a code block and a list,
like a real working session. Starts ``aiw --session ID`` in a detached 120x36 tmux pane, waits
until the session's last answer is on screen, lets it idle for 3 s and reads ``VmRSS`` (and
``VmHWM``, the peak) of the aiw process from /proc. For scale it also prints the RSS of a bare
Python that imported textual and nothing else.

Target (issue 4): idle RSS <= 150 MB after opening a 200-message session. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from first_frame import BIN, SIZE, TMUX, _capture, _env, _quote  # noqa: E402

LAST_MARKER = "final answer marker"


def answer(i: int) -> str:
    body = " ".join(
        f"The service {i} keeps a token bucket per client and refills it every second."
        for _ in range(12)
    )
    return (
        f"### Answer {i}\n\n{body}\n\n- step one for {i}\n- step two\n- step three\n\n"
        f"```python\ndef handler_{i}(request):\n    return limiter.check(request.client)\n```\n"
    )


async def seed(db: Path, messages: int) -> str:
    from ai_workbench.store import Store

    async with await Store.open(db) as store:
        session = await store.create_session(title="A long working session", model="openai/echo")
        for i in range(messages // 2):
            await store.add_message(session.id, "user", f"question {i}: how do we rate limit?")
            text = answer(i)
            if i == messages // 2 - 1:
                text += f"\n{LAST_MARKER}\n"
            await store.add_message(session.id, "assistant", text)
        return session.id


def rss_kb(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def baseline_textual_kb() -> int:
    code = (
        "import textual.app, textual.widgets, pathlib\n"
        "print(pathlib.Path('/proc/self/status').read_text())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--aiw", default=str(BIN / "aiw"))
    args = parser.parse_args()
    if shutil.which("tmux") is None or not Path(args.aiw).exists():
        print("needs tmux and an installed aiw (pip install -e .)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="aiw-idle-mem-") as tmp:
        home = Path(tmp) / "home"
        work = Path(tmp) / "project"
        work.mkdir()
        env = _env(home)
        data_dir = Path(tmp) / "aiw-data"
        env["AIW_DATA_DIR"] = str(data_dir)
        env["AIW_CONFIG_DIR"] = str(Path(tmp) / "aiw-config")
        os.environ["AIW_DATA_DIR"] = env["AIW_DATA_DIR"]
        from ai_workbench.store import default_db_path

        session_id = asyncio.run(seed(default_db_path(), args.messages))
        command = " ".join(_quote(a) for a in [args.aiw, "--session", session_id])
        name = f"mem-{os.getpid()}"
        subprocess.run(
            [*TMUX, "new-session", "-d", "-s", name, "-x", str(SIZE[0]), "-y", str(SIZE[1]),
             "-c", str(work), command],
            env=env,
            check=True,
        )  # fmt: skip
        try:
            pid = int(
                subprocess.run(
                    [*TMUX, "display", "-p", "-t", name, "#{pane_pid}"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
            )
            started = time.perf_counter()
            while LAST_MARKER not in _capture(name):
                if time.perf_counter() - started > 60:
                    print("the last answer never appeared; screen:\n" + _capture(name))
                    return 1
                time.sleep(0.05)
            shown = time.perf_counter() - started
            time.sleep(3)
            mem = rss_kb(pid)
        finally:
            subprocess.run([*TMUX, "kill-server"], capture_output=True)
    print(f"session of {args.messages} messages on screen after {shown * 1000:.0f} ms")
    print(
        f"idle RSS {mem['VmRSS'] / 1024:.0f} MB (peak {mem['VmHWM'] / 1024:.0f} MB); "
        f"bare python + textual: {baseline_textual_kb() / 1024:.0f} MB; target <= 150 MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
