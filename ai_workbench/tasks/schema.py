"""The tasks and reminders tables, per schema version (assembled in order by
:mod:`ai_workbench.schema`). Shipped scripts never change (see docs/storage.md)."""

from __future__ import annotations

from typing import Final

V10: Final = """
CREATE TABLE tasks (
    id             INTEGER PRIMARY KEY,
    owner          TEXT NOT NULL DEFAULT 'local',   -- the user's name ('local': this machine's)
    title          TEXT NOT NULL,
    notes          TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    due_at         REAL,                    -- UTC epoch seconds; NULL: no date
    tz             TEXT NOT NULL DEFAULT 'UTC',  -- the IANA zone the date was given in
    rrule          TEXT,                    -- RFC 5545 RRULE without DTSTART (due_at is it)
    remind_before  REAL,                    -- seconds before due_at; NULL: no reminder
    tags           TEXT NOT NULL DEFAULT '[]',  -- JSON list of strings
    links          TEXT NOT NULL DEFAULT '[]',  -- JSON list of {"kind": url|file, "target"}
    created        REAL NOT NULL,
    updated        REAL NOT NULL,
    done_at        REAL
);
CREATE INDEX tasks_owner_status_due ON tasks(owner, status, due_at);

CREATE TABLE reminders (
    id          INTEGER PRIMARY KEY,
    task_id     INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    owner       TEXT NOT NULL DEFAULT 'local',
    fire_at     REAL NOT NULL,              -- UTC epoch seconds
    claimed_at  REAL,                       -- set once, by the scheduler that delivers it
    claimed_by  TEXT,
    outcome     TEXT CHECK (outcome IN ('delivered', 'missed'))
);
CREATE INDEX reminders_pending ON reminders(fire_at) WHERE claimed_at IS NULL;
CREATE INDEX reminders_task ON reminders(task_id);
"""
"""Tasks with dates, links and tags per user, and their reminders (claimed exactly once)."""
