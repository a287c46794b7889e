"""Fixtures for the agent's policy, sandbox and tools: a real git repository in a temp dir."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit: app.py, tests/test_app.py, a .gitignore."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "app.py").write_text("def total(items):\n    return sum(items) + 1\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_app.py").write_text(
        "from app import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n"
    )
    (root / ".gitignore").write_text("build/\n*.log\n")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x", "PATH": "/usr/bin:/bin"}  # fmt: skip
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env)
    subprocess.run(["git", "config", "user.name", "t"], cwd=root, check=True)
    subprocess.run(["git", "config", "user.email", "t@x"], cwd=root, check=True)
    return root
