"""Agent mode in the workbench, driven with Pilot: the loopback model scripts tool calls, the
small real toolbox of tests/agent_tools.py runs them in the project (real files, real
``bash -c``), the database is the real one. Approvals open the modal with the whole command;
the keys decide; Escape stops a run, which is stored as cancelled with its steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from ai_workbench.agent import service as agent_service
from ai_workbench.agent.loop import forget_tool_refusals
from ai_workbench.agent.service import AgentService
from ai_workbench.core.settings import load_config
from ai_workbench.store import Store
from ai_workbench.tui.screens.agent import AgentScreen
from ai_workbench.tui.screens.agent_approval import ApprovalScreen
from tests.agent_tools import factory
from tests.fake_llm import tool_results
from tests.tui.conftest import SIZE, settle, wait_for

# Long enough that a summary or a clipped line would not hold it whole.
COMMAND = (
    "printf 'made by the agent\\n' > made.txt && echo first-part-of-a-long-command "
    "&& echo second-part && echo third-part-that-only-the-whole-command-shows"
)


@pytest.fixture
def project(isolated_env: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    forget_tool_refusals()
    root = isolated_env.work
    (root / "notes.txt").write_text("hello\n")
    monkeypatch.setattr(agent_service, "default_toolbox", factory(ask=[COMMAND]))
    return root


def cells(app: Any) -> list[list[str]]:
    screen = next(s for s in app.screen_stack if isinstance(s, AgentScreen))
    table = screen.query_one("#agent-steps", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def log_text(screen: AgentScreen) -> str:
    return "\n".join(str(w.render()) for w in screen.log_view.query(Static))


async def open_agent(pilot: Any, app: Any) -> AgentScreen:
    await settle(pilot, app)
    await pilot.press("ctrl+g")
    await wait_for(pilot, lambda: isinstance(app.screen, AgentScreen))
    await pilot.pause()
    return app.screen


async def start(pilot: Any, screen: AgentScreen, goal: str, mode: str = "ask") -> None:
    screen.query_one("#agent-mode").value = mode
    field = screen.query_one("#agent-goal", Input)
    field.focus()
    field.value = goal
    await pilot.press("enter")


async def stored(run_id: int) -> Any:
    async with await Store.open() as store:
        return await AgentService(load_config(), store).show(run_id)


def script_command(fake: Any) -> None:
    fake.tool_calls = [[{"name": "run_command", "arguments": {"command": COMMAND}}]]
    fake.reply_fn = lambda body: f"The command said: {tool_results(body)[0][:30]}"


async def test_an_approval_shows_the_whole_command_and_deny_is_kept(
    echo_app: Any, fake_llm: Any, project: Path
) -> None:
    script_command(fake_llm)
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_agent(pilot, app)
        await start(pilot, screen, "make made.txt")
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        modal = app.screen
        detail = modal.query_one("#agent-approval-detail", Static)
        assert str(detail.render()) == COMMAND  # the whole command, as it would run
        assert "asks" in str(modal.query_one("#agent-approval-reason", Static).render())
        assert f"Bash({COMMAND})" in str(modal.query_one("#agent-approval-rule", Static).render())
        assert cells(app)[0][:2] == ["1", "run_command"] and cells(app)[0][3] == "asks…"

        await pilot.press("d")
        await wait_for(pilot, lambda: screen.summary is not None)
        assert not (project / "made.txt").exists()  # nothing ran
        row = cells(app)[0]
        assert row[3] == "user-denied" and "not allowed" in row[4]
        assert "not allowed" in tool_results(fake_llm.chat_requests[1]["json"])[0]
        assert "not allowed: run_command" in log_text(screen)
        record = await stored(screen.run_id)
    assert record.step_rows[0].decision == "user-denied"


async def test_once_approves_and_the_step_completes(
    echo_app: Any, fake_llm: Any, project: Path
) -> None:
    script_command(fake_llm)
    fake_llm.tool_text = "I will make the file.\n"
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_agent(pilot, app)
        await start(pilot, screen, "make made.txt", mode="auto-edit")
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.press("o")
        await wait_for(pilot, lambda: screen.summary is not None)
        await pilot.pause()
        assert screen.summary.status == "done"
        assert (project / "made.txt").read_text() == "made by the agent\n"
        assert cells(app)[0][3] == "user-approved" and cells(app)[0][4].startswith("exit 0")
        text = log_text(screen)
        assert "I will make the file." in text  # the model's streamed words
        assert "The command said: exit 0" in text
        assert "done: the model finished" in text  # the summary
        assert "mode auto-edit" in str(screen.query_one("#agent-status", Static).render())
        record = await stored(screen.run_id)
        assert record.mode == "auto-edit" and record.status == "done"
        assert record.step_rows[0].decision == "user-approved"
        # The run is listed with the past ones, and a like is stored with it.
        await wait_for(pilot, lambda: len(screen.runs) == 1)
        screen.query_one("#agent-runs").focus()
        await pilot.press("plus")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "FeedbackScreen")
        await pilot.press(*"clean run", "enter")
        await wait_for(pilot, lambda: screen.runs and screen.runs[0].rating == 1)
        record = await stored(screen.run_id)
        assert record.rating == 1 and record.comment == "clean run"
        assert "▲" in str(screen.query_one("#agent-runs").get_option_at_index(0).prompt)
        # Enter on a past run shows it again from the log.
        screen.query_one("#agent-runs").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "I will make the file." not in log_text(screen))
        assert "done: the model finished" in log_text(screen)  # rebuilt from the stored run
        assert cells(app) == [["1", "run_command", COMMAND[:39] + "…", "user-approved",
                               cells(app)[0][4]]]  # fmt: skip


async def test_an_edit_shows_its_diff(echo_app: Any, fake_llm: Any, project: Path) -> None:
    fake_llm.tool_calls = [
        [{"name": "write_file", "arguments": {"path": "notes.txt", "content": "hello world\n"}}]
    ]
    fake_llm.reply = "Edited.\x1b]52;c;QUFBQQ==\x07"
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_agent(pilot, app)
        await start(pilot, screen, "say hello world", mode="full-auto")
        await wait_for(pilot, lambda: screen.summary is not None)
        await pilot.pause()
        diffs = [str(w.render()) for w in screen.log_view.query(".agent-diff")]
        assert diffs and "-hello\n+hello world" in diffs[0]
        text = log_text(screen)
        assert "Edited." in text and "\x1b" not in text and "52;c" not in text
        assert "changed notes.txt" in cells(app)[0][4]


async def test_escape_stops_the_run_and_keeps_its_log(
    echo_app: Any, fake_llm: Any, project: Path
) -> None:
    fake_llm.tool_calls = [[{"name": "read_file", "arguments": {"path": "notes.txt"}}]]
    fake_llm.chunk_delay = 0.2  # the answer after the step streams slowly
    app = echo_app("slow")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_agent(pilot, app)
        await start(pilot, screen, "read the notes", mode="plan")
        await wait_for(pilot, lambda: "word3" in log_text(screen), timeout=20)
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.summary is not None)
        assert screen.summary.status == "cancelled"
        assert isinstance(app.screen, AgentScreen)  # still here, the log on screen
        assert cells(app)[0][:2] == ["1", "read_file"]
        assert "stopped" in log_text(screen)
        record = await stored(screen.run_id)
        assert record.status == "cancelled" and record.ended is not None
        assert [s.tool for s in record.step_rows] == ["read_file"]
        await pilot.press("escape")  # no run going: back to the conversation
        await wait_for(pilot, lambda: not isinstance(app.screen, AgentScreen))


async def test_escape_during_an_approval_stops_nothing_but_denies(
    echo_app: Any, fake_llm: Any, project: Path
) -> None:
    script_command(fake_llm)
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_agent(pilot, app)
        await start(pilot, screen, "make made.txt")
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.press("escape")  # in the modal: deny (the safe answer)
        await wait_for(pilot, lambda: screen.summary is not None)
        assert cells(app)[0][3] == "user-denied" and not (project / "made.txt").exists()


async def test_a_question_is_answered_in_the_pane(
    echo_app: Any, fake_llm: Any, project: Path
) -> None:
    fake_llm.tool_calls = [[{"name": "ask_user", "arguments": {"question": "Which file?"}}]]
    fake_llm.reply_fn = lambda body: f"Thanks: {tool_results(body)[0]}"
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_agent(pilot, app)
        await start(pilot, screen, "tidy up")
        await wait_for(pilot, lambda: screen.question is not None)
        assert "Which file?" in str(screen.query_one("#agent-question-text", Static).render())
        answer = screen.query_one("#agent-answer", Input)
        assert answer.has_focus
        await pilot.press(*"notes.txt", "enter")
        await wait_for(pilot, lambda: screen.summary is not None)
        await pilot.pause()
        assert screen.summary.status == "done"
        assert tool_results(fake_llm.chat_requests[1]["json"]) == ["The user answered: notes.txt"]
        assert "Thanks: The user answered: notes.txt" in log_text(screen)
        assert not screen.query_one("#agent-question").has_class("-asking")


async def test_a_run_that_cannot_start_says_why_in_one_line(
    make_app: Any, project: Path, isolated_env: Any
) -> None:
    app = make_app(provider="nosuch")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_agent(pilot, app)
        await start(pilot, screen, "anything")
        await wait_for(pilot, lambda: "could not start" in log_text(screen))
        assert screen.query_one("#agent-goal", Input).value == "anything"  # nothing lost
        assert not screen.running


async def test_the_approval_modal_strips_control_sequences_and_shows_a_diff(
    make_app: Any, project: Path
) -> None:
    from dataclasses import dataclass

    @dataclass
    class Request:
        tool: str
        summary: str
        detail: str
        reason: str
        rule: str

    diff = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-old\x1b]0;pwned\x07\n+new [b]not markup[/b]\n"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        answers: list[str | None] = []
        app.push_screen(ApprovalScreen(Request("edit_file", "edit x.py", diff, "", "")),
                        answers.append)  # fmt: skip
        await pilot.pause()
        detail = str(app.screen.query_one("#agent-approval-detail", Static).render())
        expected = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-old\n+new [b]not markup[/b]"
        assert detail.rstrip() == expected
        assert not app.screen.query("#agent-approval-rule")  # no rule: no "always"
        await pilot.press("a")  # offered nothing to remember: the modal stays
        assert answers == [] and isinstance(app.screen, ApprovalScreen)
        await pilot.press("r")
        assert answers == ["run"]


def test_snapshot_of_the_approval_modal(
    snap_compare: Any, echo_app: Any, fake_llm: Any, project: Path, monkeypatch: Any
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)  # compare the real colours
    script_command(fake_llm)
    fake_llm.tool_text = "I will run one command.\n"

    async def run_before(pilot: Any) -> None:
        app = pilot.app
        screen = await open_agent(pilot, app)
        await start(pilot, screen, "make made.txt")
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.pause(0.3)

    assert snap_compare(echo_app(), terminal_size=SIZE, run_before=run_before)


async def test_quitting_during_an_approval_stores_the_run_as_stopped(
    echo_app: Any, fake_llm: Any, project: Path
) -> None:
    script_command(fake_llm)
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_agent(pilot, app)
        await start(pilot, screen, "make made.txt")
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        run_id = screen.run_id
        await pilot.press("ctrl+q")
    record = await stored(run_id)
    assert record.status == "cancelled" and record.ended is not None
    assert not (project / "made.txt").exists()


async def test_ctrl_t_gives_a_run_the_workbench_mcp_tools_under_the_policy(
    echo_app: Any, fake_llm: Any, isolated_env: Any
) -> None:
    """A real SDK server over stdio, started by the workbench; Ctrl+T in agent mode chooses it
    (nothing preselected: no [agent] mcp_servers); the model's call runs by the allow rule."""
    import json
    import sys

    from tests.conftest import REPO_ROOT

    forget_tool_refusals()
    isolated_env.write_user_config(
        f"[mcp.servers.tiny]\ncommand = {json.dumps(sys.executable)}\n"
        'args = ["-m", "tests.mcp.tiny_server"]\n'
        f"env = {{ PYTHONPATH = {json.dumps(str(REPO_ROOT))} }}\n\n"
        '[agent.permissions]\nallow = ["mcp__tiny__*"]\n'
    )
    fake_llm.tool_calls = [[{"name": "mcp__tiny__add", "arguments": {"a": 40, "b": 2}}]]
    fake_llm.reply_fn = lambda body: f"The server said {tool_results(body)[0].splitlines()[2]}."
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_agent(pilot, app)
        status = screen.query_one("#agent-status", Static)
        assert "MCP tools: none (Ctrl+T)" in str(status.render())
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "McpServersScreen")
        await wait_for(pilot, lambda: app.ctx.mcp.state("tiny").state == "ready", timeout=30)
        await pilot.press("space", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, AgentScreen))
        assert screen.mcp_chosen == {"tiny"}
        assert "MCP tools: tiny (Ctrl+T)" in str(status.render())

        await start(pilot, screen, "add 40 and 2", mode="full-auto")
        await wait_for(pilot, lambda: screen.summary is not None, timeout=30)
        assert screen.summary.status == "done", screen.summary.reason
        row = cells(app)[0]
        assert row[1] == "mcp__tiny__add" and row[3] == "rule:mcp__tiny__*"
        assert "The server said 42." in log_text(screen)
        record = await stored(screen.run_id)
        assert [(s.tool, s.decision) for s in record.step_rows] == [
            ("mcp__tiny__add", "rule:mcp__tiny__*")
        ]
        # The workbench's servers stay up for the conversation after the run.
        assert app.ctx.mcp.hub.get("tiny").state == "ready"


async def test_an_untrusted_project_cannot_preselect_a_looser_mode(
    echo_app: Any, isolated_env: Any
) -> None:
    root = isolated_env.work
    (root / ".git").mkdir()
    (root / ".aiw.toml").write_text('[agent]\nmode = "full-auto"\n')
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_agent(pilot, app)
        assert screen.query_one("#agent-mode").value == "ask"


async def test_agent_mcp_servers_preselect_the_tools(echo_app: Any, isolated_env: Any) -> None:
    """[agent] mcp_servers preselects a server in agent mode; an untrusted project's addition
    does not."""
    import json
    import sys

    from tests.conftest import REPO_ROOT

    server = (
        f'command = {json.dumps(sys.executable)}\nargs = ["-m", "tests.mcp.tiny_server"]\n'
        f"env = {{ PYTHONPATH = {json.dumps(str(REPO_ROOT))} }}\n"
    )
    isolated_env.write_user_config(
        f"[mcp.servers.tiny]\n{server}\n[mcp.servers.other]\n{server}\n"
        '[agent]\nmcp_servers = ["tiny"]\n'
    )
    root = isolated_env.work
    (root / ".git").mkdir()
    (root / ".aiw.toml").write_text('[agent]\nmcp_servers = ["tiny", "other"]\n')
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_agent(pilot, app)
        assert screen.mcp_chosen == {"tiny"}
        assert "MCP tools: tiny (Ctrl+T)" in str(screen.query_one("#agent-status").render())
