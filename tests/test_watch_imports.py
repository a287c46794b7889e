"""The watcher's libraries load only when watching starts, never at CLI or workbench import."""

from __future__ import annotations

from tests.conftest import IsolatedEnv
from tests.test_imports import imported_by


def test_cli_and_workbench_imports_do_not_load_the_watcher(isolated_env: IsolatedEnv) -> None:
    for statement in ("import ai_workbench.cli.main", "import ai_workbench.tui.app"):
        loaded = imported_by(statement, isolated_env.work)
        for name in ("watchfiles", "pathspec", "litellm"):
            assert name not in loaded, f"`{statement}` imports {name}"


def test_the_watch_core_is_headless(isolated_env: IsolatedEnv) -> None:
    loaded = imported_by("import ai_workbench.watch", isolated_env.work)
    for name in ("textual", "litellm", "chromadb", "watchfiles"):
        assert name not in loaded, f"`import ai_workbench.watch` imports {name}"
