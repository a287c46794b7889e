"""The chat service in-process: real SQLite store, loopback model server, real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_workbench.chat.service import AskOptions, ChatService
from ai_workbench.core.context import collect_files, fit_messages
from ai_workbench.core.errors import InputError
from ai_workbench.core.settings import load_config
from ai_workbench.store import Store


async def _ask(isolated_env, fake_llm, config: str = "", **kwargs):
    if config:
        path = isolated_env.aiw_config / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config)
    loaded = load_config(cwd=isolated_env.work)
    store = await Store.open(isolated_env.root / "chat.db")
    notices: list[str] = []
    try:
        service = ChatService(loaded, store)
        kwargs.setdefault("model", "openai/echo")
        if kwargs.get("model") and "provider" not in kwargs:
            kwargs.setdefault("api_base", fake_llm.base_url)
        opts = AskOptions(cwd=isolated_env.work, **kwargs)
        turn = await service.prepare(opts, notice=notices.append)
        streamed: list[str] = []
        result = await service.run(turn, streamed.append, notice=notices.append)
        messages = await store.get_messages(result.session.id)
        return result, messages, notices, "".join(streamed)
    finally:
        await store.close()


async def test_persona_and_plugin_shape_the_system_prompt(isolated_env, fake_llm) -> None:
    result, messages, _, streamed = await _ask(
        isolated_env, fake_llm, prompt="explain order-book imbalance", persona="SA-1",
        contexts=["Trading"],
    )  # fmt: skip
    assert result.status == "complete" and streamed == result.text
    system = fake_llm.chat_requests[-1]["json"]["messages"][0]
    assert system["role"] == "system"
    assert "architect" in system["content"].lower()
    assert "imbalance" in system["content"].lower()
    assert [m.role for m in messages] == ["user", "assistant"]
    assert result.session.persona == "core/SA-1"


async def test_failing_plugin_is_reported_and_the_answer_still_comes(
    isolated_env, fake_llm
) -> None:
    plugins = isolated_env.aiw_config / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "boom.py").write_text(
        "from ai_workbench.chat.plugins import ContextPlugin\n"
        "class Boom(ContextPlugin):\n    name = 'Boom'\n"
        "    def get_context(self, query, files):\n        raise RuntimeError('kaput')\n"
    )
    result, _, notices, _ = await _ask(
        isolated_env, fake_llm, prompt="hello", contexts=["Boom", "Web"]
    )
    assert result.status == "complete"
    assert any("Boom" in n and "kaput" in n for n in notices)


async def test_fallback_to_the_next_local_provider(isolated_env, fake_llm) -> None:
    config = (
        'default_provider = "dead"\nfallback = ["alive"]\n'
        '[providers.dead]\nmodel = "openai/echo"\napi_base = "http://127.0.0.1:9/v1"\n'
        f'[providers.alive]\nmodel = "openai/echo"\napi_base = "{fake_llm.base_url}"\n'
    )
    result, messages, notices, _ = await _ask(
        isolated_env, fake_llm, config, prompt="hi there", model=None
    )
    assert result.status == "complete" and result.provider.name == "alive"
    assert any("cannot connect" in n and "trying provider 'alive'" in n for n in notices)
    assert messages[-1].provider == "alive"


async def test_history_is_sent_and_oldest_dropped_to_fit(isolated_env, fake_llm) -> None:
    first, _, _, _ = await _ask(isolated_env, fake_llm, prompt="first question " * 50)
    await _ask(isolated_env, fake_llm, prompt="second question", session=first.session.id[:6])
    body = fake_llm.chat_requests[-1]["json"]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]

    config = (
        f'[providers.tiny]\nmodel = "openai/echo"\napi_base = "{fake_llm.base_url}"\n'
        "context_window = 400\n"
        "[memory]\nsummarize = false\n"  # dropped, not summarised (tests/test_memory.py)
    )
    result, _, notices, _ = await _ask(
        isolated_env, fake_llm, config, prompt="third", session=first.session.id,
        provider="tiny", model=None,
    )  # fmt: skip
    assert result.status == "complete"
    assert any("left out the" in n and "oldest" in n for n in notices)
    sent = fake_llm.chat_requests[-1]["json"]["messages"]
    assert sent[-1]["content"] == "third"
    assert all("first question" not in m["content"] for m in sent)


async def test_attached_files_and_stdin_are_fenced_and_redacted(isolated_env, fake_llm) -> None:
    (isolated_env.work / "app.py").write_text('API = "AKIAIOSFODNN7EXAMPLE"\nprint(1)\n')
    _result, messages, notices, _ = await _ask(
        isolated_env, fake_llm, prompt="review", files=["*.py"], stdin_text="log line"
    )
    sent = fake_llm.chat_requests[-1]["json"]["messages"][-1]["content"]
    assert "File `app.py`:\n```python\n" in sent and "Standard input:" in sent
    assert "AKIAIOSFODNN7EXAMPLE" not in sent and "AKIAIOSFODNN7EXAMPLE" not in messages[0].content
    assert any("redacted 1 secret" in n for n in notices)
    assert messages[0].attachments[0].path.endswith("app.py")


def test_files_refused_with_clear_messages(tmp_path: Path) -> None:
    (tmp_path / "bin.dat").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "big.txt").write_text("x" * 5000)
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("b")
    cases = {
        "bin.dat": "looks like a binary file",
        "big.txt": "over chat.max_file_bytes",
        "missing.txt": "no such file",
        "*.none": "no file matches",
    }
    for name, message in cases.items():
        with pytest.raises(InputError, match=message):
            collect_files([name], tmp_path, max_files=5, max_bytes=1000)
    with pytest.raises(InputError, match="max_context_files is 1"):
        collect_files(["*.txt"], tmp_path, max_files=1, max_bytes=10_000)


def test_a_symlink_out_of_the_project_is_refused_unless_named(tmp_path: Path) -> None:
    """Issue 13: a cloned repo can plant notes.md -> ~/.ssh/config; -f notes.md must not
    send it. The same file named by its own path outside the project is the user's call."""
    project = tmp_path / "clone"
    (project / ".git").mkdir(parents=True)
    (project / "docs").mkdir()
    secret = tmp_path / "home" / "ssh-config"
    secret.parent.mkdir()
    secret.write_text("Host prod\n  IdentityFile ~/.ssh/prod\n")
    (project / "notes.md").symlink_to(secret)
    (project / "docs" / "guide.md").write_text("guide")
    (project / "docs" / "same.md").symlink_to(project / "docs" / "guide.md")
    (project / "outside").symlink_to(secret.parent, target_is_directory=True)
    for pattern, cwd in [
        ("notes.md", project),
        ("*.md", project),
        ("outside/ssh-config", project),
        ("../notes.md", project / "docs"),
    ]:
        with pytest.raises(InputError, match="outside the project"):
            collect_files([pattern], cwd, max_files=5, max_bytes=10_000)
    inside = collect_files(["docs/*.md"], project, max_files=5, max_bytes=10_000)
    assert sorted(f.text for f in inside) == ["guide"]  # a link inside the project is fine
    named = collect_files([str(secret)], project, max_files=5, max_bytes=10_000)
    assert "IdentityFile" in named[0].text


def test_a_latin1_text_file_is_attached_not_refused_as_binary(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_bytes("caf\xe9 cr\xe8me br\xfbl\xe9e\n".encode("latin-1"))
    (tmp_path / "utf8.txt").write_text("naïve ✓\n", encoding="utf-8")
    files = collect_files(["notes.txt", "utf8.txt"], tmp_path, max_files=5, max_bytes=1000)
    assert [f.text for f in files] == ["café crème brûlée\n", "naïve ✓\n"]
    (tmp_path / "x.bin").write_bytes(bytes(range(1, 32)) * 20)
    with pytest.raises(InputError, match="binary"):
        collect_files(["x.bin"], tmp_path, max_files=5, max_bytes=10_000)


def test_prompt_too_large_for_the_model_is_refused() -> None:
    with pytest.raises(InputError, match="attach fewer"):
        fit_messages("", [], "word " * 10_000, context_window=2_000, model="m")


async def test_empty_prompt_is_refused_before_anything_is_saved(isolated_env, fake_llm) -> None:
    with pytest.raises(InputError, match="nothing to ask"):
        await _ask(isolated_env, fake_llm, prompt="   ")
    store = await Store.open(isolated_env.root / "chat.db")
    try:
        assert await store.list_sessions() == []
    finally:
        await store.close()


async def test_export_shows_feedback_on_answers(isolated_env, fake_llm) -> None:
    import json

    from ai_workbench.chat.sessions import SessionService
    from ai_workbench.core.feedback import FeedbackService

    result, _, _, _ = await _ask(isolated_env, fake_llm, prompt="hello")
    store = await Store.open(isolated_env.root / "chat.db")
    try:
        await FeedbackService(store).rate("message", result.message_id, 1, "spot on")
        sessions = SessionService(store)
        markdown = await sessions.export(result.session.id, "md")
        data = json.loads(await sessions.export(result.session.id, "json"))
    finally:
        await store.close()
    assert "_Feedback: liked: spot on_" in markdown
    assert data["messages"][1]["feedback"]["rating"] == 1


async def test_regenerate_reuses_the_saved_prompt(isolated_env, fake_llm) -> None:
    first, _, _, _ = await _ask(isolated_env, fake_llm, prompt="one")
    _second, messages, _, _ = await _ask(
        isolated_env, fake_llm, prompt="two", session=first.session.id
    )
    prompt_two = next(m for m in messages if m.content == "two")
    fake_llm.reply = "again"
    _third, messages, _, text = await _ask(
        isolated_env, fake_llm, prompt="", session=first.session.id,
        reuse_user_message=prompt_two.id,
    )  # fmt: skip
    assert text == "again"
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant", "assistant"]
    sent = fake_llm.chat_requests[-1]["json"]["messages"]
    assert [m["content"] for m in sent] == ["one", "You said: one", "two"]
    # a prompt of another session is refused with a clear message
    other, _, _, _ = await _ask(isolated_env, fake_llm, prompt="elsewhere")
    with pytest.raises(InputError, match="is not a prompt of session"):
        await _ask(
            isolated_env, fake_llm, prompt="", session=other.session.id,
            reuse_user_message=prompt_two.id,
        )  # fmt: skip


async def test_cost_from_litellms_price_table_offline(isolated_env, fake_llm) -> None:
    """A priced model's answer costs tokens x litellm's listed price; an unpriced local one $0."""
    from ai_workbench.core.llm.costs import cost_of, price_for

    price_in, price_out = price_for("openai/gpt-4o-mini")
    assert price_in > 0 and price_out > 0
    priced, messages, _, _ = await _ask(
        isolated_env, fake_llm, prompt="hi", model="openai/gpt-4o-mini"
    )
    stream = priced.stream
    expected = stream.tokens_in * price_in + stream.tokens_out * price_out
    assert priced.cost == pytest.approx(expected)
    assert messages[-1].cost == pytest.approx(expected)
    local, messages, _, _ = await _ask(isolated_env, fake_llm, prompt="hi", model="openai/echo")
    assert local.cost == 0.0 and messages[-1].cost == 0.0
    assert cost_of("someone/unknown-model", 10, 10) is None
