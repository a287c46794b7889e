"""The agent's audit tables, per schema version (assembled in order by :mod:`ai_workbench.schema`).
Shipped scripts never change (see docs/storage.md); the queries are in :mod:`.store`."""

from __future__ import annotations

from typing import Final

V7: Final = """
-- aiw agent: every run and every step it took (arguments redacted), for `aiw agent log`.
CREATE TABLE agent_runs (
    id           INTEGER PRIMARY KEY,
    owner        TEXT NOT NULL DEFAULT 'local',
    goal         TEXT NOT NULL,                 -- redacted
    mode         TEXT NOT NULL,                 -- plan | ask | auto-edit | full-auto
    model        TEXT,
    provider     TEXT,
    project      TEXT NOT NULL DEFAULT '',
    persona      TEXT,
    sandbox      TEXT,                          -- bwrap | landlock | none
    protocol     TEXT,                          -- tools | text
    session_id   TEXT,                          -- the chat session holding its conversation
    status       TEXT NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'done', 'limit', 'question', 'refused', 'error',
                                   'cancelled')),
    exit_reason  TEXT,
    summary      TEXT,                          -- JSON (agent.summary.RunSummary), redacted
    tokens_in    INTEGER,
    tokens_out   INTEGER,
    cost         REAL,
    steps        INTEGER NOT NULL DEFAULT 0,
    started      REAL NOT NULL,
    ended        REAL
);
CREATE INDEX agent_runs_started ON agent_runs(owner, started);
CREATE TABLE agent_steps (
    id             INTEGER PRIMARY KEY,
    run_id         INTEGER NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
    n              INTEGER NOT NULL,
    tool           TEXT NOT NULL,
    target         TEXT NOT NULL DEFAULT '',    -- redacted
    args           TEXT NOT NULL DEFAULT '{}',  -- JSON, redacted
    decision       TEXT NOT NULL,               -- auto | rule:<r> | user-approved | user-denied
                                                -- | refused | error
    exit_code      INTEGER,
    duration_ms    REAL,
    output_digest  TEXT,
    summary        TEXT,                        -- redacted
    diff           TEXT,                        -- redacted
    changed_files  TEXT NOT NULL DEFAULT '[]',  -- JSON list
    is_error       INTEGER NOT NULL DEFAULT 0,
    created        REAL NOT NULL,
    UNIQUE (run_id, n)
);
"""
"""Agent runs and their steps."""
