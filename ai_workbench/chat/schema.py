"""Chat's tables, per schema version (assembled in order by :mod:`ai_workbench.schema`).

Shipped scripts never change: a new column or table is a new version (see docs/storage.md).
"""

from __future__ import annotations

from typing import Final

V1: Final = """
CREATE TABLE sessions (
    id       TEXT PRIMARY KEY,            -- uuid4 hex, 32 chars
    title    TEXT NOT NULL DEFAULT '',
    persona  TEXT,
    model    TEXT,
    context  TEXT,                        -- JSON list of context plugin names
    created  REAL NOT NULL,               -- unix time
    updated  REAL NOT NULL
);
CREATE INDEX sessions_updated ON sessions(updated);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content     TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'complete'
                CHECK (status IN ('complete', 'partial', 'error')),
    model       TEXT,
    provider    TEXT,
    tokens_in   INTEGER,
    tokens_out  INTEGER,
    latency_ms  INTEGER,
    cost        REAL,
    error       TEXT,
    created     REAL NOT NULL,
    updated     REAL NOT NULL
);
CREATE INDEX messages_session ON messages(session_id, id);

CREATE TABLE attachments (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    path        TEXT NOT NULL,
    sha256      TEXT,
    size        INTEGER,
    created     REAL NOT NULL
);
CREATE INDEX attachments_message ON attachments(message_id);

CREATE VIRTUAL TABLE messages_fts USING fts5(
    content,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
"""
"""Sessions, messages, attachments and the FTS5 index kept in step by triggers."""

V3: Final = """
-- The endpoint a session talks to, so `--session ID` reaches the same server
-- (an ad-hoc `--model M --api-base URL` has no profile to remember it by).
ALTER TABLE sessions ADD COLUMN api_base TEXT;
"""


V6: Final = """
-- A streaming answer is saved by appending to its content (ChatStore.append_message) with
-- indexed = 0, which keeps it out of the full-text index; the final save of the whole text
-- (update_message with content) sets indexed = 1 and indexes it once. Until then, saves cost
-- the new text only, not a rewrite of the message's FTS row.
ALTER TABLE messages ADD COLUMN indexed INTEGER NOT NULL DEFAULT 1;

DROP TRIGGER messages_fts_delete;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.indexed BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;

DROP TRIGGER messages_fts_update;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, indexed ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.id, old.content WHERE old.indexed;
    INSERT INTO messages_fts(rowid, content) SELECT new.id, new.content WHERE new.indexed;
END;
"""


V8: Final = """
-- Sessions belong to an aiw user (ai_workbench/users): 'local' is the workbench's and the
-- CLI's single local user; `aiw serve` users see and continue only their own sessions.
ALTER TABLE sessions ADD COLUMN owner TEXT NOT NULL DEFAULT 'local';
CREATE INDEX sessions_owner_updated ON sessions(owner, updated);
"""
V12: Final = """
-- Substring search over messages (`aiw sessions search "KeyError: 'id'"`): a second FTS5 index
-- with the trigram tokenizer (SQLite >= 3.34) beside the word index, kept in step the same way
-- (a streaming answer joins it once its whole text is saved, see V6).
CREATE VIRTUAL TABLE messages_trigram USING fts5(
    content,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'trigram'
);
INSERT INTO messages_trigram(rowid, content) SELECT id, content FROM messages WHERE indexed;

CREATE TRIGGER messages_trigram_insert AFTER INSERT ON messages WHEN new.indexed BEGIN
    INSERT INTO messages_trigram(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_trigram_delete AFTER DELETE ON messages WHEN old.indexed BEGIN
    INSERT INTO messages_trigram(messages_trigram, rowid, content)
        VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_trigram_update AFTER UPDATE OF content, indexed ON messages BEGIN
    INSERT INTO messages_trigram(messages_trigram, rowid, content)
        SELECT 'delete', old.id, old.content WHERE old.indexed;
    INSERT INTO messages_trigram(rowid, content) SELECT new.id, new.content WHERE new.indexed;
END;
CREATE INDEX messages_created ON messages(created);
"""
"""A trigram FTS5 index over messages for substring search (code fragments, error messages)."""
