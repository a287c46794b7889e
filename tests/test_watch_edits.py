"""AI! requests answered with SEARCH/REPLACE blocks: aiw builds the exact patch (issue 14 §4)."""

from __future__ import annotations

from typing import Any

from ai_workbench.watch.apply import apply_suggestion
from tests import test_watch_service as watch_tests
from tests.test_watch_service import FIXED, WITH_CHANGE

env = watch_tests.env  # the watch service fixture (a real project dir, the loopback model)

BLOCK = (
    "app.py\n"
    "```python\n"
    "<<<<<<< SEARCH\n"
    "{search}"
    "=======\n"
    "{replace}"
    ">>>>>>> REPLACE\n"
    "```\n"
    "Added a timeout.\n"
)


async def _suggest(env: Any, reply: str, text: str = WITH_CHANGE) -> list[Any]:
    env["fake"].reply = reply
    (env["root"] / "app.py").write_text(text)
    service = env["make"]()
    await service.process_pending_now()
    return await env["queue"].list()


async def test_search_replace_block_becomes_an_exact_patch(env: Any) -> None:
    reply = BLOCK.format(
        search="def fetch(url):\n    # add a timeout AI!\n    return get(url)\n",
        replace="def fetch(url):\n    return get(url, timeout=5)\n",
    )
    (item,) = await _suggest(env, reply)
    assert item.kind == "watch" and "apply" in [a.id for a in item.actions]
    assert "<<<<<<<" not in item.body and "Added a timeout." in item.body
    sent = env["fake"].chat_requests[0]["json"]["messages"]
    assert "<<<<<<< SEARCH" in sent[0]["content"]
    await apply_suggestion(env["queue"], item.id)
    assert (env["root"] / "app.py").read_text() == FIXED


async def test_search_without_the_ai_comment_and_with_lost_indent_still_applies(env: Any) -> None:
    reply = BLOCK.format(
        search="def fetch(url):\nreturn get(url)\n",
        replace="def fetch(url):\nreturn get(url, timeout=5)\n",
    )
    (item,) = await _suggest(env, reply)
    await apply_suggestion(env["queue"], item.id)
    assert (env["root"] / "app.py").read_text() == FIXED


async def test_a_search_that_matches_nothing_is_reported_not_offered(env: Any) -> None:
    reply = BLOCK.format(search="    return post(url)\n", replace="    return post(url, 5)\n")
    (item,) = await _suggest(env, reply)
    assert "apply" not in [a.id for a in item.actions]
    assert item.title.startswith("No patch for app.py:5")
    assert "SEARCH text was not found" in item.body
    assert (env["root"] / "app.py").read_text() == WITH_CHANGE


async def test_blocks_that_change_nothing_but_the_request_are_refused(env: Any) -> None:
    reply = BLOCK.format(search="    return get(url)\n", replace="    return get(url)\n")
    (item,) = await _suggest(env, reply)
    assert "apply" not in [a.id for a in item.actions]
    assert "change nothing" in item.body


async def test_a_redacted_secret_is_kept_in_the_file(env: Any) -> None:
    source = (
        'API_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"\nN = 1  # make it 2 AI!\n'
    )
    (env["root"] / "conf.py").write_text(source)
    env["fake"].reply = (
        "conf.py\n<<<<<<< SEARCH\n"
        'API_KEY = "[REDACTED:openai-api-key]"\nN = 1  # make it 2 AI!\n'
        '=======\nAPI_KEY = "[REDACTED:openai-api-key]"\nN = 2\n>>>>>>> REPLACE\n'
    )
    service = env["make"]()
    await service.process_pending_now()
    (item,) = await env["queue"].list()
    assert "sk-proj" not in item.body
    await apply_suggestion(env["queue"], item.id)
    assert (env["root"] / "conf.py").read_text() == source.replace(
        "N = 1  # make it 2 AI!", "N = 2"
    )


async def test_a_copied_placeholder_path_means_the_asked_file(env: Any) -> None:
    # Qwen2.5-Coder-1.5B wrote `path/to/shapes.py` from the prompt's example
    reply = BLOCK.format(
        search="    return get(url)\n", replace="    return get(url, timeout=5)\n"
    ).replace("app.py\n", "path/to/app.py\n", 1)
    (item,) = await _suggest(env, reply)
    await apply_suggestion(env["queue"], item.id)
    assert (env["root"] / "app.py").read_text() == FIXED
    assert not (env["root"] / "path").exists()
