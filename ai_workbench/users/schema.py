"""The users table (schema version 8; assembled by :mod:`ai_workbench.schema`).

A token is shown once when it is made; only its SHA-256 is stored. A revoked user keeps their
row (their sessions and ratings stay theirs) with ``revoked`` set and no token.
"""

from __future__ import annotations

from typing import Final

V8: Final = """
CREATE TABLE users (
    name        TEXT PRIMARY KEY,          -- lower case; owns sessions, feedback, audit rows
    admin       INTEGER NOT NULL DEFAULT 0,
    token_hash  TEXT UNIQUE,               -- sha256 hex of the token; NULL once revoked
    created     REAL NOT NULL,
    revoked     REAL,
    last_used   REAL
);
"""
