"""Drive a real interactive bash or zsh inside tmux, on a tmux server of its own (``-L``).

Every wait polls a condition with a deadline (no fixed sleeps): :meth:`TmuxShell.wait_for`
for the screen, :func:`wait_until` for anything else.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

PROMPT = "READY$ "


def have(*tools: str) -> bool:
    return all(shutil.which(tool) for tool in tools)


def wait_until(check: Callable[[], T], timeout: float = 15.0, interval: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy; fail with the last value on timeout."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)
        value = check()
    return value


class TmuxShell:
    """One shell in a detached tmux session; ``rc`` is the text of its rc file."""

    def __init__(
        self,
        shell: str,
        rc: str,
        workdir: Path,
        env: Mapping[str, str],
        *,
        wrap: list[str] | None = None,
        width: int = 160,
        height: int = 50,
    ) -> None:
        self.shell = shell
        self.socket = f"aiwtest-{uuid.uuid4().hex[:10]}"
        self.workdir = workdir
        self.env = dict(env)
        workdir.mkdir(parents=True, exist_ok=True)
        if shell == "bash":
            rc_file = workdir / "test.bashrc"
            rc_file.write_text(rc, encoding="utf-8")
            argv = ["bash", "--noprofile", "--rcfile", str(rc_file), "-i"]
        else:
            zdot = workdir / "zdot"
            zdot.mkdir(exist_ok=True)
            (zdot / ".zshrc").write_text(rc, encoding="utf-8")
            self.env["ZDOTDIR"] = str(zdot)
            argv = ["zsh", "-i"]
        argv = [*(wrap or []), *argv]
        self.env.pop("TMUX", None)
        self.env.pop("TMUX_PANE", None)
        self._tmux(
            "-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height),
            "-c", str(workdir), shlex.join(argv),
        )  # fmt: skip
        self._tmux("set-option", "-g", "history-limit", "5000")
        self.wait_for(lambda screen: PROMPT.strip() in screen, timeout=20)

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=check,
        )

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-S", "-200").stdout

    def pane_pid(self) -> int:
        return int(self._tmux("display-message", "-p", "#{pane_pid}").stdout.strip())

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        screen = self.screen()
        while not predicate(screen):
            if time.monotonic() > deadline:
                raise AssertionError(f"screen condition not met within {timeout}s:\n{screen}")
            time.sleep(0.05)
            screen = self.screen()
        return screen

    def prompts(self) -> int:
        return self.screen().count(PROMPT.strip())

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-l", text)

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", *keys)

    def run(self, command: str, timeout: float = 15.0) -> str:
        """Type ``command`` + Enter and wait until the next prompt is drawn."""
        before = self.prompts()
        self.type(command)
        self.keys("Enter")
        return self.wait_for(lambda s: s.count(PROMPT.strip()) > before, timeout=timeout)

    def close(self) -> None:
        self._tmux("kill-server", check=False)

    def __enter__(self) -> TmuxShell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def shell_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's (isolated) environment for a shell, with the repo importable."""
    from tests.conftest import REPO_ROOT

    env = dict(os.environ)
    pythonpath = env.get("PYTHONPATH")
    env["PYTHONPATH"] = f"{REPO_ROOT}{os.pathsep}{pythonpath}" if pythonpath else str(REPO_ROOT)
    env["TERM"] = "xterm-256color"
    env["HISTFILE"] = str(Path(env["HOME"]) / ".test_history")
    env.pop("PROMPT_COMMAND", None)
    env.pop("PS0", None)
    if extra:
        env.update(extra)
    return env
