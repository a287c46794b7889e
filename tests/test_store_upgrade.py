"""A database made by the last release opens in place with the current code, every row readable.

``tests/data/aiw-release-bf46af8.db`` was written by commit bf46af8 (before the store was split
into per-capability queries) through that release's own APIs, with rows in every table
(``tests/data/make_release_db.py`` says how to remake it). Each test opens a COPY.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from ai_workbench.core.db import Database, StoreError
from ai_workbench.core.feedback import FeedbackService
from ai_workbench.core.migrations import assemble
from ai_workbench.review.storage import ReviewStore
from ai_workbench.schema import MIGRATIONS, SCHEMA_VERSION
from ai_workbench.shell.events import ShellEventStore
from ai_workbench.store import Store
from ai_workbench.suggestions.service import SuggestionQueue

FIXTURE = Path(__file__).parent / "data" / "aiw-release-bf46af8.db"
RELEASE_VERSION = 5
TABLES = (
    "sessions",
    "messages",
    "attachments",
    "feedback",
    "audit",
    "suggestions",
    "review_runs",
    "review_findings",
    "review_learnings",
    "review_learning_examples",
    "shell_events",
)


@pytest.fixture
def release_db(tmp_path: Path) -> Path:
    copy = tmp_path / "aiw.db"
    shutil.copyfile(FIXTURE, copy)
    return copy


def _schema(path: Path) -> set[tuple[str, str, str]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
            " AND name NOT LIKE 'sqlite_%'"
            " AND NOT (type = 'table' AND name LIKE 'messages_fts_%')"  # FTS5 shadow tables
        ).fetchall()
    finally:
        conn.close()
    return {(t, n, " ".join(s.split())) for t, n, s in rows}


def test_fixture_has_a_row_in_every_table(release_db: Path) -> None:
    conn = sqlite3.connect(release_db)  # a copy: even reading a WAL file writes -shm beside it
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == RELEASE_VERSION
        for table in TABLES:
            assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] >= 1, table
    finally:
        conn.close()


async def test_release_database_reads_back_through_the_new_apis(release_db: Path) -> None:
    before = hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
    async with await Store.open(release_db) as store:
        # chat: sessions, messages, attachments, search
        (session,) = await store.list_sessions()
        assert session.title == "release session"
        assert (session.persona, session.model) == ("reviewer", "ollama/qwen2.5-coder")
        assert session.context == ["Web", "Data"]
        assert session.api_base == "http://127.0.0.1:11434"
        assert session.message_count == 2
        assert (await store.get_session(session.id[:6])).id == session.id
        question, answer = await store.get_messages(session.id)
        assert (question.role, question.content) == ("user", "how do I rotate the zebra logs?")
        assert [(a.path, a.size) for a in question.attachments] == [("notes/zebra.txt", 42)]
        assert question.attachments[0].sha256 == "ab" * 32
        assert (answer.role, answer.status, answer.model) == ("assistant", "partial", "m")
        assert (answer.tokens_in, answer.tokens_out, answer.latency_ms) == (12, 9, 340)
        assert answer.cost == pytest.approx(0.0012)
        hits = await store.search_messages("zebra")
        assert {h.message_id for h in hits} == {question.id, answer.id}

        # feedback (core) and the audit log
        rating = await FeedbackService(store).get("message", answer.id)
        assert rating is not None and (rating.rating, rating.comment) == (1, "clear answer")
        chunk = await store.get_feedback("chunk", "src/app.py:1-20")
        assert chunk is not None and chunk.rating == -1
        assert len(await store.list_feedback()) == 2
        (entry,) = await store.recent_audit()
        assert entry.action == "fix.run"
        assert json.loads(entry.detail or "") == {"command": "ls -la", "exit": 0}

        # suggestions
        (item,) = await SuggestionQueue(store).list(statuses=None)
        assert (item.kind, item.title, item.status) == ("shell", "make: missing target", "seen")
        assert [(a.id, a.label) for a in item.actions] == [("apply", "Run it")]
        assert item.payload == {"event": 1}
        assert (item.source, item.fingerprint) == ("make biuld", "shell:make-biuld")

        # review: run, findings (shown and held), learning with its example
        reviews = ReviewStore(store)
        (run,) = await reviews.list_runs("/repo")
        assert (run.mode, run.status, run.learning) == ("staged", "partial", True)
        assert run.stats["calls"] == 2
        assert run.errors == ["one chunk timed out"]
        shown, held = await reviews.findings(run.id)
        assert (shown.path, shown.line_start, shown.title) == ("src/app.py", 3, "Off by one")
        assert shown.patch == "--- a\n+++ b\n" and shown.held_reason is None
        assert (held.held_reason, held.status) == ("low-confidence", "held")
        (learning,) = await reviews.learnings("/repo")
        assert (learning.kind, learning.rule, learning.path_glob) == (
            "avoid",
            "No long lines",
            "**/*.py",
        )
        assert [(e.finding_id, e.comment) for e in learning.examples] == [(held.id, "noise")]

        # shell: the event and its analysis
        (event,) = await ShellEventStore(store).recent()
        assert (event.command, event.exit_code, event.shell) == ("make biuld", 2, "bash")
        assert event.duration_ms == 1500
        assert event.stderr == "make: *** No rule to make target 'biuld'."
        assert (event.status, event.explanation) == ("done", "A typo in the target name.")
        assert event.suggestions[0]["command"] == "make build"
        assert (event.context, event.suggestion_id) == ({"cwd": "/repo"}, item.id)

        # and it keeps working: writes go through the same triggers and constraints
        new_id = await store.add_message(session.id, "user", "zebra again")
        assert new_id in {h.message_id for h in await store.search_messages("zebra")}

    conn = sqlite3.connect(release_db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    assert hashlib.sha256(FIXTURE.read_bytes()).hexdigest() == before  # only the copy changed


async def test_split_schema_builds_what_the_release_built(release_db: Path, tmp_path: Path) -> None:
    """Each capability's DDL, assembled in order, gives a new file the release's exact schema."""
    fresh = tmp_path / "fresh.db"
    db = await Database.open(fresh, migrations=MIGRATIONS[:RELEASE_VERSION])
    await db.close()
    assert SCHEMA_VERSION >= RELEASE_VERSION
    assert _schema(fresh) == _schema(release_db)


async def test_kernel_alone_refuses_to_open_without_the_migrations(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="migrations"):
        await Database.open(tmp_path / "x.db")
    assert not (tmp_path / "x.db").exists()
    db = await Database.open(tmp_path / "x.db", migrations=MIGRATIONS)
    await db.close()
    # a shorter list cannot open a newer file: the release's user is told to upgrade
    with pytest.raises(StoreError, match="upgrade aiw"):
        await Database.open(tmp_path / "x.db", migrations=MIGRATIONS[:2])


def test_assemble_keeps_versions_in_order() -> None:
    assert assemble((1, "CREATE TABLE a (x);", "CREATE TABLE b (y);"), (2, "DROP TABLE b;")) == (
        "CREATE TABLE a (x);\nCREATE TABLE b (y);",
        "DROP TABLE b;",
    )
    with pytest.raises(ValueError, match="version 3 listed where 2 belongs"):
        assemble((1, "CREATE TABLE a (x);"), (3, "CREATE TABLE c (z);"))
    with pytest.raises(ValueError, match="empty script"):
        assemble((1, "  "))
