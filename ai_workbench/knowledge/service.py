"""KnowledgeService: index a project, search it, ground answers, learn from feedback.

The one entry point the CLI and the workbench use (they never touch SQLite or Chroma)::

    service = KnowledgeService.for_project(loaded.settings.knowledge, root)
    report = service.index(progress=callback)          # incremental
    result = await service.search("where are retries configured", k=8, store=store)
    grounding = service.grounding(result)              # system-context section, or None
    question = result.clarifying_question              # set when retrieval is weak
    await service.rate(store, uid, +1, query=result.query, comment="exactly this")

Retrieval: BM25 (FTS5) and vectors (Chroma) each give 50 candidates; they are fused with
weighted score fusion (min-max normalised BM25 plus w × normalised cosine, w per model: 0.1
for the built-in static vectors, 0.5 for e5), which beat reciprocal rank fusion on
``bench/retrieval_eval.py`` (docs/knowledge.md), then
feedback moves chunks liked for similar queries up and disliked ones down.

The *match* compared with ``knowledge.threshold`` is evidence × specificity (``_matches``):
evidence is the share of the query's content words a chunk contains (or, when higher, how far
its cosine stands above this query's background similarity), and specificity divides it by
1 + 0.25 per *other file* that matches as well. A short vague query that many files answer
equally ("vat", "cache") is therefore not confident even though each of them contains every
query word, while a query that singles out one place is: a number a user can reason about.
A file whose path holds every word of a query of two or more words competes only with other
files named after it (``_named``): "assertion rewriting" is ``assertion/rewrite.py``.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ai_workbench.knowledge.chunkers import Chunk as Chunk
from ai_workbench.knowledge.chunkers import ChunkError as ChunkError
from ai_workbench.knowledge.chunkers import chunk_file as chunk_file
from ai_workbench.knowledge.citations import (  # re-exported: the chat turn checks citations
    KNOWLEDGE_HEADING,
)
from ai_workbench.knowledge.citations import NOTE_SEPARATOR as NOTE_SEPARATOR
from ai_workbench.knowledge.citations import Citation as Citation
from ai_workbench.knowledge.citations import CitationCheck as CitationCheck
from ai_workbench.knowledge.citations import check_citations as check_citations
from ai_workbench.knowledge.citations import cite_request as cite_request
from ai_workbench.knowledge.citations import sent_sources as sent_sources
from ai_workbench.knowledge.citations import strip_note as strip_note
from ai_workbench.knowledge.embeddings import (
    Embedder,
    EmbeddingUnavailable,
    make_embedder,
    remote_embedding_endpoint,
)
from ai_workbench.knowledge.lexical import (
    LexicalIndex,
    StoredChunk,
    compounds,
    query_terms,
    split_identifiers,
    stem,
)
from ai_workbench.knowledge.lock import IndexBusy as IndexBusy
from ai_workbench.knowledge.lock import IndexLock

if TYPE_CHECKING:
    from ai_workbench.core.db import Database
    from ai_workbench.core.settings import KnowledgeSettings
    from ai_workbench.knowledge.postgres import PgVectors, PostgresIndex
    from ai_workbench.knowledge.vectors import VectorStore

Progress = Callable[[int, int, str], None]
CANDIDATES = 50
RRF_K = 60
# Weight of the vector list in score fusion, overriding the embedder's own ``fusion_weight``
# when set (bench/retrieval_eval.py --vector-weight).
VECTOR_WEIGHT: float | None = None
DEFAULT_FUSION = "score"
EMBED_BATCH = 256
FEEDBACK_WEIGHT = 1.0  # a like for the same question puts a chunk first
FEEDBACK_MIN_SIMILARITY = 0.3
# Match = evidence / (1 + AMBIGUITY × other files whose evidence is within TIE of this one's):
# with the default threshold 0.7 a full match shared with one other file is still confident
# (0.80), shared with two or more it is not (0.67, 0.57...); see docs/knowledge.md.
AMBIGUITY = 0.25
TIE = 0.05
# Stored in the index's meta table once every chunk in it went through core/redact.py.
REDACTION_MARK = "1"
# Ranking: a source document's priority (-1..1, from ratings of its chunks, set by
# ``aiw sources sync``) adds at most this much to a fused score normalised to 0..1.
PRIORITY_WEIGHT = 0.1


def is_local_server(url: str) -> bool:
    """A loopback URL, or a PostgreSQL URL over a Unix socket (``?host=/run/postgresql``)."""
    from urllib.parse import parse_qs, urlsplit

    from ai_workbench.core.llm.profiles import is_local_url

    parts = urlsplit(url)
    if parts.scheme.startswith("postgres") and not parts.hostname:
        hosts = parse_qs(parts.query).get("host", [""])
        return all(h.startswith("/") for h in hosts) if hosts != [""] else True
    return is_local_url(url)


def project_key(root: Path) -> str:
    root = root.resolve()
    digest = hashlib.sha1(str(root).encode()).hexdigest()[:10]
    name = re.sub(r"[^A-Za-z0-9_-]", "-", root.name)[:40] or "root"
    return f"{name}-{digest}"


def latest_report(root: Path, data_dir: Path | None = None) -> Path | None:
    """The newest run report of ``root``'s index (by ``aiw index`` or the workbench), if any.
    Cheap (a directory listing): the workbench polls it to announce finished index runs."""
    from ai_workbench.core import paths

    runs = (data_dir or paths.data_dir()) / "knowledge" / project_key(root) / "runs"
    try:
        names = [entry.name for entry in os.scandir(runs) if entry.name.endswith(".json")]
    except OSError:
        return None
    return runs / max(names) if names else None


def chunk_uid(rel: str, text: str, occurrence: int) -> str:
    """Stable across line shifts: the same text in the same file keeps its id (and feedback)."""
    digest = hashlib.sha1(f"{rel}\0{occurrence}\0{text}".encode()).hexdigest()
    return digest[:20]


@dataclass
class IndexReport:
    root: str
    started: float
    duration_s: float = 0.0
    files_seen: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_total: int = 0
    embedding_model: str | None = None
    embedding_s: float = 0.0
    chunks_embedded: int = 0
    embedding_error: str | None = None
    embedding_calls: int = 0
    report_path: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SourceDocument:
    """A document from a source (``aiw sources``): ``rel`` names it in citations
    (``<source>/<id>``), each chunk comes with its own URL ("" for the document's ``url``)."""

    rel: str
    title: str
    url: str
    chunks: list[tuple[Chunk, str]]
    priority: float = 0.0


@dataclass
class DocumentsWrite:
    """What :meth:`KnowledgeService.write_documents` did."""

    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_embedded: int = 0
    embedding_calls: int = 0
    embedding_s: float = 0.0
    embedding_model: str | None = None
    embedding_error: str | None = None


@dataclass
class SearchHit:
    uid: str
    rel: str
    start: int
    end: int
    kind: str
    title: str
    text: str
    score: float  # fused (and feedback-adjusted), for ordering
    normalized: float  # 0..1 "match" = evidence × specificity, compared with the threshold
    lexical_rank: int | None = None
    vector_rank: int | None = None
    similarity: float | None = None
    feedback: float = 0.0
    coverage: float = 0.0  # share of the query's content words in the chunk
    alternatives: int = 0  # other files that match the query as well as this chunk
    url: str | None = None  # where a chunk from a source (aiw sources) lives: page, issue, t=

    @property
    def location(self) -> str:
        return f"{self.rel}:{self.start}-{self.end}"

    def snippet(self, width: int = 160) -> str:
        text = " ".join(self.text.split())
        return text if len(text) <= width else text[: width - 1] + "…"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["location"] = self.location
        return data


@dataclass
class SearchResult:
    query: str
    hits: list[SearchHit]
    threshold: float
    mode: str  # hybrid | lexical | vector
    notices: list[str] = field(default_factory=list)

    @property
    def best(self) -> float:
        return max((h.normalized for h in self.hits), default=0.0)

    @property
    def confident(self) -> bool:
        return bool(self.hits) and self.best >= self.threshold

    @property
    def clarifying_question(self) -> str | None:
        """A question naming the candidate topics, when the best match is below the threshold."""
        if self.confident:
            return None
        return clarifying_question(self)


class KnowledgeService:
    """One project's index: SQLite (manifest, chunks, FTS5) plus Chroma vectors."""

    def __init__(self, settings: KnowledgeSettings, root: Path, data_dir: Path | None = None):
        from ai_workbench.core import paths

        self.settings = settings
        self.root = root.resolve()
        self.key = project_key(self.root)
        self.dir = (data_dir or paths.data_dir()) / "knowledge" / self.key
        paths.ensure_private_dir(self.dir)
        paths.tighten_dir(self.dir)  # an index made before aiw kept it private
        self.shared_key = settings.project or self.key
        self.lexical: LexicalIndex | PostgresIndex = self._open_lexical()
        self._embedder: Embedder | None = None
        self._embedder_error: str | None = None
        self._embedder_loaded = False
        self._vectors: VectorStore | PgVectors | None = None
        self._vectors_error: str | None = None

    @property
    def backend(self) -> str:
        """ "local", "chroma" or "postgres" (a ``chroma_url`` alone means "chroma")."""
        s = self.settings
        return "chroma" if s.backend == "local" and s.chroma_url else s.backend

    def _remote_allowed(self, key: str, url: str, what: str) -> None:
        """Raise when offline mode rules ``url`` out; announce a project file's choice."""
        from ai_workbench.core.errors import InputError
        from ai_workbench.core.llm.profiles import offline_refusal

        if self.settings.offline and not is_local_server(url):
            raise InputError(offline_refusal(f"knowledge.{key}", url, what))
        self._announce(f"knowledge.{key}")

    def _open_lexical(self) -> LexicalIndex | PostgresIndex:
        if self.backend != "postgres":
            return LexicalIndex(self.dir / "index.db")
        from ai_workbench.core.errors import AiwError, InputError
        from ai_workbench.knowledge.postgres import PostgresError, PostgresIndex, shown_url

        url = self.settings.postgres_url
        if not url:
            raise InputError(
                'knowledge.backend = "postgres" needs knowledge.postgres_url (e.g. '
                '"postgresql://aiw@db.internal/aiw"); set it in config.toml or choose "local"'
            )
        self._remote_allowed("postgres_url", url, f"that PostgreSQL server ({shown_url(url)})")
        try:
            return PostgresIndex(url, self.shared_key)
        except PostgresError as exc:
            raise AiwError(str(exc)) from None

    @classmethod
    def for_project(cls, settings: KnowledgeSettings, root: Path) -> KnowledgeService:
        return cls(settings, root)

    def close(self) -> None:
        self.lexical.close()

    # --- embedding and vectors, loaded on first use ---

    def embedder(self) -> Embedder | None:
        if not self._embedder_loaded:
            self._embedder_loaded = True
            refusal = self._offline_refusal_for_embeddings()
            if refusal is not None:
                self._embedder_error = refusal
                return None
            self._announce("knowledge.embedding_model", "knowledge.embedding_api_base")
            try:
                self._embedder = make_embedder(
                    self.settings.embedding_model, self.settings.embedding_api_base
                )
                if self._embedder is None:
                    self._embedder_error = "embeddings are off (knowledge.embedding_model)"
            except EmbeddingUnavailable as exc:
                self._embedder_error = str(exc)
        return self._embedder

    def _offline_refusal_for_embeddings(self) -> str | None:
        """Why offline mode rules out the embedding model (None when it may be used)."""
        from ai_workbench.core.llm.profiles import offline_refusal

        if not self.settings.offline:
            return None
        endpoint = remote_embedding_endpoint(
            self.settings.embedding_model, self.settings.embedding_api_base
        )
        if endpoint is None:
            return None
        setting = "knowledge.embedding_" + (
            "api_base" if self.settings.embedding_api_base else "model"
        )
        return offline_refusal(setting, endpoint, "that embedding endpoint")

    def _announce(self, *keys: str) -> None:
        """The first-use notice for knowledge endpoints a trusted project file chose."""
        from ai_workbench.core.llm.redirects import announce

        choices = self.settings._project_choices
        for key in keys:
            if key in choices:
                dotted, value, project_file = choices[key]
                announce(project_file, dotted, value, value, None)

    def vectors(self) -> VectorStore | PgVectors | None:
        embedder = self.embedder()
        if embedder is None:
            return None
        url = self.settings.chroma_url
        if self.backend == "chroma" and not url and self._vectors_error is None:
            self._vectors_error = (
                'knowledge.backend = "chroma" needs knowledge.chroma_url (e.g. '
                '"http://127.0.0.1:8000", a `chroma run` server)'
            )
        if self._vectors is None and self._vectors_error is None and self.backend == "postgres":
            from ai_workbench.knowledge.postgres import PgVectors
            from ai_workbench.knowledge.vectors import VectorStoreError, collection_name

            try:
                self._vectors = PgVectors(
                    self.settings.postgres_url, collection_name(self.shared_key, embedder.name)
                )
            except VectorStoreError as exc:
                self._vectors_error = str(exc)
            else:
                self._vectors_moved(self._vectors.where, embedder.name)
        if self._vectors is None and self._vectors_error is None and url:
            from ai_workbench.core.errors import InputError

            try:
                self._remote_allowed("chroma_url", url, "that Chroma server")
            except InputError as exc:
                self._vectors_error = str(exc)
        if self._vectors is None and self._vectors_error is None:
            from ai_workbench.knowledge.vectors import (
                VectorStore,
                VectorStoreError,
                collection_name,
            )

            try:
                self._vectors = VectorStore(
                    path=self.dir / "chroma",
                    url=self.settings.chroma_url,
                    name=collection_name(self.shared_key if url else self.key, embedder.name),
                )
            except VectorStoreError as exc:
                self._vectors_error = str(exc)
            else:
                self._vectors_moved(self._vectors.where, embedder.name)
        return self._vectors

    def _vectors_moved(self, place: str, model: str) -> None:
        # A new model or a new server: every chunk needs its vector there.
        self.lexical.switch_vectors(f"{place}|{model}")

    def vector_problem(self) -> str | None:
        """Why vector search is unavailable (None when it works)."""
        self.vectors()
        return self._embedder_error or self._vectors_error

    # --- indexing ---

    def write_lock(
        self, *, wait: bool = True, on_wait: Callable[[str], None] | None = None
    ) -> IndexLock:
        """The index's cross-process write lock (:mod:`ai_workbench.knowledge.lock`)."""
        return IndexLock(self.dir, wait=wait, on_wait=on_wait)

    def index(
        self,
        progress: Progress | None = None,
        *,
        embed: bool = True,
        wait: bool = True,
        on_wait: Callable[[str], None] | None = None,
    ) -> IndexReport:
        """Bring the index up to date with the files under the root; never stops on one file.

        Holds the index's write lock for the run: with ``wait`` a second writer waits (after
        ``on_wait(holder)``), without it raises :class:`IndexBusy` naming the holder."""
        with self.write_lock(wait=wait, on_wait=on_wait):
            return self._index(progress, embed=embed)

    def _index(self, progress: Progress | None = None, *, embed: bool = True) -> IndexReport:
        from ai_workbench.knowledge.walker import walk_files  # pathspec: not for a search

        started = time.time()
        clock = time.perf_counter()
        report = IndexReport(root=str(self.root), started=started)
        s = self.settings
        walk = walk_files(
            self.root,
            exclude=s.exclude,
            max_file_bytes=s.max_file_bytes,
            max_document_bytes=s.max_document_bytes,
            max_files=s.max_files,
        )
        report.skipped = [{"path": x.rel, "reason": x.reason} for x in walk.skipped]
        report.files_seen = len(walk.files)
        manifest = self.lexical.manifest()
        # An index written before chunks were redacted is re-read once, file by file, so the
        # secrets it holds are replaced (chunks without any keep their id and vector).
        rescan = self.lexical.get_meta("redaction") != REDACTION_MARK
        seen = {f.rel for f in walk.files}
        removed_uids: list[str] = []
        total = len(walk.files)
        todo = []
        for entry in walk.files:
            old = manifest.get(entry.rel)
            if (
                not rescan
                and old is not None
                and old.size == entry.size
                and old.mtime == entry.mtime
            ):
                report.unchanged += 1  # not even read
            else:
                todo.append((entry, old))
        with self.lexical.transaction():
            done = report.unchanged
            prepared_all = _prepare_all(todo, s, rescan=rescan)
            for (entry, old), prepared in zip(todo, prepared_all, strict=True):
                done += 1
                if progress is not None and (done % 25 == 0 or done == total):
                    progress(done, total, entry.rel)
                digest, chunks, extra, problem = prepared
                if problem == "unchanged":
                    self.lexical.touch(entry.rel, entry.size, entry.mtime)
                    report.unchanged += 1
                    continue
                if problem == "binary file":
                    report.skipped.append({"path": entry.rel, "reason": problem})
                    if old is not None:
                        removed_uids += self.lexical.remove_file(entry.rel)
                        report.deleted.append(entry.rel)
                    continue
                if problem is not None:
                    report.failed.append({"path": entry.rel, "reason": problem})
                    continue
                added, removed = self.lexical.replace_file(
                    entry.rel, digest, entry.size, entry.mtime, _with_uids(chunks), extra
                )
                removed_uids += removed
                report.chunks_added += len(added)
                report.chunks_removed += len(removed)
                (report.updated if old is not None else report.added).append(entry.rel)
            if progress is not None and total:
                progress(total, total, "")
            for rel in sorted(set(manifest) - seen):
                uids = self.lexical.remove_file(rel)
                removed_uids += uids
                report.chunks_removed += len(uids)
                report.deleted.append(rel)
            self.lexical.add_tombstones(removed_uids)
        if rescan:
            self.lexical.set_meta("redaction", REDACTION_MARK)
        if embed:
            if progress is not None and total:
                progress(total, total, "embedding…")
            self._embed_pending(report, removed_uids)
        report.chunks_total = self.lexical.counts()[1]
        report.duration_s = round(time.perf_counter() - clock, 3)
        report.embedding_s = round(report.embedding_s, 3)
        self._save_report(report)
        return report

    # --- documents from outside the tree (aiw sources) ---

    def write_documents(
        self,
        source: str,
        put: Sequence[SourceDocument] = (),
        remove: Sequence[str] = (),
        priorities: dict[str, float] | None = None,
        *,
        embed: bool = True,
        wait: bool = True,
        on_wait: Callable[[str], None] | None = None,
    ) -> DocumentsWrite:
        """Write one sync run of ``source``: ``put`` documents (their chunks replace the old
        ones; unchanged chunks keep their vectors), ``remove`` documents by rel, set
        ``priorities`` (rel → -1..1). Under the write lock, in ONE SQLite transaction, so a
        reader sees the run entirely or not at all; vectors follow (a search only returns
        chunks the SQLite side holds, so a stale vector is never shown). The interface a
        shared backend implements too."""
        result = DocumentsWrite()
        with self.write_lock(wait=wait, on_wait=on_wait):
            removed_uids: list[str] = []
            with self.lexical.transaction():
                for doc in put:
                    chunks = _with_uids([_redacted(c) for c, _ in doc.chunks])
                    links = [link for _, link in doc.chunks]
                    added, removed = self.lexical.put_document(
                        doc.rel, source, doc.url,
                        [(uid, c, link) for (uid, c), link in zip(chunks, links, strict=True)],
                        doc.priority,
                    )  # fmt: skip
                    removed_uids += removed
                    result.chunks_added += len(added)
                    result.chunks_removed += len(removed)
                for rel in remove:
                    uids = self.lexical.remove_document(rel)
                    removed_uids += uids
                    result.chunks_removed += len(uids)
                for rel, level in (priorities or {}).items():
                    self.lexical.set_priority(rel, max(-1.0, min(1.0, level)))
                self.lexical.add_tombstones(removed_uids)
            if embed:
                self._embed_pending(result, removed_uids)  # type: ignore[arg-type]
            result.embedding_s = round(result.embedding_s, 3)
        return result

    def documents(self, source: str | None = None) -> dict[str, tuple[str, str, float]]:
        """rel → (source, url, priority) of the indexed documents from sources."""
        return self.lexical.documents(source)

    def chunk_uids(self, rel: str) -> list[str]:
        """The ids of a document's (or file's) chunks: what ratings are stored against."""
        return list(self.lexical.chunk_uids(rel))

    def document_ratings(self, rels: Sequence[str]) -> dict[str, int]:
        """rel → the sum of the ratings given in this index to its chunks (for any query)."""
        out: dict[str, int] = {}
        for rel in rels:
            uids = list(self.lexical.chunk_uids(rel))
            best: dict[str, int] = {}
            for uid, _query, rating in self.lexical.query_feedback(uids):
                best[uid] = best.get(uid, 0) + rating
            if best:
                out[rel] = sum(max(-1, min(1, v)) for v in best.values())
        return out

    def _embed_pending(self, report: IndexReport, removed_uids: list[str]) -> None:
        vectors = self.vectors()
        embedder = self._embedder
        if vectors is None or embedder is None:
            report.embedding_error = self.vector_problem()
            return
        report.embedding_model = embedder.name
        clock = time.perf_counter()
        # this run's removals and those of earlier runs without vectors (the watcher's)
        gone = list(dict.fromkeys([*removed_uids, *self.lexical.tombstones()]))
        mirror: tuple[str, Any] | None = None
        added: list[tuple[list[str], Any]] = []
        try:
            mirror = self._mirror_before_write(embedder, bool(gone))
            if gone:
                vectors.delete(gone)
                self.lexical.clear_tombstones(gone)
            while True:
                batch = self.lexical.unembedded(EMBED_BATCH)
                if not batch:
                    break
                texts = [_embedding_text(c) for c in batch]
                vecs = embedder.embed(texts)
                report.embedding_calls += 1
                uids = [c.uid for c in batch]
                vectors.upsert(uids, vecs, [c.rel for c in batch])
                self.lexical.mark_embedded([c.id for c in batch])
                report.chunks_embedded += len(batch)
                if mirror is not None:
                    added.append((uids, _float32(vecs)))
        except EmbeddingUnavailable as exc:
            report.embedding_error = f"{exc}; lexical search still works"
        except Exception as exc:
            report.embedding_error = (
                f"vectors not updated: {type(exc).__name__}: {exc}; lexical search still works"
            )
        else:
            if mirror is not None:
                self._write_mirror(vectors, mirror, gone, added)
        report.embedding_s += time.perf_counter() - clock

    # --- the vector mirror: searches without chromadb (knowledge/mirror.py) ---

    def _mirror_collection(self, embedder: Embedder) -> str | None:
        """The local collection the mirror copies (None for a server or PostgreSQL)."""
        if self.backend != "local":
            return None
        from ai_workbench.knowledge.vectors import collection_name

        return collection_name(self.key, embedder.name)

    def _current_mirror(self, embedder: Embedder) -> Any:
        """The mirror file when it matches the index (else None: ask Chroma)."""
        from ai_workbench.knowledge.mirror import FILENAME, META_KEY, VectorMirror

        collection = self._mirror_collection(embedder)
        if collection is None:
            return None
        mirror = VectorMirror.open(self.dir / FILENAME)
        if mirror is None or not mirror.matches(collection, self.lexical.get_meta(META_KEY)):
            return None
        return mirror

    def _mirror_before_write(self, embedder: Embedder, changes: bool) -> Any:
        """Before Chroma changes (under the write lock): what to update the mirror from.

        Returns None without a local collection, else ``(collection, current mirror or None)``;
        the mirror is marked stale first when vectors will change or it must be rebuilt."""
        from ai_workbench.knowledge.mirror import META_KEY

        collection = self._mirror_collection(embedder)
        if collection is None:
            return None
        current = self._current_mirror(embedder)
        if current is None or changes or self.lexical.count_unembedded():
            self.lexical.set_meta(META_KEY, "")
        return collection, current

    def _write_mirror(
        self,
        vectors: Any,
        mirror: tuple[str, Any],
        gone: list[str],
        added: list[tuple[list[str], Any]],
    ) -> None:
        """After Chroma changed: the new mirror file, then its stamp in the index's meta. A
        mirror that cannot be written stays stale (searches ask Chroma)."""
        from ai_workbench.knowledge import mirror as mirror_file

        collection, current = mirror
        if current is not None and not gone and not added:
            return  # nothing changed, the file is current
        path = self.dir / mirror_file.FILENAME
        try:
            count = vectors.count()
            if count > mirror_file.MAX_CHUNKS:
                path.unlink(missing_ok=True)
                return
            # Every uid added is in the collection now, so the same count means the same set.
            base = current.load() if current is not None else None
            uids, matrix = mirror_file.updated(base, gone, added)
            if len(uids) != count:  # an index from before the mirror: copy the collection
                uids, matrix = vectors.export()
            stamp = mirror_file.write(path, collection, uids, matrix)
        except Exception:
            return
        self.lexical.set_meta(mirror_file.META_KEY, stamp)

    def _mirror_query(self, query: str) -> tuple[list[tuple[str, float]], list[float]] | None:
        """(vector hits, query vector) from the mirror file, or None when it cannot answer."""
        embedder = self.embedder()
        if embedder is None:
            return None
        try:
            mirror = self._current_mirror(embedder)
            if mirror is None:
                return None
            vector = embedder.embed_query(query)
            return mirror.query(vector, CANDIDATES), vector
        except Exception:
            return None

    def _save_report(self, report: IndexReport) -> None:
        from ai_workbench.core.paths import ensure_private_dir

        runs = ensure_private_dir(self.dir / "runs")
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(report.started))
        path = runs / f"{stamp}-{int(report.started * 1000) % 1000:03d}.json"
        report.report_path = str(path)
        path.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")

    def reports(self) -> list[Path]:
        return sorted((self.dir / "runs").glob("*.json"))

    def status(self) -> dict[str, Any]:
        files, chunks = self.lexical.counts()
        return {
            "root": str(self.root),
            "index": str(self.lexical.path),
            "files": files,
            "chunks": chunks,
            "embedding_model": self.settings.embedding_model,
            "backend": self.backend,
            "chroma": self.settings.chroma_url or str(self.dir / "chroma"),
            "unembedded": self.lexical.count_unembedded(),
        }

    # --- search ---

    def search_sync(
        self,
        query: str,
        k: int = 8,
        *,
        fusion: str = DEFAULT_FUSION,
        mode: str = "hybrid",
        global_ratings: dict[str, int] | None = None,
    ) -> SearchResult:
        """Hybrid search without the session store (feedback from this index only)."""
        notices: list[str] = []
        lexical = self.lexical.search(query, CANDIDATES) if mode in ("hybrid", "lexical") else []
        vector_hits: list[tuple[str, float]] = []
        query_vector: list[float] | None = None
        mirrored = self._mirror_query(query) if mode in ("hybrid", "vector") else None
        if mirrored is not None:
            vector_hits, query_vector = mirrored
        elif mode in ("hybrid", "vector"):
            vectors = self.vectors()
            if vectors is None:
                notices.append(f"lexical search only: {self.vector_problem()}")
            else:
                try:
                    assert self._embedder is not None
                    query_vector = self._embedder.embed_query(query)
                    vector_hits = vectors.query(query_vector, CANDIDATES)
                except Exception as exc:
                    notices.append(
                        f"lexical search only: vector search failed ({type(exc).__name__}: {exc})"
                    )
        used = mode if mode != "hybrid" else ("hybrid" if vector_hits else "lexical")
        weight = VECTOR_WEIGHT
        if weight is None:
            weight = self._embedder.fusion_weight if self._embedder is not None else 0.0
        fused = _fuse(lexical, vector_hits, fusion, weight)
        chunks = {c.uid: c for c, _ in lexical}
        missing = [uid for uid, _ in fused if uid not in chunks]
        chunks.update(self.lexical.by_uids(missing))
        sims = dict(vector_hits)
        lex_rank = {c.uid: i for i, (c, _) in enumerate(lexical, 1)}
        vec_rank = {uid: i for i, (uid, _) in enumerate(vector_hits, 1)}
        candidates = [(uid, score) for uid, score in fused if uid in chunks]
        boosts = self._feedback_boosts(query, [u for u, _ in candidates], global_ratings or {})
        priority = self.lexical.priorities([chunks[uid].rel for uid, _ in candidates])
        for uid, _ in candidates:
            level = priority.get(chunks[uid].rel)
            if level:
                boosts[uid] = boosts.get(uid, 0.0) + PRIORITY_WEIGHT * max(-1.0, min(1.0, level))
        top = max((s for _, s in candidates), default=1.0) or 1.0
        rescored = sorted(
            ((uid, score / top + FEEDBACK_WEIGHT * boosts.get(uid, 0.0)) for uid, score in
             candidates),
            key=lambda item: -item[1],
        )  # fmt: skip
        terms = query_terms(query)
        if mode != "vector":
            # a word the index never uses ("switch" for the docs' "choose") cannot tell one
            # chunk from another: the evidence is the share of the words it does use
            terms = self.lexical.used_terms(terms) or terms
        matches = _matches(
            terms,
            [chunks[uid] for uid, _ in candidates],
            None if mode == "vector" else set(lex_rank),
            sims,
            self.lexical.files_with_all(terms) if mode != "vector" else 0,
        )
        hits = []
        links = self.lexical.links([uid for uid, _ in rescored[:k]])
        for uid, score in rescored[:k]:
            chunk = chunks[uid]
            match, coverage, alternatives = matches[uid]
            hits.append(
                SearchHit(
                    uid=uid,
                    rel=chunk.rel,
                    start=chunk.start,
                    end=chunk.end,
                    kind=chunk.kind,
                    title=chunk.title,
                    text=chunk.text,
                    score=round(score, 4),
                    normalized=round(match, 3),
                    lexical_rank=lex_rank.get(uid),
                    vector_rank=vec_rank.get(uid),
                    similarity=round(sims[uid], 4) if uid in sims else None,
                    feedback=round(boosts.get(uid, 0.0), 3),
                    coverage=round(coverage, 3),
                    alternatives=alternatives,
                    url=links.get(uid),
                )
            )
        return SearchResult(query, hits, self.settings.threshold, used, notices)

    async def search(
        self,
        query: str,
        k: int | None = None,
        *,
        store: Database | None = None,
        owner: str = "local",
        remember: bool = True,
        **kw: Any,
    ) -> SearchResult:
        """Hybrid search; ``store`` adds ``owner``'s ratings given anywhere in aiw (target_kind
        'chunk'). ``remember`` keeps the hits as "the last search" (result numbers for
        ``aiw rate``); the HTTP API, searching for many users at once, does not."""
        import asyncio

        ratings: dict[str, int] = {}
        if store is not None:
            from ai_workbench.core.feedback import FeedbackService

            # Candidates are not known before the search; chunk ratings are few: read them all.
            ratings = await FeedbackService(store).ratings("chunk", owner=owner)
        result = await asyncio.to_thread(
            self.search_sync, query, k or self.settings.top_k, global_ratings=ratings, **kw
        )
        if remember:
            self.lexical.save_last_search(query, [h.uid for h in result.hits])
        return result

    def _feedback_boosts(
        self,
        query: str,
        uids: Sequence[str],
        global_ratings: dict[str, int],
    ) -> dict[str, float]:
        """Per chunk: Σ rating × similarity(query, the query it was rated for)."""
        boosts: dict[str, float] = {}
        records = self.lexical.query_feedback(list(uids))
        with_query = {uid for uid, _, _ in records}
        terms = {stem(t) for t in query_terms(query)}
        for uid, rated_query, rating in records:
            # Similar = sharing (stemmed) terms. Static-embedding cosines of short queries are
            # too noisy for this: unrelated rare words land close together.
            other = {stem(t) for t in query_terms(rated_query)}
            union = terms | other
            sim = len(terms & other) / len(union) if union else 0.0
            if rated_query.strip().lower() == query.strip().lower():
                sim = 1.0
            if sim >= FEEDBACK_MIN_SIMILARITY:
                boosts[uid] = boosts.get(uid, 0.0) + rating * sim
        for uid in uids:
            if uid not in with_query and uid in global_ratings:
                boosts[uid] = 0.3 * global_ratings[uid]  # rated elsewhere, query unknown
        return {uid: max(-1.5, min(1.5, b)) for uid, b in boosts.items()}

    # --- feedback ---

    async def rate(
        self,
        store: Database,
        uid: str,
        rating: int,
        *,
        query: str | None = None,
        comment: str | None = None,
        owner: str = "local",
    ) -> StoredChunk:
        """Like (+1) or dislike (-1) a chunk, for ``query`` when known; stored in both places."""
        from ai_workbench.core.errors import InputError
        from ai_workbench.core.feedback import FeedbackService

        chunk = self.resolve(uid)
        if chunk is None:
            raise InputError(
                f"no indexed chunk '{uid}': use a result number or id from `aiw search`"
            )
        await FeedbackService(store).rate("chunk", chunk.uid, rating, comment, owner=owner)
        if query:
            self.lexical.add_query_feedback(chunk.uid, query, rating)
        return chunk

    def cited_chunks(self, text: str) -> list[StoredChunk]:
        """The indexed chunks that ``path:start-end`` citations in ``text`` point into."""
        from ai_workbench.knowledge.citations import citations, strip_note

        found: dict[str, StoredChunk] = {}
        for cite in citations(strip_note(text)):
            uids = self.lexical.covering(cite.path, cite.start, cite.end)
            for uid, chunk in self.lexical.by_uids(uids).items():
                found.setdefault(uid, chunk)
        return list(found.values())

    async def rate_cited(
        self,
        store: Database,
        text: str,
        rating: int,
        *,
        query: str | None = None,
        comment: str | None = None,
    ) -> list[StoredChunk]:
        """Rate every chunk ``text`` cites (a rated grounded answer rates its sources)."""
        chunks = self.cited_chunks(text)
        for chunk in chunks:
            await self.rate(store, chunk.uid, rating, query=query, comment=comment)
        return chunks

    def resolve(self, ref: str) -> StoredChunk | None:
        """A chunk by result number of the last search, uid, or uid prefix (≥ 4 chars)."""
        ref = ref.strip()
        last = self.lexical.last_search()
        if ref.isdigit() and len(ref) < 4:
            for rank, uid, _ in last:
                if rank == int(ref):
                    return self.lexical.by_uids([uid]).get(uid)
            return None
        if len(ref) < 4:
            return None
        if not re.fullmatch(r"[0-9a-fA-F]+", ref):
            return None
        found = self.lexical.uids_with_prefix(ref.lower())
        if len(found) != 1:
            return None
        return self.lexical.by_uids(found).get(found[0])

    def last_query(self) -> str | None:
        last = self.lexical.last_search()
        return last[0][2] if last else None

    # --- grounding ---

    def grounding(self, result: SearchResult, max_chars: int = 24_000) -> str | None:
        return grounding_section(result, max_chars)

    async def ground(
        self,
        question: str,
        store: Database | None = None,
        *,
        budget_tokens: int | None = None,
        owner: str = "local",
        remember: bool = True,
    ) -> Grounding:
        """What a grounded answer needs: the context section, or the clarifying question to
        ask instead (retrieval below ``knowledge.threshold``), and the search behind it.

        ``budget_tokens``: how much excerpt text the model can read in time
        (:func:`excerpt_budget`); the default fits a 24,000-character section."""
        from ai_workbench.core.errors import InputError

        if self.lexical.counts()[1] == 0:
            raise InputError(f"the index of {self.root} is empty: run `aiw index` first")
        result = await self.search(question, store=store, owner=owner, remember=remember)
        if not result.confident:
            return Grounding(None, result.clarifying_question, result)
        max_chars = budget_tokens * 4 if budget_tokens else 24_000
        return Grounding(self.grounding(result, max_chars), None, result)


@dataclass
class Grounding:
    """``section`` goes into the system context (AskOptions.extra_context); when it is None,
    ``question`` is what to ask the user instead of guessing."""

    section: str | None
    question: str | None
    result: SearchResult


# Below this many files to read, a process pool costs more than it saves.
POOL_MIN_FILES = 200


def _prepare(
    path: str, rel: str, old_sha: str | None, window: int, overlap: int
) -> tuple[str, list[Chunk], list[str], str | None]:
    """(sha256, chunks, their identifier terms, problem) for one file; problem is 'unchanged',
    'binary file' or why it failed. Runs in a worker process for big runs, so it takes and
    returns plain data and does the CPU-bound parts (parsing, identifier splitting)."""
    from ai_workbench.knowledge.walker import looks_binary

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return "", [], [], f"cannot read: {exc.strerror or exc}"
    digest = hashlib.sha256(data).hexdigest()
    if old_sha == digest:
        return digest, [], [], "unchanged"
    suffix = rel.rsplit(".", 1)[-1].lower()
    if suffix not in ("pdf", "docx") and looks_binary(data):
        return digest, [], [], "binary file"
    try:
        chunks = [_redacted(c) for c in chunk_file(rel, data, window=window, overlap=overlap)]
    except ChunkError as exc:
        return digest, [], [], str(exc)
    except Exception as exc:  # one bad file never stops a run
        return digest, [], [], f"{type(exc).__name__}: {exc}"
    return digest, chunks, [split_identifiers(c.text) for c in chunks], None


def _redacted(chunk: Chunk) -> Chunk:
    """The chunk with secrets replaced: only redacted text is stored, embedded or shown."""
    from dataclasses import replace

    from ai_workbench.core.redact import redact_text

    text = redact_text(chunk.text, filename=chunk.rel)
    title = redact_text(chunk.title) if chunk.title else chunk.title
    if text == chunk.text and title == chunk.title:
        return chunk
    return replace(chunk, text=text, title=title)


def _prepare_all(todo: list[tuple[Any, Any]], s: KnowledgeSettings, *, rescan: bool = False) -> Any:
    """Read, hash and chunk the files in order; in worker processes when there are many
    (parsing is CPU-bound: ``ast.parse`` is most of a first index). ``rescan``: re-chunk
    files whose bytes did not change too."""
    import os

    args = [
        (
            str(e.path),
            e.rel,
            o.sha256 if o is not None and not rescan else None,
            s.window_lines,
            s.window_overlap,
        )
        for e, o in todo
    ]
    workers = min(4, os.cpu_count() or 1)
    if len(args) < POOL_MIN_FILES or workers < 2:
        return (_prepare(*a) for a in args)
    return _pool_map(args, workers)


def _pool_map(args: list[tuple[Any, ...]], workers: int) -> Any:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: safe whatever threads the parent runs (Chroma's, rich's progress refresher).
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(_prepare, *zip(*args, strict=True), chunksize=16)


def _with_uids(chunks: Sequence[Chunk]) -> list[tuple[str, Chunk]]:
    seen: dict[str, int] = {}
    out = []
    for chunk in chunks:
        n = seen.get(chunk.text, 0)
        seen[chunk.text] = n + 1
        out.append((chunk_uid(chunk.rel, chunk.text, n), chunk))
    return out


def _float32(vectors: Sequence[Sequence[float]]) -> Any:
    import numpy as np

    return np.asarray(vectors, dtype=np.float32)


def _embedding_text(chunk: StoredChunk) -> str:
    head = f"{chunk.rel} {chunk.title}".strip()
    return f"{head}\n{chunk.text}"


def _fuse(
    lexical: list[tuple[StoredChunk, float]],
    vector: list[tuple[str, float]],
    fusion: str,
    vector_weight: float = 0.5,
) -> list[tuple[str, float]]:
    scores: dict[str, float] = {}
    if fusion == "rrf":
        for rank, (chunk, _) in enumerate(lexical, 1):
            scores[chunk.uid] = scores.get(chunk.uid, 0.0) + 1.0 / (RRF_K + rank)
        for rank, (uid, _) in enumerate(vector, 1):
            scores[uid] = scores.get(uid, 0.0) + 1.0 / (RRF_K + rank)
    elif fusion == "score":
        # Min-max normalised scores, the vector list weighted by the model's fusion weight.
        for items, weight in (([(c.uid, s) for c, s in lexical], 1.0), (vector, vector_weight)):
            if not items:
                continue
            hi = max(s for _, s in items)
            lo = min(s for _, s in items)
            span = hi - lo
            for uid, s in items:
                share = (s - lo) / span if span > 0 else 1.0  # a lone hit is the best hit
                scores[uid] = scores.get(uid, 0.0) + weight * share
    else:
        raise ValueError(f"unknown fusion '{fusion}' (rrf or score)")
    return sorted(scores.items(), key=lambda item: -item[1])


@functools.lru_cache(maxsize=4096)
def _chunk_words(uid: str, rel: str, title: str, text: str) -> frozenset[str]:
    """The lower-case words (and identifier parts) of a chunk's path, title and text; cached,
    as the same candidates come back query after query (the key holds the text itself)."""
    haystack = f"{rel} {title} {text}"
    return frozenset(re.findall(r"[a-z0-9]+", (haystack + " " + split_identifiers(haystack))
                                .lower()))  # fmt: skip


def _coverage(terms: list[str], chunk: StoredChunk) -> float:
    """Share of the query's terms found in the chunk's path, title or text (light stemming)."""
    if not terms:
        return 0.0
    words = _chunk_words(chunk.uid, chunk.rel, chunk.title, chunk.text)
    # stem() keeps a word's first three letters, so only words sharing them with a term can
    # share its stem: stemming just those keeps this cheap over 50-100 candidates a query.
    wanted = {t[:3] for t in terms}
    stems = {stem(w) for w in words if w[:3] in wanted}
    covered = {t for t in terms if t in words or stem(t) in stems}
    # "times out" is covered by "timeout": both words of a closed compound count
    for left, right in itertools.pairwise(terms):
        if set(compounds([left, right])) & words:
            covered.update((left, right))
    return len(covered) / len(terms)


def _named(terms: list[str], chunk: StoredChunk) -> bool:
    """Every query term is in the chunk's path (light stemming): the file is named after what
    the query asks about ("assertion rewriting" and ``_pytest/assertion/rewrite.py``). Titles
    do not count: docs' section headings are full of everyday words ("Is it safe?"), and
    neither does a one-word query: one word naming a file ("errors", ``error.py``) is still
    vague, two that name the same file together rarely are."""
    if len(terms) < 2:
        return False
    words = _chunk_words(chunk.rel, chunk.rel, "", "")
    stems = {stem(w) for w in words}
    return all(t in words or stem(t) in stems for t in terms)


def _matches(
    terms: list[str],
    candidates: Sequence[StoredChunk],
    lexical_uids: set[str] | None,
    sims: dict[str, float],
    files_with_all: int = 0,
) -> dict[str, tuple[float, float, int]]:
    """uid → (match, coverage, alternatives) for every candidate.

    *Evidence* is the chunk's term coverage or, when higher, its vector evidence: how far its
    cosine stands above the median cosine of this query's vector candidates, rescaled to 0-1
    (raw cosines are useless here: e5 gives ~0.8 to anything, static vectors are noisy).
    *Alternatives* are the other files whose best evidence is within ``TIE`` of this chunk's:
    places that answer the query just as well. Match = evidence / (1 + AMBIGUITY × that).
    Coverage is computed only for BM25 candidates (``lexical_uids``; None = all): a chunk
    BM25 did not return holds none of the terms. ``files_with_all``: how many files of the
    whole index hold every term; a chunk that covers them all has at least those others as
    alternatives (the 50 candidates often come from two or three long files, which hid that a
    vague "what about errors?" matches a dozen).
    """
    finite = sorted(v for v in sims.values() if not math.isnan(v))
    background = finite[len(finite) // 2] if len(finite) >= 3 else None
    evidence: dict[str, tuple[float, float]] = {}
    best_by_file: dict[str, float] = {}
    for chunk in candidates:
        covered = (
            _coverage(terms, chunk) if lexical_uids is None or chunk.uid in lexical_uids else 0.0
        )
        sim = sims.get(chunk.uid)
        vector = 0.0
        if background is not None and sim is not None and not math.isnan(sim) and background < 1:
            vector = max(0.0, (sim - background) / (1.0 - background))
        value = max(0.0, min(1.0, max(covered, vector)))
        evidence[chunk.uid] = (value, covered)
        best_by_file[chunk.rel] = max(best_by_file.get(chunk.rel, 0.0), value)
    named = {chunk.uid for chunk in candidates if evidence[chunk.uid][1] >= 1.0
             and _named(terms, chunk)}  # fmt: skip
    named_files = {chunk.rel for chunk in candidates if chunk.uid in named}
    result: dict[str, tuple[float, float, int]] = {}
    for chunk in candidates:
        value, covered = evidence[chunk.uid]
        if chunk.uid in named:
            # A file named after the query competes only with other files named after it:
            # the words also turning up in the text of a dozen others (they mention the
            # topic) do not make it ambiguous (calibrated: docs/knowledge.md).
            others = len(named_files) - 1
            result[chunk.uid] = (value / (1.0 + AMBIGUITY * others), covered, others)
            continue
        others = sum(
            1 for rel, best in best_by_file.items()
            if rel != chunk.rel and best > 0 and best >= value - TIE
        )  # fmt: skip
        if covered >= 1.0 and value <= 1.0:
            others = max(others, files_with_all - 1)
        result[chunk.uid] = (value / (1.0 + AMBIGUITY * others), covered, others)
    return result


def clarifying_question(result: SearchResult) -> str:
    if not result.hits:
        return (
            f'I found nothing in the project index about "{result.query}". Which file, '
            "function or document should I look at? (Run `aiw index` if the project changed.)"
        )
    topics: list[str] = []
    for hit in result.hits:
        label = f"{hit.title} ({hit.location})" if hit.title else hit.location
        if label not in topics and all(hit.rel not in t for t in topics):
            topics.append(label)
        if len(topics) == 4:
            break
    listed = "; ".join(topics)
    return (
        f'I am not sure what "{result.query}" refers to in this project: the closest matches '
        f"score {result.best:.2f}, below the {result.threshold:.2f} threshold. Do you mean one "
        f"of these: {listed}? Tell me which, or name a file, function or term."
    )


# Grounded answers send at most this many excerpts, and only those whose match is at least
# this share of the best one's: a small model reads 3,200-4,000 tokens of excerpts in about a
# minute on a CPU, and the weak ones mostly distract it.
MAX_EXCERPTS = 5
MIN_SHARE_OF_BEST = 0.5


def excerpt_budget(
    settings: Any,
    *,
    model: str | None = None,
    api_base: str | None = None,
    provider: str | None = None,
) -> int | None:
    """Tokens of excerpts the answering model reads in time (core/llm/speed.py), or None
    when its provider cannot be resolved (the caller then uses the default size)."""
    from ai_workbench.core.llm.profiles import resolve_chain
    from ai_workbench.core.llm.speed import first_token_timeout, prompt_budget_tokens

    try:
        chain = resolve_chain(settings, model=model, api_base=api_base, provider=provider)
    except Exception:
        return None
    if not chain:
        return None
    head = chain[0]
    wait = first_token_timeout(head, settings.first_token_timeout, settings.request_timeout)
    return prompt_budget_tokens(head, wait)


def _tight(hits: Sequence[SearchHit]) -> list[SearchHit]:
    """The excerpts worth sending: strong enough next to the best, none overlapping another
    excerpt of the same file (windows overlap by ``window_overlap`` lines), at most
    ``MAX_EXCERPTS``."""
    if not hits:
        return []
    best = max(h.normalized for h in hits)
    chosen: list[SearchHit] = []
    for hit in hits:
        if chosen and hit.normalized < best * MIN_SHARE_OF_BEST:
            continue
        if any(c.rel == hit.rel and c.start <= hit.end and hit.start <= c.end for c in chosen):
            continue
        chosen.append(hit)
        if len(chosen) == MAX_EXCERPTS:
            break
    return chosen


def grounding_section(result: SearchResult, max_chars: int = 24_000) -> str | None:
    """The system-context section for a grounded answer (redacted), or None without hits.

    Sends the :func:`_tight` excerpts, in rank order, until ``max_chars``."""
    from ai_workbench.core.redact import redact_text

    if not result.hits:
        return None
    parts = [
        f"{KNOWLEDGE_HEADING}\n\n"
        "Answer from the excerpts below. Cite each excerpt you rely on as `path:start-end`, "
        f"exactly as written in its header (for example `{result.hits[0].location}`; for PDF "
        "the numbers are pages, for DOCX paragraphs). If the excerpts do not contain the "
        "answer, say so instead of guessing."
    ]
    used = len(parts[0])
    for hit in _tight(result.hits):
        header = f"### {hit.location}" + (f" ({hit.title})" if hit.title else "")
        if hit.url:
            header += f" <{hit.url}>"
        block = f"{header}\n```\n{redact_text(hit.text)}\n```"
        if used + len(block) > max_chars and len(parts) > 1:
            break
        parts.append(block)
        used += len(block)
    return "\n\n".join(parts)
