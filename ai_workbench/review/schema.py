"""Review's tables, per schema version (assembled in order by :mod:`ai_workbench.schema`).
Shipped scripts never change (see docs/storage.md); the queries are in :mod:`.storage`."""

from __future__ import annotations

from typing import Final

V4: Final = """
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
"""Review runs, findings, learnings and their examples."""
