"""core.model_discovery: what local servers serve, asked briefly; cloud and keyed ones never."""

from __future__ import annotations

import time

from ai_workbench.core.llm.discovery import discover_models, endpoints_to_ask
from ai_workbench.core.settings import load_config


def _settings(isolated_env, text: str):
    isolated_env.aiw_config.mkdir(parents=True, exist_ok=True)
    (isolated_env.aiw_config / "config.toml").write_text(text)
    return load_config(cwd=isolated_env.work).settings


async def test_local_servers_are_asked_and_answer(isolated_env, fake_llm) -> None:
    settings = _settings(
        isolated_env,
        f'[providers.mine]\nmodel = "ollama/llama3.2"\napi_base = "{fake_llm.base_url}"\n'
        '[providers.gone]\nmodel = "lm_studio/x"\napi_base = "http://127.0.0.1:9/v1"\n',
    )
    endpoints = endpoints_to_ask(settings)
    assert {e.source for e in endpoints} >= {"mine", "gone"}
    assert all(e.source not in ("openai", "anthropic") for e in endpoints)  # cloud: never
    started = time.monotonic()
    found = await discover_models(endpoints)
    assert time.monotonic() - started < 3
    names = {m.model for m in found if m.source == "mine"}
    assert "ollama/echo" in names and "ollama/slow" in names  # /api/tags absent: /v1/models
    assert not [m for m in found if m.source == "gone"]  # refused: nothing, no error


async def test_a_keyed_profile_is_never_asked(isolated_env, fake_llm) -> None:
    settings = _settings(
        isolated_env,
        f'[providers.proxy]\nmodel = "openai/gpt-4o"\napi_base = "{fake_llm.base_url}"\n'
        'api_key_env = "PROXY_KEY"\n',
    )
    assert not [e for e in endpoints_to_ask(settings) if e.source == "proxy"]
