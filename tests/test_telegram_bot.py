"""`aiw telegram` end to end: python-telegram-bot against a fake Bot API on 127.0.0.1
(tests/fake_telegram.py, long polling with offsets, Telegram's error answers) and the loopback
model server; pairing approved through the real CLI (click's CliRunner), real SQLite."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import REPO_ROOT, IsolatedEnv
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
    return {"model": "echo", "extra": "burst = 50\n"}


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


@pytest.mark.parametrize("bot_config", [{"model": "slow", "extra": "burst = 50\n"}], indirect=False)
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


LONG_CODE = "\n".join(f"    total_{n} = compute(part_{n}) + offset  # step {n}" for n in range(140))
LONG_ANSWER = (
    "Here is **the plan**, then the code:\n\n"
    + "\n\n".join(f"Paragraph {n}: " + "words " * 60 for n in range(12))
    + f"\n\n```python\ndef main():\n{LONG_CODE}\n```\n\nThat is all & done."
)


async def test_a_long_answer_is_split_without_breaking_code_blocks(bot: Running) -> None:
    from tests.fake_telegram import check_html, utf16_len

    tg = bot.tg
    bot.llm.reply = LONG_ANSWER
    await bot.pair(ANN)
    tg.user_says(ANN, "show me")
    await bot.until(lambda: any("That is all &amp; done." in t for t in tg.texts(ANN)), 30)
    await asyncio.sleep(0.3)
    answer = [m for m in tg.chat(ANN) if m.parse_mode == "HTML"]
    assert len(answer) >= 3  # 13 kB of answer
    for message in answer:
        visible = check_html(message.text)  # Telegram's rules: the tags balance
        assert utf16_len(visible) <= 4096
    code_parts = [m.text for m in answer if "total_" in m.text]
    assert len(code_parts) >= 2  # the code block spans messages ...
    for part in code_parts:  # ... and each part is a whole, highlighted block
        assert part.count('<pre><code class="language-python">') == 1
        assert part.count("</code></pre>") == 1
    shown = "".join(check_html(m.text) for m in answer)
    for n in range(140):
        assert f"total_{n} = compute(part_{n})" in shown  # nothing lost at the cuts


async def test_formatting_refused_falls_back_to_plain_text(bot: Running) -> None:
    tg = bot.tg
    bot.llm.reply = "Use **bold** and `x < y` here."
    await bot.pair(ANN)
    tg.reject_formatting = True
    tg.user_says(ANN, "format it")
    await bot.until(lambda: "Use **bold** and `x < y` here." in tg.texts(ANN))
    await asyncio.sleep(0.3)
    [message] = [m for m in tg.chat(ANN) if "bold" in m.text]
    assert message.parse_mode is None and message.text == "Use **bold** and `x < y` here."
    refused = [p for p in tg.methods("editMessageText") if p.get("parse_mode")]
    assert refused  # it was tried formatted first


async def test_markdown_is_sent_as_telegram_html(bot: Running) -> None:
    tg = bot.tg
    bot.llm.reply = "# Title\n\nUse **bold**, <tags> & `x < y`:\n\n- one\n- two"
    await bot.pair(ANN)
    tg.user_says(ANN, "format it")
    await bot.until(lambda: [m for m in tg.chat(ANN) if m.parse_mode == "HTML"])
    [message] = [m for m in tg.chat(ANN) if m.parse_mode == "HTML"]
    assert message.text == (
        "<b>Title</b>\n\nUse <b>bold</b>, &lt;tags&gt; &amp; <code>x &lt; y</code>:\n\n• one\n• two"
    )


async def test_new_starts_a_fresh_session_and_persona_switches(bot: Running) -> None:
    tg = bot.tg
    await bot.pair(ANN, "ann")
    tg.user_says(ANN, "first question")
    await bot.until(lambda: "You said: first question" in tg.texts(ANN))
    tg.user_says(ANN, "/new")
    await bot.until(lambda: "New conversation started." in tg.texts(ANN))
    tg.user_says(ANN, "/persona")
    listing = await bot.until(lambda: [t for t in tg.texts(ANN) if "Personas:" in t])
    assert "core/SA-1" in listing[0]
    tg.user_says(ANN, "/persona SA-1")
    await bot.until(lambda: any(t.startswith("Persona: core/SA-1") for t in tg.texts(ANN)))
    tg.user_says(ANN, "second question")
    await bot.until(lambda: "You said: second question" in tg.texts(ANN))
    messages = bot.llm.chat_requests[-1]["json"]["messages"]
    assert [m["content"] for m in messages if m["role"] == "user"] == ["second question"]
    assert messages[0]["role"] == "system" and "architect" in messages[0]["content"].lower()
    tg.user_says(ANN, "/persona nobody-like-this")
    await bot.until(lambda: any("nobody-like-this" in t for t in tg.texts(ANN)))


async def test_help_and_unknown_commands(bot: Running) -> None:
    tg = bot.tg
    await bot.pair(ANN)
    tg.user_says(ANN, "/help")
    await bot.until(lambda: any("/kb QUESTION" in t for t in tg.texts(ANN)))
    tg.user_says(ANN, "/frobnicate now")
    await bot.until(lambda: any("Unknown command /frobnicate" in t for t in tg.texts(ANN)))
    assert bot.llm.chat_requests == []
    assert {c["command"] for c in _commands(tg)} == {
        "new", "persona", "kb", "search", "review", "help", "task", "tasks", "done", "snooze",
    }  # fmt: skip


def _commands(tg: FakeTelegram) -> list[dict[str, str]]:
    import json

    [call] = tg.methods("setMyCommands")
    return json.loads(call["commands"])


@pytest.mark.parametrize(
    "bot_config",
    [
        {
            "model": "echo",
            "extra": 'burst = 50\n[mcp.servers.tiny]\ncommand = "false"\napproval = "auto"\n',
        }
    ],
)
async def test_no_tools_from_telegram_unless_allowed(bot: Running) -> None:
    tg = bot.tg
    await bot.pair(ANN)
    tg.user_says(ANN, "use your tools")
    await bot.until(lambda: "You said: use your tools" in tg.texts(ANN))
    assert "tools" not in bot.llm.chat_requests[-1]["json"]


TINY_CONFIG = (
    "burst = 50\nallow_tools = true\n"
    f'[mcp.servers.tiny]\ncommand = "{sys.executable}"\nargs = ["-m", "tests.mcp.tiny_server"]\n'
    f'env = {{ PYTHONPATH = "{REPO_ROOT}" }}\napproval = "ask"\n'
    '[mcp.servers.tiny.tools]\nadd = "auto"\n'
)


@pytest.mark.parametrize("bot_config", [{"model": "echo", "extra": TINY_CONFIG}])
async def test_allowed_tools_run_only_when_they_need_no_confirmation(bot: Running) -> None:
    from tests.fake_llm import tool_results

    tg = bot.tg
    await bot.pair(ANN)
    bot.llm.tool_calls = [[{"name": "mcp__tiny__add", "arguments": {"a": 2, "b": 40}}]]
    bot.llm.reply_fn = lambda body: "results: " + " | ".join(tool_results(body))
    tg.user_says(ANN, "add 2 and 40")
    await bot.until(lambda: any(t.startswith("results:") and "42" in t for t in tg.texts(ANN)), 60)
    offered = bot.llm.chat_requests[0]["json"]["tools"]
    assert {t["function"]["name"] for t in offered} >= {"mcp__tiny__add", "mcp__tiny__echo"}
    bot.llm.tool_calls = [[{"name": "mcp__tiny__echo", "arguments": {"text": "hi"}}]]
    tg.user_says(ANN, "echo hi")
    await bot.until(lambda: any("did not allow" in t for t in tg.texts(ANN)), 60)
    first, second = [t for t in tg.texts(ANN) if t.startswith("results:")]
    assert "42" in first  # auto: it ran
    assert "did not allow" in second  # ask: nobody can confirm from Telegram, refused


@pytest.fixture
def indexed_shop(shop_project: Any, run_aiw: Any) -> Any:
    indexed = run_aiw("index", cwd=shop_project)
    assert indexed.returncode == 0, indexed.stderr
    return shop_project


class TestKb:
    @pytest.fixture
    def bot_config(self, indexed_shop: Any) -> dict:
        return {"model": "echo", "extra": f'burst = 50\nproject = "{indexed_shop}"\n'}

    async def test_kb_answers_from_the_index_with_citations(self, bot: Running) -> None:
        tg = bot.tg
        await bot.pair(ANN)
        bot.llm.reply = "VAT is added in `billing/invoice.py:1-4` (invoice_total)."
        tg.user_says(ANN, "/kb how is the invoice VAT total computed?")
        await bot.until(lambda: [t for t in tg.texts(ANN) if "1 of 1 citation(s) right" in t], 90)
        system = bot.llm.chat_requests[-1]["json"]["messages"][0]["content"]
        assert "### billing/invoice.py:1-4 (def invoice_total)" in system
        final = [t for t in tg.texts(ANN) if "invoice_total" in t][-1]
        assert "billing/invoice.py:1-4" in final

        before = len(bot.llm.chat_requests)
        tg.user_says(ANN, "/kb why does the kubernetes operator crash on reconcile?")
        await bot.until(lambda: any("Do you mean" in t for t in tg.texts(ANN)), 60)
        assert len(bot.llm.chat_requests) == before  # asked back instead of guessing

    async def test_search_lists_where_the_index_mentions_it(self, bot: Running) -> None:
        tg = bot.tg
        await bot.pair(ANN)
        tg.user_says(ANN, "/search invoice VAT total")
        found = await bot.until(lambda: [t for t in tg.texts(ANN) if "1. " in t], 60)
        assert "billing/invoice.py:1-4" in found[-1]
        assert bot.llm.chat_requests == []  # a search asks no model
        tg.user_says(ANN, "/search")
        await bot.until(lambda: any(t.startswith("Usage: /search") for t in tg.texts(ANN)))


async def test_secrets_are_redacted_before_storing_and_sending(bot: Running) -> None:
    from ai_workbench.store import Store

    tg = bot.tg
    await bot.pair(ANN)
    secret = "AKIAIOSFODNN7EXAMPLE"
    tg.user_says(ANN, f"my key is {secret}, keep it")
    await bot.until(lambda: any(t.startswith("You said: my key is") for t in tg.texts(ANN)))
    await asyncio.sleep(0.3)
    assert secret not in str(bot.llm.chat_requests)
    assert all(secret not in t for t in tg.texts(ANN))
    await bot.until(lambda: any("redacted 1 secret(s)" in t for t in tg.texts(ANN)))
    async with Store() as store, store._read() as conn:
        rows = await store._all(conn, "SELECT content FROM messages")
    assert rows and all(secret not in r["content"] for r in rows)
    assert any("[REDACTED" in r["content"] for r in rows)


@pytest.mark.parametrize("bot_config", [{"model": "slow", "extra": "burst = 50\n"}])
async def test_one_users_long_answer_does_not_hold_up_another(bot: Running) -> None:
    from tests.fake_llm import long_answer

    tg = bot.tg
    bot.llm.chunk_delay = 0.05
    await bot.pair(ANN)
    await bot.pair(EVE)
    tg.user_says(ANN, "a long story please")
    await bot.until(lambda: tg.chat(ANN)[1:])  # Ann's answer has started
    tg.user_says(EVE, "and one for me")
    await bot.until(lambda: len(tg.chat(EVE)) >= 2)  # Eve's answer started ...
    assert long_answer() not in tg.texts(ANN)  # ... while Ann's was still streaming
    await bot.until(lambda: long_answer() in tg.texts(ANN) and long_answer() in tg.texts(EVE), 60)


@pytest.mark.parametrize("bot_config", [{"model": "cut", "extra": "burst = 50\n"}])
async def test_a_cut_answer_keeps_its_text_and_says_what_went_wrong(bot: Running) -> None:
    tg = bot.tg
    await bot.pair(ANN)
    tg.user_says(ANN, "go on")
    [text] = await bot.until(lambda: [t for t in tg.texts(ANN) if "answer cut short" in t], 60)
    assert not text.startswith("⚠")  # the words that arrived come first
    assert any("ended with" in e for e in bot.events)


@pytest.mark.parametrize("bot_config", [{"model": "fail-401", "extra": "burst = 50\n"}])
async def test_a_failed_answer_is_one_line(bot: Running) -> None:
    tg = bot.tg
    await bot.pair(ANN)
    tg.user_says(ANN, "hello")
    [text] = await bot.until(lambda: [t for t in tg.texts(ANN) if t.startswith("⚠")], 60)
    assert "401" in text or "auth" in text.lower()


async def test_an_answer_is_rated_with_its_buttons(bot: Running) -> None:
    from ai_workbench.store import Store

    tg = bot.tg
    await bot.pair(ANN, "ann")
    tg.user_says(ANN, "how do I rotate the staging keys?")
    answer = await bot.until(
        lambda: next((m for m in tg.chat(ANN) if "You said" in m.text and m.buttons()), None)
    )
    assert [b["text"] for b in answer.buttons()] == ["👍", "👎"]

    thumbs_down = answer.buttons()[1]["callback_data"]
    query = tg.user_presses(ANN, answer.message_id, thumbs_down)
    await bot.until(lambda: query in tg.answers)
    assert tg.answers[query] == "Thanks! Rated 👎"
    await bot.until(lambda: [b["text"] for b in answer.buttons()] == ["👍", "👎 ✓"])
    async with await Store.open() as store:
        rated = await store.list_feedback(owner="ann")
    assert [(f.target_kind, f.rating) for f in rated] == [("message", -1)]
    assert rated[0].target_id == thumbs_down.rsplit(":", 1)[1]

    # A stranger pressing a forged button rates nothing; a paired user cannot rate another's.
    stranger = tg.user_presses(EVE, answer.message_id, thumbs_down.replace("-1", "1"))
    await bot.until(lambda: stranger in tg.answers)
    await bot.pair(EVE, "eve")
    forged = tg.user_presses(EVE, answer.message_id, thumbs_down.replace("-1", "1"))
    await bot.until(lambda: forged in tg.answers)
    assert "not one of yours" in str(tg.answers[forged])
    async with await Store.open() as store:
        assert [f.rating for f in await store.list_feedback(owner="ann")] == [-1]
        assert await store.list_feedback(owner="eve") == []
        actions = [e.action for e in await store.recent_audit(owner="ann")]
    assert "telegram.ask" in actions and "telegram.rate" in actions  # writes are audited


async def test_review_of_a_pasted_diff(bot: Running) -> None:
    from tests.server.test_api_endpoints import CALC_DIFF
    from tests.test_review_core import BUG, findings_reply

    tg = bot.tg
    await bot.pair(ANN, "ann")
    tg.user_says(ANN, "/review")
    await bot.until(lambda: any(t.startswith("Usage: /review") for t in tg.texts(ANN)))
    bot.llm.reply = findings_reply(BUG)
    tg.user_says(ANN, "/review\n```diff\n" + CALC_DIFF + "```")
    text = await bot.until(lambda: [t for t in tg.texts(ANN) if "Off-by-one" in t], 60)
    assert "calc.py" in text[-1]
    sent = bot.llm.chat_requests[-1]["json"]["messages"]
    assert "range(len(items) + 1)" in json.dumps(sent)


ANN_ONLY = TINY_CONFIG.replace("allow_tools = true", 'allow_tools = ["ann"]')


@pytest.mark.parametrize("bot_config", [{"model": "echo", "extra": ANN_ONLY}])
async def test_tools_only_for_the_users_the_settings_name(bot: Running) -> None:
    tg = bot.tg
    await bot.pair(ANN, "ann")
    await bot.pair(EVE, "eve")
    tg.user_says(EVE, "add 2 and 40")
    await bot.until(lambda: "You said: add 2 and 40" in tg.texts(EVE), 60)
    assert "tools" not in bot.llm.chat_requests[-1]["json"]  # eve is not listed
    tg.user_says(ANN, "add 2 and 40")
    await bot.until(lambda: "You said: add 2 and 40" in tg.texts(ANN), 60)
    offered = bot.llm.chat_requests[-1]["json"]["tools"]
    assert "mcp__tiny__add" in {t["function"]["name"] for t in offered}
