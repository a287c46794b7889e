"""Lazy imports: the headless CLI must stay fast, so heavy packages load only when needed.

Design rules checked here, each in a fresh interpreter:

* ``import ai_workbench.cli.main`` loads none of litellm, chromadb, textual (nor rich or httpx,
  which the CLI imports inside the commands that need them);
* a whole ``aiw ask`` against an OpenAI-compatible endpoint never imports litellm, chromadb
  or textual (checked with ``python -X importtime`` and with ``sys.modules`` at exit);
* no module of the core or of a capability package imports textual.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import ai_workbench
from tests.conftest import REPO_ROOT, IsolatedEnv
from tests.fake_llm import FakeLLM

HEAVY = ("litellm", "chromadb", "textual")
#: Everything below the interfaces: the core kernel and each capability package.
BELOW_INTERFACES = (
    "core", "chat", "suggestions", "review", "knowledge", "watch", "shell", "mcp", "users",
    "tasks",
)  # fmt: skip
CORE_MODULES = sorted(
    info.name
    for package in BELOW_INTERFACES
    for info in pkgutil.walk_packages(
        [str(Path(ai_workbench.__file__).parent / package)], prefix=f"ai_workbench.{package}."
    )
)


def python(
    *args: str, cwd: Path, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the venv's Python in the isolated environment (like ``run_aiw``)."""
    env = dict(os.environ)
    pythonpath = env.get("PYTHONPATH")
    env["PYTHONPATH"] = f"{REPO_ROOT}{os.pathsep}{pythonpath}" if pythonpath else str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
        check=False,
    )


def top_level_modules(names: list[str]) -> set[str]:
    return {name.split(".", 1)[0] for name in names}


def echo_ask(fake_llm: FakeLLM, *args: str) -> list[str]:
    """``aiw ask ARGS`` against the loopback model's echo (an OpenAI-compatible endpoint)."""
    return ["ask", "--model", "openai/echo", "--api-base", fake_llm.base_url, *args]


def imported_by(statement: str, cwd: Path) -> set[str]:
    """Top-level package names in ``sys.modules`` after running ``statement`` in a fresh Python."""
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = python("-c", code, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return top_level_modules(json.loads(result.stdout.splitlines()[-1]))


def test_core_modules_are_discovered() -> None:
    assert "ai_workbench.chat.service" in CORE_MODULES
    assert "ai_workbench.core.llm.engines" in CORE_MODULES
    assert "ai_workbench.core.db" in CORE_MODULES


def test_importing_the_cli_loads_no_heavy_package(isolated_env: IsolatedEnv) -> None:
    loaded = imported_by("import ai_workbench.cli.main", isolated_env.work)

    assert "ai_workbench" in loaded
    assert "click" in loaded
    for name in (*HEAVY, "rich", "httpx", "telegram"):
        assert name not in loaded, f"`import ai_workbench.cli.main` imports {name}"


def test_cli_help_loads_no_heavy_package(isolated_env: IsolatedEnv) -> None:
    code = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: sys.stderr.write('MODULES ' + json.dumps(sorted(sys.modules))))\n"
        "from ai_workbench.cli.main import main\n"
        "main(args=['ask', '--help'], prog_name='aiw')\n"
    )
    result = python("-c", code, cwd=isolated_env.work)

    assert result.returncode == 0, result.stderr
    assert "Usage: aiw ask" in result.stdout
    modules = json.loads(result.stderr.rsplit("MODULES ", 1)[1])
    loaded = top_level_modules(modules)
    for name in HEAVY:
        assert name not in loaded, f"`aiw ask --help` imports {name}"


def test_ask_on_an_openai_compatible_endpoint_never_imports_litellm(
    isolated_env: IsolatedEnv, fake_llm: FakeLLM
) -> None:
    argv = ["-X", "importtime", "-m", "ai_workbench", *echo_ask(fake_llm, "hello")]
    result = python(*argv, cwd=isolated_env.work)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: hello\n"
    assert len(fake_llm.chat_requests) == 1
    imports = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    names = {line.rsplit("|", 1)[1].strip() for line in imports}
    assert "ai_workbench.core.llm.engines" in names  # the importtime output is really there
    assert "httpx" in names  # the direct engine did the request
    for name in HEAVY:
        offenders = sorted(n for n in names if n == name or n.startswith(name + "."))
        assert not offenders, f"`aiw ask` imported {offenders[:5]}"
    assert "litellm" not in result.stderr


def test_ask_modules_at_exit_have_no_heavy_package(
    isolated_env: IsolatedEnv, fake_llm: FakeLLM
) -> None:
    """The same through ``sys.modules`` when the process exits (after the answer is saved)."""
    dump = isolated_env.root / "modules.json"
    code = (
        "import atexit, json, sys\n"
        f"path = {str(dump)!r}\n"
        "def write():\n"
        "    with open(path, 'w') as f:\n"
        "        json.dump(sorted(sys.modules), f)\n"
        "atexit.register(write)\n"
        "from ai_workbench.cli.main import main\n"
        "main(prog_name='aiw')\n"
    )
    result = python("-c", code, *echo_ask(fake_llm, "--json", "hi"), cwd=isolated_env.work)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["engine"] == "direct"
    loaded = top_level_modules(json.loads(dump.read_text(encoding="utf-8")))
    assert {"ai_workbench", "httpx", "aiosqlite"} <= loaded
    for name in HEAVY:
        assert name not in loaded, f"`aiw ask` imported {name}"


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_does_not_import_textual(module: str, isolated_env: IsolatedEnv) -> None:
    loaded = imported_by(f"import {module}", isolated_env.work)

    assert "ai_workbench" in loaded
    assert "textual" not in loaded, f"`import {module}` imports textual"


def test_all_core_modules_together_do_not_import_textual(isolated_env: IsolatedEnv) -> None:
    loaded = imported_by("\n".join(f"import {m}" for m in CORE_MODULES), isolated_env.work)

    assert "textual" not in loaded


KNOWLEDGE_HEAVY = ("chromadb", "onnxruntime", "numpy", "static_model", "pypdf", "docx", "litellm")


def test_knowledge_packages_load_only_when_used(isolated_env: IsolatedEnv) -> None:
    """`import ai_workbench.cli.main` (which registers aiw index/search/kb) and `aiw search --help`
    load no vector store, embedding model, numpy or document parser."""
    loaded = imported_by(
        "import ai_workbench.cli.main\nimport ai_workbench.knowledge\n"
        "from ai_workbench.cli.main import main\n"
        "try:\n    main(args=['search', '--help'], prog_name='aiw')\n"
        "except SystemExit:\n    pass",
        isolated_env.work,
    )
    assert "click" in loaded
    for name in KNOWLEDGE_HEAVY:
        assert name not in loaded, (
            f"`import ai_workbench.cli.main` / `aiw search --help` imports {name}"
        )


def test_shell_hook_worker_and_init_stay_light(isolated_env: IsolatedEnv) -> None:
    """The worker reads the scrollback before anything heavy loads; `aiw shell init` (run at
    every shell start) loads neither pydantic nor the providers."""
    worker = imported_by(
        "import ai_workbench.cli.shell_worker, ai_workbench.shell.capture", cwd=isolated_env.work
    )
    assert not worker & {*HEAVY, "pydantic", "aiosqlite", "httpx", "rich"}
    init = imported_by(
        "from ai_workbench.shell.integration import render_init; render_init('bash')",
        cwd=isolated_env.work,
    )
    assert not init & {*HEAVY, "pydantic", "aiosqlite", "httpx", "rich"}
