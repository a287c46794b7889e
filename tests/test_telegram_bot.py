"""`aiw telegram` end to end: python-telegram-bot against a fake Bot API on 127.0.0.1
(tests/fake_telegram.py, long polling with offsets, Telegram's error answers) and the loopback
model server; pairing approved through the real CLI (click's CliRunner), real SQLite."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import IsolatedEnv
from tests.fake_llm import FakeLLM
from tests.fake_telegram import TOKEN, FakeTelegram

pytest.importorskip("telegram")

ANN = 4242
EVE = 6666
CODE_RE = re.compile(r"pairing code is ([A-Z0-9]{8})")


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def write_config(env: IsolatedEnv, llm: FakeLLM, tg: FakeTelegram, model: str, extra: str) -> None:
    env.write_user_config(
        'default_provider = "fake"\n'
        f'[providers.fake]\nmodel = "openai/{model}"\napi_base = "{llm.base_url}"\n'
        f'[telegram]\nbase_url = "{tg.base_url}"\nedit_interval = 0.2\npoll_timeout = 1\n' + extra
    )


@dataclass
class Running:
    tg: FakeTelegram
    llm: FakeLLM
    events: list[str]

    async def until(self, predicate: Any, timeout: float = 15.0) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out; calls: {self.tg.calls[-8:]}; events: {self.events}")

    async def pair(self, user: int, name: str | None = None) -> str:
        """/start from ``user``, then `aiw telegram pair CODE` approves it; the code."""
        before = len(self.tg.texts(user))
        self.tg.user_says(user, "/start", username="ann")
        texts = await self.until(lambda: self.tg.texts(user)[before:])
        code = CODE_RE.search(texts[-1])
        assert code, texts
        args = ["telegram", "pair", code[1], *(["--as", name] if name else [])]
        result = await asyncio.to_thread(cli, *args)
        assert result.exit_code == 0, result.output
        return code[1]


def cli(*args: str) -> Any:
    from ai_workbench.cli.main import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def bot_config(isolated_env: IsolatedEnv, fake_llm: FakeLLM, fake_tg: FakeTelegram) -> dict:
    """Settings for the running bot: change ``model``/``extra`` before ``bot`` starts it."""
    return {"model": "echo", "extra": ""}


@pytest.fixture
async def bot(
    isolated_env: IsolatedEnv, fake_llm: FakeLLM, fake_tg: FakeTelegram, bot_config: dict
) -> AsyncIterator[Running]:
    from ai_workbench.core.settings import load_config
    from ai_workbench.store import Store
    from ai_workbench.telegram.bot import run_bot

    write_config(isolated_env, fake_llm, fake_tg, bot_config["model"], bot_config["extra"])
    loaded = load_config({})
    store = await Store.open()
    stop = asyncio.Event()
    events: list[str] = []
    ready = asyncio.Event()
    task = asyncio.create_task(
        run_bot(loaded, store, TOKEN, stop, on_event=events.append, ready=lambda _: ready.set())
    )
    try:
        await asyncio.wait_for(ready.wait(), 15)
        yield Running(fake_tg, fake_llm, events)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await store.close()


async def test_pairing_then_an_answer(bot: Running) -> None:
    tg = bot.tg
    tg.user_says(ANN, "hello before pairing")
    await asyncio.sleep(0.5)
    assert tg.texts(ANN) == []  # a stranger's message gets no reply ...
    assert bot.llm.chat_requests == []  # ... and reaches no model

    await bot.pair(ANN, "ann")
    assert any("asked to pair" in e for e in bot.events)
    listed = await asyncio.to_thread(cli, "telegram", "users")
    assert "ann" in listed.output and str(ANN) in listed.output

    tg.user_says(ANN, "what is 2+2?")
    await bot.until(lambda: "You said: what is 2+2?" in tg.texts(ANN))
    assert [t for t in tg.texts(ANN) if "You said" in t] == ["You said: what is 2+2?"]
    assert len(bot.llm.chat_requests) == 1

    # the next message continues the same session (the model sees the history)
    tg.user_says(ANN, "and 3+3?")
    await bot.until(lambda: "You said: and 3+3?" in tg.texts(ANN))
    history = bot.llm.chat_requests[-1]["json"]["messages"]
    assert [m["content"] for m in history if m["role"] == "user"] == ["what is 2+2?", "and 3+3?"]


async def test_unknown_user_is_ignored_and_codes_are_one_time(bot: Running) -> None:
    tg = bot.tg
    tg.user_says(EVE, "/help")
    tg.user_says(EVE, "tell me a secret")
    await asyncio.sleep(0.6)
    assert tg.texts(EVE) == []
    assert bot.llm.chat_requests == []

    code = await bot.pair(EVE)
    again = await asyncio.to_thread(cli, "telegram", "pair", code)
    assert again.exit_code == 3
    assert "no pending pairing code" in again.output
    listed = await asyncio.to_thread(cli, "telegram", "users", "--json")
    assert f'"owner": "tg-{EVE}"' in listed.output

    removed = await asyncio.to_thread(cli, "telegram", "unpair", f"tg-{EVE}")
    assert removed.exit_code == 0, removed.output
    before = len(tg.texts(EVE))
    tg.user_says(EVE, "still there?")
    await asyncio.sleep(0.6)
    assert len(tg.texts(EVE)) == before  # unpaired: ignored again
    assert bot.llm.chat_requests == []


async def test_too_many_pending_codes_get_a_polite_refusal(bot: Running) -> None:
    tg = bot.tg
    for user in range(100, 106):  # max_pending = 5
        tg.user_says(user, "/start")
    await bot.until(lambda: all(tg.texts(u) for u in range(100, 106)))
    codes = [u for u in range(100, 106) if CODE_RE.search(tg.texts(u)[0])]
    refused = [u for u in range(100, 106) if "cannot take more pairing" in tg.texts(u)[0]]
    assert len(codes) == 5 and len(refused) == 1
    pending = await asyncio.to_thread(cli, "telegram", "pending")
    assert pending.output.count("expires in 60 min") == 5


@pytest.mark.parametrize(
    "bot_config",
    [{"model": "echo", "extra": "burst = 2\nmessages_per_minute = 1\n"}],
    indirect=False,
)
async def test_rate_limit_says_slow_down_once(bot: Running) -> None:
    tg = bot.tg
    await bot.pair(ANN)
    for n in range(5):
        tg.user_says(ANN, f"message {n}")
    await bot.until(lambda: len([t for t in tg.texts(ANN) if "You said" in t]) >= 2)
    await asyncio.sleep(0.8)
    texts = tg.texts(ANN)
    assert len([t for t in texts if "You said" in t]) == 2
    assert len([t for t in texts if "Slow down" in t]) == 1  # told once, not per message
    assert len(bot.llm.chat_requests) == 2


@pytest.mark.parametrize("bot_config", [{"model": "slow", "extra": ""}], indirect=False)
async def test_a_streamed_answer_is_edited_in_place(bot: Running) -> None:
    from tests.fake_llm import long_answer

    tg = bot.tg
    bot.llm.chunk_delay = 0.03
    await bot.pair(ANN)
    tg.user_says(ANN, "tell me a long story")
    expected = long_answer()
    await bot.until(lambda: any(m.text == expected for m in tg.chat(ANN)), timeout=30)
    [message] = [m for m in tg.chat(ANN) if m.text == expected]
    assert len(message.history) >= 3  # sent early, then edited as it grew
    assert all(len(a) <= len(b) for a, b in zip(message.history, message.history[1:], strict=False))
    assert message.history[0] != expected
    edits = tg.methods("editMessageText")
    assert len(edits) >= 2
    assert tg.methods("sendChatAction")
