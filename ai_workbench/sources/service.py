"""SourcesService: add, list and remove sources, sync them into their project's index, and
read the runs' reports. The CLI (``aiw sources``) and the workbench call only this.

A source feeds the index of the project it was added in (``root``). Tokens are never stored:
a source keeps the *name* of the environment variable that holds its token, read at sync time.
Chunks are written through :meth:`KnowledgeService.write_documents` (knowledge/service.py),
the interface a shared index backend implements too.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ai_workbench.sources.models import (
    KINDS,
    NAME,
    Known,
    RunReport,
    Source,
    SourceInputError,
)
from ai_workbench.sources.sync import RATINGS_FOR_FULL_PRIORITY, Progress, sync_source

if TYPE_CHECKING:
    from ai_workbench.core.db import Database

__all__ = ["KINDS", "RunReport", "Source", "SourcesService", "default_name"]


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def check_token_env(var: str) -> None:
    """``--token-env`` names an environment variable; the token itself never goes in (it would
    be stored in the database and shown by `aiw sources list`). The token is never echoed."""
    from ai_workbench.core.redact import redact

    looks_random = (
        len(var) >= 24
        and any(c.isdigit() for c in var)
        and any(c.islower() for c in var)
        and any(c.isupper() for c in var)
    )
    if redact(var).total or looks_random or (len(var) >= 24 and not ENV_NAME.fullmatch(var)):
        raise SourceInputError(
            "--token-env takes the NAME of an environment variable, and this looks like the "
            "token itself (not stored): export it, e.g. export CONFLUENCE_TOKEN='...', and "
            "give --token-env CONFLUENCE_TOKEN"
        )
    if not ENV_NAME.fullmatch(var):
        raise SourceInputError(
            f"--token-env {var!r} is not an environment variable name: use letters, digits "
            "and '_', not starting with a digit (e.g. GITLAB_TOKEN)"
        )


def default_name(kind: str, location: str, options: dict[str, Any]) -> str:
    """A readable name from what was added: the space key, project, repo, host or folder."""
    from urllib.parse import urlsplit

    if kind == "confluence":
        base = f"confluence-{options.get('space', '')}"
    elif kind == "gitlab":
        base = f"gitlab-{str(options.get('project', '')).rsplit('/', 1)[-1]}"
    elif kind == "github":
        base = f"github-{location.rsplit('/', 1)[-1]}"
    elif kind == "web":
        base = urlsplit(location).hostname or "web"
    else:
        base = Path(location).name or "docs"
    name = re.sub(r"[^a-z0-9._-]+", "-", base.lower()).strip("-._")
    return name[:48] or kind


def _row_source(row: Any) -> Source:
    return Source(
        id=row[0], name=row[1], kind=row[2], location=row[3], options=json.loads(row[4]),
        root=row[5], state=json.loads(row[6]), created=row[7], last_sync=row[8], owner=row[9],
    )  # fmt: skip


_SOURCE_COLUMNS = "id, name, kind, location, options, root, state, created, last_sync, owner"


class SourcesService:
    def __init__(self, store: Database) -> None:
        self.store = store

    # --- configuration ---

    async def add(
        self,
        kind: str,
        location: str,
        root: Path,
        *,
        name: str | None = None,
        options: dict[str, Any] | None = None,
        owner: str = "local",
    ) -> Source:
        options = {k: v for k, v in (options or {}).items() if v is not None}
        if kind not in KINDS:
            raise SourceInputError(f"unknown source kind '{kind}' (one of {', '.join(KINDS)})")
        if "token_env" in options:
            check_token_env(str(options["token_env"]))
        name = name or default_name(kind, location, options)
        if not NAME.match(name):
            raise SourceInputError(
                f"source name '{name}': use lower-case letters, digits, '.', '_' or '-' "
                "(at most 48, starting with a letter or digit)"
            )
        root = root.resolve()
        if (root / name).exists():
            raise SourceInputError(
                f"the project {root} has a '{name}' entry, and the source's documents are cited "
                f"as '{name}/...': choose another --name"
            )
        store = self.store
        async with store._write() as db:
            if await store._one(db, "SELECT 1 FROM sources WHERE owner = ? AND name = ?",
                                (owner, name)):  # fmt: skip
                raise SourceInputError(
                    f"a source named '{name}' exists already: choose another --name, or "
                    f"`aiw sources rm {name}` first"
                )
            now = time.time()
            _, source_id = await store._run(
                db,
                "INSERT INTO sources(owner, name, kind, location, options, root, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (owner, name, kind, location, json.dumps(options), str(root), now),
            )
        return Source(source_id, name, kind, location, options, str(root), {}, now, None, owner)

    async def list(self, owner: str = "local") -> list[Source]:
        async with self.store._read() as db:
            rows = await self.store._all(
                db, f"SELECT {_SOURCE_COLUMNS} FROM sources WHERE owner = ? ORDER BY name",
                (owner,),
            )  # fmt: skip
        return [_row_source(r) for r in rows]

    async def get(self, name: str, owner: str = "local") -> Source:
        async with self.store._read() as db:
            row = await self.store._one(
                db, f"SELECT {_SOURCE_COLUMNS} FROM sources WHERE owner = ? AND name = ?",
                (owner, name),
            )  # fmt: skip
        if row is None:
            known = ", ".join(s.name for s in await self.list(owner)) or "none yet"
            raise SourceInputError(f"no source named '{name}' (sources: {known})")
        return _row_source(row)

    async def document_counts(self, owner: str = "local") -> dict[str, int]:
        async with self.store._read() as db:
            rows = await self.store._all(
                db,
                "SELECT s.name, COUNT(d.id) FROM sources s LEFT JOIN source_documents d "
                "ON d.source_id = s.id WHERE s.owner = ? GROUP BY s.id",
                (owner,),
            )
        return {r[0]: int(r[1]) for r in rows}

    async def remove(self, name: str, knowledge: Any, owner: str = "local") -> int:
        """Remove the source and its documents from the index; how many documents."""
        source = await self.get(name, owner)
        known = await self._known(source)
        rels = [k.rel for k in known.values()]
        # documents indexed by a run whose manifest write was lost are removed too
        rels += [r for r in knowledge.documents(source.name) if r not in rels]
        if rels:
            import asyncio

            await asyncio.to_thread(knowledge.write_documents, source.name, (), rels, embed=True)
        async with self.store._write() as db:
            await self.store._run(db, "DELETE FROM source_documents WHERE source_id = ?",
                                  (source.id,))  # fmt: skip
            await self.store._run(db, "DELETE FROM sources WHERE id = ?", (source.id,))
        return len(rels)

    # --- sync ---

    async def _known(self, source: Source) -> dict[str, Known]:
        async with self.store._read() as db:
            rows = await self.store._all(
                db,
                "SELECT external_id, rel, url, version, content_hash, priority "
                "FROM source_documents WHERE source_id = ?",
                (source.id,),
            )
        return {r[0]: Known(r[0], r[1], r[2], r[3], r[4], float(r[5])) for r in rows}

    async def sync(
        self,
        source: Source,
        knowledge: Any,
        *,
        progress: Progress | None = None,
        limit: int | None = None,
        embed: bool = True,
        wait: bool = True,
        on_wait: Callable[[str], None] | None = None,
    ) -> RunReport:
        """One sync run of ``source`` into ``knowledge`` (its project's KnowledgeService)."""
        from ai_workbench.core.feedback import FeedbackService

        known = await self._known(source)
        chunk_ratings = await FeedbackService(self.store).ratings("chunk")

        def ratings(docs: list[Known]) -> dict[str, float]:
            return _priorities(docs, knowledge, chunk_ratings)

        report, written, deleted, priorities = await sync_source(
            source, known, ratings, knowledge, progress=progress, limit=limit, embed=embed,
            wait=wait, on_wait=on_wait,
        )  # fmt: skip
        await self._record(source, report, written, deleted, priorities)
        return report

    async def _record(
        self,
        source: Source,
        report: RunReport,
        written: list[Any],
        deleted: list[str],
        priorities: dict[str, float],
    ) -> None:
        store = self.store
        now = time.time()
        async with store._write() as db:
            for item, rel, digest, chunks in written:
                level = priorities.get(item.external_id, 0.0)
                if chunks < 0:  # same content under a new version
                    await store._run(
                        db,
                        "UPDATE source_documents SET version = ?, synced = ? "
                        "WHERE source_id = ? AND external_id = ?",
                        (item.version, now, source.id, item.external_id),
                    )
                    continue
                await store._run(
                    db,
                    "INSERT INTO source_documents(source_id, external_id, rel, title, url, "
                    "version, content_hash, priority, chunks, synced) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(source_id, external_id) DO UPDATE SET rel = excluded.rel, "
                    "title = excluded.title, url = excluded.url, version = excluded.version, "
                    "content_hash = excluded.content_hash, priority = excluded.priority, "
                    "chunks = excluded.chunks, synced = excluded.synced",
                    (source.id, item.external_id, rel, item.title, item.url, item.version,
                     digest, level, chunks, now),
                )  # fmt: skip
            for ext in deleted:
                await store._run(
                    db, "DELETE FROM source_documents WHERE source_id = ? AND external_id = ?",
                    (source.id, ext),
                )  # fmt: skip
            for ext, level in priorities.items():
                await store._run(
                    db,
                    "UPDATE source_documents SET priority = ? WHERE source_id = ? "
                    "AND external_id = ?",
                    (level, source.id, ext),
                )
            await store._run(
                db, "UPDATE sources SET state = ?, last_sync = ? WHERE id = ?",
                (json.dumps(source.state), now, source.id),
            )  # fmt: skip
            _, run_id = await store._run(
                db,
                "INSERT INTO source_runs(owner, source_id, source_name, started, finished, "
                "status, report) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (source.owner, source.id, source.name, report.started, now, report.status,
                 "{}"),
            )  # fmt: skip
            report.run = run_id
            await store._run(db, "UPDATE source_runs SET report = ? WHERE id = ?",
                             (json.dumps(report.to_json()), run_id))  # fmt: skip

    # --- reports ---

    async def runs(self, limit: int = 20, owner: str = "local") -> list[dict[str, Any]]:
        """The latest runs' reports, newest first."""
        async with self.store._read() as db:
            rows = await self.store._all(
                db, "SELECT report FROM source_runs WHERE owner = ? ORDER BY id DESC LIMIT ?",
                (owner, limit),
            )  # fmt: skip
        return [json.loads(r[0]) for r in rows]

    async def run(self, ref: str | None = None, owner: str = "local") -> dict[str, Any]:
        """A run's report: by number, or the latest run of a source by its name, or the
        latest run of all."""
        sql = "SELECT report FROM source_runs WHERE owner = ? "
        if ref is None:
            params: tuple[Any, ...] = (owner,)
            sql += "ORDER BY id DESC LIMIT 1"
        elif ref.isdigit():
            params = (owner, int(ref))
            sql += "AND id = ?"
        else:
            params = (owner, ref)
            sql += "AND source_name = ? ORDER BY id DESC LIMIT 1"
        async with self.store._read() as db:
            row = await self.store._one(db, sql, params)
        if row is None:
            what = f"run '{ref}'" if ref else "sync run yet"
            raise SourceInputError(f"no {what}: `aiw sources report` lists none (run a sync)")
        return json.loads(row[0])


def _priorities(
    docs: list[Known], knowledge: Any, chunk_ratings: dict[str, int]
) -> dict[str, float]:
    """external id → priority in -1..1: the ratings of the document's chunks (the likes and
    dislikes of `aiw kb`, the workbench and rated grounded answers), over
    ``RATINGS_FOR_FULL_PRIORITY``."""
    out: dict[str, float] = {}
    by_rel = {d.rel: d for d in docs}
    local = knowledge.document_ratings(list(by_rel))
    for rel, doc in by_rel.items():
        rated = rel in local
        total = float(local.get(rel, 0))
        if chunk_ratings and not rated:
            for uid in knowledge.chunk_uids(rel):
                if uid in chunk_ratings:
                    rated = True
                    total += chunk_ratings[uid]
        # A rewritten document's chunks are new (unrated): it keeps the priority it earned.
        level = max(-1.0, min(1.0, total / RATINGS_FOR_FULL_PRIORITY)) if rated else doc.priority
        if level or doc.priority:
            out[doc.external_id] = level
    return out
