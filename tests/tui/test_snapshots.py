"""Screenshots of the workbench at 120x36, compared with the accepted SVGs in __snapshots__/.

Stable by construction: isolated XDG dirs (autouse fixture), sessions seeded with fixed titles
and token counts, the default theme, no clock, host, path or version on screen, no cursor blink
(headless), toasts hidden. Update after an intended change with
``pytest tests/tui/test_snapshots.py --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.command import CommandInput

from tests.tui.conftest import SIZE, settle


@pytest.fixture(autouse=True)
def _colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)  # compare the real colours


def test_main_screen(snap_compare: Any, make_app: Any, seeded: list[str]) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot, pilot.app)

    assert snap_compare(make_app(session=seeded[0]), terminal_size=SIZE, run_before=run_before)


def test_command_palette(snap_compare: Any, make_app: Any, seeded: list[str]) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot, pilot.app)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        pilot.app.screen.query_one(CommandInput).cursor_blink = False
        # A query only our provider matches: discovery order across providers is not fixed.
        await pilot.press(*"session")
        await pilot.pause(0.5)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_feedback_modal(snap_compare: Any, make_app: Any, seeded: list[str]) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot, pilot.app)
        await pilot.press("ctrl+l", "minus")
        await pilot.pause()

    assert snap_compare(make_app(session=seeded[0]), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare: Any, make_app: Any, seeded: list[str]) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot, pilot.app)
        await pilot.press("ctrl+l", "f1")
        await pilot.pause(0.3)

    assert snap_compare(make_app(session=seeded[0]), terminal_size=SIZE, run_before=run_before)
