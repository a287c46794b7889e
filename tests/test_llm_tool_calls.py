"""Tool calls in the OpenAI format through both engines (core/llm/tools.py, toolloop.py).

The loopback fake LLM scripts the calls: arguments split across chunks (OpenAI), or a parallel
batch on index 0 (Ollama); the second request carries the tool results and is answered as text.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from ai_workbench.core.llm.engines import StreamResult, stream_chat
from ai_workbench.core.llm.profiles import ResolvedProvider
from ai_workbench.core.llm.toolloop import ToolRound, stream_with_tools
from ai_workbench.core.llm.tools import ToolCall, ToolCallAccumulator, ToolOutcome
from tests.fake_llm import FakeLLM, tool_results

SPEC = {
    "type": "function",
    "function": {
        "name": "mcp__tiny__echo",
        "description": "Echo.",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
    },
}


def provider(fake: FakeLLM, model: str = "openai/echo") -> ResolvedProvider:
    return ResolvedProvider("fake", model, fake.base_url, None, True, 8192)


class EchoBox:
    """A toolbox that answers every call with its arguments."""

    def __init__(self) -> None:
        self.seen: list[ToolCall] = []

    def specs(self) -> list[dict[str, Any]]:
        return [SPEC]

    async def call(self, call: ToolCall) -> ToolOutcome:
        self.seen.append(call)
        return ToolOutcome(f"echo: {call.arguments}")


async def drain(stream: Any) -> str:
    return "".join([piece async for piece in stream])


def test_accumulator_joins_arguments_split_across_chunks() -> None:
    acc = ToolCallAccumulator()
    acc.feed([{"index": 0, "id": "call_a", "function": {"name": "f", "arguments": ""}}])
    acc.feed([{"index": 0, "function": {"arguments": '{"pa'}}])
    acc.feed([{"index": 0, "function": {"arguments": 'th": "a.py"}'}}])
    acc.feed([{"index": 1, "id": "call_b", "function": {"name": "g", "arguments": "{}"}}])

    calls = acc.finish()

    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_a", "f", {"path": "a.py"}),
        ("call_b", "g", {}),
    ]


def test_accumulator_separates_an_ollama_batch_on_index_zero() -> None:
    acc = ToolCallAccumulator()
    acc.feed([{"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"n": 1}'}}])
    acc.feed([{"index": 0, "id": "c2", "function": {"name": "f", "arguments": '{"n": 2}'}}])
    # no ids at all: a new name after complete arguments is a new call too
    acc.feed([{"index": 0, "function": {"name": "g", "arguments": {"n": 3}}}])

    calls = acc.finish()

    assert [(c.name, c.arguments) for c in calls] == [
        ("f", {"n": 1}),
        ("f", {"n": 2}),
        ("g", {"n": 3}),
    ]
    assert len({c.id for c in calls}) == 3


def test_malformed_arguments_become_an_error_not_an_exception() -> None:
    acc = ToolCallAccumulator()
    acc.feed([{"index": 0, "id": "c", "function": {"name": "f", "arguments": '{"a": 1,'}}])
    acc.feed([{"index": 1, "id": "d", "function": {"name": "f", "arguments": "[1, 2]"}}])

    bad, wrong_type = acc.finish()

    assert bad.arguments is None and "not valid JSON" in (bad.error or "")
    assert wrong_type.arguments is None and "JSON object" in (wrong_type.error or "")


async def test_direct_engine_collects_split_tool_calls(fake_llm: FakeLLM) -> None:
    fake_llm.tool_calls = [[{"name": "mcp__tiny__echo", "arguments": {"text": "a longer text"}}]]
    result = StreamResult()

    text = await drain(
        stream_chat(provider(fake_llm), [{"role": "user", "content": "hi"}], result, tools=[SPEC])
    )

    assert text == ""
    assert result.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("mcp__tiny__echo", {"text": "a longer text"})
    ]
    assert fake_llm.chat_requests[0]["json"]["tools"] == [SPEC]


async def test_tool_loop_sends_results_back_and_streams_the_answer(fake_llm: FakeLLM) -> None:
    fake_llm.tool_calls = [[{"name": "mcp__tiny__echo", "arguments": {"text": "x"}}]]
    fake_llm.reply_fn = lambda body: f"the tool said {tool_results(body)}"
    box = EchoBox()
    result = StreamResult()
    rounds: list[ToolRound] = []

    text = await drain(
        stream_with_tools(
            provider(fake_llm), [{"role": "user", "content": "hi"}], result, box, rounds=rounds
        )
    )

    assert text == "the tool said [\"echo: {'text': 'x'}\"]"
    assert result.text == text
    assert [c.arguments for c in box.seen] == [{"text": "x"}]
    second = fake_llm.chat_requests[1]["json"]["messages"]
    assistant = second[-2]
    assert assistant["role"] == "assistant"
    assert assistant["tool_calls"][0]["function"]["name"] == "mcp__tiny__echo"
    assert second[-1]["role"] == "tool"
    assert second[-1]["tool_call_id"] == assistant["tool_calls"][0]["id"]
    assert len(rounds) == 1


async def test_malformed_arguments_go_back_to_the_model_as_a_tool_error(
    fake_llm: FakeLLM,
) -> None:
    fake_llm.tool_calls = [[{"name": "mcp__tiny__echo", "arguments": '{"text": "x"'}]]
    fake_llm.reply_fn = lambda body: "sorry: " + " ".join(tool_results(body))
    box = EchoBox()

    text = await drain(
        stream_with_tools(
            provider(fake_llm), [{"role": "user", "content": "hi"}], StreamResult(), box
        )
    )

    assert box.seen == []  # never called with broken arguments
    assert text.startswith("sorry: error: the arguments are not valid JSON")


async def test_ollama_parallel_batch_runs_every_call(fake_llm: FakeLLM) -> None:
    fake_llm.tool_index_reuse = True
    fake_llm.tool_calls = [
        [
            {"name": "mcp__tiny__echo", "arguments": {"text": "one"}},
            {"name": "mcp__tiny__echo", "arguments": {"text": "two"}},
        ]
    ]
    fake_llm.reply = "done"
    box = EchoBox()

    await drain(
        stream_with_tools(
            provider(fake_llm), [{"role": "user", "content": "hi"}], StreamResult(), box
        )
    )

    assert [c.arguments for c in box.seen] == [{"text": "one"}, {"text": "two"}]
    assert len(tool_results(fake_llm.chat_requests[1]["json"])) == 2


async def test_tool_rounds_are_bounded(fake_llm: FakeLLM) -> None:
    fake_llm.tool_calls = [[{"name": "mcp__tiny__echo", "arguments": {}}]] * 10
    fake_llm.reply = "final"
    box = EchoBox()

    text = await drain(
        stream_with_tools(
            provider(fake_llm),
            [{"role": "user", "content": "hi"}],
            StreamResult(),
            box,
            max_rounds=3,
        )
    )

    assert len(box.seen) == 3
    last = fake_llm.chat_requests[-1]["json"]
    assert "tools" not in last  # withdrawn after the limit
    assert "tool limit of 3 rounds" in json.dumps(last["messages"])
    assert text == "final"


@pytest.fixture(scope="module")
def litellm_mod() -> ModuleType:
    from ai_workbench.core.llm.engines import import_litellm

    return import_litellm()


async def test_litellm_engine_collects_tool_calls(
    litellm_mod: ModuleType, fake_llm: FakeLLM
) -> None:
    fake_llm.tool_calls = [[{"name": "mcp__tiny__echo", "arguments": {"text": "via litellm"}}]]
    fake_llm.reply_fn = lambda body: f"got {tool_results(body)[0]}"
    box = EchoBox()
    result = StreamResult()

    text = await drain(
        stream_with_tools(
            provider(fake_llm),
            [{"role": "user", "content": "hi"}],
            result,
            box,
            engine="litellm",
        )
    )

    assert result.engine == "litellm"
    assert [c.arguments for c in box.seen] == [{"text": "via litellm"}]
    assert text == "got echo: {'text': 'via litellm'}"
