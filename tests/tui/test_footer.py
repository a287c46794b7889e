"""The footer shows the keys of the focused pane, and only rebuilds when they change."""

from __future__ import annotations

from typing import Any

from textual.widgets._footer import FooterKey

from tests.tui.conftest import SIZE, settle, wait_for


def _footer(app: Any) -> list[str]:
    return [key.description for key in app.query(FooterKey)]


async def test_footer_follows_the_focus_and_keeps_unchanged_keys(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert "Send" in _footer(app)  # the prompt has the focus
        before = list(app.query(FooterKey))
        app.screen.refresh_bindings()  # the same keys announced again: nothing to rebuild
        await pilot.pause()
        assert list(app.query(FooterKey)) == before

        await pilot.press("ctrl+l")  # the conversation: its own keys
        await wait_for(pilot, lambda: "Send" not in _footer(app))
        assert app.focused is app.chat_log

        await pilot.press("ctrl+k")  # back to the prompt
        await wait_for(pilot, lambda: "Send" in _footer(app))
