"""The suggestion queue and migration 2, against real SQLite files in tmp_path."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from ai_workbench.core.migrations import split_statements
from ai_workbench.schema import MIGRATIONS
from ai_workbench.store import Store
from ai_workbench.suggestions.service import (
    Suggestion,
    SuggestionAction,
    SuggestionNotFound,
    SuggestionQueue,
)


@pytest.fixture
def queue(store: Store) -> SuggestionQueue:
    return SuggestionQueue(store)


async def test_add_and_get_round_trip(queue: SuggestionQueue) -> None:
    item = await queue.add(
        "review",
        "Possible None dereference",
        "`user` may be **None** here",
        actions=[SuggestionAction("apply", "Apply fix"), {"id": "open", "label": "Open file"}],
        payload={"file": "app.py", "line": 12},
        source="app.py",
        fingerprint="fp-1",
    )
    assert item is not None
    assert item.status == "new"
    assert item.created == item.updated
    got = await queue.get(item.id)
    assert got == item
    assert got.actions == [
        SuggestionAction("apply", "Apply fix"),
        SuggestionAction("open", "Open file"),
    ]
    assert got.payload == {"file": "app.py", "line": 12}
    assert got.source == "app.py"
    assert got.fingerprint == "fp-1"


async def test_defaults_and_tuple_actions(queue: SuggestionQueue) -> None:
    item = await queue.add("info", "Tip", actions=[("ok", "Got it")])
    assert item is not None
    got = await queue.get(item.id)
    assert got.body == ""
    assert got.payload is None
    assert got.source is None
    assert got.fingerprint is None
    assert got.actions == [SuggestionAction("ok", "Got it")]


async def test_list_newest_first_filters_and_limit(queue: SuggestionQueue) -> None:
    ids = []
    for i, kind in enumerate(["shell", "review", "shell", "watch"]):
        item = await queue.add(kind, f"item {i}")
        assert item is not None
        ids.append(item.id)
    assert [s.id for s in await queue.list()] == ids[::-1]
    assert [s.id for s in await queue.list(kind="shell")] == [ids[2], ids[0]]
    assert [s.id for s in await queue.list(limit=2)] == [ids[3], ids[2]]

    await queue.set_status(ids[0], "seen")
    await queue.set_status(ids[1], "applied")
    await queue.dismiss(ids[2])
    assert [s.id for s in await queue.list()] == [ids[3], ids[0]]  # new + seen by default
    assert [s.id for s in await queue.list(statuses=("applied", "dismissed"))] == [ids[2], ids[1]]
    assert len(await queue.list(statuses=None)) == 4
    assert await queue.list(statuses=()) == []


async def test_set_status_and_dismiss(queue: SuggestionQueue) -> None:
    item = await queue.add("shell", "Retry with sudo?")
    assert item is not None
    seen = await queue.set_status(item.id, "seen")
    assert seen.status == "seen"
    assert seen.updated >= item.updated
    failed = await queue.set_status(item.id, "failed")
    assert failed.status == "failed"
    dismissed = await queue.dismiss(item.id)
    assert dismissed.status == "dismissed"
    assert (await queue.get(item.id)).status == "dismissed"


async def test_bad_status_and_unknown_id(queue: SuggestionQueue) -> None:
    item = await queue.add("info", "x")
    assert item is not None
    with pytest.raises(ValueError, match="status must be one of"):
        await queue.set_status(item.id, "done")
    with pytest.raises(ValueError):
        await queue.list(statuses=("bogus",))
    with pytest.raises(SuggestionNotFound):
        await queue.get(9999)
    with pytest.raises(SuggestionNotFound):
        await queue.set_status(9999, "seen")
    with pytest.raises(SuggestionNotFound):
        await queue.dismiss(9999)
    with pytest.raises(ValueError):
        await queue.add("", "no kind")
    with pytest.raises(ValueError):
        await queue.add("info", "  ")


async def test_fingerprint_dedupes_in_every_status(queue: SuggestionQueue) -> None:
    first = await queue.add("review", "Unused import", fingerprint="same")
    assert first is not None
    assert await queue.add("review", "Unused import (again)", fingerprint="same") is None
    await queue.dismiss(first.id)
    # A dismissed suggestion does not come back for the same content.
    assert await queue.add("review", "Unused import", fingerprint="same") is None
    await queue.set_status(first.id, "applied")
    assert await queue.add("shell", "other kind, same key", fingerprint="same") is None
    assert len(await queue.list(statuses=None)) == 1
    # No fingerprint: never deduplicated.
    assert await queue.add("info", "a") is not None
    assert await queue.add("info", "a") is not None
    assert await queue.add("review", "Unused import", fingerprint="different") is not None
    assert len(await queue.list(statuses=None)) == 4


async def test_dedupe_survives_restart(db_path: Path) -> None:
    async with await Store.open(db_path) as s:
        item = await SuggestionQueue(s).add("watch", "File changed", fingerprint="w1")
        assert item is not None
        await SuggestionQueue(s).dismiss(item.id)
    async with await Store.open(db_path) as s:
        assert await SuggestionQueue(s).add("watch", "File changed", fingerprint="w1") is None


async def test_items_persist_across_reopen(db_path: Path) -> None:
    async with await Store.open(db_path) as s:
        q = SuggestionQueue(s)
        a = await q.add("review", "A", "body **a**", actions=[("apply", "Apply")], payload={"k": 1})
        b = await q.add("shell", "B")
        assert a is not None and b is not None
        await q.set_status(b.id, "seen")
    async with await Store.open(db_path) as s:
        q = SuggestionQueue(s)
        items = await q.list()
        assert [i.id for i in items] == [b.id, a.id]
        assert items[1] == a
        assert items[0].status == "seen"
        assert await q.counts() == {"new": 1, "seen": 1, "applied": 0, "dismissed": 0, "failed": 0}


async def test_subscribers_hear_new_items_after_commit(
    queue: SuggestionQueue, db_path: Path
) -> None:
    heard: list[Suggestion] = []
    committed: list[int] = []

    def listener(item: Suggestion) -> None:
        heard.append(item)
        # Called after commit: another connection already sees the row.
        conn = sqlite3.connect(db_path)
        try:
            committed.append(conn.execute("SELECT COUNT(*) FROM suggestions").fetchone()[0])
        finally:
            conn.close()

    unsubscribe = queue.subscribe(listener)
    item = await queue.add("info", "hello", fingerprint="h")
    assert heard == [item]
    assert committed == [1]

    assert await queue.add("info", "hello", fingerprint="h") is None  # duplicate: no call
    assert await queue.set_status(heard[0].id, "seen")  # status change: no call
    assert len(heard) == 1

    unsubscribe()
    unsubscribe()  # idempotent
    await queue.add("info", "after")
    assert len(heard) == 1


async def test_failing_subscriber_is_logged_and_ignored(
    queue: SuggestionQueue, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[str] = []

    def broken(item: Suggestion) -> None:
        raise RuntimeError("boom")

    queue.subscribe(broken)
    queue.subscribe(lambda item: heard.append(item.title))
    with caplog.at_level(logging.ERROR, logger="ai_workbench.suggestions.service"):
        item = await queue.add("info", "still added")
    assert item is not None
    assert heard == ["still added"]
    assert "boom" in caplog.text
    assert (await queue.get(item.id)).title == "still added"


async def test_counts_by_status(queue: SuggestionQueue) -> None:
    assert await queue.counts() == {"new": 0, "seen": 0, "applied": 0, "dismissed": 0, "failed": 0}
    items = [await queue.add("info", str(i)) for i in range(5)]
    assert all(items)
    await queue.set_status(items[0].id, "seen")  # type: ignore[union-attr]
    await queue.set_status(items[1].id, "applied")  # type: ignore[union-attr]
    await queue.dismiss(items[2].id)  # type: ignore[union-attr]
    await queue.dismiss(items[3].id)  # type: ignore[union-attr]
    assert await queue.counts() == {"new": 1, "seen": 1, "applied": 1, "dismissed": 2, "failed": 0}


async def test_title_and_body_are_redacted(queue: SuggestionQueue) -> None:
    item = await queue.add(
        "shell", "leaked AKIAIOSFODNN7EXAMPLE", "export KEY=AKIAIOSFODNN7EXAMPLE", payload={"x": 1}
    )
    assert item is not None
    got = await queue.get(item.id)
    assert "AKIAIOSFODNN7EXAMPLE" not in got.title
    assert "AKIAIOSFODNN7EXAMPLE" not in got.body
    assert "[REDACTED:" in got.title


async def test_migration_2_applies_to_a_version_1_database(db_path: Path) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    for statement in split_statements(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    now = 1_700_000_000.0
    conn.execute(
        "INSERT INTO sessions (id, title, context, created, updated) VALUES (?, ?, '[]', ?, ?)",
        ("a" * 32, "old session", now, now),
    )
    conn.close()

    async with await Store.open(db_path) as s:
        assert (await s.get_session("a" * 32)).title == "old session"
        q = SuggestionQueue(s)
        item = await q.add("info", "works after upgrade", fingerprint="f")
        assert item is not None
        assert await q.add("info", "dup", fingerprint="f") is None

    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 2
        indexes = {
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'suggestions'"
            )
        }
        assert {"suggestions_status_created", "suggestions_fingerprint"} <= indexes
        # The CHECK constraint and the unique fingerprint index hold at the SQL level too.
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO suggestions (kind, title, status, created, updated)"
                " VALUES ('info', 't', 'bogus', 0, 0)"
            )
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO suggestions (kind, title, fingerprint, created, updated)"
                " VALUES ('info', 't', 'f', 0, 0)"
            )
        # Many rows without a fingerprint are fine.
        for _ in range(2):
            conn.execute(
                "INSERT INTO suggestions (kind, title, created, updated) VALUES ('info', 't', 0, 0)"
            )
        row = conn.execute(
            "SELECT body, actions, payload, status FROM suggestions ORDER BY id DESC"
        ).fetchone()
        assert row == ("", "[]", None, "new")
    finally:
        conn.close()


async def test_a_suggestion_is_rated_in_the_inbox(queue: SuggestionQueue) -> None:
    item = await queue.add("shell", "`make` failed", body="No Makefile.")
    assert item is not None
    assert await queue.rating(item.id) is None

    await queue.rate(item.id, -1, "would not help")
    await queue.rate(item.id, 1)  # re-rating from a key keeps the comment
    saved = await queue.rating(item.id)
    assert saved is not None and (saved.rating, saved.comment) == (1, "would not help")

    await queue.clear_rating(item.id)
    assert await queue.rating(item.id) is None


async def test_the_review_service_rates_other_suggestions_in_the_inbox(
    queue: SuggestionQueue, store: Store
) -> None:
    """The entry point the workbench calls for any inbox item: a suggestion that is not a review
    finding (even one of kind ``review`` without a finding id) is rated as a suggestion."""
    from ai_workbench.review.service import (
        clear_suggestion_rating,
        rate_suggestion,
        suggestion_rating,
    )

    shell = await queue.add("shell", "`make` failed")
    loose = await queue.add("review", "unused x", payload={"path": "calc.py", "line": 1})
    assert shell is not None and loose is not None

    await rate_suggestion(None, store, shell, -1, "no")
    await rate_suggestion(None, store, loose, 1)
    assert (await queue.rating(shell.id)).rating == -1  # type: ignore[union-attr]
    assert (await suggestion_rating(store, loose)).rating == 1  # type: ignore[union-attr]

    await clear_suggestion_rating(None, store, shell)
    assert await suggestion_rating(store, shell) is None
