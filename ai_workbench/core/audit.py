"""The audit log of tool actions (a fix run, an applied patch, ...), shared by every capability.

Its DDL (:data:`SCHEMA_V1`, part of schema version 1) and queries live here in core; the store
that interfaces open gets :meth:`AuditLog.audit` and :meth:`AuditLog.recent_audit` from it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ai_workbench.core.db import LOCAL_OWNER, Database

__all__ = ["SCHEMA_V1", "SCHEMA_V8", "AuditEntry", "AuditLog"]

SCHEMA_V1: Final = """
CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    action   TEXT NOT NULL,
    detail   TEXT,
    created  REAL NOT NULL
);
"""
"""The audit table (part of schema version 1)."""

SCHEMA_V8: Final = """
-- Who did it: an aiw user's name ('local': the workbench and the CLI; `aiw serve` users).
ALTER TABLE audit ADD COLUMN owner TEXT NOT NULL DEFAULT 'local';
"""
"""The audit log's owner column (part of schema version 8)."""


@dataclass(slots=True)
class AuditEntry:
    id: int
    action: str
    detail: str | None
    created: float
    owner: str = LOCAL_OWNER


class AuditLog(Database):
    """The kernel plus the audit log (mixed into the store interfaces open)."""

    async def audit(
        self,
        action: str,
        detail: str | Mapping[str, Any] | None = None,
        *,
        owner: str = LOCAL_OWNER,
    ) -> int:
        """Append to the audit log of tool actions, as ``owner`` (the aiw user who did it); a
        mapping ``detail`` is stored as JSON."""
        text = detail if detail is None or isinstance(detail, str) else json.dumps(detail)
        async with self._write() as db:
            _, audit_id = await self._run(
                db,
                "INSERT INTO audit (action, detail, created, owner) VALUES (?, ?, ?, ?)",
                (action, text, time.time(), owner),
            )
        return audit_id

    async def recent_audit(self, limit: int = 50, *, owner: str | None = None) -> list[AuditEntry]:
        """The latest entries (every user's, or ``owner``'s), newest first."""
        sql = "SELECT id, action, detail, created, owner FROM audit"
        params: tuple[Any, ...] = (max(0, limit),)
        if owner is not None:
            sql += " WHERE owner = ?"
            params = (owner, max(0, limit))
        async with self._read() as db:
            rows = await self._all(db, sql + " ORDER BY id DESC LIMIT ?", params)
        return [
            AuditEntry(r["id"], r["action"], r["detail"], r["created"], r["owner"]) for r in rows
        ]
