"""The text protocol's reader and the run summary's parts (pure functions, no model)."""

from __future__ import annotations

import pytest

from ai_workbench.agent.protocol import ActionFilter, parse_action, protocol_prompt
from ai_workbench.agent.summary import RunSummary, StepInfo, diffstat, is_test_command
from tests.agent_tools import SPECS


@pytest.mark.parametrize(
    "text",
    [
        'Reading.\n```json\n{"tool": "read_file", "args": {"path": "a.py"}}\n```',
        '```\n{"tool": "read_file", "arguments": {"path": "a.py"}}\n```',
        '<tool_call>\n{"name": "read_file", "arguments": {"path": "a.py"}}\n</tool_call>',
        '{"name": "read_file", "arguments": "{\\"path\\": \\"a.py\\"}"}',
        # a small model's broken JSON (a trailing comma, a missing brace) is repaired
        '```json\n{"tool": "read_file", "args": {"path": "a.py",}\n```',
        # the arguments beside the name, as small models often write them
        '```json\n{"tool": "read_file", "path": "a.py"}\n```',
        '<tool_call>{"name": "read_file", "path": "a.py"}</tool_call>',
        # LangChain's ReAct shape and other agents' names
        '```json\n{"action": "read_file", "action_input": {"path": "a.py"}}\n```',
        '```json\n{"tool_name": "read_file", "tool_input": {"path": "a.py"}}\n```',
        # tags a small model made up after the <tool_output> wrappers it saw (Qwen 1.5B)
        'I will read it.\n<tool_request>\n<request type="function" function="read_file">\n'
        '{\n  "path": "a.py"\n}\n</request>\n</tool_request>',
        '<invoke name="read_file" path="a.py"/>',
        '<request type="function" function="read_file" path="a.py">\nand then',
    ],
)
def test_actions_in_the_forms_models_write_them(text: str) -> None:
    call = parse_action(text)
    assert call is not None and call.error is None
    assert (call.name, call.arguments) == ("read_file", {"path": "a.py"})


def test_multi_line_code_in_python_quotes_or_raw_newlines_is_read() -> None:
    text = (
        '<tool_call>\n{"name": "edit_file", "arguments": {"path": "calc.py", '
        '"old_text": """def add(a, b):\n    return a - b""", '
        "\"new_text\": '''def add(a, b):\n    return a + b'''}}\n</tool_call>"
    )
    call = parse_action(text)
    assert call is not None and call.error is None
    assert call.arguments == {
        "path": "calc.py",
        "old_text": "def add(a, b):\n    return a - b",
        "new_text": "def add(a, b):\n    return a + b",
    }
    raw = parse_action(
        '```json\n{"tool": "write_file", "args": '
        '{"path": "a.py", "content": "x = 1\ny = 2\n"}}\n```'
    )
    assert raw is not None and raw.arguments == {"path": "a.py", "content": "x = 1\ny = 2\n"}


def test_a_tool_with_an_action_argument_keeps_it() -> None:
    call = parse_action('```json\n{"tool": "git", "action": "status"}\n```')
    assert call is not None and (call.name, call.arguments) == ("git", {"action": "status"})
    bare = parse_action('```json\n{"tool": "list_dir"}\n```')
    assert bare is not None and (bare.name, bare.arguments) == ("list_dir", {})


def test_prose_and_code_blocks_are_not_actions() -> None:
    assert parse_action("All done: the tests pass.") is None
    assert parse_action("Here is the fix:\n```python\nprint('x')\n```") is None
    assert parse_action('```json\n{"version": 2}\n```') is None
    assert parse_action('See <a name="intro">the intro</a>.') is None
    assert parse_action('<tool_output tool="read_file" path="a.py">x</tool_output>') is None
    # ... but a change written up as if it were a result is the model's own action
    imitated = (
        '<tool_output tool="read_file" path="p.py">def f(): ...</tool_output>\n'
        '<tool_output tool="write_file" path="p.py" '
        'content="def f(n):\\n    return &quot;x&quot;"/>'
    )
    call = parse_action(imitated)
    assert call is not None and call.name == "write_file"
    assert call.arguments == {"path": "p.py", "content": 'def f(n):\n    return "x"'}


def test_a_meant_but_unreadable_action_is_an_error_for_the_model() -> None:
    call = parse_action('<tool_call>\n{"name": \n</tool_call>')
    assert call is not None and call.error and "```json" in call.error
    args_not_object = parse_action('```json\n{"tool": "grep", "args": [1, 2]}\n```')
    assert args_not_object is not None and "must be a JSON object" in str(args_not_object.error)


def test_the_filter_streams_prose_and_holds_back_the_action_even_when_split() -> None:
    hold = ActionFilter()
    pieces = ["I will read ", "it.\n`", "``js", 'on\n{"tool": ', '"read_file"}\n```']
    shown = "".join(hold.feed(p) for p in pieces) + hold.flush()
    assert shown == "I will read it.\n"
    plain = ActionFilter()
    assert plain.feed("a `b` c") + plain.flush() == "a `b` c"


def test_the_prompt_lists_each_tool_with_its_arguments() -> None:
    prompt = protocol_prompt(SPECS)
    assert "- write_file(path: string, content: string): Write a whole file." in prompt
    assert '{"tool": "read_file", "args": {"path": "src/app.py"}}' in prompt


@pytest.mark.parametrize(
    "command",
    [
        "pytest -q",
        "python -m pytest tests/test_a.py",
        "cd app && npm test",
        "go test ./...",
        "cargo test --all",
        "PYTHONPATH=. python3 -m unittest discover",
        "bash -c 'pytest -x'",
        "make test",
        ".venv/bin/python -m pytest -q",
        "/usr/bin/python3.11 -m pytest",
    ],
)
def test_test_runners_are_recognised(command: str) -> None:
    assert is_test_command(command)


@pytest.mark.parametrize("command", ["ls -la", "cat pytest.ini", "echo go test", "git status"])
def test_other_commands_are_not_tests(command: str) -> None:
    assert not is_test_command(command)


def test_the_summary_counts_lines_per_file_and_reads_test_results() -> None:
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n-a\n+b\n+c\n"
    steps = [
        StepInfo(1, "edit_file", "x.py", {}, "auto", diff=diff, changed_files=["x.py"]),
        StepInfo(2, "write_file", "new.txt", {}, "auto", changed_files=["new.txt"]),
        StepInfo(
            3, "run_command", "pytest", {"command": "pytest -q"}, "auto", exit_code=1,
            output="exit 1\n1 failed, 3 passed in 0.1s",
        ),
        StepInfo(4, "run_command", "git push", {"command": "git push"}, "user-denied"),
    ]  # fmt: skip
    assert [(f.path, f.added, f.removed) for f in diffstat(steps)] == [
        ("new.txt", 0, 0),
        ("x.py", 2, 1),
    ]
    summary = RunSummary.from_steps(steps, status="done", reason="finished")
    assert summary.commands == [("pytest -q", 1)]
    assert summary.tests[0].counts == "1 failed, 3 passed" and summary.tests_passed is False
    assert summary.refused == ["run_command git push"]
    text = summary.text()
    assert "tests: 1 run(s), the last failed (1 failed, 3 passed)" in text
    assert "not allowed: run_command git push" in text
