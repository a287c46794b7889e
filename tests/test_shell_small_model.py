"""Shell analyses with a small model: the schema is asked for, broken JSON is repaired, fixes
copied from the prompt are dropped and duplicates merged (issue 14 §4)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from ai_workbench.shell.analysis import SCHEMA, parse_reply, rate_fixes
from ai_workbench.shell.spool import ShellEvent
from tests.conftest import IsolatedEnv
from tests.fake_llm import FakeLLM


def test_parse_reply_repairs_comments_and_quotes_inside_strings() -> None:
    text = (
        'Here is the analysis:\n{"explanation": "The package is "requets", a typo",\n'
        ' "suggestions": [{"description": "install the right one", '
        '"command": "pip install requests" // the real name\n, "risk_level": "safe"}]}'
    )
    explanation, raw = parse_reply(text)
    assert explanation == 'The package is "requets", a typo'
    assert raw == [
        {
            "description": "install the right one",
            "command": "pip install requests",
            "risk_level": "safe",
        }
    ]


def test_parse_reply_repairs_a_missing_closing_brace_in_a_fence() -> None:
    text = '```json\n{"explanation": "No such file.", "suggestions": [{"command": "ls", '
    text += '"description": "look", "risk_level": "safe"}]\n```'
    explanation, raw = parse_reply(text)
    assert explanation == "No such file."
    assert raw[0]["command"] == "ls"


def test_copied_commands_are_dropped_and_duplicates_merged() -> None:
    raw = [
        {"description": "run it again", "command": "pip install requets", "risk_level": "safe"},
        {"description": "from history", "command": "git  status", "risk_level": "safe"},
        {"description": "fix the name", "command": "pip install requests", "risk_level": "safe"},
        {"description": "same again", "command": "pip  install requests", "risk_level": "moderate"},
        {"description": "the prompt", "command": "$ pip install requets", "risk_level": "safe"},
    ]
    fixes = rate_fixes(raw, failed="pip install requets", history=["cd src", "git status"])
    assert [f.command for f in fixes] == ["pip install requests"]
    (fix,) = fixes
    assert fix.description == "fix the name"
    # one command, one rating: the stricter of the two the model gave
    assert fix.risk_level == "moderate" and fix.model_risk == "moderate"


def test_a_fix_that_only_resembles_the_failed_command_is_kept() -> None:
    raw = [{"description": "with sudo", "command": "sudo apt install jq", "risk_level": "moderate"}]
    assert [f.command for f in rate_fixes(raw, failed="apt install jq")] == ["sudo apt install jq"]


def _record(work: Path, history: list[str]) -> None:
    from ai_workbench.shell.capture import Capture
    from ai_workbench.shell.service import record
    from ai_workbench.store import Store

    event = ShellEvent(
        id="t-pip", shell="bash", status=1, cmd="pip install requets", cwd=str(work), t0=1, t1=2
    )

    async def go() -> None:
        store = await Store.open()
        try:
            out = "ERROR: No matching distribution found for requets"
            await record(store, event, Capture(out, "tmux"), history=history)
        finally:
            await store.close()

    asyncio.run(go())


def test_explain_asks_for_the_schema_and_drops_copied_history(
    isolated_env: IsolatedEnv, fake_llm: FakeLLM, run_aiw
) -> None:
    fake_llm.reply = json.dumps(
        {
            "explanation": "A typo in the package name.",
            "suggestions": [
                {"description": "earlier", "command": "ls -la", "risk_level": "safe"},
                {"description": "again", "command": "pip install requets", "risk_level": "safe"},
                {"description": "fix", "command": "pip install requests", "risk_level": "safe"},
            ],
        }
    )
    _record(isolated_env.work, ["ls -la", "cd project"])
    env = {"AIW_SHELL__MODEL": "openai/echo", "AIW_SHELL__API_BASE": fake_llm.url}
    done = run_aiw("explain", "--json", env=env)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [s["command"] for s in data["suggestions"]] == ["pip install requests"]
    sent = fake_llm.chat_requests[-1]["json"]["response_format"]
    assert sent == {
        "type": "json_schema",
        "json_schema": {"name": "shell_analysis", "schema": SCHEMA},
    }


def test_explain_on_a_server_without_schema_support_still_answers(
    isolated_env: IsolatedEnv, fake_llm: FakeLLM, run_aiw
) -> None:
    fake_llm.reply = '{"explanation": "A typo.", "suggestions": []}'
    _record(isolated_env.work, [])
    env = {"AIW_SHELL__MODEL": "openai/no-schema", "AIW_SHELL__API_BASE": fake_llm.url}
    done = run_aiw("explain", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["explanation"] == "A typo."
    formats = [r["json"].get("response_format") for r in fake_llm.chat_requests]
    assert formats[-1] is None and formats[0] is not None
