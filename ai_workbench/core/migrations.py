"""Numbered schema migrations for the aiw SQLite database.

``MIGRATIONS[i]`` is a plain SQL script that brings the schema from ``PRAGMA user_version = i`` to
``user_version = i + 1``. The store runs each pending script statement by statement inside one
``BEGIN IMMEDIATE`` transaction together with the ``user_version`` bump, so a migration is applied
entirely or not at all.

Rules (see docs/storage.md):

- Append only. Never edit or reorder a script that has shipped; fix mistakes with a new one.
- No ``BEGIN``/``COMMIT`` and no ``PRAGMA user_version`` in a script: the store adds them.
- No statements that cannot run inside a transaction (``VACUUM``, ``PRAGMA journal_mode``, ...).
"""

from __future__ import annotations

import sqlite3

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "split_statements"]

_V1 = """
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

CREATE TABLE feedback (
    id           INTEGER PRIMARY KEY,
    target_kind  TEXT NOT NULL,           -- 'message', 'finding', 'chunk', 'suggestion', ...
    target_id    TEXT NOT NULL,
    rating       INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment      TEXT,
    created      REAL NOT NULL,
    updated      REAL NOT NULL,
    UNIQUE (target_kind, target_id)
);

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

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    action   TEXT NOT NULL,
    detail   TEXT,
    created  REAL NOT NULL
);
"""

_V2 = """
CREATE TABLE suggestions (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,           -- 'review', 'shell', 'watch', 'info', ...
    title        TEXT NOT NULL,
    body         TEXT NOT NULL DEFAULT '',  -- Markdown
    actions      TEXT NOT NULL DEFAULT '[]',  -- JSON list of {"id", "label"}
    payload      TEXT,                    -- JSON for the producer
    source       TEXT,                    -- e.g. a file path or a command
    fingerprint  TEXT,                    -- the producer's dedupe key
    status       TEXT NOT NULL DEFAULT 'new'
                 CHECK (status IN ('new', 'seen', 'applied', 'dismissed', 'failed')),
    created      REAL NOT NULL,
    updated      REAL NOT NULL
);
CREATE INDEX suggestions_status_created ON suggestions(status, created);
CREATE UNIQUE INDEX suggestions_fingerprint ON suggestions(fingerprint)
    WHERE fingerprint IS NOT NULL;
"""

_V3 = """
-- The endpoint a session talks to, so `--session ID` reaches the same server
-- (an ad-hoc `--model M --api-base URL` has no profile to remember it by).
ALTER TABLE sessions ADD COLUMN api_base TEXT;
"""

_V4 = """
-- aiw review: every run, its findings (shown and held back), and the learnings from ratings.
CREATE TABLE review_runs (
    id           INTEGER PRIMARY KEY,
    repo         TEXT NOT NULL,           -- absolute repository root
    mode         TEXT NOT NULL,           -- worktree | staged | range | files
    target       TEXT NOT NULL DEFAULT '',
    model        TEXT,
    persona      TEXT,
    status       TEXT NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'complete', 'partial', 'error')),
    learning     INTEGER NOT NULL DEFAULT 1,
    stats        TEXT,                    -- JSON: calls, tokens, re-anchored, held counts...
    errors       TEXT,                    -- JSON list of problems reported to the user
    created      REAL NOT NULL,
    updated      REAL NOT NULL
);
CREATE INDEX review_runs_repo ON review_runs(repo, created);

CREATE TABLE review_findings (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES review_runs(id) ON DELETE CASCADE,
    path         TEXT NOT NULL,           -- repo-relative, forward slashes
    line_start   INTEGER NOT NULL CHECK (line_start >= 1),
    line_end     INTEGER NOT NULL,
    severity     TEXT NOT NULL CHECK (severity IN ('error', 'warning', 'info')),
    category     TEXT NOT NULL,
    title        TEXT NOT NULL,
    explanation  TEXT NOT NULL DEFAULT '',
    confidence   REAL NOT NULL DEFAULT 1.0,
    patch        TEXT,
    line_text    TEXT NOT NULL DEFAULT '',
    fingerprint  TEXT NOT NULL,
    reanchored   INTEGER NOT NULL DEFAULT 0,
    held_reason  TEXT,                    -- low-confidence | per-file-cap | learned | NULL
    note         TEXT,                    -- e.g. why a learning did or did not hold it back
    status       TEXT NOT NULL DEFAULT 'open'
                 CHECK (status IN ('open', 'held', 'applied', 'dismissed')),
    created      REAL NOT NULL,
    updated      REAL NOT NULL
);
CREATE INDEX review_findings_run ON review_findings(run_id);
CREATE INDEX review_findings_fingerprint ON review_findings(fingerprint);

CREATE TABLE review_learnings (
    id           INTEGER PRIMARY KEY,
    repo         TEXT NOT NULL,
    polarity     INTEGER NOT NULL CHECK (polarity IN (-1, 1)),  -- -1 avoid, +1 prefer
    category     TEXT NOT NULL,           -- a category, or '*' for any
    path_glob    TEXT NOT NULL DEFAULT '**',
    rule         TEXT NOT NULL,           -- natural language, editable
    enabled      INTEGER NOT NULL DEFAULT 1,
    created      REAL NOT NULL,
    updated      REAL NOT NULL
);
CREATE INDEX review_learnings_repo ON review_learnings(repo);

CREATE TABLE review_learning_examples (
    id           INTEGER PRIMARY KEY,
    learning_id  INTEGER NOT NULL REFERENCES review_learnings(id) ON DELETE CASCADE,
    finding_id   INTEGER,                 -- the rated finding (may be gone)
    path         TEXT NOT NULL,
    category     TEXT NOT NULL,
    severity     TEXT NOT NULL,
    title        TEXT NOT NULL,
    explanation  TEXT NOT NULL DEFAULT '',
    comment      TEXT,
    created      REAL NOT NULL,
    UNIQUE (learning_id, finding_id)
);
"""

_V5 = """
-- aiw shell hook: failed commands, their captured output, context and analysis.
CREATE TABLE shell_events (
    id           INTEGER PRIMARY KEY,
    uid          TEXT NOT NULL UNIQUE,     -- the hook's event id (pid-time-random)
    user         TEXT NOT NULL DEFAULT '',
    shell        TEXT NOT NULL DEFAULT '',
    command      TEXT NOT NULL,           -- redacted
    exit_code    INTEGER NOT NULL,
    cwd          TEXT NOT NULL DEFAULT '',
    duration_ms  INTEGER,
    stderr       TEXT,                    -- captured output (redacted), NULL when unavailable
    capture      TEXT NOT NULL DEFAULT 'none',  -- tmux | screen | kitty | wezterm | none
    context      TEXT,                    -- JSON sent to the model (redacted)
    explanation  TEXT,                    -- Markdown
    suggestions  TEXT,                    -- JSON list of {description, command, risk_level}
    model        TEXT,
    status       TEXT NOT NULL DEFAULT 'new'
                 CHECK (status IN ('new', 'analysing', 'done', 'error', 'ignored')),
    error        TEXT,
    cache_key    TEXT,
    suggestion_id INTEGER,
    created      REAL NOT NULL,
    updated      REAL NOT NULL
);
CREATE INDEX shell_events_created ON shell_events(created);
CREATE INDEX shell_events_cache ON shell_events(cache_key);
"""

_V6 = """
-- A streaming answer is saved by appending to its content (Store.append_message) with
-- indexed = 0, which keeps it out of the full-text index; the final save of the whole text
-- (Store.update_message with content) sets indexed = 1 and indexes it once. Until then,
-- saves cost the new text only, not a rewrite of the message's FTS row.
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

MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4, _V5, _V6]
"""Index ``i`` brings the schema to ``user_version = i + 1``."""

SCHEMA_VERSION: int = len(MIGRATIONS)
"""The schema version this code writes and understands."""


def split_statements(script: str) -> list[str]:
    """Split a SQL script into complete statements (keeps trigger bodies and literals whole)."""
    statements: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            stmt = buf.strip()
            if stmt.strip(";").strip():
                statements.append(stmt)
            buf = ""
    rest = buf.rstrip(";").strip()
    if rest:
        raise ValueError(f"incomplete SQL statement at end of migration: {rest[:60]!r}")
    return statements
