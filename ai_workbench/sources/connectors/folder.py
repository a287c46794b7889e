"""A folder of documents: PDF (pypdf), DOCX (python-docx), text, Markdown and SRT/VTT
transcripts, recursively. Size and modification time say a file is unchanged, else its hash."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ai_workbench.sources.models import (
    Content,
    Failed,
    Fetched,
    Item,
    Known,
    Same,
    Source,
    SourceInputError,
)

SUFFIXES = frozenset({".pdf", ".docx", ".txt", ".text", ".md", ".markdown", ".rst", ".srt",
                      ".vtt"})  # fmt: skip
MAX_BYTES = 50 * 1024 * 1024


class Folder:
    def __init__(self, source: Source) -> None:
        self.root = Path(source.location)
        self.notes: list[str] = []

    async def close(self) -> None:
        return None

    async def items(self, known: dict[str, Known], state: dict[str, Any]) -> AsyncIterator[Item]:
        if not self.root.is_dir():
            raise SourceInputError(f"{self.root}: the folder is gone or not a directory")
        skipped = 0
        for path in sorted(_walk(self.root)):
            rel = path.relative_to(self.root).as_posix()
            if path.suffix.lower() not in SUFFIXES:
                skipped += 1
                continue
            url = path.resolve().as_uri()
            try:
                stat = path.stat()
                version = f"{stat.st_size}:{stat.st_mtime_ns}"
                old = known.get(rel)
                if old is not None and old.version == version:
                    yield Same(rel)
                    continue
                if stat.st_size > MAX_BYTES:
                    yield Failed(rel, url, f"larger than {MAX_BYTES // 2**20} MiB")
                    continue
                data = path.read_bytes()
            except OSError as exc:
                yield Failed(rel, url, f"cannot read: {exc.strerror or exc}")
                continue
            content = Content(data=data, suffix=path.suffix.lower())
            yield Fetched(rel, path.name, url, version, content)
        if skipped:
            self.notes.append(f"{skipped} file(s) of other types not indexed")


def _walk(root: Path) -> list[Path]:
    out: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        out.extend(Path(folder) / f for f in files if not f.startswith("."))
    return out
