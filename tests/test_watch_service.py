"""The watch service on a real file system with the loopback model: saves become suggestions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ai_workbench.core.patches import PatchError, apply_patch
from ai_workbench.store import Store
from ai_workbench.suggestions.service import SuggestionQueue
from ai_workbench.watch import WatchService
from ai_workbench.watch.apply import apply_suggestion
from ai_workbench.watch.limiter import RateLimiter
from tests.test_watch_helpers import commit_all, diff_for, make_project, until, watch_settings

APP = "import time\n\n\ndef fetch(url):\n    return get(url)\n"
WITH_CHANGE = "import time\n\n\ndef fetch(url):\n    # add a timeout AI!\n    return get(url)\n"
FIXED = "import time\n\n\ndef fetch(url):\n    return get(url, timeout=5)\n"


@pytest.fixture
async def env(tmp_path: Path, fake_llm: Any):
    root = make_project(tmp_path / "proj", {"app.py": APP, "util.py": "X = 1\n"})
    store = await Store.open(tmp_path / "aiw.db")
    queue = SuggestionQueue(store)
    services: list[WatchService] = []
    events: list[Any] = []

    def make(**watch: Any) -> WatchService:
        limiter = watch.pop("limiter", None)
        service = WatchService(
            root,
            watch_settings(root, **watch),
            queue,
            model="openai/echo",
            api_base=fake_llm.base_url,
            on_event=events.append,
            limiter=limiter,
        )
        services.append(service)
        return service

    yield {"root": root, "queue": queue, "make": make, "events": events, "fake": fake_llm}
    for service in services:
        await service.stop()
    await store.close()


async def _timeout_suggestion(env: dict[str, Any], diff_line: int) -> Any:
    """Save WITH_CHANGE under a running watcher whose model answers with the timeout diff (its
    hunk said to start at ``diff_line``); the one suggestion that comes of it."""
    fake = env["fake"]
    fake.reply = diff_for(
        "app.py", "    return get(url)", "    return get(url, timeout=5)", diff_line
    )
    service = env["make"]()
    await service.start()
    (env["root"] / "app.py").write_text(WITH_CHANGE)
    (item,) = await until(env["queue"].list, what="a suggestion")
    return item


async def test_ai_change_comment_becomes_a_patch_that_applies_and_removes_the_comment(env) -> None:
    root, queue, fake = env["root"], env["queue"], env["fake"]
    # the model's diff has wrong line numbers and keeps the AI comment: aiw fixes both
    item = await _timeout_suggestion(env, 9)
    assert item.kind == "watch"
    assert [a.id for a in item.actions] == ["apply", "view", "dismiss"]
    assert item.title == "app.py:5: add a timeout"
    assert set(item.payload) >= {"patch", "root", "expect"}
    assert item.payload["root"] == str(root.resolve())
    # the request named the comment and carried the file
    sent = fake.chat_requests[0]["json"]["messages"][-1]["content"]
    assert "add a timeout" in sent and "def fetch(url):" in sent

    await apply_suggestion(queue, item.id)
    assert (root / "app.py").read_text() == FIXED
    assert (await queue.get(item.id)).status == "applied"
    # the applied file has no marker left, so the save it causes asks nothing
    await asyncio.sleep(0.4)
    assert len(fake.chat_requests) == 1


async def test_ai_question_comment_becomes_an_answer(env) -> None:
    root, queue, fake = env["root"], env["queue"], env["fake"]
    fake.reply = "Because `get` already retries; a second loop would double the wait."
    service = env["make"]()
    await service.start()
    (root / "app.py").write_text(APP.replace("get(url)", "get(url)  # why no retry loop? AI?"))

    (item,) = await until(queue.list, what="an answer")
    assert item.title == "app.py:5: why no retry loop?"
    assert item.body == fake.reply
    assert "patch" not in item.payload
    assert [a.id for a in item.actions] == ["view", "open", "dismiss"]
    assert item.payload["path"] == str(root.resolve() / "app.py") and item.payload["line"] == 5


async def test_a_burst_of_twenty_saves_makes_one_request(env) -> None:
    root, queue, fake = env["root"], env["queue"], env["fake"]
    fake.reply = "An answer."
    service = env["make"](debounce_ms=150)
    await service.start()
    for n in range(20):
        (root / "app.py").write_text(APP + f"# what does fetch return? AI?\nN = {n}\n")
        await asyncio.sleep(0.005)
    await until(queue.list, what="the answer")
    await asyncio.sleep(0.5)  # any straggler request would have been made by now
    assert len(fake.chat_requests) == 1
    assert "N = 19" in fake.chat_requests[0]["json"]["messages"][-1]["content"]
    # saving the same content again makes no request either
    (root / "app.py").write_text(APP + "# what does fetch return? AI?\nN = 19\n")
    await asyncio.sleep(0.4)
    assert len(fake.chat_requests) == 1


async def test_a_file_edited_since_the_suggestion_is_refused_and_left_alone(env) -> None:
    root, queue = env["root"], env["queue"]
    item = await _timeout_suggestion(env, 6)

    edited = WITH_CHANGE + "\n# my own newer line\n"
    (root / "app.py").write_text(edited)
    with pytest.raises(PatchError, match=r"app\.py changed since the suggestion was made"):
        await apply_suggestion(queue, item.id)
    assert (root / "app.py").read_text() == edited
    assert (await queue.get(item.id)).status in ("new", "seen")
    # the same refusal straight through core.patches
    with pytest.raises(PatchError):
        apply_patch(root, item.payload["patch"], expect=item.payload["expect"])


async def test_a_dismissed_suggestion_does_not_come_back_for_the_same_content(env) -> None:
    root, queue, fake = env["root"], env["queue"], env["fake"]
    fake.reply = "It returns the response body."
    (root / "app.py").write_text(APP + "# what does fetch return? AI?\n")
    service = env["make"]()
    assert await service.process_pending_now() == 1
    (item,) = await queue.list()
    await queue.dismiss(item.id)

    assert await service.process_pending_now() == 0  # same content: nothing asked
    await service.start()
    (root / "app.py").write_text(APP + "# what does fetch return? AI?\n")  # saved unchanged
    await asyncio.sleep(0.4)
    assert len(fake.chat_requests) == 1
    assert await queue.list() == []
    assert any(e.kind == "skipped" for e in env["events"])

    # new content is a new question
    (root / "app.py").write_text(APP + "# what does fetch return? AI?\nX = 2\n")
    await until(queue.list, what="a fresh answer")
    assert len(fake.chat_requests) == 2


async def test_the_rate_limit_queues_the_rest_as_waiting(env) -> None:
    root, queue, fake = env["root"], env["queue"], env["fake"]
    fake.reply = "Answer."
    now = [1000.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    service = env["make"](max_calls_per_minute=2, limiter=limiter)
    await service.start()
    for n in range(4):
        (root / f"m{n}.py").write_text(f"# what is m{n}? AI?\nV = {n}\n")

    await until(lambda: len(fake.chat_requests) == 2 and len(service.waiting()) == 2, what="2+2")
    items = await until(lambda: _count(queue, 2), what="two answers")
    assert len(items) == 2
    assert {job.state for job in service.waiting()} == {"waiting"}
    waiting = [e for e in env["events"] if e.kind == "waiting"]
    assert waiting and "2 waiting" in waiting[-1].message
    await asyncio.sleep(0.3)
    assert len(fake.chat_requests) == 2  # still held back

    now[0] += 61  # a minute later the rest go out
    await until(lambda: _count(queue, 4), what="all four answers")
    assert len(fake.chat_requests) == 4 and service.waiting() == []


async def _count(queue: SuggestionQueue, n: int) -> list[Any] | None:
    items = await queue.list()
    return items if len(items) == n else None


async def test_ignored_files_and_aiws_own_files_never_trigger(env) -> None:
    root, queue, fake = env["root"], env["queue"], env["fake"]
    fake.reply = "Answer."
    (root / ".gitignore").write_text("build/\n*.gen.py\n")
    service = env["make"](ignore=["scratch/"])
    await service.start()
    for name in ("build/out.py", "x.gen.py", "scratch/a.py", "node_modules/m.js", "cache.db"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# what is this? AI?\n")
    (root / "kept.py").write_text("# and this one? AI?\n")
    (item,) = await until(queue.list, what="the one answer")
    assert item.title.startswith("kept.py:1")
    await asyncio.sleep(0.3)
    assert len(fake.chat_requests) == 1


async def test_process_pending_now_finds_comments_a_watcher_missed(env) -> None:
    root, queue, fake = env["root"], env["queue"], env["fake"]
    fake.reply = diff_for("util.py", "X = 1", "X: int = 1")
    (root / "util.py").write_text("X = 1  # annotate AI!\n")  # written while nothing watched
    service = env["make"]()
    assert await service.process_pending_now() == 1
    (item,) = await queue.list()
    await apply_suggestion(queue, item.id)
    assert (root / "util.py").read_text() == "X: int = 1\n"


async def test_a_diff_that_does_not_match_is_reported_not_applied(env) -> None:
    root, queue, fake = env["root"], env["queue"], env["fake"]
    fake.reply = diff_for("app.py", "    return nothing_like_this()", "    pass")
    (root / "app.py").write_text(WITH_CHANGE)
    service = env["make"]()
    await service.process_pending_now()
    (item,) = await queue.list()
    assert item.title.startswith("No patch for app.py:5")
    assert "patch" not in item.payload
    assert (root / "app.py").read_text() == WITH_CHANGE


async def test_secrets_are_redacted_in_the_request_but_kept_in_the_file(env) -> None:
    root, queue, fake = env["root"], env["queue"], env["fake"]
    source = (
        'API_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"\nN = 1  # make it 2 AI!\n'
    )
    (root / "conf.py").write_text(source)
    fake.reply = (
        "```diff\n--- a/conf.py\n+++ b/conf.py\n@@ -1,2 +1,2 @@\n"
        ' API_KEY = "[REDACTED:openai-api-key]"\n-N = 1  # make it 2 AI!\n+N = 2\n```\n'
    )
    service = env["make"]()
    await service.process_pending_now()
    sent = fake.chat_requests[0]["json"]["messages"][-1]["content"]
    assert "sk-proj-abcdefghijklmnopqrstuvwxyz" not in sent
    (item,) = await queue.list()
    assert "sk-proj" not in item.body
    await apply_suggestion(queue, item.id)
    assert (root / "conf.py").read_text() == source.replace("N = 1  # make it 2 AI!", "N = 2")


async def test_review_on_save_queues_findings_for_the_changed_lines(tmp_path: Path, fake_llm: Any):
    import json

    root = make_project(
        tmp_path / "repo", {"calc.py": "def total(items):\n    return sum(items)\n"}
    )
    commit_all(root)
    finding = {
        "file": "calc.py",
        "line_start": 2,
        "line_end": 2,
        "severity": "error",
        "category": "bug",
        "title": "Off-by-one: the slice drops the last item",
        "explanation": "items[:-1] leaves out the last element, so the total is too small.",
        "confidence": 0.95,
        "existing_code": "    return sum(items[:-1])",
        "improved_code": "    return sum(items)",
    }
    fake_llm.reply = json.dumps({"findings": [finding]})
    store = await Store.open(tmp_path / "aiw.db")
    queue = SuggestionQueue(store)
    events: list[Any] = []
    service = WatchService(
        root,
        watch_settings(root, review_on_save=True),
        queue,
        model="openai/echo",
        api_base=fake_llm.base_url,
        on_event=events.append,
    )
    try:
        await service.start()
        (root / "calc.py").write_text("def total(items):\n    return sum(items[:-1])\n")
        (item,) = await until(lambda: queue.list(kind="review"), what="a review finding")
        assert "Off-by-one" in item.title
        assert any(e.kind == "suggested" and e.suggestion.id == item.id for e in events)
        await apply_suggestion(queue, item.id)
        assert (root / "calc.py").read_text() == "def total(items):\n    return sum(items)\n"
    finally:
        await service.stop()
        await store.close()


async def test_the_knowledge_index_adds_context_and_follows_saves(env, monkeypatch) -> None:
    from ai_workbench.knowledge.service import KnowledgeService
    from ai_workbench.watch import service as watch_service

    monkeypatch.setattr(watch_service, "REINDEX_QUIET_S", 0.05)
    root, queue, fake = env["root"], env["queue"], env["fake"]
    (root / "helpers.py").write_text("def retry_with_backoff(call):\n    return call()\n")
    settings = watch_settings(root)
    index = KnowledgeService(settings.knowledge, root)
    index.index(embed=False)
    index.close()

    fake.reply = "Use it like `retry_with_backoff(lambda: get(url))`."
    service = env["make"]()
    await service.start()
    (root / "app.py").write_text(APP + "# how do I use retry_with_backoff here? AI?\n")
    await until(queue.list, what="the answer")
    sent = fake.chat_requests[0]["json"]["messages"][-1]["content"]
    assert "`helpers.py` (found by the knowledge index)" in sent
    assert "def retry_with_backoff(call):" in sent

    # a saved file reaches the index without `aiw index`
    (root / "billing.py").write_text("def invoice_total_with_vat(lines):\n    return 0\n")

    def found() -> list[str]:
        index = KnowledgeService(settings.knowledge, root)
        try:
            hits = index.search_sync("invoice_total_with_vat", 3, mode="lexical").hits
        finally:
            index.close()
        return [hit.rel for hit in hits][:1] == ["billing.py"]

    await until(found, what="the index update")
    # the count goes up once the update's thread has returned (just after the index is written)
    await until(lambda: service.reindexed >= 1, what="the update counted")


async def test_a_change_patch_may_touch_another_file_only_when_the_request_names_it(env) -> None:
    """Issue 13: an AI! comment in app.py got a patch that also rewrote util.py, unasked."""
    root, queue, fake = env["root"], env["queue"], env["fake"]
    other = diff_for("util.py", "X = 1", "X = 2").replace("```diff\n", "").replace("```\n", "")
    fake.reply = diff_for("app.py", "    return get(url)", "    return get(url, timeout=5)")
    fake.reply = fake.reply.replace("```\n", other + "```\n")
    (root / "app.py").write_text(WITH_CHANGE)
    service = env["make"]()
    await service.process_pending_now()
    (item,) = await queue.list()
    assert item.title.startswith("No patch for app.py:5")
    assert "util.py, which the request does not name" in item.body
    assert "patch" not in item.payload
    assert (root / "util.py").read_text() == "X = 1\n"

    await queue.set_status(item.id, "dismissed")
    (root / "app.py").write_text(WITH_CHANGE.replace("add a timeout", "add a timeout, util.py too"))
    await service.process_pending_now()
    (item,) = await queue.list()
    assert set(item.payload["expect"]) == {"app.py", "util.py"}
    await apply_suggestion(queue, item.id)
    assert (root / "util.py").read_text() == "X = 2\n"


# --------------------------------------------------------------------------- honest patches

UNPREFIXED = (
    "```diff\n--- a/app.py\n+++ b/app.py\n@@ -4,2 +4,2 @@\n"
    "def fetch(url):\n    return get(url, timeout=5)\n```\n"
)


@pytest.mark.parametrize(
    ("why", "reply", "model"),
    [
        # body lines without '+'/'-'/' ': was an empty hunk, offered as "Patch (+0 −1)"
        ("no added or removed line", UNPREFIXED, "openai/echo"),
        # a diff that only drops the request comment makes none of the change
        (
            "none of the requested change",
            diff_for(
                "app.py", "    # add a timeout AI!\n    return get(url)", "    return get(url)"
            ),
            "openai/echo",
        ),
        # the answer's end is missing: its diff is not the change either
        (
            "token limit",
            diff_for("app.py", "    return get(url)", "    return get(url, timeout=5)"),
            "openai/length",
        ),
    ],
    ids=["unprefixed", "only-the-comment", "truncated"],
)
async def test_a_patch_that_makes_none_of_the_change_is_refused(
    env, why: str, reply: str, model: str
) -> None:
    root, queue, fake = env["root"], env["queue"], env["fake"]
    fake.reply = reply
    (root / "app.py").write_text(WITH_CHANGE)
    service = env["make"]()
    service.model = model
    await service.process_pending_now()

    (item,) = await queue.list()
    assert item.title.startswith("No patch for app.py:5"), item.title
    assert why in item.body
    assert "patch" not in item.payload and "apply" not in [a.id for a in item.actions]
    assert [job.outcome for job in service.processed] == ["no_patch"]
    assert (root / "app.py").read_text() == WITH_CHANGE


async def test_a_truncated_answer_to_a_question_says_so(env) -> None:
    root, queue, fake = env["root"], env["queue"], env["fake"]
    fake.reply = "Because get already"
    (root / "app.py").write_text(APP.replace("get(url)", "get(url)  # why no retry? AI?"))
    service = env["make"]()
    service.model = "openai/length"
    await service.process_pending_now()
    (item,) = await queue.list()
    assert item.body.startswith("Because get already")
    assert "Truncated" in item.body and "token limit" in item.body
