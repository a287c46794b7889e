"""Provider resolution: profiles, fallback chain, locality, offline mode, missing keys."""

from __future__ import annotations

import pytest

from ai_workbench.core.errors import ProviderError
from ai_workbench.core.llm.profiles import check_allowed, is_local_url, resolve_chain
from ai_workbench.core.settings import load_config


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:11434", True),
        ("http://localhost:1234/v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://192.168.1.20:8080/v1", True),
        ("http://10.0.0.5/v1", True),
        ("http://gpu-box.local:8000", True),
        ("https://api.openai.com/v1", False),
        ("https://8.8.8.8/v1", False),
        ("https://example.com", False),
    ],
)
def test_is_local_url(url: str, local: bool) -> None:
    assert is_local_url(url) is local


def test_default_chain_is_local_first_and_skips_cloud(isolated_env) -> None:
    path = isolated_env.aiw_config / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('fallback = ["ollama", "openai", "lmstudio"]\n')
    settings = load_config(cwd=isolated_env.work).settings
    assert [p.name for p in resolve_chain(settings)] == ["ollama", "lmstudio"]
    path.write_text('fallback = ["ollama", "openai", "lmstudio"]\nallow_cloud_fallback = true\n')
    settings = load_config(cwd=isolated_env.work).settings
    assert [p.name for p in resolve_chain(settings)] == ["ollama", "openai", "lmstudio"]


def test_explicit_model_and_api_base(isolated_env) -> None:
    settings = load_config(cwd=isolated_env.work).settings
    [provider] = resolve_chain(settings, model="openai/qwen", api_base="http://127.0.0.1:9/v1")
    assert provider.is_local and provider.api_key_env is None
    assert provider.bare_model == "qwen" and provider.name == "127.0.0.1:9"
    [cloud] = resolve_chain(settings, model="anthropic/claude-x")
    assert cloud.api_key_env == "ANTHROPIC_API_KEY" and not cloud.is_local


def test_api_base_override_never_gets_a_configured_key(isolated_env) -> None:
    settings = load_config(cwd=isolated_env.work).settings
    [provider] = resolve_chain(settings, provider="openai", api_base="http://10.1.1.1/v1")
    assert provider.api_key_env is None


def test_offline_refuses_cloud_with_a_clear_message(isolated_env) -> None:
    settings = load_config({"offline": True}, cwd=isolated_env.work).settings
    [cloud] = resolve_chain(settings, provider="openai")
    with pytest.raises(ProviderError) as info:
        check_allowed(cloud, settings)
    assert info.value.kind == "offline" and info.value.exit_code == 11
    assert "offline mode is on" in str(info.value) and "openai" in str(info.value)
    [local] = resolve_chain(settings, provider="ollama")
    check_allowed(local, settings)


def test_missing_key_names_the_variable(isolated_env) -> None:
    settings = load_config(cwd=isolated_env.work).settings
    [cloud] = resolve_chain(settings, provider="gemini")
    with pytest.raises(ProviderError, match="GEMINI_API_KEY is not set") as info:
        check_allowed(cloud, settings)
    assert info.value.exit_code == 4


def test_unknown_provider(isolated_env) -> None:
    settings = load_config(cwd=isolated_env.work).settings
    with pytest.raises(ProviderError, match="unknown provider 'nope'"):
        resolve_chain(settings, provider="nope")
