"""Search across sessions: words (FTS5 bm25) and exact text (FTS5 trigram) over real SQLite."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

from ai_workbench.chat.service import search_sessions
from ai_workbench.chat.sessions import SessionService
from ai_workbench.store import Store

WORDS = [
    "deploy",
    "cluster",
    "retry",
    "timeout",
    "config",
    "parser",
    "cache",
    "index",
    "query",
    "table",
    "schema",
    "migration",
    "worker",
    "thread",
    "socket",
    "request",
    "response",
    "header",
    "token",
    "session",
    "commit",
    "branch",
    "merge",
    "test",
    "fixture",
    "mock",
    "build",
    "docker",
    "image",
    "volume",
    "network",
    "proxy",
    "router",
    "handler",
    "middleware",
    "logger",
]


async def fill(store: Store, messages: int, *, seed: int = 7) -> dict[str, int]:
    """``messages`` messages over sessions of 50, a few planted ones; their ids by name."""
    rng = random.Random(seed)
    now = time.time()
    planted = {
        "keyerror": 'Traceback (most recent call last):\n  File "app.py", line 3\n'
        "KeyError: 'id'\n",
        "call": "the bug is in foo_bar(x) when x is None",
        "old": "we discussed the quarterly zeppelin budget",
    }
    plant_at = {messages // 3: "keyerror", messages // 2: "call", 5: "old"}
    found: dict[str, int] = {}
    async with store._write() as db:
        for start in range(0, messages, 50):
            sid = f"{start:032x}"
            model = "qwen" if (start // 50) % 2 else "llama"
            created = now - (messages - start) * 60  # one a minute, the oldest first
            await db.execute(
                "INSERT INTO sessions (id, title, model, context, created, updated)"
                " VALUES (?, ?, ?, '[]', ?, ?)",
                (sid, f"session {start // 50}", model, created, created),
            )
            rows = []
            for n in range(start, min(start + 50, messages)):
                text = " ".join(rng.choice(WORDS) for _ in range(30))
                if n % 97 == 0:  # the words KeyError and id, apart: a words match only
                    text += " a KeyError was raised and the id was missing"
                text = planted.get(plant_at.get(n, ""), text)
                role = "user" if n % 2 == 0 else "assistant"
                stamp = now - (messages - n) * 60
                rows.append((sid, role, text, model if role == "assistant" else None, stamp, stamp))
            await db.executemany(
                "INSERT INTO messages (session_id, role, content, model, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
    async with store._read() as db:
        for name, text in planted.items():
            row = await store._one(db, "SELECT id FROM messages WHERE content = ?", (text,))
            found[name] = row[0]
    return found


async def test_search_across_ten_thousand_messages(store: Store) -> None:
    ids = await fill(store, 10_000)
    search = SessionService(store).search

    exact = await search("KeyError: 'id'", 10)
    assert exact[0].message_id == ids["keyerror"]  # the exact text first
    assert exact[0].match in ("text", "both") and "[KeyError: 'id']" in exact[0].snippet
    assert any(h.match == "words" for h in exact)  # the words apart come after it

    call = await search("foo_bar(", 5)
    assert [h.message_id for h in call] == [ids["call"]]
    assert "[foo_bar(]" in call[0].snippet

    words = await search("zeppelin budget", 5)
    assert words[0].message_id == ids["old"] and "[zeppelin]" in words[0].snippet

    recent = await search("zeppelin", 5, since=time.time() - 3_600)
    assert recent == []  # planted 10,000 minutes ago
    assert await search("zeppelin", 5, model="llama")  # its session's model
    assert await search("zeppelin", 5, model="qwen") == []
    assert await search("zeppelin", 5, model="LLA")  # part of the name, any case

    # the shared entry point (the MCP server's tool) gives the same results
    shared = await search_sessions(store, "KeyError: 'id'", 10)
    assert [h.message_id for h in shared] == [h.message_id for h in exact]


async def test_a_long_code_fragment_is_highlighted_whole_with_context(store: Store) -> None:
    session = await store.create_session(title="t", model="ollama/qwen2.5-coder:1.5b")
    text = (
        "The worker crashed again this morning while loading the nightly batch, and the log"
        " says parse_user_record(row, strict=True) raised KeyError for the id column, twice."
    )
    message = await store.add_message(session.id, "user", text)
    hits = await SessionService(store).search("parse_user_record(row, strict=True)")
    assert [h.message_id for h in hits] == [message]
    snippet = hits[0].snippet
    assert "[parse_user_record(row, strict=True)]" in snippet
    assert "the log says" in snippet and "raised KeyError" in snippet  # context both sides
    assert snippet.startswith("…") and snippet.endswith("…") and len(snippet) < 140
    by_model = await SessionService(store).search("parse_user_record(", model="qwen2.5-coder")
    assert [h.message_id for h in by_model] == [message]


async def test_a_saved_answer_joins_the_substring_index(store: Store) -> None:
    session = await store.create_session(title="t")
    answer = await store.add_message(session.id, "assistant", "", status="partial")
    await store.append_message(answer, "raise ValueError('bad port')")
    assert await SessionService(store).search("ValueError('bad") == []  # still streaming
    await store.update_message(answer, content="raise ValueError('bad port')", status="complete")
    hits = await SessionService(store).search("ValueError('bad")
    assert [h.message_id for h in hits] == [answer]
    await store.delete_session(session.id)
    assert await SessionService(store).search("ValueError('bad") == []


async def test_upgrade_indexes_existing_messages_for_substring_search(tmp_path: Path) -> None:
    from ai_workbench.schema import MIGRATIONS as ALL

    before = next(i for i, script in enumerate(ALL) if "messages_trigram" in script)

    class Old(Store):
        MIGRATIONS = ALL[:before]  # before the trigram index

    path = tmp_path / "old.db"
    old = await Old.open(path)
    session = await old.create_session(title="before")
    message = await old.add_message(session.id, "user", "why does foo_bar( fail?")
    await old.close()
    store = await Store.open(path)
    try:
        hits = await SessionService(store).search("foo_bar(")
        assert [h.message_id for h in hits] == [message]
    finally:
        await store.close()


def test_cli_sessions_search(isolated_env: Any, run_aiw: Any) -> None:
    import asyncio

    async def seed() -> None:
        store = await Store.open()
        try:
            await fill(store, 300)
        finally:
            await store.close()

    asyncio.run(seed())
    done = run_aiw("sessions", "search", "KeyError: 'id'", "--json", "--limit", "3")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert rows[0]["snippet"].count("[KeyError: 'id']") == 1 and len(rows) <= 3
    plain = run_aiw("sessions", "search", "foo_bar(")
    assert "[foo_bar(]" in plain.stdout and "message" in plain.stdout
    none = run_aiw("sessions", "search", "zeppelin", "--since", "1h")
    assert none.returncode == 1 and "no message matches" in none.stderr
    bad = run_aiw("sessions", "search", "x", "--since", "soon")
    assert bad.returncode == 2 and "30d" in bad.stderr
