"""Running a shell fix from the suggestions panel: chosen, seen, confirmed, then run."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input

from ai_workbench.tui.screens.confirm import ConfirmScreen, MessageScreen, TextPromptScreen
from ai_workbench.tui.screens.pickers import PickerScreen
from tests.tui.conftest import SIZE, settle, wait_for

FIXES = [
    {"description": "create the missing file", "command": "touch fixed.txt", "risk_level": "safe"},
    # the model calls it safe; aiw's own classifier knows better
    {"description": "publish", "command": "git push --force origin main", "risk_level": "safe"},
]


async def _shell_item(app: Any, cwd: str) -> Any:
    return await app.suggestion_queue.add(
        "shell", "`cat fixed.txt` failed (exit 1)", body="The file does not exist.",
        actions=[("run", "Run a fix…"), ("copy", "Copy fix"), ("dismiss", "Dismiss")],
        payload={"commands": FIXES, "cwd": cwd, "command": FIXES[0]["command"]},
    )  # fmt: skip


async def _open_run(pilot: Any, app: Any) -> None:
    panel = app.suggestions_panel()
    await wait_for(pilot, lambda: bool(panel.items))
    panel.options.focus()
    panel.options.highlighted = 0
    await pilot.press("1")
    await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))


async def test_a_safe_fix_runs_after_a_confirmation(make_app, isolated_env) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        item = await _shell_item(app, str(isolated_env.work))
        await _open_run(pilot, app)
        await pilot.press("enter")  # the first fix
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert not (isolated_env.work / "fixed.txt").exists()  # nothing ran yet
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), timeout=20)
        assert "exit 0" in app.screen.title_text
        assert (isolated_env.work / "fixed.txt").exists()
        await pilot.press("escape")
        await settle(pilot, app)
        assert (await app.suggestion_queue.get(item.id)).status == "applied"


async def test_a_dangerous_fix_needs_yes_typed(make_app, isolated_env) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        item = await _shell_item(app, str(isolated_env.work))
        await _open_run(pilot, app)
        await pilot.press("down", "enter")  # the force push, labelled "safe" by the model
        await wait_for(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        assert "DANGEROUS" in app.screen.title_text
        app.screen.query_one(Input).value = "sure"
        await pilot.press("enter")
        await settle(pilot, app)
        assert not isinstance(app.screen, MessageScreen)  # not run
        assert (await app.suggestion_queue.get(item.id)).status != "applied"
        await _open_run(pilot, app)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        app.screen.query_one(Input).value = "yes"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen), timeout=20)
        # it ran, in the failed command's directory (not a git repository here)
        assert "exit 128" in app.screen.title_text
        assert "not a git repository" in app.screen.message


async def test_a_failed_shell_command_is_announced_at_once(make_app, isolated_env) -> None:
    from ai_workbench.shell.spool import ShellEvent, append_event

    # a failure from before the workbench opened is not announced again
    append_event(ShellEvent(id="old", shell="bash", status=1, cmd="old-failure", cwd="/tmp"))
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.pause(1.2)
        append_event(
            ShellEvent(
                id="e1", shell="zsh", status=127, cmd="gti status", cwd=str(isolated_env.work)
            )
        )
        token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
        append_event(
            ShellEvent(
                id="e2", shell="bash", status=1, cmd=f"git push https://{token}@github.com/x/y",
                cwd=str(isolated_env.work),
            )
        )  # fmt: skip

        def announced() -> bool:
            return any("gti status" in str(n.message) for n in app._notifications)

        await wait_for(pilot, announced, timeout=5)
        await wait_for(pilot, lambda: any("git push" in str(n.message) for n in app._notifications))
        assert not any(token in str(n.message) for n in app._notifications)  # redacted
        assert not any("old-failure" in str(n.message) for n in app._notifications)
        assert any("exit 127" in str(n.message) for n in app._notifications)


async def test_a_moderate_fix_defaults_to_no(make_app, isolated_env) -> None:
    """Enter on the confirmation of a moderate command runs nothing (the default is No)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        # the model calls it safe; aiw rates cp moderate (it may overwrite a file)
        fix = {"description": "make", "command": "cp /dev/null by-moderate", "risk_level": "safe"}
        await app.suggestion_queue.add(
            "shell", "`cat by-moderate` failed (exit 1)", body="Missing.",
            actions=[("run", "Run a fix…"), ("dismiss", "Dismiss")],
            payload={"commands": [fix], "cwd": str(isolated_env.work)},
        )  # fmt: skip
        await _open_run(pilot, app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "moderate" in str(app.screen.title_text)
        await pilot.press("enter")
        await settle(pilot, app)
        assert not isinstance(app.screen, MessageScreen)
        assert not (isolated_env.work / "by-moderate").exists()
