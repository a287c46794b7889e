"""`aiw agent` end to end through click's CliRunner: loopback model, real database, real files.

The run's toolbox is the small real one of tests/agent_tools.py (set as the service's default
toolbox for the test); without a terminal, anything that must ask is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ai_workbench.agent import service as agent_service
from ai_workbench.agent.exits import EXIT_LIMIT, EXIT_QUESTION, EXIT_REFUSED
from ai_workbench.agent.loop import forget_tool_refusals
from ai_workbench.cli.main import main
from tests.agent_tools import factory
from tests.fake_llm import FakeLLM

FIXED = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def project(isolated_env: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    forget_tool_refusals()
    root = isolated_env.work
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    monkeypatch.chdir(root)
    monkeypatch.setattr(agent_service, "default_toolbox", factory(refuse=["git push"]))
    return root


def aiw(fake: FakeLLM, *args: str, model: str = "echo") -> Any:
    runner = CliRunner()
    if args and args[0] in ("log", "rate"):
        return runner.invoke(main, ["agent", *args], catch_exceptions=False)
    extra = ["--model", f"openai/{model}", "--api-base", fake.base_url]
    return runner.invoke(main, [*args[:1], *extra, *args[1:]], catch_exceptions=False)


def script_fix(fake: FakeLLM) -> None:
    fake.tool_calls = [
        [{"name": "read_file", "arguments": {"path": "calc.py"}}],
        [{"name": "write_file", "arguments": {"path": "calc.py", "content": FIXED}}],
        [{"name": "run_command", "arguments": {"command": "python -m pytest -q"}}],
    ]
    fake.reply = "Fixed the sign in add; the test passes."


def test_a_goal_runs_to_done_with_one_line_per_step(fake_llm, project) -> None:
    script_fix(fake_llm)
    result = aiw(fake_llm, "agent", "fix add in calc.py", "--mode", "full-auto")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "agent run 1 · mode full-auto · openai/echo" in out
    assert "▸ 1 read_file  calc.py  [auto]" in out  # the goal names it: read before the model
    assert "▸ 2 read_file  calc.py  [auto]" in out
    assert "▸ 3 write_file  calc.py  [auto] → changed calc.py" in out
    assert "▸ 4 run_command  python -m pytest -q  [auto] → exit 0" in out
    assert "Fixed the sign in add" in out
    assert "files changed: 1 (+1 -1)" in out and "calc.py | +1 -1" in out
    assert "tests: 1 run(s), the last passed (1 passed)" in out
    assert (project / "calc.py").read_text() == FIXED


def test_the_log_shows_every_step_and_a_run_can_be_rated(fake_llm, project) -> None:
    script_fix(fake_llm)
    assert aiw(fake_llm, "agent", "fix add", "--mode", "full-auto").exit_code == 0

    listed = aiw(fake_llm, "log")
    assert listed.exit_code == 0 and "   1  " in listed.output and "done" in listed.output

    shown = aiw(fake_llm, "log", "1", "--diffs")
    assert "write_file" in shown.output and "+    return a + b" in shown.output
    assert "files changed: calc.py (+1 -1)" in shown.output

    data = json.loads(aiw(fake_llm, "log", "1", "--json").output)
    assert [s["decision"] for s in data["step_rows"]] == ["auto", "auto", "auto"]
    assert data["status"] == "done" and data["summary"]["tests_passed"] is True

    rated = aiw(fake_llm, "rate", "1", "+", "-m", "clean fix")
    assert rated.exit_code == 0 and "liked run 1: clean fix" in rated.output
    assert "rated +1 — clean fix" in aiw(fake_llm, "log", "1").output
    assert aiw(fake_llm, "rate", "1", "meh").exit_code == 2
    missing = aiw(fake_llm, "log", "7")
    assert missing.exit_code == 3 and "no agent run 7" in missing.output


def test_exit_codes_say_how_the_run_ended(fake_llm, project) -> None:
    fake_llm.tool_calls = [[{"name": "read_file", "arguments": {"path": "calc.py"}}]] * 3
    fake_llm.reply = "Left: the fix itself."
    limited = aiw(fake_llm, "agent", "fix add", "--max-steps", "1")
    assert limited.exit_code == EXIT_LIMIT, limited.output
    assert "stopped at a limit: the step limit of 1" in limited.output
    assert "left to do: Left: the fix itself." in limited.output

    fake_llm.reset()
    fake_llm.tool_calls = [[{"name": "ask_user", "arguments": {"question": "Which file?"}}]]
    asked = aiw(fake_llm, "agent", "fix it")
    assert asked.exit_code == EXIT_QUESTION
    assert "question: Which file?" in asked.output

    fake_llm.reset()
    fake_llm.tool_calls = [[{"name": "run_command", "arguments": {"command": "git push"}}]]
    fake_llm.reply = "Could not push."
    refused = aiw(fake_llm, "agent", "push it")
    assert refused.exit_code == EXIT_REFUSED
    assert "✗ 1 run_command  git push  [refused]" in refused.output

    failed = aiw(fake_llm, "agent", "anything", model="fail-401")
    assert failed.exit_code == 4 and "authentication failed" in failed.output

    usage = aiw(fake_llm, "agent", "x", "--mode", "yolo")
    assert usage.exit_code == 2


def test_json_prints_one_event_per_line(fake_llm, project) -> None:
    script_fix(fake_llm)
    result = aiw(fake_llm, "agent", "fix add", "--mode", "full-auto", "--json")
    assert result.exit_code == 0
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "done"
    assert kinds.count("step_finished") == 3
    assert events[-1]["status"] == "done" and events[-1]["files"][0]["path"] == "calc.py"


def test_ask_autonomous_is_the_agent(fake_llm, project) -> None:
    script_fix(fake_llm)
    result = aiw(fake_llm, "ask", "--autonomous", "fix add in calc.py")
    assert result.exit_code == 0, result.output
    assert "▸ 4 run_command  python -m pytest -q" in result.output
    assert "agent run 1" in result.output
    # the agent's own options, as `ai --autonomous` users would pass them
    fake_llm.reset()
    fake_llm.tool_calls = [[{"name": "run_command", "arguments": {"command": "echo hi"}}]] * 3
    limited = aiw(fake_llm, "ask", "--autonomous", "--mode", "plan", "--max-steps", "1", "look")
    assert limited.exit_code == EXIT_LIMIT, limited.output
    assert "[plan]" in limited.output or "mode plan" in limited.output
    wrong = aiw(fake_llm, "ask", "--max-steps", "3", "hello")
    assert wrong.exit_code == 2 and "go with --autonomous" in wrong.output
