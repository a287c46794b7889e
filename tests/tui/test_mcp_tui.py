"""MCP in the workbench, driven with Pilot: the SDK's stdio server (tests/mcp/tiny_server.py)
as a real subprocess, one that crashes at start, and the loopback fake model scripting calls."""

from __future__ import annotations

import json
import sys
from typing import Any

from textual.widgets import OptionList, Static

from ai_workbench.tui.screens.mcp import McpServersScreen, ToolCallScreen
from ai_workbench.tui.widgets.chat import MessageView
from ai_workbench.tui.widgets.chips import Chip
from tests.conftest import REPO_ROOT, IsolatedEnv
from tests.fake_llm import tool_results
from tests.mcp.tiny_server import LEAKED_KEY
from tests.tui.conftest import SIZE, wait_for


def configure(isolated_env: IsolatedEnv, *servers: tuple[str, list[str]]) -> None:
    """``[mcp.servers.NAME]`` tables running tests/mcp/tiny_server.py with extra arguments."""
    tables = [
        f"[mcp.servers.{name}]\ncommand = {json.dumps(sys.executable)}\n"
        f"args = {json.dumps(['-m', 'tests.mcp.tiny_server', *extra])}\n"
        f"cwd = {json.dumps(str(REPO_ROOT))}\n"
        for name, extra in servers
    ]
    isolated_env.write_user_config("\n".join(tables))


def chip_labels(app: Any) -> list[str]:
    return [chip.data.label for chip in app.chip_bar.query(Chip)]


def answers(app: Any) -> list[MessageView]:
    return [v for v in app.chat_log.views if v.role == "assistant"]


def states(app: Any) -> dict[str, str]:
    mcp = app.ctx.mcp
    return {} if mcp is None else {n: mcp.state(n).state for n in mcp.names}


async def send(pilot: Any, app: Any, text: str) -> None:
    app.prompt.focus()
    app.prompt.insert(text)
    await pilot.press("enter")


async def test_states_are_shown_and_each_call_asks(
    echo_app: Any, fake_llm: Any, isolated_env: IsolatedEnv
) -> None:
    configure(isolated_env, ("tiny", []), ("broken", ["--crash"]))
    fake_llm.reply_fn = lambda body: f"the tool said {tool_results(body)}"
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot, lambda: states(app) == {"tiny": "ready", "broken": "failed"}, timeout=30
        )
        await pilot.pause()
        # The chip says the session uses no tools yet, and that one server failed.
        assert "tools: off (2 MCP) · 1 failed" in chip_labels(app)
        # ... and the failure was announced with the server's name, reason and stderr tail.
        failure = app.ctx.mcp.state("broken").error
        assert "cannot open database /nonexistent/db.sqlite" in failure
        assert any("broken" in str(n.message) for n in app._notifications)

        # The palette's "MCP servers": each server's state; Space turns tiny's tools on.
        await app.run_action("mcp_servers")  # the palette's command
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, McpServersScreen)
                and any(o.option_count for o in app.screen.query(OptionList))
            ),
        )
        options = app.screen.query_one(OptionList)
        shown = [options.get_option_at_index(i).prompt.plain for i in range(2)]
        assert "tiny" in shown[0] and "ready, 8 tools" in shown[0]
        assert "broken" in shown[1] and "failed:" in shown[1] and "cannot open database" in shown[1]
        await pilot.press("space", "escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, McpServersScreen))
        assert "tools: tiny" in chip_labels(app)

        # The model calls tiny/echo: the modal shows the server, the tool and the arguments;
        # "n" refuses, and the model is told so.
        fake_llm.tool_calls = [[{"name": "mcp__tiny__echo", "arguments": {"text": "hello mcp"}}]]
        await send(pilot, app, "use the tool")
        await wait_for(pilot, lambda: isinstance(app.screen, ToolCallScreen), timeout=15)
        modal = app.screen
        assert (modal.server, modal.tool) == ("tiny", "echo")
        assert '"text": "hello mcp"' in str(modal.query_one("#mcp-call-arguments", Static).render())
        await pilot.press("n")
        await wait_for(pilot, lambda: len(answers(app)) == 1 and not app.streaming, timeout=15)
        refused = answers(app)[0]
        assert "the user did not allow this call of echo" in refused.text
        assert "not allowed" in "\n".join(line.plain for line in refused.tool_lines)

        # Again, and "y" runs it: the answer uses the result, the call's summary is shown.
        # The arguments are shown whole, but stripped of control sequences and redacted.
        hostile = f"second \x1b]0;pwned\x07[b]x[/b] {LEAKED_KEY}"
        fake_llm.tool_calls = [[{"name": "mcp__tiny__echo", "arguments": {"text": hostile}}]]
        await send(pilot, app, "once more")
        await wait_for(pilot, lambda: isinstance(app.screen, ToolCallScreen), timeout=15)
        shown_args = app.screen.arguments_text
        assert "second" in shown_args and "[b]x[/b]" in shown_args
        assert "\x1b" not in shown_args and "\\u001b" not in shown_args
        assert LEAKED_KEY not in shown_args and "[REDACTED" in shown_args
        await pilot.press("y")
        await wait_for(pilot, lambda: len(answers(app)) == 2 and not app.streaming, timeout=15)
        used = answers(app)[1]
        assert "echo: second" in used.text
        shown = used.tool_lines[0].plain
        assert "tiny/echo" in shown and "1 line(s): echo: second" in shown
        assert LEAKED_KEY not in shown and "[b]x[/b]" in shown  # redacted; markup kept as text
        assert LEAKED_KEY not in used.text  # the model got the result redacted too
        assert used.info.status == "complete"
    # Leaving the workbench stopped the server.
    assert app.ctx.mcp.hub.connections["tiny"].state == "stopped"


async def test_always_is_remembered_and_no_tools_without_a_choice(
    echo_app: Any, fake_llm: Any, isolated_env: IsolatedEnv
) -> None:
    configure(isolated_env, ("tiny", []))
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: states(app) == {"tiny": "ready"}, timeout=30)
        # Not chosen for this session: no tools offered, no question.
        await send(pilot, app, "plain question")
        await wait_for(pilot, lambda: len(answers(app)) == 1 and not app.streaming, timeout=15)
        offered = fake_llm.requests[-1]["json"].get("tools") or []
        assert not [t for t in offered if t["function"]["name"].startswith("mcp__")]
        app.ctx.mcp.choose(app.session.id, {"tiny"})
        fake_llm.tool_calls = [[{"name": "mcp__tiny__add", "arguments": {"a": 2, "b": 40}}]]
        fake_llm.reply_fn = lambda body: f"sum {tool_results(body)}"
        await send(pilot, app, "add")
        await wait_for(pilot, lambda: isinstance(app.screen, ToolCallScreen), timeout=15)
        await pilot.press("a")
        await wait_for(pilot, lambda: len(answers(app)) == 2 and not app.streaming, timeout=15)
        assert "42" in answers(app)[1].text
        # Allowed for good: the next call of the same tool runs without a question.
        fake_llm.tool_calls = [[{"name": "mcp__tiny__add", "arguments": {"a": 1, "b": 1}}]]
        await send(pilot, app, "add again")
        await wait_for(pilot, lambda: len(answers(app)) == 3 and not app.streaming, timeout=15)
        assert "2" in answers(app)[2].text
        assert not isinstance(app.screen, ToolCallScreen)
