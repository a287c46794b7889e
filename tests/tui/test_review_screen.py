"""The review screen driven by Pilot: a real repo, the real store, the loopback model.

Opened from the workbench with F4; findings grouped by file; apply changes the file through
`git apply` and a conflicting patch changes nothing; like/dislike, dismiss, re-review, keys.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, OptionList, Static

from ai_workbench.tui.screens.confirm import MessageScreen
from ai_workbench.tui.screens.feedback import FeedbackScreen
from ai_workbench.tui.screens.review import ReviewScreen, editor_command
from tests.test_review_core import BUG, CHANGED_CALC, make_repo, per_file
from tests.tui.conftest import SIZE, settle, wait_for

UTIL = "def greet(name):\n    return 'hi ' + name\n\n\ndef twice(n):\n    return n * 2\n"
UTIL_FINDING = dict(
    BUG,
    file="util.py",
    line_start=5,
    line_end=6,
    severity="warning",
    title="twice() is untested",
    category="test",
    existing_code=None,
    improved_code=None,
)


@pytest.fixture
def repo(isolated_env: Any, fake_llm: Any) -> Path:
    root = make_repo(isolated_env.work / "repo")
    (root / "calc.py").write_text(CHANGED_CALC)
    (root / "util.py").write_text(UTIL)
    fake_llm.reply_fn = per_file({"calc.py": [BUG], "util.py": [UTIL_FINDING]})
    return root


@pytest.fixture
def review_app(make_app: Any, fake_llm: Any, repo: Path) -> Any:
    def make() -> Any:
        return make_app(model="openai/echo", api_base=fake_llm.base_url, cwd=repo)

    return make


async def open_review(pilot: Any, app: Any) -> ReviewScreen:
    await settle(pilot, app)
    await pilot.press("f4")
    await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen))
    screen = app.screen
    await wait_for(pilot, lambda: screen.result is not None)
    await pilot.pause()
    return screen


def text(screen: ReviewScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_findings_grouped_by_file_with_hunk_and_fix(review_app) -> None:
    app = review_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, app)
        assert [f.path for f in screen.findings] == ["calc.py", "util.py"]
        options = screen.query_one(OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert "calc.py" in prompts[0] and "Off-by-one" in prompts[1]
        assert "util.py" in prompts[2] and "untested" in prompts[3]
        assert "Off-by-one" in text(screen, "#review-finding")
        hunk = text(screen, "#review-hunk")
        assert "3 +     for i in range(len(items) + 1):" in hunk
        fix = text(screen, "#review-fix")
        assert "+    for i in range(len(items)):" in fix
        await pilot.press("n")  # next file
        assert screen.current.path == "util.py"
        assert "No suggested patch" in text(screen, "#review-fix")
        await pilot.press("p", "space")  # previous file, expand
        assert screen.current.path == "calc.py" and screen.expanded
        await pilot.press("j")
        assert screen.current.path == "util.py" and not screen.expanded
        await pilot.press("escape")
        assert not isinstance(app.screen, ReviewScreen)


async def test_apply_changes_the_file(review_app, repo) -> None:
    app = review_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_review(pilot, app)
        await pilot.press("a")
        await settle(pilot, app)
        assert "for i in range(len(items)):\n" in (repo / "calc.py").read_text()
        assert screen.findings[0].status == "applied"
    with sqlite3.connect(Path(app.store.path)) as conn:
        (status,) = conn.execute(
            "SELECT status FROM review_findings WHERE path = 'calc.py'"
        ).fetchone()
    assert status == "applied"


async def test_conflicting_patch_changes_nothing(review_app, repo) -> None:
    app = review_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, app)
        edited = CHANGED_CALC.replace("    s = 0\n", "    s = 0  # edited meanwhile\n")
        (repo / "calc.py").write_text(edited)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen))
        message = str(app.screen.message)
        assert "calc.py changed since" in message and "Nothing was changed" in message
        assert (repo / "calc.py").read_text() == edited
        assert screen.findings[0].status == "open"
        await pilot.press("enter")
        # a patch git itself refuses (the code it replaces is gone), same promise
        (repo / "calc.py").write_text(CHANGED_CALC)
        screen.result.digests.clear()
        (repo / "calc.py").write_text(CHANGED_CALC.replace("range(len(items) + 1)", "range(3)"))
        before = (repo / "calc.py").read_text()
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen))
        assert "does not apply" in str(app.screen.message)
        assert (repo / "calc.py").read_text() == before


async def test_like_dislike_dismiss_and_rereview(review_app, repo, fake_llm) -> None:
    app = review_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(pilot, app)
        await pilot.press("minus")
        await wait_for(pilot, lambda: isinstance(app.screen, FeedbackScreen))
        app.screen.query_one(Input).value = "we catch this in CI"
        await pilot.press("enter")
        await settle(pilot, app)
        learnings = await screen.service.learnings(str(repo))
        (learning,) = learnings
        assert learning.kind == "avoid" and learning.rule == "we catch this in CI"
        await pilot.press("d")  # dismiss: the list moves on
        await settle(pilot, app)
        assert screen.findings[0].status == "dismissed"
        assert screen.current.path == "util.py"
        queued = await app.suggestion_queue.list(kind="review", statuses=None)
        by_title = {s.title: s.status for s in queued}
        assert by_title[f"error: {BUG['title']}"] == "dismissed"
        # re-review util.py: the model now has nothing to say about it
        fake_llm.reply_fn = per_file({"calc.py": [BUG]})
        await pilot.press("r")
        await settle(pilot, app)
        assert [f.path for f in screen.findings] == ["calc.py"]


def test_every_binding_has_an_id() -> None:
    ids = [b.id for b in ReviewScreen.BINDINGS]
    assert all(ids) and len(set(ids)) == len(ids)


def test_editor_command_opens_at_the_line(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    assert editor_command("nvim", path, 12) == ["nvim", "+12", str(path)]
    assert editor_command("code --wait", path, 3) == ["code", "--wait", "-g", f"{path}:3"]
    assert editor_command("hx", path, 7) == ["hx", f"{path}:7"]
    assert editor_command("ed", path, 7) == ["ed", str(path)]


async def test_open_hands_the_line_to_the_editor(review_app, repo, monkeypatch) -> None:
    monkeypatch.setenv("EDITOR", "vim")
    opened: list[list[str]] = []
    app = review_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        from ai_workbench.review import ReviewOptions, ReviewService

        service = ReviewService(app.loaded, app.store)
        opts = ReviewOptions(
            model=app.model_choice.model, api_base=app.model_choice.api_base, cwd=repo
        )
        app.push_screen(ReviewScreen(service, opts, open_editor=opened.append))
        await wait_for(pilot, lambda: getattr(app.screen, "result", None) is not None)
        await pilot.press("o")
        assert opened == [["vim", "+3", str(repo / "calc.py")]]


def test_review_screen_snapshot(snap_compare: Any, review_app: Any, monkeypatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)

    async def run_before(pilot: Any) -> None:
        screen = await open_review(pilot, pilot.app)
        screen.query_one(OptionList).focus()
        await pilot.pause()

    assert snap_compare(review_app(), terminal_size=SIZE, run_before=run_before)
