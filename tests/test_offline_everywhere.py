"""Offline means offline on every outgoing path, refused before any lookup (issue 13, item 3).

Each command runs in a real subprocess whose ``sitecustomize`` (on PYTHONPATH) observes the
stdlib: every ``socket.getaddrinfo`` and ``socket.socket.connect`` is written to a log, and a
name or address that is not loopback is refused there, so no test can reach the internet even
when the code under test would try. The tests then assert what was *attempted*.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import IsolatedEnv, RunAiw
from tests.fake_llm import FakeLLM

TRAP = """
import json, os, socket

_LOG = os.environ.get("AIW_TEST_NET_LOG")
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _note(kind, host):
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as out:
            out.write(json.dumps([kind, str(host)]) + "\\n")
    if str(host) not in _LOOPBACK and not str(host).startswith("127."):
        raise socket.gaierror(socket.EAI_NONAME, "blocked by the test's resolver trap")


_getaddrinfo = socket.getaddrinfo


def getaddrinfo(host, *args, **kwargs):
    _note("getaddrinfo", host)
    return _getaddrinfo(host, *args, **kwargs)


_connect = socket.socket.connect


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _note("connect", address[0])
    return _connect(self, address)


socket.getaddrinfo = getaddrinfo
socket.socket.connect = connect
"""


@pytest.fixture
def trapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The log file; commands run with the trap and without the test suite's cost-map hint."""
    trap_dir = tmp_path / "trap"
    trap_dir.mkdir()
    (trap_dir / "sitecustomize.py").write_text(TRAP)
    log = tmp_path / "net.log"
    log.write_text("")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(trap_dir), os.environ.get("PYTHONPATH", "")])
    )
    monkeypatch.setenv("AIW_TEST_NET_LOG", str(log))
    # aiw must keep litellm's cost map local by itself, not because the tests say so.
    monkeypatch.delenv("LITELLM_LOCAL_MODEL_COST_MAP", raising=False)
    return log


def _attempts(log: Path) -> list[tuple[str, str]]:
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [
        (kind, host)
        for kind, host in entries
        if host not in ("127.0.0.1", "::1", "localhost") and not host.startswith("127.")
    ]


def test_the_trap_sees_a_lookup(trapped: Path, run_aiw: RunAiw) -> None:
    # The observer works: a plain lookup in a subprocess is logged (and refused).
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-c", "import socket\ntry:\n socket.getaddrinfo('x.example', 80)\n"
         "except OSError: pass"],
        check=True,
    )  # fmt: skip
    assert _attempts(trapped) == [("getaddrinfo", "x.example")]


def test_offline_refuses_a_remote_chroma_server_before_any_lookup(
    trapped: Path, run_aiw: RunAiw, isolated_env: IsolatedEnv, shop_project: Path
) -> None:
    isolated_env.write_user_config(
        'offline = true\n[knowledge]\nchroma_url = "http://chroma.example.com:8000"\n'
    )
    index = run_aiw("index", cwd=shop_project)
    assert index.returncode == 0, index.stderr  # lexical search still works
    assert "knowledge.chroma_url = http://chroma.example.com:8000" in index.stderr
    assert "offline mode is on" in index.stderr
    search = run_aiw("search", "invoice", "total", cwd=shop_project)
    assert search.returncode == 0, search.stderr
    assert "billing/invoice.py" in search.stdout
    assert "knowledge.chroma_url" in search.stdout + search.stderr
    assert _attempts(trapped) == []


def test_offline_refuses_a_cloud_embedding_model_before_any_lookup(
    trapped: Path, run_aiw: RunAiw, isolated_env: IsolatedEnv, shop_project: Path
) -> None:
    isolated_env.write_user_config(
        'offline = true\n[knowledge]\nembedding_model = "openai/text-embedding-3-small"\n',
    )
    index = run_aiw("index", cwd=shop_project, env={"OPENAI_API_KEY": "sk-test-0000"})
    assert index.returncode == 0, index.stderr
    assert "knowledge.embedding_model = https://api.openai.com/v1" in index.stderr
    assert "offline mode is on" in index.stderr
    search = run_aiw("search", "invoice", cwd=shop_project, env={"OPENAI_API_KEY": "sk-test-0000"})
    assert search.returncode == 0, search.stderr
    assert _attempts(trapped) == []


def test_offline_keeps_a_loopback_embedding_server(
    trapped: Path,
    run_aiw: RunAiw,
    isolated_env: IsolatedEnv,
    shop_project: Path,
    fake_llm: FakeLLM,
) -> None:
    # Local models stay usable offline; and litellm, imported for them, fetches no cost map.
    isolated_env.write_user_config(
        f'offline = true\n[knowledge]\nembedding_model = "openai/embed"\n'
        f'embedding_api_base = "{fake_llm.base_url}"\n',
    )
    index = run_aiw(
        "index", "--json", cwd=shop_project, timeout=120, env={"OPENAI_API_KEY": "sk-local"}
    )
    assert index.returncode == 0, index.stderr
    report = json.loads(index.stdout)
    assert report["embedding_error"] is None and report["chunks_embedded"] > 0
    assert any(r["path"].endswith("/embeddings") for r in fake_llm.requests)
    assert _attempts(trapped) == []  # no raw.githubusercontent.com for the cost map


def test_offline_chat_is_refused_before_any_lookup(
    trapped: Path, run_aiw: RunAiw, isolated_env: IsolatedEnv
) -> None:
    result = run_aiw(
        "ask", "--model", "openai/gpt-4o-mini", "hi",
        env={"AIW_OFFLINE": "1", "OPENAI_API_KEY": "sk-test-0000"},
    )  # fmt: skip
    assert result.returncode != 0
    assert "offline mode is on" in result.stderr
    assert _attempts(trapped) == []
