"""``/search`` and ``/review`` in Telegram: the project index's hits with their citations, and a
review of a unified diff pasted into the message, as the API's ``/v1/search`` and ``/v1/review``
give them, written for a chat.
"""

from __future__ import annotations

from typing import Any

SEARCH_HITS = 5
SEARCH_USAGE = "Usage: /search WORDS, e.g. /search where is VAT added"
REVIEW_USAGE = (
    "Usage: /review followed by a unified diff (the output of `git diff`) in the same message."
)


def search_reply(result: Any, limit: int = SEARCH_HITS) -> str:
    """The hits of a :class:`~ai_workbench.knowledge.service.SearchResult` as Markdown: where each
    one is (and its source's URL), a snippet; the clarifying question when the match is weak."""
    from ai_workbench.core.sanitize import strip_controls

    if not result.hits:
        lines = [f"Nothing in the index matches “{strip_controls(result.query)}”."]
        lines += [strip_controls(n) for n in result.notices]
        return "\n".join(lines)
    lines = []
    for number, hit in enumerate(result.hits[:limit], 1):
        title = strip_controls(hit.title)
        head = f"{number}. `{hit.location}`" + (f" ({title})" if title else "")
        lines.append(head + (f" {hit.url}" if hit.url else ""))
        snippet = strip_controls(hit.snippet(200)).replace("`", "'")
        lines.append(f"   {snippet}")
    if not result.confident and result.clarifying_question:
        lines += ["", strip_controls(result.clarifying_question)]
    return "\n".join(lines)


def review_reply(result: Any) -> str:
    """A review's findings as Markdown (as `aiw review --format md`), problems included."""
    from ai_workbench.review.formats import render_md

    return render_md(result).strip()


def unfence(text: str) -> str:
    """A diff pasted inside a Markdown code fence (```diff … ```), without the fence."""
    lines = text.strip().split("\n")
    if len(lines) >= 2 and lines[0].startswith("```") and lines[-1].strip() == "```":
        return "\n".join(lines[1:-1]) + "\n"
    return text.strip("\n") + "\n" if text.strip() else ""
