"""The suggestion queue's table, per schema version (assembled in order by
:mod:`ai_workbench.schema`). Shipped scripts never change (see docs/storage.md)."""

from __future__ import annotations

from typing import Final

V2: Final = """
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
"""The suggestions queue (producers dedupe by fingerprint)."""
