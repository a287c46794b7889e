"""The MCP client (ai_workbench/mcp) against real servers built on the official SDK.

An in-memory ``MCPServer``; tests/mcp/tiny_server.py started as a stdio subprocess and as a
streamable-HTTP server on 127.0.0.1; servers that crash at start, hang, fail a call, answer with
a huge result, or die mid-call. Configuration from settings and ``mcpServers`` JSON files.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ai_workbench.core.llm.tools import ToolCall
from ai_workbench.core.settings import load_config
from ai_workbench.mcp import approvals
from ai_workbench.mcp.config import ServerSpec, load_servers
from ai_workbench.mcp.hub import McpCallError, McpHub
from ai_workbench.mcp.toolbox import McpToolbox, ToolEvent
from tests.conftest import REPO_ROOT, IsolatedEnv
from tests.mcp.tiny_server import LEAKED_KEY, build

PY = sys.executable


def tiny(name: str = "tiny", *extra: str, **kw: Any) -> ServerSpec:
    return ServerSpec(
        name, "test", command=PY, args=["-m", "tests.mcp.tiny_server", *extra],
        cwd=str(REPO_ROOT), **kw,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listening on {port}")


@pytest.fixture
def http_server() -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(
        [PY, "-m", "tests.mcp.tiny_server", "--http", str(port)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_in_memory_server_lists_and_calls() -> None:
    spec = ServerSpec("mem", "test", inproc=build())
    async with McpHub([spec]) as hub:
        (conn,) = await hub.start()
        result = await hub.call("mem", "add", {"a": 2, "b": 3})
        assert conn.state == "ready"

    assert conn.state == "stopped"
    assert {t.name for t in conn.tools} >= {"echo", "add", "leak"}
    assert conn.tools[0].qualified == "mcp__mem__echo"
    assert [str(r.uri) for r in conn.resources] == ["notes://readme"]
    assert [p.name for p in conn.prompts] == ["review"]
    assert result.structured_content == {"result": 5}


async def test_stdio_server_works_while_broken_ones_are_reported() -> None:
    specs = [
        tiny("good"),
        tiny("crash", "--crash"),
        tiny("hang", "--hang"),
        ServerSpec("missing", "test", command="/nonexistent/mcp-server"),
    ]
    started = time.perf_counter()
    async with McpHub(specs, start_timeout=4) as hub:
        await hub.start()
        took = time.perf_counter() - started
        answer = await hub.call("good", "echo", {"text": "still here"})
        states = {name: c.describe() for name, c in hub.connections.items()}

    assert answer.content[0].text == "echo: still here"
    assert states["good"].startswith("ready, ")
    assert states["crash"].startswith("failed: ")
    assert "cannot open database /nonexistent/db.sqlite" in states["crash"]  # its stderr tail
    assert states["hang"].startswith("failed: no answer within 4s")
    assert "waiting forever" in states["hang"]
    assert states["missing"] == "failed: command not found: /nonexistent/mcp-server"
    assert took < 4 + 3  # started together: the hang's timeout, not the sum


async def test_streamable_http_server(http_server: str) -> None:
    spec = ServerSpec("web", "test", url=http_server, headers={"X-Test": "1"})
    async with McpHub([spec]) as hub:
        (conn,) = await hub.start()
        result = await hub.call("web", "echo", {"text": "over http"})
        assert conn.state == "ready", conn.error
    assert result.content[0].text == "echo: over http"


async def test_http_server_that_is_not_there_fails_with_its_name() -> None:
    spec = ServerSpec("gone", "test", url=f"http://127.0.0.1:{free_port()}/mcp")
    async with McpHub([spec], start_timeout=10) as hub:
        (conn,) = await hub.start()

    assert conn.state == "failed"
    assert conn.error


async def test_call_timeout_error_result_and_death() -> None:
    async with McpHub([tiny()], call_timeout=1) as hub:
        await hub.start()
        with pytest.raises(McpCallError, match=r"tiny/slow: no answer within 1s"):
            await hub.call("tiny", "slow", {"seconds": 5})
        failed = await hub.call("tiny", "fail", {})
        still = await hub.call("tiny", "echo", {"text": "alive"})
        with pytest.raises(McpCallError, match=r"died.*exiting on purpose"):
            await hub.call("tiny", "die", {})
        state = hub.get("tiny").state

    assert failed.is_error and "the disk is on fire" in failed.content[0].text
    assert still.content[0].text == "echo: alive"
    assert state == "failed"


async def test_stdio_server_gets_a_minimal_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-for-servers")
    monkeypatch.setenv("MY_TOKEN", "named-one")
    spec = tiny(env={"PYTHONPATH": str(REPO_ROOT), "MY_TOKEN": "named-one"})
    async with McpHub([spec]) as hub:
        await hub.start()
        result = await hub.call("tiny", "env", {})

    names = set(result.structured_content["result"])
    assert "OPENAI_API_KEY" not in names
    assert "MY_TOKEN" in names
    assert names - {"MY_TOKEN", "PYTHONPATH"} <= {
        "HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LC_CTYPE", "PWD",
    }  # fmt: skip


def events_into(sink: list[ToolEvent]) -> Any:
    return sink.append


async def test_toolbox_redacts_cuts_and_asks(isolated_env: IsolatedEnv) -> None:
    asked: list[tuple[str, dict[str, Any]]] = []

    async def approver(info: Any, args: dict[str, Any]) -> str:
        asked.append((info.name, args))
        return "always" if info.name == "leak" else "once"

    events: list[ToolEvent] = []
    async with McpHub([ServerSpec("mem", "test", inproc=build())]) as hub:
        await hub.start()
        box = McpToolbox(
            hub, ["mem"], approver=approver, max_result_chars=1000, report=events.append
        )
        names = [s["function"]["name"] for s in box.specs()]
        leak = await box.call(ToolCall(0, "c1", "mcp__mem__leak", "{}", {}))
        leak_again = await box.call(ToolCall(1, "c2", "mcp__mem__leak", "{}", {}))
        huge = await box.call(ToolCall(2, "c3", "mcp__mem__huge", "", {"n": 50_000}))
        unknown = await box.call(ToolCall(3, "c4", "mcp__mem__nope", "{}", {}))

    assert "mcp__mem__leak" in names
    assert LEAKED_KEY not in leak.text and "[REDACTED" in leak.text
    assert [name for name, _ in asked] == ["leak", "huge"]  # "always" remembered for leak
    assert approvals.is_always_allowed("mem", "leak")
    assert leak_again.text == leak.text
    assert len(huge.text) < 1200 and "cut by aiw" in huge.text
    assert unknown.is_error and "no tool named mcp__mem__nope" in unknown.text
    results = [e for e in events if e.phase == "result"]
    assert results[0].redacted == 1 and LEAKED_KEY not in results[0].text
    assert any(e.cut for e in results)


async def test_denied_and_never_tools() -> None:
    async def deny(info: Any, args: dict[str, Any]) -> str:
        return "deny"

    spec = ServerSpec("mem", "test", inproc=build(), tools={"env": "never"})
    async with McpHub([spec]) as hub:
        await hub.start()
        box = McpToolbox(hub, approver=deny)
        offered = {s["function"]["name"] for s in box.specs()}
        refused = await box.call(ToolCall(0, "c", "mcp__mem__echo", "{}", {"text": "x"}))
        no_approver = await McpToolbox(hub).call(ToolCall(0, "c", "mcp__mem__echo", "", {}))

    assert "mcp__mem__env" not in offered
    assert refused.is_error and "did not allow" in refused.text
    assert no_approver.is_error


def write_json(path: Path, servers: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")


def test_servers_from_settings_user_json_and_trusted_project(
    isolated_env: IsolatedEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ai_workbench.core.trust import set_trusted

    monkeypatch.setenv("DOCS_TOKEN", "tok-123")
    project = isolated_env.work / "proj"
    (project / ".git").mkdir(parents=True)
    (isolated_env.aiw_config).mkdir(parents=True, exist_ok=True)
    (isolated_env.aiw_config / "config.toml").write_text(
        '[mcp.servers.git]\ncommand = "uvx"\n'
        'args = ["mcp-server-git", "--repository", "${PWD_X:-.}"]\n',
        encoding="utf-8",
    )
    write_json(
        isolated_env.aiw_config / "mcp.json",
        {
            "docs": {
                "url": "http://127.0.0.1:9/mcp",
                "headers": {"Authorization": "Bearer ${DOCS_TOKEN}"},
            },
            "secret": {"command": "x", "env": {"KEY": "${NOT_SET_ANYWHERE}"}},
            "old": {"url": "http://127.0.0.1:9/sse"},
        },
    )
    write_json(project / ".mcp.json", {"proj": {"command": "npx", "args": ["proj-server"]}})

    untrusted = load_servers(load_config(cwd=project))
    set_trusted(project)
    trusted = load_servers(load_config(cwd=project))

    assert untrusted.names() == ["git", "docs", "secret", "old"]
    assert any(".mcp.json is ignored" in n and "aiw plugins trust" in n for n in untrusted.notices)
    git = untrusted.get("git")
    assert git.args == ["mcp-server-git", "--repository", "."]
    assert git.source.endswith("config.toml")
    assert untrusted.get("docs").headers == {"Authorization": "Bearer tok-123"}
    user_json = isolated_env.aiw_config / "mcp.json"
    assert untrusted.get("secret").problem == (
        f"${{NOT_SET_ANYWHERE}} not set in the environment (user {user_json})"
    )
    assert "SSE transport is not supported" in (untrusted.get("old").problem or "")
    assert trusted.names()[-1] == "proj"


def test_project_toml_servers_need_trust(isolated_env: IsolatedEnv) -> None:
    project = isolated_env.work / "proj"
    (project / ".git").mkdir(parents=True)
    (project / ".aiw.toml").write_text(
        '[mcp.servers.evil]\ncommand = "sh"\nargs = ["-c", "echo hi"]\n', encoding="utf-8"
    )

    listed = load_servers(load_config(cwd=project))

    assert listed.names() == []
    assert any("'evil'" in n and "not trusted" in n for n in listed.notices)
