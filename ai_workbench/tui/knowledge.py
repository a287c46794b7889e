"""Project knowledge in the workbench: grounding prompts, indexing, and opening citations.

The workbench only calls :class:`ai_workbench.knowledge.service.KnowledgeService` (never
Chroma or SQLite): ``ground`` before a prompt is sent while the knowledge toggle is on, ``index``
in a thread when the user asks for it. Grounded answers cite ``path:start-end``;
:func:`citations` finds those so a key can open one in the editor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ai_workbench.knowledge.citations import Citation, citations

__all__ = ["Citation", "citations", "ground", "index_project", "rate_cited", "report_line"]


def service_for(loaded: Any) -> Any:
    from ai_workbench.knowledge.service import KnowledgeService

    return KnowledgeService.for_project(loaded.settings.knowledge, Path(loaded.project_root))


async def ground(loaded: Any, store: Any, question: str) -> tuple[str | None, str | None]:
    """(context section, None) when retrieval is confident, else (None, clarifying question).

    Raises ``AiwError`` (e.g. no index yet) with a message that says what to do.
    """
    from ai_workbench.knowledge.service import excerpt_budget

    service = service_for(loaded)
    try:
        budget = excerpt_budget(loaded.settings)
        grounding = await service.ground(question, store, budget_tokens=budget)
    finally:
        service.close()
    return grounding.section, grounding.question


def index_project(loaded: Any) -> Any:
    """Index the project (blocking: call from a thread worker); the run's report."""
    service = service_for(loaded)
    try:
        return service.index()
    finally:
        service.close()


def report_line(report: Any) -> str:
    """The changes of an index run (an ``IndexReport`` or its saved JSON), for a notification."""
    data = report.to_json() if hasattr(report, "to_json") else report
    parts = [
        f"{len(data[key])} {key}"
        for key in ("added", "updated", "deleted", "skipped", "failed")
        if data.get(key)
    ]
    return (", ".join(parts) or "nothing changed") + f" in {float(data['duration_s']):.1f}s"


async def rate_cited(
    loaded: Any, store: Any, answer: str, rating: int, query: str | None, comment: str | None
) -> int:
    """Rate the indexed chunks an answer cites (a like on a grounded answer is a like on its
    sources, for similar queries); how many. Nothing when the project has no index."""
    service = service_for(loaded)
    try:
        return len(await service.rate_cited(store, answer, rating, query=query, comment=comment))
    finally:
        service.close()
