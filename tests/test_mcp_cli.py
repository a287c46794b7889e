"""`aiw mcp ...` and `aiw ask --mcp` as a user runs them, and `aiw mcp serve` driven by the SDK's
own client over stdio and streamable HTTP. Real processes, the loopback model, real git."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from tests.conftest import REPO_ROOT, IsolatedEnv, RunAiw
from tests.fake_llm import FakeLLM, tool_results
from tests.mcp.tiny_server import LEAKED_KEY
from tests.test_mcp_client import free_port, wait_for_port
from tests.test_review_core import BUG, CHANGED_CALC, findings_reply, make_repo

PY = sys.executable
TINY = ["--", PY, "-m", "tests.mcp.tiny_server"]


def add_tiny(run_aiw: RunAiw, name: str = "tiny", *extra: str) -> None:
    added = run_aiw("mcp", "add", name, "-e", f"PYTHONPATH={REPO_ROOT}", *TINY, *extra)
    assert added.returncode == 0, added.stderr


def test_add_list_tools_call_test_remove(run_aiw: RunAiw, isolated_env: IsolatedEnv) -> None:
    add_tiny(run_aiw)
    add_tiny(run_aiw, "broken", "--crash")

    listing = run_aiw("mcp", "list", "--check")
    tools = run_aiw("mcp", "tools", "tiny")
    call = run_aiw("mcp", "call", "tiny", "add", "--args", '{"a": 2, "b": 40}')
    leak = run_aiw("mcp", "call", "tiny", "leak")
    error = run_aiw("mcp", "call", "tiny", "fail")
    bad_json = run_aiw("mcp", "call", "tiny", "add", "--args", "{a: 1}")
    test_broken = run_aiw("mcp", "test", "broken")
    test_good = run_aiw("mcp", "test", "tiny")
    removed = run_aiw("mcp", "remove", "broken")
    after = run_aiw("mcp", "list", "--json")

    assert "ready, 8 tools" in listing.stdout
    assert "broken" in listing.stdout and "cannot open database" in listing.stdout
    assert tools.returncode == 0 and "echo(text: string)" in tools.stdout
    assert "resource notes://readme" in tools.stdout and "prompt review" in tools.stdout
    assert call.stdout.strip() == "42"
    assert LEAKED_KEY not in leak.stdout and "[REDACTED" in leak.stdout
    assert "redacted 1 secret(s)" in leak.stderr
    assert error.returncode == 7 and "the disk is on fire" in error.stderr
    assert bad_json.returncode == 2 and "--args: not valid JSON" in bad_json.stderr
    assert test_broken.returncode == 9
    assert "MCP server 'broken' failed" in test_broken.stderr
    assert "cannot open database /nonexistent/db.sqlite" in test_broken.stderr
    assert test_good.returncode == 0 and "ok: started in" in test_good.stdout
    assert removed.returncode == 0
    assert [row["name"] for row in json.loads(after.stdout)] == ["tiny"]
    assert "config.toml" in json.loads(after.stdout)[0]["source"]


def test_add_refuses_bad_input(run_aiw: RunAiw) -> None:
    neither = run_aiw("mcp", "add", "x")
    both = run_aiw("mcp", "add", "x", "--url", "http://127.0.0.1:1/mcp", "--", "prog")
    bad_name = run_aiw("mcp", "add", "bad name", "--", "prog")
    unknown = run_aiw("mcp", "remove", "nothing")

    assert neither.returncode == 3 and "either --command" in neither.stderr
    assert both.returncode == 3
    assert bad_name.returncode == 3 and "not a usable server name" in bad_name.stderr
    assert unknown.returncode == 3 and "no MCP server named 'nothing'" in unknown.stderr


def ask_leak(run_aiw: RunAiw, fake: FakeLLM) -> subprocess.CompletedProcess[str]:
    fake.tool_calls = [[{"name": "mcp__tiny__leak", "arguments": {}}]]
    fake.reply_fn = lambda body: "The settings say: " + " ".join(tool_results(body))
    return run_aiw(
        "ask", "--model", "openai/echo", "--api-base", fake.base_url, "--mcp", "tiny",
        "what are the deploy settings?",
    )  # fmt: skip


def test_chat_turn_calls_an_mcp_tool_with_the_secret_redacted(
    run_aiw: RunAiw, fake_llm: FakeLLM
) -> None:
    add_tiny(run_aiw)

    refused = ask_leak(run_aiw, fake_llm)  # no terminal: asking is impossible, so refused
    refused_requests = list(fake_llm.chat_requests)
    allowed = run_aiw("mcp", "allow", "tiny", "leak")
    fake_llm.reset()
    answered = ask_leak(run_aiw, fake_llm)

    assert refused.returncode == 0, refused.stderr
    assert "refused: no terminal to confirm" in refused.stderr
    assert "aiw mcp allow tiny leak" in refused.stderr
    assert "did not allow" in tool_results(refused_requests[1]["json"])[0]
    assert allowed.returncode == 0
    assert answered.returncode == 0, answered.stderr
    first, second = fake_llm.chat_requests
    offered = [t["function"]["name"] for t in first["json"]["tools"]]
    assert "mcp__tiny__leak" in offered and "mcp__tiny__echo" in offered
    sent = json.dumps(second["json"])
    assert LEAKED_KEY not in sent  # the model never saw the key
    (result,) = tool_results(second["json"])
    assert "aws_access_key_id = [REDACTED:" in result and "region=eu-west-1" in result
    assert answered.stdout.startswith("The settings say: deploy settings:")
    assert "mcp: calling tiny/leak {}" in answered.stderr
    assert "1 secret(s) redacted" in answered.stderr


def test_ask_with_unknown_or_failing_server(run_aiw: RunAiw, fake_llm: FakeLLM) -> None:
    add_tiny(run_aiw, "broken", "--crash")
    args = ("ask", "--model", "openai/echo", "--api-base", fake_llm.base_url)

    unknown = run_aiw(*args, "--mcp", "nope", "hi")
    failing = run_aiw(*args, "--mcp", "broken", "hi")

    assert unknown.returncode == 3 and "no MCP server named nope" in unknown.stderr
    assert failing.returncode == 0 and failing.stdout == "You said: hi\n"
    assert "broken failed" in failing.stderr and "answering without its tools" in failing.stderr


# --- aiw mcp serve ----------------------------------------------------------------------------


def serve_env(isolated_env: IsolatedEnv) -> dict[str, str]:
    keep = ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME")
    env = {name: os.environ[name] for name in keep}
    env.update(PYTHONPATH=str(REPO_ROOT), LITELLM_LOCAL_MODEL_COST_MAP="True", NO_PROXY="*")
    return env


@asynccontextmanager
async def stdio_aiw(isolated_env: IsolatedEnv, cwd: Path) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=PY, args=["-m", "ai_workbench", "mcp", "serve"], env=serve_env(isolated_env),
        cwd=str(cwd),
    )  # fmt: skip
    async with Client(params) as client:
        yield client


def payload(result: Any) -> Any:
    assert not result.is_error, result.content[0].text
    return result.structured_content


def write_provider(isolated_env: IsolatedEnv, fake: FakeLLM) -> None:
    isolated_env.aiw_config.mkdir(parents=True, exist_ok=True)
    (isolated_env.aiw_config / "config.toml").write_text(
        'default_provider = "fake"\nfallback = []\n'
        f'[providers.fake]\nmodel = "openai/echo"\napi_base = "{fake.base_url}"\n',
        encoding="utf-8",
    )


async def test_serve_over_stdio(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    write_provider(isolated_env, fake_llm)
    repo = make_repo(isolated_env.work / "repo")
    (repo / "calc.py").write_text(CHANGED_CALC)
    (repo / "NOTES.md").write_text(
        "# Deployment\n\nThe payment service deploys with blue green switching.\n"
    )
    asked = run_aiw("ask", "remember the flamingo protocol", cwd=repo)
    assert asked.returncode == 0, asked.stderr

    async with stdio_aiw(isolated_env, repo) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        empty = await client.call_tool("knowledge_search", {"query": "deploy"})
        indexed = run_aiw("index", cwd=repo)
        assert indexed.returncode == 0, indexed.stderr
        found = payload(await client.call_tool("knowledge_search", {"query": "blue green deploy"}))
        chunk = payload(
            await client.call_tool("knowledge_get", {"chunk_id": found["results"][0]["chunk_id"]})
        )
        lines = payload(
            await client.call_tool("knowledge_get", {"path": "calc.py", "start": 1, "end": 2})
        )
        outside = await client.call_tool("knowledge_get", {"path": "../../etc/passwd"})
        bad_args = await client.call_tool("knowledge_search", {"k": 5})
        sessions = payload(await client.call_tool("sessions_search", {"query": "flamingo"}))
        inbox = payload(await client.call_tool("suggestions_list", {}))
        fake_llm.reply = findings_reply(BUG)
        review = payload(await client.call_tool("review_diff", {"target": "working"}))

    assert set(tools) == {
        "knowledge_search", "knowledge_get", "review_diff", "sessions_search", "suggestions_list",
    }  # fmt: skip
    for tool in tools.values():
        assert len(tool.description or "") > 60 and tool.input_schema["type"] == "object"
    assert tools["knowledge_search"].input_schema["required"] == ["query"]
    assert empty.is_error and "run `aiw index`" in empty.content[0].text
    assert "Traceback" not in empty.content[0].text
    card = found["results"][0]
    assert card["location"].startswith("NOTES.md:") and 0 < card["score"] <= 1
    assert "blue green" in card["snippet"] and "blue green" in chunk["text"]
    assert lines["location"] == "calc.py:1-2" and lines["total_lines"] >= 2
    assert outside.is_error and "outside the project" in outside.content[0].text
    assert bad_args.is_error and "query" in bad_args.content[0].text
    assert sessions["results"][0]["snippet"].count("[flamingo]") == 1
    assert inbox == {"suggestions": []}  # review_diff below queues nothing either
    assert review["status"] == "complete"
    assert [(f["path"], f["severity"]) for f in review["findings"]] == [("calc.py", "error")]


async def test_serve_over_http(isolated_env: IsolatedEnv) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [PY, "-m", "ai_workbench", "mcp", "serve", "--http", f"127.0.0.1:{port}"],
        cwd=isolated_env.work, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_port(port, proc)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            names = {t.name for t in (await client.list_tools()).tools}
            inbox = payload(await client.call_tool("suggestions_list", {"status": "all"}))
            wrong = await client.call_tool("suggestions_list", {"status": "nonsense"})
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)

    assert "knowledge_search" in names and inbox == {"suggestions": []}
    assert wrong.is_error and "status must be one of" in wrong.content[0].text
    assert out == ""  # logs go to stderr only
    assert f"serving http://127.0.0.1:{port}/mcp" in err


def test_serve_refuses_a_bad_address(run_aiw: RunAiw) -> None:
    bad = run_aiw("mcp", "serve", "--http", "localhost:notaport")

    assert bad.returncode == 2 and "expected HOST:PORT" in bad.stderr


def test_the_sdk_loads_only_when_mcp_is_used(isolated_env: IsolatedEnv) -> None:
    from tests.test_imports import imported_by

    cli = imported_by("import ai_workbench.cli.main", isolated_env.work)
    help_and_service = imported_by(
        "import ai_workbench.mcp.service\nfrom ai_workbench.cli.main import main\n"
        "try:\n    main(args=['mcp', '--help'], prog_name='aiw')\nexcept SystemExit:\n    pass",
        isolated_env.work,
    )

    for loaded in (cli, help_and_service):
        assert "mcp" not in loaded and "mcp_types" not in loaded and "litellm" not in loaded
