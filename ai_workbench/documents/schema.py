"""The documents capability's tables (assembled in order by :mod:`ai_workbench.schema`).
Shipped scripts never change (see docs/storage.md); the queries are in :mod:`.storage`."""

from __future__ import annotations

from typing import Final

V13: Final = """
-- aiw doc: generated documents, their ratings (with the template version) and the learnings
-- (guidance from dislikes, examples from likes) later documents of the same type follow.
CREATE TABLE documents (
    id               INTEGER PRIMARY KEY,
    owner            TEXT NOT NULL DEFAULT 'local',
    doc_type         TEXT NOT NULL,           -- srs | nfr | usecases | api | adr | rfc | c4 | uml
    template         TEXT NOT NULL,           -- template id (the file's name)
    template_version INTEGER NOT NULL DEFAULT 1,
    title            TEXT NOT NULL,
    project          TEXT NOT NULL DEFAULT '',-- absolute project root ('' outside one)
    body             TEXT NOT NULL,           -- Markdown, the source of truth
    meta             TEXT NOT NULL DEFAULT '{}', -- JSON: answers, assumptions, sources, checks,
                                              -- diagrams, model, timings
    created          REAL NOT NULL,
    updated          REAL NOT NULL
);
CREATE INDEX documents_owner ON documents(owner, updated);

CREATE TABLE document_ratings (
    id               INTEGER PRIMARY KEY,
    owner            TEXT NOT NULL DEFAULT 'local',
    document_id      INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    section          TEXT NOT NULL DEFAULT '',  -- '' for the whole document
    doc_type         TEXT NOT NULL,
    template         TEXT NOT NULL,
    template_version INTEGER NOT NULL,
    rating           INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment          TEXT,
    created          REAL NOT NULL,
    updated          REAL NOT NULL,
    UNIQUE (owner, document_id, section)
);
CREATE INDEX document_ratings_template ON document_ratings(template, template_version);

CREATE TABLE document_learnings (
    id               INTEGER PRIMARY KEY,
    owner            TEXT NOT NULL DEFAULT 'local',
    doc_type         TEXT NOT NULL,
    template         TEXT NOT NULL,
    section          TEXT NOT NULL DEFAULT '',  -- '' for the whole document
    polarity         INTEGER NOT NULL CHECK (polarity IN (-1, 1)),  -- -1 guidance, +1 example
    rule             TEXT NOT NULL,           -- guidance text (editable) or the example's label
    example          TEXT NOT NULL DEFAULT '',-- the liked section's text (+1 only)
    hits             INTEGER NOT NULL DEFAULT 1, -- ratings merged into this learning
    enabled          INTEGER NOT NULL DEFAULT 1,
    source_rating    INTEGER,                 -- the document_ratings row that started it
    created          REAL NOT NULL,
    updated          REAL NOT NULL
);
CREATE INDEX document_learnings_type ON document_learnings(owner, doc_type);
"""
"""Documents, their ratings and learnings."""
