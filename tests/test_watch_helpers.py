"""Shared helpers for the watch tests (no tests here): a real project dir, settings, polling."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ai_workbench.core.settings import WatchSettings, load_config


def make_project(root: Path, files: dict[str, str] | None = None) -> Path:
    """A git repository with ``files`` (relative path -> text) committed nowhere."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for name, text in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def commit_all(root: Path) -> None:
    """Commit everything in ``root`` as ``base`` (with a local author, unsigned)."""
    for args in (
        ["config", "user.email", "dev@example.com"],
        ["config", "user.name", "Dev"],
        ["config", "commit.gpgsign", "false"],
        ["add", "."],
        ["commit", "-qm", "base"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def watch_settings(root: Path, **watch: Any) -> Any:
    """Settings with fast watch timings (and ``watch`` overrides)."""
    loaded = load_config(cwd=root)
    values = {"debounce_ms": 80, **watch}
    return loaded.settings.model_copy(update={"watch": WatchSettings(**values)})


async def until(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll ``condition`` (sync or async) every 20 ms until it is truthy; fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.02)


def diff_for(path: str, old: str, new: str, start: int = 1) -> str:
    """A model-style diff (line numbers only a hint) replacing ``old`` lines with ``new``."""
    old_lines = old.splitlines()
    new_lines = new.splitlines()
    body = [f"-{line}" for line in old_lines] + [f"+{line}" for line in new_lines]
    return (
        "Here is the change:\n\n```diff\n"
        f"--- a/{path}\n+++ b/{path}\n"
        f"@@ -{start},{len(old_lines)} +{start},{len(new_lines)} @@\n" + "\n".join(body) + "\n```\n"
    )
