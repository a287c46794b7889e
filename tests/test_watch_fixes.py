"""Watch audit fixes: secrets in AI! requests, waiting requests survive a restart, review-on-save
within the call limit, no watching outside a project, suggestions bound to their project.
Real files and git repos, the real store, the loopback model, real `aiw` subprocesses.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from ai_workbench.store import Store
from ai_workbench.suggestions.service import SuggestionAction, SuggestionQueue
from ai_workbench.watch import WatchService
from ai_workbench.watch.limiter import RateLimiter
from tests.test_watch_helpers import commit_all, diff_for, make_project, until, watch_settings

SECRET = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"


def _service(root: Path, queue: SuggestionQueue, fake: Any, **watch: Any) -> WatchService:
    limiter = watch.pop("limiter", None)
    events = watch.pop("events", None)
    return WatchService(
        root,
        watch_settings(root, **watch),
        queue,
        model="openai/echo",
        api_base=fake.base_url,
        limiter=limiter,
        on_event=events.append if events is not None else None,
    )


async def test_a_secret_in_an_ai_change_request_is_never_sent(tmp_path: Path, fake_llm) -> None:
    root = make_project(tmp_path / "proj", {"conf.py": "TOKEN = None\n"})
    (root / "conf.py").write_text(f"TOKEN = None  # set it to {SECRET} AI!\n")
    fake_llm.reply = "No diff."
    async with await Store.open(tmp_path / "aiw.db") as store:
        service = _service(root, SuggestionQueue(store), fake_llm)
        assert await service.process_pending_now() == 1
    assert fake_llm.chat_requests
    for request in fake_llm.chat_requests:
        assert SECRET not in json.dumps(request["json"])
    assert "[REDACTED:" in fake_llm.chat_requests[0]["json"]["messages"][-1]["content"]


async def test_requests_held_back_by_the_rate_limit_survive_a_restart(
    tmp_path: Path, fake_llm
) -> None:
    root = make_project(tmp_path / "proj")
    fake_llm.reply = "An answer."
    frozen = [1000.0]
    async with await Store.open(tmp_path / "aiw.db") as store:
        queue = SuggestionQueue(store)
        first = _service(root, queue, fake_llm, limiter=RateLimiter(1, clock=lambda: frozen[0]))
        await first.start()
        for name in ("a", "b", "c"):
            (root / f"{name}.py").write_text(f"# what is {name}? AI?\n")
        await until(lambda: len(first.waiting()) == 2, what="two requests waiting")
        (answered,) = await until(queue.list, what="the first answer")
        await first.stop()  # the two waiting requests were never asked
        assert len(fake_llm.chat_requests) == 1
        await queue.dismiss(answered.id)

        second = _service(root, queue, fake_llm)
        await second.start()
        try:
            items = await until(
                lambda: _open_count(queue, 2), what="the waiting requests answered after restart"
            )
        finally:
            await second.stop()
        asked = {item.title.split(":")[0] for item in items}
        assert asked | {answered.title.split(":")[0]} == {"a.py", "b.py", "c.py"}
        # the answered (then dismissed) request was not asked again
        assert len(fake_llm.chat_requests) == 3


async def _open_count(queue: SuggestionQueue, n: int) -> list[Any] | None:
    items = await queue.list()
    return items if len(items) == n else None


async def test_review_on_save_takes_a_rate_limit_slot_per_model_call(
    tmp_path: Path, fake_llm
) -> None:
    root = make_project(tmp_path / "repo", {"calc.py": "def total(items):\n    return 0\n"})
    commit_all(root)
    fake_llm.reply = "Looks fine to me."  # not JSON: the review asks once more (2 calls)
    clock = [1000.0]
    limiter = RateLimiter(1, clock=lambda: clock[0])
    events: list[Any] = []
    async with await Store.open(tmp_path / "aiw.db") as store:
        service = _service(
            root,
            SuggestionQueue(store),
            fake_llm,
            review_on_save=True,
            max_calls_per_minute=1,
            limiter=limiter,
            events=events,
        )
        await service.start()
        try:
            (root / "calc.py").write_text("def total(items):\n    return sum(items)\n")
            await until(lambda: len(fake_llm.chat_requests) == 1, what="the first review call")
            await asyncio.sleep(0.6)
            assert len(fake_llm.chat_requests) == 1  # the retry waits for the next minute
            assert limiter.used == 1
            assert any(e.kind == "waiting" and "calc.py" in e.message for e in events)
            clock[0] += 61
            await until(lambda: len(fake_llm.chat_requests) == 2, what="the retry a minute later")
            assert limiter.used == 1
        finally:
            await service.stop()


# --------------------------------------------------------------------------- the CLI


def test_headless_watch_refuses_a_folder_that_is_not_a_project(
    isolated_env: Any, run_aiw: Any
) -> None:
    plain = isolated_env.work / "plain"
    plain.mkdir()
    (plain / "notes.py").write_text("# what is this? AI?\n")
    for args in (("watch", "--now"), ("watch",)):
        refused = run_aiw(*args, cwd=plain, timeout=30)
        assert refused.returncode == 2, refused.stderr
        (line,) = refused.stderr.strip().splitlines()
        assert "is not a project" in line and "cd into a project" in line
        assert ".aiw.toml" in line
    (plain / ".aiw.toml").write_text("")
    sub = plain / "sub"
    sub.mkdir()
    ok = run_aiw("watch", "--now", cwd=sub, timeout=30)
    # watched (the request was made); no model answers here, and a failed request is not
    # success: the provider's exit code (9, cannot connect), no longer 0
    assert "is not a project" not in ok.stderr
    assert ok.returncode == 9, ok.stderr
    assert f"in {plain}" in ok.stderr.replace(str(plain.resolve()), str(plain))


def test_apply_refuses_another_projects_suggestion(
    tmp_path: Path, fake_llm: Any, run_aiw: Any
) -> None:
    source = "def greet(name):\n    return 'hi ' + name\n"
    repo_a = make_project(tmp_path / "a", {"greet.py": source + "# use an f-string AI!\n"})
    repo_b = make_project(tmp_path / "b", {"greet.py": source})
    fake_llm.reply = diff_for("greet.py", "    return 'hi ' + name", "    return f'hi {name}'")
    model = ["-m", "openai/echo", "--api-base", fake_llm.base_url]
    assert run_aiw("watch", "--now", *model, cwd=repo_a).returncode == 0

    listed = run_aiw("suggestions", "list", cwd=repo_b)
    assert listed.stdout.split("\t")[4] == str(repo_a.resolve())
    shown = run_aiw("suggestions", "show", "1", cwd=repo_b)
    assert str(repo_a.resolve()) in shown.stdout
    as_json = json.loads(run_aiw("suggestions", "list", "--json", cwd=repo_b).stdout)
    assert as_json[0]["project"] == str(repo_a.resolve())

    refused = run_aiw("suggestions", "apply", "1", cwd=repo_b)
    assert refused.returncode == 3
    assert str(repo_a.resolve()) in refused.stderr and "--any-project" in refused.stderr
    assert (repo_a / "greet.py").read_text().endswith("AI!\n")
    assert (repo_b / "greet.py").read_text() == source

    forced = run_aiw("suggestions", "apply", "1", "--any-project", cwd=repo_b)
    assert forced.returncode == 0, forced.stderr
    assert (repo_a / "greet.py").read_text() == "def greet(name):\n    return f'hi {name}'\n"
    assert (repo_b / "greet.py").read_text() == source


async def test_apply_from_inside_the_project_needs_no_flag(tmp_path: Path) -> None:
    from ai_workbench.watch.apply import apply_suggestion

    root = make_project(tmp_path / "proj", {"x.py": "X = 1\n"})
    (root / "pkg").mkdir()
    patch = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-X = 1\n+X = 2\n"
    async with await Store.open(tmp_path / "aiw.db") as store:
        queue = SuggestionQueue(store)
        item = await queue.add(
            "watch",
            "x",
            "",
            actions=[SuggestionAction("apply", "Apply")],
            payload={"patch": patch, "root": str(root)},
        )
        assert item is not None
        await apply_suggestion(queue, item.id, here=root / "pkg")
    assert (root / "x.py").read_text() == "X = 2\n"
