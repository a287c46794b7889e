"""`aiw users` and `aiw serve` as a team lead runs them: real processes, real SQLite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx

from tests.conftest import REPO_ROOT, IsolatedEnv
from tests.fake_llm import FakeLLM
from tests.server.conftest import free_port, model_config


def test_users_add_list_revoke(run_aiw: Any) -> None:
    added = run_aiw("users", "add", "Ana", "--admin")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith("aiw_") and len(token) > 40
    assert "shown once" in added.stderr

    again = run_aiw("users", "add", "ana")
    assert again.returncode != 0 and "revoke" in again.stderr

    listed = json.loads(run_aiw("users", "list", "--json").stdout)
    assert [(u["name"], u["admin"], u["revoked"]) for u in listed] == [("ana", True, None)]
    assert token not in run_aiw("users", "list").stdout

    assert run_aiw("users", "revoke", "ana").returncode == 0
    (row,) = json.loads(run_aiw("users", "list", "--json").stdout)
    assert row["revoked"] is not None
    missing = run_aiw("users", "revoke", "nobody")
    assert missing.returncode != 0 and "aiw users list" in missing.stderr

    renewed = run_aiw("users", "add", "ana")
    assert renewed.returncode == 0 and renewed.stdout.strip() != token
    bad = run_aiw("users", "add", "no spaces please")
    assert bad.returncode != 0 and "user name" in bad.stderr


def test_users_store_only_a_hash_of_the_token(run_aiw: Any, isolated_env: IsolatedEnv) -> None:
    token = run_aiw("users", "add", "ana").stdout.strip()
    raw = (isolated_env.aiw_data / "aiw.db").read_bytes()
    assert token.encode() not in raw
    assert token[4:].encode() not in raw


def test_serve_refuses_a_remote_address_without_the_flag(run_aiw: Any) -> None:
    refused = run_aiw("serve", "--host", "0.0.0.0")
    assert refused.returncode != 0
    assert "--allow-remote" in refused.stderr

    half_tls = run_aiw("serve", "--ssl-keyfile", __file__)
    assert half_tls.returncode != 0 and "go together" in half_tls.stderr


def test_serve_runs_the_api_with_workers(
    run_aiw: Any, isolated_env: IsolatedEnv, fake_llm: FakeLLM
) -> None:
    isolated_env.write_user_config(model_config(fake_llm))
    token = run_aiw("users", "add", "ana").stdout.strip()
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai_workbench", "serve", "--port", str(port), "--workers", "2"],
        cwd=isolated_env.work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "aiw serve did not come up"
            time.sleep(0.1)
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(4):  # both workers answer, each with the same users and data
            answer = httpx.post(f"{url}/v1/ask", json={"prompt": "hi"}, headers=headers, timeout=30)
            assert answer.status_code == 200, answer.text
        listed = httpx.get(f"{url}/v1/sessions", headers=headers, timeout=10).json()
        assert len(listed["sessions"]) == 4
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "serving" in (proc.stderr.read() if proc.stderr else "")


def test_the_cli_and_workbench_never_import_the_web_stack(isolated_env: IsolatedEnv) -> None:
    from tests.test_imports import imported_by

    for statement in (
        "import ai_workbench.cli.main",
        "import ai_workbench.cli.serve, ai_workbench.cli.users",
        "import ai_workbench.users.service, ai_workbench.store",
    ):
        loaded = imported_by(statement, isolated_env.work)
        for name in ("fastapi", "uvicorn", "starlette"):
            assert name not in loaded, f"`{statement}` imports {name}"
