"""Time to the workbench's first useful frame: `aiw` in a real terminal (tmux) until the
prompt's placeholder text is on screen.

    python bench/first_frame.py [--runs 5] [--aiw PATH] [--elia]

Each run starts `aiw` in a fresh detached tmux session (120x36) with fresh HOME/XDG dirs and
an empty project dir, then polls ``tmux capture-pane`` every few milliseconds until the
marker text appears; the time from just before ``tmux new-session`` to that capture is the
run's figure. Prints every run and the median in ms.

``--elia`` also times Elia (``elia-chat``) the same way, interleaved with aiw run by run, from
``bench/.venv-elia`` (created with ``pip install elia-chat`` the first time; skipped with a
note if that fails, e.g. offline).

Needs tmux (``apt-get install tmux``). Exit codes: 0 done, 1 a run never showed its marker,
2 tmux or aiw missing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
AIW_MARKER = "Ask anything"
ELIA_MARKER = "Enter your message"  # the border title of Elia's prompt box
ELIA_VENV = REPO_ROOT / "bench" / ".venv-elia"
SIZE = (120, 36)
# A private tmux server (its own socket) kept alive by an idle session between runs: a
# server that exits with its last session can refuse the next new-session.
TMUX = ["tmux", "-L", f"aiw-first-frame-{os.getpid()}"]
POLL = 0.015
TIMEOUT = 30.0


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIW_", "TMUX")) and not k.endswith("_API_KEY")
    }
    for name in ("config", "data", "cache", "state"):
        (home / name).mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_STATE_HOME=str(home / "state"),
        TERM="xterm-256color",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
    )
    return env


def _capture(session: str) -> str:
    proc = subprocess.run(
        [*TMUX, "capture-pane", "-p", "-t", session],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout


def time_once(argv: list[str], marker: str, label: str) -> float | None:
    """Milliseconds until ``marker`` is on screen, or None (the last screen is printed)."""
    with tempfile.TemporaryDirectory(prefix="aiw-first-frame-") as tmp:
        home = Path(tmp) / "home"
        work = Path(tmp) / "project"
        work.mkdir()
        env = _env(home)
        session = f"ff-{os.getpid()}-{time.monotonic_ns()}"
        command = " ".join(_quote(a) for a in argv)
        started = time.perf_counter()
        subprocess.run(
            [*TMUX, "new-session", "-d", "-s", session, "-x", str(SIZE[0]), "-y", str(SIZE[1]),
             "-c", str(work), command],
            env=env,
            check=True,
        )  # fmt: skip
        try:
            deadline = started + TIMEOUT
            screen = ""
            while time.perf_counter() < deadline:
                screen = _capture(session)
                if marker in screen:
                    return (time.perf_counter() - started) * 1000
                time.sleep(POLL)
            print(f"{label}: no '{marker}' after {TIMEOUT:.0f}s; last screen:\n{screen}")
            return None
        finally:
            subprocess.run([*TMUX, "kill-session", "-t", session], capture_output=True)


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def ensure_elia() -> Path | None:
    exe = ELIA_VENV / "bin" / "elia"
    if exe.exists():
        return exe
    print(f"installing elia-chat into {ELIA_VENV} …", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(ELIA_VENV)], check=True)
        subprocess.run(
            [str(ELIA_VENV / "bin" / "pip"), "install", "-q", "elia-chat"], check=True, timeout=900
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"skipping Elia: cannot install elia-chat ({exc})", file=sys.stderr)
        return None
    return exe if exe.exists() else None


def report(label: str, times: list[float]) -> float:
    median = statistics.median(times)
    runs = ", ".join(f"{t:.0f}" for t in times)
    print(f"{label:5} first frame: median {median:.0f} ms (min {min(times):.0f}; runs {runs})")
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--aiw", default=str(BIN / "aiw"), help="the aiw executable")
    parser.add_argument("--elia", action="store_true", help="also time Elia side by side")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is not installed (apt-get install tmux)", file=sys.stderr)
        return 2
    if not Path(args.aiw).exists():
        print(f"{args.aiw} not found; install the package (pip install -e .)", file=sys.stderr)
        return 2
    elia = ensure_elia() if args.elia else None
    tools = [("aiw", [args.aiw], AIW_MARKER)]
    if elia is not None:
        tools.append(("elia", [str(elia)], ELIA_MARKER))
    subprocess.run([*TMUX, "new-session", "-d", "-s", "keeper", "sleep 3600"], check=True)
    try:
        times: dict[str, list[float]] = {name: [] for name, _, _ in tools}
        for name, argv, marker in tools:  # warm-up: page cache, .pyc files
            if time_once(argv, marker, name) is None:
                return 1
        for run in range(args.runs):
            # Interleaved, alternating who goes first, so drift in machine load hits both.
            for name, argv, marker in tools[:: 1 if run % 2 == 0 else -1]:
                took = time_once(argv, marker, name)
                if took is None:
                    return 1
                times[name].append(took)
        medians = {name: report(name, values) for name, values in times.items()}
        if "elia" in medians:
            print(f"aiw/elia: {medians['aiw'] / medians['elia']:.2f}x")
    finally:
        subprocess.run([*TMUX, "kill-server"], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
