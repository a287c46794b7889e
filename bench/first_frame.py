"""Time to the workbench's first useful frame: `aiw` in a real terminal (tmux) until the
prompt's placeholder text is on screen.

    python bench/first_frame.py [--runs 5] [--aiw PATH] [--elia] [--baseline SRC] [--cpu]

Each run starts `aiw` in a fresh detached tmux session (120x36) with fresh HOME/XDG dirs and
an empty project dir, then polls ``tmux capture-pane`` every few milliseconds until the
marker text appears; the time from just before ``tmux new-session`` to that capture is the
run's figure. Prints every run and the median in ms.

``--elia`` also times Elia (``elia-chat``) the same way, interleaved with aiw run by run, from
``bench/.venv-elia`` (created with ``pip install elia-chat`` the first time; skipped with a
note if that fails, e.g. offline).

``--baseline SRC`` also times the same ``aiw`` with ``SRC`` (a checkout of other code, e.g.
``git archive main | tar -x -C /tmp/base``) first on ``PYTHONPATH``, interleaved as "base": a
before/after comparison that machine load hits equally.

``--cpu`` adds figures that load disturbs far less than wall time, for aiw (and the baseline):
the process's CPU time (all threads, interpreter start included) and the number of modules
imported when the first frame is out, from a run that exits at its first frame.

Python may cache bytecode (``PYTHONDONTWRITEBYTECODE`` is dropped from the environment): an
installed package has its ``.pyc`` files, and the warm-up run writes them for a checkout, so
no run pays for compiling aiw's sources (about 30 ms of ~27 modules). ``--no-pyc`` keeps the
variable as the caller has it (figures before this fix were taken that way when it was set).

Needs tmux (``apt-get install tmux``). Exit codes: 0 done, 1 a run never showed its marker,
2 tmux or aiw missing.
"""

from __future__ import annotations

import argparse
import json
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
# Exits at the first frame and writes what it cost (``--cpu``): CPU time of the process so
# far (every thread, interpreter start included) and the modules imported.
CPU_DRIVER = """
import json, os, sys, time
from ai_workbench.tui import app as workbench
first_frame = workbench.AiwApp.on_ready
def on_ready(self):
    figures = {"cpu_ms": time.process_time() * 1000, "modules": len(sys.modules)}
    first_frame(self)
    with open(os.environ["AIW_BENCH_OUT"], "w") as out:
        json.dump(figures, out)
    self.exit()
workbench.AiwApp.on_ready = on_ready
from ai_workbench.cli.main import main
sys.argv = ["aiw"]
main()
"""


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
    argv: list[str], marker: str, label: str, pythonpath: str | None = None
) -> float | None:
    """Milliseconds until ``marker`` is on screen, or None (the last screen is printed)."""
    with tempfile.TemporaryDirectory(prefix="aiw-first-frame-") as tmp:
        home = Path(tmp) / "home"
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


def _prepend_path(env: dict[str, str], pythonpath: str | None) -> None:
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, env.get("PYTHONPATH")) if p)


def cpu_once(python: str, pythonpath: str | None) -> dict[str, float] | None:
    """CPU time and modules at aiw's first frame (a run that exits there), or None."""
    with tempfile.TemporaryDirectory(prefix="aiw-first-frame-") as tmp:
        home = Path(tmp) / "home"
        work = Path(tmp) / "project"
        work.mkdir()
        out = Path(tmp) / "figures.json"
        env = _env(home)
        _prepend_path(env, pythonpath)
        env["AIW_BENCH_OUT"] = str(out)
        session = f"cpu-{os.getpid()}-{time.monotonic_ns()}"
        command = _command([python, "-c", CPU_DRIVER], env)
        subprocess.run(
            [*TMUX, "new-session", "-d", "-s", session, "-x", str(SIZE[0]), "-y", str(SIZE[1]),
             "-c", str(work), command],
            check=True,
        )  # fmt: skip
        try:
            deadline = time.perf_counter() + TIMEOUT
            while time.perf_counter() < deadline:
                if out.exists() and out.stat().st_size:
                    time.sleep(0.05)  # the file is written in one go; let it close
                    return json.loads(out.read_text())
                time.sleep(POLL)
            print(f"cpu run: no figures after {TIMEOUT:.0f}s:\n{_capture(session)}")
            return None
        finally:
            subprocess.run([*TMUX, "kill-session", "-t", session], capture_output=True)


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


def report(label: str, times: list[float]) -> float:
    median = statistics.median(times)
    runs = ", ".join(f"{t:.0f}" for t in times)
    print(f"{label:5} first frame: median {median:.0f} ms (min {min(times):.0f}; runs {runs})")
    return median


Tool = tuple[str, list[str], str, str | None]  # name, argv, marker, PYTHONPATH first


def report_cpu(args: argparse.Namespace, tools: list[Tool]) -> bool:
    """Print the median CPU time and the modules at the first frame of aiw (and base)."""
    python = _python_of(args.aiw)
    mine = [(name, path) for name, _, _, path in tools if name in ("aiw", "base")]
    figures: dict[str, list[dict[str, float]]] = {name: [] for name, _ in mine}
    for run in range(args.runs):
        for name, path in mine[:: 1 if run % 2 == 0 else -1]:
            got = cpu_once(python, path)
            if got is None:
                return False
            figures[name].append(got)
    for name, values in figures.items():
        cpu = [v["cpu_ms"] for v in values]
        modules = int(statistics.median(v["modules"] for v in values))
        print(
            f"{name:5} to first frame: CPU median {statistics.median(cpu):.0f} ms "
            f"(min {min(cpu):.0f}), {modules} modules"
        )
    return True


def _python_of(script: str) -> str:
    """The interpreter a console script runs with (its #! line), else this one."""
    try:
        first = Path(script).read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return sys.executable
    return first[2:].strip() if first.startswith("#!") else sys.executable


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--aiw", default=str(BIN / "aiw"), help="the aiw executable")
    parser.add_argument("--elia", action="store_true", help="also time Elia side by side")
    parser.add_argument(
        "--baseline", metavar="SRC", help="also time aiw with SRC first on PYTHONPATH ('base')"
    )
    parser.add_argument(
        "--cpu", action="store_true", help="also CPU time and modules at aiw's first frame"
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
    try:
        times: dict[str, list[float]] = {name: [] for name, *_ in tools}
        for name, argv, marker, path in tools:  # warm-up: page cache, .pyc files
            if time_once(argv, marker, name, path) is None:
                return 1
        for run in range(args.runs):
            # Interleaved, alternating who goes first, so drift in machine load hits all.
            for name, argv, marker, path in tools[:: 1 if run % 2 == 0 else -1]:
                took = time_once(argv, marker, name, path)
                if took is None:
                    return 1
                times[name].append(took)
        medians = {name: report(name, values) for name, values in times.items()}
        for name in ("aiw", "base"):
            if name in medians and "elia" in medians:
                print(f"{name}/elia: {medians[name] / medians['elia']:.2f}x")
        if "base" in medians:
            print(f"aiw/base: {medians['aiw'] / medians['base']:.2f}x")
        if args.cpu and not report_cpu(args, tools):
            return 1
    finally:
        subprocess.run([*TMUX, "kill-server"], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
