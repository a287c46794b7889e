"""Per-prompt cost of the aiw shell hook in real bash and zsh, and proof it forks nothing on
success.

For each shell, an interactive shell (``-i``, so PS0/PROMPT_COMMAND/precmd/preexec all run)
reads N successful commands (``:``) from a pipe, once with the hook sourced and once without;
the per-prompt cost is the difference of the best-of-R wall times divided by N. Then the
same run under ``strace -f`` counts fork/clone/vfork/execve calls after start-up: with the hook
on success it must be the same as without (0 extra processes).

The opt-in capture modes are measured the same way, each against its own baseline:
``tee`` (zsh; bash with bash-preexec, so its baseline is bash + bash-preexec without aiw; the
reader process starts with the shell, before the mark; both runs on a pty, under the proxy)
and ``pty`` (the shell under ``aiw shell pty`` with the hook printing OSC 133 marks, against
the same shell under the proxy without the hook). Extra lines give what the proxy itself adds
per prompt (plain shell under the proxy vs plain shell) and its throughput (``cat`` of 20 MB
through the proxy vs a plain pty from ``script``).

    python bench/hook_cost.py [--prompts 2000] [--runs 5] [--modes scrollback,tee,pty]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ai_workbench.shell.integration import render_init

MARK = "__aiw_bench_start__"
ROOT = Path(__file__).resolve().parent.parent
BASH_PREEXEC = ROOT / "tests" / "shell" / "bash-preexec.sh"
PROXY = [sys.executable, "-m", "ai_workbench.shell.pty_proxy"]


def _rc(shell: str, hook: bool, tmp: Path, mode: str = "scrollback") -> Path:
    init = tmp / f"init-{mode}.{shell}"
    os.environ["AIW_SHELL__CAPTURE"] = mode
    try:
        init.write_text(render_init(shell), encoding="utf-8")  # type: ignore[arg-type]
    finally:
        del os.environ["AIW_SHELL__CAPTURE"]
    body = "PS1='$ '\n" if shell == "bash" else "PROMPT='$ '\n"
    if shell == "bash" and mode == "tee":
        body += f". {BASH_PREEXEC}\n"  # tee in bash needs its preexec, in both runs
    if hook:
        body += f". {init}\n"
    if shell == "bash":
        path = tmp / f"rc-{hook}-{mode}.bash"
    else:
        zdot = tmp / f"zdot-{hook}-{mode}"
        zdot.mkdir(exist_ok=True)
        path = zdot / ".zshrc"
    path.write_text(body, encoding="utf-8")
    return path


def _argv(shell: str, rc: Path, mode: str = "scrollback") -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    env["HISTFILE"] = "/dev/null"
    env["PYTHONPATH"] = str(ROOT)
    if shell == "bash":
        argv = ["bash", "--noprofile", "--rcfile", str(rc), "-i"]
    else:
        env["ZDOTDIR"] = str(rc.parent)
        argv = ["zsh", "-i"]
    if mode in ("pty", "tee"):
        # tee: on a terminal too (bash-preexec runs no preexec when reading a pipe); the
        # proxy relays faster than `script` and is in both runs
        return [*PROXY, *argv], env
    return argv, env


def _script(prompts: int) -> str:
    return f"echo {MARK}\n" + ":\n" * prompts + "exit 0\n"


def timed(shell: str, rc: Path, prompts: int, mode: str = "scrollback") -> float:
    argv, env = _argv(shell, rc, mode)
    start = time.perf_counter()
    subprocess.run(
        argv, input=_script(prompts), text=True, env=env, capture_output=True, check=True
    )
    return time.perf_counter() - start


def forks(shell: str, rc: Path, prompts: int, tmp: Path, mode: str = "scrollback") -> int | None:
    """Process-creating syscalls after the start-up mark (None without strace)."""
    if not shutil.which("strace"):
        return None
    argv, env = _argv(shell, rc, mode)
    log = tmp / f"strace-{shell}-{mode}-{rc.name}-{rc.parent.name}.log"
    subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=fork,vfork,clone,clone3,execve,write", "-o", str(log),
         *argv],
        input=_script(prompts), text=True, env=env, capture_output=True, check=True,
    )  # fmt: skip
    started = False
    count = 0
    for line in log.read_text(errors="replace").splitlines():
        if not started:
            # the shell's own write of the mark (under the proxy, the proxy copies it too)
            started = "write(" in line and f'"{MARK}' in line
            continue
        if re.search(r"\b(?:fork|vfork|clone|clone3|execve)\(", line):
            count += 1
    return count if started else -1


def proxy_throughput(tmp: Path, megabytes: int = 20) -> tuple[float, float] | None:
    """Seconds to `cat` a file through a plain pty (`script`) and through the proxy."""
    if not shutil.which("script"):
        return None
    data = tmp / "big.txt"
    line = b"0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\n"
    data.write_bytes(line * (megabytes * 1024 * 1024 // len(line)))
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def once(argv: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env,
                       check=True, timeout=300)  # fmt: skip
        return time.perf_counter() - start

    plain = min(once(["script", "-qfec", f"cat {data}", "/dev/null"]) for _ in range(3))
    proxied = min(once([*PROXY, "cat", str(data)]) for _ in range(3))
    return plain, proxied


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--modes", default="scrollback,tee,pty")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    print(f"{args.prompts} successful commands per run, best of {args.runs}")
    print(
        f"{'shell':6} {'capture':10} {'without':>10} {'with hook':>10} {'cost/prompt':>12}"
        f" {'procs w/o':>10} {'procs with':>10} {'start-up':>10}"
    )
    show = lambda v: "n/a" if v is None else str(v)  # noqa: E731
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp / "run"))
        os.environ.pop("AIW_PTY_PID", None)
        bare: dict[str, float] = {}
        for mode in modes:
            for shell in ("bash", "zsh"):
                if not shutil.which(shell):
                    print(f"{shell:6} not installed")
                    continue
                plain, hooked = _rc(shell, False, tmp, mode), _rc(shell, True, tmp, mode)
                best = {}
                for name, rc in (("plain", plain), ("hook", hooked)):
                    for count in (0, args.prompts):
                        best[name, count] = min(
                            timed(shell, rc, count, mode) for _ in range(args.runs)
                        )
                # per prompt: the slope (N prompts minus start-up alone), so the start-up of
                # the tee reader or the proxy is not spread over the prompts
                slope = {n: best[n, args.prompts] - best[n, 0] for n in ("plain", "hook")}
                best_plain, best_hook = best["plain", args.prompts], best["hook", args.prompts]
                start_ms = (best["hook", 0] - best["plain", 0]) * 1000
                if mode == "scrollback":
                    bare[shell] = slope["plain"]
                cost_us = (slope["hook"] - slope["plain"]) / args.prompts * 1e6
                f_plain = forks(shell, plain, 200, tmp, mode)
                f_hook = forks(shell, hooked, 200, tmp, mode)
                label = {"tee": "tee+bp" if shell == "bash" else "tee"}.get(mode, mode)
                print(
                    f"{shell:6} {label:10} {best_plain * 1000:>8.1f}ms {best_hook * 1000:>8.1f}ms "
                    f"{cost_us:>9.1f} µs {show(f_plain):>10} {show(f_hook):>10} {start_ms:>+8.1f}ms"
                )
                if mode == "pty" and shell in bare:
                    proxy_us = (slope["plain"] - bare[shell]) / args.prompts * 1e6
                    print(f"{'':6} {'':10} the proxy itself, per prompt: {proxy_us:.1f} µs")
        if "pty" in modes:
            through = proxy_throughput(tmp)
            if through:
                plain, proxied = through
                print(
                    f"cat 20 MB: plain pty {plain * 1000:.0f} ms, through the proxy "
                    f"{proxied * 1000:.0f} ms ({20 / proxied:.0f} MB/s)"
                )
    print(
        "procs = fork/clone/execve calls during 200 successful prompts after start-up (strace -f)"
    )
    print("tee+bp: bash with bash-preexec in both runs (tee in bash needs its preexec)")
    print("cost/prompt: (N prompts - start-up alone) with hook minus the same without;")
    print("start-up: the hooked shell's start and exit with no command, minus the plain one's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
