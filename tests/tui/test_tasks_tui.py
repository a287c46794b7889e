"""The tasks pane, reminders as notifications and model-proposed tasks in the workbench (Pilot)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from ai_workbench.store import Store
from ai_workbench.tasks.service import Link, TaskService
from ai_workbench.tasks.toolbox import TOOL_NAME
from ai_workbench.tui.panes.tasks import TasksPane
from ai_workbench.tui.screens.confirm import ConfirmScreen
from tests.conftest import IsolatedEnv
from tests.tui.conftest import SIZE, wait_for

ENV = {"AIW_TASKS__TIMEZONE": "UTC"}


async def seed(*tasks: dict[str, Any]) -> list[int]:
    """Add tasks through a connection of its own (as `aiw task add` in another process)."""
    store = await Store.open()
    try:
        service = TaskService(store)
        return [(await service.add(tz="UTC", **task)).id for task in tasks]
    finally:
        await store.close()


async def stored(status: str | None = "open", reminders: bool = False) -> list[Any]:
    store = await Store.open()
    try:
        return await TaskService(store).list(status=status, reminders=reminders)
    finally:
        await store.close()


def notified(app: Any, text: str) -> bool:
    return any(text in str(n.message) for n in app._notifications)


def lines(pane: TasksPane) -> list[str]:
    options = pane.options
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


def highlight(pane: TasksPane, title: str) -> None:
    options = pane.options
    for index in range(options.option_count):
        if title in str(options.get_option_at_index(index).prompt):
            options.highlighted = index
            return
    raise AssertionError(f"{title} is not listed")


async def test_pane_groups_tasks_and_its_keys_act(
    make_app: Any, isolated_env: IsolatedEnv, monkeypatch: Any, tmp_path: Any
) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    now = datetime.now().astimezone()
    doc = tmp_path / "runbook.md"
    doc.write_text("steps")
    await seed(
        {"title": "renew cert", "due": now - timedelta(hours=1), "remind_before": None},
        {
            "title": "ship release",
            "due": now + timedelta(days=3),
            "links": [Link("url", "https://example.com/release"), Link("file", str(doc))],
        },
        {"title": "buy milk"},
    )
    app = make_app()
    opened: list[tuple[str, str]] = []
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(pilot, lambda: app.ctx.store is not None)
        await pilot.press("f6")
        await wait_for(pilot, lambda: bool(app.query("#tasks")))
        pane = app.query_one("#tasks", TasksPane)
        pane.opener = lambda target, kind: opened.append((target, kind))
        await wait_for(pilot, lambda: pane.loaded >= 1)
        shown = lines(pane)
        assert shown[0] == "Overdue" and "renew cert" in shown[1]
        assert shown.index("Upcoming") < shown.index("No date")
        assert "ship release" in shown[shown.index("Upcoming") + 1]

        highlight(pane, "ship release")
        await pilot.press("o")
        await wait_for(pilot, lambda: opened == [("https://example.com/release", "url")])

        await pilot.press("s")
        await wait_for(pilot, lambda: notified(app, "Snoozed an hour: ship release"))
        release = next(t for t in await stored(reminders=True) if t.title == "ship release")
        assert release.next_reminder is not None
        assert abs(release.next_reminder - (time.time() + 3600)) < 60

        highlight(pane, "renew cert")
        await pilot.press("d")
        await wait_for(pilot, lambda: "renew cert" not in " ".join(lines(pane)))
        assert [t.title for t in await stored(status="done")] == ["renew cert"]


async def test_reminders_pop_up_and_missed_ones_are_listed_once(
    make_app: Any, isolated_env: IsolatedEnv, monkeypatch: Any
) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    now = datetime.now().astimezone()
    await seed({"title": "old backup", "due": now - timedelta(hours=3)})
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(pilot, lambda: notified(app, "1 reminder missed while aiw was not running"))
        assert notified(app, "#1 old backup")
        await seed({"title": "rotate the staging keys", "due": datetime.now().astimezone()})
        # another process added it: the scheduler sees it at its next recheck (30 s by
        # default); poke it as an in-process change would
        app.background.reminders.scheduler.poke()
        await wait_for(pilot, lambda: notified(app, "rotate the staging keys"), timeout=15)
        assert not notified(app, "old backup (was due")  # the missed one did not fire


async def test_a_proposed_task_is_saved_only_after_yes(
    echo_app: Any, fake_llm: Any, isolated_env: IsolatedEnv, monkeypatch: Any
) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    call = {"name": TOOL_NAME, "arguments": {"title": "rotate keys", "when": "2030-01-08 10:00"}}
    app = echo_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        for answer in ("n", "y"):
            fake_llm.tool_calls = [[call]]  # this turn's one call
            app.prompt.focus()
            app.prompt.insert("remind me to rotate the keys on 2030-01-08 at 10")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=20)
            assert "rotate keys" in app.screen.message
            assert "due Tue 2030-01-08 10:00 UTC" in app.screen.message
            assert await stored() == []  # nothing before the answer
            await pilot.press(answer)
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
            await wait_for(pilot, lambda: not app.streaming)
            if answer == "n":
                await wait_for(pilot, lambda: notified(app, "Task not saved."))
                assert await stored() == []
        await wait_for(pilot, lambda: notified(app, "Added task 1: rotate keys"))
        assert [t.title for t in await stored()] == ["rotate keys"]
