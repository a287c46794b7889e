"""A chat session as a document: Markdown for people, JSON for tools.

The one rendering of ``aiw sessions show|export`` and of the workbench's export, so the same
session reads the same wherever it is exported. Plain functions over the store's records; no
terminal, no Textual.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ai_workbench.chat.summaries import is_summary_note
from ai_workbench.core.sanitize import strip_controls

if TYPE_CHECKING:
    from ai_workbench.chat.store import Message, Session
    from ai_workbench.core.feedback import Feedback

__all__ = ["local_time", "session_dict", "session_json", "session_markdown"]


def local_time(timestamp: float) -> str:
    """``YYYY-MM-DD HH:MM`` in local time, as session lists and exports show it."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def session_dict(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "title": strip_controls(session.title),
        "persona": session.persona,
        "model": session.model,
        "context": session.context,
        "created": session.created,
        "updated": session.updated,
        "message_count": session.message_count,
    }


def _rating_text(feedback: Feedback | None) -> str | None:
    if feedback is None:
        return None
    verdict = "liked" if feedback.rating > 0 else "disliked"
    return f"{verdict}: {feedback.comment}" if feedback.comment else verdict


def session_markdown(
    session: Session,
    messages: Sequence[Message],
    feedback: Mapping[str, Feedback] | None = None,
) -> str:
    lines = [f"# {strip_controls(session.title) or 'Untitled'}", ""]
    meta = [f"session `{session.id}`", f"created {local_time(session.created)}"]
    if session.persona:
        meta.append(f"persona {session.persona}")
    if session.model:
        meta.append(f"model {session.model}")
    lines += [" · ".join(meta), ""]
    for message in messages:
        if message.role == "system":
            if is_summary_note(message.role, message.content):  # short-term memory
                lines += ["## Summary (memory)", "", strip_controls(message.content).rstrip(), ""]
            continue
        who = "You" if message.role == "user" else "Assistant"
        tags = [message.model] if message.role == "assistant" and message.model else []
        if message.status != "complete":
            tags.append(f"**{message.status}**")
        heading = f"## {who}" + (f" ({', '.join(tags)})" if tags else "")
        content = strip_controls(message.content).rstrip()
        lines += [heading, "", content or "_(no text)_", ""]
        if message.error:
            lines += [f"> {strip_controls(message.error)}", ""]
        rating = _rating_text((feedback or {}).get(str(message.id)))
        if rating:
            lines += [f"_Feedback: {strip_controls(rating)}_", ""]
    return "\n".join(lines)


def session_json(
    session: Session,
    messages: Sequence[Message],
    feedback: Mapping[str, Feedback] | None = None,
) -> str:
    data = session_dict(session)
    data["messages"] = [
        {
            "id": m.id,
            "role": m.role,
            "content": strip_controls(m.content),
            "status": m.status,
            "model": m.model,
            "provider": m.provider,
            "tokens_in": m.tokens_in,
            "tokens_out": m.tokens_out,
            "latency_ms": m.latency_ms,
            "cost_usd": m.cost,
            "error": strip_controls(m.error) if m.error else m.error,
            "created": m.created,
            "feedback": _feedback_dict((feedback or {}).get(str(m.id))),
            "attachments": [
                {"path": a.path, "sha256": a.sha256, "size": a.size} for a in m.attachments
            ],
        }
        for m in messages
    ]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _feedback_dict(feedback: Feedback | None) -> dict[str, Any] | None:
    if feedback is None:
        return None
    return {"rating": feedback.rating, "comment": feedback.comment, "updated": feedback.updated}
