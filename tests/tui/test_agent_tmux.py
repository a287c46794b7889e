"""Agent mode end to end: the real workbench process in a real terminal (tmux), the loopback
model scripting a command, the approval given in the modal, the step done on screen and in the
log that ``aiw agent log`` reads back.

With the policy branch's toolbox installed (``ai_workbench.agent.tools``) the process is plain
``python -m ai_workbench`` with the real policy and sandbox; without it, the same entry point
with the small real toolbox of tests/agent_tools.py set as the default (real files, real
``bash -c``), since a subprocess cannot be given a toolbox any other way.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.tui.test_e2e_tmux import REPO_ROOT, Terminal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

COMMAND = "printf 'made by the agent\\n' > made.txt && cat notes.txt"
REAL_TOOLBOX = importlib.util.find_spec("ai_workbench.agent.tools") is not None
WITH_TEST_TOOLBOX = (
    "import sys\n"
    "from ai_workbench.agent import service\n"
    "from tests.agent_tools import factory\n"
    "service.default_toolbox = factory(ask=[sys.argv.pop(1)])\n"
    "from ai_workbench.cli.main import main\n"
    "main()\n"
)


def _argv(fake: Any) -> list[str]:
    model = ["--model", "openai/echo", "--api-base", fake.base_url]
    if REAL_TOOLBOX:
        return [sys.executable, "-m", "ai_workbench", *model]
    return [sys.executable, "-c", WITH_TEST_TOOLBOX, COMMAND, *model]


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(f"aiw-agent-{os.getpid()}-{tmp_path.name}")
    try:
        yield term
    finally:
        term.kill()


def test_approve_in_the_modal_and_see_the_step_done(
    terminal: Terminal, fake_llm: Any, isolated_env: Any
) -> None:
    project = isolated_env.work
    (project / "notes.txt").write_text("hello from the notes\n")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    fake_llm.tool_calls = [[{"name": "run_command", "arguments": {"command": COMMAND}}]]
    fake_llm.reply = "Made made.txt for you."
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
    env.update(TERM="xterm-256color", PYTHONPATH=str(REPO_ROOT))
    terminal.start(_argv(fake_llm), project, env)
    terminal.wait_for(lambda s: "Ask anything" in s, "the prompt", timeout=30)

    terminal.keys("C-g")
    terminal.wait_for(lambda s: "Past runs" in s, "the agent screen")
    terminal.type("make made.txt")
    terminal.keys("Enter")
    screen = terminal.wait_for(lambda s: "The agent asks" in s, "the approval modal", timeout=30)
    assert COMMAND in screen  # the whole command, on one line of the modal
    assert "made.txt" not in os.listdir(project)  # nothing ran yet
    terminal.type("o")
    screen = terminal.wait_for(
        lambda s: "user-approved" in s and "Made made.txt for you." in s, "the step done", 30
    )
    assert "exit 0" in screen
    terminal.wait_for(lambda s: "done: the model finished" in s, "the summary")
    assert (project / "made.txt").read_text() == "made by the agent\n"

    terminal.keys("Escape")  # no run going: back to the conversation
    terminal.wait_for(lambda s: "Ask anything" in s, "the conversation again")
    terminal.keys("C-q")
    deadline = time.monotonic() + 10
    while terminal.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not terminal.alive(), "aiw did not quit on Ctrl+Q"

    log = subprocess.run(
        [sys.executable, "-m", "ai_workbench", "agent", "log", "1", "--json"],
        capture_output=True, text=True, cwd=project, env=env, timeout=60, check=True,
    )  # fmt: skip
    record = json.loads(log.stdout)
    assert record["status"] == "done"
    assert [(s["tool"], s["decision"]) for s in record["step_rows"]] == [
        ("run_command", "user-approved")
    ]
