"""The store interfaces open: the database kernel with every capability's queries mixed in.

``Store`` is :class:`ai_workbench.core.db.Database` (connection, WAL, transactions, errors, the
migrations runner) plus the chat queries (:class:`ai_workbench.chat.store.ChatStore`), feedback
(:class:`ai_workbench.core.feedback.FeedbackQueries`) and the audit log
(:class:`ai_workbench.core.audit.AuditLog`), carrying the full migrations list from
:mod:`ai_workbench.schema`. Capabilities with their own query classes (``ReviewStore``,
``ShellEventStore``, ``SuggestionQueue``) wrap this same object, so one connection serves all.

Only interfaces (cli, tui), entry points, tests and benches import this module: it sits above
the capabilities, which take the kernel type (or their own mixin) instead.

Usage::

    async with await Store.open() as store:      # or: async with Store(path) as store:
        session = await store.create_session(title="hello")
        msg_id = await store.add_message(session.id, "user", "hi")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ai_workbench.chat.store import (
    ROLES,
    STATUSES,
    AmbiguousSession,
    Attachment,
    ChatStore,
    Message,
    MessageNotFound,
    Role,
    SearchHit,
    Session,
    SessionNotFound,
    Status,
    fts_query,
)
from ai_workbench.core.audit import AuditEntry, AuditLog
from ai_workbench.core.db import UNSET, StoreError, default_db_path
from ai_workbench.core.feedback import Feedback, FeedbackQueries
from ai_workbench.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = [
    "ROLES",
    "SCHEMA_VERSION",
    "STATUSES",
    "UNSET",
    "AmbiguousSession",
    "Attachment",
    "AuditEntry",
    "Feedback",
    "Message",
    "MessageNotFound",
    "Role",
    "SearchHit",
    "Session",
    "SessionNotFound",
    "Status",
    "Store",
    "StoreError",
    "default_db_path",
    "fts_query",
]


class Store(ChatStore, FeedbackQueries, AuditLog):
    """Async access to the aiw database: ``await Store.open()`` or ``async with Store()``."""

    MIGRATIONS: ClassVar[Sequence[str] | None] = MIGRATIONS
