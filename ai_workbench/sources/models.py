"""What connectors yield and what a sync run reports (plain data, no I/O)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ai_workbench.core.errors import EXIT_AUTH, EXIT_CONNECTION, EXIT_INPUT, AiwError

KINDS = ("confluence", "gitlab", "github", "web", "dir")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,47}$")


class SourceError(AiwError):
    """The source as a whole cannot be read (bad token, unreachable, not found): the run
    fails, and nothing is deleted from the index on the strength of a listing that failed."""

    def __init__(self, message: str, code: int = EXIT_CONNECTION) -> None:
        super().__init__(message, code)


class SourceAuthError(SourceError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_AUTH)


class SourceInputError(SourceError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_INPUT)


@dataclass
class Source:
    id: int
    name: str
    kind: str
    location: str
    options: dict[str, Any]
    root: str
    state: dict[str, Any]
    created: float
    last_sync: float | None
    owner: str = "local"

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"state": None}


@dataclass
class Known:
    """A document as the last sync left it."""

    external_id: str
    rel: str
    url: str
    version: str | None
    content_hash: str
    priority: float = 0.0


@dataclass
class Content:
    """A document's content: Markdown/plain ``text``, or ``data`` bytes of a file whose
    ``suffix`` says how to read it (.pdf, .docx, .srt, .vtt, .md, .txt)."""

    text: str | None = None
    data: bytes | None = None
    suffix: str = ".md"


@dataclass
class Fetched:
    external_id: str
    title: str
    url: str
    version: str | None
    content: Content


@dataclass
class Same:
    """The connector knows the document did not change (version equal, HTTP 304)."""

    external_id: str


@dataclass
class Failed:
    external_id: str
    url: str
    reason: str


@dataclass
class Skipped:
    """Left out on purpose (not a text page, asked not to be indexed): said in the report."""

    external_id: str
    url: str
    reason: str


Item = Fetched | Same | Failed | Skipped


@dataclass
class RunReport:
    source: str
    kind: str
    started: float
    run: int | None = None
    status: str = "ok"  # ok | partial (some documents failed) | failed (the source did)
    error: str | None = None
    seen: int = 0
    added: list[dict[str, str]] = field(default_factory=list)
    updated: list[dict[str, str]] = field(default_factory=list)
    deleted: list[dict[str, str]] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_embedded: int = 0
    embedding_calls: int = 0
    embedding_model: str | None = None
    embedding_s: float = 0.0
    embedding_error: str | None = None
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        head = (
            f"{self.source}: {len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.deleted)} deleted, {self.unchanged} unchanged, "
            f"{len(self.skipped)} skipped, {len(self.failed)} failed in {self.duration_s:.1f} s"
        )
        if self.embedding_model and self.chunks_embedded:
            head += f" (embedded {self.chunks_embedded} chunks in {self.embedding_s:.1f} s)"
        return head
