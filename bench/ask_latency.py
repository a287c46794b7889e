"""Wall-clock latency of a whole ``aiw ask`` process vs simonw's ``llm`` CLI.

Both tools answer the same prompt from the same loopback fake OpenAI server
(``tests.fake_llm.FakeLLM``, started in this process), so the numbers are start-up plus
one streamed round trip: imports, config, the HTTP client, printing, logging. The target is
aiw's median ≤ 1.0x llm's.

    python bench/ask_latency.py [--runs 7] [--prompt TEXT] [--check]

``llm`` is installed into ``bench/.venv-llm`` on first use (``python -m venv`` +
``pip install llm``). ``aiw`` is this interpreter's ``bin/aiw`` (``--aiw`` overrides); if it
is missing the bench still times llm, says so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.fake_llm import FakeLLM  # noqa: E402

BIN = "Scripts" if os.name == "nt" else "bin"
EXE = ".exe" if os.name == "nt" else ""
DEFAULT_LLM_VENV = REPO_ROOT / "bench" / ".venv-llm"
DEFAULT_PROMPT = "Write a haiku about the terminal"
TARGET_RATIO = 1.0
FAKE_KEY = "sk-bench"
# Variables that would point either tool somewhere else, or at a proxy.
DROP_VARS = {
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "LLM_USER_PATH",
    "LLM_MODEL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
}


@dataclass
class Tool:
    name: str
    argv: list[str]
    times: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def min_ms(self) -> float:
        return min(self.times) * 1000


class BenchError(Exception):
    """A setup or run failure: the message says what and how to fix it."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_llm(venv: Path) -> Path:
    """``venv``'s ``llm`` executable, creating the venv and installing llm if needed."""
    llm_bin = venv / BIN / f"llm{EXE}"
    if llm_bin.exists():
        return llm_bin
    log(f"installing llm into {venv} (once) ...")
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv / BIN / f"python{EXE}"), "-m", "pip", "install", "--quiet", "llm"],
    ]
    if (venv / BIN / f"python{EXE}").exists():
        steps = steps[1:]
    for step in steps:
        proc = subprocess.run(step, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BenchError(
                f"could not install llm into {venv}: {' '.join(step)} exited "
                f"{proc.returncode}\n{proc.stdout}{proc.stderr}"
            )
    if not llm_bin.exists():
        raise BenchError(f"pip installed llm but {llm_bin} is missing")
    return llm_bin


def configure_llm(user_dir: Path, base_url: str) -> None:
    """An ``LLM_USER_PATH`` whose model ``fake`` is the fake server's ``echo`` model."""
    user_dir.mkdir(parents=True, exist_ok=True)
    (user_dir / "extra-openai-models.yaml").write_text(
        f'- model_id: fake\n  model_name: echo\n  api_base: "{base_url}"\n  api_key_name: fake\n',
        encoding="utf-8",
    )
    keys = {"// Note": "This file stores secret API credentials. Do not share!", "fake": FAKE_KEY}
    (user_dir / "keys.json").write_text(json.dumps(keys, indent=2), encoding="utf-8")


def isolated_env(tmp: Path, *, local_cost_map: bool) -> dict[str, str]:
    """This environment with fresh HOME/XDG dirs, no ``AIW_*``, provider keys or proxies."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AIW_") and not k.endswith("_API_KEY") and k not in DROP_VARS
    }
    for var, sub in [
        ("HOME", "home"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_RUNTIME_DIR", "runtime"),
    ]:
        path = tmp / sub
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        env[var] = str(path)
    env["LLM_USER_PATH"] = str(tmp / "llm")
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    if local_cost_map:
        env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    return env


def run_once(tool: Tool, env: dict[str, str], cwd: Path, timeout: float) -> tuple[float, str]:
    """Run the tool once; its wall-clock seconds and stdout."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            tool.argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{tool.name} did not finish in {timeout:.0f} s: {tool.argv}") from exc
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(
            f"{tool.name} exited {proc.returncode}: {' '.join(tool.argv)}\n"
            f"--- stdout ---\n{proc.stdout}--- stderr ---\n{proc.stderr}"
        )
    return elapsed, proc.stdout


def check_answer(tool: Tool, env: dict[str, str], cwd: Path, expected: str, timeout: float) -> None:
    """The warm-up run, which must print the echo answer."""
    elapsed, out = run_once(tool, env, cwd, timeout)
    if expected not in out:
        raise BenchError(
            f"{tool.name} did not print the fake server's answer {expected!r}; it printed:\n{out}"
        )
    log(f"{tool.name}: answer ok (warm-up {elapsed * 1000:.0f} ms)")


def report(tools: list[Tool], runs: int, prompt: str) -> float | None:
    print(f"aiw ask vs llm: {runs} interleaved runs each after 1 warm-up, prompt {prompt!r}")
    print(f"{'tool':<6}{'median ms':>12}{'min ms':>10}   runs ms")
    for tool in tools:
        each = " ".join(f"{t * 1000:.0f}" for t in tool.times)
        print(f"{tool.name:<6}{tool.median_ms:>12.1f}{tool.min_ms:>10.1f}   {each}")
    by_name = {tool.name: tool for tool in tools}
    if "aiw" not in by_name or "llm" not in by_name:
        return None
    aiw, llm = by_name["aiw"], by_name["llm"]
    ratio = aiw.median_ms / llm.median_ms
    verdict = "OK" if ratio <= TARGET_RATIO else "SLOWER THAN TARGET"
    print(
        f"ratio aiw/llm: median {ratio:.2f}x, min {aiw.min_ms / llm.min_ms:.2f}x"
        f"   target <= {TARGET_RATIO:.1f}x   {verdict}"
    )
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per tool (default 7)")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT, help="the prompt both tools send")
    parser.add_argument(
        "--aiw",
        type=Path,
        default=Path(sys.executable).parent / f"aiw{EXE}",
        help="the aiw executable (default: this interpreter's bin/aiw)",
    )
    parser.add_argument("--llm-venv", type=Path, default=DEFAULT_LLM_VENV, help="venv holding llm")
    parser.add_argument(
        "--local-cost-map",
        action="store_true",
        help="set LITELLM_LOCAL_MODEL_COST_MAP=True for both tools (default: as users run aiw)",
    )
    parser.add_argument("--timeout", type=float, default=60, help="seconds per run (default 60)")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the ratio misses the target"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    aiw_missing = not args.aiw.exists()
    if aiw_missing:
        log(
            f"aiw is not installed: {args.aiw} does not exist.\n"
            f"Install the project into this venv (`{sys.executable} -m pip install -e "
            f"{REPO_ROOT}`) so `aiw ask` exists; timing llm only."
        )

    try:
        llm_bin = ensure_llm(args.llm_venv)
        with tempfile.TemporaryDirectory(prefix="aiw-bench-") as tmp_name, FakeLLM() as fake:
            tmp = Path(tmp_name)
            env = isolated_env(tmp, local_cost_map=args.local_cost_map)
            configure_llm(tmp / "llm", fake.base_url)
            cwd = tmp / "work"
            cwd.mkdir()
            expected = f"You said: {args.prompt}"
            log(f"fake server at {fake.base_url}")

            llm = Tool("llm", [str(llm_bin), "-m", "fake", args.prompt])
            aiw = Tool(
                "aiw",
                [
                    str(args.aiw),
                    "ask",
                    "--model",
                    "openai/echo",
                    "--api-base",
                    fake.base_url,
                    args.prompt,
                ],
            )
            check_answer(llm, env, cwd, expected, args.timeout)
            tools = [llm]
            if not aiw_missing:
                check_answer(aiw, env, cwd, expected, args.timeout)
                tools = [aiw, llm]

            for i in range(args.runs):
                order = tools if i % 2 == 0 else tools[::-1]
                for tool in order:
                    elapsed, out = run_once(tool, env, cwd, args.timeout)
                    if expected not in out:
                        raise BenchError(f"{tool.name} run {i + 1} printed {out!r}")
                    tool.times.append(elapsed)
            chats = [r for r in fake.requests if r["path"].endswith("/chat/completions")]
            log(f"fake server answered {len(chats)} chat requests")
    except BenchError as exc:
        log(f"error: {exc}")
        return 2 if aiw_missing else 1

    ratio = report(tools, args.runs, args.prompt)
    if aiw_missing:
        log(f"aiw is not installed ({args.aiw} is missing): no comparison; exit 2")
        return 2
    if args.check and ratio is not None and ratio > TARGET_RATIO:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
