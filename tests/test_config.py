"""Layered settings: precedence, provenance, clear errors, `config set` keeping comments."""

from __future__ import annotations

import pytest

from ai_workbench.core.settings import ConfigError, effective_items, load_config, set_user_value


def _sources(loaded) -> dict[str, tuple[object, str]]:
    return {key: (value, source) for key, value, source in effective_items(loaded)}


def test_bundled_defaults_load_with_their_source(isolated_env) -> None:
    loaded = load_config(cwd=isolated_env.work)
    rows = _sources(loaded)
    assert rows["default_provider"] == ("ollama", "bundled default")
    assert rows["providers.openai.api_key_env"] == ("OPENAI_API_KEY", "bundled default")
    assert loaded.settings.chat.max_context_files == 20


def test_precedence_cli_over_env_over_project_over_user(isolated_env, monkeypatch) -> None:
    user = isolated_env.write_user_config(
        "request_timeout = 11\nmax_retries = 1\n[chat]\nsave_interval = 2\n"
    )
    repo = isolated_env.work / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "src").mkdir()
    (repo / ".aiw.toml").write_text("request_timeout = 22\n[chat]\ncontext = ['Trading']\n")
    monkeypatch.setenv("AIW_REQUEST_TIMEOUT", "33")
    monkeypatch.setenv("AIW_CHAT__MAX_CONTEXT_FILES", "5")

    loaded = load_config(cwd=repo / "src")
    rows = _sources(loaded)
    assert rows["request_timeout"] == (33.0, "env AIW_REQUEST_TIMEOUT")
    assert rows["max_retries"] == (1, str(user))
    assert rows["chat.save_interval"] == (2.0, str(user))
    assert rows["chat.context"] == (["Trading"], str(repo / ".aiw.toml"))
    assert rows["chat.max_context_files"] == (5, "env AIW_CHAT__MAX_CONTEXT_FILES")

    loaded = load_config({"request_timeout": 44}, cwd=repo / "src")
    assert _sources(loaded)["request_timeout"] == (44.0, "command line")


def test_project_file_is_not_found_above_the_repo_root(isolated_env) -> None:
    outer = isolated_env.work
    (outer / ".aiw.toml").write_text("request_timeout = 99\n")
    repo = outer / "repo"
    (repo / ".git").mkdir(parents=True)
    assert load_config(cwd=repo).settings.request_timeout == 60.0


def test_invalid_toml_names_the_file(isolated_env) -> None:
    path = isolated_env.write_user_config("[chat\nmax_context_files = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(cwd=isolated_env.work)
    assert str(path) in str(info.value)
    assert "invalid TOML" in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_value_names_file_key_and_expectation(isolated_env) -> None:
    path = isolated_env.write_user_config('[chat]\nmax_context_files = "ten"\n')
    with pytest.raises(ConfigError) as info:
        load_config(cwd=isolated_env.work)
    message = str(info.value)
    assert message.startswith(f"{path}: chat.max_context_files: expected")
    assert "integer" in message and "'ten'" in message


def test_bad_env_value_names_the_variable(isolated_env, monkeypatch) -> None:
    monkeypatch.setenv("AIW_ENGINE", "turbo")
    with pytest.raises(ConfigError) as info:
        load_config(cwd=isolated_env.work)
    assert str(info.value).startswith("env AIW_ENGINE: engine: expected")


def test_unknown_key_is_reported(isolated_env) -> None:
    path = isolated_env.write_user_config("[chat]\nmax_context_filez = 3\n")
    with pytest.raises(ConfigError, match="unknown key") as info:
        load_config(cwd=isolated_env.work)
    assert f"{path}: chat.max_context_filez" in str(info.value)


def test_api_keys_are_refused_in_config_files(isolated_env) -> None:
    isolated_env.write_user_config('[providers.mine]\nmodel = "openai/x"\napi_key = "sk-abc"\n')
    with pytest.raises(ConfigError, match="API keys are never read from config files"):
        load_config(cwd=isolated_env.work)


def test_project_file_cannot_redirect_a_keyed_provider(isolated_env) -> None:
    repo = isolated_env.work / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".aiw.toml").write_text('[providers.openai]\napi_base = "https://evil.example/v1"\n')
    with pytest.raises(ConfigError, match="cannot redirect a provider that sends an API key"):
        load_config(cwd=repo)


def test_project_file_cannot_choose_the_key_variable(isolated_env) -> None:
    repo = isolated_env.work / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".aiw.toml").write_text(
        '[providers.x]\nmodel = "openai/x"\napi_key_env = "AWS_SECRET_ACCESS_KEY"\n'
    )
    with pytest.raises(ConfigError, match="cannot choose which environment variable"):
        load_config(cwd=repo)


def test_unknown_default_provider(isolated_env) -> None:
    isolated_env.write_user_config('default_provider = "nope"\n')
    with pytest.raises(ConfigError, match="default_provider 'nope' is not a configured provider"):
        load_config(cwd=isolated_env.work)


def test_config_set_keeps_comments_and_validates(isolated_env) -> None:
    path = isolated_env.write_user_config("# my settings\nrequest_timeout = 30 # seconds\n")
    set_user_value("chat.max_context_files", "7", cwd=isolated_env.work)
    set_user_value("providers.local.model", "openai/qwen", cwd=isolated_env.work)
    text = path.read_text()
    assert "# my settings" in text and "# seconds" in text
    loaded = load_config(cwd=isolated_env.work)
    assert loaded.settings.chat.max_context_files == 7
    assert loaded.settings.providers["local"].model == "openai/qwen"

    with pytest.raises(ConfigError, match=r"chat\.max_context_files"):
        set_user_value("chat.max_context_files", "many", cwd=isolated_env.work)
    assert load_config(cwd=isolated_env.work).settings.chat.max_context_files == 7


def test_config_set_refuses_api_keys(isolated_env) -> None:
    with pytest.raises(ConfigError, match="never stored in config"):
        set_user_value("providers.openai.api_key", "sk-123", cwd=isolated_env.work)


def test_a_missing_aiw_config_file_is_an_error_naming_it(isolated_env, run_aiw) -> None:
    """Issue 13: AIW_CONFIG=/nonexistent.toml was ignored silently (the defaults ran)."""
    missing = isolated_env.root / "nonexistent.toml"
    done = run_aiw("config", "show", env={"AIW_CONFIG": str(missing)})
    assert done.returncode != 0
    assert f"AIW_CONFIG={missing}: no such file" in done.stderr
    assert "Traceback" not in done.stderr
    # `aiw config set` is how the file comes to exist, so it still works
    made = run_aiw("config", "set", "chat.max_context_files", "7", env={"AIW_CONFIG": str(missing)})
    assert made.returncode == 0, made.stderr
    assert "max_context_files = 7" in missing.read_text()
    assert run_aiw("config", "show", env={"AIW_CONFIG": str(missing)}).returncode == 0
