"""End to end: the real `aiw` executable in a real terminal (tmux) against the loopback model.

Type a prompt, watch the streamed answer arrive, like it with a comment, quit; then the headless
`aiw sessions list/show` find the answer and the like in the database the workbench wrote.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

REPO_ROOT = Path(__file__).resolve().parents[2]


def _aiw_argv() -> list[str]:
    exe = Path(sys.executable).parent / "aiw"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ai_workbench"]


class Terminal:
    """A detached tmux session on a private server socket, read with capture-pane."""

    def __init__(self, socket: str) -> None:
        self.tmux = ["tmux", "-L", socket]

    def start(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        import shlex

        command = " ".join(shlex.quote(a) for a in argv)
        subprocess.run(
            [*self.tmux, "new-session", "-d", "-s", "e2e", "-x", "120", "-y", "36", "-c",
             str(cwd), command],
            env=env,
            check=True,
        )  # fmt: skip

    def screen(self) -> str:
        return subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-t", "e2e"], capture_output=True, text=True
        ).stdout

    def wait_for(self, condition: Callable[[str], bool], what: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if condition(screen):
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{what} did not appear within {timeout}s; screen:\n{screen}")

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", "e2e", *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", "e2e", "-l", text], check=True)

    def alive(self) -> bool:
        proc = subprocess.run([*self.tmux, "has-session", "-t", "e2e"], capture_output=True)
        return proc.returncode == 0

    def kill(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(f"aiw-e2e-{os.getpid()}-{tmp_path.name}")
    try:
        yield term
    finally:
        term.kill()


def test_chat_and_like_in_the_real_workbench(terminal, fake_llm, isolated_env, run_aiw) -> None:
    fake_llm.reply = "Use a **token bucket** per client; refill it every second."
    fake_llm.chunk_delay = 0.01
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
    env.update(
        TERM="xterm-256color", PYTHONPATH=str(REPO_ROOT), LITELLM_LOCAL_MODEL_COST_MAP="True"
    )
    terminal.start(
        [*_aiw_argv(), "--model", "openai/echo", "--api-base", fake_llm.base_url],
        isolated_env.work,
        env,
    )
    terminal.wait_for(lambda s: "Ask anything" in s, "the prompt")
    terminal.type("how do I rate limit?")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "refill it every" in s, "the streamed answer")
    # The whole text can be on screen before the answer is finished and saved (its header then
    # says "streaming…"); only a finished answer can be rated, so wait for its token counts.
    terminal.wait_for(
        lambda s: re.search(r"out\s10\stok", s) is not None and "streaming" not in s,
        "the finished answer",
    )
    assert fake_llm.chat_requests[-1]["json"]["messages"][-1]["content"] == "how do I rate limit?"

    terminal.keys("C-l")  # to the conversation: the last answer is selected
    terminal.wait_for(lambda s: "Like" in s and "Regenerate" in s, "the conversation's keys")
    terminal.type("+")
    terminal.wait_for(lambda s: "comment" in s.lower(), "the feedback modal")
    terminal.type("exactly what I needed")
    terminal.keys("Enter")
    terminal.wait_for(lambda s: "liked" in s, "the like on the answer")
    terminal.keys("C-q")
    deadline = time.monotonic() + 10
    while terminal.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not terminal.alive(), "aiw did not quit on Ctrl+Q"

    listed = run_aiw("sessions", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [session] = json.loads(listed.stdout)
    shown = run_aiw("sessions", "show", session["id"])
    assert shown.returncode == 0, shown.stderr
    assert "how do I rate limit?" in shown.stdout
    assert "refill it every second" in shown.stdout
    assert "liked" in shown.stdout and "exactly what I needed" in shown.stdout
