"""Two things a small local model needs from the agent, on the real toolbox, policy and sandbox:

* code it shows in its answer instead of calling ``edit_file`` becomes an ``edit_file`` proposal
  (which the policy judges like any edit), merged into the file it names;
* before a run that changed files (or was asked to fix failing tests) ends, the project's tests
  run once more and a failure goes back to the model.

Loopback model server, real SQLite, real files, real pytest.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from ai_workbench.agent.check import (
    check_command,
    could_not_check,
    is_prose,
    keeps_tests,
    narrowed,
    same_check,
    wants_a_fix,
)
from ai_workbench.agent.events import Notice
from ai_workbench.agent.loop import forget_tool_refusals
from ai_workbench.agent.shown import changes_code, is_test_path, shown_edits
from tests.agent.test_agent_gaps import run_goal
from tests.fake_llm import FakeLLM, tool_results

PYTEST = f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider"
CALC = (
    "import math\n\n\ndef add(a, b):\n    return a - b\n\n\n"
    "def area(r):\n    return math.pi * r * r\n"
)
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
SHOWN = "The bug is in `calc.py`:\n```python\ndef add(a, b):\n    return a + b\n```\nThat fixes it."


@pytest.fixture(autouse=True)
def _fresh() -> None:
    forget_tool_refusals()


@pytest.fixture
def project(isolated_env: Any) -> Path:
    root = isolated_env.work
    (root / "calc.py").write_text(CALC)
    (root / "test_calc.py").write_text(TEST)
    # these tests drive the tool loop; the fix-first start has its own tests below
    config = f'[agent]\ncheck_command = {json.dumps(PYTEST)}\nfirst_turn = "tools"\n'
    isolated_env.write_user_config(config)
    return root


@pytest.fixture
def fix_first(isolated_env: Any, project: Path) -> Path:
    isolated_env.write_user_config(f"[agent]\ncheck_command = {json.dumps(PYTEST)}\n")
    return project


def reader(root: Path) -> Any:
    def read(name: str) -> str | None:
        path = root / name
        return path.read_text() if path.is_file() else None

    return read


# -- shown code → the file's new text --------------------------------------------------------


def test_a_shown_function_replaces_only_that_function(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text(CALC)
    (edit,) = shown_edits(SHOWN, reader(tmp_path))
    assert edit.path == "calc.py"
    assert edit.content == CALC.replace("a - b", "a + b")  # area() and the import are kept


def test_new_functions_and_imports_are_added_and_a_header_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "text.py").write_text('"""Text."""\n\n\ndef up(s):\n    return s\n')
    answer = (
        "Here you go:\n```python\n# pkg/text.py\nimport re\n\n\ndef up(s):\n    return s.upper()"
        "\n\n\ndef words(s):\n    return re.findall(r'\\w+', s)\n```"
    )
    (edit,) = shown_edits(answer, reader(tmp_path))
    assert edit.path == "pkg/text.py"
    assert edit.content == (
        '"""Text."""\nimport re\n\n\ndef up(s):\n    return s.upper()\n\n\n'
        "def words(s):\n    return re.findall(r'\\w+', s)\n"
    )


def test_one_block_for_two_files_is_split_and_a_file_never_imports_itself(
    tmp_path: Path,
) -> None:
    (tmp_path / "slug.py").write_text('"""Helpers for URLs."""\n')
    (tmp_path / "test_slug.py").write_text(TEST.replace("calc", "slug"))
    answer = (
        "```python\n# slug.py\nimport re\nfrom slug import helper\n\n\ndef slugify(text):\n"
        "    return re.sub(r'\\W+', '-', text.strip().lower())\n"
        "# test_slug.py\nfrom slug import slugify\n\n\ndef test_slugify():\n"
        "    assert slugify('A b') == 'a-b'\n```"
    )
    (edit,) = shown_edits(answer, reader(tmp_path))  # test_slug.py's part is left alone
    assert edit.path == "slug.py"
    assert edit.content == (
        '"""Helpers for URLs."""\nimport re\n\n\ndef slugify(text):\n'
        "    return re.sub(r'\\W+', '-', text.strip().lower())\n"
    )


def test_a_class_shown_in_part_changes_only_the_methods_shown(tmp_path: Path) -> None:
    source = (
        "class Cart:\n    def __init__(self):\n        self.items = []\n\n"
        "    def add(self, item):\n        self.items.append(item)\n\n"
        "    def total(self):\n        return 0\n"
    )
    (tmp_path / "cart.py").write_text(source)
    answer = (
        "In cart.py:\n```python\nclass Cart:\n    def total(self):\n"
        "        return sum(i.price for i in self.items)\n```"
    )
    (edit,) = shown_edits(answer, reader(tmp_path))
    assert edit.content == source.replace("return 0", "return sum(i.price for i in self.items)")


def test_unclear_blocks_change_nothing(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text(CALC)
    (tmp_path / "test_calc.py").write_text(TEST)
    (tmp_path / "app.js").write_text("const a = 1;\nconst b = 2;\nexport { a, b };\n")
    read = reader(tmp_path)
    same = "calc.py:\n```python\ndef add(a, b):\n    return a - b\n```"
    test = "test_calc.py should say:\n```python\ndef test_add():\n    assert add(2, 3) == 6\n```"
    test_into_source = "For calc.py the test is:\n```python\ndef test_add():\n    assert 1\n```"
    nameless = "```python\ndef add(a, b):\n    return a + b\n```"
    broken = "calc.py:\n```python\ndef add(a, b)\n    return a + b\n```"
    js_part = "In app.js:\n```js\nconst b = 3;\n```"
    elided = "calc.py:\n```python\ndef add(a, b):\n    return a + b\n\n\ndef area(r):\n    ...\n```"
    rest = "calc.py:\n```python\ndef add(a, b):\n    return a + b\n# ... rest of the file\n```"
    stub = 'calc.py:\n```python\ndef mul(a, b):\n    """Multiply."""\n    pass\n```'
    todo = "calc.py:\n```python\ndef add(a, b):\n    raise NotImplementedError('todo')\n```"
    unclear = (same, test, test_into_source, nameless, broken, js_part, elided, rest, stub, todo)
    for answer in unclear:
        assert shown_edits(answer, read) == [], answer
    assert is_test_path("tests/unit/calc.py") and is_test_path("src/app.spec.ts")
    assert not is_test_path("src/contest.py")
    # a nameless block is clear when exactly one file read in this run defines its function
    (edit,) = shown_edits(nameless, read, seen=["test_calc.py", "calc.py"])
    assert edit.path == "calc.py" and "a + b" in edit.content
    # a whole non-Python file, first and last lines included, replaces it
    whole = "app.js:\n```js\nconst a = 1;\nconst b = 3;\nexport { a, b };\n```"
    (edit,) = shown_edits(whole, read)
    assert edit.content == "const a = 1;\nconst b = 3;\nexport { a, b };\n"


async def test_code_shown_instead_of_made_becomes_an_edit_the_policy_judges(
    isolated_env: Any, fake_llm: FakeLLM, project: Path
) -> None:
    fake_llm.replies = [SHOWN, "Done: add adds."]
    run, events = await run_goal(isolated_env, fake_llm, mode="full-auto", goal="fix add")
    assert (project / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert any(isinstance(e, Notice) and "showed a change to calc.py" in e.text for e in events)
    assert fake_llm.chat_requests[0]["json"]["temperature"] == 0  # [agent] temperature
    steps = [(s.tool, s.decision) for s in run.loop.steps]
    assert steps[0] == ("edit_file", "auto")
    assert run.summary.status == "done" and [f.path for f in run.summary.files] == ["calc.py"]
    edited = tool_results(fake_llm.chat_requests[1]["json"])[0]
    assert "edited calc.py" in edited or "calc.py" in edited

    # in ask mode, with nobody to ask, the same answer changes nothing
    (project / "calc.py").write_text(CALC)
    fake_llm.reset()
    fake_llm.replies = [SHOWN, "Done."]
    run, _ = await run_goal(isolated_env, fake_llm, mode="ask", goal="fix add")
    assert (project / "calc.py").read_text() == CALC
    assert next((s.tool, s.decision) for s in run.loop.steps) == ("edit_file", "refused")


# -- the check before done -------------------------------------------------------------------


async def test_a_run_that_says_done_with_the_tests_failing_is_sent_back(
    isolated_env: Any, fake_llm: FakeLLM, project: Path
) -> None:
    edit = {"path": "calc.py", "old_text": "return a - b", "new_text": "return a * b"}
    fake_llm.tool_calls = [[{"name": "edit_file", "arguments": edit}]]
    fake_llm.replies = ["Fixed.", SHOWN, "Fixed now."]  # "Fixed." — but 2 * 3 is not 5
    goal = "test_calc.py fails: fix calc.py so that it passes"
    run, events = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=goal)

    told = fake_llm.chat_requests[2]["json"]["messages"]
    assert told[-1]["role"] == "user" and "the project's tests fail" in told[-1]["content"]
    assert "1 failed" in tool_results(fake_llm.chat_requests[2]["json"])[-1]
    assert "return a + b" in (project / "calc.py").read_text()
    checks = [s for s in run.loop.steps if s.tool == "run_command"]
    assert [s.exit_code for s in checks] == [1, 0]  # failed, sent back; passed, done
    assert run.summary.status == "done" and run.summary.final_text == "Fixed now."
    assert run.summary.tests_passed is True
    assert any(isinstance(e, Notice) and "before finishing" in e.text for e in events)


async def test_a_model_that_calls_broken_code_correct_hears_the_tests(
    isolated_env: Any, fake_llm: FakeLLM, project: Path
) -> None:
    fake_llm.replies = ["The code in calc.py is correct.", SHOWN, "Fixed."]
    goal = "test_calc.py fails: fix calc.py so that it passes"
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=goal)
    assert (
        "the project's tests fail" in fake_llm.chat_requests[1]["json"]["messages"][-1]["content"]
    )
    assert "return a + b" in (project / "calc.py").read_text()
    assert run.summary.tests_passed is True


async def test_the_check_runs_even_after_the_model_repeated_the_same_command(
    isolated_env: Any, fake_llm: FakeLLM, project: Path
) -> None:
    test = [{"name": "run_command", "arguments": {"command": PYTEST}}]
    fake_llm.tool_calls = [test, test]
    fake_llm.replies = ["The code is correct.", "Still correct."]
    goal = "test_calc.py fails: fix calc.py so that it passes"
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=goal, max_steps=3)
    exits = [s.exit_code for s in run.loop.steps if s.tool == "run_command"]
    assert exits[:3] == [1, 1, 1]  # the model's two runs, then the loop's check, really run
    assert (
        "the project's tests fail" in fake_llm.chat_requests[3]["json"]["messages"][-1]["content"]
    )


async def test_no_check_for_a_question_or_when_it_is_off(
    isolated_env: Any, fake_llm: FakeLLM, project: Path
) -> None:
    fake_llm.replies = ["add subtracts."]
    run, _ = await run_goal(
        isolated_env, fake_llm, mode="full-auto", goal="why does the test fail?"
    )
    assert len(fake_llm.chat_requests) == 1 and run.loop.steps == []

    isolated_env.write_user_config('[agent]\ncheck_command = "off"\n')
    fake_llm.reset()
    fake_llm.replies = [SHOWN, "Done."]
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal="fix add")
    assert [s.tool for s in run.loop.steps] == ["edit_file"]


async def test_an_untrusted_projects_check_command_is_not_run(
    isolated_env: Any, fake_llm: FakeLLM, project: Path
) -> None:
    (project / ".aiw.toml").write_text('[agent]\ncheck_command = "touch checked-by-project"\n')
    fake_llm.replies = [SHOWN, "Done."]
    run, events = await run_goal(isolated_env, fake_llm, mode="full-auto", goal="fix add")
    assert not (project / "checked-by-project").exists()
    assert [s.command for s in run.loop.steps if s.tool == "run_command"] == [PYTEST]
    notes = " ".join(e.text for e in events if isinstance(e, Notice))
    assert "looser agent.check_command" in notes


def test_the_check_command_is_found_from_the_project(tmp_path: Path) -> None:
    assert check_command(tmp_path) is None
    assert check_command(tmp_path, "make check") == "make check"
    (tmp_path / "package.json").write_text(json.dumps({"scripts": {"test": "vitest run"}}))
    assert check_command(tmp_path) == "npm test --silent"
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("def test_x():\n    pass\n")
    assert check_command(tmp_path).endswith("-m pytest -q")
    assert check_command(tmp_path, "off") is None
    assert wants_a_fix("test_calc.py fails: fix calc.py") and wants_a_fix("make the tests pass")
    assert not wants_a_fix("why does the test fail?") and not wants_a_fix("fix the typo in README")
    assert wants_a_fix("f_to_c gives wrong results; make test_temperature.py pass")
    assert not wants_a_fix("make the latest contest entry")
    assert wants_a_fix("test_slug.py imports slugify from slug.py, which lacks it: add it")
    assert not wants_a_fix("why does add fail in test_calc.py?")
    assert keeps_tests("test_calc.py fails: fix calc.py") and not keeps_tests("add a test_x case")
    assert could_not_check(5, "no tests ran") and could_not_check(1, "No module named pytest")
    assert not could_not_check(1, "1 failed in 0.1s")
    assert could_not_check(0, "----\nRan 0 tests in 0.000s\n\nOK")
    assert is_prose("README.md") and is_prose("docs/api.yaml") and not is_prose("calc.py")
    assert same_check("pytest -q", ".venv/bin/python -m pytest -q")
    assert same_check("python3 -m pytest -q", "python -m pytest -q")
    assert not same_check("python -m unittest discover", "python -m pytest -q")
    assert not same_check("pytest -q test_a.py::test_one", "python -m pytest -q")


# -- the code turn ---------------------------------------------------------------------------


async def test_a_model_going_round_in_circles_is_asked_for_the_fix_as_code(
    isolated_env: Any, fake_llm: FakeLLM, project: Path
) -> None:
    test = [{"name": "run_command", "arguments": {"command": PYTEST}}]
    fake_llm.tool_calls = [test, test, test]  # the third is not run again: it is going round
    fake_llm.replies = ["calc.py\n```python\ndef add(a, b):\n    return a + b\n```", "Fixed."]
    goal = "test_calc.py fails: fix calc.py so that it passes"
    run, events = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=goal)

    code_turn = fake_llm.chat_requests[3]["json"]
    assert "tools" not in code_turn  # no tools offered in this turn
    # the turn is a short conversation of its own: the request holds all it needs
    assert [m["role"] for m in code_turn["messages"]] == ["system", "user"]
    asked = code_turn["messages"][-1]["content"]
    assert asked.startswith(f"The goal: {goal}") and "Answer WITHOUT calling tools" in asked
    assert "1 failed" in asked and "<tool_output" not in asked
    assert "calc.py now reads:\n```python\nimport math" in asked
    assert "test_calc.py (a test: leave it as it is):\n```python\nfrom calc import add" in asked
    assert "tools" in fake_llm.chat_requests[4]["json"]  # the turn after has them again
    assert (project / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert run.summary.status == "done" and run.summary.tests_passed is True
    assert any(isinstance(e, Notice) and "repeated the same call" in e.text for e in events)


async def test_edits_that_keep_missing_lead_to_a_code_turn(
    isolated_env: Any, fake_llm: FakeLLM, project: Path
) -> None:
    miss = {"path": "calc.py", "old_text": "return a-b", "new_text": "return a+b"}
    read = [{"name": "read_file", "arguments": {"path": "calc.py"}}]
    fake_llm.tool_calls = [[{"name": "edit_file", "arguments": miss}], read,
                           [{"name": "edit_file", "arguments": miss}]]  # fmt: skip
    fake_llm.replies = ["calc.py\n```python\ndef add(a, b):\n    return a + b\n```", "Done."]
    run, events = await run_goal(isolated_env, fake_llm, mode="full-auto", goal="fix add")
    assert "tools" not in fake_llm.chat_requests[3]["json"]
    assert any(isinstance(e, Notice) and "edits did not apply" in e.text for e in events)
    assert (project / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert run.summary.status == "done" and run.summary.tests_passed is True


async def test_a_second_failed_check_asks_for_the_fix_as_code(
    isolated_env: Any, fake_llm: FakeLLM, project: Path
) -> None:
    def edit(old: str, new: str) -> list[dict[str, Any]]:
        args = {"path": "calc.py", "old_text": old, "new_text": new}
        return [{"name": "edit_file", "arguments": args}]

    fake_llm.tool_calls = [edit("a - b", "a * b"), edit("a * b", "a ** b")]  # both wrong
    fake_llm.replies = [
        "Fixed.",
        "Fixed.",
        "calc.py\n```python\ndef add(a, b):\n    return a + b\n```",
        "Done.",
    ]
    goal = "test_calc.py fails: fix calc.py so that it passes"
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=goal)

    bodies = [r["json"] for r in fake_llm.chat_requests]
    code_turns = [b for b in bodies if "tools" not in b]
    assert len(code_turns) == 1
    asked = code_turns[0]["messages"][-1]["content"]
    assert "assert 8 == 5" in asked and "Answer WITHOUT calling tools" in asked  # 2 ** 3
    assert "You said you were done" not in asked  # the long history's words stay there
    assert (project / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    checks = [s.exit_code for s in run.loop.steps if s.tool == "run_command"]
    assert checks == [1, 1, 0] and run.summary.tests_passed is True


async def test_shown_code_comes_before_a_made_up_test_run_in_the_same_answer(
    isolated_env: Any, fake_llm: FakeLLM, project: Path
) -> None:
    made_up = '<tool_output tool="run_command" command="pytest">\n1 passed\n</tool_output>'
    fake_llm.replies = [f"{SHOWN}\n\nNow the tests:\n{made_up}", "Done."]
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal="fix add")
    assert (project / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert [(s.tool, s.exit_code) for s in run.loop.steps] == [
        ("edit_file", None),
        ("run_command", 0),
    ]


async def test_a_test_command_that_ran_no_tests_is_not_taken_for_a_pass(
    isolated_env: Any, fake_llm: FakeLLM, project: Path
) -> None:
    unittest = f"{shlex.quote(sys.executable)} -m unittest test_calc.py"  # pytest-style: 0 run
    fake_llm.tool_calls = [[{"name": "run_command", "arguments": {"command": unittest}}]]
    fake_llm.replies = [SHOWN, "Done."]
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal="fix add")
    result = tool_results(fake_llm.chat_requests[1]["json"])[-1]
    assert "Ran 0 tests" in result and "That ran no tests at all" in result
    assert f"Run the project's tests ({PYTEST})" in result
    assert run.summary.tests_passed is True  # the check ran the real ones


async def test_a_run_asked_to_make_tests_pass_does_not_change_them_by_itself(
    isolated_env: Any, fake_llm: FakeLLM, project: Path
) -> None:
    weaker = {"path": "test_calc.py", "old_text": "== 5", "new_text": "== -1"}
    fake_llm.tool_calls = [[{"name": "edit_file", "arguments": weaker}]]
    fake_llm.replies = [SHOWN, "Done."]
    goal = "test_calc.py fails: fix calc.py so that it passes"
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=goal)
    assert (project / "test_calc.py").read_text() == TEST
    first = run.loop.steps[2]  # after the two files the goal names
    assert (first.tool, first.decision) == ("edit_file", "refused")
    assert (
        "is a test and the goal is to make the tests pass"
        in tool_results(fake_llm.chat_requests[1]["json"])[-1]
    )
    assert run.summary.tests_passed is True  # and the code was fixed instead

    # a goal about writing tests edits them as usual
    fake_llm.reset()
    new_test = {
        "path": "test_calc.py",
        "old_text": "== 5\n",
        "new_text": "== 5\n    assert add(0, 0) == 0\n",
    }
    fake_llm.tool_calls = [[{"name": "edit_file", "arguments": new_test}]]
    fake_llm.replies = ["Added."]
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal="add a case to test_add")
    assert "add(0, 0)" in (project / "test_calc.py").read_text()


async def test_each_failed_check_samples_a_little_hotter(
    isolated_env: Any, fake_llm: FakeLLM, project: Path
) -> None:
    fake_llm.replies = ["It is correct.", "Still correct.", "Correct.", "Yes."]
    goal = "test_calc.py fails: fix calc.py so that it passes"
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=goal)
    temperatures = [r["json"]["temperature"] for r in fake_llm.chat_requests]
    assert temperatures == [0, 0.3, 0.6, 0.9]
    # the checks used up with the tests failing: not "done", a limit that says so
    assert run.summary.status == "limit" and "tests still fail after 3" in run.summary.reason


# -- a fix goal starts with the tests and the fix as code -----------------------------------

FIX_GOAL = "test_calc.py fails: fix calc.py so that it passes"


async def test_a_fix_goal_starts_with_the_failing_tests_and_a_turn_for_the_code(
    isolated_env: Any, fake_llm: FakeLLM, fix_first: Path
) -> None:
    fake_llm.replies = [SHOWN]
    run, events = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=FIX_GOAL)

    first = fake_llm.chat_requests[0]["json"]
    assert "tools" not in first  # the first turn is for the code
    asked = first["messages"][-1]
    assert asked["role"] == "user" and "WITHOUT calling tools" in asked["content"]
    assert "assert -1 == 5" in asked["content"]  # the failure, seen before any answer
    steps = [(s.tool, s.exit_code) for s in run.loop.steps]
    assert steps == [
        ("read_file", None), ("read_file", None), ("run_command", 1),
        ("edit_file", None), ("run_command", 0), ("run_command", 0),
    ]  # fmt: skip
    # the tests the goal names first (a large suite takes minutes), the whole suite last
    commands = [s.command for s in run.loop.steps if s.command]
    assert commands == [f"{PYTEST} test_calc.py", f"{PYTEST} test_calc.py", PYTEST]
    assert (fix_first / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert len(fake_llm.chat_requests) == 1  # the tests pass: nothing more to ask
    assert run.summary.status == "done" and run.summary.tests_passed is True
    assert (fix_first / "test_calc.py").read_text() == TEST
    assert any(isinstance(e, Notice) and "first, the tests" in e.text for e in events)


async def test_a_wrong_fix_gets_another_code_turn_a_little_hotter(
    isolated_env: Any, fake_llm: FakeLLM, fix_first: Path
) -> None:
    wrong = SHOWN.replace("a + b", "a * b")
    fake_llm.replies = [wrong, SHOWN]
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=FIX_GOAL)

    second = fake_llm.chat_requests[1]["json"]
    assert "tools" not in second and second["temperature"] == 0.3
    asked = second["messages"][-1]["content"]
    assert "assert 6 == 5" in asked  # what the wrong fix did
    assert "return a * b" in asked and "find a different fix" in asked  # the file as it is
    assert "return a + b" in (fix_first / "calc.py").read_text()
    assert run.summary.status == "done" and len(fake_llm.chat_requests) == 2


async def test_no_code_in_the_first_answer_gives_the_tools_back(
    isolated_env: Any, fake_llm: FakeLLM, fix_first: Path
) -> None:
    edit = {"path": "calc.py", "old_text": "return a - b", "new_text": "return a + b"}
    fake_llm.replies = ["I need to see how add is used first.", "Fixed."]
    fake_llm.tool_calls = [[], [{"name": "edit_file", "arguments": edit}]]
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=FIX_GOAL)
    assert "tools" not in fake_llm.chat_requests[0]["json"]
    assert "tools" in fake_llm.chat_requests[1]["json"]
    assert "return a + b" in (fix_first / "calc.py").read_text()
    assert run.summary.status == "done" and run.summary.tests_passed is True


async def test_passing_tests_or_a_goal_that_is_not_a_fix_start_with_the_tools(
    isolated_env: Any, fake_llm: FakeLLM, fix_first: Path
) -> None:
    fake_llm.replies = ["Nothing to fix: the tests pass."]
    (fix_first / "calc.py").write_text(CALC.replace("a - b", "a + b"))
    await run_goal(isolated_env, fake_llm, mode="full-auto", goal=FIX_GOAL)
    assert "tools" in fake_llm.chat_requests[0]["json"]

    fake_llm.reset()
    fake_llm.replies = ["area uses pi."]
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal="explain calc.py")
    assert "tools" in fake_llm.chat_requests[0]["json"]
    assert not any(s.tool == "run_command" for s in run.loop.steps)

    # a goal about the tests themselves names no code to fix: the tools from the start
    (fix_first / "calc.py").write_text(CALC)
    fake_llm.reset()
    fake_llm.replies = ["Added."]
    goal = "add a case for add(0, 0) to test_calc.py"
    await run_goal(isolated_env, fake_llm, mode="full-auto", goal=goal)
    assert "tools" in fake_llm.chat_requests[0]["json"]


async def test_a_missing_function_the_tests_import_is_asked_for_as_code(
    isolated_env: Any, fake_llm: FakeLLM, fix_first: Path
) -> None:
    (fix_first / "test_calc.py").write_text(
        "from calc import double\n\n\ndef test_double():\n    assert double(4) == 8\n"
    )
    fake_llm.replies = ["calc.py:\n```python\ndef double(x):\n    return 2 * x\n```"]
    goal = "test_calc.py imports double from calc.py, which does not have it yet: add it."
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=goal)
    assert "tools" not in fake_llm.chat_requests[0]["json"]
    assert (
        "cannot import name 'double'"
        in fake_llm.chat_requests[0]["json"]["messages"][-1]["content"]
    )
    assert "def area(r)" in (fix_first / "calc.py").read_text()  # added, nothing lost
    assert run.summary.status == "done" and run.summary.tests_passed is True


def test_the_check_is_narrowed_to_the_python_tests_a_goal_names() -> None:
    assert narrowed("python -m pytest -q", ["test_calc.py"]) == "python -m pytest -q test_calc.py"
    assert narrowed(".venv/bin/python -m pytest -q", ["tests/test_a.py", "README.md"]) == (
        ".venv/bin/python -m pytest -q tests/test_a.py"
    )
    assert narrowed("npm test --silent", ["app.test.js"]) == "npm test --silent"
    assert narrowed("python -m pytest -q", []) == "python -m pytest -q"
    assert narrowed("python -m pytest -q", ["test_$(x).py"]) == "python -m pytest -q"


async def test_named_tests_passing_with_the_suite_failing_is_not_done(
    isolated_env: Any, fake_llm: FakeLLM, fix_first: Path
) -> None:
    (fix_first / "test_area.py").write_text(
        "from calc import area\n\n\ndef test_area():\n    assert area(1) == 3\n"
    )
    fake_llm.replies = [SHOWN, "I fixed add; area is another matter."]
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=FIX_GOAL)
    assert "return a + b" in (fix_first / "calc.py").read_text()
    second = fake_llm.chat_requests[1]["json"]
    assert "tools" in second  # back to the tools, with the whole suite's failure
    assert "test_area" in tool_results(second)[-1]
    assert run.summary.tests_passed is False  # the last run of the suite failed


async def test_code_attached_with_f_counts_as_named(
    isolated_env: Any, fake_llm: FakeLLM, fix_first: Path
) -> None:
    fake_llm.replies = ["```python\ndef add(a, b):\n    return a + b\n```"]  # no path: calc.py
    goal = "the tests in test_calc.py fail: fix it"
    run, _ = await run_goal(
        isolated_env, fake_llm, mode="full-auto", goal=goal, files=[str(fix_first / "calc.py")]
    )
    asked = fake_llm.chat_requests[0]["json"]["messages"][-1]["content"]
    assert "tools" not in fake_llm.chat_requests[0]["json"]
    assert "calc.py now reads:" in asked and "assert -1 == 5" in asked
    assert "return a + b" in (fix_first / "calc.py").read_text()
    assert run.summary.status == "done" and run.summary.tests_passed is True


async def test_three_wrong_fixes_end_at_a_limit_that_says_the_tests_fail(
    isolated_env: Any, fake_llm: FakeLLM, fix_first: Path
) -> None:
    wrong = [SHOWN.replace("a + b", f"a * b + {n}") for n in range(3)]
    fake_llm.replies = [*wrong, "Done, it works now."]
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=FIX_GOAL)
    offered = ["tools" in r["json"] for r in fake_llm.chat_requests]
    assert offered == [False, False, False, True]  # three code turns, then the tools
    assert run.summary.status == "limit" and "tests still fail after 3" in run.summary.reason
    assert run.summary.tests_passed is False


async def test_a_goal_naming_only_the_test_is_fixed_in_the_code_it_imports(
    isolated_env: Any, fake_llm: FakeLLM, fix_first: Path
) -> None:
    fake_llm.replies = [SHOWN]
    run, _ = await run_goal(
        isolated_env, fake_llm, mode="full-auto", goal="test_calc.py fails: make it pass"
    )
    reads = [s.args.get("path") for s in run.loop.steps if s.tool == "read_file"]
    assert reads == ["test_calc.py", "calc.py"]  # the code under test, read first
    assert "tools" not in fake_llm.chat_requests[0]["json"]
    assert "return a + b" in (fix_first / "calc.py").read_text()
    assert run.summary.status == "done" and run.summary.tests_passed is True


async def test_the_failing_code_given_back_unchanged_is_asked_to_change(
    isolated_env: Any, fake_llm: FakeLLM, fix_first: Path
) -> None:
    same = "calc.py:\n```python\ndef add(a, b):\n    return a - b  # adds\n```"  # as it is
    fake_llm.replies = [same, SHOWN]
    run, events = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=FIX_GOAL)
    second = fake_llm.chat_requests[1]["json"]
    assert "tools" not in second and second["temperature"] == 0.3
    assert "exactly as it is now" in second["messages"][-1]["content"]
    assert "return a + b" in (fix_first / "calc.py").read_text()
    assert run.summary.status == "done" and len(fake_llm.chat_requests) == 2
    assert any(isinstance(e, Notice) and "repeated the code" in e.text for e in events)


async def test_a_fix_in_a_file_other_than_python_is_asked_for_whole(
    isolated_env: Any, fake_llm: FakeLLM, fix_first: Path
) -> None:
    (fix_first / "server.toml").write_text('[server]\nport = 80\nhost = "localhost"\n')
    (fix_first / "test_server.py").write_text(
        "import tomllib\n\n\ndef test_port():\n"
        "    with open('server.toml', 'rb') as f:\n"
        "        assert tomllib.load(f)['server']['port'] == 8080\n"
    )
    fake_llm.replies = ['server.toml:\n```toml\n[server]\nport = 8080\nhost = "localhost"\n```']
    goal = "test_server.py fails: fix server.toml"
    run, _ = await run_goal(isolated_env, fake_llm, mode="full-auto", goal=goal)
    asked = fake_llm.chat_requests[0]["json"]["messages"][-1]["content"]
    assert "for any other file, the whole file" in asked
    assert (fix_first / "server.toml").read_text() == '[server]\nport = 8080\nhost = "localhost"\n'
    narrowed_runs = [s.exit_code for s in run.loop.steps if (s.command or "").endswith("r.py")]
    assert narrowed_runs == [1, 0]  # test_server.py: failed, then passed (test_calc.py fails)


def test_a_comment_is_not_a_change_of_code() -> None:
    old = "def add(a, b):\n    return a - b\n"
    assert not changes_code("calc.py", old, "def add(a, b):\n    # b wins\n    return a - b\n")
    assert changes_code("calc.py", old, "def add(a, b):\n    return a + b\n")
    assert changes_code("calc.py", old, "def add(a, b):\n    return a - b\n\nX = 1\n")
    assert not changes_code("app.js", "let a = 1;\n", "let a  =  1;\n")
    assert changes_code("app.js", "let a = 1;\n", "let a = 2;\n")
    assert changes_code("new.py", None, "x = 1\n")
