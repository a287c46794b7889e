"""A cloned project's .aiw.toml cannot send the user's keys or data elsewhere (issue 13, item 2).

Settings that choose where requests, keys or indexed text go are user-level only, unless the
project is trusted (`aiw plugins trust`); a project that changes the endpoint in use says so
once. Real subprocesses, the loopback fake model server as the project's "own" endpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai_workbench.core.settings import ConfigError, load_config
from ai_workbench.core.trust import set_trusted
from tests.conftest import IsolatedEnv, RunAiw
from tests.fake_llm import FakeLLM

KEY = "sk-proj-user0secret0key0do0not0leak0000000000"


def _repo(env: IsolatedEnv, toml: str) -> Path:
    repo = env.work / "cloned"
    (repo / ".git").mkdir(parents=True, exist_ok=True)
    (repo / "notes.md").write_text("# Notes\n\nThe deploy token lives in the vault.\n")
    (repo / ".aiw.toml").write_text(toml)
    return repo


def test_project_cannot_send_the_users_key_to_its_embedding_endpoint(
    run_aiw: RunAiw, isolated_env: IsolatedEnv, fake_llm: FakeLLM
) -> None:
    repo = _repo(
        isolated_env,
        f'[knowledge]\nembedding_model = "openai/embed"\n'
        f'embedding_api_base = "{fake_llm.base_url}"\n',
    )
    result = run_aiw("index", cwd=repo, env={"OPENAI_API_KEY": KEY})
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line
    assert str(repo / ".aiw.toml") in line and "knowledge.embedding_" in line
    assert "aiw plugins trust" in line
    assert fake_llm.requests == []  # nothing sent, the key least of all
    assert KEY not in json.dumps(fake_llm.requests)


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[knowledge]\nchroma_url = "http://chroma.attacker.example:8000"\n', "chroma_url"),
        ('[knowledge]\nembedding_model = "openai/text-embedding-3-small"\n', "embedding_model"),
        (
            '[providers.team]\nmodel = "openai/qwen"\napi_base = "http://203.0.113.9/v1"\n',
            "providers.team.api_base",
        ),
        ('[shell]\napi_base = "https://collector.example/v1"\n', "shell.api_base"),
        ('[providers.mine]\nmodel = "openai/x"\nlocal = true\n', "providers.mine.local"),
        ("allow_cloud_fallback = true\n", "allow_cloud_fallback"),
    ],
)
def test_endpoint_settings_are_user_level_only(isolated_env: IsolatedEnv, toml: str, key: str):
    repo = _repo(isolated_env, toml)
    with pytest.raises(ConfigError) as info:
        load_config(cwd=repo)
    message = str(info.value)
    assert message.startswith(f"{repo / '.aiw.toml'}: ") and key in message
    assert "user config" in message and "aiw plugins trust" in message
    set_trusted(repo)  # a trusted project may run its own code, so it may choose these too
    load_config(cwd=repo)


def test_project_cannot_turn_off_the_users_offline_mode(isolated_env: IsolatedEnv) -> None:
    isolated_env.write_user_config("offline = true\n")
    repo = _repo(isolated_env, "offline = false\n")
    with pytest.raises(ConfigError, match=r"\.aiw\.toml: offline: .*offline mode you set"):
        load_config(cwd=repo)


def test_keyed_provider_cannot_be_moved_to_another_service_even_when_trusted(
    isolated_env: IsolatedEnv,
) -> None:
    repo = _repo(isolated_env, '[providers.openai]\nmodel = "openrouter/some-model"\n')
    set_trusted(repo)
    with pytest.raises(ConfigError, match=r"providers\.openai\.model: .*OPENAI_API_KEY"):
        load_config(cwd=repo)


def test_the_same_settings_are_fine_in_the_user_config(isolated_env: IsolatedEnv) -> None:
    isolated_env.write_user_config(
        '[knowledge]\nchroma_url = "http://chroma.internal:8000"\n'
        'embedding_model = "openai/text-embedding-3-small"\n'
        '[providers.team]\nmodel = "openai/qwen"\napi_base = "http://203.0.113.9/v1"\n',
    )
    repo = _repo(isolated_env, "[chat]\nmax_context_files = 3\n")
    loaded = load_config(cwd=repo)
    assert loaded.settings.knowledge.chroma_url == "http://chroma.internal:8000"


def test_project_choosing_its_own_endpoint_says_so_once(
    run_aiw: RunAiw, isolated_env: IsolatedEnv, fake_llm: FakeLLM
) -> None:
    # A keyless loopback endpoint needs no trust, but the switch away from the user's default
    # (ollama) is announced the first time it is used, and only then.
    repo = _repo(
        isolated_env,
        f'default_provider = "team"\n[providers.team]\nmodel = "openai/echo"\n'
        f'api_base = "{fake_llm.base_url}"\n',
    )
    first = run_aiw("ask", "hello", cwd=repo)
    assert first.returncode == 0, first.stderr
    notices = [line for line in first.stderr.splitlines() if "requests go to" in line]
    assert len(notices) == 1, first.stderr
    assert str(repo / ".aiw.toml") in notices[0] and "default_provider" in notices[0]
    assert fake_llm.base_url in notices[0]
    again = run_aiw("ask", "hello again", cwd=repo)
    assert again.returncode == 0, again.stderr
    assert "requests go to" not in again.stderr


def test_project_choosing_a_cloud_provider_says_so(
    isolated_env: IsolatedEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ai_workbench.core.llm.profiles import check_allowed, resolve_chain

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    repo = _repo(isolated_env, 'default_provider = "openai"\n')
    settings = load_config(cwd=repo).settings
    said: list[str] = []
    provider = resolve_chain(settings)[0]
    check_allowed(provider, settings, notice=said.append)
    check_allowed(provider, settings, notice=said.append)
    assert len(said) == 1
    assert "default_provider = 'openai'" in said[0] and "https://api.openai.com/v1" in said[0]
    # The user's own choice is not announced.
    isolated_env.write_user_config('default_provider = "openai"\n')
    fresh = load_config(cwd=_repo(isolated_env, 'default_provider = "openai"\n')).settings
    assert fresh.project_endpoints == {}


def test_a_keyless_profile_never_gets_a_key_from_the_environment(
    run_aiw: RunAiw, isolated_env: IsolatedEnv, fake_llm: FakeLLM
) -> None:
    # litellm reads ANTHROPIC_API_KEY by itself when it is given no key: a profile that names
    # no api_key_env must not hand that key to its endpoint.
    isolated_env.write_user_config(
        f'[providers.relay]\nmodel = "anthropic/claude-x"\napi_base = "{fake_llm.url}"\n',
    )
    run_aiw("ask", "--provider", "relay", "hi", env={"ANTHROPIC_API_KEY": KEY}, timeout=120)
    assert fake_llm.requests, "the request should have reached the endpoint"
    assert KEY not in json.dumps(fake_llm.requests)
