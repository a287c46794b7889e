"""The SQLite store, against real database files in tmp_path (and real OS processes)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_workbench.chat import store as store_module
from ai_workbench.core.migrations import split_statements
from ai_workbench.schema import MIGRATIONS
from ai_workbench.store import (
    AmbiguousSession,
    MessageNotFound,
    SessionNotFound,
    Store,
    StoreError,
    default_db_path,
    fts_query,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIW_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "db" / "aiw.db"


def raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def count(path: Path, sql: str, params: tuple[object, ...] = ()) -> int:
    conn = raw(path)
    try:
        return int(conn.execute(sql, params).fetchone()[0])
    finally:
        conn.close()


# ------------------------------------------------------------------------- opening, migrations


async def test_migration_sets_user_version_and_reopen_is_idempotent(db_path: Path) -> None:
    async with await Store.open(db_path) as s:
        session = await s.create_session(title="kept")
    assert count(db_path, "PRAGMA user_version") == len(MIGRATIONS)
    conn = raw(db_path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    for name in ("sessions", "messages", "attachments", "feedback", "messages_fts", "audit"):
        assert name in names
    for _ in range(2):
        async with Store(db_path) as s:
            assert (await s.get_session(session.id)).title == "kept"
    assert count(db_path, "PRAGMA user_version") == len(MIGRATIONS)
    assert count(db_path, "SELECT COUNT(*) FROM sessions") == 1


async def test_wal_mode_and_pragmas(store: Store, db_path: Path) -> None:
    conn = raw(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    db = store._conn()
    async with db.execute("PRAGMA foreign_keys") as cur:
        assert (await cur.fetchone())[0] == 1
    async with db.execute("PRAGMA busy_timeout") as cur:
        assert (await cur.fetchone())[0] == 10_000
    async with db.execute("PRAGMA synchronous") as cur:
        assert (await cur.fetchone())[0] == 1  # NORMAL


async def test_default_path_uses_data_dir(tmp_path: Path) -> None:
    assert default_db_path() == tmp_path / "data" / "aiw.db"
    async with await Store.open() as s:
        assert s.path == tmp_path / "data" / "aiw.db"
    assert (tmp_path / "data" / "aiw.db").is_file()
    assert (tmp_path / "data" / "aiw.db").stat().st_mode & 0o077 == 0


async def test_newer_schema_is_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = raw(db_path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.close()
    with pytest.raises(StoreError) as info:
        await Store.open(db_path)
    message = str(info.value)
    assert str(db_path) in message
    assert f"newer aiw (schema {len(MIGRATIONS) + 5} > {len(MIGRATIONS)})" in message
    assert "upgrade aiw" in message


async def test_garbage_file_is_refused_with_path(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database, just some bytes\n" * 200)
    with pytest.raises(StoreError) as info:
        await Store.open(db_path)
    assert str(db_path) in str(info.value)
    assert "move it aside" in str(info.value)
    assert info.value.path == db_path


async def test_locked_database_on_open(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    holder = raw(db_path)  # a fresh rollback-journal db: converting it to WAL needs a lock
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE x (y)")
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="locked by another process") as info:
            await Store.open(db_path, timeout=0.3)
        assert time.monotonic() - started >= 0.25
        assert str(db_path) in str(info.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    async with await Store.open(db_path) as s:  # usable once the lock is gone
        await s.create_session()


def test_switching_a_new_file_to_wal_waits_for_the_process_creating_it(db_path: Path) -> None:
    """SQLite can refuse the journal-mode switch at once ("database is locked") while another
    process creates the same file, whatever the busy timeout: the switch is retried."""
    import threading

    from ai_workbench.core.db import enable_wal

    db_path.parent.mkdir(parents=True)
    # a fresh rollback-journal db, being written (released from a timer thread below)
    holder = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE x (y)")
    mine = sqlite3.connect(db_path, timeout=0, check_same_thread=False)
    try:
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            enable_wal(mine, 0.5)  # held throughout: gives up at its timeout
        assert time.monotonic() - started >= 0.45
        threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
        enable_wal(mine, 10)  # released meanwhile: switched
        assert mine.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        mine.close()
        holder.close()


async def test_locked_database_on_write(db_path: Path) -> None:
    s = await Store.open(db_path, timeout=0.3)
    holder = raw(db_path)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="locked by another process"):
            await s.create_session(title="blocked")
        assert await s.list_sessions() == []  # readers are not blocked in WAL mode
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (await s.create_session(title="now")).title == "now"
    await s.close()


async def test_closed_store_says_so(db_path: Path) -> None:
    s = Store(db_path)
    with pytest.raises(StoreError, match="not open"):
        await s.list_sessions()
    await s.close()  # closing an unopened store is harmless


def test_split_statements_keeps_trigger_bodies() -> None:
    statements = split_statements(MIGRATIONS[0])
    triggers = [s for s in statements if s.startswith("CREATE TRIGGER")]
    assert len(triggers) == 3
    assert all(t.endswith("END;") for t in triggers)
    assert all(sqlite3.complete_statement(s) for s in statements)
    assert split_statements("SELECT ';'; SELECT 2") == ["SELECT ';';", "SELECT 2;"]


# ---------------------------------------------------------------------------------- sessions


async def test_session_crud(store: Store) -> None:
    a = await store.create_session(title="first", persona="coder", model="m1", context=["Web"])
    assert len(a.id) == 32 and int(a.id, 16) >= 0
    assert a.created == a.updated and a.message_count == 0
    b = await store.create_session()
    assert b.title == "" and b.persona is None and b.context == []

    got = await store.get_session(a.id)
    assert (got.title, got.persona, got.model, got.context) == ("first", "coder", "m1", ["Web"])

    await store.add_message(a.id, "user", "hi")
    await store.add_message(a.id, "assistant", "hello")
    listed = await store.list_sessions()
    assert [s.id for s in listed] == [a.id, b.id]  # a was bumped by add_message
    assert [s.message_count for s in listed] == [2, 0]
    assert [s.id for s in await store.list_sessions(limit=1)] == [a.id]

    await store.touch_session(b.id)
    assert [s.id for s in await store.list_sessions()] == [b.id, a.id]

    updated = await store.update_session(a.id, title="renamed")
    assert (updated.title, updated.persona, updated.model) == ("renamed", "coder", "m1")
    assert updated.updated > got.updated
    updated = await store.update_session(a.id, persona=None, context=["Trading", "Data"])
    assert (updated.title, updated.persona, updated.context) == (
        "renamed",
        None,
        ["Trading", "Data"],
    )
    assert updated.message_count == 2

    await store.delete_session(b.id)
    with pytest.raises(SessionNotFound):
        await store.get_session(b.id)
    for call in (
        store.delete_session(b.id),
        store.touch_session(b.id),
        store.update_session(b.id, title="x"),
        store.get_messages(b.id),
    ):
        with pytest.raises(SessionNotFound):
            await call
    assert [s.id for s in await store.list_sessions()] == [a.id]


async def test_session_prefix_resolution(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    hexes = iter(
        [
            "3f2a" + "0" * 28,
            "3f99" + "1" * 28,
            "3faa" + "2" * 28,
            "abcd" + "3" * 28,
        ]
    )

    class FakeUUID:
        def __init__(self) -> None:
            self.hex = next(hexes)

    monkeypatch.setattr(store_module.uuid, "uuid4", FakeUUID)
    s1 = await store.create_session(title="title one")
    await store.create_session(title="")
    await store.create_session(title="three")
    s4 = await store.create_session(title="alone")

    assert (await store.get_session("a")).id == s4.id
    assert (await store.get_session("ABC")).id == s4.id  # case-insensitive
    assert (await store.get_session(f"  {s4.id.upper()} ")).id == s4.id
    assert (await store.get_session("3f2")).id == s1.id

    with pytest.raises(AmbiguousSession) as info:
        await store.get_session("3F")
    message = str(info.value)
    assert message.startswith("'3F' matches 3 sessions: ")
    assert '3f2a0000… "title one"' in message
    assert "(untitled)" in message
    assert message.endswith("; type more characters")
    assert info.value.total == 3 and len(info.value.matches) == 3

    with pytest.raises(SessionNotFound, match="no session matches 'xyz'"):
        await store.get_session("xyz")
    with pytest.raises(SessionNotFound):
        await store.get_session("")
    with pytest.raises(SessionNotFound):
        await store.get_session("%")  # no LIKE wildcards
    assert isinstance(SessionNotFound("x"), StoreError)


async def test_ambiguous_message_lists_at_most_five(store: Store) -> None:
    for i in range(40):
        await store.create_session(title=f"s{i}")
    # 40 random ids over 16 first hex digits: some digit is shared by at least 3 sessions
    first = [s.id[0] for s in await store.list_sessions()]
    digit = max(set(first), key=first.count)
    with pytest.raises(AmbiguousSession) as info:
        await store.get_session(digit)
    assert info.value.total == first.count(digit)
    assert len(info.value.matches) == min(5, info.value.total)
    if info.value.total > 5:
        assert ", …; type more characters" in str(info.value)


# ---------------------------------------------------------------------------------- messages


async def test_messages_roundtrip_and_validation(store: Store) -> None:
    s = await store.create_session()
    m1 = await store.add_message(s.id, "system", "be brief")
    m2 = await store.add_message(s.id, "user", "question", model="m", provider="p")
    a1 = await store.add_attachment(m2, Path("/src/a.py"), sha256="ab" * 32, size=10)
    a2 = await store.add_attachment(m2, "/src/b.py")
    messages = await store.get_messages(s.id)
    assert [m.id for m in messages] == [m1, m2]
    assert messages[0].attachments == []
    assert [(a.id, a.path, a.size) for a in messages[1].attachments] == [
        (a1, "/src/a.py", 10),
        (a2, "/src/b.py", None),
    ]
    single = await store.get_message(m2)
    assert (single.role, single.content, single.model, single.provider) == (
        "user",
        "question",
        "m",
        "p",
    )
    assert len(single.attachments) == 2

    with pytest.raises(ValueError, match="role"):
        await store.add_message(s.id, "robot", "x")
    with pytest.raises(ValueError, match="status"):
        await store.add_message(s.id, "user", "x", status="done")
    with pytest.raises(SessionNotFound):
        await store.add_message("0" * 32, "user", "x")
    with pytest.raises(MessageNotFound):
        await store.get_message(999)
    with pytest.raises(MessageNotFound):
        await store.add_attachment(999, "/x")
    # failed writes were rolled back and left no transaction open
    assert not store._conn().in_transaction
    assert len(await store.get_messages(s.id)) == 2


async def test_update_message_changes_only_given_fields(store: Store) -> None:
    s = await store.create_session()
    mid = await store.add_message(
        s.id, "assistant", "", status="partial", model="gpt", provider="openai"
    )
    before = await store.get_message(mid)
    await store.update_message(mid, content="Hello wor")
    after = await store.get_message(mid)
    assert (after.content, after.status, after.model, after.provider) == (
        "Hello wor",
        "partial",
        "gpt",
        "openai",
    )
    assert after.updated >= before.updated and after.created == before.created

    await store.update_message(
        mid,
        content="Hello world",
        status="error",
        error="stream cut",
        tokens_in=12,
        tokens_out=3,
        latency_ms=450,
        cost=0.0012,
    )
    m = await store.get_message(mid)
    assert (m.content, m.status, m.error, m.tokens_in, m.tokens_out) == (
        "Hello world",
        "error",
        "stream cut",
        12,
        3,
    )
    assert (m.latency_ms, m.cost, m.model) == (450, 0.0012, "gpt")

    await store.update_message(mid, status="complete", error=None, model="gpt-2")
    m = await store.get_message(mid)
    assert (m.status, m.error, m.model, m.tokens_in, m.content) == (
        "complete",
        None,
        "gpt-2",
        12,
        "Hello world",
    )

    with pytest.raises(ValueError):
        await store.update_message(mid, status="bogus")
    with pytest.raises(ValueError):
        await store.update_message(mid, content=None)  # type: ignore[arg-type]
    with pytest.raises(MessageNotFound):
        await store.update_message(12345, content="x")


async def test_delete_session_cascades(store: Store, db_path: Path) -> None:
    keep = await store.create_session()
    kept_msg = await store.add_message(keep.id, "user", "zebra stays")
    await store.add_attachment(kept_msg, "/k")
    gone = await store.create_session()
    for i in range(3):
        mid = await store.add_message(gone.id, "user", f"zebra number {i}")
        await store.add_attachment(mid, f"/f{i}")
    await store.set_feedback("message", mid, 1)

    await store.delete_session(gone.id)
    assert count(db_path, "SELECT COUNT(*) FROM messages") == 1
    assert count(db_path, "SELECT COUNT(*) FROM attachments") == 1
    assert count(db_path, "SELECT COUNT(*) FROM messages WHERE session_id = ?", (gone.id,)) == 0
    # the FTS index followed the cascade (checked on the index itself, not via the join)
    conn = raw(db_path)
    rowids = [
        r[0]
        for r in conn.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'zebra'")
    ]
    conn.close()
    assert rowids == [kept_msg]
    # ratings are a learning signal and outlive what they rated
    assert await store.get_feedback("message", mid) is not None


async def test_partial_message_persists_across_reopen(db_path: Path) -> None:
    async with await Store.open(db_path) as s:
        session = await s.create_session(title="cut")
        await s.add_message(session.id, "user", "tell me a story")
        mid = await s.add_message(session.id, "assistant", "Once upon", status="partial")
        await s.update_message(mid, content="Once upon a time", error="cancelled")
    async with await Store.open(db_path) as s:
        messages = await s.get_messages(session.id)
        assert [(m.role, m.status) for m in messages] == [
            ("user", "complete"),
            ("assistant", "partial"),
        ]
        assert messages[1].content == "Once upon a time"
        assert messages[1].error == "cancelled"
        assert (await s.get_session(session.id)).message_count == 2


async def test_concurrent_tasks_share_one_store(store: Store) -> None:
    s = await store.create_session()
    ids = await asyncio.gather(*(store.add_message(s.id, "user", f"m{i}") for i in range(50)))
    assert len(set(ids)) == 50
    assert len(await store.get_messages(s.id)) == 50


# ---------------------------------------------------------------------------------- feedback


async def test_feedback_upsert_edit_delete(store: Store, db_path: Path) -> None:
    fb = await store.set_feedback("message", 42, 1, "useful")
    assert (fb.target_kind, fb.target_id, fb.rating, fb.comment) == ("message", "42", 1, "useful")
    assert fb.created == fb.updated

    edited = await store.set_feedback("message", "42", -1)
    assert edited.id == fb.id and edited.created == fb.created
    assert edited.rating == -1 and edited.updated >= fb.updated
    assert edited.comment == "useful"  # not given: kept
    edited = await store.set_feedback("message", "42", -1, "actually wrong")
    assert edited.comment == "actually wrong"
    edited = await store.set_feedback("message", "42", 1, None)
    assert (edited.rating, edited.comment) == (1, None)
    assert count(db_path, "SELECT COUNT(*) FROM feedback") == 1

    await store.set_feedback("finding", "abc123", -1, "nit")
    assert (await store.get_feedback("finding", "abc123")).comment == "nit"  # type: ignore[union-attr]
    assert await store.get_feedback("finding", "nope") is None
    assert [f.target_kind for f in await store.list_feedback()] == ["finding", "message"]
    assert [f.target_id for f in await store.list_feedback("message")] == ["42"]
    assert await store.list_feedback("chunk") == []

    assert await store.delete_feedback("message", 42) is True
    assert await store.delete_feedback("message", 42) is False
    assert await store.get_feedback("message", 42) is None


async def test_feedback_rating_check(store: Store, db_path: Path) -> None:
    for bad in (0, 2, -2, True):
        with pytest.raises(ValueError, match="rating"):
            await store.set_feedback("message", "1", bad)
    conn = raw(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute(
            "INSERT INTO feedback (target_kind, target_id, rating, created, updated)"
            " VALUES ('message', '1', 5, 0, 0)"
        )
    conn.close()
    assert await store.list_feedback() == []


# ------------------------------------------------------------------------------------ search


async def test_search_finds_user_and_assistant_words(store: Store) -> None:
    a = await store.create_session(title="Rust talk")
    b = await store.create_session(title="Café")
    u = await store.add_message(a.id, "user", "How do lifetimes work in Rust?")
    r = await store.add_message(a.id, "assistant", "Lifetimes tell the borrow checker how long")
    c = await store.add_message(b.id, "user", "Je voudrais un café crème")

    hits = await store.search_messages("lifetimes")
    assert {(h.message_id, h.role) for h in hits} == {(u, "user"), (r, "assistant")}
    assert all(h.session_id == a.id and h.session_title == "Rust talk" for h in hits)
    assert any("[Lifetimes]" in h.snippet for h in hits)

    borrow = await store.search_messages("borrow checker")
    assert [h.message_id for h in borrow] == [r]
    assert [h.message_id for h in await store.search_messages("CAFE creme")] == [c]
    assert [h.message_id for h in await store.search_messages("lifet*")] != []
    assert await store.search_messages("nothing-like-this") == []
    assert len(await store.search_messages("lifetimes", limit=1)) == 1

    await store.update_message(r, content="Ownership is checked at compile time")
    assert [h.message_id for h in await store.search_messages("lifetimes")] == [u]
    assert [h.message_id for h in await store.search_messages("ownership")] == [r]
    marked = await store.search_messages("ownership", highlight=("<b>", "</b>"))
    assert "<b>Ownership</b>" in marked[0].snippet


@pytest.mark.parametrize(
    "query",
    ['"foo', "a OR (", "NEAR(", "*", '""', "-foo", "foo:bar", "^x", "AND", ")", "'", "foo*bar"],
)
async def test_search_survives_odd_input(store: Store, query: str) -> None:
    s = await store.create_session()
    await store.add_message(s.id, "user", "foo bar baz a or b")
    await store.search_messages(query)  # must not raise


async def test_search_odd_input_still_matches_words(store: Store) -> None:
    s = await store.create_session()
    mid = await store.add_message(s.id, "assistant", "use foo OR bar, a (nested) thing")
    assert [h.message_id for h in await store.search_messages('"foo')] == [mid]
    assert [h.message_id for h in await store.search_messages("a OR (")] == [mid]
    assert await store.search_messages("   ") == []
    assert fts_query('say "hi" OR (x*') == '"say" """hi""" "OR" "(x"*'


# -------------------------------------------------------------------------------- audit, backup


async def test_audit_and_backup(store: Store, db_path: Path, tmp_path: Path) -> None:
    first = await store.audit("run_command", "ls -la")
    second = await store.audit("write_file", {"path": "a.py", "bytes": 3})
    assert second > first
    conn = raw(db_path)
    rows = conn.execute("SELECT action, detail FROM audit ORDER BY id").fetchall()
    conn.close()
    assert rows == [("run_command", "ls -la"), ("write_file", '{"path": "a.py", "bytes": 3}')]

    s = await store.create_session(title="backed up")
    copy = await store.backup(tmp_path / "copy.db")
    async with await Store.open(copy) as restored:
        assert (await restored.get_session(s.id)).title == "backed up"
    with pytest.raises(StoreError, match="already exists"):
        await store.backup(copy)


# ---------------------------------------------------------------------- several OS processes

WRITER = textwrap.dedent(
    """
    import asyncio, os, sys, time
    from pathlib import Path
    from ai_workbench.store import Store

    async def main(db: str, shared: str, go: str, n: int) -> None:
        async with await Store.open(Path(db)) as store:
            own = await store.create_session(title=f"proc {os.getpid()}")
            print(own.id, flush=True)
            deadline = time.monotonic() + 60
            while not Path(go).exists():
                if time.monotonic() > deadline:
                    raise SystemExit("never got the go signal")
                await asyncio.sleep(0.002)
            for i in range(n):
                await store.add_message(own.id, "user", f"own {i}")
                await store.add_message(shared, "assistant", f"shared {os.getpid()} {i}")

    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
    """
)

OPENER = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from ai_workbench.store import Store

    async def main(db: str, go: str) -> None:
        while not Path(go).exists():
            await asyncio.sleep(0.001)
        async with await Store.open(Path(db)) as store:
            session = await store.create_session(title="opener")
            await store.add_message(session.id, "user", "hello")

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )


@pytest.fixture
def reap() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


async def test_two_processes_write_at_once(
    db_path: Path, tmp_path: Path, reap: list[subprocess.Popen[str]]
) -> None:
    n = 200
    async with await Store.open(db_path) as s:
        shared = await s.create_session(title="shared")
    go = tmp_path / "go"
    reap.extend(_spawn(WRITER, str(db_path), shared.id, str(go), str(n)) for _ in range(2))
    own_ids = [p.stdout.readline().strip() for p in reap]  # type: ignore[union-attr]
    assert all(len(i) == 32 for i in own_ids), [p.stderr.read() for p in reap]  # type: ignore[union-attr]
    go.touch()  # both are connected and waiting: start writing together
    for p in reap:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err

    async with await Store.open(db_path) as s:
        for own in own_ids:
            own_messages = await s.get_messages(own)
            assert [m.content for m in own_messages] == [f"own {i}" for i in range(n)]
        shared_messages = await s.get_messages(shared.id)
        assert len(shared_messages) == 2 * n
        assert (await s.get_session(shared.id)).message_count == 2 * n
    assert count(db_path, "SELECT COUNT(*) FROM messages") == 4 * n
    assert (
        count(db_path, "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'shared'")
        == 2 * n
    )


async def test_processes_opening_a_new_database_at_once(
    db_path: Path, tmp_path: Path, reap: list[subprocess.Popen[str]]
) -> None:
    db_path.parent.mkdir(parents=True)
    go = tmp_path / "go"
    reap.extend(_spawn(OPENER, str(db_path), str(go)) for _ in range(4))
    await asyncio.sleep(0.5)  # let the interpreters start and wait on the go file
    go.touch()
    for p in reap:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert count(db_path, "PRAGMA user_version") == len(MIGRATIONS)
    assert count(db_path, "SELECT COUNT(*) FROM sessions") == 4
    assert count(db_path, "SELECT COUNT(*) FROM messages") == 4
