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

from ai_workbench.agent import schema as agent
from ai_workbench.chat import schema as chat
from ai_workbench.core import audit, feedback
from ai_workbench.core.migrations import assemble
from ai_workbench.documents import schema as documents
from ai_workbench.memory import schema as memory
from ai_workbench.review import schema as review
from ai_workbench.shell import schema as shell
from ai_workbench.sources import schema as sources
from ai_workbench.suggestions import schema as suggestions
from ai_workbench.tasks import schema as tasks
from ai_workbench.telegram import schema as telegram
from ai_workbench.users import schema as users

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

MIGRATIONS: Final[tuple[str, ...]] = assemble(
    (1, chat.V1, feedback.SCHEMA_V1, audit.SCHEMA_V1),
    (2, suggestions.V2),
    (3, chat.V3),
    (4, review.V4),
    (5, shell.V5),
    (6, chat.V6),
    (7, telegram.V9),
    (8, sources.V14),
    (9, users.V8, chat.V8, feedback.SCHEMA_V8, audit.SCHEMA_V8),
    (10, tasks.V10),
    (11, memory.V11),
    (12, chat.V12),
    (13, agent.V7),
    (14, documents.V13),
)
"""Index ``i`` brings the schema to ``user_version = i + 1``."""

SCHEMA_VERSION: Final[int] = len(MIGRATIONS)
"""The schema version this code writes and understands."""
