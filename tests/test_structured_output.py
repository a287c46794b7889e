"""Structured output through both engines, the refusal ladder, the first-token timeout, speed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ai_workbench.core.errors import ProviderError
from ai_workbench.core.llm import speed, structured
from ai_workbench.core.llm.engines import StreamResult, stream_chat
from ai_workbench.core.llm.profiles import ResolvedProvider
from ai_workbench.core.llm.structured import OutputSchema
from tests.fake_llm import FakeLLM

SCHEMA = OutputSchema(
    "answer",
    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
)
MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture(autouse=True)
def _fresh_memory() -> Iterator[None]:
    structured.reset_memory()
    yield
    structured.reset_memory()


def _provider(fake: FakeLLM, model: str = "echo", **kw: object) -> ResolvedProvider:
    return ResolvedProvider(
        name="t",
        model=f"openai/{model}",
        api_base=fake.base_url,
        api_key_env=None,
        is_local=True,
        context_window=8192,
        **kw,  # type: ignore[arg-type]
    )


async def _run(provider: ResolvedProvider, **kw: object) -> StreamResult:
    result = StreamResult()
    async for _ in stream_chat(provider, MESSAGES, result, max_retries=0, **kw):  # type: ignore[arg-type]
        pass
    return result


def _formats(fake: FakeLLM) -> list[object]:
    return [r["json"].get("response_format") for r in fake.chat_requests]


async def test_direct_engine_sends_the_json_schema(isolated_env, fake_llm: FakeLLM) -> None:
    result = await _run(_provider(fake_llm), schema=SCHEMA)
    assert result.text == "You said: hello"
    assert result.structured == "json_schema"
    assert _formats(fake_llm) == [
        {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA.schema}}
    ]


async def test_no_schema_no_field(isolated_env, fake_llm: FakeLLM) -> None:
    await _run(_provider(fake_llm))
    assert _formats(fake_llm) == [None]


async def test_refused_with_400_is_retried_without_and_remembered(
    isolated_env, fake_llm: FakeLLM
) -> None:
    provider = _provider(fake_llm, "no-schema")
    heard: list[str] = []
    result = await _run(provider, schema=SCHEMA, notice=heard.append)
    assert result.text == "You said: hello"
    assert result.structured is None
    kinds = [f["type"] if isinstance(f, dict) else f for f in _formats(fake_llm)]
    assert kinds == ["json_schema", None]
    assert heard and "refused response_format json_schema" in heard[0]
    # the next request to that endpoint goes straight to the form that worked
    fake_llm.requests.clear()
    await _run(provider, schema=SCHEMA)
    assert _formats(fake_llm) == [None]


async def test_llama_cpp_style_500_steps_down_to_no_format(isolated_env, fake_llm: FakeLLM) -> None:
    """auto does not use llama-cpp-python's json_object + schema grammar (it emptied a small
    model's review findings, bench/quality); the answer goes to tolerant parsing instead."""
    provider = _provider(fake_llm, "json-object-only")
    result = await _run(provider, schema=SCHEMA)
    assert result.structured is None
    assert _formats(fake_llm) == [
        {"type": "json_schema", "json_schema": {"name": SCHEMA.name, "schema": SCHEMA.schema}},
        None,
    ]
    assert len(fake_llm.chat_requests) == 2  # no backoff retries of the 500
    fake_llm.requests.clear()
    await _run(provider, schema=SCHEMA)
    assert _formats(fake_llm) == [None]


async def test_profile_setting_off_and_json_object(isolated_env, fake_llm: FakeLLM) -> None:
    await _run(_provider(fake_llm, structured_output="off"), schema=SCHEMA)
    await _run(_provider(fake_llm, structured_output="json_object"), schema=SCHEMA)
    assert _formats(fake_llm) == [None, {"type": "json_object", "schema": SCHEMA.schema}]


async def test_a_400_that_is_not_about_the_format_is_not_remembered(
    isolated_env, fake_llm: FakeLLM
) -> None:
    provider = _provider(fake_llm, "fail-404")  # not a refusal: raised as is
    with pytest.raises(ProviderError) as info:
        await _run(provider, schema=SCHEMA)
    assert info.value.kind == "model"
    assert structured.refusals(provider) == 0


async def test_litellm_engine_passes_response_format(isolated_env, fake_llm: FakeLLM) -> None:
    result = await _run(_provider(fake_llm), schema=SCHEMA, engine="litellm", timeout=30)
    assert result.engine == "litellm"
    sent = _formats(fake_llm)[-1]
    assert isinstance(sent, dict) and sent["type"] == "json_schema"
    assert sent["json_schema"]["schema"] == SCHEMA.schema


async def test_litellm_engine_steps_down_too(isolated_env, fake_llm: FakeLLM) -> None:
    provider = _provider(fake_llm, "json-object-only")
    result = await _run(provider, schema=SCHEMA, engine="litellm", timeout=30)
    assert result.structured is None
    assert result.text == "You said: hello"


async def test_first_token_gets_its_own_timeout(isolated_env, fake_llm: FakeLLM) -> None:
    fake_llm.first_token_delay = 1.0
    provider = _provider(fake_llm)
    result = await _run(provider, timeout=0.3, first_token_timeout=5)
    assert result.text == "You said: hello"
    with pytest.raises(ProviderError) as info:
        await _run(provider, timeout=0.3)
    assert info.value.kind == "timeout"
    assert "first_token_timeout" in str(info.value)


async def test_gaps_between_chunks_keep_request_timeout(isolated_env, fake_llm: FakeLLM) -> None:
    fake_llm.chunk_delay = 1.0
    fake_llm.reply = "one two three four five six seven"
    with pytest.raises(ProviderError) as info:
        await _run(_provider(fake_llm), timeout=0.3, first_token_timeout=5)
    assert info.value.kind == "timeout"
    assert "between chunks" in str(info.value)


async def test_litellm_first_token_timeout(isolated_env, fake_llm: FakeLLM) -> None:
    fake_llm.first_token_delay = 1.0
    provider = _provider(fake_llm)
    result = await _run(provider, engine="litellm", timeout=0.4, first_token_timeout=10)
    assert result.text == "You said: hello"


def test_first_token_timeout_defaults(isolated_env, fake_llm: FakeLLM) -> None:
    local = _provider(fake_llm)
    cloud = ResolvedProvider("c", "openai/gpt-4o", None, "OPENAI_API_KEY", False, 128_000)
    assert speed.first_token_timeout(local, None, 60) == 180
    assert speed.first_token_timeout(cloud, None, 60) == 60
    assert speed.first_token_timeout(local, 90, 60) == 90
    own = _provider(fake_llm, first_token_timeout=300.0)
    assert speed.first_token_timeout(own, 90, 60) == 300


async def test_prompt_speed_is_measured_and_sizes_the_budget(
    isolated_env, fake_llm: FakeLLM
) -> None:
    provider = _provider(fake_llm)
    unknown = speed.prompt_budget_tokens(provider)
    assert unknown == 8192 // 4
    fake_llm.first_token_delay = 0.5
    long_prompt = [{"role": "user", "content": "word " * 1000}]  # ~1,250 tokens by estimate
    result = StreamResult()
    async for _ in stream_chat(provider, long_prompt, result, max_retries=0):
        pass
    rate = speed.measured_rate(provider)
    assert rate is not None and 500 < rate < 2600  # ~1,250 tokens in ~0.5 s
    stored = json.loads((speed.paths.data_dir() / speed.FILE_NAME).read_text())
    assert list(stored) == [f"{provider.endpoint}|echo"]
    slow = _provider(fake_llm, prompt_tokens_per_second=50.0)
    assert speed.prompt_budget_tokens(slow) == 1000  # 50 tokens/s for 20 s
    assert speed.prompt_budget_tokens(slow, first_wait=30) == 750


async def test_short_prompts_are_not_measured(isolated_env, fake_llm: FakeLLM) -> None:
    await _run(_provider(fake_llm))
    assert speed.measured_rate(_provider(fake_llm)) is None
