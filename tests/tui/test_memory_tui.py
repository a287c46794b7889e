"""Memory in the workbench (Pilot, real store, loopback model): the memory screen's keys, the
confirmation before a fact the model proposes is stored, the summary note of a long session,
and the session search jumping to the exact-text match."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.widgets import Input, OptionList

from ai_workbench.chat.summaries import summary_note
from ai_workbench.memory.service import MemoryService
from ai_workbench.store import Store
from ai_workbench.tui.screens.confirm import ConfirmScreen, TextPromptScreen
from ai_workbench.tui.screens.memory import MemoryScreen, RememberScreen
from tests.fake_llm import tool_results
from tests.tui.conftest import SIZE, settle, wait_for


async def _facts(owner: str = "local") -> list[Any]:
    async with await Store.open() as store:
        return await MemoryService(store).list(owner=owner)


async def _seed_facts() -> None:
    async with await Store.open() as store:
        memory = MemoryService(store)
        await memory.add("My timezone is Europe/Berlin")
        await memory.add("I use Python 3.12")
        await memory.save_medium("0" * 32, "a session about retries")
        await memory.add("someone else's fact", owner="alice")


def _option_texts(screen: MemoryScreen) -> list[str]:
    options = screen.query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_memory_screen_lists_edits_forgets_and_clears(make_app: Any) -> None:
    await _seed_facts()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.action_memory()
        await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen) and app.screen.items)
        screen = app.screen
        await wait_for(pilot, lambda: any("retries" in t for t in _option_texts(screen)))
        texts = _option_texts(screen)
        assert any("Europe/Berlin" in t for t in texts) and any("retries" in t for t in texts)
        assert not any("someone else" in t for t in texts)  # another user's

        # a: add a fact (a secret in it is redacted)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        app.screen.query_one(Input).value = "deploy token ghp_abcdefghijklmnopqrstuvwxyz0123456789"
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("deploy token" in t for t in _option_texts(screen)))
        stored = await _facts()
        assert any("[REDACTED:github-token]" in m.content for m in stored)
        assert all("ghp_abc" not in m.content for m in stored)

        # e: edit the highlighted fact (the one just added)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        app.screen.query_one(Input).value = "I deploy with Helm"
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("deploy with Helm" in t for t in _option_texts(screen)))

        # d: forget it (asks first)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not any("Helm" in t for t in _option_texts(screen)))
        assert not any("Helm" in m.content for m in await _facts())

        # c: clear the highlighted item's tier (facts), asks first; the summary stays
        screen.query_one(OptionList).highlighted = 1
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not any("Europe" in t for t in _option_texts(screen)))
        left = await _facts()
        assert [m.tier for m in left] == ["medium"]
        assert [m.content for m in await _facts("alice")] == ["someone else's fact"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, MemoryScreen))


async def test_a_proposed_fact_needs_the_users_yes(echo_app: Any, fake_llm: Any) -> None:
    fake_llm.reply_fn = lambda body: f"ok: {tool_results(body)}" if tool_results(body) else None
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        for key, stored in (("n", 0), ("y", 1)):
            fake_llm.tool_calls = [[{"name": "remember_fact", "arguments": {"fact": "Uses fish"}}]]
            app.prompt.focus()
            app.prompt.insert("I use the fish shell")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RememberScreen), timeout=15)
            assert "Uses fish" in str(app.screen.query_one("#remember-fact").render())
            assert await _facts() == [] or key == "y"
            await pilot.press(key)
            await wait_for(pilot, lambda: not app.streaming, timeout=15)
            await settle(pilot, app)
            assert len(await _facts()) == stored
    assert [m.source for m in await _facts()] == ["model"]


async def test_a_long_sessions_summary_note_is_shown(make_app: Any) -> None:
    async with await Store.open() as store:
        session = await store.create_session(title="long one")
        await store.add_message(session.id, "user", "first question")
        await store.add_message(session.id, "assistant", "first answer")
        note = summary_note("SUMMARY: the user asked about alpha.", 2, "qwen")
        await store.add_message(session.id, "system", note)
        await store.add_message(session.id, "system", "some other system text")
        await store.add_message(session.id, "user", "next question")
    app = make_app(session=session.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await wait_for(pilot, lambda: len(app.chat_log.views) == 4)
        roles = [v.role for v in app.chat_log.views]
        assert roles == ["user", "assistant", "system", "user"]
        shown = app.chat_log.views[2]
        assert "SUMMARY: the user asked about alpha." in shown.text
        assert "Summary of the earlier conversation" in shown.header_markup()


async def test_session_search_finds_exact_text_and_jumps_to_it(make_app: Any) -> None:
    async with await Store.open() as store:
        session = await store.create_session(title="traceback hunt")
        for n in range(30):
            await store.add_message(session.id, "user", f"question {n} about KeyError and id")
        target = await store.add_message(session.id, "assistant", "it fails with KeyError: 'id'")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.action_search_sessions()
        await pilot.pause()
        search = app.session_list.query_one(Input)
        search.value = "KeyError: 'id'"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session_list.mode == "results", timeout=10)
        await asyncio.sleep(0.1)
        app.session_list.options.focus()
        app.session_list.options.highlighted = 0
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat_log.selected is not None, timeout=10)
        assert app.session.title == "traceback hunt"
        assert app.chat_log.selected.info.message_id == target  # the exact match, not a word hit


async def test_s_summarises_finished_sessions(make_app: Any, fake_llm: Any) -> None:
    async with await Store.open() as store:
        session = await store.create_session(
            title="retries", model="openai/echo", api_base=fake_llm.base_url
        )
        await store.add_message(session.id, "user", "how should payment retries back off?")
        await store.add_message(session.id, "assistant", "exponentially", model="openai/echo")
        async with store._write() as db:  # finished: idle for two hours
            await db.execute("UPDATE sessions SET updated = updated - 7200")
    fake_llm.reply = "Chose exponential backoff for payment retries."
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.action_memory()
        await wait_for(pilot, lambda: isinstance(app.screen, MemoryScreen))
        screen = app.screen
        await pilot.press("s")
        await wait_for(
            pilot, lambda: any("exponential backoff" in t for t in _option_texts(screen)), 15
        )
    medium = [m for m in await _facts() if m.tier == "medium"]
    assert [m.session_id for m in medium] == [session.id]


async def _finished_session(fake_llm: Any, api_base: str | None = None) -> str:
    async with await Store.open() as store:
        session = await store.create_session(
            title="flaky CI", model="openai/echo", api_base=api_base or fake_llm.base_url
        )
        await store.add_message(session.id, "user", "why does the CI job time out on arm64?")
        await store.add_message(session.id, "assistant", "the cache is cold", model="openai/echo")
        async with store._write() as db:  # finished: idle for two hours
            await db.execute("UPDATE sessions SET updated = updated - 7200")
        return session.id


async def test_finished_sessions_are_summarised_without_a_keypress(
    make_app: Any, fake_llm: Any, monkeypatch: Any
) -> None:
    from ai_workbench.tui.summaries import SessionSummaries

    monkeypatch.setattr(SessionSummaries, "FIRST_DELAY", 0.2)
    monkeypatch.setattr(SessionSummaries, "BUSY_RETRY", 0.2)
    monkeypatch.setattr(SessionSummaries, "INTERVAL", 0.5)
    session_id = await _finished_session(fake_llm)
    fake_llm.reply = "The arm64 CI job timed out because its cache was cold."
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not [m for m in await _facts() if m.tier == "medium"]:
            assert loop.time() < deadline, "no summary was written"
            await pilot.pause(0.2)
        await wait_for(pilot, lambda: any("Summarised 1" in str(n.message)
                                          for n in app._notifications))  # fmt: skip
    medium = [m for m in await _facts() if m.tier == "medium"]
    assert [(m.session_id, m.content) for m in medium] == [
        (session_id, "The arm64 CI job timed out because its cache was cold.")
    ]


async def test_auto_summaries_can_be_turned_off(
    make_app: Any, fake_llm: Any, monkeypatch: Any, isolated_env: Any
) -> None:
    from ai_workbench.tui.summaries import SessionSummaries

    monkeypatch.setattr(SessionSummaries, "FIRST_DELAY", 0.1)
    isolated_env.write_user_config("[memory]\nauto_summarize = false\n")
    await _finished_session(fake_llm)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.pause(1.0)
    assert [m for m in await _facts() if m.tier == "medium"] == []
    assert not fake_llm.chat_requests


async def test_sessions_whose_model_is_gone_do_not_block_the_others(
    make_app: Any, fake_llm: Any, monkeypatch: Any
) -> None:
    from ai_workbench.tui.summaries import SessionSummaries

    monkeypatch.setattr(SessionSummaries, "FIRST_DELAY", 3600.0)  # passes driven by hand
    good = await _finished_session(fake_llm)
    dead = "http://127.0.0.1:9/v1"  # nothing listens there
    gone = [await _finished_session(fake_llm, dead) for _ in range(2)]  # newer: tried first
    fake_llm.reply = "Cold cache on arm64."
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        summaries = app.background.summaries
        assert await summaries.summarize_once() == 0  # both newest fail ...
        assert summaries.given_up == set(gone)
        assert await summaries.summarize_once() == 1  # ... and are skipped next time
    medium = [m for m in await _facts() if m.tier == "medium"]
    assert [m.session_id for m in medium] == [good]
