"""The per-project SQLite file: manifest of content hashes, chunks, FTS5 index, feedback.

One file per project (``<data dir>/knowledge/<project key>/index.db``, WAL mode). The manifest
(``files``) is what makes re-indexing incremental: a file whose size and mtime match is not even
read; one whose bytes hash the same is not re-chunked. Lexical search is FTS5's BM25 over three
columns (path, title, body) weighted so a match in a file or definition name counts most.
Identifiers are split (``parse_args`` and ``parseArgs`` also index ``parse`` and ``args``).
"""

from __future__ import annotations

import functools
import itertools
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ai_workbench.knowledge.chunkers import Chunk

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    rel      TEXT PRIMARY KEY,
    sha256   TEXT NOT NULL,
    size     INTEGER NOT NULL,
    mtime    REAL NOT NULL,
    chunks   INTEGER NOT NULL,
    indexed  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id        INTEGER PRIMARY KEY,
    uid       TEXT NOT NULL UNIQUE,
    rel       TEXT NOT NULL,
    start     INTEGER NOT NULL,
    end       INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    title     TEXT NOT NULL,
    text      TEXT NOT NULL,
    embedded  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_rel ON chunks(rel);
CREATE INDEX IF NOT EXISTS chunks_embedded ON chunks(embedded);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    path, title, body, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS query_feedback (
    id       INTEGER PRIMARY KEY,
    uid      TEXT NOT NULL,
    query    TEXT NOT NULL,
    rating   INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    created  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS query_feedback_uid ON query_feedback(uid);
-- Documents from outside the tree (aiw sources): never in ``files`` (the walker's manifest),
-- so ``aiw index`` neither sees nor deletes them. ``priority`` comes from ratings.
CREATE TABLE IF NOT EXISTS documents (
    rel       TEXT PRIMARY KEY,
    source    TEXT NOT NULL,
    url       TEXT NOT NULL,
    priority  REAL NOT NULL DEFAULT 0,
    indexed   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source);
CREATE TABLE IF NOT EXISTS chunk_links (uid TEXT PRIMARY KEY, url TEXT NOT NULL);
-- Chunks removed in a run whose vectors are still to be deleted (a run without embedding,
-- like the watcher's, or one whose vector store was unreachable).
CREATE TABLE IF NOT EXISTS vector_tombstones (uid TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS last_search (
    rank   INTEGER PRIMARY KEY,
    uid    TEXT NOT NULL,
    query  TEXT NOT NULL
);
"""

# BM25 weights for (path, title, body).
WEIGHTS = (4.0, 3.0, 1.0)
_CAMEL_IDENT = re.compile(r"\b[A-Za-z][a-z0-9]+[A-Z][A-Za-z0-9]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
# Only function words: a content word ("added", "fix", "use") is evidence of what the user
# means, both for BM25 and for the match score that decides the clarifying question.
STOPWORDS = frozenset(
    """a about an and are as at be been but by can could did do does for from had has have how i
    if in into is it its me my no not of on or our should so than that the their them then
    there these they this those to was we were what when where which who whom why will with
    would you your""".split()  # noqa: SIM905
)
# Task verbs that BM25 leaves out of its OR query unless nothing else is left ("Fix the crash
# when…", "Add support for…"): they match thousands of chunks and, measured on
# bench/retrieval_eval.py, cost Recall@10 0.959 → 0.947. They still count as evidence in the
# match score (service._coverage): "where is VAT added" needs a chunk that adds VAT.
BM25_SKIP = frozenset("fix fixed fixes add added adds use using used uses".split())  # noqa: SIM905


def split_identifiers(text: str) -> str:
    """The parts of camelCase identifiers, for the FTS body.

    snake_case needs nothing: FTS5's unicode61 tokenizer already splits on ``_``.
    """
    parts: list[str] = []
    for ident in _CAMEL_IDENT.findall(text):
        parts.extend(_CAMEL.findall(ident))
    return " ".join(parts)


@functools.lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A crude suffix strip (secrets → secret, redacted → redact), for the coverage score."""
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", ""),
                         ("s", "")):  # fmt: skip
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)] + repl
            break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


def query_terms(query: str) -> list[str]:
    """Lower-case search terms: words and identifier parts, minus stop words, in order."""
    words: list[str] = []
    for token in re.findall(r"\w+", query):
        words.append(token.lower())
        for part in _CAMEL.findall(token.replace("_", " ")):
            words.append(part.lower())
    seen: dict[str, None] = {}
    for word in words:
        if len(word) > 1 and word not in STOPWORDS and not word.isdigit():
            seen.setdefault(word)
    return list(seen)


def compounds(terms: Sequence[str]) -> list[str]:
    """Closed compounds of adjacent query terms: "times out" → ``timeout``, "set up" →
    ``setup``, "back up" → ``backup`` (docs write them as one word, users as two)."""
    out: list[str] = []
    for left, right in itertools.pairwise(terms):
        heads = (left, stem(left), left[:-1] if left.endswith("s") else left)
        for head in dict.fromkeys(heads):
            word = head + right
            if len(word) >= 5 and word not in out:
                out.append(word)
    return out


@dataclass(frozen=True)
class StoredChunk:
    id: int
    uid: str
    rel: str
    start: int
    end: int
    kind: str
    title: str
    text: str

    @property
    def location(self) -> str:
        return f"{self.rel}:{self.start}-{self.end}"


@dataclass(frozen=True)
class ManifestEntry:
    sha256: str
    size: int
    mtime: float
    chunks: int


#: Seconds a writer waits for another one (the watcher, `aiw index` in another terminal).
LOCK_TIMEOUT = 300.0


class LexicalIndex:
    """Synchronous access to one project's index file (one connection, one thread at a time)."""

    def __init__(self, path: Path) -> None:
        from ai_workbench.core.db import enable_wal
        from ai_workbench.core.paths import private_file

        private_file(path)  # 0600 in a 0700 dir: it holds the project's text
        self.path = path
        self.db = sqlite3.connect(path, timeout=LOCK_TIMEOUT, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        # Deleted chunks (a file re-indexed once its secret is redacted) are overwritten.
        self.db.execute("PRAGMA secure_delete=ON")
        # another process creating the same index (watcher, `aiw index`, a sync) can make the
        # journal-mode switch fail at once, without waiting: retried
        enable_wal(self.db, LOCK_TIMEOUT)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One index run's writes, all or nothing (readers never see half a run).

        IMMEDIATE takes the write lock at the start: a second writer (the watcher, `aiw index`
        in another terminal) waits for it (``timeout``) instead of failing with "database is
        locked" when a deferred transaction tries to upgrade midway."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- meta and manifest ---

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def manifest(self) -> dict[str, ManifestEntry]:
        rows = self.db.execute("SELECT rel, sha256, size, mtime, chunks FROM files")
        return {r[0]: ManifestEntry(r[1], r[2], r[3], r[4]) for r in rows}

    def touch(self, rel: str, size: int, mtime: float) -> None:
        self.db.execute("UPDATE files SET size = ?, mtime = ? WHERE rel = ?", (size, mtime, rel))

    # --- writes (callers wrap batches in `with index.db:`) ---

    def chunk_uids(self, rel: str) -> dict[str, int]:
        rows = self.db.execute("SELECT uid, id FROM chunks WHERE rel = ?", (rel,))
        return {r[0]: r[1] for r in rows}

    def replace_file(
        self,
        rel: str,
        sha256: str,
        size: int,
        mtime: float,
        chunks: Sequence[tuple[str, Chunk]],
        extra_terms: Sequence[str] | None = None,
    ) -> tuple[list[str], list[str]]:
        """Make ``rel``'s chunks exactly ``chunks``; return (added uids, removed uids).

        Chunks whose uid (content) is unchanged keep their row and their vector.
        ``extra_terms[i]`` is ``split_identifiers(chunks[i].text)`` when the caller computed it
        already (in a worker process).
        """
        added, removed = self.replace_chunks(rel, chunks, extra_terms)
        self.db.execute(
            "INSERT OR REPLACE INTO files(rel, sha256, size, mtime, chunks, indexed) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (rel, sha256, size, mtime, len(chunks), time.time()),
        )
        return added, removed

    def replace_chunks(
        self,
        rel: str,
        chunks: Sequence[tuple[str, Chunk]],
        extra_terms: Sequence[str] | None = None,
    ) -> tuple[list[str], list[str]]:
        """The chunk part of :meth:`replace_file` (no manifest row): (added, removed) uids."""
        old = self.chunk_uids(rel)
        new_uids = {uid for uid, _ in chunks}
        removed = [uid for uid in old if uid not in new_uids]
        for uid in removed:
            self._delete_chunk(old[uid])
        added: list[str] = []
        path_terms = rel + " " + split_identifiers(rel)
        fts_rows = []
        for index, (uid, chunk) in enumerate(chunks):
            if uid in old:
                self.db.execute(
                    "UPDATE chunks SET start = ?, end = ?, title = ? WHERE id = ?",
                    (chunk.start, chunk.end, chunk.title, old[uid]),
                )
                continue
            cursor = self.db.execute(
                "INSERT INTO chunks(uid, rel, start, end, kind, title, text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (uid, rel, chunk.start, chunk.end, chunk.kind, chunk.title, chunk.text),
            )
            extra = extra_terms[index] if extra_terms is not None else None
            if extra is None:
                extra = split_identifiers(chunk.text)
            body = chunk.text + "\n" + extra
            title_terms = chunk.title + " " + split_identifiers(chunk.title)
            fts_rows.append((cursor.lastrowid, path_terms, title_terms, body))
            added.append(uid)
        self.db.executemany(
            "INSERT INTO chunks_fts(rowid, path, title, body) VALUES (?, ?, ?, ?)", fts_rows
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
        """Make document ``rel``'s chunks exactly ``chunks`` (uid, chunk, its URL)."""
        added, removed = self.replace_chunks(rel, [(uid, chunk) for uid, chunk, _ in chunks])
        self.db.executemany("DELETE FROM chunk_links WHERE uid = ?", [(u,) for u in removed])
        self.db.executemany(
            "INSERT OR REPLACE INTO chunk_links(uid, url) VALUES (?, ?)",
            [(uid, link or url) for uid, _, link in chunks],
        )
        self.db.execute(
            "INSERT OR REPLACE INTO documents(rel, source, url, priority, indexed) "
            "VALUES (?, ?, ?, ?, ?)",
            (rel, source, url, priority, time.time()),
        )
        return added, removed

    def remove_document(self, rel: str) -> list[str]:
        old = self.chunk_uids(rel)
        for chunk_id in old.values():
            self._delete_chunk(chunk_id)
        self.db.executemany("DELETE FROM chunk_links WHERE uid = ?", [(u,) for u in old])
        self.db.execute("DELETE FROM documents WHERE rel = ?", (rel,))
        return list(old)

    def set_priority(self, rel: str, priority: float) -> None:
        self.db.execute("UPDATE documents SET priority = ? WHERE rel = ?", (priority, rel))

    def documents(self, source: str | None = None) -> dict[str, tuple[str, str, float]]:
        """rel → (source, url, priority) of the documents from sources (of ``source``)."""
        sql = "SELECT rel, source, url, priority FROM documents"
        rows = self.db.execute(sql + (" WHERE source = ?" if source else ""),
                               (source,) if source else ())  # fmt: skip
        return {r[0]: (r[1], r[2], float(r[3])) for r in rows}

    def links(self, uids: Sequence[str]) -> dict[str, str]:
        """uid → URL for the chunks that came from a source."""
        out: dict[str, str] = {}
        for start in range(0, len(uids), 500):
            part = list(uids[start : start + 500])
            rows = self.db.execute(
                f"SELECT uid, url FROM chunk_links WHERE uid IN ({', '.join('?' * len(part))})",
                part,
            )
            out.update((r[0], r[1]) for r in rows)
        return out

    def priorities(self, rels: Sequence[str]) -> dict[str, float]:
        wanted = list(dict.fromkeys(rels))
        out: dict[str, float] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            rows = self.db.execute(
                "SELECT rel, priority FROM documents WHERE priority != 0 AND rel IN "
                f"({', '.join('?' * len(part))})",
                part,
            )
            out.update((r[0], float(r[1])) for r in rows)
        return out

    def remove_file(self, rel: str) -> list[str]:
        old = self.chunk_uids(rel)
        for chunk_id in old.values():
            self._delete_chunk(chunk_id)
        self.db.execute("DELETE FROM files WHERE rel = ?", (rel,))
        return list(old)

    def _delete_chunk(self, chunk_id: int) -> None:
        self.db.execute("DELETE FROM chunks_fts WHERE rowid = ?", (chunk_id,))
        self.db.execute("DELETE FROM chunks WHERE id = ?", (chunk_id,))

    # --- vectors bookkeeping ---

    def add_tombstones(self, uids: Iterable[str]) -> None:
        """Within the caller's transaction: these chunks' vectors are to be deleted."""
        self.db.executemany("INSERT OR IGNORE INTO vector_tombstones(uid) VALUES (?)",
                            [(u,) for u in uids])  # fmt: skip

    def tombstones(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT uid FROM vector_tombstones")]

    def clear_tombstones(self, uids: Sequence[str]) -> None:
        with self.db:
            self.db.executemany("DELETE FROM vector_tombstones WHERE uid = ?",
                                [(u,) for u in uids])  # fmt: skip

    def unembedded(self, limit: int) -> list[StoredChunk]:
        rows = self.db.execute(
            "SELECT * FROM chunks WHERE embedded = 0 ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        return [_stored(r) for r in rows]

    def count_unembedded(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM chunks WHERE embedded = 0").fetchone()[0])

    def mark_embedded(self, ids: Iterable[int], value: int = 1) -> None:
        with self.db:
            self.db.executemany("UPDATE chunks SET embedded = ? WHERE id = ?",
                                [(value, i) for i in ids])  # fmt: skip

    def switch_vectors(self, where: str) -> None:
        """Record where the vectors live; when that changed, every chunk needs its vector."""
        with self.transaction():
            if self.get_meta("vectors") != where:
                self.db.execute("UPDATE chunks SET embedded = 0")
                self.db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('vectors', ?)", (where,)
                )

    def reset_embedded(self) -> None:
        with self.db:
            self.db.execute("UPDATE chunks SET embedded = 0")

    # --- reads ---

    def counts(self) -> tuple[int, int]:
        files = self.db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        chunks = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(files), int(chunks)

    def by_uids(self, uids: Sequence[str]) -> dict[str, StoredChunk]:
        result: dict[str, StoredChunk] = {}
        for start in range(0, len(uids), 500):
            part = list(uids[start : start + 500])
            rows = self.db.execute(
                f"SELECT * FROM chunks WHERE uid IN ({', '.join('?' * len(part))})", part
            )
            for row in rows:
                result[row["uid"]] = _stored(row)
        return result

    def covering(self, rel: str, start: int, end: int) -> list[str]:
        """Uids of the chunks of ``rel`` that overlap lines ``start``–``end``."""
        rows = self.db.execute(
            "SELECT uid FROM chunks WHERE rel = ? AND start <= ? AND end >= ?", (rel, end, start)
        ).fetchall()
        return [row[0] for row in rows]

    def uids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        rows = self.db.execute(
            "SELECT uid FROM chunks WHERE uid LIKE ? LIMIT ?", (prefix + "%", limit)
        ).fetchall()
        return [row[0] for row in rows]

    def search(self, query: str, limit: int) -> list[tuple[StoredChunk, float]]:
        """BM25 matches, best first, with a positive score (higher is better)."""
        terms = query_terms(query)
        terms = [t for t in terms if t not in BM25_SKIP] or terms
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in [*terms, *compounds(terms)])
        rows = self.db.execute(
            "SELECT c.*, -bm25(chunks_fts, ?, ?, ?) AS score FROM chunks_fts "
            "JOIN chunks c ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH ? "
            "ORDER BY bm25(chunks_fts, ?, ?, ?) LIMIT ?",
            (*WEIGHTS, match, *WEIGHTS, limit),
        ).fetchall()
        return [(_stored(r), float(r["score"])) for r in rows]

    def files_with_all(self, terms: Sequence[str]) -> int:
        """How many files hold every term (or a word it begins) in some chunk, or hold
        the terms' compound: the places a query matches as well as any other."""
        if not terms:
            return 0
        # each term as FTS5's porter stemmer reads it, or by aiw's crude stem as a prefix
        every = " AND ".join(f'("{t}" OR "{stem(t)}"*)' for t in terms)
        joined = " OR ".join(f'"{c}"' for c in compounds(terms))
        match = f"({every}) OR {joined}" if joined else every
        try:
            row = self.db.execute(
                "SELECT count(DISTINCT c.rel) FROM chunks_fts JOIN chunks c "
                "ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH ?",
                (match,),
            ).fetchone()
        except sqlite3.Error:
            return 0
        return int(row[0]) if row else 0

    def used_terms(self, terms: Sequence[str]) -> list[str]:
        """The terms the index uses somewhere, alone or in a compound with a neighbour."""
        used = {t for t in terms if self.files_with_all([t])}
        for left, right in itertools.pairwise(terms):
            if not {left, right} <= used and self.files_with_all([left, right]):
                used.update((left, right))  # e.g. "times out" for "timeout"
        return [t for t in terms if t in used]

    # --- feedback with the query it was given for ---

    def add_query_feedback(self, uid: str, query: str, rating: int) -> None:
        with self.db:
            self.db.execute("DELETE FROM query_feedback WHERE uid = ? AND query = ?", (uid, query))
            self.db.execute(
                "INSERT INTO query_feedback(uid, query, rating, created) VALUES (?, ?, ?, ?)",
                (uid, query, rating, time.time()),
            )

    def query_feedback(self, uids: Sequence[str]) -> list[tuple[str, str, int]]:
        out: list[tuple[str, str, int]] = []
        for start in range(0, len(uids), 500):
            part = list(uids[start : start + 500])
            rows = self.db.execute(
                "SELECT uid, query, rating FROM query_feedback "
                f"WHERE uid IN ({', '.join('?' * len(part))})",
                part,
            )
            out.extend((r[0], r[1], r[2]) for r in rows)
        return out

    def save_last_search(self, query: str, uids: Sequence[str]) -> None:
        with self.db:
            self.db.execute("DELETE FROM last_search")
            self.db.executemany(
                "INSERT INTO last_search(rank, uid, query) VALUES (?, ?, ?)",
                [(i, uid, query) for i, uid in enumerate(uids, 1)],
            )

    def last_search(self) -> list[tuple[int, str, str]]:
        rows = self.db.execute("SELECT rank, uid, query FROM last_search ORDER BY rank")
        return [(r[0], r[1], r[2]) for r in rows]


def _stored(row: sqlite3.Row) -> StoredChunk:
    # Redacted again on the way out: an index written before aiw redacted indexed text (or
    # before redact.py learnt a token family) never shows a secret it holds.
    title, text = _redacted(row["uid"], row["rel"], row["title"], row["text"])
    return StoredChunk(
        row["id"], row["uid"], row["rel"], row["start"], row["end"], row["kind"], title, text,
    )  # fmt: skip


@functools.lru_cache(maxsize=4096)
def _redacted(uid: str, rel: str, title: str, text: str) -> tuple[str, str]:
    """A chunk's title and text, redacted; cached, since every search reads ~100 candidates
    and redaction was over half of a search's time (the same chunks come back again and again;
    the cache key holds the text itself, so a changed chunk is redacted anew)."""
    from ai_workbench.core.redact import redact_text

    return redact_text(title), redact_text(text, filename=rel)
