"""End-to-end `aiw ask` and `aiw sessions`: real processes, the loopback fake LLM, the real DB.

Every test runs ``python -m ai_workbench`` as a subprocess (``run_aiw`` or ``Popen``) in the
isolated environment from ``conftest.py`` and checks exit codes, stdout/stderr and the SQLite
file at ``$XDG_DATA_HOME/aiw/aiw.db`` (opened with the stdlib ``sqlite3``).

The ``--engine litellm`` variants are slow to start (importing litellm takes seconds), so the
module fixture ``litellm_runs`` runs all of them at once, as forked children of one process
that imported litellm, against a private fake server; the parametrized tests read the results.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROVIDER_ENV_VARS, PROXY_ENV_VARS, REPO_ROOT, IsolatedEnv, RunAiw
from tests.fake_llm import FakeLLM, long_answer

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
PASSWORD = "hunter2hunter2"
SLOW_ANSWER = long_answer()
# The fake `slow` model sends 3 words every 0.05 s: 60 words a second.
WORDS_PER_SECOND = 60


# --- helpers -------------------------------------------------------------------------------


def db_path(env: IsolatedEnv) -> Path:
    return env.aiw_data / "aiw.db"


def query(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute(sql, params).fetchall())
    finally:
        conn.close()


def messages(path: Path, session_id: str | None = None) -> list[sqlite3.Row]:
    if session_id is None:
        return query(path, "SELECT * FROM messages ORDER BY id")
    return query(path, "SELECT * FROM messages WHERE session_id = ? ORDER BY id", (session_id,))


def sessions(path: Path) -> list[sqlite3.Row]:
    return query(path, "SELECT * FROM sessions ORDER BY created")


def ask_args(fake: FakeLLM | str, model: str, *rest: str) -> list[str]:
    base = fake if isinstance(fake, str) else fake.base_url
    return ["ask", "--model", f"openai/{model}", "--api-base", base, *rest]


def closed_port_url() -> str:
    """An http://127.0.0.1:PORT/v1 URL where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """What ``run_aiw`` passes: the (isolated) current environment plus the repo on the path."""
    env = dict(os.environ)
    pythonpath = env.get("PYTHONPATH")
    env["PYTHONPATH"] = f"{REPO_ROOT}{os.pathsep}{pythonpath}" if pythonpath else str(REPO_ROOT)
    env.update(extra or {})
    return env


def popen_aiw(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ai_workbench", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=subprocess_env(env),
        # A shell runs background jobs (a CI runner may too) with SIGINT ignored, and Python
        # keeps an ignored SIGINT ignored: give the child the default, as a terminal would.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def read_for(proc: subprocess.Popen[bytes], seconds: float, first_timeout: float = 15.0) -> bytes:
    """Read stdout until the first byte arrives, then for ``seconds`` more."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    out = b""
    ready, _, _ = select.select([fd], [], [], first_timeout)
    assert ready, "no output from aiw"
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
    return out


def assert_one_error_line(stderr: str, *needles: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("aiw: error: "), line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


# --- 1. echo ---------------------------------------------------------------------------------


def test_echo_answer_is_printed_and_saved(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    result = run_aiw(*ask_args(fake_llm, "echo", "hello there"))

    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: hello there\n"
    assert "Traceback" not in result.stderr

    db = db_path(isolated_env)
    (session,) = sessions(db)
    assert session["title"] == "hello there"
    assert session["model"] == "openai/echo"
    user, assistant = messages(db, session["id"])
    assert (user["role"], user["content"], user["status"]) == ("user", "hello there", "complete")
    assert assistant["role"] == "assistant"
    assert assistant["status"] == "complete"
    assert assistant["content"] == "You said: hello there"
    assert assistant["model"] == "openai/echo"
    assert assistant["error"] is None
    # The fake server counts whitespace-separated words as tokens.
    assert assistant["tokens_in"] == 2
    assert assistant["tokens_out"] == 4
    assert assistant["latency_ms"] is not None
    assert user["id"] < assistant["id"]

    (request,) = fake_llm.chat_requests
    assert request["json"]["model"] == "echo"
    assert request["json"]["stream"] is True
    assert request["json"]["messages"] == [{"role": "user", "content": "hello there"}]


# --- 2. stdin, --json, --code ----------------------------------------------------------------


def test_piped_stdin_is_attached(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    diff = "diff --git a/app.py b/app.py\n-print('old')\n+print('new')\n"
    result = run_aiw(*ask_args(fake_llm, "echo", "write a commit message"), input=diff)

    assert result.returncode == 0, result.stderr
    (request,) = fake_llm.chat_requests
    sent = request["json"]["messages"][-1]
    assert sent["role"] == "user"
    assert "write a commit message" in sent["content"]
    assert "+print('new')" in sent["content"]
    assert "-print('old')" in sent["content"]
    # The saved user message is what was sent.
    user, _ = messages(db_path(isolated_env))
    assert user["content"] == sent["content"]


def test_no_stdin_flag_ignores_piped_text(run_aiw: RunAiw, fake_llm: FakeLLM) -> None:
    result = run_aiw(*ask_args(fake_llm, "echo", "--no-stdin", "hi"), input="SECRET-STDIN")

    assert result.returncode == 0, result.stderr
    assert "SECRET-STDIN" not in json.dumps(fake_llm.chat_requests[-1]["json"])


def test_json_output(run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv) -> None:
    result = run_aiw(*ask_args(fake_llm, "echo", "--json", "ping"), input="piped context")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {
        "session_id",
        "message_id",
        "status",
        "truncated",
        "answer",
        "model",
        "provider",
        "engine",
        "usage",
        "latency_ms",
        "cost_usd",
        "error",
        "citations",
    }
    assert data["status"] == "complete" and data["truncated"] is False
    assert data["cost_usd"] == 0.0  # an unpriced model on this machine
    assert data["answer"].startswith("You said: ping")
    assert "piped context" in data["answer"]
    assert data["model"] == "openai/echo"
    assert data["provider"] == f"127.0.0.1:{fake_llm.port}"
    assert data["engine"] == "direct"
    assert data["error"] is None
    assert data["citations"] is None  # not a grounded answer
    assert isinstance(data["latency_ms"], int)
    assert data["usage"]["completion_tokens"] == len(data["answer"].split())
    assert data["usage"]["prompt_tokens"] > 0

    db = db_path(isolated_env)
    (session,) = sessions(db)
    assert session["id"] == data["session_id"]
    assistant = messages(db)[-1]
    assert assistant["id"] == data["message_id"]
    assert assistant["content"] == data["answer"]


def test_json_output_on_failure(run_aiw: RunAiw, fake_llm: FakeLLM) -> None:
    result = run_aiw(*ask_args(fake_llm, "fail-404", "--json", "ping"))

    assert result.returncode == 5
    data = json.loads(result.stdout)
    assert data["status"] == "error"
    assert data["answer"] == ""
    assert "fail-404" in data["error"]
    assert "Traceback" not in result.stderr


def test_an_answer_cut_at_the_token_limit_is_marked_truncated(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    fake_llm.reply = "The first half of a long answer"
    plain = run_aiw(*ask_args(fake_llm, "length", "tell me everything"))

    assert plain.returncode == 10, plain.stderr  # like a cut answer, never "success"
    assert plain.stdout == "The first half of a long answer\n"
    line = assert_one_error_line(plain.stderr, "truncated", "token limit")
    assert "partial answer is kept" in line
    assistant = messages(db_path(isolated_env))[-1]
    assert assistant["status"] == "partial"
    assert "token limit" in assistant["error"]

    as_json = run_aiw(*ask_args(fake_llm, "length", "--json", "again"))
    assert as_json.returncode == 10
    data = json.loads(as_json.stdout)
    assert data["truncated"] is True and data["status"] == "partial"
    assert data["answer"] == "The first half of a long answer"
    assert "token limit" in data["error"]

    shown = run_aiw("sessions", "show", data["session_id"])
    assert "**partial**" in shown.stdout and "token limit" in shown.stdout


def test_code_prints_only_the_code(run_aiw: RunAiw, fake_llm: FakeLLM) -> None:
    fake_llm.reply = (
        "Here is the script:\n\n```python\nimport sys\n\nprint(sys.argv)\n```\n\n"
        "Run it with python."
    )
    result = run_aiw(*ask_args(fake_llm, "echo", "--code", "print the args"))

    assert result.returncode == 0, result.stderr
    assert result.stdout == "import sys\n\nprint(sys.argv)\n"


def test_code_without_a_code_block_exits_14(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    fake_llm.reply = "No code here, just prose."
    result = run_aiw(*ask_args(fake_llm, "echo", "--code", "explain"))

    # Not 3 ("input refused"): the request succeeded, the answer just had no code block.
    assert result.returncode == 14
    assert result.stdout == ""
    assert "no fenced code block" in result.stderr
    assert "Traceback" not in result.stderr
    # The answer is still saved.
    assert messages(db_path(isolated_env))[-1]["content"] == "No code here, just prose."


# --- 3. failures -> exit codes ---------------------------------------------------------------


@dataclass(frozen=True)
class FailureCase:
    model: str
    exit_code: int
    env: dict[str, str]
    partial: bool = False  # the stream was cut after some text
    refused: bool = False  # point --api-base at a closed port


NO_RETRY = {"AIW_MAX_RETRIES": "0"}
FAILURES: dict[str, FailureCase] = {
    "fail-401": FailureCase("fail-401", 4, NO_RETRY),
    "fail-403": FailureCase("fail-403", 4, NO_RETRY),
    "fail-404": FailureCase("fail-404", 5, NO_RETRY),
    "fail-429": FailureCase("fail-429", 6, NO_RETRY),
    "fail-500": FailureCase("fail-500", 7, NO_RETRY),
    "fail-503": FailureCase("fail-503", 7, NO_RETRY),
    # the first token has its own (longer, for a local server) timeout since issue 14
    "hang": FailureCase(
        "hang", 8, {**NO_RETRY, "AIW_REQUEST_TIMEOUT": "1", "AIW_FIRST_TOKEN_TIMEOUT": "1"}
    ),
    "refused": FailureCase("echo", 9, NO_RETRY, refused=True),
    "cut": FailureCase("cut", 10, NO_RETRY, partial=True),
    # [DONE] without a finish_reason: the server interrupted the answer (llama-cpp-python)
    "interrupt": FailureCase("interrupt", 10, NO_RETRY, partial=True),
}
LITELLM_FAILURES = (
    "fail-401",
    "fail-404",
    "fail-429",
    "fail-500",
    "hang",
    "refused",
    "cut",
    "interrupt",
)


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    db: Path
    requests: int


# Imports litellm once, then forks one child per case; each child is a separate process that
# runs the aiw CLI with its own argv, environment, cwd and stdout/stderr files, exactly as
# `python -m ai_workbench` would, minus the seconds litellm takes to import in every process.
LITELLM_FORK_DRIVER = r"""
import json, os, sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "CRITICAL")
import litellm  # noqa: F401  (the slow import every child shares)

cases = json.loads(sys.argv[1])
children = {}
for case in cases:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(case["cwd"])
            os.environ.clear()
            os.environ.update(case["env"])
            fds = (
                os.open(os.devnull, os.O_RDONLY),
                os.open(case["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                os.open(case["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
            )
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            from ai_workbench.cli.main import main

            main(args=case["args"], prog_name="aiw")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    children[pid] = case["name"]
codes = {}
for pid, name in children.items():
    _, status = os.waitpid(pid, 0)
    codes[name] = os.waitstatus_to_exitcode(status)
print(json.dumps(codes))
"""


@pytest.fixture(scope="module")
def litellm_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Every ``--engine litellm`` case, run concurrently against a private fake server.

    Module scoped (so it cannot use the function-scoped ``isolated_env``): each case gets its
    own HOME/XDG dirs and the same scrubbed environment ``isolated_env`` builds. The cases run
    as forked children of one process that imported litellm once (LITELLM_FORK_DRIVER).
    """
    base_env = {
        name: value
        for name, value in os.environ.items()
        if not (
            name.startswith("AIW_")
            or name.endswith("_API_KEY")
            or name in PROVIDER_ENV_VARS
            or name.upper() in PROXY_ENV_VARS
        )
    }
    pythonpath = base_env.get("PYTHONPATH")
    base_env["PYTHONPATH"] = (
        f"{REPO_ROOT}{os.pathsep}{pythonpath}" if pythonpath else str(REPO_ROOT)
    )
    base_env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        NO_COLOR="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    cases = {name: FAILURES[name] for name in LITELLM_FAILURES}
    cases["flaky-429-1"] = FailureCase("flaky-429-1", 0, {})
    root = tmp_path_factory.mktemp("litellm")
    with FakeLLM() as server:
        specs = []
        for name, case in cases.items():
            case_root = root / name
            env = dict(base_env)
            for var, sub in (
                ("HOME", "home"),
                ("XDG_CONFIG_HOME", "config"),
                ("XDG_DATA_HOME", "data"),
                ("XDG_CACHE_HOME", "cache"),
                ("XDG_STATE_HOME", "state"),
                ("", "work"),
            ):
                (case_root / sub).mkdir(parents=True)
                if var:
                    env[var] = str(case_root / sub)
            env.update(case.env)
            base = closed_port_url() if case.refused else server.base_url
            specs.append(
                {
                    "name": name,
                    "args": ask_args(base, case.model, "--engine", "litellm", "hello litellm"),
                    "env": env,
                    "cwd": str(case_root / "work"),
                    "stdout": str(case_root / "stdout"),
                    "stderr": str(case_root / "stderr"),
                }
            )
        driver = subprocess.run(
            [sys.executable, "-c", LITELLM_FORK_DRIVER, json.dumps(specs)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=root,
            env=base_env,
            timeout=120,
            check=False,
        )
        assert driver.returncode == 0, driver.stderr
        codes = json.loads(driver.stdout)
        results: dict[str, Outcome] = {}
        for name, case in cases.items():
            case_root = root / name
            count = sum(
                1
                for r in server.chat_requests
                if isinstance(r["json"], dict) and r["json"].get("model") == case.model
            )
            results[name] = Outcome(
                codes[name],
                (case_root / "stdout").read_text(encoding="utf-8"),
                (case_root / "stderr").read_text(encoding="utf-8"),
                case_root / "data" / "aiw" / "aiw.db",
                count,
            )
        yield results


def run_failure(
    name: str,
    engine: str,
    run_aiw: RunAiw,
    fake_llm: FakeLLM,
    isolated_env: IsolatedEnv,
    litellm_runs: dict[str, Outcome] | None,
) -> Outcome:
    case = FAILURES[name]
    if engine == "litellm":
        assert litellm_runs is not None
        return litellm_runs[name]
    base = closed_port_url() if case.refused else fake_llm.base_url
    result = run_aiw(*ask_args(base, case.model, "hello there"), env=case.env)
    return Outcome(
        result.returncode,
        result.stdout,
        result.stderr,
        db_path(isolated_env),
        len(fake_llm.chat_requests),
    )


FAILURE_PARAMS = [pytest.param(name, "direct", id=f"direct-{name}") for name in FAILURES] + [
    pytest.param(
        name,
        "litellm",
        id=f"litellm-{name}",
    )
    for name in LITELLM_FAILURES
]


@pytest.mark.parametrize(("name", "engine"), FAILURE_PARAMS)
def test_failure_exit_codes(
    name: str,
    engine: str,
    run_aiw: RunAiw,
    fake_llm: FakeLLM,
    isolated_env: IsolatedEnv,
    request: pytest.FixtureRequest,
) -> None:
    runs = request.getfixturevalue("litellm_runs") if engine == "litellm" else None
    case = FAILURES[name]
    outcome = run_failure(name, engine, run_aiw, fake_llm, isolated_env, runs)

    assert outcome.returncode == case.exit_code, outcome.stderr
    line = assert_one_error_line(outcome.stderr, f"openai/{case.model}")
    if case.refused:
        assert "127.0.0.1:" in line
    elif case.model.startswith("fail-"):
        assert outcome.requests == 1  # AIW_MAX_RETRIES=0: no retry

    (session,) = sessions(outcome.db)
    user, assistant = messages(outcome.db, session["id"])
    assert user["content"] == ("hello there" if engine == "direct" else "hello litellm")
    assert assistant["error"]
    if case.partial:
        # The fake `cut` model sends two 3-word chunks, then drops the connection.
        assert outcome.stdout == "word1 word2 word3 word4 word5 word6 \n"
        assert assistant["status"] == "partial"
        assert assistant["content"] == "word1 word2 word3 word4 word5 word6 "
        assert "partial answer is kept" in line
        if name == "interrupt":  # a cut stream is reported as cut, never as a finished answer
            assert "interrupted" in line and "interrupted" in assistant["error"]
    else:
        assert outcome.stdout == ""
        assert assistant["status"] == "error"
        assert assistant["content"] == ""


@pytest.mark.parametrize("engine", ["direct", "litellm"])
def test_flaky_429_succeeds_after_one_retry(
    engine: str,
    run_aiw: RunAiw,
    fake_llm: FakeLLM,
    isolated_env: IsolatedEnv,
    request: pytest.FixtureRequest,
) -> None:
    if engine == "litellm":
        outcome = request.getfixturevalue("litellm_runs")["flaky-429-1"]
        prompt = "hello litellm"
    else:
        prompt = "hello there"
        result = run_aiw(*ask_args(fake_llm, "flaky-429-1", prompt))
        outcome = Outcome(
            result.returncode,
            result.stdout,
            result.stderr,
            db_path(isolated_env),
            len(fake_llm.chat_requests),
        )

    assert outcome.returncode == 0, outcome.stderr
    assert outcome.stdout == f"You said: {prompt}\n"
    assert outcome.requests == 2
    assert "Traceback" not in outcome.stderr
    assert re.search(r"openai/flaky-429-1.*rate limit; retry 1/2", outcome.stderr), outcome.stderr
    (assistant,) = [m for m in messages(outcome.db) if m["role"] == "assistant"]
    assert assistant["status"] == "complete"


# --- 4./5. kill -9 and Ctrl-C mid-answer -----------------------------------------------------


def interrupt_a_long_story(
    fake_llm: FakeLLM, isolated_env: IsolatedEnv, sig: int, after: float, timeout: float
) -> tuple[subprocess.Popen[bytes], bytes, bytes, bytes]:
    """`aiw ask` streaming the slow answer (saved every 0.2 s), sent ``sig`` ``after`` seconds
    into it: the process, what it printed by then, the rest of its stdout, and its stderr."""
    proc = popen_aiw(
        *ask_args(fake_llm, "slow", "tell me a long story"),
        cwd=isolated_env.work,
        env={"AIW_CHAT__SAVE_INTERVAL": "0.2"},
    )
    try:
        printed = read_for(proc, after)
        proc.send_signal(sig)
        rest, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc, printed, rest, err


def test_kill_9_mid_answer_keeps_the_partial_answer(
    fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    proc, printed, rest, _ = interrupt_a_long_story(
        fake_llm, isolated_env, signal.SIGKILL, after=1.5, timeout=10
    )
    assert proc.returncode == -signal.SIGKILL
    printed_text = (printed + rest).decode()
    assert printed_text, "nothing streamed before the kill"
    assert SLOW_ANSWER.startswith(printed_text)
    assert printed_text != SLOW_ANSWER  # still streaming when killed

    db = db_path(isolated_env)
    (session,) = sessions(db)
    user, assistant = messages(db, session["id"])
    assert user["role"] == "user"
    assert user["content"] == "tell me a long story"
    assert assistant["role"] == "assistant"
    assert assistant["status"] == "partial"
    saved = assistant["content"]
    assert saved, "nothing was saved while streaming"
    assert SLOW_ANSWER.startswith(saved)
    assert printed_text.startswith(saved)
    # Saved every 0.2 s, so at most about that much (and surely less than 1 s) is lost.
    lost_words = len(printed_text.split()) - len(saved.split())
    assert 0 <= lost_words <= WORDS_PER_SECOND, (lost_words, saved[-40:], printed_text[-40:])


def test_ctrl_c_mid_answer_exits_130_and_keeps_the_partial_answer(
    fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    proc, printed, rest, err = interrupt_a_long_story(
        fake_llm, isolated_env, signal.SIGINT, after=1.0, timeout=15
    )
    stdout = (printed + rest).decode()
    stderr = err.decode()

    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stderr
    assert "partial answer is kept" in stderr
    assert stdout.strip()
    assert stdout.rstrip("\n") != SLOW_ANSWER

    db = db_path(isolated_env)
    (session,) = sessions(db)
    assert session["id"][:8] in stderr
    user, assistant = messages(db, session["id"])
    assert user["content"] == "tell me a long story"
    assert assistant["status"] == "partial"
    assert assistant["error"] == "interrupted"
    assert assistant["content"]
    assert assistant["content"] == stdout.removesuffix("\n")
    assert SLOW_ANSWER.startswith(assistant["content"])


# --- 6. concurrent writers -------------------------------------------------------------------


def test_concurrent_asks_and_continuations(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    first = run_aiw(*ask_args(fake_llm, "echo", "--json", "start"))
    assert first.returncode == 0, first.stderr
    shared = json.loads(first.stdout)["session_id"]

    fake_llm.chunk_delay = 0.01
    env = {"AIW_CHAT__SAVE_INTERVAL": "0.2"}
    commands = [
        ask_args(fake_llm, "slow", "new one"),
        ask_args(fake_llm, "slow", "new two"),
        ask_args(fake_llm, "slow", "--session", shared, "continue one"),
        ask_args(fake_llm, "slow", "--session", shared, "continue two"),
    ]
    procs = [popen_aiw(*args, cwd=isolated_env.work, env=env) for args in commands]
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            results.append((proc.returncode, out.decode(), err.decode()))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    for code, out, err in results:
        assert code == 0, err
        assert out == SLOW_ANSWER + "\n"
        assert "Traceback" not in err

    db = db_path(isolated_env)
    all_sessions = sessions(db)
    assert len(all_sessions) == 3
    by_title = {s["title"]: s["id"] for s in all_sessions}
    for title in ("new one", "new two"):
        user, assistant = messages(db, by_title[title])
        assert user["content"] == title
        assert (assistant["status"], assistant["content"]) == ("complete", SLOW_ANSWER)

    rows = messages(db, shared)
    assert len(rows) == 6
    users = sorted(m["content"] for m in rows if m["role"] == "user")
    assert users == ["continue one", "continue two", "start"]
    answers = [m for m in rows if m["role"] == "assistant"]
    assert [m["status"] for m in answers] == ["complete"] * 3
    assert [m["content"] for m in answers].count(SLOW_ANSWER) == 2
    assert len(messages(db)) == 10
    assert query(db, "PRAGMA integrity_check")[0][0] == "ok"


# --- 7. sessions -----------------------------------------------------------------------------


def test_new_session_continue_and_session_commands(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    first = run_aiw(*ask_args(fake_llm, "echo", "--new-session", "first question"))
    assert first.returncode == 0, first.stderr
    match = re.search(r"new session ([0-9a-f]{8}) \(full id ([0-9a-f]{32})\)", first.stderr)
    assert match, first.stderr
    session_id = match.group(2)
    assert session_id.startswith(match.group(1))
    assert first.stdout == "You said: first question\n"  # the id goes to stderr only

    second = run_aiw(*ask_args(fake_llm, "echo", "--session", session_id[:4], "more"))
    assert second.returncode == 0, second.stderr
    assert second.stdout == "You said: more\n"
    assert fake_llm.chat_requests[-1]["json"]["messages"] == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "You said: first question"},
        {"role": "user", "content": "more"},
    ]
    db = db_path(isolated_env)
    assert len(sessions(db)) == 1
    assert [m["content"] for m in messages(db, session_id)] == [
        "first question",
        "You said: first question",
        "more",
        "You said: more",
    ]

    listed = run_aiw("sessions", "list")
    assert listed.returncode == 0, listed.stderr
    (row,) = listed.stdout.splitlines()
    assert row.startswith(session_id[:8] + "\t")
    assert "first question" in row
    assert "\t4\t" in row  # message count

    listed_json = run_aiw("sessions", "list", "--json")
    assert json.loads(listed_json.stdout)[0]["id"] == session_id

    shown = run_aiw("sessions", "show", session_id[:6])
    assert shown.returncode == 0, shown.stderr
    for text in ("# first question", session_id, "## You", "You said: more"):
        assert text in shown.stdout

    exported = run_aiw("sessions", "export", session_id[:6], "--format", "json")
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["id"] == session_id
    assert [(m["role"], m["content"]) for m in data["messages"]] == [
        ("user", "first question"),
        ("assistant", "You said: first question"),
        ("user", "more"),
        ("assistant", "You said: more"),
    ]
    assert all(m["status"] == "complete" for m in data["messages"])

    md = run_aiw("sessions", "export", session_id, "--format", "md")
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("# first question\n")
    assert "## You" in md.stdout
    assert "## Assistant" in md.stdout
    assert "You said: first question" in md.stdout

    out_file = tmp_path / "export.md"
    to_file = run_aiw("sessions", "export", session_id, "-o", str(out_file))
    assert to_file.returncode == 0, to_file.stderr
    assert out_file.read_text(encoding="utf-8") == md.stdout

    refused = run_aiw("sessions", "rm", session_id[:4])  # stdin is not a terminal
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    assert len(sessions(db)) == 1

    removed = run_aiw("sessions", "rm", "--yes", session_id[:4])
    assert removed.returncode == 0, removed.stderr
    assert "deleted session" in removed.stderr
    assert sessions(db) == []
    assert messages(db) == []

    gone = run_aiw("sessions", "show", session_id)
    assert gone.returncode == 3
    assert_one_error_line(gone.stderr, "no session matches")


def test_unknown_session_prefix_exits_3(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    result = run_aiw(*ask_args(fake_llm, "echo", "--session", "zzzz", "hello"))

    assert result.returncode == 3
    assert_one_error_line(result.stderr, "no session matches 'zzzz'")
    assert fake_llm.chat_requests == []
    assert not db_path(isolated_env).exists() or messages(db_path(isolated_env)) == []


def test_ambiguous_session_prefix_exits_3(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    from ai_workbench.store import Store

    async def create(count: int) -> list[str]:
        async with Store(db_path(isolated_env)) as store:
            return [(await store.create_session(title=f"s{i}")).id for i in range(count)]

    # 17 ids over 16 hex digits: at least two share their first character.
    ids = asyncio.run(create(17))
    firsts = [i[0] for i in ids]
    prefix = next(c for c in firsts if firsts.count(c) > 1)

    result = run_aiw(*ask_args(fake_llm, "echo", "--session", prefix, "hello"))
    assert result.returncode == 3
    line = assert_one_error_line(result.stderr, f"'{prefix}' matches", "type more characters")
    assert re.search(r"matches \d+ sessions", line)
    assert fake_llm.chat_requests == []
    assert messages(db_path(isolated_env)) == []

    shown = run_aiw("sessions", "show", prefix)
    assert shown.returncode == 3
    assert_one_error_line(shown.stderr, "type more characters")


def test_continue_without_repeating_model_uses_the_sessions_endpoint(
    run_aiw: RunAiw, fake_llm: FakeLLM
) -> None:
    first = run_aiw(*ask_args(fake_llm, "echo", "--json", "first question"))
    assert first.returncode == 0, first.stderr
    session_id = json.loads(first.stdout)["session_id"]

    # No OPENAI_API_KEY is set, so nothing can leave the machine here.
    again = run_aiw("ask", "--session", session_id[:6], "more")
    assert again.returncode == 0, again.stderr
    assert len(fake_llm.chat_requests) == 2


# --- 8. offline ------------------------------------------------------------------------------


def test_offline_refuses_cloud_and_allows_loopback(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    offline = {"AIW_OFFLINE": "1"}
    refused = run_aiw("ask", "--model", "openai/gpt-4o-mini", "x", env=offline)
    assert refused.returncode == 11
    line = assert_one_error_line(refused.stderr, "openai/gpt-4o-mini")
    assert "offline" in line
    assert refused.stdout == ""
    # Refused before anything was sent; the turn is recorded as an error.
    (assistant,) = [m for m in messages(db_path(isolated_env)) if m["role"] == "assistant"]
    assert assistant["status"] == "error"

    flag = run_aiw("ask", "--offline", "--model", "openai/gpt-4o-mini", "x")
    assert flag.returncode == 11
    assert "offline" in flag.stderr

    local = run_aiw(*ask_args(fake_llm, "echo", "x"), env=offline)
    assert local.returncode == 0, local.stderr
    assert local.stdout == "You said: x\n"


# --- 9. broken config ------------------------------------------------------------------------


def assert_ask_refused_with_2(
    run_aiw: RunAiw, fake_llm: FakeLLM, *needles: str, env: dict[str, str] | None = None
) -> None:
    """`aiw ask x` exits 2 with one error line naming each of ``needles``, before any request."""
    result = run_aiw(*ask_args(fake_llm, "echo", "x"), env=env)
    assert result.returncode == 2
    assert_one_error_line(result.stderr, *needles)
    assert fake_llm.chat_requests == []


def test_invalid_toml_user_config_exits_2(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    config = isolated_env.write_user_config("[chat\nsave_interval = 1\n")
    assert_ask_refused_with_2(run_aiw, fake_llm, str(config), "invalid TOML")


def test_wrong_type_in_user_config_exits_2(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    config = isolated_env.write_user_config('[chat]\nmax_context_files = "ten"\n')
    assert_ask_refused_with_2(run_aiw, fake_llm, str(config), "chat.max_context_files", "'ten'")


def test_bad_env_value_exits_2(run_aiw: RunAiw, fake_llm: FakeLLM) -> None:
    assert_ask_refused_with_2(
        run_aiw, fake_llm, "AIW_REQUEST_TIMEOUT", "'abc'", env={"AIW_REQUEST_TIMEOUT": "abc"}
    )


# --- 10. redaction ---------------------------------------------------------------------------


def ask_with_secrets(run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv) -> None:
    (isolated_env.work / "settings.ini").write_text(
        f'[aws]\naccess_key_id = {AWS_KEY}\n\n[db]\npassword = "{PASSWORD}"\n', encoding="utf-8"
    )
    prompt = f'why does login fail? key {AWS_KEY} and password = "{PASSWORD}"'
    result = run_aiw(
        *ask_args(fake_llm, "echo", "-f", "settings.ini", prompt),
        input=f"stdin line: AWS_ACCESS_KEY_ID={AWS_KEY}\n",
    )
    assert result.returncode == 0, result.stderr
    assert "redacted" in result.stderr


def database_text(path: Path) -> str:
    """Every row of every table, as SQL, plus the raw bytes of the file and its WAL."""
    conn = sqlite3.connect(path)
    try:
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    raw = b""
    for suffix in ("", "-wal"):
        file = path.with_name(path.name + suffix)
        if file.exists():
            raw += file.read_bytes()
    return dump + raw.decode("latin-1")


def test_secrets_are_redacted_from_the_request_and_messages(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    ask_with_secrets(run_aiw, fake_llm, isolated_env)

    (request,) = fake_llm.chat_requests
    body = json.dumps(request["json"])
    assert AWS_KEY not in body
    assert PASSWORD not in body
    assert "[REDACTED:" in body
    assert "why does login fail?" in body  # the rest of the prompt is still sent

    rows = query(db_path(isolated_env), "SELECT content, error FROM messages")
    assert len(rows) == 2
    for row in rows:
        assert AWS_KEY not in row["content"]
        assert PASSWORD not in row["content"]


def test_no_secret_anywhere_in_the_database(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    ask_with_secrets(run_aiw, fake_llm, isolated_env)

    text = database_text(db_path(isolated_env))
    assert AWS_KEY not in text
    assert PASSWORD not in text
