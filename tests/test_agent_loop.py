"""The agent's run loop through AgentService: loopback model server, real SQLite, real files.

The fake model scripts tool calls (arguments split across chunks, Ollama's index-0 batches, bad
JSON), text-protocol answers and a server that refuses ``tools``; the toolbox is the small real
one of tests/agent_tools.py (real files, real ``bash -c`` in the project).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from ai_workbench.agent.events import (
    ApprovalNeeded,
    QuestionAsked,
    RunFinished,
    StepFinished,
    StepStarted,
    TextDelta,
)
from ai_workbench.agent.loop import forget_tool_refusals
from ai_workbench.agent.service import (
    EXIT_LIMIT,
    EXIT_QUESTION,
    EXIT_REFUSED,
    AgentRequest,
    AgentService,
)
from ai_workbench.core.errors import EXIT_INTERRUPTED
from ai_workbench.core.settings import load_config
from ai_workbench.store import Store
from tests.agent_tools import factory
from tests.fake_llm import FakeLLM, tool_results


@pytest.fixture(autouse=True)
def _fresh_memory() -> None:
    forget_tool_refusals()


@pytest.fixture
def project(isolated_env: Any) -> Path:
    root = isolated_env.work
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    return root


class Harness:
    def __init__(self, isolated_env: Any, fake: FakeLLM, project: Path) -> None:
        self.env = isolated_env
        self.fake = fake
        self.project = project
        self.store: Any = None

    async def __aenter__(self) -> Harness:
        self.store = await Store.open(self.env.root / "agent.db")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.store.close()

    def service(self, **tool_options: Any) -> AgentService:
        loaded = load_config(cwd=self.project)
        return AgentService(loaded, self.store, toolbox_factory=factory(**tool_options))

    async def run(
        self,
        goal: str = "fix add",
        *,
        model: str = "echo",
        answer: Any = None,
        tools: dict[str, Any] | None = None,
        **request: Any,
    ) -> tuple[Any, list[Any]]:
        service = self.service(**(tools or {}))
        request.setdefault("interactive", answer is not None)
        run = await service.start(
            AgentRequest(
                goal=goal,
                model=f"openai/{model}",
                api_base=self.fake.base_url,
                cwd=self.project,
                **request,
            )
        )
        events = []
        async for event in run.events():
            events.append(event)
            if isinstance(event, (ApprovalNeeded, QuestionAsked)) and event.reply is not None:
                event.reply.set_result(answer(event))
        await run.wait()
        return run, events


FIXED = "def add(a, b):\n    return a + b\n"


async def test_a_run_reads_edits_tests_and_ends_with_a_summary(isolated_env, fake_llm, project):
    fake_llm.tool_calls = [
        [{"name": "read_file", "arguments": {"path": "calc.py"}}],
        [{"name": "write_file", "arguments": {"path": "calc.py", "content": FIXED}}],
        [{"name": "run_command", "arguments": {"command": "python -m pytest -q"}}],
    ]
    fake_llm.reply = "Fixed add: it subtracted. The tests pass."
    async with Harness(isolated_env, fake_llm, project) as h:
        run, events = await h.run(mode="full-auto")
        summary = run.summary
        assert summary.status == "done" and run.exit_code == 0
        assert (project / "calc.py").read_text() == FIXED
        assert [f.path for f in summary.files] == ["calc.py"]
        assert summary.files[0].added == 1 and summary.files[0].removed == 1
        assert summary.commands == [("python -m pytest -q", 0)]
        assert summary.tests and summary.tests[0].passed and "1 passed" in summary.tests[0].counts
        assert "Fixed add" in "".join(e.text for e in events if isinstance(e, TextDelta))
        assert [type(e).__name__ for e in events].count("StepFinished") == 3
        assert isinstance(events[-1], RunFinished)
        # the split arguments arrived whole: the first result is the file's text
        assert "return a - b" in tool_results(fake_llm.chat_requests[1]["json"])[0]

        record = await h.service().show(run.id)
        assert record.status == "done" and record.steps == 3
        assert [s.tool for s in record.step_rows] == ["read_file", "write_file", "run_command"]
        assert record.step_rows[1].diff and "+    return a + b" in record.step_rows[1].diff
        assert record.step_rows[2].exit_code == 0
        assert record.step_rows[0].args == {"path": "calc.py"}
        assert record.session_id == run.session_id
        messages = await h.store.get_messages(run.session_id)
        assert [m.role for m in messages] == ["user", "assistant"]
        assert messages[0].content == "fix add"
        assert "write_file calc.py" in messages[1].content and "files changed: 1" in (
            messages[1].content
        )


async def test_an_ollama_batch_on_index_zero_runs_every_call(isolated_env, fake_llm, project):
    fake_llm.tool_index_reuse = True
    fake_llm.tool_calls = [
        [
            {"name": "read_file", "arguments": {"path": "calc.py"}},
            {"name": "read_file", "arguments": {"path": "test_calc.py"}},
        ]
    ]
    fake_llm.reply = "Read both."
    async with Harness(isolated_env, fake_llm, project) as h:
        run, events = await h.run()
    steps = [e.step for e in events if isinstance(e, StepFinished)]
    assert [s.target for s in steps] == ["calc.py", "test_calc.py"]
    results = tool_results(fake_llm.chat_requests[-1]["json"])
    assert "return a - b" in results[0] and "def test_add" in results[1]
    assert run.summary.status == "done"


async def test_bad_json_arguments_go_back_as_a_tool_error(isolated_env, fake_llm, project):
    fake_llm.tool_calls = [
        [{"name": "read_file", "arguments": '{"path": "calc.py"'}],
        [{"name": "read_file", "arguments": {"path": "calc.py"}}],
    ]
    fake_llm.reply = "done"
    async with Harness(isolated_env, fake_llm, project) as h:
        run, _ = await h.run()
        record = await h.service().show(run.id)
    first = tool_results(fake_llm.chat_requests[1]["json"])[0]
    assert first.startswith("error: the arguments are not valid JSON")
    assert [s.decision for s in record.step_rows] == ["error", "auto"]
    assert run.summary.status == "done"


async def test_a_server_without_tools_falls_back_to_the_text_protocol(
    isolated_env, fake_llm, project
):
    fake_llm.replies = [
        'I will read it.\n```json\n{"tool": "read_file", "args": {"path": "calc.py"}}\n```',
        "```json\n"
        + json.dumps({"tool": "write_file", "args": {"path": "calc.py", "content": FIXED}})
        + "\n```",
        "All fixed.",
    ]
    async with Harness(isolated_env, fake_llm, project) as h:
        run, events = await h.run(model="no-tools")
    chats = fake_llm.chat_requests
    assert "tools" in chats[0]["json"] and all("tools" not in c["json"] for c in chats[1:])
    system = chats[1]["json"]["messages"][0]["content"]
    assert "```json" in system and "- read_file(path: string)" in system
    assert "Result of read_file" in chats[2]["json"]["messages"][-1]["content"]
    assert (project / "calc.py").read_text() == FIXED
    assert run.summary.status == "done" and run.summary.protocol == "text"
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "I will read it." in shown and '"tool"' not in shown  # the action is not printed
    assert any("refused tool calls" in getattr(e, "text", "") for e in events)


async def test_the_step_limit_ends_the_run_with_what_is_left(isolated_env, fake_llm, project):
    fake_llm.tool_calls = [
        [{"name": "read_file", "arguments": {"path": "calc.py"}}],
        [{"name": "read_file", "arguments": {"path": "test_calc.py"}}],
        [{"name": "read_file", "arguments": {"path": "nothing.py"}}],
    ]
    fake_llm.reply = "I read calc.py and its test; left: fix the minus sign in add."
    async with Harness(isolated_env, fake_llm, project) as h:
        run, _ = await h.run(max_steps=2)
        record = await h.service().show(run.id)
    assert run.summary.status == "limit" and run.exit_code == EXIT_LIMIT
    assert "step limit of 2" in run.summary.reason
    assert "fix the minus sign" in run.summary.left
    last = fake_llm.chat_requests[-1]["json"]
    assert "tools" not in last and "what is left" in last["messages"][-1]["content"]
    assert record.status == "limit" and record.steps == 2
    assert "stopped at a limit" in run.summary.text()


async def test_the_token_budget_ends_the_run(isolated_env, fake_llm, project):
    fake_llm.tool_calls = [[{"name": "read_file", "arguments": {"path": "calc.py"}}]] * 5
    async with Harness(isolated_env, fake_llm, project) as h:
        run, _ = await h.run(token_budget=5)
    assert run.summary.status == "limit" and "token budget of 5" in run.summary.reason
    assert run.summary.steps == 1 and len(fake_llm.chat_requests) == 1


async def test_the_wall_clock_limit_cuts_a_silent_model(isolated_env, fake_llm, project):
    async with Harness(isolated_env, fake_llm, project) as h:
        run, _ = await asyncio.wait_for(h.run(model="hang", wall_clock_s=0.6), 20)
    assert run.summary.status == "limit" and "wall-clock limit" in run.summary.reason


async def test_ask_user_headless_ends_the_run_with_the_question(isolated_env, fake_llm, project):
    fake_llm.tool_calls = [[{"name": "ask_user", "arguments": {"question": "Which add?"}}]]
    async with Harness(isolated_env, fake_llm, project) as h:
        run, events = await h.run()
        record = await h.service().show(run.id)
    assert run.summary.status == "question" and run.exit_code == EXIT_QUESTION
    assert run.summary.question == "Which add?"
    assert any(isinstance(e, QuestionAsked) and e.reply is None for e in events)
    assert len(fake_llm.chat_requests) == 1  # nothing more was asked of the model
    assert record.status == "question" and record.step_rows[0].tool == "ask_user"


async def test_ask_user_answered_goes_back_to_the_model(isolated_env, fake_llm, project):
    fake_llm.tool_calls = [[{"name": "ask_user", "arguments": {"question": "Which add?"}}]]
    fake_llm.reply = "ok"
    async with Harness(isolated_env, fake_llm, project) as h:
        run, _ = await h.run(answer=lambda event: "the one in calc.py")
    assert tool_results(fake_llm.chat_requests[1]["json"]) == [
        "The user answered: the one in calc.py"
    ]
    assert run.summary.status == "done"


async def test_refused_commands_are_reported_and_give_their_exit_code(
    isolated_env, fake_llm, project
):
    fake_llm.tool_calls = [[{"name": "run_command", "arguments": {"command": "git push"}}]]
    fake_llm.reply = "I could not push."
    async with Harness(isolated_env, fake_llm, project) as h:
        run, _ = await h.run(tools={"refuse": ["git push"]})
        record = await h.service().show(run.id)
    assert run.summary.status == "refused" and run.exit_code == EXIT_REFUSED
    assert run.summary.refused == ["run_command git push"]
    assert run.summary.commands == []  # it did not run
    assert record.step_rows[0].decision == "refused"
    assert "not allowed" in tool_results(fake_llm.chat_requests[1]["json"])[0]


async def test_repeated_refusals_stop_the_run(isolated_env, fake_llm, project):
    fake_llm.tool_calls = [
        [{"name": "run_command", "arguments": {"command": f"git push {n}"}}] for n in range(5)
    ]
    refuse = [f"git push {n}" for n in range(5)]
    async with Harness(isolated_env, fake_llm, project) as h:
        run, _ = await h.run(tools={"refuse": refuse})
    assert run.summary.status == "refused" and run.summary.steps == 3
    assert "3 actions in a row" in run.summary.reason


async def test_an_approval_carries_the_whole_command(isolated_env, fake_llm, project):
    command = "echo approved && echo twice"
    fake_llm.tool_calls = [[{"name": "run_command", "arguments": {"command": command}}]]
    fake_llm.reply = "ok"
    seen: list[Any] = []

    def answer(event: Any) -> str:
        seen.append(event)
        return "once"

    async with Harness(isolated_env, fake_llm, project) as h:
        run, _ = await h.run(answer=answer, tools={"ask": [command]})
        record = await h.service().show(run.id)
    assert isinstance(seen[0], ApprovalNeeded) and seen[0].request.detail == command
    assert record.step_rows[0].decision == "user-approved"
    assert "approved\ntwice" in tool_results(fake_llm.chat_requests[1]["json"])[0]


async def test_stopping_a_run_keeps_its_log(isolated_env, fake_llm, project):
    fake_llm.tool_calls = [[{"name": "read_file", "arguments": {"path": "calc.py"}}]]
    fake_llm.chunk_delay = 0.05  # the second answer streams slowly
    async with Harness(isolated_env, fake_llm, project) as h:
        service = h.service()
        run = await service.start(
            AgentRequest(
                goal="fix add", model="openai/slow", api_base=fake_llm.base_url, cwd=project
            )
        )
        async for event in run.events():
            if isinstance(event, TextDelta):
                summary = await run.stop()
                break
        record = await service.show(run.id)
    assert summary.status == "cancelled" and run.exit_code == EXIT_INTERRUPTED
    assert record.status == "cancelled" and record.steps == 1 and record.ended is not None
    assert record.step_rows[0].tool == "read_file"


async def test_text_before_a_tool_call_streams_and_steps_start_in_order(
    isolated_env, fake_llm, project
):
    fake_llm.tool_text = "Let me look at calc.py first."
    fake_llm.tool_calls = [[{"name": "read_file", "arguments": {"path": "calc.py"}}]]
    fake_llm.reply = "done"
    async with Harness(isolated_env, fake_llm, project) as h:
        _, events = await h.run()
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("TextDelta") < kinds.index("StepStarted") < kinds.index("StepFinished")
    started = next(e for e in events if isinstance(e, StepStarted))
    assert (started.n, started.tool, started.target) == (1, "read_file", "calc.py")


async def test_runs_are_listed_shown_and_rated(isolated_env, fake_llm, project):
    fake_llm.reply = "Nothing to do."
    async with Harness(isolated_env, fake_llm, project) as h:
        first, _ = await h.run(goal="first goal")
        second, _ = await h.run(goal="second goal with key sk-proj-ABCDEF1234567890abcdef12")
        service = h.service()
        runs = await service.list_runs()
        assert [r.id for r in runs] == [second.id, first.id]
        assert "sk-proj-ABCDEF" not in runs[0].goal
        rated = await service.rate(first.id, -1, "it did nothing")
        assert (rated.rating, rated.comment) == (-1, "it did nothing")
        latest = await service.show()
        assert latest.id == second.id and latest.rating is None
        from ai_workbench.agent.store import RunNotFound

        with pytest.raises(RunNotFound, match="no agent run 99"):
            await service.show(99)
