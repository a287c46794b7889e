"""What the agent does for small local models: files named in the goal are read first, a fix
shown instead of made is pushed back, and results say what usually comes next.

Loopback model server, real SQLite, real files (the harness of tests/test_agent_loop.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ai_workbench.agent.events import Notice, StepFinished
from ai_workbench.agent.loop import forget_tool_refusals
from ai_workbench.agent.named import files_named_in, modules_tested_by
from ai_workbench.agent.service import _readable_named_files
from ai_workbench.agent.tools import AgentToolbox
from ai_workbench.core.settings import Settings
from tests.fake_llm import tool_results
from tests.test_agent_loop import FIXED, Harness


@pytest.fixture(autouse=True)
def _fresh_memory() -> None:
    forget_tool_refusals()


@pytest.fixture
def project(isolated_env: Any) -> Path:
    root = isolated_env.work
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    return root


SHOWN = "Change calc.py like this:\n```python\ndef add(a, b):\n    return a + b\n```"


def test_files_named_in_a_goal_are_the_projects_existing_files(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("x = 1\n")
    (tmp_path / "calc.py").write_text("y = 2\n")
    (tmp_path / ".env").write_text("KEY=1\n")
    (tmp_path / "big.txt").write_text("z" * 100)
    goal = (
        "fix src/app.py and `calc.py`, see https://x.org/calc.py, ../calc.py, /etc/hosts, "
        "~/.bashrc, .env, missing.py, big.txt, and calc.py again."
    )
    assert files_named_in(goal, tmp_path, max_bytes=50) == ["src/app.py", "calc.py"]
    assert files_named_in("read ./calc.py.", tmp_path) == ["calc.py"]
    assert files_named_in("make the tests pass", tmp_path) == []


def test_the_code_a_named_test_imports_is_found(tmp_path: Path) -> None:
    (tmp_path / "src" / "shop").mkdir(parents=True)
    (tmp_path / "src" / "shop" / "__init__.py").write_text("")
    (tmp_path / "src" / "shop" / "cart.py").write_text("def total(x):\n    return 0\n")
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "helpers.py").write_text("X = 1\n")
    (tmp_path / "tests" / "test_all.py").write_text(
        "import os\nimport pytest\nfrom calc import add\nfrom shop.cart import total\n"
        "from . import helpers\nimport shop\n"
    )
    found = modules_tested_by("tests/test_all.py", tmp_path)
    assert found == ["calc.py", "src/shop/cart.py", "tests/helpers.py", "src/shop/__init__.py"]
    assert modules_tested_by("calc.py", tmp_path) == []  # no imports of the project's own
    assert modules_tested_by("missing_test.py", tmp_path) == []
    (tmp_path / "test_broken.py").write_text("from calc import (\n")
    assert modules_tested_by("test_broken.py", tmp_path) == []


def test_a_goal_naming_only_the_test_reads_the_code_it_imports(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (tmp_path / "test_calc.py").write_text("from calc import add\n")
    box = AgentToolbox(tmp_path, Settings(), mode="full-auto", approver=None)
    goal = "test_calc.py fails: make it pass"
    assert _readable_named_files(goal, tmp_path, box, []) == ["test_calc.py", "calc.py"]


def test_a_read_rule_keeps_a_named_file_from_being_read_first(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("y = 2\n")
    (tmp_path / "notes.md").write_text("n\n")
    settings = Settings(agent={"permissions": {"deny": ["Read(notes.md)"]}})
    box = AgentToolbox(tmp_path, settings, mode="full-auto", approver=None)
    goal = "use notes.md to fix calc.py"
    assert _readable_named_files(goal, tmp_path, box, []) == ["calc.py"]
    assert _readable_named_files(goal, tmp_path, box, [tmp_path / "calc.py"]) == []


async def test_files_the_goal_names_are_read_before_the_first_turn(isolated_env, fake_llm, project):
    fake_llm.tool_calls = [
        [{"name": "write_file", "arguments": {"path": "calc.py", "content": FIXED}}],
    ]
    fake_llm.reply = "Fixed."
    async with Harness(isolated_env, fake_llm, project) as h:
        run, events = await h.run("test_calc.py fails: fix calc.py", max_steps=2)
        record = await h.service().show(run.id)
    first = fake_llm.chat_requests[0]["json"]
    results = tool_results(first)
    assert "def test_add" in results[0] and "return a - b" in results[1]
    calls = [m for m in first["messages"] if m["role"] == "assistant"]
    assert [json.loads(c["tool_calls"][0]["function"]["arguments"]) for c in calls] == [
        {"path": "test_calc.py"},
        {"path": "calc.py"},
    ]
    # the reads are steps of the run, in the log, but not counted against --max-steps 2
    # and the tests are checked before the run ends (agent/check.py), also a step of the log
    tools = [s.tool for s in record.step_rows]
    assert tools == ["read_file", "read_file", "write_file", "run_command"]
    assert run.summary.status == "done" and (project / "calc.py").read_text() == FIXED
    # every assistant turn has string content (llama-cpp-python's server refuses null)
    sent = [m for r in fake_llm.chat_requests for m in r["json"]["messages"]]
    assert all(isinstance(m["content"], str) for m in sent if m["role"] == "assistant")
    assert [e.step.target for e in events if isinstance(e, StepFinished)][:2] == [
        "test_calc.py",
        "calc.py",
    ]


async def test_reads_first_reach_a_text_protocol_model_as_actions_and_results(
    isolated_env, fake_llm, project
):
    fake_llm.replies = ["Nothing to change."]
    async with Harness(isolated_env, fake_llm, project) as h:
        await h.run("look at calc.py", model="no-tools")
    messages = fake_llm.chat_requests[-1]["json"]["messages"]
    assert '"tool": "read_file"' in messages[2]["content"]
    assert messages[3]["role"] == "user" and "Result of read_file" in messages[3]["content"]
    assert "return a - b" in messages[3]["content"]


async def test_a_fix_shown_but_not_made_is_pushed_back_once_made(isolated_env, fake_llm, project):
    write = {"tool": "write_file", "args": {"path": "calc.py", "content": FIXED}}
    fake_llm.replies = [SHOWN, f"```json\n{json.dumps(write)}\n```", "Done: add adds."]
    async with Harness(isolated_env, fake_llm, project) as h:
        run, events = await h.run("fix add", mode="full-auto")
    pushed = fake_llm.chat_requests[1]["json"]["messages"][-1]["content"]
    assert "You have not changed any file yet" in pushed and "edit_file" in pushed
    assert any(isinstance(e, Notice) and "without making it" in e.text for e in events)
    assert (project / "calc.py").read_text() == FIXED
    assert run.summary.status == "done" and "add adds" in run.summary.final_text


async def test_a_model_that_says_what_it_will_do_and_stops_is_asked_to_do_it(
    isolated_env, fake_llm, project
):
    write = {"tool": "write_file", "args": {"path": "calc.py", "content": FIXED}}
    fake_llm.replies = [
        "I'll fix the sign in calc.py and then run the tests.",
        f"```json\n{json.dumps(write)}\n```",
        "Fixed.",
    ]
    async with Harness(isolated_env, fake_llm, project) as h:
        run, _ = await h.run("fix add", mode="full-auto")
    pushed = fake_llm.chat_requests[1]["json"]["messages"][-1]["content"]
    assert "saying what you will do" in pushed
    assert (project / "calc.py").read_text() == FIXED and run.summary.status == "done"


async def test_a_model_that_only_shows_code_is_pushed_twice_then_the_run_ends(
    isolated_env, fake_llm, project
):
    fake_llm.replies = [SHOWN, SHOWN, SHOWN]
    async with Harness(isolated_env, fake_llm, project) as h:
        run, _ = await h.run("fix add", mode="full-auto")
    assert len(fake_llm.chat_requests) == 3
    assert run.summary.status == "done" and (project / "calc.py").read_text() != FIXED


async def test_no_push_for_an_answer_without_code_or_after_an_edit(isolated_env, fake_llm, project):
    fake_llm.replies = ["add subtracts; it should add."]
    async with Harness(isolated_env, fake_llm, project) as h:
        await h.run("why does add fail?")
        assert len(fake_llm.chat_requests) == 1
        fake_llm.reset()
        fake_llm.tool_calls = [
            [{"name": "write_file", "arguments": {"path": "calc.py", "content": FIXED}}],
        ]
        fake_llm.replies = [SHOWN]
        await h.run("fix add", mode="full-auto")
        assert len(fake_llm.chat_requests) == 2


async def test_results_say_what_comes_next_after_an_edit_and_a_test_run(
    isolated_env, fake_llm, project
):
    fake_llm.tool_calls = [
        [{"name": "run_command", "arguments": {"command": "python -m pytest -q"}}],
        [{"name": "write_file", "arguments": {"path": "calc.py", "content": FIXED}}],
        [{"name": "run_command", "arguments": {"command": "python -m pytest -q"}}],
    ]
    fake_llm.reply = "Fixed."
    async with Harness(isolated_env, fake_llm, project) as h:
        await h.run("fix add", mode="full-auto")
    failed, edited, passed = tool_results(fake_llm.chat_requests[-1]["json"])
    assert "1 failed" in failed and "The tests fail" in failed and "Fix the cause" in failed
    assert "The change is made. Next: run the tests (" in edited and "pytest -q) to" in edited
    assert "1 passed" in passed and "The tests pass. If that reaches the goal, stop" in passed


async def test_a_model_that_gives_up_after_a_failed_edit_is_asked_to_try_again(
    isolated_env, fake_llm, project
):
    bad = {"tool": "edit_file", "args": {"path": "calc.py", "old_text": "a-b", "new_text": "a+b"}}
    good = {"tool": "write_file", "args": {"path": "calc.py", "content": FIXED}}
    fake_llm.replies = [
        f"```json\n{json.dumps(bad)}\n```",
        "I cannot change that file.",
        f"```json\n{json.dumps(good)}\n```",
        "Fixed.",
    ]
    async with Harness(isolated_env, fake_llm, project) as h:
        run, _ = await h.run("fix add", mode="full-auto")
    pushed = fake_llm.chat_requests[2]["json"]["messages"][-1]["content"]
    assert "You have not changed any file yet: your edit failed" in pushed
    assert (project / "calc.py").read_text() == FIXED
    assert run.summary.status == "done" and run.exit_code == 0
