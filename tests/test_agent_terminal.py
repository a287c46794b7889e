"""`aiw agent` in a real terminal (bash under tmux) with the real toolbox, policy and sandbox.

The approval is typed at the prompt the command shows (the whole command on screen), and Ctrl-C
stops a run whose steps stay in the log. The model is the loopback fake server.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fake_llm import FakeLLM
from tests.shell.tmux import PROMPT, TmuxShell, have, shell_env

pytest.importorskip("ai_workbench.agent.tools")
pytestmark = pytest.mark.skipif(not have("tmux", "bash"), reason="needs tmux and bash")


def _agent(fake: FakeLLM, goal: str, *options: str, model: str = "echo") -> str:
    argv = [
        sys.executable, "-m", "ai_workbench", "agent", goal,
        "--model", f"openai/{model}", "--api-base", fake.base_url, *options,
    ]  # fmt: skip
    return shlex.join(argv)


def _log(run: int, cwd: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "ai_workbench", "agent", "log", str(run), "--json"],
        capture_output=True, text=True, cwd=cwd, env=shell_env(), timeout=60, check=True,
    )  # fmt: skip
    return json.loads(proc.stdout)


@pytest.fixture
def project(isolated_env: Any) -> Path:
    root = isolated_env.work / "proj"
    root.mkdir(parents=True)
    (root / "notes.txt").write_text("hello\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def test_an_approval_is_asked_with_the_whole_command_and_typed(fake_llm, project) -> None:
    command = "printf 'made by the agent\\n' > made.txt && cat notes.txt"
    fake_llm.tool_calls = [[{"name": "run_command", "arguments": {"command": command}}]]
    fake_llm.reply = "Made it."
    with TmuxShell("bash", f"PS1='{PROMPT}'\n", project, shell_env()) as shell:
        shell.type(_agent(fake_llm, "make made.txt", "--mode", "ask"))
        shell.keys("Enter")
        screen = shell.wait_for(lambda s: "allow?" in s, timeout=60)
        assert command in screen  # the whole command, not a summary
        shell.type("o")
        shell.keys("Enter")
        screen = shell.wait_for(lambda s: s.count(PROMPT.strip()) >= 2, timeout=60)
    assert "[user-approved] → exit 0" in screen and "done: the model finished" in screen
    assert (project / "made.txt").read_text() == "made by the agent\n"
    record = _log(1, project)
    assert record["step_rows"][0]["decision"] == "user-approved"


def test_ctrl_c_stops_the_run_and_keeps_its_log(fake_llm, project) -> None:
    fake_llm.tool_calls = [[{"name": "read_file", "arguments": {"path": "notes.txt"}}]]
    fake_llm.chunk_delay = 0.2  # the answer after the step streams slowly
    with TmuxShell("bash", f"PS1='{PROMPT}'\n", project, shell_env()) as shell:
        shell.type(_agent(fake_llm, "read the notes", "--mode", "plan", model="slow"))
        shell.keys("Enter")
        shell.wait_for(lambda s: "word4" in s, timeout=60)
        shell.keys("C-c")
        screen = shell.wait_for(lambda s: s.count(PROMPT.strip()) >= 2, timeout=30)
        shell.type("echo code=$?")
        shell.keys("Enter")
        screen = shell.wait_for(lambda s: "code=" in s.split("echo code=$?")[-1], timeout=10)
    assert "stopped run 1" in screen and "code=130" in screen
    record = _log(1, project)
    assert record["status"] == "cancelled" and record["ended"] is not None
    assert [s["tool"] for s in record["step_rows"]] == ["read_file"]
