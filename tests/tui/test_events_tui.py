"""The workbench hears other processes through the event stream (core.events), not timers of
its own: a suggestion closed elsewhere leaves the panel, a session made elsewhere is listed."""

from __future__ import annotations

from ai_workbench.store import Store
from ai_workbench.suggestions.service import SuggestionQueue
from tests.tui.conftest import SIZE, settle, wait_for


async def test_a_suggestion_closed_in_another_process_leaves_the_panel(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        panel = app.suggestions_panel()
        async with await Store.open() as other:  # another aiw process, its own connection
            queue = SuggestionQueue(other)
            item = await queue.add("tip", "Try aiw review")
            await wait_for(pilot, lambda: [i.id for i in panel.items] == [item.id], timeout=10)
            await queue.dismiss(item.id)
        await wait_for(pilot, lambda: panel.items == [], timeout=10)


async def test_a_session_made_elsewhere_is_listed_without_touching_the_list(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert app.prompt.has_focus
        async with await Store.open() as other:  # as `aiw ask` in another terminal would
            await other.create_session(title="Asked from the shell")
        await wait_for(
            pilot, lambda: [s.title for s in app.session_list.sessions] == ["Asked from the shell"],
            timeout=10,
        )  # fmt: skip
        assert app.prompt.has_focus
