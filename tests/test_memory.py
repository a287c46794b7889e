"""Memory the user controls: real SQLite, the loopback model, the real CLI in a subprocess."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from ai_workbench.chat.service import AskOptions, ChatService
from ai_workbench.chat.summaries import NOTE_PREFIX, SUMMARY_HEADING
from ai_workbench.core.errors import InputError
from ai_workbench.core.settings import KnowledgeSettings, MemorySettings, load_config
from ai_workbench.memory.service import PROFILE_HEADING, RECALL_HEADING, MemoryNotFound
from ai_workbench.memory.service import MemoryService as Memory
from ai_workbench.memory.tools import MemoryTools, Proposal
from tests.fake_llm import tool_results

SECRET = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


def memory(store: Any, **settings: Any) -> Memory:
    return Memory(store, MemorySettings(**settings), KnowledgeSettings())


def write_config(isolated_env: Any, fake_llm: Any, extra: str = "") -> Any:
    isolated_env.write_user_config(
        f'default_provider = "loop"\n[providers.loop]\nmodel = "openai/echo"\n'
        f'api_base = "{fake_llm.base_url}"\n{extra}'
    )
    return load_config(cwd=isolated_env.work)


async def ask(service: ChatService, prompt: str, tools: Any = None, **opts: Any) -> Any:
    notices: list[str] = []
    turn = await service.prepare(AskOptions(prompt=prompt, **opts), notice=notices.append)
    result = await service.run(turn, lambda _t: None, notice=notices.append, tools=tools)
    result.notices = notices
    result.turn = turn
    return result


# ---- facts: scoped, redacted, cleared by tier


async def test_memory_is_scoped_per_user(store: Any) -> None:
    mem = memory(store)
    mine = (await mem.add("I deploy with Helm on k3s")).memory
    theirs = (await mem.add("I deploy with Nomad", owner="alice")).memory
    assert [m.content for m in await mem.list()] == ["I deploy with Helm on k3s"]
    assert [m.content for m in await mem.list(owner="alice")] == ["I deploy with Nomad"]
    assert "Nomad" not in await mem.profile_block()
    assert [m.id for m, _ in await mem.search("deploy")] == [mine.id]
    with pytest.raises(MemoryNotFound):
        await mem.forget(theirs.id)  # not the local user's
    with pytest.raises(MemoryNotFound):
        await mem.edit(theirs.id, "changed")
    await mem.clear("all")
    assert await mem.list() == []
    assert [m.id for m in await mem.list(owner="alice")] == [theirs.id]


async def test_a_secret_in_a_fact_is_redacted_before_it_is_stored(store: Any) -> None:
    mem = memory(store)
    added = await mem.add(f"my GitHub token is {SECRET}")
    assert SECRET not in added.memory.content and added.redacted == {"github-token": 1}
    edited = await mem.edit(added.memory.id, f"token {SECRET} again")
    assert SECRET not in edited.memory.content
    await mem.save_medium("s1", f"we rotated {SECRET}")
    await mem.save_short("s1", f"used {SECRET}", 3)
    async with store._read() as db:
        rows = await store._all(db, "SELECT content FROM memories")
        fts = await store._all(db, "SELECT content FROM memories_fts")
    assert rows and all(SECRET not in r[0] for r in [*rows, *fts])


async def test_clear_by_tier_leaves_the_other_tiers(store: Any) -> None:
    mem = memory(store)
    await mem.add("I like short answers")
    await mem.save_medium("s1", "a session about retries")
    await mem.save_short("s2", "older turns of a long session", 10)
    assert await mem.counts() == {"short": 1, "medium": 1, "long": 1}
    assert await mem.clear("medium") == {"medium": 1}
    assert await mem.counts() == {"short": 1, "medium": 0, "long": 1}
    assert await mem.clear("all") == {"short": 1, "medium": 0, "long": 1}
    assert await mem.counts() == {"short": 0, "medium": 0, "long": 0}
    with pytest.raises(InputError, match="--tier"):
        await mem.clear("everything")


async def test_profile_block_stays_within_its_budget(store: Any) -> None:
    mem = memory(store, profile_tokens=60)
    for n in range(20):
        await mem.add(f"fact number {n}: I prefer configuration in TOML files over YAML")
    kept, outside = await mem.profile()
    block = await mem.profile_block()
    assert kept and outside and len(block) // 4 <= 60 + 20  # the heading is on top
    assert "fact number 19" in block and "fact number 0:" not in block  # newest first


async def test_medium_summaries_expire_and_are_searchable(store: Any) -> None:
    mem = memory(store, medium_days=0.00001)  # a second
    await mem.save_medium("s1", "we chose exponential backoff for the payment retries")
    assert [m.tier for m, _ in await mem.search("backoff")] == ["medium"]
    import asyncio

    await asyncio.sleep(1.1)
    assert await mem.search("backoff") == []
    assert await mem.purge_expired() == 1


# ---- the system prompt the model receives


async def test_profile_and_relevant_facts_reach_the_model(
    isolated_env: Any, fake_llm: Any, store: Any
) -> None:
    loaded = write_config(isolated_env, fake_llm, "[memory]\noffer_tool = false\n")
    mem = memory(store)
    await mem.add("My timezone is Europe/Berlin")
    await mem.add("The staging cluster runs Kubernetes 1.29 with Helm", pinned=False)
    await mem.add("I am allergic to peanuts", owner="alice")
    service = ChatService(loaded, store)

    result = await ask(service, "how do I upgrade the staging cluster?")
    system = fake_llm.chat_requests[-1]["json"]["messages"][0]
    assert system["role"] == "system"
    assert PROFILE_HEADING in system["content"] and "Europe/Berlin" in system["content"]
    assert RECALL_HEADING in system["content"] and "Kubernetes 1.29" in system["content"]
    assert "peanuts" not in system["content"]  # another user's
    assert result.turn.memory_tokens > 0

    await ask(service, "write a haiku about the sea")
    system = fake_llm.chat_requests[-1]["json"]["messages"][0]["content"]
    assert "Europe/Berlin" in system and "Kubernetes" not in system  # not relevant

    alice = await ask(service, "any food advice?", owner="alice")
    assert alice.status == "complete"
    system = fake_llm.chat_requests[-1]["json"]["messages"][0]["content"]
    assert "peanuts" in system and "Europe/Berlin" not in system


async def test_memory_off_sends_no_profile(isolated_env: Any, fake_llm: Any, store: Any) -> None:
    loaded = write_config(isolated_env, fake_llm, "[memory]\nenabled = false\n")
    await memory(store).add("My timezone is Europe/Berlin")
    await ask(ChatService(loaded, store), "hello")
    sent = fake_llm.chat_requests[-1]["json"]
    assert all("Europe/Berlin" not in m["content"] for m in sent["messages"])


# ---- facts the model proposes


async def test_a_proposed_fact_is_stored_only_after_confirmation(
    isolated_env: Any, fake_llm: Any, store: Any
) -> None:
    loaded = write_config(isolated_env, fake_llm)
    mem = memory(store)
    service = ChatService(loaded, store)
    answers: list[bool] = [False, True]
    seen: list[Proposal] = []

    async def confirm(proposal: Proposal) -> bool:
        seen.append(proposal)
        return answers.pop(0)

    tools = MemoryTools(mem, confirm)
    fact = f"Works in UTC+3 and keeps the key {SECRET} in pass"
    fake_llm.tool_calls = [[{"name": "remember_fact", "arguments": {"fact": fact}}]]
    fake_llm.reply_fn = lambda body: f"noted: {tool_results(body)}" if tool_results(body) else None
    declined = await ask(service, "I work in UTC+3", tools=tools)
    offered = fake_llm.chat_requests[0]["json"]["tools"]
    assert [t["function"]["name"] for t in offered] == ["remember_fact"]
    assert declined.status == "complete" and "did not save" in declined.text
    assert await mem.list() == []  # declined: nothing stored
    assert SECRET not in seen[0].fact and seen[0].command.startswith("aiw memory add '")

    fake_llm.tool_calls = [[{"name": "remember_fact", "arguments": {"fact": fact}}]]
    await ask(service, "remember that I work in UTC+3", tools=tools)
    stored = await mem.list()
    assert [m.source for m in stored] == ["model"] and "UTC+3" in stored[0].content
    assert SECRET not in stored[0].content


def test_headless_ask_prints_the_proposal_and_stores_nothing(
    isolated_env: Any, fake_llm: Any, run_aiw: Any
) -> None:
    write_config(isolated_env, fake_llm)
    fake_llm.tool_calls = [[{"name": "remember_fact", "arguments": {"fact": "Uses zsh"}}]]
    done = run_aiw("ask", "--no-stdin", "I use zsh, remember it")
    assert done.returncode == 0, done.stderr
    assert "the model proposes remembering: Uses zsh" in done.stderr
    assert "aiw memory add 'Uses zsh'" in done.stderr
    listed = run_aiw("memory", "list", "--json")
    assert json.loads(listed.stdout) == []
    saved = run_aiw("memory", "add", "Uses zsh")
    assert saved.returncode == 0 and "remembered #" in saved.stdout
    assert "Uses zsh" in run_aiw("memory", "profile").stdout


def test_cli_clear_asks_unless_yes(isolated_env: Any, run_aiw: Any) -> None:
    run_aiw("memory", "add", f"deploy token {SECRET}")
    listed = run_aiw("memory", "list")
    assert SECRET not in listed.stdout and "[REDACTED:github-token]" in listed.stdout
    refused = run_aiw("memory", "clear", "--tier", "long")
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert len(json.loads(run_aiw("memory", "list", "--json").stdout)) == 1
    cleared = run_aiw("memory", "clear", "--tier", "long", "--yes")
    assert cleared.returncode == 0 and "1 long" in cleared.stdout
    assert json.loads(run_aiw("memory", "list", "--json").stdout) == []
    gone = run_aiw("memory", "forget", "99")
    assert gone.returncode != 0 and "no memory with id 99" in gone.stderr


# ---- a long session is summarised, not cut


def _summariser(body: dict[str, Any]) -> str | None:
    system = body["messages"][0]["content"] if body["messages"] else ""
    if system.startswith("You summarise a conversation"):
        return "SUMMARY: the user asked about alpha and beta releases."
    return None


async def test_long_session_is_summarised_instead_of_truncated(
    isolated_env: Any, fake_llm: Any, store: Any
) -> None:
    loaded = write_config(
        isolated_env,
        fake_llm,
        "context_window = 1200\n[memory]\noffer_tool = false\n",
    )
    service = ChatService(loaded, store)
    fake_llm.reply_fn = _summariser
    first = await ask(service, "alpha release " * 120)
    session = first.session.id
    notices = []
    for word in ("beta", "gamma", "delta"):
        last = await ask(service, f"{word} release " * 120, session=session)
        notices += last.notices
    assert any("summarised the" in n for n in notices), notices
    assert not any("left out the" in n for n in notices)
    summaries = [r for r in fake_llm.chat_requests if _summariser(r["json"])]
    assert summaries, "the model was asked for a summary"
    sent = fake_llm.chat_requests[-1]["json"]["messages"]
    assert SUMMARY_HEADING in sent[0]["content"] and "alpha and beta" in sent[0]["content"]
    assert all("alpha release alpha" not in m["content"] for m in sent[1:])
    notes = [m for m in await store.get_messages(session) if m.role == "system"]
    assert notes and notes[0].content.startswith(NOTE_PREFIX)
    assert "alpha and beta" in notes[0].content
    short = await memory(store).list("short")
    assert len(short) == 1 and short[0].session_id == session
    from ai_workbench.chat.sessions import SessionService

    shown = await SessionService(store).export(session, "md")  # aiw sessions show
    assert "## Summary (memory)" in shown and "alpha and beta" in shown


async def test_medium_summary_of_a_finished_session(
    isolated_env: Any, fake_llm: Any, store: Any
) -> None:
    loaded = write_config(
        isolated_env, fake_llm, "[memory]\noffer_tool = false\nfinished_after_minutes = 0\n"
    )
    service = ChatService(loaded, store)
    done = await ask(service, "how should payment retries back off?")
    fake_llm.reply = "Decided: exponential backoff for payment retries."
    written = await service.summarize_sessions()
    assert [s.id for s, _ in written] == [done.session.id]
    assert await service.summarize_sessions() == []  # once per session
    hits = await memory(store).search("exponential backoff")
    assert [m.tier for m, _ in hits] == ["medium"] and hits[0][0].session_id == done.session.id


async def test_medium_summaries_only_of_the_owners_sessions(
    isolated_env: Any, fake_llm: Any, store: Any
) -> None:
    from ai_workbench.chat.store import SessionNotFound

    loaded = write_config(
        isolated_env, fake_llm, "[memory]\noffer_tool = false\nfinished_after_minutes = 0\n"
    )
    service = ChatService(loaded, store)
    mine = await ask(service, "how should payment retries back off?")
    theirs = await ask(service, "where do the ann-only keys live?", owner="ann")
    fake_llm.reply = "Summary: the ann-only keys live in the vault."
    written = await service.summarize_sessions(owner="ann")
    assert [s.id for s, _ in written] == [theirs.session.id]  # not the local user's session
    assert await memory(store).search("vault") == []  # nothing under the local user
    assert [m.session_id for m, _ in await memory(store).search("vault", owner="ann")] == [
        theirs.session.id
    ]
    with pytest.raises(SessionNotFound):  # nor someone else's session by id
        await service.summarize_sessions(owner="ann", session_id=mine.session.id)
    fake_llm.reply = "Decided: exponential backoff."
    assert [s.id for s, _ in await service.summarize_sessions()] == [mine.session.id]


async def test_a_model_without_tools_still_answers(
    isolated_env: Any, fake_llm: Any, store: Any
) -> None:
    isolated_env.write_user_config(
        f'default_provider = "loop"\n[providers.loop]\nmodel = "openai/no-tools"\n'
        f'api_base = "{fake_llm.base_url}"\n'
    )
    service = ChatService(load_config(cwd=isolated_env.work), store)
    tools = MemoryTools(memory(store), lambda _p: asyncio.sleep(0, False))
    result = await ask(service, "hello there", tools=tools)
    assert result.status == "complete" and "hello there" in result.text
    assert any("does not take tools" in n for n in result.notices)
    assert "tools" in fake_llm.chat_requests[0]["json"]
    assert "tools" not in fake_llm.chat_requests[-1]["json"]


async def test_recall_finds_a_fact_by_meaning_not_only_by_words(store: Any) -> None:
    mem = memory(store)
    await mem.add("I prefer pytest over unittest", pinned=False)
    await mem.add("The billing cron runs at 02:00 UTC", pinned=False)
    recalled = await mem.recall("which test framework should I use")
    assert [m.content for m in recalled] == ["I prefer pytest over unittest"]  # no shared word
    billing = await mem.recall("when does billing run?")
    assert billing[0].content == "The billing cron runs at 02:00 UTC"
    assert await mem.recall("write a haiku about the sea") == []
