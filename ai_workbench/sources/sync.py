"""One sync run of one source: list it, decide per document (unchanged by the source's own
version, ETag or update time, else by content hash), chunk what changed, write the run into
the project's index through :meth:`KnowledgeService.write_documents` (one transaction, under
the index's write lock), and say what happened in a :class:`RunReport`."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import re
import time
from collections.abc import Callable
from typing import Any

from ai_workbench.sources.models import (
    Failed,
    Fetched,
    Known,
    RunReport,
    Same,
    Skipped,
    Source,
    SourceError,
)

Progress = Callable[[int, int | None, str], None]
# A document's priority is the sum of the ratings of its chunks over this, within -1..1.
RATINGS_FOR_FULL_PRIORITY = 3


def document_rel(source: str, external_id: str) -> str:
    """The document's name in the index and in citations: ``<source>/<id>`` with only the
    characters a ``path:start-end`` citation holds (a short hash keeps rewritten ids apart)."""
    ident = re.sub(r"^https?://", "", external_id).rstrip("/")  # a web page: host/path
    safe = re.sub(r"[^\w.\-/]+", "-", ident).strip("-/") or "doc"
    safe = re.sub(r"/{2,}", "/", safe)
    if safe != ident:
        safe += "-" + hashlib.sha1(external_id.encode()).hexdigest()[:6]
    return f"{source}/{safe}"


def content_hash(item: Fetched) -> str:
    data = item.content.data if item.content.data is not None else (item.content.text or "")
    raw = data if isinstance(data, bytes) else data.encode()
    return hashlib.sha256(raw).hexdigest()


def to_document(item: Fetched, rel: str, priority: float) -> Any:
    """The :class:`SourceDocument` of a fetched item (knowledge's chunkers; transcripts by
    time). Raises ``ChunkError`` (or anything else) for a document that cannot be read."""
    from ai_workbench.knowledge.service import Chunk, SourceDocument, chunk_file

    content = item.content
    suffix = content.suffix.lower()
    if suffix in (".srt", ".vtt"):
        from ai_workbench.sources.transcripts import parse_cues, passages, stamp

        raw = content.data.decode("utf-8-sig", "replace") if content.data else content.text or ""
        cues = parse_cues(raw)
        chunks = []
        for passage in passages(cues):
            title = f"{item.title} [{stamp(passage.start)}-{stamp(passage.end)}]"
            chunk = Chunk(rel, passage.first_line, passage.last_line, "transcript", title,
                          passage.text)  # fmt: skip
            chunks.append((chunk, f"{item.url}#t={stamp(passage.start)}"))
        return SourceDocument(rel, item.title, item.url, chunks, priority)
    data = content.data if content.data is not None else (content.text or "").encode()
    name = rel if rel.lower().endswith(suffix) else rel + suffix
    pieces = chunk_file(name, data)
    chunks = [(dataclasses.replace(c, rel=rel), "") for c in pieces if c.text.strip()]
    return SourceDocument(rel, item.title, item.url, chunks, priority)


async def sync_source(
    source: Source,
    known: dict[str, Known],
    ratings: Callable[[list[Known]], dict[str, float]],
    knowledge: Any,
    *,
    progress: Progress | None = None,
    limit: int | None = None,
    embed: bool = True,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
) -> tuple[RunReport, list[tuple[Fetched, str, str, int]], list[str], dict[str, float]]:
    """Run one sync. Returns (report, written (item, rel, hash, chunks), deleted external
    ids, priorities by external id); the caller records them in the store.

    ``ratings(known docs)`` gives each document's priority (-1..1) from its chunks' ratings:
    documents rated up are written first (and make the cut of ``limit``), and the index ranks
    them up a little."""
    from ai_workbench.sources.connectors import connector_for

    report = RunReport(source=source.name, kind=source.kind, started=time.time())
    clock = time.perf_counter()
    priorities = ratings(list(known.values()))
    seen: set[str] = set()
    changed: list[tuple[Fetched, str, str]] = []  # item, rel, hash
    connector = None
    listing_ok = True
    try:
        connector = connector_for(source)
        done = 0
        async for item in connector.items(known, source.state):
            done += 1
            if progress is not None:
                progress(done, None, item.external_id)
            if not isinstance(item, Skipped):  # a skipped document is not kept either
                seen.add(item.external_id)
            if isinstance(item, Same):
                report.unchanged += 1
            elif isinstance(item, Skipped):
                report.skipped.append({"id": item.external_id, "url": item.url,
                                       "reason": item.reason})  # fmt: skip
            elif isinstance(item, Failed):
                report.failed.append({"source": source.name, "id": item.external_id,
                                      "url": item.url, "reason": item.reason})  # fmt: skip
            else:
                digest = content_hash(item)
                old = known.get(item.external_id)
                if old is not None and old.content_hash == digest:
                    report.unchanged += 1  # a new version with the same content
                    changed.append((item, old.rel, digest))  # just record the version
                    continue
                changed.append((item, document_rel(source.name, item.external_id), digest))
    except SourceError as exc:
        listing_ok = False
        report.status = "failed"
        report.error = str(exc)
    except Exception as exc:  # a connector bug must not lose the run's report
        listing_ok = False
        report.status = "failed"
        report.error = f"{type(exc).__name__}: {exc}"
    finally:
        if connector is not None:
            for note in getattr(connector, "notes", []):
                report.notes.append(note)
            http = getattr(connector, "http", None)
            if http is not None:
                report.notes.extend(http.notes)
            await connector.close()
    report.seen = len(seen)

    # Documents to (re)index, highest priority first; the rest of a limited run waits.
    # Chunking is CPU work (PDF pages, many pages): in a thread, so a workbench stays live.
    put, written = await asyncio.to_thread(
        _prepare, source.name, changed, known, priorities, limit, report
    )

    deleted: list[str] = []
    if listing_ok:
        deleted = [ext for ext in known if ext not in seen]
    elif known:
        report.notes.append("the listing failed, so nothing was deleted from the index")
    for ext in deleted:
        report.deleted.append({"id": ext, "url": known[ext].url})
    changed_priority = {
        known[ext].rel: level
        for ext, level in priorities.items()
        if ext in known and ext not in deleted and abs(level - known[ext].priority) > 1e-9
    }
    if put or deleted or changed_priority:
        result = await asyncio.to_thread(
            knowledge.write_documents,
            source.name,
            put,
            [known[ext].rel for ext in deleted],
            changed_priority,
            embed=embed,
            wait=wait,
            on_wait=on_wait,
        )
        report.chunks_added = result.chunks_added
        report.chunks_removed = result.chunks_removed
        report.chunks_embedded = result.chunks_embedded
        report.embedding_calls = result.embedding_calls
        report.embedding_s = result.embedding_s
        report.embedding_model = result.embedding_model
        report.embedding_error = result.embedding_error
    if report.status == "ok" and report.failed:
        report.status = "partial"
    report.duration_s = round(time.perf_counter() - clock, 3)
    return report, written, deleted, priorities


def _prepare(
    name: str,
    changed: list[tuple[Fetched, str, str]],
    known: dict[str, Known],
    priorities: dict[str, float],
    limit: int | None,
    report: RunReport,
) -> tuple[list[Any], list[tuple[Fetched, str, str, int]]]:
    """The documents to write (chunked) and what to record, highest priority first."""
    order = sorted(changed, key=lambda c: -priorities.get(c[0].external_id, 0.0))
    put: list[Any] = []
    written: list[tuple[Fetched, str, str, int]] = []
    over = 0
    for item, rel, digest in order:
        old = known.get(item.external_id)
        if old is not None and old.content_hash == digest:
            written.append((item, rel, digest, -1))  # version bump only, nothing to index
            continue
        if limit is not None and len(put) >= limit:
            over += 1
            continue
        try:
            doc = to_document(item, rel, priorities.get(item.external_id, 0.0))
        except Exception as exc:
            report.failed.append({"source": name, "id": item.external_id,
                                  "url": item.url, "reason": _reason(exc)})  # fmt: skip
            continue
        if not doc.chunks:
            report.skipped.append({"id": item.external_id, "url": item.url,
                                   "reason": "no text"})  # fmt: skip
        put.append(doc)
        written.append((item, rel, digest, len(doc.chunks)))
        entry = {"id": item.external_id, "title": item.title, "url": item.url}
        (report.updated if old is not None else report.added).append(entry)
    if over:
        report.notes.append(f"{over} changed document(s) over --limit {limit}: next run")
    return put, written


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if type(exc).__name__ == "ChunkError" else f"{type(exc).__name__}: {text}"
