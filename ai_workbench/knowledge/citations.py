"""``path:start-end`` citations in grounded answers: found in text, mapped to indexed chunks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Citation", "citations"]

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
