"""Honest review results: an unreadable, cut or interrupted reply is never "No findings".

Real git repos in tmp dirs, the real store, the loopback fake LLM (its ``malformed-review``,
``length`` and ``interrupt`` models, ``interrupt_when_busy`` and ``slots``), the CLI as a
subprocess where the user-visible exit code matters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ai_workbench.review.parse import MalformedReply, parse_reply, read_reply
from tests.conftest import RunAiw
from tests.fake_llm import MALFORMED_REVIEW, FakeLLM
from tests.test_review_core import (
    BUG,
    CHANGED_CALC,
    findings_reply,
    make_repo,
    per_file,
    run_review,
)

ISSUE_REPLY = (
    '{"findings": [{"file": "a.py", "line_start": 3, "improved_code": '
    '"def f(x=None):\n    """doc"""\n    y = []"}]}'
)


@pytest.fixture
def repo(isolated_env: Any) -> Path:
    root = make_repo(isolated_env.work / "repo")
    (root / "calc.py").write_text(CHANGED_CALC)
    return root


def review_cli(run_aiw: RunAiw, fake: FakeLLM, root: Path, model: str, *args: str) -> Any:
    return run_aiw(
        "review", "--model", f"openai/{model}", "--api-base", fake.base_url, *args, cwd=root
    )


# --------------------------------------------------------------------------- parsing


def test_a_bracket_inside_a_broken_reply_is_not_no_findings() -> None:
    with pytest.raises(MalformedReply):
        parse_reply(ISSUE_REPLY)  # was ([], 0): "No findings"
    with pytest.raises(MalformedReply):
        parse_reply("Looks fine to me, e.g. `y = []` is ok.")
    # real empty answers still are
    assert parse_reply('{"findings": []}') == ([], 0)
    assert parse_reply("```json\n[]\n```") == ([], 0)
    assert parse_reply('Here is my review: {"findings": []} Done.') == ([], 0)


def test_json_repair_reads_what_small_models_break() -> None:
    reply = read_reply(
        '```json\n{"findings": [{"file": "calc.py", "line": 3, "title": "use "is" here",'
        ' // a comment\n "severity": "error"}]}\n```'
    )
    assert reply.repaired
    assert reply.items == [
        {"file": "calc.py", "line": 3, "title": 'use "is" here', "severity": "error"}
    ]
    assert not read_reply(findings_reply(BUG)).repaired


# --------------------------------------------------------------------------- the CLI


def test_malformed_reply_fails_the_gate_with_exit_2(repo, fake_llm, run_aiw) -> None:
    done = review_cli(run_aiw, fake_llm, repo, "malformed-review", "--fail-on", "error")

    assert done.returncode == 2, (done.stdout, done.stderr)  # was 0, "No findings"
    assert "No findings" not in done.stdout
    assert "Review failed" in done.stdout
    assert "calc.py" in done.stderr and "malformed" in done.stderr
    assert len(fake_llm.chat_requests) == 2  # asked once more, then reported

    as_json = review_cli(run_aiw, fake_llm, repo, "malformed-review", "--format", "json")
    assert as_json.returncode == 2
    data = json.loads(as_json.stdout)
    assert data["findings"] == [] and data["errors"] and data["stats"]["failed_units"] == 1


async def test_a_repaired_reply_keeps_its_findings_but_not_their_fixes(repo, fake_llm) -> None:
    broken = findings_reply(BUG).replace('"Off-by-one', '"Off-by-one // sure\n')
    broken = broken.replace("    for i in range(len(items)):", '    for i in "range"(len(items)):')
    assert broken != findings_reply(BUG)
    fake_llm.reply = broken
    result = await run_review(repo, fake_llm)

    assert [f.line_start for f in result.shown] == [3]
    assert result.shown[0].patch is None  # the repaired code string is a guess: no fix
    assert result.stats.repaired == 1 and result.stats.retries == 0
    assert any("json-repair" in n for n in result.notices)
    assert not result.errors


async def test_a_reply_cut_at_the_token_limit_is_reported_not_retried(repo, fake_llm) -> None:
    fake_llm.reply = '{"findings": [{"file": "calc.py", "li'
    loaded_model = "openai/length"
    from ai_workbench.core.settings import load_config
    from ai_workbench.review import ReviewOptions, ReviewService
    from ai_workbench.store import Store

    async with await Store.open() as store:
        service = ReviewService(load_config({}, cwd=repo), store)
        result = await service.review(
            ReviewOptions(model=loaded_model, api_base=fake_llm.base_url, cwd=repo)
        )
    assert len(fake_llm.chat_requests) == 1  # the same limit would cut a retry too
    (error,) = result.errors
    assert "token limit" in error and "not reviewed" in error
    assert result.status == "error"

    fake_llm.reset()
    fake_llm.reply = findings_reply(BUG)[:-3]  # cut inside the closing brackets
    async with await Store.open() as store:
        service = ReviewService(load_config({}, cwd=repo), store)
        result = await service.review(
            ReviewOptions(model=loaded_model, api_base=fake_llm.base_url, cwd=repo)
        )
    assert [f.title for f in result.shown] == [BUG["title"]]  # what could be read is kept
    (error,) = result.errors
    assert "token limit" in error and "may be missing" in error
    assert result.stats.truncated == 1 and result.status == "partial"


async def test_an_interrupted_stream_is_reported_as_interrupted(repo, fake_llm) -> None:
    from ai_workbench.core.settings import load_config
    from ai_workbench.review import ReviewOptions, ReviewService
    from ai_workbench.store import Store

    fake_llm.reply = findings_reply(BUG)
    async with await Store.open() as store:
        service = ReviewService(load_config({"max_retries": 0}, cwd=repo), store)
        with pytest.raises(Exception) as caught:  # every unit failed: a ReviewError
            await service.review(
                ReviewOptions(model="openai/interrupt", api_base=fake_llm.base_url, cwd=repo)
            )
    assert "interrupted" in str(caught.value)
    assert "empty" not in str(caught.value)  # was "the reply was empty" (a model fault)


async def test_a_call_another_client_interrupted_is_made_again(repo, fake_llm) -> None:
    from ai_workbench.core.settings import load_config
    from ai_workbench.review import ReviewOptions, ReviewService
    from ai_workbench.store import Store

    fake_llm.reply = findings_reply(BUG)
    fake_llm.words_per_chunk = 1
    async with await Store.open() as store:
        service = ReviewService(load_config({"max_retries": 0}, cwd=repo), store)
        result = await service.review(
            ReviewOptions(model="openai/flaky-interrupt-1", api_base=fake_llm.base_url, cwd=repo)
        )
    assert [f.title for f in result.shown] == [BUG["title"]]  # half a reply was not the end
    assert result.stats.interrupted == 1 and result.stats.calls == 2
    assert not result.errors


# --------------------------------------------------------------------------- parallel slots


def _many_units(isolated_env: Any, fake: FakeLLM) -> Path:
    files = {f"mod{i}.py": "".join(f"v{j} = {j}\n" for j in range(60)) for i in range(5)}
    root = make_repo(isolated_env.work / "big", files)
    for name in files:
        (root / name).write_text("".join(f"v{j} = {j} + 1\n" for j in range(60)))
    fake.reply_fn = per_file(
        {
            f"mod{i}.py": [
                dict(BUG, file=f"mod{i}.py", line_start=5, line_end=5, existing_code=None)
            ]
            for i in range(5)
        }
    )
    return root


async def test_a_local_server_that_interrupts_gets_one_call_at_a_time(
    isolated_env, fake_llm
) -> None:
    root = _many_units(isolated_env, fake_llm)
    fake_llm.interrupt_when_busy = True  # llama-cpp-python: a waiting request cuts the stream
    fake_llm.words_per_chunk = 1
    fake_llm.chunk_delay = 0.005
    config = {"review": {"max_tokens_per_call": 1000, "max_parallel": 4}, "max_retries": 0}
    result = await run_review(root, fake_llm, config=config)

    assert result.stats.units >= 5
    assert not result.errors, result.errors  # with 4 at once, units were lost
    assert result.stats.parallel == 1 and fake_llm.peak_streams == 1
    assert len({f.path for f in result.shown}) == 5
    assert result.stats.interrupted == 0


async def test_slots_the_server_reports_are_used(isolated_env, fake_llm) -> None:
    root = _many_units(isolated_env, fake_llm)
    fake_llm.slots = 2  # llama.cpp's server: GET /props {"total_slots": 2}
    fake_llm.chunk_delay = 0.01
    config = {"review": {"max_tokens_per_call": 1000, "max_parallel": 4}}
    result = await run_review(root, fake_llm, config=config)

    assert result.stats.parallel == 2
    assert 1 <= fake_llm.peak_streams <= 2
    assert not result.errors


async def test_the_profile_parallel_setting_wins(isolated_env, fake_llm) -> None:
    from ai_workbench.core.llm.discovery import parallel_limit
    from ai_workbench.core.llm.profiles import resolve_chain
    from ai_workbench.core.settings import load_config

    loaded = load_config(
        {
            "providers": {
                "box": {"model": "openai/echo", "api_base": fake_llm.base_url, "parallel": 3}
            }
        },
        cwd=isolated_env.work,
    )
    (provider,) = resolve_chain(loaded.settings, provider="box")
    assert await parallel_limit(provider, 4) == (3, "parallel = 3 in provider 'box'")
    cloud = resolve_chain(loaded.settings, model="anthropic/claude-x")[0]
    assert await parallel_limit(cloud, 4) == (4, "")


def test_malformed_review_reply_constant_is_what_the_issue_quotes() -> None:
    assert "y = []" in MALFORMED_REVIEW
    with pytest.raises(MalformedReply):
        parse_reply(MALFORMED_REVIEW)
