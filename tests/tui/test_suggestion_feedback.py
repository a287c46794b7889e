"""Like / dislike on suggestions in the panel: stored, shown, and a review finding learned from."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input

from ai_workbench.core.feedback import FeedbackService
from ai_workbench.store import Store
from ai_workbench.tui.screens.feedback import FeedbackScreen
from tests.test_review_core import BUG, findings_reply, make_repo, run_review
from tests.tui.conftest import SIZE, settle, wait_for


async def _rate(pilot: Any, app: Any, key: str, comment: str) -> None:
    panel = app.suggestions_panel()
    await wait_for(pilot, lambda: bool(panel.items))
    panel.options.focus()
    panel.options.highlighted = 0
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, FeedbackScreen))
    app.screen.query_one(Input).value = comment
    await pilot.press("enter")
    await settle(pilot, app)


async def test_a_shell_suggestion_is_disliked_with_a_comment(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        item = await app.suggestion_queue.add(
            "shell", "`make` failed (exit 2)", body="No Makefile.",
            actions=[("copy", "Copy fix")], payload={"command": "touch Makefile"},
        )  # fmt: skip
        await _rate(pilot, app, "minus", "that would not help")
        panel = app.suggestions_panel()
        assert panel.ratings == {item.id: -1}
        assert "▼" in str(panel.options.get_option_at_index(0).prompt)
    async with await Store.open() as store:
        saved = await FeedbackService(store).get("suggestion", item.id)
    assert saved is not None and saved.rating == -1 and saved.comment == "that would not help"


async def test_a_review_finding_rated_in_the_panel_teaches_the_reviewer(
    make_app, fake_llm, isolated_env
) -> None:
    from tests.test_review_core import CHANGED_CALC

    repo = make_repo(isolated_env.work / "repo")
    (repo / "calc.py").write_text(CHANGED_CALC)
    fake_llm.reply = findings_reply(BUG)
    result = await run_review(repo, fake_llm)
    finding_id = result.shown[0].id
    app = make_app(cwd=repo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _rate(pilot, app, "plus", "exactly the kind of bug we want caught")
    async with await Store.open() as store:
        saved = await FeedbackService(store).get("finding", finding_id)
    assert saved is not None and saved.rating == 1
    assert saved.comment == "exactly the kind of bug we want caught"
    # the liked finding is now an example the next review gives the model
    fake_llm.reply = findings_reply()
    await run_review(repo, fake_llm)
    user = fake_llm.chat_requests[-1]["json"]["messages"][1]["content"]
    assert "Findings this team found useful" in user and BUG["title"] in user


async def test_open_shows_the_file_at_the_line_and_keeps_the_item_open(
    make_app, isolated_env, monkeypatch
) -> None:
    monkeypatch.setenv("EDITOR", "vim")
    target = isolated_env.work / "calc.py"
    target.write_text("x = 1\n")
    app = make_app()
    opened: list[list[str]] = []
    app.editor_runner = opened.append
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        item = await app.suggestion_queue.add(
            "review", "warning: unused x", body="x is never read",
            actions=[("open", "Open"), ("dismiss", "Dismiss")],
            payload={"path": str(target), "line": 1},
        )  # fmt: skip
        panel = app.suggestions_panel()
        await wait_for(pilot, lambda: bool(panel.items))
        panel.options.focus()
        panel.options.highlighted = 0
        await pilot.press("1")
        await settle(pilot, app)
        assert opened == [["vim", "+1", str(target)]]
        assert (await app.suggestion_queue.get(item.id)).status in ("new", "seen")
