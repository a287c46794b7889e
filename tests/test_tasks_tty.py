"""At a real terminal (tmux): an ambiguous date is asked about, a proposed task waits for y, and
`aiw remind` prints a reminder when it falls due."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, RunAiw
from tests.fake_llm import FakeLLM
from tests.tui.test_e2e_tmux import Terminal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(f"aiw-tasks-{os.getpid()}-{tmp_path.name}")
    try:
        yield term
    finally:
        term.kill()


def start(terminal: Terminal, cwd: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
    env.update(TERM="xterm-256color", PYTHONPATH=str(REPO_ROOT), AIW_TASKS__TIMEZONE="UTC")
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    terminal.start([sys.executable, "-m", "ai_workbench", *args], cwd, env)


def listed(run_aiw: RunAiw) -> list[dict[str, Any]]:
    done = run_aiw("task", "list", "--json", "--all")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_ambiguous_date_is_asked_about(
    terminal: Terminal, isolated_env: Any, run_aiw: RunAiw
) -> None:
    start(terminal, isolated_env.work, "task", "add", "pay rent 03/04")
    screen = terminal.wait_for(lambda s: "Which one" in s, "the question")
    assert "could be day/month or month/day" in screen
    _first, second = (line for line in screen.splitlines() if line.strip()[:2] in ("1)", "2)"))
    terminal.type("2")
    terminal.keys("Enter")
    chosen = second.split(")", 1)[1].split()[1]  # the date of reading 2
    terminal.wait_for(lambda s: "added task 1" in s, "the saved task", timeout=20)
    [task] = listed(run_aiw)
    assert task["title"] == "pay rent" and task["due"].startswith(chosen)


def test_a_proposed_task_waits_for_yes_at_a_terminal(
    terminal: Terminal, isolated_env: Any, run_aiw: RunAiw, fake_llm: FakeLLM
) -> None:
    proposal = {"title": "rotate keys", "when": "2030-01-08 10:00"}
    fake_llm.tool_calls = [[{"name": "propose_task", "arguments": proposal}]]
    start(
        terminal, isolated_env.work, "ask", "--model", "openai/echo", "--api-base",
        fake_llm.base_url, "remind me to rotate the keys",
    )  # fmt: skip
    screen = terminal.wait_for(lambda s: "Save this task?" in s, "the question", timeout=30)
    assert "due Tue 2030-01-08 10:00 UTC" in screen
    assert listed(run_aiw) == []
    terminal.type("y")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "added task 1" in s, "the saved task")
    assert [t["title"] for t in listed(run_aiw)] == ["rotate keys"]


def test_remind_prints_a_reminder_when_it_falls_due(
    terminal: Terminal, isolated_env: Any, run_aiw: RunAiw
) -> None:
    run_aiw("task", "add", "check the backup")
    snoozed = run_aiw("task", "snooze", "1", "3s")
    assert snoozed.returncode == 0, snoozed.stderr
    start(terminal, isolated_env.work, "remind", "--no-desktop")
    terminal.wait_for(lambda s: "waiting for reminders" in s, "the scheduler")
    terminal.wait_for(lambda s: "Reminder: task 1: check the backup" in s, "the reminder")
