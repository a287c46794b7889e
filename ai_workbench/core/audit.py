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

from ai_workbench.core.db import Database

__all__ = ["SCHEMA_V1", "AuditEntry", "AuditLog"]

SCHEMA_V1: Final = """
CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    action   TEXT NOT NULL,
    detail   TEXT,
    created  REAL NOT NULL
);
"""
"""The audit table (part of schema version 1)."""


@dataclass(slots=True)
class AuditEntry:
    id: int
    action: str
    detail: str | None
    created: float


class AuditLog(Database):
    """The kernel plus the audit log (mixed into the store interfaces open)."""

    async def audit(self, action: str, detail: str | Mapping[str, Any] | None = None) -> int:
        """Append to the audit log of tool actions; a mapping ``detail`` is stored as JSON."""
        text = detail if detail is None or isinstance(detail, str) else json.dumps(detail)
        async with self._write() as db:
            _, audit_id = await self._run(
                db,
                "INSERT INTO audit (action, detail, created) VALUES (?, ?, ?)",
                (action, text, time.time()),
            )
        return audit_id

    async def recent_audit(self, limit: int = 50) -> list[AuditEntry]:
        """The latest entries, newest first."""
        async with self._read() as db:
            rows = await self._all(
                db,
                "SELECT id, action, detail, created FROM audit ORDER BY id DESC LIMIT ?",
                (max(0, limit),),
            )
        return [AuditEntry(r["id"], r["action"], r["detail"], r["created"]) for r in rows]
