"""The shell hook's table, per schema version (assembled in order by
:mod:`ai_workbench.schema`). Shipped scripts never change (see docs/storage.md); the queries are
in :mod:`.events`."""

from __future__ import annotations

from typing import Final

V5: Final = """
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
"""Failed commands, their captured output and analysis."""
