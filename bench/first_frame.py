"""Time to the workbench's first useful frame: `aiw` in a real terminal (tmux) until the
prompt's placeholder text is on screen.

    python bench/first_frame.py [--runs 5] [--aiw PATH] [--elia] [--baseline SRC] [--cpu]

Each run starts `aiw` in a fresh detached tmux session (120x36) in an empty project dir, then
polls ``tmux capture-pane`` every few milliseconds until the marker text appears; the time from
just before ``tmux new-session`` to that capture is the run's figure. Prints every run and the
median in ms. Each tool has its own HOME/XDG dirs (made for this bench, never the caller's),
kept from its warm-up run on: every timed run is an ordinary start, not a first run that creates
a database and config (Elia creates its database before its first frame).

``--elia`` also times Elia (``elia-chat``) the same way, interleaved with aiw run by run, from
``bench/.venv-elia`` (created with ``pip install elia-chat`` the first time; skipped with a
note if that fails, e.g. offline).

``--baseline SRC`` also times the same ``aiw`` with ``SRC`` (a checkout of other code, e.g.
``git archive main | tar -x -C /tmp/base``) first on ``PYTHONPATH``, interleaved as "base": a
before/after comparison that machine load hits equally.

``--cpu`` also reports, for every tool, the CPU time its process had used (all threads,
interpreter start included; ``/proc/PID/task/*/schedstat``) when the marker was seen: a figure
that machine load disturbs far less than wall time (a loaded 2-core machine stretches the wall
time, not the work).

Python may cache bytecode (``PYTHONDONTWRITEBYTECODE`` is dropped from the environment): an
installed package has its ``.pyc`` files, and the warm-up run writes them for a checkout, so
no run pays for compiling aiw's sources (about 30 ms of ~27 modules). ``--no-pyc`` keeps the
variable as the caller has it (figures before this fix were taken that way when it was set).

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


KEEP_NO_PYC = False  # --no-pyc


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIW_", "TMUX")) and not k.endswith("_API_KEY")
    }
    if not KEEP_NO_PYC:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
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


def time_once(
    argv: list[str],
    marker: str,
    label: str,
    pythonpath: str | None = None,
    home: Path | None = None,
) -> tuple[float, float | None] | None:
    """(milliseconds until ``marker`` is on screen, CPU milliseconds the process had used by
    then), or None (the last screen is printed). ``home``: the HOME/XDG root (default: fresh)."""
    with tempfile.TemporaryDirectory(prefix="aiw-first-frame-") as tmp:
        home = home or Path(tmp) / "home"
        work = Path(tmp) / "project"
        work.mkdir()
        env = _env(home)
        _prepend_path(env, pythonpath)
        session = f"ff-{os.getpid()}-{time.monotonic_ns()}"
        command = _command(argv, env)
        started = time.perf_counter()
        subprocess.run(
            [*TMUX, "new-session", "-d", "-s", session, "-x", str(SIZE[0]), "-y", str(SIZE[1]),
             "-c", str(work), command],
            check=True,
        )  # fmt: skip
        try:
            pid = _pane_pid(session)
            deadline = started + TIMEOUT
            screen = ""
            while time.perf_counter() < deadline:
                screen = _capture(session)
                if marker in screen:
                    wall = (time.perf_counter() - started) * 1000
                    return wall, _cpu_ms(pid)
                time.sleep(POLL)
            print(f"{label}: no '{marker}' after {TIMEOUT:.0f}s; last screen:\n{screen}")
            return None
        finally:
            subprocess.run([*TMUX, "kill-session", "-t", session], capture_output=True)


def _prepend_path(env: dict[str, str], pythonpath: str | None) -> None:
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, env.get("PYTHONPATH")) if p)


def _pane_pid(session: str) -> int | None:
    proc = subprocess.run(
        [*TMUX, "display", "-p", "-t", session, "#{pane_pid}"], capture_output=True, text=True
    )
    return int(proc.stdout) if proc.stdout.strip().isdigit() else None


def _cpu_ms(pid: int | None) -> float | None:
    """CPU time used so far by every thread of ``pid`` (the pane's command: ``exec env -i``
    keeps the pid), from the scheduler's nanosecond counters."""
    if pid is None:
        return None
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(task.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e6 if total else None


def _command(argv: list[str], env: dict[str, str]) -> str:
    """``argv`` as a tmux command line that runs with exactly ``env``.

    A session's command gets the tmux *server's* environment (taken when the keeper session
    started it), not the environment of the ``tmux new-session`` client: without ``env -i``
    every run would use the caller's HOME, config and PYTHONPATH.
    """
    pairs = [f"{k}={v}" for k, v in env.items() if k.isidentifier()]
    return " ".join(_quote(a) for a in ["exec", "env", "-i", *pairs, *argv])


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


def report(label: str, times: list[float], what: str = "first frame") -> float:
    median = statistics.median(times)
    runs = ", ".join(f"{t:.0f}" for t in times)
    print(f"{label:5} {what}: median {median:.0f} ms (min {min(times):.0f}; runs {runs})")
    return median


Tool = tuple[str, list[str], str, str | None]  # name, argv, marker, PYTHONPATH first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--aiw", default=str(BIN / "aiw"), help="the aiw executable")
    parser.add_argument("--elia", action="store_true", help="also time Elia side by side")
    parser.add_argument(
        "--baseline", metavar="SRC", help="also time aiw with SRC first on PYTHONPATH ('base')"
    )
    parser.add_argument(
        "--cpu", action="store_true", help="also the CPU time each process used until its frame"
    )
    parser.add_argument(
        "--no-pyc", action="store_true", help="keep PYTHONDONTWRITEBYTECODE (compile every run)"
    )
    args = parser.parse_args()
    global KEEP_NO_PYC
    KEEP_NO_PYC = args.no_pyc
    if shutil.which("tmux") is None:
        print("tmux is not installed (apt-get install tmux)", file=sys.stderr)
        return 2
    if not Path(args.aiw).exists():
        print(f"{args.aiw} not found; install the package (pip install -e .)", file=sys.stderr)
        return 2
    elia = ensure_elia() if args.elia else None
    tools: list[Tool] = [("aiw", [args.aiw], AIW_MARKER, None)]
    if args.baseline:
        tools.append(("base", [args.aiw], AIW_MARKER, str(Path(args.baseline).resolve())))
    if elia is not None:
        tools.append(("elia", [str(elia)], ELIA_MARKER, None))
    subprocess.run([*TMUX, "new-session", "-d", "-s", "keeper", "sleep 3600"], check=True)
    homes: dict[str, Path] = {}
    try:
        times: dict[str, list[float]] = {name: [] for name, *_ in tools}
        cpu: dict[str, list[float]] = {name: [] for name, *_ in tools}
        homes = {
            name: Path(tempfile.mkdtemp(prefix=f"aiw-first-frame-{name}-")) for name, *_ in tools
        }
        for name, argv, marker, path in tools:  # warm-up: page cache, .pyc files, config, database
            if time_once(argv, marker, name, path, homes[name]) is None:
                return 1
        for run in range(args.runs):
            # Interleaved, alternating who goes first, so drift in machine load hits all.
            for name, argv, marker, path in tools[:: 1 if run % 2 == 0 else -1]:
                took = time_once(argv, marker, name, path, homes[name])
                if took is None:
                    return 1
                times[name].append(took[0])
                if took[1] is not None:
                    cpu[name].append(took[1])
        medians = {name: report(name, values) for name, values in times.items()}
        for name in ("aiw", "base"):
            if name in medians and "elia" in medians:
                print(f"{name}/elia: {medians[name] / medians['elia']:.2f}x")
        if "base" in medians:
            print(f"aiw/base: {medians['aiw'] / medians['base']:.2f}x")
        if args.cpu:
            cpu_medians = {
                name: report(name, values, "CPU until frame")
                for name, values in cpu.items()
                if values
            }
            for name in ("aiw", "base"):
                if name in cpu_medians and "elia" in cpu_medians:
                    print(f"{name}/elia CPU: {cpu_medians[name] / cpu_medians['elia']:.2f}x")
            if "base" in cpu_medians:
                print(f"aiw/base CPU: {cpu_medians['aiw'] / cpu_medians['base']:.2f}x")
    finally:
        subprocess.run([*TMUX, "kill-server"], capture_output=True)
        for home in homes.values():
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
