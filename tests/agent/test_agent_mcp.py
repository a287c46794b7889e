"""MCP tools in an agent run: a real SDK server over stdio (tests/mcp/tiny_server.py), the
loopback model calling ``mcp__tiny__…``, the real AgentToolbox and its policy, real SQLite.

What a user notices: ``aiw agent --mcp NAME`` (or ``[agent] mcp_servers``) offers the server's
tools; ``[agent.permissions]`` rules (``mcp__tiny__*``) decide what runs without asking; with no
rule, a headless run refuses the call and the server never sees it; what the tool returns reaches
the model redacted and delimited as data; every call is in the audit log.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from click.testing import CliRunner

from ai_workbench.agent.events import ApprovalNeeded, Notice, RunFinished, StepFinished
from ai_workbench.agent.exits import EXIT_REFUSED
from ai_workbench.agent.loop import forget_tool_refusals
from ai_workbench.agent.service import AgentRequest, AgentService
from ai_workbench.cli.main import main
from ai_workbench.core.errors import InputError
from ai_workbench.core.settings import load_config
from ai_workbench.store import Store
from tests.conftest import REPO_ROOT
from tests.fake_llm import FakeLLM, tool_results
from tests.mcp.tiny_server import LEAKED_KEY


@pytest.fixture(autouse=True)
def _fresh() -> None:
    forget_tool_refusals()


def config(
    env: Any, *, allow: tuple[str, ...] = (), deny: tuple[str, ...] = (), servers: str = ""
) -> None:
    """The user's config: the tiny server over stdio (the repo on its PYTHONPATH), rules."""
    args = json.dumps(["-m", "tests.mcp.tiny_server"])
    env.write_user_config(
        f"[mcp.servers.tiny]\ncommand = {json.dumps(sys.executable)}\nargs = {args}\n"
        f"env = {{ PYTHONPATH = {json.dumps(str(REPO_ROOT))} }}\n\n"
        f"[agent]\n{servers}\n"
        f"[agent.permissions]\nallow = {json.dumps(list(allow))}\ndeny = {json.dumps(list(deny))}\n"
    )


async def run_goal(
    env: Any, fake: FakeLLM, *, answer: Any = None, **request: Any
) -> tuple[Any, list[Any]]:
    store = await Store.open(env.root / "agent.db")
    try:
        service = AgentService(load_config(cwd=env.work), store)
        request.setdefault("mode", "full-auto")
        request.setdefault("model", "openai/echo")
        run = await service.start(
            AgentRequest(
                goal="add 2 and 3 with the tiny server",
                api_base=fake.base_url,
                cwd=env.work,
                interactive=answer is not None,
                **request,
            )
        )
        events = []
        async for event in run.events():
            events.append(event)
            if isinstance(event, ApprovalNeeded):
                event.reply.set_result(answer(event.request))
        await run.wait()
        record = await service.show(run.id)
        return (run, record), events
    finally:
        await store.close()


def steps(events: list[Any]) -> list[Any]:
    return [e.step for e in events if isinstance(e, StepFinished)]


async def test_an_allowed_mcp_tool_runs_and_its_result_goes_back_as_redacted_data(
    isolated_env: Any, fake_llm: FakeLLM
) -> None:
    config(isolated_env, allow=("mcp__tiny__*",))
    fake_llm.tool_calls = [
        [{"name": "mcp__tiny__add", "arguments": {"a": 2, "b": 3}}],
        [{"name": "mcp__tiny__leak", "arguments": {}}],
    ]
    fake_llm.reply = "2 + 3 = 5."
    (run, record), events = await run_goal(isolated_env, fake_llm, mcp_servers=["tiny"])

    assert run.exit_code == 0, [getattr(e, "text", "") for e in events]
    offered = [t["function"]["name"] for t in fake_llm.chat_requests[0]["json"]["tools"]]
    assert "mcp__tiny__add" in offered and "read_file" in offered
    done = steps(events)
    assert [(s.tool, s.decision) for s in done] == [
        ("mcp__tiny__add", "rule:mcp__tiny__*"),
        ("mcp__tiny__leak", "rule:mcp__tiny__*"),
    ]
    first = tool_results(fake_llm.chat_requests[1]["json"])[0]
    assert first.startswith('<tool_output tool="mcp__tiny__add" server="tiny">')
    assert "\n5\n" in first and "not instructions" in first
    leaked = tool_results(fake_llm.chat_requests[2]["json"])[-1]
    assert "aws_access_key_id" in leaked and LEAKED_KEY not in leaked
    assert [(r.tool, r.decision) for r in record.step_rows] == [(s.tool, s.decision) for s in done]
    assert record.step_rows[0].args == {"a": 2, "b": 3}
    notes = " ".join(e.text for e in events if isinstance(e, Notice))
    assert "MCP tools of tiny (" in notes


async def test_without_a_rule_a_headless_run_refuses_the_call(
    isolated_env: Any, fake_llm: FakeLLM
) -> None:
    config(isolated_env, servers='mcp_servers = ["tiny"]')  # from settings, no --mcp
    fake_llm.tool_calls = [[{"name": "mcp__tiny__echo", "arguments": {"text": "hi"}}]]
    fake_llm.reply = "Could not call it."
    (run, record), events = await run_goal(isolated_env, fake_llm)

    assert run.exit_code == EXIT_REFUSED
    (step,) = steps(events)
    assert (step.tool, step.decision) == ("mcp__tiny__echo", "refused")
    told = tool_results(fake_llm.chat_requests[1]["json"])[0]
    assert "needs the user's approval" in told and "echo: hi" not in told
    assert record.step_rows[0].decision == "refused"


async def test_a_deny_rule_wins_over_an_allow_rule(isolated_env: Any, fake_llm: FakeLLM) -> None:
    config(isolated_env, allow=("mcp__tiny__*",), deny=("mcp__tiny__env",))
    fake_llm.tool_calls = [
        [{"name": "mcp__tiny__env", "arguments": {}}],
        [{"name": "mcp__tiny__echo", "arguments": {"text": "ok"}}],
    ]
    fake_llm.reply = "Done."
    _, events = await run_goal(isolated_env, fake_llm, mcp_servers=["tiny"])

    assert [(s.tool, s.decision) for s in steps(events)] == [
        ("mcp__tiny__env", "refused"),
        ("mcp__tiny__echo", "rule:mcp__tiny__*"),
    ]
    assert "matches a deny rule" in tool_results(fake_llm.chat_requests[1]["json"])[0]
    assert "echo: ok" in tool_results(fake_llm.chat_requests[2]["json"])[-1]


async def test_asking_shows_the_call_and_always_writes_the_tool_rule(
    isolated_env: Any, fake_llm: FakeLLM
) -> None:
    config(isolated_env)
    fake_llm.tool_calls = [
        [{"name": "mcp__tiny__echo", "arguments": {"text": "first"}}],
        [{"name": "mcp__tiny__add", "arguments": {"a": 1, "b": 1}}],
    ]
    fake_llm.reply = "Done."
    asked: list[Any] = []

    def answer(request: Any) -> str:
        asked.append(request)
        return "always" if request.tool.endswith("echo") else "deny"

    _, events = await run_goal(isolated_env, fake_llm, answer=answer, mcp_servers=["tiny"])

    assert [(a.tool, a.rule) for a in asked] == [
        ("mcp__tiny__echo", "mcp__tiny__echo"),
        ("mcp__tiny__add", "mcp__tiny__add"),
    ]
    assert '"text": "first"' in asked[0].detail
    assert [s.decision for s in steps(events)] == ["user-approved", "user-denied"]
    written = (isolated_env.aiw_config / "config.toml").read_text()
    assert "mcp__tiny__echo" in written and "mcp__tiny__add" not in written


async def test_plan_mode_starts_no_server_and_an_unknown_name_is_one_clear_error(
    isolated_env: Any, fake_llm: FakeLLM
) -> None:
    config(isolated_env)
    fake_llm.reply = "1. nothing to change."
    (run, _), events = await run_goal(isolated_env, fake_llm, mode="plan", mcp_servers=["tiny"])
    assert run.exit_code == 0
    assert any("plan mode offers no MCP tools" in e.text for e in events if isinstance(e, Notice))
    offered = [t["function"]["name"] for t in fake_llm.chat_requests[0]["json"]["tools"]]
    assert not [name for name in offered if name.startswith("mcp__")]

    with pytest.raises(InputError, match=r"--mcp: no MCP server named nope \(have: tiny\)"):
        await run_goal(isolated_env, fake_llm, mcp_servers=["nope"])


def test_aiw_agent_mcp_end_to_end(
    isolated_env: Any, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    config(isolated_env, allow=("mcp__tiny",))
    monkeypatch.chdir(isolated_env.work)
    fake_llm.tool_calls = [[{"name": "mcp__tiny__add", "arguments": {"a": 20, "b": 22}}]]
    fake_llm.reply = "The sum is 42."
    base = ["--model", "openai/echo", "--api-base", fake_llm.base_url, "--mode", "full-auto"]
    result = CliRunner().invoke(
        main, ["agent", "add 20 and 22", *base, "--mcp", "tiny"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert '▸ 1 mcp__tiny__add  {"a": 20, "b": 22}  [rule:mcp__tiny] → 42' in result.output
    assert "The sum is 42." in result.output

    # aiw ask --autonomous (the `ai` CLI's spelling) passes --mcp on
    fake_llm.tool_calls = [[{"name": "mcp__tiny__add", "arguments": {"a": 1, "b": 2}}]]
    ask = ["ask", "--autonomous", "--model", "openai/echo", "--api-base", fake_llm.base_url]
    alias = CliRunner().invoke(main, [*ask, "--mcp", "tiny", "add 1 and 2"])
    assert "▸ 1 mcp__tiny__add" in alias.output, alias.output

    unknown = CliRunner().invoke(main, ["agent", "x", *base, "--mcp", "nope"])
    assert unknown.exit_code != 0
    assert "--mcp: no MCP server named nope (have: tiny)" in unknown.output


async def test_a_server_that_does_not_start_is_a_notice_and_the_run_goes_on(
    isolated_env: Any, fake_llm: FakeLLM
) -> None:
    isolated_env.write_user_config('[mcp.servers.broken]\ncommand = "/nonexistent/mcp-server"\n')
    fake_llm.reply = "Nothing to do."
    (run, _), events = await run_goal(isolated_env, fake_llm, mcp_servers=["broken"])
    assert run.exit_code == 0
    notes = [e.text for e in events if isinstance(e, Notice)]
    assert any(n.startswith("mcp: broken failed") for n in notes), notes
    assert isinstance(events[-1], RunFinished)


async def test_a_text_protocol_model_calls_mcp_tools_too(
    isolated_env: Any, fake_llm: FakeLLM
) -> None:
    """A server without tool calls: the MCP tools are listed in the protocol prompt and a
    fenced JSON action calls one, through the same policy."""
    config(isolated_env, allow=("mcp__tiny__add",))
    fake_llm.replies = [
        '```json\n{"tool": "mcp__tiny__add", "args": {"a": 7, "b": 8}}\n```',
        "The sum is 15.",
    ]
    (run, record), _ = await run_goal(
        isolated_env, fake_llm, model="openai/no-tools", mcp_servers=["tiny"]
    )
    assert run.exit_code == 0 and run.summary.protocol == "text"
    system = fake_llm.chat_requests[1]["json"]["messages"][0]["content"]
    assert "mcp__tiny__add" in system
    result = fake_llm.chat_requests[2]["json"]["messages"][-1]["content"]
    assert "Result of mcp__tiny__add" in result and "\n15\n" in result
    assert [(s.tool, s.decision) for s in record.step_rows] == [
        ("mcp__tiny__add", "rule:mcp__tiny__add")
    ]
