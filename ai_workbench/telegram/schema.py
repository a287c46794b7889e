"""The Telegram channel's tables, per schema version (assembled in order by
:mod:`ai_workbench.schema`). Shipped scripts never change (see docs/storage.md)."""

from __future__ import annotations

from typing import Final

V9: Final = """
-- Telegram users allowed to talk to the bot: each is an aiw user (`owner` of per-user rows).
CREATE TABLE telegram_links (
    telegram_id  INTEGER PRIMARY KEY,
    owner        TEXT NOT NULL,
    username     TEXT NOT NULL DEFAULT '',   -- @name or first name when paired (display only)
    paired_at    REAL NOT NULL,
    session_id   TEXT,                       -- the chat session plain messages continue
    persona      TEXT                        -- chosen with /persona
);
CREATE INDEX telegram_links_owner ON telegram_links(owner);

-- One-time pairing codes an unknown user got with /start; only a hash of the code is kept.
CREATE TABLE telegram_pending (
    code_hash    TEXT PRIMARY KEY,
    telegram_id  INTEGER NOT NULL UNIQUE,
    username     TEXT NOT NULL DEFAULT '',
    created      REAL NOT NULL,
    expires      REAL NOT NULL
);
"""
"""Paired Telegram users and pending pairing codes."""
