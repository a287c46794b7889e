"""Queries on the documents tables (:mod:`.schema`), on the kernel's database."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from ai_workbench.core.db import Database
from ai_workbench.core.errors import InputError


@dataclass
class Document:
    id: int
    doc_type: str
    template: str
    template_version: int
    title: str
    project: str
    body: str
    meta: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0
    updated: float = 0.0
    owner: str = "local"

    @property
    def warnings(self) -> list[str]:
        return list(self.meta.get("warnings") or [])


@dataclass
class Rating:
    id: int
    document_id: int
    section: str
    doc_type: str
    template: str
    template_version: int
    rating: int
    comment: str | None
    updated: float


@dataclass
class Learning:
    id: int
    doc_type: str
    template: str
    section: str
    polarity: int
    rule: str
    example: str
    hits: int
    enabled: bool
    created: float
    updated: float

    @property
    def kind(self) -> str:
        return "guidance" if self.polarity < 0 else "example"


_DOC = (
    "id, doc_type, template, template_version, title, project, body, meta, created, updated, owner"
)
_LEARN = "id, doc_type, template, section, polarity, rule, example, hits, enabled, created, updated"


def _doc(row: Any) -> Document:
    meta = json.loads(row["meta"] or "{}")
    return Document(
        row["id"], row["doc_type"], row["template"], row["template_version"], row["title"],
        row["project"], row["body"], meta, row["created"], row["updated"], row["owner"],
    )  # fmt: skip


def _learning(row: Any) -> Learning:
    return Learning(
        row["id"], row["doc_type"], row["template"], row["section"], row["polarity"], row["rule"],
        row["example"], row["hits"], bool(row["enabled"]), row["created"], row["updated"],
    )  # fmt: skip


class DocumentStore:
    def __init__(self, store: Database, owner: str = "local") -> None:
        self.store = store
        self.owner = owner

    # ---- documents

    async def add(self, doc: Document) -> Document:
        now = time.time()
        async with self.store._write() as db:
            _, doc_id = await self.store._run(
                db,
                "INSERT INTO documents (owner, doc_type, template, template_version, title, project,"  # noqa: E501
                " body, meta, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.owner, doc.doc_type, doc.template, doc.template_version, doc.title,
                 doc.project, doc.body, json.dumps(doc.meta), now, now),
            )  # fmt: skip
        return await self.get(doc_id)

    async def update(self, doc: Document) -> Document:
        async with self.store._write() as db:
            await self.store._run(
                db,
                "UPDATE documents SET title = ?, body = ?, meta = ?, updated = ?"
                " WHERE id = ? AND owner = ?",
                (doc.title, doc.body, json.dumps(doc.meta), time.time(), doc.id, self.owner),
            )
        return await self.get(doc.id)

    async def get(self, doc_id: int | str) -> Document:
        try:
            key = int(str(doc_id).lstrip("#"))
        except ValueError:
            raise InputError(
                f"document id must be a number, not '{doc_id}' (aiw doc list)"
            ) from None
        async with self.store._read() as db:
            row = await self.store._one(
                db, f"SELECT {_DOC} FROM documents WHERE id = ? AND owner = ?", (key, self.owner)
            )
        if row is None:
            raise InputError(f"no document {key} (aiw doc list shows them)")
        return _doc(row)

    async def list(self, doc_type: str | None = None, limit: int = 200) -> list[Document]:
        sql = f"SELECT {_DOC} FROM documents WHERE owner = ?"
        params: list[Any] = [self.owner]
        if doc_type:
            sql += " AND doc_type = ?"
            params.append(doc_type)
        async with self.store._read() as db:
            rows = await self.store._all(
                db, sql + " ORDER BY updated DESC, id DESC LIMIT ?", (*params, limit)
            )
        return [_doc(r) for r in rows]

    async def delete(self, doc_id: int) -> bool:
        async with self.store._write() as db:
            n, _ = await self.store._run(
                db, "DELETE FROM documents WHERE id = ? AND owner = ?", (doc_id, self.owner)
            )
        return n > 0

    # ---- ratings

    async def rate(self, doc: Document, section: str, rating: int, comment: str | None) -> Rating:
        now = time.time()
        async with self.store._write() as db:
            await self.store._run(
                db,
                "INSERT INTO document_ratings (owner, document_id, section, doc_type, template,"
                " template_version, rating, comment, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (owner, document_id, section) DO UPDATE SET rating = excluded.rating,"
                " comment = COALESCE(excluded.comment, document_ratings.comment),"
                " updated = excluded.updated",
                (self.owner, doc.id, section, doc.doc_type, doc.template, doc.template_version,
                 rating, comment, now, now),
            )  # fmt: skip
            row = await self.store._one(
                db,
                "SELECT id, document_id, section, doc_type, template, template_version, rating,"
                " comment, updated FROM document_ratings WHERE owner = ? AND document_id = ?"
                " AND section = ?",
                (self.owner, doc.id, section),
            )
        return Rating(*tuple(row))

    async def ratings(self, doc_id: int) -> list[Rating]:
        async with self.store._read() as db:
            rows = await self.store._all(
                db,
                "SELECT id, document_id, section, doc_type, template, template_version, rating,"
                " comment, updated FROM document_ratings WHERE owner = ? AND document_id = ?"
                " ORDER BY section",
                (self.owner, doc_id),
            )
        return [Rating(*tuple(r)) for r in rows]

    async def stats(self) -> list[dict[str, Any]]:
        """Per template and version: documents, likes, dislikes (whole documents and sections)."""
        async with self.store._read() as db:
            rows = await self.store._all(
                db,
                "SELECT d.doc_type, d.template, d.template_version, COUNT(DISTINCT d.id) AS docs,"
                " SUM(CASE WHEN r.rating = 1 THEN 1 ELSE 0 END) AS likes,"
                " SUM(CASE WHEN r.rating = -1 THEN 1 ELSE 0 END) AS dislikes,"
                " SUM(CASE WHEN r.rating = -1 AND r.comment IS NOT NULL THEN 1 ELSE 0 END)"
                " AS comments"
                " FROM documents d LEFT JOIN document_ratings r"
                " ON r.document_id = d.id AND r.owner = d.owner"
                " WHERE d.owner = ? GROUP BY d.doc_type, d.template, d.template_version"
                " ORDER BY d.doc_type, d.template, d.template_version",
                (self.owner,),
            )
        out = []
        for r in rows:
            likes, dislikes = int(r["likes"] or 0), int(r["dislikes"] or 0)
            rated = likes + dislikes
            out.append(
                {
                    "type": r["doc_type"],
                    "template": r["template"],
                    "version": r["template_version"],
                    "documents": r["docs"],
                    "likes": likes,
                    "dislikes": dislikes,
                    "comments": int(r["comments"] or 0),
                    "score": round((likes - dislikes) / rated, 2) if rated else None,
                }
            )
        return out

    # ---- learnings

    async def learnings(self, doc_type: str | None = None) -> list[Learning]:
        sql = f"SELECT {_LEARN} FROM document_learnings WHERE owner = ?"
        params: list[Any] = [self.owner]
        if doc_type:
            sql += " AND doc_type = ?"
            params.append(doc_type)
        async with self.store._read() as db:
            rows = await self.store._all(db, sql + " ORDER BY doc_type, updated DESC", params)
        return [_learning(r) for r in rows]

    async def add_learning(
        self, doc: Document, section: str, polarity: int, rule: str, example: str, rating_id: int
    ) -> Learning:
        now = time.time()
        async with self.store._write() as db:
            _, lid = await self.store._run(
                db,
                "INSERT INTO document_learnings (owner, doc_type, template, section, polarity, rule,"  # noqa: E501
                " example, hits, enabled, source_rating, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1, ?, ?, ?)",
                (self.owner, doc.doc_type, doc.template, section, polarity, rule, example,
                 rating_id, now, now),
            )  # fmt: skip
        return await self.get_learning(lid)

    async def bump_learning(self, learning_id: int) -> Learning:
        async with self.store._write() as db:
            await self.store._run(
                db,
                "UPDATE document_learnings SET hits = hits + 1, updated = ? WHERE id = ? AND owner = ?",  # noqa: E501
                (time.time(), learning_id, self.owner),
            )
        return await self.get_learning(learning_id)

    async def get_learning(self, learning_id: int) -> Learning:
        async with self.store._read() as db:
            row = await self.store._one(
                db,
                f"SELECT {_LEARN} FROM document_learnings WHERE id = ? AND owner = ?",
                (learning_id, self.owner),
            )
        if row is None:
            raise InputError(f"no document learning {learning_id} (aiw doc learnings lists them)")
        return _learning(row)

    async def update_learning(self, learning_id: int, **changes: Any) -> Learning:
        await self.get_learning(learning_id)
        allowed = {"rule", "enabled", "section"}
        sets = {k: v for k, v in changes.items() if k in allowed and v is not None}
        if sets:
            assignments = ", ".join(f"{k} = ?" for k in sets)
            values = [int(v) if isinstance(v, bool) else v for v in sets.values()]
            async with self.store._write() as db:
                await self.store._run(
                    db,
                    f"UPDATE document_learnings SET {assignments}, updated = ? WHERE id = ? AND owner = ?",  # noqa: E501
                    (*values, time.time(), learning_id, self.owner),
                )
        return await self.get_learning(learning_id)

    async def delete_learning(self, learning_id: int) -> None:
        await self.get_learning(learning_id)
        async with self.store._write() as db:
            await self.store._run(
                db,
                "DELETE FROM document_learnings WHERE id = ? AND owner = ?",
                (learning_id, self.owner),
            )
