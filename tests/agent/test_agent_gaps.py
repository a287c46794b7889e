"""Gaps found auditing issue 15 against the code, each closed with a run a user would notice:
the real AgentToolbox and policy, the loopback model, real SQLite, real files.

* a mode set by an untrusted project's ``.aiw.toml`` can only tighten the user's (it could
  loosen it: ``full-auto`` from a cloned repository ran edits without asking);
* a parallel batch larger than the steps left runs only up to ``--max-steps``;
* ``--max-cost`` is a flag like the other limits.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from ai_workbench.agent.events import Notice, RunStarted, StepFinished
from ai_workbench.agent.exits import EXIT_LIMIT, EXIT_REFUSED
from ai_workbench.agent.loop import forget_tool_refusals
from ai_workbench.agent.service import AgentRequest, AgentService
from ai_workbench.cli.main import main
from ai_workbench.core.settings import load_config
from ai_workbench.core.trust import set_trusted
from ai_workbench.store import Store
from tests.fake_llm import FakeLLM, tool_results


@pytest.fixture(autouse=True)
def _fresh() -> None:
    forget_tool_refusals()


async def run_goal(env: Any, fake: FakeLLM, **request: Any) -> tuple[Any, list[Any]]:
    store = await Store.open(env.root / "agent.db")
    try:
        service = AgentService(load_config(cwd=env.work), store)
        run = await service.start(
            AgentRequest(
                goal="do it",
                model="openai/echo",
                api_base=fake.base_url,
                cwd=env.work,
                interactive=False,
                **request,
            )
        )
        events = [event async for event in run.events()]
        await run.wait()
        return run, events
    finally:
        await store.close()


async def test_an_untrusted_project_cannot_loosen_the_mode(
    isolated_env: Any, fake_llm: FakeLLM
) -> None:
    root = isolated_env.work
    (root / ".git").mkdir()
    (root / ".aiw.toml").write_text('[agent]\nmode = "full-auto"\n')
    write = [{"name": "write_file", "arguments": {"path": "made.txt", "content": "x\n"}}]
    fake_llm.tool_calls = [write]
    fake_llm.reply = "Done."
    run, events = await run_goal(isolated_env, fake_llm)

    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.mode == "ask"
    notes = " ".join(e.text for e in events if isinstance(e, Notice))
    assert "looser than yours: running in ask" in notes
    assert run.exit_code == EXIT_REFUSED and not (root / "made.txt").exists()

    set_trusted(root)  # aiw plugins trust: the project's mode counts
    fake_llm.reset()
    fake_llm.tool_calls = [write]
    fake_llm.reply = "Done."
    run, events = await run_goal(isolated_env, fake_llm)
    assert next(e for e in events if isinstance(e, RunStarted)).mode == "full-auto"
    assert run.exit_code == 0 and (root / "made.txt").read_text() == "x\n"


async def test_a_batch_larger_than_the_steps_left_runs_only_up_to_the_limit(
    isolated_env: Any, fake_llm: FakeLLM
) -> None:
    root = isolated_env.work
    for name in ("a.txt", "b.txt", "c.txt"):
        (root / name).write_text(f"{name}\n")
    fake_llm.tool_calls = [
        [{"name": "read_file", "arguments": {"path": name}} for name in ("a.txt", "b.txt", "c.txt")]
    ]
    fake_llm.reply = "Read two of them."
    run, events = await run_goal(isolated_env, fake_llm, max_steps=2)

    steps = [e.step for e in events if isinstance(e, StepFinished)]
    assert [s.target for s in steps] == ["a.txt", "b.txt"]
    assert run.exit_code == EXIT_LIMIT
    # Every call of the batch is answered (the API needs it); the third says it did not run.
    results = tool_results(fake_llm.chat_requests[1]["json"])
    assert len(results) == 3 and "not run: the step limit" in results[2]


def test_max_cost_is_a_flag(isolated_env: Any, fake_llm: FakeLLM, monkeypatch: Any) -> None:
    """A priced model (litellm's local price map) and a budget smaller than one answer."""
    monkeypatch.chdir(isolated_env.work)
    fake_llm.tool_calls = [[{"name": "list_dir", "arguments": {}}]] * 3
    fake_llm.reply = "Listed."
    base = ["--model", "openai/gpt-4o", "--api-base", fake_llm.base_url, "--json"]
    result = CliRunner().invoke(
        main, ["agent", "look around", *base, "--max-cost", "0.0000001"], catch_exceptions=False
    )
    assert result.exit_code == EXIT_LIMIT, result.output
    done = json.loads(result.output.strip().splitlines()[-1])
    assert "the cost budget of $1e-07 is used up" in json.dumps(done)
    assert CliRunner().invoke(main, ["agent", "x", *base, "--max-cost", "0"]).exit_code == 2
