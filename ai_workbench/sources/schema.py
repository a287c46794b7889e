"""The sources' tables, per schema version (assembled in order by :mod:`ai_workbench.schema`).
Shipped scripts never change (see docs/storage.md).

``sources`` are the configured sources (never a token: only the name of the environment variable
that holds it), ``source_documents`` the manifest that makes a sync incremental (the source's
own version, ETag or update time, else a content hash) and ``source_runs`` one JSON report per
sync run. The chunks themselves live in the project's knowledge index (knowledge/service.py).
"""

from __future__ import annotations

from typing import Final

V14: Final = """
CREATE TABLE sources (
    id         INTEGER PRIMARY KEY,
    owner      TEXT NOT NULL DEFAULT 'local',
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL
               CHECK (kind IN ('confluence', 'gitlab', 'github', 'web', 'dir')),
    location   TEXT NOT NULL,             -- base URL, OWNER/REPO or a folder
    options    TEXT NOT NULL DEFAULT '{}', -- JSON: space, project, token_env, depth, ...
    root       TEXT NOT NULL,             -- the project whose index it feeds
    state      TEXT NOT NULL DEFAULT '{}', -- JSON: the connector's cursors (ETags of pages)
    created    REAL NOT NULL,
    last_sync  REAL,
    UNIQUE (owner, name)
);
CREATE TABLE source_documents (
    id            INTEGER PRIMARY KEY,
    source_id     INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,          -- the source's id: page id, issue/12, a path, a URL
    rel           TEXT NOT NULL,          -- its name in the index and in citations
    title         TEXT NOT NULL DEFAULT '',
    url           TEXT NOT NULL,
    version       TEXT,                   -- the source's version, ETag or update time
    content_hash  TEXT NOT NULL,
    priority      REAL NOT NULL DEFAULT 0, -- -1..1, from ratings of its chunks
    chunks        INTEGER NOT NULL DEFAULT 0,
    synced        REAL NOT NULL,
    UNIQUE (source_id, external_id)
);
CREATE TABLE source_runs (
    id           INTEGER PRIMARY KEY,
    owner        TEXT NOT NULL DEFAULT 'local',
    source_id    INTEGER REFERENCES sources(id) ON DELETE SET NULL,
    source_name  TEXT NOT NULL,
    started      REAL NOT NULL,
    finished     REAL NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('ok', 'partial', 'failed')),
    report       TEXT NOT NULL            -- JSON (docs/sources.md)
);
CREATE INDEX source_runs_started ON source_runs(started);
"""
"""Sources, their documents' manifest and the sync runs' reports."""
