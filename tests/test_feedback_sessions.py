"""FeedbackService and SessionService, against real SQLite files in tmp_path."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ai_workbench.chat.sessions import SessionService
from ai_workbench.core.feedback import FeedbackService
from ai_workbench.store import SessionNotFound, Store


@pytest.fixture
def feedback(store: Store) -> FeedbackService:
    return FeedbackService(store)


@pytest.fixture
def sessions(store: Store) -> SessionService:
    return SessionService(store)


# ------------------------------------------------------------------------------------ feedback


async def test_rate_edit_and_clear(feedback: FeedbackService) -> None:
    assert await feedback.get("message", 1) is None
    liked = await feedback.rate("message", 1, 1, "clear and correct")
    assert (liked.target_kind, liked.target_id, liked.rating) == ("message", "1", 1)
    assert liked.comment == "clear and correct"

    # Re-rating edits the same row; comment=None keeps the comment.
    disliked = await feedback.rate("message", "1", -1)
    assert disliked.id == liked.id
    assert disliked.rating == -1
    assert disliked.comment == "clear and correct"
    assert disliked.created == liked.created
    assert disliked.updated >= liked.updated

    changed = await feedback.rate("message", 1, -1, "actually wrong")
    assert changed.comment == "actually wrong"
    removed_comment = await feedback.rate("message", 1, -1, "  ")
    assert removed_comment.comment is None

    got = await feedback.get("message", "1")
    assert got is not None and got.rating == -1

    assert await feedback.clear("message", 1) is True
    assert await feedback.get("message", 1) is None
    assert await feedback.clear("message", 1) is False


async def test_bad_rating_is_refused(feedback: FeedbackService) -> None:
    for bad in (0, 2, -2, True, False):
        with pytest.raises(ValueError, match="rating must be"):
            await feedback.rate("message", 1, bad)
    with pytest.raises(ValueError):
        await feedback.rate("message", 1, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await feedback.rate("", 1, 1)
    assert await feedback.get("message", 1) is None


async def test_comment_is_redacted_before_storing(feedback: FeedbackService, db_path: Path) -> None:
    item = await feedback.rate("message", 7, -1, "it printed my key AKIAIOSFODNN7EXAMPLE!")
    assert "AKIAIOSFODNN7EXAMPLE" not in (item.comment or "")
    assert "[REDACTED:aws-access-key-id]" in (item.comment or "")
    conn = sqlite3.connect(db_path)
    try:
        (stored,) = conn.execute("SELECT comment FROM feedback").fetchone()
    finally:
        conn.close()
    assert "AKIAIOSFODNN7EXAMPLE" not in stored
    assert stored == "it printed my key [REDACTED:aws-access-key-id]!"


async def test_for_targets_bulk(feedback: FeedbackService) -> None:
    await feedback.rate("message", 1, 1)
    await feedback.rate("message", 3, -1, "meh")
    await feedback.rate("finding", 1, -1)  # other kind, same id: not included
    got = await feedback.for_targets("message", [1, 2, 3, "3", 4])
    assert set(got) == {"1", "3"}
    assert got["1"].rating == 1
    assert got["3"].rating == -1 and got["3"].comment == "meh"
    assert await feedback.for_targets("message", []) == {}

    # More ids than one IN (...) chunk holds.
    for i in range(100, 110):
        await feedback.rate("chunk", i, 1)
    many = await feedback.for_targets("chunk", range(0, 1200))
    assert set(many) == {str(i) for i in range(100, 110)}


async def test_summary(feedback: FeedbackService) -> None:
    assert await feedback.summary() == {"likes": 0, "dislikes": 0}
    await feedback.rate("message", 1, 1)
    await feedback.rate("message", 2, 1)
    await feedback.rate("message", 3, -1)
    await feedback.rate("suggestion", 1, -1)
    assert await feedback.summary() == {"likes": 2, "dislikes": 2}
    assert await feedback.summary("message") == {"likes": 2, "dislikes": 1}
    assert await feedback.summary("suggestion") == {"likes": 0, "dislikes": 1}
    assert await feedback.summary("nothing") == {"likes": 0, "dislikes": 0}
    await feedback.rate("message", 3, 1)  # edit, not a new rating
    assert await feedback.summary("message") == {"likes": 3, "dislikes": 0}


async def test_feedback_persists_across_reopen(db_path: Path) -> None:
    async with await Store.open(db_path) as s:
        await FeedbackService(s).rate("message", 5, 1, "good")
    async with await Store.open(db_path) as s:
        got = await FeedbackService(s).get("message", 5)
        assert got is not None and got.comment == "good"


# ------------------------------------------------------------------------------------ sessions


async def _chat(store: Store, title: str, *turns: str) -> str:
    session = await store.create_session(title=title, model="m1")
    for i, text in enumerate(turns):
        await store.add_message(session.id, "user" if i % 2 == 0 else "assistant", text)
    return session.id


async def test_new_titles_and_open(sessions: SessionService, store: Store) -> None:
    assert await sessions.titles() == []
    created = await sessions.new(persona="reviewer", model="gpt-x")
    assert created.persona == "reviewer" and created.model == "gpt-x" and created.title == ""
    other = await _chat(store, "pandas question", "how do I pivot?", "use pivot_table")
    listed = await sessions.titles()
    assert [s.id for s in listed] == [other, created.id]
    assert listed[0].message_count == 2
    assert len(await sessions.titles(limit=1)) == 1

    session, messages = await sessions.open(other)
    assert session.title == "pandas question"
    assert [(m.role, m.content) for m in messages] == [
        ("user", "how do I pivot?"),
        ("assistant", "use pivot_table"),
    ]
    session, _ = await sessions.open(other[:10])  # a unique prefix works too
    assert session.id == other
    with pytest.raises(SessionNotFound):
        await sessions.open("0" * 32)


async def test_rename_persona_model(sessions: SessionService) -> None:
    s = await sessions.new()
    renamed = await sessions.rename(s.id, "  Refactor plan  ")
    assert renamed.title == "Refactor plan"
    assert (await sessions.set_persona(s.id, "teacher")).persona == "teacher"
    assert (await sessions.set_model(s.id, "llama3")).model == "llama3"
    session, _ = await sessions.open(s.id)
    assert (session.title, session.persona, session.model) == ("Refactor plan", "teacher", "llama3")
    assert (await sessions.set_persona(s.id, None)).persona is None
    with pytest.raises(SessionNotFound):
        await sessions.rename("0" * 32, "x")


async def test_delete(sessions: SessionService, store: Store, db_path: Path) -> None:
    keep = await _chat(store, "keep", "hello")
    gone = await _chat(store, "gone", "bye", "see you")
    await sessions.delete(gone)
    assert [s.id for s in await sessions.titles()] == [keep]
    with pytest.raises(SessionNotFound):
        await sessions.open(gone)
    with pytest.raises(SessionNotFound):
        await sessions.delete(gone)
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 1
    finally:
        conn.close()


async def test_search(sessions: SessionService, store: Store) -> None:
    a = await _chat(store, "sql", "how do window functions work", "use OVER (PARTITION BY ...)")
    b = await _chat(store, "py", "asyncio gather vs wait", "gather returns results in order")
    assert await sessions.search("") == []
    assert await sessions.search("   ") == []
    hits = await sessions.search("gather")
    assert {h.session_id for h in hits} == {b}
    assert all("[gather]" in h.snippet for h in hits)
    assert hits[0].session_title == "py"
    hits = await sessions.search("window funct*")
    assert [h.session_id for h in hits] == [a]
    assert await sessions.search('OVER "( NEAR') == []  # FTS5 syntax is plain text, no error
    marked = await sessions.search("asyncio", highlight=("<b>", "</b>"))
    assert "<b>asyncio</b>" in marked[0].snippet
    await sessions.delete(b)
    assert await sessions.search("gather") == []


async def test_export_md_and_json(sessions: SessionService, store: Store) -> None:
    sid = await _chat(store, "Export me", "What is 2+2?", "It is **4**.")
    md = await sessions.export(sid, "md")
    assert md.startswith("# Export me")
    assert "## You" in md and "What is 2+2?" in md
    assert "## Assistant" in md and "It is **4**." in md
    assert sid in md

    data = json.loads(await sessions.export(sid, "json"))
    assert data["id"] == sid and data["title"] == "Export me"
    assert [m["content"] for m in data["messages"]] == ["What is 2+2?", "It is **4**."]
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]

    with pytest.raises(ValueError, match="export format"):
        await sessions.export(sid, "html")
    with pytest.raises(SessionNotFound):
        await sessions.export("0" * 32, "md")
