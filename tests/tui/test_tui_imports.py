"""Importing the workbench stays cheap: no litellm, chromadb or pydantic before the first frame."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT

HEAVY = ("litellm", "chromadb", "pydantic", "aiosqlite", "httpx", "ai_workbench.core.settings")


def test_importing_the_app_loads_no_heavy_modules() -> None:
    code = (
        "import json, sys\n"
        "import ai_workbench.tui.app\n"
        "import ai_workbench.cli.main\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=True,
    )
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_the_core_never_imports_textual() -> None:
    code = (
        "import sys\n"
        "import ai_workbench.chat.service, ai_workbench.chat.sessions, ai_workbench.core.feedback\n"
        "import ai_workbench.suggestions.service, ai_workbench.core.project_files\n"
        "print('textual' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
