"""Project knowledge in the workbench: grounding prompts, indexing, and opening citations.

The workbench only calls :class:`ai_workbench.core.knowledge.service.KnowledgeService` (never
Chroma or SQLite): ``ground`` before a prompt is sent while the knowledge toggle is on, ``index``
in a thread when the user asks for it. Grounded answers cite ``path:start-end``;
:func:`citations` finds those so a key can open one in the editor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# path:12 or path:12-30, the path with at least one "/" or a file extension; optional backticks.
_CITATION = re.compile(
    r"`?(?P<path>[\w.\-/]*[\w\-]\.[\w]+|[\w.\-]+/[\w.\-/]+):(?P<a>\d+)(?:-(?P<b>\d+))?`?"
)


@dataclass(frozen=True, slots=True)
class Citation:
    path: str
    start: int
    end: int

    @property
    def label(self) -> str:
        return f"{self.path}:{self.start}" + (f"-{self.end}" if self.end != self.start else "")


def citations(text: str, root: Path | None = None) -> list[Citation]:
    """Cited locations in ``text``, in order, without duplicates; only existing files when
    ``root`` is given (so a URL's port or a time of day is not taken for one)."""
    found: list[Citation] = []
    for match in _CITATION.finditer(text):
        path = match.group("path")
        path = path[2:] if path.startswith("./") else path
        start = int(match.group("a"))
        end = int(match.group("b") or start)
        if root is not None and not (root / path).is_file():
            continue
        item = Citation(path, start, max(start, end))
        if item not in found:
            found.append(item)
    return found


def service_for(loaded: Any) -> Any:
    from ai_workbench.core.knowledge.service import KnowledgeService

    return KnowledgeService.for_project(loaded.settings.knowledge, Path(loaded.project_root))


async def ground(loaded: Any, store: Any, question: str) -> tuple[str | None, str | None]:
    """(context section, None) when retrieval is confident, else (None, clarifying question).

    Raises ``AiwError`` (e.g. no index yet) with a message that says what to do.
    """
    service = service_for(loaded)
    try:
        grounding = await service.ground(question, store)
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
    data = report.to_json() if hasattr(report, "to_json") else dict(report)
    parts = []
    for key in ("added", "updated", "deleted", "skipped", "failed"):
        value = data.get(key)
        count = len(value) if isinstance(value, (list, dict)) else value
        if count:
            parts.append(f"{count} {key}")
    seconds = data.get("duration") or data.get("duration_s") or data.get("seconds")
    took = f" in {float(seconds):.1f}s" if isinstance(seconds, (int, float)) else ""
    return (", ".join(parts) or "nothing changed") + took
