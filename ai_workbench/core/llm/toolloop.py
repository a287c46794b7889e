"""The bounded tool loop: stream, run the calls the model asked for, stream again.

:func:`stream_with_tools` streams a round; when it ends with tool calls, each runs through a
:class:`~ai_workbench.core.llm.tools.Toolbox` (which asks the user, calls, redacts and cuts the
result), the assistant's calls and the tool answers are appended, and the next round streams, at
most ``max_rounds`` times. Malformed arguments go back to the model as a tool error. Chat uses it
for MCP tools; the agent will use it for its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ai_workbench.core.llm.engines import StreamResult, stream_chat
from ai_workbench.core.llm.profiles import ResolvedProvider
from ai_workbench.core.llm.tools import Toolbox, ToolCall, ToolOutcome

#: Rounds of tool calls one answer may take before the model is told to answer without tools.
DEFAULT_MAX_ROUNDS = 8


@dataclass
class ToolRound:
    """One round of calls (kept for the caller: what was asked and answered)."""

    calls: list[ToolCall] = field(default_factory=list)
    outcomes: list[ToolOutcome] = field(default_factory=list)


async def stream_with_tools(
    provider: ResolvedProvider,
    messages: Sequence[dict[str, Any]],
    result: StreamResult,
    toolbox: Toolbox | None,
    *,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    rounds: list[ToolRound] | None = None,
    on_round: Callable[[ToolRound], None] | None = None,
    **stream_options: Any,
) -> AsyncIterator[str]:
    """Yield the answer's text over as many rounds as the model's tool calls take.

    ``result`` gathers the whole answer (text of every round, summed token counts). After
    ``max_rounds`` rounds the tools are withdrawn and the model is told to answer with what it
    has. Text of a round that also asked for tools is yielded as it comes."""
    history = list(messages)
    specs = toolbox.specs() if toolbox is not None else []
    done_rounds = 0
    while True:
        offer = specs if specs and done_rounds < max_rounds else None
        if specs and offer is None:
            history.append(
                {
                    "role": "system",
                    "content": f"The tool limit of {max_rounds} rounds is reached: answer now "
                    "with what the tool results above give, without calling tools.",
                }
            )
        part = StreamResult()
        stream = stream_chat(provider, history, part, tools=offer, **stream_options)
        try:
            async for text in stream:
                result.text += text
                if result.first_token_ms is None:
                    result.first_token_ms = part.first_token_ms
                yield text
        finally:
            await stream.aclose()
            _merge(result, part)
        calls = part.tool_calls
        if not calls or toolbox is None or offer is None:
            return
        done_rounds += 1
        this = ToolRound(calls=calls)
        history.append(assistant_message(part.text, calls))
        for call in calls:
            outcome = malformed_outcome(call) if call.error is not None else None
            if outcome is None:
                outcome = await toolbox.call(call)
            this.outcomes.append(outcome)
            history.append(tool_message(call, outcome))
        if rounds is not None:
            rounds.append(this)
        if on_round is not None:
            on_round(this)


def assistant_message(text: str, calls: Sequence[ToolCall]) -> dict[str, Any]:
    """The assistant turn that asked for ``calls`` (sent back with the next round). Its
    content is a string even when the model said nothing: llama-cpp-python's server answers
    500 to ``"content": null`` (OpenAI and Ollama take either)."""
    return {
        "role": "assistant",
        "content": text or "",
        "tool_calls": [call.as_message_part() for call in calls],
    }


def tool_message(call: ToolCall, outcome: ToolOutcome) -> dict[str, Any]:
    """The ``tool`` message that answers ``call``."""
    return {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": outcome.text}


def malformed_outcome(call: ToolCall) -> ToolOutcome:
    """The tool error a call with unreadable arguments gets (``call.error`` is set)."""
    return ToolOutcome(
        f"error: {call.error}; call {call.name or 'the tool'} again with a JSON "
        "object that matches its schema",
        is_error=True,
        summary=call.error or "malformed arguments",
    )


def merge_usage(total: StreamResult, part: StreamResult) -> None:
    """Add one round's usage, retries and notices to the whole answer's."""
    _merge(total, part)


def _merge(total: StreamResult, part: StreamResult) -> None:
    for attr in ("tokens_in", "tokens_out"):
        value = getattr(part, attr)
        if value is not None:
            setattr(total, attr, (getattr(total, attr) or 0) + value)
    total.finish_reason = part.finish_reason or total.finish_reason
    total.engine = part.engine or total.engine
    total.retries += part.retries
    total.notices.extend(part.notices)
