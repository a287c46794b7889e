"""The knowledge sources screen, driven by Pilot: opened from the command palette's action, a
folder source synced with **s** in the background, its run report shown (as plain text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import OptionList, Static

from ai_workbench.tui.screens.sources import SourcesScreen
from tests.tui.conftest import SIZE, settle, wait_for

VTT = "WEBVTT\n\n00:01:05.000 --> 00:01:09.000\nThe heron migration is in March.\n"


async def test_sync_a_source_and_read_its_report(make_app: Any, isolated_env: Any) -> None:
    from ai_workbench.sources.service import SourcesService
    from ai_workbench.store import Store

    project = isolated_env.work / "proj"
    (project / ".git").mkdir(parents=True)
    docs = isolated_env.work / "talks"
    docs.mkdir()
    (docs / "plan.vtt").write_text(VTT)
    (docs / "bad.pdf").write_bytes(b"%PDF-1.4 \x1b[31mnot a pdf")
    async with await Store.open() as store:
        await SourcesService(store).add("dir", str(docs), project, name="talks")

    app = make_app(cwd=project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.action_sources()
        await wait_for(pilot, lambda: isinstance(app.screen, SourcesScreen))
        screen = app.screen
        await wait_for(pilot, lambda: bool(screen.query("#sources-list")))
        listing = screen.query_one("#sources-list", OptionList)
        await wait_for(pilot, lambda: listing.option_count == 1)
        assert "talks  dir" in str(listing.get_option_at_index(0).prompt)
        assert "synced never" in str(listing.get_option_at_index(0).prompt)

        listing.highlighted = 0
        await pilot.press("s")
        runs = screen.query_one("#sources-runs", OptionList)
        await wait_for(pilot, lambda: runs.option_count == 1, timeout=30)
        report = str(screen.query_one("#sources-report", Static).render())
        assert "partial" in report and "plan.vtt" in report
        assert "failed   bad.pdf" in report and "\x1b" not in report
        assert "1 docs, synced" in str(listing.get_option_at_index(0).prompt)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, SourcesScreen))
    assert Path(docs / "plan.vtt").exists()
