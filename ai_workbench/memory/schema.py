"""Memory's tables (assembled in order by :mod:`ai_workbench.schema`).

Shipped scripts never change: a new column or table is a new version (see docs/storage.md).
"""

from __future__ import annotations

from typing import Final

V11: Final = """
-- One row per thing remembered, per user (owner). Tiers:
--   short  : the rolling summary of a long session's older turns (session_id, covers_until)
--   medium : the summary of a finished session (session_id), until `expires`
--   long   : a fact the user gave or confirmed; pinned ones form the profile block
CREATE TABLE memories (
    id            INTEGER PRIMARY KEY,
    owner         TEXT NOT NULL DEFAULT 'local',
    tier          TEXT NOT NULL CHECK (tier IN ('short', 'medium', 'long')),
    content       TEXT NOT NULL,                 -- always redacted (core/redact.py)
    pinned        INTEGER NOT NULL DEFAULT 0,    -- long: in every system prompt
    source        TEXT NOT NULL DEFAULT 'user',  -- user | model (confirmed) | summary
    session_id    TEXT,                          -- short/medium: the session summarised
    covers_until  INTEGER,                       -- short: the last message id summarised
    vector        BLOB,                          -- long: float32 embedding (knowledge embedder)
    embedder      TEXT,
    created       REAL NOT NULL,
    updated       REAL NOT NULL,
    expires       REAL                           -- medium: kept until then
);
CREATE INDEX memories_owner_tier ON memories(owner, tier, updated);
CREATE INDEX memories_session ON memories(session_id, tier);

CREATE VIRTUAL TABLE memories_fts USING fts5(
    content,
    content = 'memories',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF content ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO memories_fts(rowid, content) VALUES (new.id, new.content);
END;
"""
"""Memories in three tiers, per user, with a full-text index kept in step by triggers."""
