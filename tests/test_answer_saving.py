"""Nothing shown is lost, nothing grows without bound (issue 13, item 6).

A second, real SQLite connection holds the write lock (``BEGIN EXCLUSIVE``) while the fake
LLM streams an answer: the stream goes on, the text stays in memory and the whole answer is
saved once the lock is gone, or written to a recovery file when it never goes. A model that
never stops is cut at the byte, token and time caps, and periodic saves append to the message
instead of rewriting it and its full-text row.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

from ai_workbench.chat.service import AskOptions, ChatService
from ai_workbench.core.settings import load_config
from ai_workbench.store import Store
from tests.conftest import IsolatedEnv, RunAiw
from tests.fake_llm import FakeLLM, long_answer
from tests.test_e2e_ask import popen_aiw, read_for


def lock(db: Path) -> sqlite3.Connection:
    """Another process's writer: hold the database's write lock until rolled back."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=5)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


def row(db: Path, sql: str) -> sqlite3.Row:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchone()
    finally:
        conn.close()


def write_config(env: IsolatedEnv, text: str) -> None:
    env.aiw_config.mkdir(parents=True, exist_ok=True)
    (env.aiw_config / "config.toml").write_text(text)


# --- (a) a database locked mid-stream ------------------------------------------------------


def test_lock_held_over_10s_mid_stream_the_whole_answer_is_saved(
    fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    answer = long_answer(60)
    fake_llm.reply = answer
    fake_llm.chunk_delay = 0.2  # 20 chunks: about 4 s of streaming
    proc = popen_aiw(
        "ask", "--model", "openai/slow", "--api-base", fake_llm.base_url, "tell me",
        cwd=isolated_env.work, env={"AIW_CHAT__SAVE_INTERVAL": "0.2"},
    )  # fmt: skip
    db = isolated_env.aiw_data / "aiw.db"
    holder = None
    try:
        printed = read_for(proc, 0.0)  # the first words are on screen
        holder = lock(db)
        locked_at = time.monotonic()
        printed += read_for(proc, 5.0, first_timeout=5.0)
        # The stream went on while the lock was held: every word is on screen.
        assert printed.decode().strip() == answer
        time.sleep(max(0.0, 12.0 - (time.monotonic() - locked_at)))  # > the 10 s busy timeout
        holder.rollback()
        holder.close()
        holder = None
        _, err = proc.communicate(timeout=30)
    finally:
        if holder is not None:
            holder.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    stderr = err.decode()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "locked" in stderr  # said once, then kept retrying
    assistant = row(db, "SELECT * FROM messages WHERE role = 'assistant'")
    assert assistant["status"] == "complete"
    assert assistant["content"] == answer


async def test_lock_that_never_goes_keeps_the_answer_in_a_recovery_file(
    fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    write_config(isolated_env, "[chat]\nsave_interval = 0.05\nsave_retry_seconds = 0.5\n")
    answer = long_answer(40)
    fake_llm.reply = answer
    fake_llm.chunk_delay = 0.02
    loaded = load_config(cwd=isolated_env.work)
    db = isolated_env.root / "chat.db"
    store = await Store.open(db, timeout=0.3)
    holders: list[sqlite3.Connection] = []
    notices: list[str] = []
    shown: list[str] = []

    def on_text(text: str) -> None:
        shown.append(text)
        if not holders:
            holders.append(lock(db))

    try:
        service = ChatService(loaded, store)
        opts = AskOptions(
            prompt="hi", model="openai/slow", api_base=fake_llm.base_url, cwd=isolated_env.work
        )
        turn = await service.prepare(opts, notice=notices.append)
        result = await service.run(turn, on_text, notice=notices.append)
    finally:
        for holder in holders:
            holder.close()
        await store.close()
    assert "".join(shown) == answer == result.text
    assert result.status == "complete"
    assert result.saved_to is not None
    saved = result.saved_to
    assert saved.parent == isolated_env.aiw_data / "recovered"
    assert saved.read_text().endswith(answer)
    assert saved.stat().st_mode & 0o777 == 0o600
    assert any("locked" in n for n in notices)


# --- (b) caps and append-only saves ----------------------------------------------------------


def test_endless_answer_stops_at_the_byte_cap(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    started = time.monotonic()
    done = run_aiw(
        "ask", "--model", "openai/endless", "--api-base", fake_llm.base_url, "go",
        env={"AIW_CHAT__MAX_ANSWER_BYTES": "20000"}, timeout=60,
    )  # fmt: skip
    assert time.monotonic() - started < 30
    assert done.returncode == 10, done.stderr
    assert "chat.max_answer_bytes" in done.stderr
    assert "partial answer is kept" in done.stderr
    assistant = row(isolated_env.aiw_data / "aiw.db", "SELECT * FROM messages WHERE id = 2")
    assert assistant["status"] == "partial"
    assert 20_000 <= len(assistant["content"]) <= 20_100
    assert done.stdout.rstrip("\n") == assistant["content"]


async def _run_endless(isolated_env: IsolatedEnv, fake_llm: FakeLLM, config: str):
    write_config(isolated_env, config)
    loaded = load_config(cwd=isolated_env.work)
    async with Store(isolated_env.root / "chat.db") as store:
        service = ChatService(loaded, store)
        opts = AskOptions(
            prompt="go", model="openai/endless", api_base=fake_llm.base_url, cwd=isolated_env.work
        )
        turn = await service.prepare(opts)
        result = await service.run(turn, lambda _: None)
        saved = await store.get_message(result.message_id)
    return result, saved


async def test_endless_answer_stops_at_the_time_cap(
    fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    fake_llm.chunk_delay = 0.01
    started = time.monotonic()
    result, saved = await _run_endless(isolated_env, fake_llm, "[chat]\nmax_answer_seconds = 1\n")
    assert 0.9 < time.monotonic() - started < 10
    assert result.status == "partial" and result.error is not None
    assert result.error.kind == "capped" and "chat.max_answer_seconds" in str(result.error)
    assert saved.status == "partial" and saved.content == result.text


async def test_endless_answer_stops_at_the_token_cap(
    fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    result, saved = await _run_endless(isolated_env, fake_llm, "[chat]\nmax_answer_tokens = 100\n")
    assert result.error is not None and "chat.max_answer_tokens" in str(result.error)
    assert 400 <= len(saved.content) <= 420


def _fts_rows(db: Path, message_id: int) -> int:
    conn = sqlite3.connect(db)
    try:
        query = "SELECT COUNT(*) FROM messages_fts WHERE rowid = ? AND messages_fts MATCH 'chunk'"
        return int(conn.execute(query, (message_id,)).fetchone()[0])
    finally:
        conn.close()


async def test_periodic_saves_append_and_the_index_is_updated_once(store, db_path) -> None:
    session = await store.create_session(title="t")
    mid = await store.add_message(session.id, "assistant", "", status="partial")
    for i in range(3):
        await store.append_message(mid, f"chunk{i} chunk ")
        assert _fts_rows(db_path, mid) == 0  # no full-text work while streaming
    assert (await store.get_message(mid)).content == "chunk0 chunk chunk1 chunk chunk2 chunk "
    assert await store.search_messages("chunk") == []
    await store.update_message(
        mid, content="chunk0 chunk chunk1 chunk chunk2 chunk", status="complete"
    )
    assert _fts_rows(db_path, mid) == 1
    (hit,) = await store.search_messages("chunk1")
    assert hit.message_id == mid
    # and the index stays consistent when the message changes or goes
    await store.update_message(mid, content="other words")
    assert await store.search_messages("chunk1") == []
    await store.delete_session(session.id)
    assert await store.search_messages("other") == []
