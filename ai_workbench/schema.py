"""The one ordered list of schema migrations, assembled from each capability's DDL.

Core's migrations runner (:class:`ai_workbench.core.db.Database`) is handed this list by whoever
opens the database (:class:`ai_workbench.store.Store` carries it), so core never imports a
capability. Each row is ``(version, script, ...)``: the scripts of every package that changed the
schema in that version, in the order they run. Append a row for a new version; never edit a
shipped one (docs/storage.md).

This module imports only the capabilities' ``schema`` modules (plain strings), so it stays cheap.
"""

from __future__ import annotations

from typing import Final

from ai_workbench.chat import schema as chat
from ai_workbench.core import audit, feedback
from ai_workbench.core.migrations import assemble
from ai_workbench.documents import schema as documents
from ai_workbench.review import schema as review
from ai_workbench.shell import schema as shell
from ai_workbench.suggestions import schema as suggestions

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

MIGRATIONS: Final[tuple[str, ...]] = assemble(
    (1, chat.V1, feedback.SCHEMA_V1, audit.SCHEMA_V1),
    (2, suggestions.V2),
    (3, chat.V3),
    (4, review.V4),
    (5, shell.V5),
    (6, chat.V6),
    (7, documents.V13),  # V13 in the plan: renumbered at merge
)
"""Index ``i`` brings the schema to ``user_version = i + 1``."""

SCHEMA_VERSION: Final[int] = len(MIGRATIONS)
"""The schema version this code writes and understands."""
