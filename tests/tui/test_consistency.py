"""Workbench consistency (issue 14, section 5), driven with Pilot against a real store and the
loopback fake LLM: a model choice stays with its session, the last session reopens, a
suggestion applied elsewhere leaves the panel, cards render Markdown safely, sessions that
never got an answer are not listed, and an answer the database refused says where it went."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from textual.widgets import Input

from ai_workbench.core.events import SuggestionChanged
from ai_workbench.store import Store
from ai_workbench.suggestions.service import SuggestionQueue
from tests.fake_llm import long_answer
from tests.tui.conftest import SIZE, settle, wait_for


async def _session(title: str, model: str, api_base: str | None, turns: int = 1) -> str:
    async with await Store.open() as store:
        session = await store.create_session(title=title, model=model, api_base=api_base)
        for n in range(turns):
            await store.add_message(session.id, "user", f"{title} question {n}")
            await store.add_message(session.id, "assistant", f"{title} answer {n}", model=model)
        return session.id


def _model_chip_text(app: Any) -> str:
    chip = next(c for c in app.chip_bar.query(".chip") if c.data.kind == "model")
    return str(chip.render())


async def _open(pilot: Any, app: Any, title: str) -> None:
    options = app.session_list.options
    options.focus()
    index = next(i for i, s in enumerate(app.session_list.sessions) if s.title == title)
    options.highlighted = index
    await pilot.press("enter")
    await settle(pilot, app)
    assert app.session.title == title


async def _send(pilot: Any, app: Any, text: str) -> None:
    shown = len(app.chat_log.views)
    app.prompt.focus()
    app.prompt.insert(text)
    await pilot.press("enter")
    # the turn is done when its question and answer are shown and nothing streams
    await wait_for(pilot, lambda: len(app.chat_log.views) >= shown + 2 and not app.streaming)
    await settle(pilot, app)


async def test_a_model_picked_in_one_session_does_not_leak_into_another(
    echo_app: Any, fake_llm: Any
) -> None:
    await _session("older", "openai/echo", fake_llm.base_url)
    await _session("newer", "openai/echo", fake_llm.base_url)
    app = echo_app()  # --model openai/echo --api-base FAKE: a typed model is asked there too
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert app.session.title == "newer"
        await pilot.press("ctrl+o")
        await settle(pilot, app)
        field = app.screen.query_one(Input)
        field.value = "openai/zz-picked"
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot, app)
        assert "openai/zz-picked" in _model_chip_text(app)
        await _send(pilot, app, "in newer")
        assert fake_llm.chat_requests[-1]["json"]["model"] == "zz-picked"

        await _open(pilot, app, "older")  # opens with its own saved model
        assert "openai/echo" in _model_chip_text(app)
        assert "zz-picked" not in _model_chip_text(app)
        await _send(pilot, app, "in older")
        assert fake_llm.chat_requests[-1]["json"]["model"] == "echo"

        await _open(pilot, app, "newer")  # and the pick stayed with the session it was made in
        assert "openai/zz-picked" in _model_chip_text(app)
        await _send(pilot, app, "newer again")
        assert fake_llm.chat_requests[-1]["json"]["model"] == "zz-picked"


async def test_the_last_session_reopens_scrolled_to_its_end(make_app: Any, fake_llm: Any) -> None:
    await _session("yesterday", "openai/echo", fake_llm.base_url)
    latest = await _session("today", "openai/echo", fake_llm.base_url, turns=12)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.pause(0.2)
        assert app.session is not None and app.session.id == latest
        log = app.chat_log
        assert log.views[-1].text == "today answer 11"
        assert log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y
        assert app.prompt.has_focus
        await pilot.press("ctrl+n")  # a blank session, as before
        await settle(pilot, app)
        assert app.session is None and app.chat_log.views == []


@asynccontextmanager
async def _inbox_open(make_app: Any) -> AsyncIterator[tuple[Any, Any, Any]]:
    """The workbench with its inbox panel open (F3): the app, its pilot, the panel."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f3")
        await settle(pilot, app)
        yield app, pilot, app.suggestions_panel()


async def test_a_fix_applied_elsewhere_leaves_the_panel_at_once(make_app: Any) -> None:
    async with _inbox_open(make_app) as (app, pilot, panel):
        heard: list[SuggestionChanged] = []
        app.ctx.bus.on(heard.append, SuggestionChanged)
        # The review service queues and closes its findings through its own queue object.
        other = SuggestionQueue(app.store)
        item = await other.add("review", "warning: unused import", "**a.py:1**", fingerprint="f1")
        await wait_for(pilot, lambda: any(i.id == item.id for i in panel.items))
        await other.set_status(item.id, "applied")  # what ReviewService.apply does
        await wait_for(pilot, lambda: bool(heard), timeout=2.0)
        assert heard[0] == SuggestionChanged(id=item.id, status="applied")
        await pilot.pause()
        assert all(i.id != item.id for i in panel.items)
        assert (await app.suggestion_queue.get(item.id)).status == "applied"


async def test_suggestion_cards_render_markdown_safely(make_app: Any) -> None:
    async with _inbox_open(make_app) as (app, pilot, panel):
        body = (
            "**a.py:3** · warning · [b]not markup[/b]\x1b]52;c;QUFBQQ==\x07\n\n"
            "Use `is None` here.\n\n```diff\n-if x == None:\n+if x is None:\n```"
        )
        item = await app.suggestion_queue.add("review", "compare with None", body)
        await wait_for(pilot, lambda: any(i.id == item.id for i in panel.items))
        prompt = panel.options.get_option_at_index(0).prompt
        plain = prompt.plain
        assert "**" not in plain and "```" not in plain and "`" not in plain
        assert "a.py:3 · warning · [b]not markup[/b]" in plain  # text, never markup
        assert "\x1b" not in plain and "52;c" not in plain
        assert "+if x is None:" in plain
        bold = [s for s in prompt.spans if "bold" in str(s.style)]
        assert any(plain[s.start : s.end] == "a.py:3" for s in bold)


async def test_sessions_that_never_got_an_answer_are_not_listed(make_app: Any) -> None:
    async with await Store.open() as store:
        good = await store.create_session(title="answered", model="openai/echo")
        await store.add_message(good.id, "user", "q")
        await store.add_message(good.id, "assistant", "a")
        bad = await store.create_session(title="model was down", model="ollama/llama3.2")
        await store.add_message(bad.id, "user", "q")
        await store.add_message(bad.id, "assistant", "", status="error")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert [s.title for s in app.session_list.sessions] == ["answered"]


async def test_an_answer_the_locked_database_refused_says_where_it_was_kept(
    echo_app: Any, fake_llm: Any, isolated_env: Any
) -> None:
    isolated_env.aiw_config.mkdir(parents=True, exist_ok=True)
    (isolated_env.aiw_config / "config.toml").write_text(
        "[chat]\nsave_interval = 0.05\nsave_retry_seconds = 0.5\n"
    )
    fake_llm.reply = long_answer(40)
    fake_llm.chunk_delay = 0.05
    app = echo_app("slow")
    holder: list[sqlite3.Connection] = []
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        db = Path(app.store.path)
        # Waiting 10 s for each locked write is the default; a test waits 0.3 s.
        app.store.timeout = 0.3
        await app.store._db.execute("PRAGMA busy_timeout = 300")
        app.prompt.insert("hi")
        app.prompt.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.chat_log.views) == 2 and app.chat_log.views[1].text)
        assert app.streaming  # mid-answer
        conn = sqlite3.connect(db, isolation_level=None, timeout=5)
        conn.execute("BEGIN EXCLUSIVE")  # another process's writer, never letting go
        holder.append(conn)
        try:
            await wait_for(pilot, lambda: not app.streaming, timeout=30)
            await asyncio.sleep(0)
            answer = app.chat_log.views[1]
            assert answer.info.note is not None and "recovered" in answer.info.note
            shown = str(answer.query_one(".msg-error").render())
            assert "not in the session" in shown and "recovered" in shown
        finally:
            conn.close()
