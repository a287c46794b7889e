"""`aiw index`, `aiw search`, `aiw kb` and `aiw ask --kb` as a user runs them.

Real subprocesses (``run_aiw``) in the isolated environment, the real index under the isolated
data dir, and the loopback model server for the grounded answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunAiw
from tests.fake_llm import FakeLLM

SECRET = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture
def project(shop_project: Path) -> Path:
    return shop_project


def test_index_search_and_rate(run_aiw: RunAiw, project: Path) -> None:
    first = run_aiw("index", "--json", cwd=project)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert sorted(report["added"]) == ["README.md", "billing/invoice.py", "billing/settings.py"]
    assert Path(report["report_path"]).is_file() and report["embedding_model"]

    again = run_aiw("index", cwd=project)
    assert again.returncode == 0, again.stderr
    assert "0 added, 0 updated, 0 deleted, 3 unchanged" in again.stderr
    assert "report: " in again.stderr

    found = run_aiw("search", "invoice", "total", "with", "VAT", cwd=project)
    assert found.returncode == 0, found.stderr
    first_line = found.stdout.splitlines()[0]
    assert first_line.startswith(" 1. billing/invoice.py:1-4  score ")
    assert "def invoice_total" in first_line

    as_json = run_aiw("search", "--json", "invoice total", cwd=project)
    data = json.loads(as_json.stdout)
    assert data["results"][0]["location"] == "billing/invoice.py:1-4"
    assert data["results"][0]["rank"] == 1 and data["clarifying_question"] is None

    liked = run_aiw("kb", "like", "1", "-m", "right place", cwd=project)
    assert liked.returncode == 0, liked.stderr
    assert 'liked billing/invoice.py:1-4 for "invoice total"' in liked.stderr

    unknown = run_aiw("kb", "dislike", "zzzzzz", cwd=project)
    assert unknown.returncode == 3 and "no indexed chunk 'zzzzzz'" in unknown.stderr


def test_search_before_index_says_what_to_do(run_aiw: RunAiw, project: Path) -> None:
    result = run_aiw("search", "invoice", cwd=project)
    assert result.returncode == 3
    assert "run `aiw index` first" in result.stderr


def test_ask_kb_grounds_and_cites(run_aiw: RunAiw, project: Path, fake_llm: FakeLLM) -> None:
    assert run_aiw("index", cwd=project).returncode == 0
    fake_llm.reply = "VAT is added in `billing/invoice.py:1-4` (invoice_total)."
    result = run_aiw(
        "ask", "--kb", "--model", "openai/echo", "--api-base", fake_llm.base_url,
        "how is the invoice VAT total computed?", cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "billing/invoice.py:1-4" in result.stdout  # the answer keeps its citation
    request = fake_llm.chat_requests[-1]
    system = next(m["content"] for m in request["json"]["messages"] if m["role"] == "system")
    assert "### billing/invoice.py:1-4 (def invoice_total)" in system
    assert "net = sum(line.amount for line in lines)" in system  # the retrieved chunk
    assert "Cite each excerpt you rely on as `path:start-end`" in system
    assert SECRET not in json.dumps(fake_llm.chat_requests)  # retrieved text is redacted


def test_ask_kb_asks_back_when_retrieval_is_weak(
    run_aiw: RunAiw, project: Path, fake_llm: FakeLLM
) -> None:
    assert run_aiw("index", cwd=project).returncode == 0
    before = len(fake_llm.chat_requests)
    result = run_aiw(
        "ask", "--kb", "--model", "openai/echo", "--api-base", fake_llm.base_url,
        "why does the kubernetes operator crash on reconcile?", cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "below the 0.70 threshold" in result.stdout and "Do you mean" in result.stdout
    assert len(fake_llm.chat_requests) == before  # asked the user, not the model


def test_index_shows_a_progress_bar_on_a_terminal(project: Path) -> None:
    """With stderr on a terminal (a real pty) `aiw index` draws a progress bar."""
    import os
    import pty
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    for n in range(30):
        (project / f"mod{n}.py").write_text(f"def f{n}():\n    return {n}\n")
    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), COLUMNS="100", TERM="xterm")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai_workbench", "index"],
        cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the pty
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=60) == 0
    os.close(master)
    screen = b"".join(chunks).decode(errors="replace")
    assert "indexing" in screen and "/33" in screen  # bar with done/total
    assert "33 added" in screen


def test_a_broken_pdf_is_reported_once_without_pypdf_noise(run_aiw: RunAiw, project: Path) -> None:
    (project / "manual.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf\n")
    result = run_aiw("index", cwd=project)
    assert result.returncode == 0, result.stderr
    noisy = [line for line in result.stderr.splitlines() if "EOF marker" in line]
    # Exactly one line, the report's: no raw "EOF marker not found" from pypdf's logger.
    assert len(noisy) == 1 and noisy[0].lstrip().startswith("failed  manual.pdf: unreadable PDF")


def _ask_kb(run_aiw: RunAiw, project: Path, fake: FakeLLM, *extra: str) -> Any:
    return run_aiw(
        "ask", "--kb", "--model", "openai/echo", "--api-base", fake.base_url, *extra,
        "how is the invoice VAT total computed?", cwd=project,
    )  # fmt: skip


def _stored_answer(isolated_env: Any) -> Any:
    import sqlite3

    conn = sqlite3.connect(isolated_env.aiw_data / "aiw.db")
    try:
        return conn.execute(
            "SELECT content FROM messages WHERE role = 'assistant' ORDER BY id DESC"
        ).fetchone()[0]
    finally:
        conn.close()


def test_ask_kb_checks_each_citation_against_the_excerpts_sent(
    run_aiw: RunAiw, project: Path, fake_llm: FakeLLM, isolated_env: Any
) -> None:
    assert run_aiw("index", cwd=project).returncode == 0
    fake_llm.reply = "VAT is added in `billing/invoice.py:1-4` (invoice_total)."
    right = _ask_kb(run_aiw, project, fake_llm)
    assert right.returncode == 0, right.stderr
    assert "Citation check:** 1 of 1 citation(s) right" in right.stdout
    assert "wrong" not in right.stdout
    assert len(fake_llm.chat_requests) == 1

    fake_llm.reply = "VAT is added in `billing/invoice.py:40-48`."
    wrong = _ask_kb(run_aiw, project, fake_llm, "--json")
    data = json.loads(wrong.stdout)
    assert data["citations"]["wrong"] == [
        {
            "citation": "billing/invoice.py:40-48",
            "why": "lines outside the excerpt(s) sent (billing/invoice.py:1-4)",
        }
    ]
    assert "wrong citation** `billing/invoice.py:40-48`" in data["answer"]
    assert "wrong citation" in _stored_answer(isolated_env)  # the session keeps the verdict


def test_ask_kb_asks_once_for_sources_when_the_answer_cites_none(
    run_aiw: RunAiw, project: Path, fake_llm: FakeLLM, isolated_env: Any
) -> None:
    assert run_aiw("index", cwd=project).returncode == 0

    def reply(body: dict[str, Any]) -> str:
        last = body["messages"][-1]["content"]
        if last.startswith("Which of the excerpts"):
            return "billing/invoice.py:1-4"
        return "It sums the lines and adds VAT."

    fake_llm.reply_fn = reply
    asked = _ask_kb(run_aiw, project, fake_llm)
    assert asked.returncode == 0, asked.stderr
    assert len(fake_llm.chat_requests) == 2  # the answer, then "which excerpts?" once
    assert "asked, the model named: `billing/invoice.py:1-4`" in asked.stdout
    assert "1 of 1 citation(s) right" in asked.stdout

    fake_llm.reset()
    fake_llm.reply = "It sums the lines and adds VAT."  # and cites nothing when asked either
    silent = _ask_kb(run_aiw, project, fake_llm)
    assert len(fake_llm.chat_requests) == 2  # asked once, not again and again
    assert "citations missing" in silent.stdout and "`billing/invoice.py:1-4`" in silent.stdout
    assert "citations missing" in _stored_answer(isolated_env)
