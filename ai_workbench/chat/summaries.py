"""Summaries of conversations: a long session's older turns (short-term memory) and a finished
session (medium-term memory), written by the session's own model.

A long session is not cut at the model's window: when its history no longer fits, the turns
before the most recent ones (those that take about half of the room left) are summarised, the
summary goes into the system prompt in their place, is stored (memory tier ``short``) and is
shown in the session as a note (a ``system`` message starting with :data:`NOTE_PREFIX`). Later
turns start from that summary; when the history overflows again the summary is extended.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from ai_workbench.core.context import CHARS_PER_TOKEN, OUTPUT_RESERVE_MAX, estimate_tokens
from ai_workbench.core.redact import redact_text

if TYPE_CHECKING:
    from ai_workbench.chat.store import Message
    from ai_workbench.core.llm.profiles import ResolvedProvider
    from ai_workbench.core.settings import Settings

__all__ = [
    "NOTE_PREFIX",
    "SUMMARY_HEADING",
    "clip_summary",
    "is_summary_note",
    "split_for_summary",
    "summarize",
    "summarize_session",
    "summary_note",
]

SUMMARY_HEADING: Final = "## Summary of the earlier part of this conversation"
NOTE_PREFIX: Final = "Summary of the earlier conversation"
SUMMARY_MAX_TOKENS: Final = 600
SESSION_SUMMARY_MAX_TOKENS: Final = 400

_SUMMARISE: Final = (
    "You summarise a conversation between a user and an AI assistant so that it can go on "
    "without the full text. Keep: the user's goal, decisions made, facts, names, file paths, "
    "commands, code identifiers and error messages that matter, and open questions. Write "
    "short plain sentences or bullet points, at most {words} words. Answer with the summary only."
)
_SESSION: Final = (
    "You write a short summary of a finished conversation between a user and an AI assistant, "
    "for finding it again later: what it was about, what was decided or produced, and what "
    "was left open. At most {words} words, plain sentences. Answer with the summary only."
)


def summary_budget(window: int) -> int:
    """The most tokens a rolling summary may take in a model with ``window`` tokens."""
    return max(64, min(SUMMARY_MAX_TOKENS, window // 8))


def clip_summary(text: str, window: int) -> str:
    """``text`` cut to :func:`summary_budget` (a model that ignores max_tokens)."""
    limit = summary_budget(window) * CHARS_PER_TOKEN
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def summary_note(summary: str, count: int, model: str) -> str:
    """The session note that shows the user what their older turns were replaced by."""
    return (
        f"{NOTE_PREFIX} ({count} message{'s' if count != 1 else ''} summarised to fit "
        f"{model}'s context window; the model sees this instead of them):\n\n{summary}"
    )


def is_summary_note(role: str, content: str) -> bool:
    return role == "system" and content.startswith(NOTE_PREFIX)


def split_for_summary(
    system: str, history: Sequence[Message], user: str, window: int
) -> tuple[list[Message], list[Message]]:
    """(older turns to summarise, recent turns kept): the kept ones take at most half of the
    room the system prompt and the new turn leave, never starting with an answer."""
    reserve = min(OUTPUT_RESERVE_MAX, window // 4)
    room = window - reserve - estimate_tokens(user) - estimate_tokens(system)
    room -= summary_budget(window)
    half = max(0, room // 2)
    used = 0
    cut = len(history)
    for index in range(len(history) - 1, -1, -1):
        cost = estimate_tokens(history[index].content)
        if used + cost > half:
            break
        used += cost
        cut = index
    while cut < len(history) and history[cut].role == "assistant":
        cut += 1
    return list(history[:cut]), list(history[cut:])


def _transcript(messages: Sequence[Any]) -> str:
    who = {"user": "User", "assistant": "Assistant"}
    return "\n\n".join(f"{who.get(m.role, m.role)}: {m.content.strip()}" for m in messages)


def _chunks(messages: Sequence[Any], max_tokens: int) -> list[list[Any]]:
    """Consecutive groups whose text fits ``max_tokens`` (a longer message is cut)."""
    groups: list[list[Any]] = [[]]
    used = 0
    for message in messages:
        cost = estimate_tokens(message.content)
        if groups[-1] and used + cost > max_tokens:
            groups.append([])
            used = 0
        groups[-1].append(message)
        used += cost
    return groups


async def summarize(
    provider: ResolvedProvider,
    settings: Settings,
    older: Sequence[Message],
    previous: str,
    window: int,
) -> str:
    """The summary of ``previous`` (an earlier summary) plus the ``older`` turns, asked of
    ``provider`` in as many requests as their size needs. Raises ProviderError."""
    from ai_workbench.core.llm.engines import StreamResult, complete

    budget = summary_budget(window)
    room = max(256, window // 2 - budget)
    summary = previous
    words = budget * 3 // 5
    for group in _chunks(older, room):
        text = _transcript(group)
        text = text[: room * CHARS_PER_TOKEN]
        before = f"The summary so far:\n\n{summary}\n\n" if summary else ""
        messages = [
            {"role": "system", "content": _SUMMARISE.format(words=words)},
            {
                "role": "user",
                "content": f"{before}The conversation to summarise:\n\n{text}\n\n"
                "Write the summary of everything above.",
            },
        ]
        result = StreamResult()
        await complete(provider, messages, result, settings, temperature=0.0, max_tokens=budget)
        if result.text.strip():
            summary = clip_summary(result.text.strip(), window)
    return redact_text(summary)


async def summarize_session(
    provider: ResolvedProvider, settings: Settings, messages: Sequence[Message], window: int
) -> str:
    """A short summary of a whole (finished) session. Raises ProviderError."""
    from ai_workbench.core.llm.engines import StreamResult, complete

    turns = [m for m in messages if m.role in ("user", "assistant") and m.content.strip()]
    room = max(512, window // 2 - SESSION_SUMMARY_MAX_TOKENS)
    text = _transcript(turns)
    if estimate_tokens(text) > room:  # the beginning and the end say most about a session
        half = room * CHARS_PER_TOKEN // 2
        text = text[:half] + "\n\n[…]\n\n" + text[-half:]
    request = [
        {"role": "system", "content": _SESSION.format(words=SESSION_SUMMARY_MAX_TOKENS * 3 // 5)},
        {"role": "user", "content": f"The conversation:\n\n{text}\n\nWrite the summary."},
    ]
    result = StreamResult()
    await complete(
        provider, request, result, settings, temperature=0.0, max_tokens=SESSION_SUMMARY_MAX_TOKENS
    )
    return redact_text(result.text.strip())
