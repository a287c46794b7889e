"""Schema migrations: the rules, and the helpers the runner in :mod:`ai_workbench.core.db` uses.

The schema is versioned by ``PRAGMA user_version``: ``MIGRATIONS[i]`` is a plain SQL script that
brings it from ``user_version = i`` to ``i + 1``. There is still ONE ordered list, but no table is
defined here: each capability keeps its DDL per version beside its queries (``chat/schema.py``,
``suggestions/schema.py``, ``review/schema.py``, ``shell/schema.py``; feedback and audit in
``core/feedback.py`` and ``core/audit.py``), and :mod:`ai_workbench.schema` lists them in order
with :func:`assemble`. The runner applies each pending script statement by statement inside one
``BEGIN IMMEDIATE`` transaction together with the ``user_version`` bump, so a migration is applied
entirely or not at all.

Rules (see docs/storage.md):

- Append only. Never edit or reorder a script that has shipped; fix mistakes with a new version.
- No ``BEGIN``/``COMMIT`` and no ``PRAGMA user_version`` in a script: the runner adds them.
- No statements that cannot run inside a transaction (``VACUUM``, ``PRAGMA journal_mode``, ...).
"""

from __future__ import annotations

import sqlite3

__all__ = ["assemble", "split_statements"]


def assemble(*versions: tuple[int | str, ...]) -> tuple[str, ...]:
    """The ordered migrations list from ``(version, script, script, ...)`` rows.

    Versions must run 1, 2, 3, ... without gaps; a version's scripts (one per capability that
    changes the schema in it) are joined in the order given.
    """
    scripts: list[str] = []
    for expected, row in enumerate(versions, start=1):
        version, *parts = row
        if version != expected:
            raise ValueError(f"schema version {version} listed where {expected} belongs")
        texts = [p for p in parts if isinstance(p, str) and p.strip()]
        if not texts or len(texts) != len(parts):
            raise ValueError(f"schema version {version} has an empty script")
        for text in texts:
            split_statements(text)  # an unfinished statement fails here, at import
        scripts.append("\n".join(texts))
    return tuple(scripts)


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
