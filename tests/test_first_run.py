"""First run with no model reachable: the probe service, `aiw models`, `aiw doctor`, the chain's
combined error, the shell hook's absolute path, and the `aiw ask` rough edges (issue 14).

Real parts only: a tiny Ollama-like HTTP server on 127.0.0.1 (``/api/tags``), the loopback
fake LLM, closed ports, real subprocesses and a real pty for the waiting line.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, IsolatedEnv, RunAiw
from tests.fake_llm import FakeLLM

SECRET = "sk-test-DO-NOT-PRINT-1234567890"


# --- helpers ---------------------------------------------------------------------------------


class _OllamaHandler(BaseHTTPRequestHandler):
    models: tuple[str, ...] = ()

    def do_GET(self) -> None:
        if self.path == "/api/tags":
            body = json.dumps({"models": [{"name": m} for m in self.models]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(404)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ollama_like() -> Iterator[str]:
    """A real loopback server that answers like Ollama's /api/tags (two models)."""
    handler = type("H", (_OllamaHandler,), {"models": ("qwen2.5-coder:1.5b", "llama3.2:latest")})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(env: IsolatedEnv, text: str) -> Path:
    env.aiw_config.mkdir(parents=True, exist_ok=True)
    path = env.aiw_config / "config.toml"
    path.write_text(text)
    return path


def dead_locals() -> str:
    """Config pointing the bundled Ollama and LM Studio profiles at closed ports."""
    return (
        f'[providers.ollama]\nmodel = "ollama/llama3.2"\napi_base = "http://127.0.0.1:{closed_port()}"\n'
        f'[providers.lmstudio]\nmodel = "lm_studio/local-model"\n'
        f'api_base = "http://127.0.0.1:{closed_port()}/v1"\n'
    )


def settings_of(env: IsolatedEnv):  # type: ignore[no-untyped-def]
    from ai_workbench.core.settings import load_config

    return load_config(cwd=env.work).settings


# --- the probe service -----------------------------------------------------------------------


async def test_probe_names_what_was_tried_and_the_ways_forward(
    isolated_env: IsolatedEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ai_workbench.core.llm.probe import probe

    write_config(isolated_env, dead_locals())
    monkeypatch.setenv("PATH", str(isolated_env.root / "empty-bin"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    report = await probe(settings_of(isolated_env))

    by_name = {s.name: s for s in report.servers}
    assert not by_name["Ollama"].reachable
    assert "connection refused" in by_name["Ollama"].reason
    assert not by_name["LM Studio"].reachable
    assert not report.chain_usable
    keys = {k.provider: k.present for k in report.keys}
    assert keys["anthropic"] is True and keys["openai"] is False
    assert SECRET not in json.dumps(report.to_json())
    titles = [w.title for w in report.ways]
    ollama_way = next(w for w in report.ways if w.title.startswith("Start Ollama"))
    assert "not installed" in ollama_way.detail and "ollama serve" in ollama_way.commands
    openai = next(w for w in report.ways if w.title.startswith("Use openai"))
    assert "export OPENAI_API_KEY=<your key>" in openai.commands
    anthropic = next(w for w in report.ways if w.title.startswith("Use anthropic"))
    assert anthropic.commands == ["aiw config set default_provider anthropic"]  # key is set
    assert titles[-1] == "Any OpenAI-compatible server"


async def test_probe_says_when_the_ollama_binary_is_installed_but_not_running(
    isolated_env: IsolatedEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ai_workbench.core.llm.probe import probe

    bin_dir = isolated_env.root / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "ollama"
    fake.write_text("#!/bin/sh\nexit 0\n")  # never run: only found on PATH
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    write_config(isolated_env, dead_locals())
    report = await probe(settings_of(isolated_env))

    way = next(w for w in report.ways if w.title.startswith("Start Ollama"))
    assert f"installed ({fake})" in way.detail and "not running" in way.detail
    assert way.commands[0] == "ollama serve"


async def test_probe_lists_what_an_ollama_server_serves(
    isolated_env: IsolatedEnv, ollama_like: str
) -> None:
    from ai_workbench.core.llm.probe import probe

    write_config(
        isolated_env,
        f'[providers.ollama]\nmodel = "ollama/mistral"\napi_base = "{ollama_like}"\n',
    )
    report = await probe(settings_of(isolated_env))
    ollama = next(s for s in report.servers if s.name == "Ollama")
    assert ollama.reachable and ollama.reason == "2 models"
    assert ollama.models == ["ollama/qwen2.5-coder:1.5b", "ollama/llama3.2:latest"]
    default = next(p for p in report.profiles if p.role == "default")
    assert not default.usable and "does not serve mistral" in default.reason
    assert "qwen2.5-coder:1.5b" in default.reason
    use = next(w for w in report.ways if w.kind == "use")
    assert use.commands[0] == "aiw config set providers.ollama.model ollama/qwen2.5-coder:1.5b"

    # A served model under Ollama's ":latest" alias counts as served.
    write_config(
        isolated_env,
        f'[providers.ollama]\nmodel = "ollama/llama3.2"\napi_base = "{ollama_like}"\n',
    )
    report = await probe(settings_of(isolated_env))
    assert report.chain_usable


async def test_check_connection_and_save_to_the_user_config(
    isolated_env: IsolatedEnv, fake_llm: FakeLLM
) -> None:
    from ai_workbench.core.llm.probe import check_connection, save_provider

    ok = await check_connection("openai/echo", fake_llm.base_url)
    assert ok.ok and ok.latency_ms is not None and "answered" in ok.message
    assert fake_llm.chat_requests[-1]["json"]["max_tokens"] == 8

    bad = await check_connection("openai/echo", f"http://127.0.0.1:{closed_port()}/v1")
    assert not bad.ok and bad.kind == "connection" and bad.exit_code == 9

    path = save_provider("box", "echo", fake_llm.base_url)
    assert path == isolated_env.aiw_config / "config.toml"
    settings = settings_of(isolated_env)
    assert settings.default_provider == "box"
    assert settings.providers["box"].model == "openai/echo"
    assert settings.providers["box"].api_base == fake_llm.base_url


# --- aiw models / aiw doctor -----------------------------------------------------------------


def test_models_json_lists_served_models_and_never_key_values(
    run_aiw: RunAiw, isolated_env: IsolatedEnv, ollama_like: str
) -> None:
    write_config(
        isolated_env,
        f'[providers.ollama]\nmodel = "ollama/qwen2.5-coder:1.5b"\napi_base = "{ollama_like}"\n',
    )
    result = run_aiw("models", "--json", env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout
    data = json.loads(result.stdout)
    assert data["chain_usable"] is True
    openai = next(p for p in data["profiles"] if p["name"] == "openai")
    assert openai["key_present"] is True and openai["usable"] is True

    text = run_aiw("models", env={"OPENAI_API_KEY": SECRET})
    assert text.returncode == 0, text.stderr
    assert "ollama/qwen2.5-coder:1.5b" in text.stdout and SECRET not in text.stdout


def test_doctor_exit_codes_follow_the_first_broken_thing(
    run_aiw: RunAiw, isolated_env: IsolatedEnv, fake_llm: FakeLLM
) -> None:
    write_config(isolated_env, dead_locals())
    nothing = run_aiw("doctor")
    assert nothing.returncode == 9, nothing.stdout + nothing.stderr
    assert "no provider of the default chain (ollama, lmstudio) can answer" in nothing.stdout
    assert "Ways forward" in nothing.stdout and "ollama serve" in nothing.stdout

    write_config(isolated_env, 'default_provider = "openai"\n' + dead_locals())
    missing_key = run_aiw("doctor", "--json")
    assert missing_key.returncode == 4, missing_key.stdout
    data = json.loads(missing_key.stdout)
    assert data["ok"] is False and data["exit_code"] == 4
    assert any("$OPENAI_API_KEY is not set" in c["detail"] for c in data["checks"])

    write_config(
        isolated_env,
        "fallback = []\n"
        f'[providers.ollama]\nmodel = "openai/echo"\napi_base = "{fake_llm.base_url}"\n',
    )
    healthy = run_aiw("doctor")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "no problems" in healthy.stderr

    (isolated_env.aiw_config / "config.toml").write_text("request_timeout = -1\n")
    broken = run_aiw("doctor")
    assert broken.returncode == 2
    assert "request_timeout" in broken.stdout


def test_doctor_flags_a_world_writable_data_dir(
    run_aiw: RunAiw, isolated_env: IsolatedEnv, fake_llm: FakeLLM
) -> None:
    write_config(
        isolated_env,
        "fallback = []\n"
        f'[providers.ollama]\nmodel = "openai/echo"\napi_base = "{fake_llm.base_url}"\n',
    )
    isolated_env.aiw_data.mkdir(parents=True)
    isolated_env.aiw_data.chmod(0o777)
    result = run_aiw("doctor", "--json")
    assert result.returncode == 13, result.stdout
    check = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "data dir")
    assert check["status"] == "fail" and "writable by others" in check["detail"]


# --- the fallback chain's combined error ----------------------------------------------------


def test_every_provider_of_the_chain_is_named_and_the_first_ones_code_wins(
    run_aiw: RunAiw, isolated_env: IsolatedEnv
) -> None:
    port = closed_port()
    write_config(
        isolated_env,
        'default_provider = "openai"\nfallback = ["dead"]\n'
        f'[providers.dead]\nmodel = "openai/echo"\napi_base = "http://127.0.0.1:{port}/v1"\n',
    )
    result = run_aiw("ask", "hello")
    assert result.returncode == 4, result.stderr  # the first provider's: a missing key
    error = [line for line in result.stderr.splitlines() if line.startswith("aiw: error:")]
    assert len(error) == 1, result.stderr
    assert "every provider failed" in error[0]
    assert "OPENAI_API_KEY is not set" in error[0]
    assert f"127.0.0.1:{port}" in error[0] and "provider 'dead'" in error[0]


# --- failed asks keep the prompt but not the list ----------------------------------------------


def test_a_failed_ask_keeps_the_prompt_and_is_hidden_from_the_list(
    run_aiw: RunAiw, isolated_env: IsolatedEnv, fake_llm: FakeLLM
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    failed = run_aiw("ask", "--model", "openai/echo", "--api-base", dead, "my precious question")
    assert failed.returncode == 9
    assert "your prompt is kept in session" in failed.stderr

    ok = run_aiw("ask", "--model", "openai/echo", "--api-base", fake_llm.base_url, "works")
    assert ok.returncode == 0, ok.stderr

    listed = run_aiw("sessions", "list", "--json")
    assert [s["title"] for s in json.loads(listed.stdout)] == ["works"]
    everything = run_aiw("sessions", "list", "--all", "--json")
    rows = {s["title"]: s["failed"] for s in json.loads(everything.stdout)}
    assert rows == {"works": False, "my precious question": True}
    plain = run_aiw("sessions", "list", "--all")
    assert "(failed) my precious question" in plain.stdout

    db = isolated_env.aiw_data / "aiw.db"
    conn = sqlite3.connect(db)
    try:
        texts = [r[0] for r in conn.execute("SELECT content FROM messages WHERE role = 'user'")]
    finally:
        conn.close()
    assert "my precious question" in texts  # never lost


# --- --code, explain, Ctrl-C, the waiting line ---------------------------------------------------


def test_explain_with_nothing_recorded_is_not_an_internal_error(run_aiw: RunAiw) -> None:
    result = run_aiw("explain")
    assert result.returncode == 3, result.stderr
    assert "nothing recorded yet" in result.stderr
    assert "internal error" not in result.stderr
    unknown = run_aiw("explain", "--id", "42")
    assert unknown.returncode == 3 and "id 42" in unknown.stderr


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{REPO_ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}".rstrip(os.pathsep)
    return env


def test_ctrl_c_says_interrupted_once(fake_llm: FakeLLM, isolated_env: IsolatedEnv) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai_workbench", "ask", "--model", "openai/slow",
         "--api-base", fake_llm.base_url, "a long story"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=isolated_env.work, env=_env(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "no answer started"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = err.decode()
    assert proc.returncode == 130, stderr
    assert stderr.count("interrupted") == 1, stderr


def test_waiting_line_on_a_terminal_until_the_first_token(
    fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    def late(body: dict[str, object]) -> None:
        time.sleep(1.6)  # the server "evaluates the prompt" before the first token
        return None

    fake_llm.reply_fn = late
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai_workbench", "ask", "--model", "openai/echo",
         "--api-base", fake_llm.base_url, "hi"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
        cwd=isolated_env.work, env=_env(),
    )  # fmt: skip
    os.close(slave)
    seen = b""
    try:
        out, _ = proc.communicate(timeout=30)
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    text = seen.decode(errors="replace")
    assert proc.returncode == 0, text
    assert out.decode() == "You said: hi\n"
    assert "waiting for openai/echo at " in text
    assert "1s" in text  # the counter ticked while nothing came
    assert text.rindex("\x1b[2K") > text.rindex("waiting for")  # erased before the answer


def test_waiting_line_is_not_written_to_a_pipe(run_aiw: RunAiw, fake_llm: FakeLLM) -> None:
    result = run_aiw("ask", "--model", "openai/echo", "--api-base", fake_llm.base_url, "hi")
    assert result.returncode == 0
    assert "waiting" not in result.stderr and "\x1b" not in result.stderr


# --- the shell hook's rc block --------------------------------------------------------------


def test_shell_install_writes_the_absolute_path_and_status_spots_a_missing_one(
    run_aiw: RunAiw, isolated_env: IsolatedEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ai_workbench.shell import integration

    venv_bin = isolated_env.root / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    script = venv_bin / "aiw"
    script.write_text(f"#!{sys.executable}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(sys, "argv", [str(script), "shell", "install"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # the venv is not on PATH in a new terminal

    rc = isolated_env.home / ".bashrc"
    integration.install("bash", rc)
    assert f'eval "$({script} shell init bash 2>/dev/null)"' in rc.read_text()
    status = integration.rc_status("bash", rc)
    assert status.installed and not status.broken and status.program == str(script)

    shown = run_aiw("shell", "status")
    assert f"runs: {script} shell init bash" in shown.stdout
    assert "broken" not in shown.stdout

    script.unlink()  # the venv was deleted
    assert integration.rc_status("bash", rc).broken
    shown = run_aiw("shell", "status")
    assert shown.returncode == 0
    assert f"broken: the block runs {script}, which does not exist" in shown.stdout
    doctor = run_aiw("doctor", "--json")
    shell_check = next(c for c in json.loads(doctor.stdout)["checks"] if c["area"] == "shell")
    assert shell_check["status"] == "fail" and doctor.returncode != 0
