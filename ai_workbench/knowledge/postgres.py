"""The team index on PostgreSQL: both halves of hybrid search in one shared database.

``knowledge.backend = "postgres"`` with ``knowledge.postgres_url`` puts a project's manifest,
chunks, lexical index (Postgres full-text search: a weighted ``tsvector`` per chunk) and
vectors (pgvector, HNSW cosine) in one server a whole team shares; several processes and
several people write it at once without the file locking a local index needs.

:class:`PostgresIndex` has the methods of :class:`~ai_workbench.knowledge.lexical.LexicalIndex`
the knowledge service calls, and :class:`PgVectors` those of
:class:`~ai_workbench.knowledge.vectors.VectorStore`, so the service runs unchanged on either.
Every row carries the project key (``knowledge.project`` names it for a team, so clones at
different paths share one index). psycopg is imported here only, when this backend is chosen.
"""

from __future__ import annotations

import getpass
import hashlib
import itertools
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ai_workbench.knowledge.chunkers import Chunk
from ai_workbench.knowledge.lexical import (
    BM25_SKIP,
    ManifestEntry,
    StoredChunk,
    compounds,
    query_terms,
    split_identifiers,
    stem,
)
from ai_workbench.knowledge.vectors import VectorStoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS aiw_kb_meta (
    project TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (project, key)
);
CREATE TABLE IF NOT EXISTS aiw_kb_files (
    project TEXT NOT NULL, rel TEXT NOT NULL, sha256 TEXT NOT NULL, size BIGINT NOT NULL,
    mtime DOUBLE PRECISION NOT NULL, chunks INTEGER NOT NULL, indexed DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (project, rel)
);
CREATE TABLE IF NOT EXISTS aiw_kb_chunks (
    id BIGSERIAL PRIMARY KEY, project TEXT NOT NULL, uid TEXT NOT NULL, rel TEXT NOT NULL,
    start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, kind TEXT NOT NULL,
    title TEXT NOT NULL, text TEXT NOT NULL, embedded INTEGER NOT NULL DEFAULT 0,
    tsv TSVECTOR NOT NULL,
    UNIQUE (project, uid)
);
CREATE INDEX IF NOT EXISTS aiw_kb_chunks_rel ON aiw_kb_chunks (project, rel);
CREATE INDEX IF NOT EXISTS aiw_kb_chunks_unembedded ON aiw_kb_chunks (project) WHERE embedded = 0;
CREATE INDEX IF NOT EXISTS aiw_kb_chunks_tsv ON aiw_kb_chunks USING GIN (tsv);
CREATE TABLE IF NOT EXISTS aiw_kb_query_feedback (
    id BIGSERIAL PRIMARY KEY, project TEXT NOT NULL, uid TEXT NOT NULL, query TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)), who TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS aiw_kb_query_feedback_uid ON aiw_kb_query_feedback (project, uid);
CREATE TABLE IF NOT EXISTS aiw_kb_documents (
    project TEXT NOT NULL, rel TEXT NOT NULL, source TEXT NOT NULL, url TEXT NOT NULL,
    priority DOUBLE PRECISION NOT NULL DEFAULT 0, indexed DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (project, rel)
);
CREATE TABLE IF NOT EXISTS aiw_kb_chunk_links (
    project TEXT NOT NULL, uid TEXT NOT NULL, url TEXT NOT NULL, PRIMARY KEY (project, uid)
);
CREATE TABLE IF NOT EXISTS aiw_kb_vector_tombstones (
    project TEXT NOT NULL, uid TEXT NOT NULL, PRIMARY KEY (project, uid)
);
CREATE TABLE IF NOT EXISTS aiw_kb_last_search (
    project TEXT NOT NULL, who TEXT NOT NULL, rank INTEGER NOT NULL, uid TEXT NOT NULL,
    query TEXT NOT NULL, PRIMARY KEY (project, who, rank)
);
"""

# ts_rank weights in Postgres' order {D, C, B, A}: body (C) 1, title (B) 3, path (A) 4, as the
# BM25 weights of the local index (lexical.WEIGHTS), scaled into ts_rank's 0..1.
RANK_WEIGHTS = "{0.0, 0.25, 0.75, 1.0}"
RANK_SQL = "ts_rank(%s::float4[], c.tsv, w.q, 0)"
_TERM = re.compile(r"^\w+$")
_TSV = (
    "setweight(to_tsvector('english', %s), 'A') || setweight(to_tsvector('english', %s), 'B')"
    " || setweight(to_tsvector('english', %s), 'C')"
)
_COLUMNS = "id, uid, rel, start_line, end_line, kind, title, text"


class PostgresError(VectorStoreError):
    """The server cannot be reached or refused; ``str()`` names the URL (without a password)."""


def shown_url(url: str) -> str:
    """``url`` without its password, for messages and status lines."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)


def connect(url: str) -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - a dependency
        raise PostgresError(
            f'knowledge.backend = "postgres" needs psycopg ({exc}): '
            "pip install 'ai-workbench[team]'"
        ) from None
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PostgresError(
            f"cannot reach PostgreSQL at {shown_url(url)} (knowledge.postgres_url): {reason}"
        ) from None


def _quoted(term: str) -> str | None:
    return f"'{term}'" if _TERM.match(term) else None


class PostgresIndex:
    """One project's lexical half in a shared PostgreSQL database."""

    def __init__(self, url: str, project: str) -> None:
        self.url = url
        self.project = project
        self.path = f"{shown_url(url)} (project {project})"  # shown by `aiw index --status`
        self.who = getpass.getuser()
        self.conn = connect(url)
        try:
            with self.conn.transaction():
                # one creator at a time: CREATE … IF NOT EXISTS races between processes
                self.conn.execute("SELECT pg_advisory_xact_lock(7262101)")
                self.conn.execute(SCHEMA)
        except Exception as exc:
            self.conn.close()
            raise PostgresError(
                f"cannot create aiw's tables at {shown_url(url)}: {type(exc).__name__}: {exc}"
            ) from None

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One index run's writes, all or nothing. Writers of one project take turns (an
        advisory lock held to the commit); readers never wait and never see half a run."""
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            yield

    @property
    def _lock_key(self) -> int:
        return int.from_bytes(hashlib.sha1(self.project.encode()).digest()[:8], "big", signed=True)

    def switch_vectors(self, where: str) -> None:
        """Record where the vectors live; when that changed, every chunk needs its vector
        there (checked and reset under the writers' lock, so concurrent runs agree)."""
        with self.transaction():
            if self.get_meta("vectors") != where:
                self.reset_embedded()
                self.set_meta("vectors", where)

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql, params).fetchall())

    # --- meta and manifest ---

    def get_meta(self, key: str) -> str | None:
        rows = self._all(
            "SELECT value FROM aiw_kb_meta WHERE project = %s AND key = %s", (self.project, key)
        )
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO aiw_kb_meta(project, key, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (project, key) DO UPDATE SET value = EXCLUDED.value",
            (self.project, key, value),
        )

    def manifest(self) -> dict[str, ManifestEntry]:
        rows = self._all(
            "SELECT rel, sha256, size, mtime, chunks FROM aiw_kb_files WHERE project = %s",
            (self.project,),
        )
        return {r[0]: ManifestEntry(r[1], int(r[2]), float(r[3]), int(r[4])) for r in rows}

    def touch(self, rel: str, size: int, mtime: float) -> None:
        self.conn.execute(
            "UPDATE aiw_kb_files SET size = %s, mtime = %s WHERE project = %s AND rel = %s",
            (size, mtime, self.project, rel),
        )

    # --- writes ---

    def chunk_uids(self, rel: str) -> dict[str, int]:
        rows = self._all(
            "SELECT uid, id FROM aiw_kb_chunks WHERE project = %s AND rel = %s",
            (self.project, rel),
        )
        return {r[0]: int(r[1]) for r in rows}

    def replace_file(
        self,
        rel: str,
        sha256: str,
        size: int,
        mtime: float,
        chunks: Sequence[tuple[str, Chunk]],
        extra_terms: Sequence[str] | None = None,
    ) -> tuple[list[str], list[str]]:
        """As :meth:`LexicalIndex.replace_file`: (added uids, removed uids)."""
        added, removed = self.replace_chunks(rel, chunks, extra_terms)
        self.conn.execute(
            "INSERT INTO aiw_kb_files(project, rel, sha256, size, mtime, chunks, indexed) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (project, rel) DO UPDATE SET "
            "sha256 = EXCLUDED.sha256, size = EXCLUDED.size, mtime = EXCLUDED.mtime, "
            "chunks = EXCLUDED.chunks, indexed = EXCLUDED.indexed",
            (self.project, rel, sha256, size, mtime, len(chunks), time.time()),
        )
        return added, removed

    def replace_chunks(
        self,
        rel: str,
        chunks: Sequence[tuple[str, Chunk]],
        extra_terms: Sequence[str] | None = None,
    ) -> tuple[list[str], list[str]]:
        """The chunk part of :meth:`replace_file` (no manifest row)."""
        old = self.chunk_uids(rel)
        new_uids = {uid for uid, _ in chunks}
        removed = [uid for uid in old if uid not in new_uids]
        if removed:
            self.conn.execute(
                "DELETE FROM aiw_kb_chunks WHERE id = ANY(%s)", ([old[u] for u in removed],)
            )
        path_terms = rel + " " + split_identifiers(rel)
        added: list[str] = []
        updates: list[tuple[Any, ...]] = []
        inserts: list[tuple[Any, ...]] = []
        for index, (uid, chunk) in enumerate(chunks):
            if uid in old:
                updates.append((chunk.start, chunk.end, chunk.title, old[uid]))
                continue
            extra = extra_terms[index] if extra_terms is not None else None
            if extra is None:
                extra = split_identifiers(chunk.text)
            title_terms = chunk.title + " " + split_identifiers(chunk.title)
            # NUL bytes are not allowed in Postgres text; a chunk never needs them
            text = chunk.text.replace("\x00", "")
            inserts.append(
                (self.project, uid, rel, chunk.start, chunk.end, chunk.kind, chunk.title, text,
                 path_terms, title_terms, text + "\n" + extra)
            )  # fmt: skip
            added.append(uid)
        with self.conn.cursor() as cur:
            if updates:
                cur.executemany(
                    "UPDATE aiw_kb_chunks SET start_line = %s, end_line = %s, title = %s "
                    "WHERE id = %s",
                    updates,
                )
            if inserts:
                cur.executemany(
                    "INSERT INTO aiw_kb_chunks(project, uid, rel, start_line, end_line, kind, "
                    f"title, text, tsv) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, {_TSV}) "
                    "ON CONFLICT (project, uid) DO NOTHING",
                    inserts,
                )
        return added, removed

    # --- documents from sources (aiw sources): chunks + a URL per chunk, no manifest row ---

    def put_document(
        self,
        rel: str,
        source: str,
        url: str,
        chunks: Sequence[tuple[str, Chunk, str]],
        priority: float = 0.0,
    ) -> tuple[list[str], list[str]]:
        added, removed = self.replace_chunks(rel, [(uid, chunk) for uid, chunk, _ in chunks])
        p = self.project
        self.conn.execute(
            "DELETE FROM aiw_kb_chunk_links WHERE project = %s AND uid = ANY(%s)", (p, removed)
        )
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO aiw_kb_chunk_links(project, uid, url) VALUES (%s, %s, %s) "
                "ON CONFLICT (project, uid) DO UPDATE SET url = EXCLUDED.url",
                [(p, uid, link or url) for uid, _, link in chunks],
            )
        self.conn.execute(
            "INSERT INTO aiw_kb_documents(project, rel, source, url, priority, indexed) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (project, rel) DO UPDATE SET "
            "source = EXCLUDED.source, url = EXCLUDED.url, priority = EXCLUDED.priority, "
            "indexed = EXCLUDED.indexed",
            (p, rel, source, url, priority, time.time()),
        )
        return added, removed

    def remove_document(self, rel: str) -> list[str]:
        rows = self._all(
            "DELETE FROM aiw_kb_chunks WHERE project = %s AND rel = %s RETURNING uid",
            (self.project, rel),
        )
        uids = [r[0] for r in rows]
        self.conn.execute(
            "DELETE FROM aiw_kb_chunk_links WHERE project = %s AND uid = ANY(%s)",
            (self.project, uids),
        )
        self.conn.execute(
            "DELETE FROM aiw_kb_documents WHERE project = %s AND rel = %s", (self.project, rel)
        )
        return uids

    def set_priority(self, rel: str, priority: float) -> None:
        self.conn.execute(
            "UPDATE aiw_kb_documents SET priority = %s WHERE project = %s AND rel = %s",
            (priority, self.project, rel),
        )

    def documents(self, source: str | None = None) -> dict[str, tuple[str, str, float]]:
        sql = "SELECT rel, source, url, priority FROM aiw_kb_documents WHERE project = %s"
        params: tuple[Any, ...] = (self.project,)
        if source:
            sql, params = sql + " AND source = %s", (self.project, source)
        return {r[0]: (r[1], r[2], float(r[3])) for r in self._all(sql, params)}

    def links(self, uids: Sequence[str]) -> dict[str, str]:
        rows = self._all(
            "SELECT uid, url FROM aiw_kb_chunk_links WHERE project = %s AND uid = ANY(%s)",
            (self.project, list(uids)),
        )
        return {r[0]: r[1] for r in rows}

    def priorities(self, rels: Sequence[str]) -> dict[str, float]:
        rows = self._all(
            "SELECT rel, priority FROM aiw_kb_documents WHERE project = %s AND priority != 0 "
            "AND rel = ANY(%s)",
            (self.project, list(dict.fromkeys(rels))),
        )
        return {r[0]: float(r[1]) for r in rows}

    def add_tombstones(self, uids: Iterable[str]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO aiw_kb_vector_tombstones(project, uid) VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING",
                [(self.project, u) for u in uids],
            )

    def tombstones(self) -> list[str]:
        rows = self._all(
            "SELECT uid FROM aiw_kb_vector_tombstones WHERE project = %s", (self.project,)
        )
        return [r[0] for r in rows]

    def clear_tombstones(self, uids: Sequence[str]) -> None:
        self.conn.execute(
            "DELETE FROM aiw_kb_vector_tombstones WHERE project = %s AND uid = ANY(%s)",
            (self.project, list(uids)),
        )

    def remove_file(self, rel: str) -> list[str]:
        rows = self._all(
            "DELETE FROM aiw_kb_chunks WHERE project = %s AND rel = %s RETURNING uid",
            (self.project, rel),
        )
        self.conn.execute(
            "DELETE FROM aiw_kb_files WHERE project = %s AND rel = %s", (self.project, rel)
        )
        return [r[0] for r in rows]

    # --- vectors bookkeeping ---

    def unembedded(self, limit: int) -> list[StoredChunk]:
        rows = self._all(
            f"SELECT {_COLUMNS} FROM aiw_kb_chunks WHERE project = %s AND embedded = 0 "
            "ORDER BY id LIMIT %s",
            (self.project, limit),
        )
        return [_stored(r) for r in rows]

    def count_unembedded(self) -> int:
        rows = self._all(
            "SELECT count(*) FROM aiw_kb_chunks WHERE project = %s AND embedded = 0",
            (self.project,),
        )
        return int(rows[0][0])

    def mark_embedded(self, ids: Iterable[int], value: int = 1) -> None:
        self.conn.execute(
            # sorted: concurrent writers lock rows in one order (no deadlock)
            "UPDATE aiw_kb_chunks SET embedded = %s WHERE id = ANY(%s)",
            (value, sorted(ids)),
        )

    def reset_embedded(self) -> None:
        self.conn.execute(
            "UPDATE aiw_kb_chunks SET embedded = 0 WHERE project = %s", (self.project,)
        )

    # --- reads ---

    def counts(self) -> tuple[int, int]:
        files = self._all("SELECT count(*) FROM aiw_kb_files WHERE project = %s", (self.project,))
        chunks = self._all("SELECT count(*) FROM aiw_kb_chunks WHERE project = %s", (self.project,))
        return int(files[0][0]), int(chunks[0][0])

    def by_uids(self, uids: Sequence[str]) -> dict[str, StoredChunk]:
        if not uids:
            return {}
        rows = self._all(
            f"SELECT {_COLUMNS} FROM aiw_kb_chunks WHERE project = %s AND uid = ANY(%s)",
            (self.project, list(uids)),
        )
        return {r[1]: _stored(r) for r in rows}

    def covering(self, rel: str, start: int, end: int) -> list[str]:
        """Uids of the chunks of ``rel`` that overlap lines ``start``–``end``."""
        rows = self._all(
            "SELECT uid FROM aiw_kb_chunks WHERE project = %s AND rel = %s "
            "AND start_line <= %s AND end_line >= %s",
            (self.project, rel, end, start),
        )
        return [r[0] for r in rows]

    def uids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        rows = self._all(
            "SELECT uid FROM aiw_kb_chunks WHERE project = %s AND uid LIKE %s LIMIT %s",
            (self.project, prefix.replace("%", "").replace("_", r"\_") + "%", limit),
        )
        return [r[0] for r in rows]

    def search(self, query: str, limit: int) -> list[tuple[StoredChunk, float]]:
        """Full-text matches (any term or compound), best first, positive scores.

        Postgres' ts_rank knows nothing of how rare a word is, which BM25 (the local index)
        weighs most: measured on bench/retrieval_eval.py (pytest's tree, 200 queries) plain
        ts_rank_cd gave Recall@10 0.905 / MRR 0.668 against BM25's 0.959 / 0.848. So each
        term's ts_rank is weighted by its BM25 idf, counted on the GIN index per query."""
        terms = query_terms(query)
        terms = [t for t in terms if t not in BM25_SKIP] or terms
        words = [t for t in dict.fromkeys([*terms, *compounds(terms)]) if _TERM.match(t)]
        if not words:
            return []
        rows = self._all(
            "WITH n AS (SELECT count(*)::float8 AS n FROM aiw_kb_chunks WHERE project = %s), "
            "raw AS (SELECT to_tsquery('english', t) AS q FROM unnest(%s::text[]) AS t), "
            "terms AS (SELECT q, (SELECT count(*) FROM aiw_kb_chunks "
            "  WHERE project = %s AND tsv @@ raw.q)::float8 AS df FROM raw "
            "  WHERE numnode(q) > 0), "
            "weighted AS (SELECT q, ln(1 + (n.n - df + 0.5) / (df + 0.5)) AS idf "
            "  FROM terms, n WHERE df > 0) "
            f"SELECT {', '.join('c.' + c for c in _COLUMNS.split(', '))}, "
            f"(SELECT sum(w.idf * {RANK_SQL}) FROM weighted w WHERE c.tsv @@ w.q) AS score "
            "FROM aiw_kb_chunks c WHERE c.project = %s "
            "AND c.tsv @@ to_tsquery('english', %s) "  # any term: the GIN index finds them
            "ORDER BY score DESC NULLS LAST, c.id LIMIT %s",
            (
                self.project,
                words,
                self.project,
                RANK_WEIGHTS,
                self.project,
                " | ".join(words),
                limit,
            ),
        )
        return [(_stored(r), float(r[8]) * 100 + 1e-6) for r in rows]

    def files_with_all(self, terms: Sequence[str]) -> int:
        """As :meth:`LexicalIndex.files_with_all`, on the server."""
        every: list[str] = []
        for term in terms:
            word, prefix = _quoted(term), _quoted(stem(term))
            if word is None or prefix is None:
                continue
            every.append(f"({word} | {prefix}:*)")
        if not every:
            return 0
        joined = [q for q in (_quoted(c) for c in compounds(terms)) if q]
        query = " & ".join(every)
        if joined:
            query = f"({query}) | " + " | ".join(joined)
        try:
            rows = self._all(
                "SELECT count(DISTINCT rel) FROM aiw_kb_chunks "
                "WHERE project = %s AND tsv @@ to_tsquery('english', %s)",
                (self.project, query),
            )
        except Exception:
            return 0
        return int(rows[0][0]) if rows else 0

    def used_terms(self, terms: Sequence[str]) -> list[str]:
        used = {t for t in terms if self.files_with_all([t])}
        for left, right in itertools.pairwise(terms):
            if not {left, right} <= used and self.files_with_all([left, right]):
                used.update((left, right))
        return [t for t in terms if t in used]

    # --- feedback with the query it was given for (shared by the team) ---

    def add_query_feedback(self, uid: str, query: str, rating: int) -> None:
        with self.conn.transaction():
            self.conn.execute(
                "DELETE FROM aiw_kb_query_feedback WHERE project = %s AND uid = %s "
                "AND query = %s AND who = %s",
                (self.project, uid, query, self.who),
            )
            self.conn.execute(
                "INSERT INTO aiw_kb_query_feedback(project, uid, query, rating, who, created) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (self.project, uid, query, rating, self.who, time.time()),
            )

    def query_feedback(self, uids: Sequence[str]) -> list[tuple[str, str, int]]:
        if not uids:
            return []
        rows = self._all(
            "SELECT uid, query, rating FROM aiw_kb_query_feedback "
            "WHERE project = %s AND uid = ANY(%s)",
            (self.project, list(uids)),
        )
        return [(r[0], r[1], int(r[2])) for r in rows]

    def save_last_search(self, query: str, uids: Sequence[str]) -> None:
        with self.conn.transaction():
            self.conn.execute(
                "DELETE FROM aiw_kb_last_search WHERE project = %s AND who = %s",
                (self.project, self.who),
            )
            with self.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO aiw_kb_last_search(project, who, rank, uid, query) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    [(self.project, self.who, i, uid, query) for i, uid in enumerate(uids, 1)],
                )

    def last_search(self) -> list[tuple[int, str, str]]:
        rows = self._all(
            "SELECT rank, uid, query FROM aiw_kb_last_search WHERE project = %s AND who = %s "
            "ORDER BY rank",
            (self.project, self.who),
        )
        return [(int(r[0]), r[1], r[2]) for r in rows]


def _stored(row: Sequence[Any]) -> StoredChunk:
    from ai_workbench.core.redact import redact_text

    return StoredChunk(
        int(row[0]), row[1], row[2], int(row[3]), int(row[4]), row[5],
        redact_text(row[6]), redact_text(row[7], filename=row[2]),
    )  # fmt: skip


class PgVectors:
    """A project's vectors in the same database (pgvector, cosine distance, HNSW index).

    One table per collection (project key + embedding model, as Chroma's collection name), made
    at the first write when the vectors' dimension is known."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.where = f"postgres:{shown_url(url)}"
        digest = hashlib.sha1(name.encode()).hexdigest()[:16]
        self.table = f"aiw_kbv_{digest}"
        self.conn = connect(url)
        try:
            self.conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            from pgvector.psycopg import register_vector

            register_vector(self.conn)
        except Exception as exc:
            self.conn.close()
            raise PostgresError(
                f"pgvector is not available at {shown_url(url)}: {type(exc).__name__}: {exc}; "
                "install the extension (CREATE EXTENSION vector) or use knowledge.backend = "
                '"chroma"'
            ) from None

    def _exists(self) -> bool:
        row = self.conn.execute("SELECT to_regclass(%s)", (self.table,)).fetchone()
        return bool(row and row[0])

    def _create(self, dim: int) -> None:
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(7262102)")
            self.conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (uid TEXT PRIMARY KEY, "
                f"rel TEXT NOT NULL, embedding vector({int(dim)}) NOT NULL)"
            )
            self.conn.execute(
                f"CREATE INDEX IF NOT EXISTS {self.table}_hnsw ON {self.table} "
                "USING hnsw (embedding vector_cosine_ops)"
            )

    def upsert(
        self, uids: Sequence[str], vectors: Sequence[Sequence[float]], rels: Sequence[str]
    ) -> None:
        if not uids:
            return
        import numpy as np

        if not self._exists():
            self._create(len(vectors[0]))
        rows = [
            (uid, rel, np.asarray(vec, dtype=np.float32))
            for uid, rel, vec in zip(uids, rels, vectors, strict=True)
        ]
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {self.table}(uid, rel, embedding) VALUES (%s, %s, %s) "
                "ON CONFLICT (uid) DO UPDATE SET rel = EXCLUDED.rel, "
                "embedding = EXCLUDED.embedding",
                rows,
            )

    def delete(self, uids: Sequence[str]) -> None:
        if uids and self._exists():
            self.conn.execute(f"DELETE FROM {self.table} WHERE uid = ANY(%s)", (list(uids),))

    def query(self, vector: Sequence[float], limit: int) -> list[tuple[str, float]]:
        """(uid, cosine similarity), best first."""
        if not self._exists():
            return []
        import numpy as np

        rows = self.conn.execute(
            f"SELECT uid, 1 - (embedding <=> %s) FROM {self.table} "
            "ORDER BY embedding <=> %s LIMIT %s",
            (np.asarray(vector, dtype=np.float32),) * 2 + (limit,),
        ).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    def count(self) -> int:
        if not self._exists():
            return 0
        return int(self.conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0])

    def close(self) -> None:
        self.conn.close()
