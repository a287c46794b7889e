"""Tasks on Telegram: paired users' reminders arrive in their chat (once, even with a second
scheduler running), missed ones are listed, and /task, /tasks, /done, /snooze work for the
paired user only. python-telegram-bot against the fake Bot API on 127.0.0.1, real SQLite, the
reminder scheduler on a clock the test moves."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import IsolatedEnv
from tests.fake_llm import FakeLLM
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.test_telegram_bot import write_config

pytest.importorskip("telegram")

ANN = 4242
BOB = 5151
EVE = 6666


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


async def pair(store: Any, telegram_id: int, name: str) -> None:
    from ai_workbench.telegram.links import TelegramLinks

    links = TelegramLinks(store)
    issued = await links.request_code(telegram_id, f"@{name}", max_pending=5, ttl=3600)
    assert issued.code is not None
    await links.approve(issued.code, name)


@dataclass
class Bot:
    tg: FakeTelegram
    store: Any
    clock: Any
    events: list[str]
    scheduler: Any = None

    async def until(self, predicate: Any, timeout: float = 15.0, tick: float = 0.0) -> Any:
        """Wait for ``predicate``; with ``tick``, move the reminder clock on meanwhile."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            value = predicate()
            if value:
                return value
            if tick:
                self.clock.advance(tick)
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out; calls: {self.tg.calls[-8:]}; events: {self.events}")

    def reminders(self, chat: int) -> list[str]:
        return [t for t in self.tg.texts(chat) if t.startswith("⏰")]


@pytest.fixture
async def bot(
    isolated_env: IsolatedEnv, fake_llm: FakeLLM, fake_tg: FakeTelegram, request: Any
) -> AsyncIterator[Bot]:
    from ai_workbench.core.settings import load_config
    from ai_workbench.store import Store
    from ai_workbench.tasks.scheduler import ManualClock
    from ai_workbench.telegram.bot import TelegramBot

    write_config(isolated_env, fake_llm, fake_tg, "echo", "burst = 50\n")
    config = isolated_env.aiw_config / "config.toml"
    config.write_text(config.read_text() + '[tasks]\ntimezone = "UTC"\n')
    loaded = load_config({})
    store = await Store.open()
    setup = getattr(request, "param", None)
    if setup is not None:
        await setup(store)
    clock = ManualClock(time.time())
    stop = asyncio.Event()
    events: list[str] = []
    ready = asyncio.Event()
    running = TelegramBot(loaded, store, TOKEN, on_event=events.append, reminder_clock=clock)
    task = asyncio.create_task(running.run(stop, lambda _: ready.set()))
    try:
        await asyncio.wait_for(ready.wait(), 15)
        await asyncio.wait_for(running.reminders.started.wait(), 15)
        yield Bot(fake_tg, store, clock, events, running.reminders)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await store.close()


def at(clock: Any, seconds: float) -> datetime:
    return datetime.fromtimestamp(clock.now() + seconds, UTC)


async def test_a_paired_users_reminder_arrives_once(bot: Bot) -> None:
    from ai_workbench.tasks.service import TaskService
    from ai_workbench.telegram.reminders import telegram_scheduler

    await pair(bot.store, ANN, "ann")
    tasks = TaskService(bot.store)
    # A second `aiw telegram`-like scheduler on the same database: it must not deliver it again.
    other_sent: list[tuple[int, str]] = []

    async def other_send(chat: int, text: str) -> None:
        other_sent.append((chat, text))

    other = telegram_scheduler(bot.store, other_send, settings=None, clock=bot.clock)
    other.start()
    try:
        await tasks.add("renew the TLS cert", due=at(bot.clock, 600), tz="UTC", owner="ann")
        await tasks.add("local only", due=at(bot.clock, 600), tz="UTC", owner="local")
        await tasks.add("eve is not paired", due=at(bot.clock, 600), tz="UTC", owner="tg-6666")
        await asyncio.sleep(0.2)
        assert bot.reminders(ANN) == []  # not before its time
        bot.clock.advance(590)
        await asyncio.sleep(0.3)
        assert bot.reminders(ANN) == []

        await bot.until(lambda: bot.reminders(ANN) or other_sent, tick=5)
        await asyncio.sleep(0.5)
        bot.clock.advance(60)
        await asyncio.sleep(0.5)
    finally:
        await other.stop()
    delivered = bot.reminders(ANN) + [t for _, t in other_sent]
    assert len(delivered) == 1, delivered
    assert "renew the TLS cert" in delivered[0] and "/done" in delivered[0]
    # Other users' reminders are not this bot's: the workbench / aiw remind deliver them.
    assert bot.tg.texts(EVE) == []
    pending = await tasks.pending(bot.clock.now(), owner=None)
    assert sorted(r.title for r in pending) == ["eve is not paired", "local only"]


async def _missed_setup(store: Any) -> None:
    from ai_workbench.tasks.service import TaskService

    await pair(store, ANN, "ann")
    past = datetime.fromtimestamp(time.time() - 3600, UTC)
    await TaskService(store).add("call the bank", due=past, tz="UTC", owner="ann")
    await TaskService(store).add("water plants", due=past, tz="UTC", owner="ann")


@pytest.mark.parametrize("bot", [_missed_setup], indirect=True)
async def test_missed_reminders_are_listed_once_not_fired(bot: Bot) -> None:
    texts = await bot.until(lambda: bot.reminders(ANN))
    assert len(texts) == 1
    assert "2 reminders missed while aiw was not running" in texts[0]
    assert "call the bank" in texts[0] and "water plants" in texts[0]


async def test_task_commands_for_the_paired_user(bot: Bot) -> None:
    from ai_workbench.tasks.service import TaskService

    await pair(bot.store, ANN, "ann")
    await pair(bot.store, BOB, "bob")
    tg = bot.tg
    tg.user_says(ANN, "/task renew the TLS cert tomorrow 9am +ops")
    reply = await bot.until(lambda: [t for t in tg.texts(ANN) if t.startswith("Added task")])
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert '"renew the TLS cert" due' in reply[0] and f"{tomorrow} 09:00" in reply[0]
    saved = await TaskService(bot.store).list(owner="ann")
    assert [(t.title, t.tags) for t in saved] == [("renew the TLS cert", ["ops"])]
    assert await TaskService(bot.store).list(owner="local") == []

    # An ambiguous date saves nothing and asks back with the readings.
    tg.user_says(ANN, "/task pay rent 03/04")
    asked = await bot.until(lambda: [t for t in tg.texts(ANN) if "could mean" in t])
    assert "Not saved" in asked[0] and "-03-04" in asked[0] and "-04-03" in asked[0]
    assert len(await TaskService(bot.store).list(owner="ann")) == 1

    tg.user_says(ANN, "/tasks")
    listed = await bot.until(lambda: [t for t in tg.texts(ANN) if t.startswith("Your open")])
    assert "renew the TLS cert" in listed[0] and "+ops" in listed[0]
    tg.user_says(ANN, "/tasks overdue")
    await bot.until(lambda: "No open tasks due overdue." in tg.texts(ANN))

    # Bob sees none of Ann's tasks and cannot complete them.
    task_id = saved[0].id
    tg.user_says(BOB, "/tasks")
    tg.user_says(BOB, f"/done {task_id}")
    await bot.until(lambda: len(tg.texts(BOB)) >= 2)
    assert "No open tasks." in tg.texts(BOB)
    assert f"You have no task {task_id} (/tasks lists yours)." in tg.texts(BOB)

    tg.user_says(ANN, f"/snooze {task_id} 2h")
    await bot.until(lambda: any(t.startswith(f"Snoozed task {task_id}") for t in tg.texts(ANN)))
    tg.user_says(ANN, f"/done {task_id}")
    await bot.until(lambda: f"Done: task {task_id}, renew the TLS cert." in tg.texts(ANN))
    assert await TaskService(bot.store).list(owner="ann") == []

    # A stranger's /task reaches nothing.
    tg.user_says(EVE, "/task steal the keys tomorrow")
    await asyncio.sleep(0.4)
    assert tg.texts(EVE) == []
    assert await TaskService(bot.store).list(owner="tg-6666") == []
