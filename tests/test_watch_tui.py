"""The workbench runs the watcher: a saved AI! comment shows up in the panel and applies from it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from ai_workbench.tui.app import AiwApp
from tests.test_watch_helpers import diff_for, make_project
from tests.tui.conftest import SIZE, settle, wait_for

SOURCE = "def area(r):\n    return 3.14 * r * r\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIW_WATCH__DEBOUNCE_MS", "80")
    return make_project(tmp_path / "proj", {"geometry.py": SOURCE})


@asynccontextmanager
async def _workbench(
    project: Path, fake_llm: Any, notifications: bool = False
) -> AsyncIterator[tuple[AiwApp, Any, Any]]:
    """The workbench on ``project`` once its watcher runs: the app, its pilot, the inbox panel."""
    app = AiwApp(cwd=project, model="openai/echo", api_base=fake_llm.base_url)
    async with app.run_test(size=SIZE, notifications=notifications) as pilot:
        await settle(pilot, app)
        await wait_for(pilot, lambda: app.watch_service is not None)
        panel = app.suggestions_panel()
        assert panel is not None
        yield app, pilot, panel


async def test_the_panel_shows_a_watch_suggestion_and_applies_it(project: Path, fake_llm: Any):
    fake_llm.reply = diff_for("geometry.py", "    return 3.14 * r * r", "    return math.pi * r**2")
    async with _workbench(project, fake_llm, notifications=True) as (app, pilot, panel):
        (project / "geometry.py").write_text(SOURCE.replace("r):", "r):  # use math.pi AI!"))
        await wait_for(pilot, lambda: len(panel.items) == 1, timeout=20)
        (item,) = panel.items
        assert item.kind == "watch" and item.title == "geometry.py:1: use math.pi"
        assert [a.id for a in item.actions] == ["apply", "view", "dismiss"]
        assert any("use math.pi" in str(n.message) for n in app._notifications)

        panel.options.focus()
        panel.options.highlighted = 0
        await pilot.press("1")  # the first action: apply
        await wait_for(pilot, lambda: panel.items == [], timeout=20)
        assert (project / "geometry.py").read_text() == "def area(r):\n    return math.pi * r**2\n"
        assert (await app.suggestion_queue.get(item.id)).status == "applied"


async def test_apply_from_the_panel_refuses_a_file_edited_since(project: Path, fake_llm: Any):
    fake_llm.reply = diff_for("geometry.py", "    return 3.14 * r * r", "    return math.pi * r**2")
    async with _workbench(project, fake_llm, notifications=True) as (app, pilot, panel):
        (project / "geometry.py").write_text(SOURCE + "# use math.pi AI!\n")
        await wait_for(pilot, lambda: len(panel.items) == 1, timeout=20)
        await app.watch_service.stop()  # the user's next edit should not be re-asked here
        edited = SOURCE + "# use math.pi AI!\nPI = 3\n"
        (project / "geometry.py").write_text(edited)

        panel.options.focus()
        panel.options.highlighted = 0
        await pilot.press("1")
        await wait_for(
            pilot, lambda: any("changed since" in str(n.message) for n in app._notifications)
        )
        assert (project / "geometry.py").read_text() == edited
        assert len(panel.items) == 1


async def test_comments_written_before_start_are_answered_once_and_f5_adds_nothing(
    project: Path, fake_llm: Any
):
    fake_llm.reply = "It computes the area of a circle."
    (project / "geometry.py").write_text(SOURCE + "# what does area do? AI?\n")
    async with _workbench(project, fake_llm) as (_app, pilot, panel):
        # the watcher looks for pending comments when it starts (they survive a restart)
        await wait_for(pilot, lambda: len(panel.items) == 1, timeout=20)
        assert panel.items[0].body == "It computes the area of a circle."
        await pilot.press("f5")  # already answered: nothing is asked again
        await pilot.pause(0.5)
        assert len(panel.items) == 1 and len(fake_llm.chat_requests) == 1
