"""MemoryService: what aiw remembers about a user, in three tiers the user can see and clear.

* **long** — facts the user gave (``aiw memory add``) or confirmed when the model proposed them
  (the ``remember_fact`` tool, memory/tools.py). *Pinned* facts form the **profile block** that
  goes into every system prompt (newest first, cut at ``memory.profile_tokens``); the other
  facts are *recalled* when a prompt is about them: hybrid search, BM25 over ``memories_fts``
  fused with the knowledge index's embedder (cosine, the same weighted score fusion as
  ``aiw search``), top ``memory.recall``.
* **medium** — a summary of each finished session, kept ``memory.medium_days`` days, searchable
  (``aiw memory search``).
* **short** — the rolling summary of a long session's older turns, written when the session no
  longer fits the model's window (chat sends it instead of dropping those turns).

Every text goes through :func:`ai_workbench.core.redact.redact` before it is stored; every
method takes ``owner`` (the user, ``"local"`` for the workbench and the CLI) and never reads or
changes another owner's rows.

Usage::

    memory = MemoryService(store, settings.memory, settings.knowledge)
    fact, redacted = await memory.add("I work in Europe/Berlin time, Python 3.12")
    section = await memory.system_section("how do I schedule a cron job?")
"""

from __future__ import annotations

import array
import asyncio
import re
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from ai_workbench.core.context import estimate_tokens
from ai_workbench.core.db import Database, StoreError, from_row
from ai_workbench.core.errors import EXIT_INPUT, InputError
from ai_workbench.core.redact import redact

if TYPE_CHECKING:
    from ai_workbench.core.settings import KnowledgeSettings, MemorySettings

__all__ = [
    "PROFILE_HEADING",
    "RECALL_HEADING",
    "TIERS",
    "Memory",
    "MemoryNotFound",
    "MemoryService",
    "Tier",
]

Tier = Literal["short", "medium", "long"]
TIERS: Final[tuple[str, ...]] = ("short", "medium", "long")
LOCAL: Final = "local"
PROFILE_HEADING: Final = "## What the user told you about themselves"
RECALL_HEADING: Final = "## Facts the user told you before that may be relevant"
MAX_FACT_CHARS: Final = 2_000
DAY: Final = 86_400.0
# A recalled fact needs a query word in it or a cosine this high. The built-in static vectors
# give a close paraphrase 0.48-0.52 but also unrelated pairs up to 0.43 (measured), so only
# strong matches pass; e5's cosines all sit high (unrelated 0.7-0.8) and need their own bar.
MIN_COSINE: Final = 0.45
MIN_COSINE_E5: Final = 0.85

_COLUMNS = (
    "id, owner, tier, content, pinned, source, session_id, covers_until, created, updated, expires"
)


class MemoryNotFound(StoreError):
    """No memory of this user has this id."""

    exit_code = EXIT_INPUT

    def __init__(self, memory_id: int) -> None:
        super().__init__(f"no memory with id {memory_id}; `aiw memory list` shows them")
        self.memory_id = memory_id


@dataclass(slots=True)
class Memory:
    id: int
    owner: str
    tier: str
    content: str
    pinned: bool
    source: str
    session_id: str | None
    covers_until: int | None
    created: float
    updated: float
    expires: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tier": self.tier,
            "content": self.content,
            "pinned": self.pinned,
            "source": self.source,
            "session_id": self.session_id,
            "created": self.created,
            "updated": self.updated,
            "expires": self.expires,
        }


@dataclass(frozen=True, slots=True)
class Added:
    """A stored fact and what redaction replaced in it (``{kind: count}``)."""

    memory: Memory
    redacted: dict[str, int]
    duplicate: bool = False


class MemoryService:
    """Memory per user on the aiw database (tables in memory/schema.py)."""

    def __init__(
        self,
        store: Database,
        settings: MemorySettings | None = None,
        knowledge: KnowledgeSettings | None = None,
    ) -> None:
        from ai_workbench.core.settings import MemorySettings

        self.store = store
        self.settings = settings or MemorySettings()
        self.knowledge = knowledge
        self._embedder: Any = None
        self._embedder_tried = False

    # ---- long tier: facts

    async def add(
        self,
        content: str,
        *,
        owner: str = LOCAL,
        pinned: bool = True,
        source: Literal["user", "model"] = "user",
    ) -> Added:
        """Store a fact (redacted first); the same text again returns the stored one."""
        text, counts = _clean(content)
        now = time.time()
        async with self.store._read() as db:
            row = await self.store._one(
                db,
                f"SELECT {_COLUMNS} FROM memories WHERE owner = ? AND tier = 'long'"
                " AND content = ?",
                (owner, text),
            )
        if row is not None:
            return Added(_memory(row), counts, duplicate=True)
        vector, embedder = await self._embed(text)
        async with self.store._write() as db:
            memory_id = await self.store._insert(
                db,
                "memories",
                {
                    "owner": owner, "tier": "long", "content": text, "pinned": int(pinned),
                    "source": source, "vector": vector, "embedder": embedder,
                    "created": now, "updated": now,
                },
            )  # fmt: skip
        return Added(await self.get(memory_id, owner=owner), counts)

    async def edit(
        self, memory_id: int, content: str, *, owner: str = LOCAL, pinned: bool | None = None
    ) -> Added:
        """Replace a fact's text (redacted first), optionally (un)pin it."""
        current = await self.get(memory_id, owner=owner)
        text, counts = _clean(content)
        changes: dict[str, Any] = {"content": text, "updated": time.time()}
        if pinned is not None:
            changes["pinned"] = int(pinned)
        if current.tier == "long" and text != current.content:
            changes["vector"], changes["embedder"] = await self._embed(text)
        async with self.store._write() as db:
            await self.store._update(
                db, "memories", changes, memory_id, missing=MemoryNotFound(memory_id)
            )
        return Added(await self.get(memory_id, owner=owner), counts)

    async def get(self, memory_id: int, *, owner: str = LOCAL) -> Memory:
        async with self.store._read() as db:
            row = await self.store._one(
                db,
                f"SELECT {_COLUMNS} FROM memories WHERE id = ? AND owner = ?",
                (memory_id, owner),
            )
        if row is None:
            raise MemoryNotFound(memory_id)
        return _memory(row)

    async def forget(self, memory_id: int, *, owner: str = LOCAL) -> Memory:
        """Delete one memory (any tier) of this user; return what it was."""
        memory = await self.get(memory_id, owner=owner)
        async with self.store._write() as db:
            await self.store._run(
                db, "DELETE FROM memories WHERE id = ? AND owner = ?", (memory_id, owner)
            )
        return memory

    async def list(self, tier: str | None = None, *, owner: str = LOCAL) -> list[Memory]:
        """This user's memories (expired session summaries left out), newest first; long-tier
        facts pinned first."""
        if tier is not None and tier not in TIERS:
            raise InputError(f"tier must be one of {', '.join(TIERS)}; got {tier!r}")
        where, params = "owner = ? AND (expires IS NULL OR expires > ?)", [owner, time.time()]
        if tier is not None:
            where += " AND tier = ?"
            params.append(tier)
        async with self.store._read() as db:
            rows = await self.store._all(
                db,
                f"SELECT {_COLUMNS} FROM memories WHERE {where}"
                " ORDER BY CASE tier WHEN 'long' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END,"
                " pinned DESC, updated DESC, id DESC",
                params,
            )
        return [_memory(r) for r in rows]

    async def counts(self, *, owner: str = LOCAL) -> dict[str, int]:
        """How many memories of each tier this user has (expired ones not counted)."""
        async with self.store._read() as db:
            rows = await self.store._all(
                db,
                "SELECT tier, COUNT(*) FROM memories WHERE owner = ?"
                " AND (expires IS NULL OR expires > ?) GROUP BY tier",
                (owner, time.time()),
            )
        found = {str(r[0]): int(r[1]) for r in rows}
        return {tier: found.get(tier, 0) for tier in TIERS}

    async def clear(self, tier: str, *, owner: str = LOCAL) -> dict[str, int]:
        """Delete every memory of ``tier`` (or ``"all"``) of this user; how many per tier."""
        tiers = TIERS if tier == "all" else (tier,)
        if tier != "all" and tier not in TIERS:
            raise InputError(f"--tier must be one of {', '.join(TIERS)} or all; got {tier!r}")
        removed: dict[str, int] = {}
        async with self.store._write() as db:
            for one in tiers:
                count, _ = await self.store._run(
                    db, "DELETE FROM memories WHERE owner = ? AND tier = ?", (owner, one)
                )
                removed[one] = count
        return removed

    async def purge_expired(self) -> int:
        """Delete session summaries past their ``expires`` (every user); how many."""
        async with self.store._write() as db:
            count, _ = await self.store._run(
                db,
                "DELETE FROM memories WHERE expires IS NOT NULL AND expires <= ?",
                (time.time(),),
            )
        return count

    # ---- what goes into the system prompt

    async def profile(self, *, owner: str = LOCAL) -> tuple[list[Memory], list[Memory]]:
        """Pinned facts inside the profile budget (newest first) and those left out of it."""
        facts = [m for m in await self.list("long", owner=owner) if m.pinned]
        budget = self.settings.profile_tokens
        kept: list[Memory] = []
        used = 0
        for fact in facts:
            cost = estimate_tokens(fact.content) + 1
            if used + cost > budget:
                continue
            kept.append(fact)
            used += cost
        kept_ids = {m.id for m in kept}
        return kept, [m for m in facts if m.id not in kept_ids]

    async def profile_block(self, *, owner: str = LOCAL) -> str:
        """The profile section of the system prompt ('' when there is nothing to say)."""
        kept, _ = await self.profile(owner=owner)
        if not kept:
            return ""
        lines = "\n".join(f"- {m.content}" for m in reversed(kept))  # oldest first reads best
        return f"{PROFILE_HEADING}\n\n{lines}"

    async def system_section(self, query: str, *, owner: str = LOCAL) -> str:
        """The profile block plus the facts recalled for ``query``: what a chat turn adds to the
        system prompt ('' when memory is off or empty)."""
        if not self.settings.enabled:
            return ""
        kept, _ = await self.profile(owner=owner)
        parts = []
        if kept:
            lines = "\n".join(f"- {m.content}" for m in reversed(kept))
            parts.append(f"{PROFILE_HEADING}\n\n{lines}")
        if self.settings.recall and query.strip():
            recalled = await self.recall(query, owner=owner, exclude={m.id for m in kept})
            budget, used, lines = self.settings.recall_tokens, 0, []
            for fact in recalled:
                cost = estimate_tokens(fact.content) + 1
                if used + cost > budget:
                    break
                lines.append(f"- {fact.content}")
                used += cost
            if lines:
                parts.append(f"{RECALL_HEADING}\n\n" + "\n".join(lines))
        return "\n\n".join(parts)

    async def recall(
        self, query: str, *, owner: str = LOCAL, k: int | None = None, exclude: Collection[int] = ()
    ) -> list[Memory]:
        """Long-tier facts about ``query``, best first: BM25 (FTS5) fused with the knowledge
        embedder's cosine; facts matching neither well are left out."""
        limit = self.settings.recall if k is None else k
        if limit <= 0:
            return []
        async with self.store._read() as db:
            rows = await self.store._all(
                db,
                f"SELECT {_COLUMNS}, vector, embedder FROM memories"
                " WHERE owner = ? AND tier = 'long'",
                (owner,),
            )
        candidates = {r["id"]: r for r in rows if r["id"] not in exclude}
        if not candidates:
            return []
        lexical = await self._bm25(query, owner, "long")
        lexical = {i: s for i, s in lexical.items() if i in candidates}
        cosines: dict[int, float] = {}
        weight = 0.0
        # Vectors fill in when words find fewer facts than asked for (loading the embedder
        # costs about a second the first time in a process: `aiw ask` skips it when it can).
        embedder = None
        if len(lexical) < limit:
            embedder = await asyncio.to_thread(self._get_embedder)
        if embedder is not None:
            with_vectors = {
                i: r
                for i, r in candidates.items()
                if r["vector"] and r["embedder"] == embedder.name
            }
            if with_vectors:
                qvec = await asyncio.to_thread(embedder.embed_query, query)
                for i, r in with_vectors.items():
                    cosines[i] = _cosine(qvec, array.array("f", r["vector"]))
                weight = float(getattr(embedder, "fusion_weight", 0.5))
        name = str(getattr(embedder, "name", ""))
        floor = MIN_COSINE_E5 if "e5" in name.lower() else MIN_COSINE
        scores: dict[int, float] = {}
        top_lex = max(lexical.values(), default=0.0)
        for i in candidates:
            lex = lexical.get(i, 0.0) / top_lex if top_lex > 0 else 0.0
            cos = cosines.get(i, 0.0)
            if lex <= 0 and cos < floor:
                continue
            scores[i] = lex + weight * cos
        best = sorted(scores, key=lambda i: (-scores[i], -candidates[i]["updated"]))[:limit]
        return [_memory(candidates[i]) for i in best]

    async def search(
        self, query: str, *, owner: str = LOCAL, tiers: Sequence[str] = ("long", "medium"),
        limit: int = 20,
    ) -> list[tuple[Memory, str]]:  # fmt: skip
        """Full-text search over this user's memories (facts and session summaries): each hit
        with a snippet whose matched words are wrapped in ``[`` ``]``."""
        match = _any_terms(query)
        if not match:
            return []
        marks = ", ".join("?" * len(tiers))
        async with self.store._read() as db:
            rows = await self.store._all(
                db,
                f"SELECT {', '.join('m.' + c for c in _COLUMNS.split(', '))},"
                " snippet(memories_fts, 0, '[', ']', '…', 24) AS snip"
                " FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid"
                f" WHERE memories_fts MATCH ? AND m.owner = ? AND m.tier IN ({marks})"
                " AND (m.expires IS NULL OR m.expires > ?)"
                " ORDER BY rank LIMIT ?",
                (match, owner, *tiers, time.time(), limit),
            )
        return [(_memory(r), str(r["snip"])) for r in rows]

    async def _bm25(self, query: str, owner: str, tier: str) -> dict[int, float]:
        """id -> BM25 relevance (higher is better) of this user's memories in ``tier``."""
        match = _any_terms(query)
        if not match:
            return {}
        async with self.store._read() as db:
            rows = await self.store._all(
                db,
                "SELECT m.id, -bm25(memories_fts) FROM memories_fts"
                " JOIN memories m ON m.id = memories_fts.rowid"
                " WHERE memories_fts MATCH ? AND m.owner = ? AND m.tier = ? LIMIT 200",
                (match, owner, tier),
            )
        return {int(r[0]): float(r[1]) for r in rows}

    # ---- short and medium tiers: session summaries

    async def short_summary(self, session_id: str, *, owner: str = LOCAL) -> Memory | None:
        """The rolling summary of ``session_id``'s older turns, if one was written."""
        async with self.store._read() as db:
            row = await self.store._one(
                db,
                f"SELECT {_COLUMNS} FROM memories WHERE owner = ? AND tier = 'short'"
                " AND session_id = ? ORDER BY covers_until DESC, id DESC LIMIT 1",
                (owner, session_id),
            )
        return None if row is None else _memory(row)

    async def save_short(
        self, session_id: str, content: str, covers_until: int, *, owner: str = LOCAL
    ) -> Memory:
        """Store (replace) the rolling summary of ``session_id`` up to message ``covers_until``."""
        text, _ = _clean(content, limit=None)
        now = time.time()
        async with self.store._write() as db:
            await self.store._run(
                db,
                "DELETE FROM memories WHERE owner = ? AND tier = 'short' AND session_id = ?",
                (owner, session_id),
            )
            memory_id = await self.store._insert(
                db,
                "memories",
                {
                    "owner": owner, "tier": "short", "content": text, "source": "summary",
                    "session_id": session_id, "covers_until": covers_until, "created": now,
                    "updated": now,
                },
            )  # fmt: skip
        return await self.get(memory_id, owner=owner)

    async def save_medium(self, session_id: str, content: str, *, owner: str = LOCAL) -> Memory:
        """Store (replace) the summary of a finished session, kept ``memory.medium_days``."""
        text, _ = _clean(content, limit=None)
        now = time.time()
        async with self.store._write() as db:
            await self.store._run(
                db,
                "DELETE FROM memories WHERE owner = ? AND tier = 'medium' AND session_id = ?",
                (owner, session_id),
            )
            memory_id = await self.store._insert(
                db,
                "memories",
                {
                    "owner": owner, "tier": "medium", "content": text, "source": "summary",
                    "session_id": session_id, "created": now, "updated": now,
                    "expires": now + self.settings.medium_days * DAY,
                },
            )  # fmt: skip
        return await self.get(memory_id, owner=owner)

    async def summarized_sessions(self, *, owner: str = LOCAL) -> set[str]:
        """Sessions that have a medium-tier summary (expired ones included: not redone)."""
        async with self.store._read() as db:
            rows = await self.store._all(
                db,
                "SELECT DISTINCT session_id FROM memories WHERE owner = ? AND tier = 'medium'"
                " AND session_id IS NOT NULL",
                (owner,),
            )
        return {str(r[0]) for r in rows}

    # ---- embeddings (the knowledge index's embedder, local ones only)

    def _get_embedder(self) -> Any:
        if self._embedder_tried:
            return self._embedder
        self._embedder_tried = True
        if self.knowledge is None:
            return None
        from ai_workbench.knowledge.service import (
            EmbeddingUnavailable,
            make_embedder,
            remote_embedding_endpoint,
        )

        model, base = self.knowledge.embedding_model, self.knowledge.embedding_api_base
        if remote_embedding_endpoint(model, base) is not None:
            return None  # facts about the user are not sent out to be embedded
        try:
            self._embedder = make_embedder(model, base)
        except EmbeddingUnavailable:
            self._embedder = None
        return self._embedder

    async def _embed(self, text: str) -> tuple[bytes | None, str | None]:
        embedder = await asyncio.to_thread(self._get_embedder)
        if embedder is None:
            return None, None
        try:
            vector = (await asyncio.to_thread(embedder.embed, [text]))[0]
        except Exception:  # an embedder that fails leaves the fact to BM25 alone
            return None, None
        return array.array("f", vector).tobytes(), str(embedder.name)


# ---------------------------------------------------------------------------------- helpers

_STOP: Final = frozenset(
    {
        "the",
        "and",
        "for",
        "with",
        "that",
        "this",
        "from",
        "you",
        "your",
        "are",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "how",
        "why",
        "can",
        "could",
        "would",
        "should",
        "will",
        "have",
        "has",
        "had",
        "not",
        "but",
        "all",
        "any",
        "about",
        "into",
        "out",
        "our",
        "its",
        "do",
        "does",
        "did",
        "me",
        "my",
        "i",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "at",
        "is",
        "be",
        "or",
        "as",
        "by",
    }
)


def _any_terms(query: str) -> str:
    """An FTS5 query matching any content word of ``query`` (each quoted, prefix-matched)."""
    words = [w.lower() for w in re.findall(r"\w+", query)]
    terms = dict.fromkeys(w for w in words if len(w) > 1 and w not in _STOP)
    return " OR ".join('"' + t.replace('"', '""') + '"*' for t in terms)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine of two normalised vectors (the knowledge embedders normalise theirs)."""
    return float(sum(x * y for x, y in zip(a, b, strict=False)))


def _clean(content: str, limit: int | None = MAX_FACT_CHARS) -> tuple[str, dict[str, int]]:
    """Redacted, whitespace-normalised text; refuses an empty or oversized fact."""
    text = " ".join(content.split()) if limit is not None else content.strip()
    if not text:
        raise InputError("nothing to remember: the text is empty")
    if limit is not None and len(text) > limit:
        raise InputError(
            f"a fact is at most {limit} characters (this one has {len(text)}); keep it short"
        )
    redaction = redact(text)
    return redaction.text, dict(redaction.counts)


def _memory(row: Any) -> Memory:
    return from_row(Memory, row, pinned=bool(row["pinned"]))
