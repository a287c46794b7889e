"""The workbench driven with Pilot: real store, real files, the loopback fake model server."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.widgets import Input, OptionList, Static

from ai_workbench.store import Store
from ai_workbench.tui.screens.confirm import ConfirmScreen, MessageScreen, TextPromptScreen
from ai_workbench.tui.screens.feedback import FeedbackScreen
from ai_workbench.tui.screens.help import HelpScreen
from ai_workbench.tui.widgets.chat import ChatLog, MessageView
from ai_workbench.tui.widgets.file_tree import ProjectTree
from tests.tui.conftest import SIZE, seed_sessions, settle, wait_for


async def _messages(session_id: str) -> list[Any]:
    async with await Store.open() as store:
        return await store.get_messages(session_id)


async def _type(pilot: Any, text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(ch, ch) for ch in text])


async def _fill(pilot: Any, text: str) -> None:
    """Put text in the focused Input at once (typing key by key is slow under Pilot)."""
    field = pilot.app.focused
    assert isinstance(field, Input), field
    field.value = text
    field.cursor_position = len(text)
    await pilot.pause()


async def _send(pilot: Any, app: Any, text: str) -> None:
    app.prompt.focus()
    app.prompt.insert(text)
    await pilot.press("enter")


def _views(app: Any) -> list[MessageView]:
    return app.chat_log.views


# --------------------------------------------------------------------- chat turns


async def test_send_streams_the_answer_and_saves_the_turn(echo_app, fake_llm) -> None:
    fake_llm.reply = "Hello **there**, a streamed answer in several chunks."
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _send(pilot, app, "hi there")
        await settle(pilot, app)
        user, answer = _views(app)
        assert (user.role, user.text) == ("user", "hi there")
        assert answer.role == "assistant"
        assert answer.text == fake_llm.reply
        assert answer.info.status == "complete" and not answer.info.streaming
        assert answer.info.tokens_out and answer.info.tokens_in
        assert "there" in answer.markdown.source
        assert app.prompt.text == ""  # sent, so cleared
        assert app.session is not None and app.session.title == "hi there"
        assert app.chip_bar.tokens > 0
        # the new session is listed
        assert [s.title for s in app.session_list.sessions] == ["hi there"]
        stored = await _messages(app.session.id)
        assert [(m.role, m.status) for m in stored] == [
            ("user", "complete"),
            ("assistant", "complete"),
        ]
        assert stored[1].content == fake_llm.reply


async def test_cost_per_answer_and_per_session(echo_app, fake_llm) -> None:
    from ai_workbench.core.llm.costs import price_for

    price_in, price_out = price_for("openai/gpt-4o-mini")
    app = echo_app(model="gpt-4o-mini")  # priced in litellm's table, served by the fake
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        for prompt in ("one", "two"):
            await _send(pilot, app, prompt)
            await settle(pilot, app)
        answers = [v for v in _views(app) if v.role == "assistant"]
        for view in answers:
            info = view.info
            assert info.cost == pytest.approx(
                info.tokens_in * price_in + info.tokens_out * price_out
            )
            assert f"${info.cost:.4f}" in view.header_markup()
        total = sum(v.info.cost for v in answers)
        assert f"${total:.4f}" in str(app.chip_bar.query_one(".session-tokens", Static).render())


async def test_escape_cancels_and_keeps_the_partial_answer(echo_app, fake_llm) -> None:
    fake_llm.chunk_delay = 0.05
    app = echo_app("slow")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _send(pilot, app, "tell me a long story")
        await wait_for(pilot, lambda: len(_views(app)) == 2 and len(_views(app)[1].text) > 30)
        answer = _views(app)[1]
        assert answer.info.streaming
        assert app.check_action("cancel_answer", ()) is True  # footer shows Esc Cancel
        await pilot.press("escape")
        await settle(pilot, app)
        assert not app.streaming
        assert answer.info.status == "partial" and not answer.info.streaming
        assert answer.has_class("-partial")
        kept = answer.text
        assert kept and "partial" in answer.header_markup()
        stored = await _messages(app.session.id)
        assert stored[-1].status == "partial"
        assert stored[-1].content and kept.startswith(stored[-1].content[:20])
        # the partial answer is a message like any other: it can be rated
        assert answer.info.message_id == stored[-1].id
        assert app.session_list.sessions[0].message_count == 2


async def test_provider_error_is_explained_and_the_message_kept_for_a_retry(echo_app) -> None:
    app = echo_app("fail-401")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _send(pilot, app, "please work")
        await settle(pilot, app)
        user, answer = _views(app)
        assert user.text == "please work"
        assert answer.info.status == "error"
        assert "authentication failed" in answer.info.error
        shown = str(answer.query_one(".msg-error", Static).render())
        assert "authentication failed" in shown and "retry" in shown
        # retry from the keyboard: same user message, a second answer
        await pilot.press("ctrl+l")
        await pilot.press("r")
        await settle(pilot, app)
        stored = await _messages(app.session.id)
        assert [m.content for m in stored if m.role == "user"] == ["please work"]
        assert [m.status for m in stored if m.role == "assistant"] == ["error", "error"]


async def test_regenerate_answers_the_same_message_again(echo_app, fake_llm) -> None:
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _send(pilot, app, "roll a die")
        await settle(pilot, app)
        fake_llm.reply = "4"
        await pilot.press("ctrl+l", "r")
        await settle(pilot, app)
        assert [(v.role, v.text) for v in _views(app)][1:] == [
            ("assistant", "You said: roll a die"),
            ("assistant", "4"),
        ]
        stored = await _messages(app.session.id)
        assert [m.role for m in stored] == ["user", "assistant", "assistant"]
        # the model saw the conversation up to the prompt, not the earlier answer
        sent = fake_llm.chat_requests[-1]["json"]["messages"]
        assert sent[-1] == {"role": "user", "content": "roll a die"}
        # history recall: Up in the empty prompt brings the last prompt back
        await pilot.press("i", "up")
        assert app.prompt.text == "roll a die"


async def test_regenerate_in_a_reopened_session_does_not_save_the_prompt_twice(
    echo_app, fake_llm
) -> None:
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _send(pilot, app, "first question")
        await settle(pilot, app)
        await _send(pilot, app, "roll a die")
        await settle(pilot, app)
        session_id = app.session.id
    reopened = echo_app(session=session_id)
    async with reopened.run_test(size=SIZE) as pilot:
        await settle(pilot, reopened)
        await wait_for(pilot, lambda: len(_views(reopened)) == 4)
        fake_llm.reply = "6"
        reopened.chat_log.focus()
        await pilot.press("end", "r")
        await settle(pilot, reopened)
        assert [(v.role, v.text) for v in _views(reopened)][-2:] == [
            ("assistant", "You said: roll a die"),
            ("assistant", "6"),
        ]
    stored = await _messages(session_id)
    assert [m.role for m in stored] == ["user", "assistant", "user", "assistant", "assistant"]
    sent = fake_llm.chat_requests[-1]["json"]["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"] == ["first question", "roll a die"]
    assert sent[-1] == {"role": "user", "content": "roll a die"}


async def test_unknown_provider_gives_a_clear_message_and_keeps_the_prompt(make_app) -> None:
    app = make_app(provider="nope")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        status = str(app.query_one("#turn-status", Static).render())
        assert "unknown provider 'nope'" in status
        await _send(pilot, app, "hello?")
        await settle(pilot, app)
        assert app.prompt.text == "hello?"  # nothing was sent; the prompt is back
        assert _views(app) == []


async def test_a_broken_database_is_explained_not_a_traceback(make_app, isolated_env) -> None:
    db = isolated_env.aiw_data / "aiw.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"this is not sqlite" * 100)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert isinstance(app.screen, MessageScreen)
        assert "not a usable aiw database" in app.screen.message
        await pilot.press("escape")
        status = str(app.session_list.query_one(".pane-status", Static).render())
        assert "not a usable aiw database" in status


async def test_a_prompt_sent_during_the_model_client_warm_up_waits_visibly(echo_app) -> None:
    import asyncio

    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app._warm = asyncio.Event()  # as if litellm were still importing
        await _send(pilot, app, "early bird")
        await wait_for(pilot, lambda: len(_views(app)) == 2)
        answer = _views(app)[1]
        await pilot.pause()
        assert "loading model client" in answer.header_markup()
        assert "loading model client" in str(app.query_one("#turn-status", Static).render())
        app._warm.set()
        await settle(pilot, app)
        assert answer.text == "You said: early bird"


async def test_enter_sends_and_ctrl_j_adds_a_line_and_a_big_paste_is_fast(echo_app) -> None:
    import time

    from textual import events

    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _type(pilot, "one")
        await pilot.press("ctrl+j")
        await _type(pilot, "two")
        assert app.prompt.text == "one\ntwo"
        await pilot.press("up")  # moves within the prompt (history only from the first line)
        assert app.prompt.cursor_location[0] == 0 and app.prompt.text == "one\ntwo"
        big = "\n".join(f"{i:05d} " + "x" * 90 for i in range(3000))  # ~290 kB
        started = time.perf_counter()
        app.prompt.post_message(events.Paste(big))
        await pilot.pause()
        assert time.perf_counter() - started < 3.0
        assert big in app.prompt.text
        app.prompt.clear()
        await _type(pilot, "short")
        await pilot.press("enter")
        await settle(pilot, app)
        assert _views(app)[0].text == "short"


async def test_text_and_enter_in_one_burst_send_the_whole_text(echo_app) -> None:
    from textual import events

    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        for ch in "fast typist":  # all queued before any is handled, as from tmux or SSH
            app.post_message(events.Key(ch if ch != " " else "space", ch))
        app.post_message(events.Key("enter", "\r"))
        await settle(pilot, app)
        assert [v.text for v in _views(app)][:1] == ["fast typist"]
        assert app.prompt.text == ""


async def test_keys_can_be_remapped_from_keys_toml(echo_app, isolated_env) -> None:
    isolated_env.write_user_config(
        '[keys]\n"prompt.send" = "ctrl+s"\n"prompt.newline" = "enter"\n', "keys.toml"
    )
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _type(pilot, "a")
        await pilot.press("enter")
        await _type(pilot, "b")
        assert app.prompt.text == "a\nb"
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert _views(app)[0].text == "a\nb"
        assert app.key_for("prompt.send") == "^s"


async def test_keys_can_be_remapped_in_config_toml(echo_app, isolated_env) -> None:
    isolated_env.write_user_config(
        '[keys]\n"prompt.send" = "ctrl+s"\n"prompt.newline" = ["enter", "ctrl+j"]\n'
    )
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await _type(pilot, "a")
        await pilot.press("enter")
        await _type(pilot, "b")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert _views(app)[0].text == "a\nb"


# --------------------------------------------------------------------- feedback


async def test_like_then_dislike_with_a_comment_is_stored_and_shown(make_app, seeded) -> None:
    from ai_workbench.core.feedback import FeedbackService

    app = make_app(session=seeded[0])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+l")
        answer = app.chat_log.selected
        assert answer is not None and answer.role == "assistant"
        await pilot.press("plus")
        await pilot.pause()
        assert isinstance(app.screen, FeedbackScreen)
        await _fill(pilot, "clear and short")
        await pilot.press("enter")
        await settle(pilot, app)
        assert answer.info.rating == 1 and answer.info.comment == "clear and short"
        assert "liked" in answer.header_markup() and "clear and short" in answer.header_markup()
        # change it: the modal opens with the comment; Enter keeps it
        await pilot.press("minus")
        await pilot.pause()
        assert app.screen.query_one(Input).value == "clear and short"
        await pilot.press("enter")
        await settle(pilot, app)
        async with await Store.open() as store:
            saved = await FeedbackService(store).get("message", answer.info.message_id)
        assert saved is not None and saved.rating == -1 and saved.comment == "clear and short"
        assert "disliked" in answer.header_markup()


# --------------------------------------------------------------------- sessions


async def test_switching_sessions_loads_their_messages(make_app, seeded) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        titles = [s.title for s in app.session_list.sessions]
        assert titles == ["Design a rate limiter", "Explain git rebase", "Dockerfile layer caching"]
        # The most recent session reopens at start (issue 14); only its bodies are loaded.
        assert app.session.title == "Design a rate limiter" and len(_views(app)) == 2
        app.session_list.options.focus()
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.session.title == "Design a rate limiter"
        assert "token bucket" in _views(app)[1].text
        await pilot.press("down", "enter")
        await settle(pilot, app)
        assert app.session.title == "Explain git rebase"
        assert _views(app)[0].text == "What does git rebase do?"
        assert app.chip_bar.title == "Explain git rebase"
        assert app.chip_bar.tokens == 32


async def test_search_jumps_to_the_matching_message(make_app, seeded) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+f")
        await _fill(pilot, "redis")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session_list.mode == "results")
        options = app.session_list.options
        assert options.option_count == 1
        assert "Design a rate limiter" in str(options.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.session.title == "Design a rate limiter"
        selected = app.chat_log.selected
        assert selected is not None and "Redis" in selected.text
        assert app.chat_log.has_focus
        # Esc in the list clears the search and shows the titles again
        app.session_list.options.focus()
        await pilot.press("escape")
        assert app.session_list.mode == "titles" and options.option_count == 3


async def test_long_session_opens_its_latest_page_and_loads_earlier_on_demand(
    make_app, isolated_env
) -> None:
    turns = [("user", f"question {i}") if i % 2 == 0 else ("assistant", f"answer {i}")
             for i in range(120)]  # fmt: skip
    turns[1] = ("assistant", "the oldest answer mentions zanzibar")
    [session_id] = await seed_sessions([("Long session", turns)])
    app = make_app(session=session_id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        log = app.chat_log
        await wait_for(pilot, lambda: bool(log.views))
        page = ChatLog.PAGE
        assert len(log.views) == page and log.earlier_count == 120 - page
        assert log.views[0].role == "user" and log.views[-1].text == "answer 119"
        assert f"{120 - page} earlier messages" in str(log.query_one(".chat-more").render())
        # moving above the first message loads the page before it
        log.focus()
        log.select_view(log.views[0])
        await pilot.press("up")
        await settle(pilot, app)
        assert len(log.views) == 2 * page
        assert log.selected is not None and log.selected.text == f"answer {119 - page}"
        # token totals count the whole session, loaded or not
        assert log.session_tokens() == 60 * 32
        # a search hit in a message not loaded yet is loaded and selected
        app.session_list.options.focus()
        await pilot.press("ctrl+f")
        await _fill(pilot, "zanzibar")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session_list.mode == "results")
        await pilot.press("enter")
        await settle(pilot, app)
        assert log.earlier_count == 0 and len(log.views) == 120
        assert log.selected is not None and "zanzibar" in log.selected.text


async def test_rename_and_delete_ask_first(make_app, seeded) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.session_list.options.focus()
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, TextPromptScreen)
        field = app.screen.query_one(Input)
        assert field.value == "Design a rate limiter"
        field.value = "Token buckets"
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.session_list.sessions[0].title == "Token buckets"
        # delete: "n" keeps it, "y" deletes it
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Token buckets" in app.screen.message and "2 messages" in app.screen.message
        await pilot.press("n")
        await settle(pilot, app)
        assert len(app.session_list.sessions) == 3
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot, app)
        assert [s.title for s in app.session_list.sessions] == [
            "Explain git rebase",
            "Dockerfile layer caching",
        ]


async def test_export_writes_markdown_and_json_into_the_project(make_app, seeded, isolated_env):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.session_list.options.focus()
        await pilot.press("x")
        await settle(pilot, app)
        md = isolated_env.work / f"aiw-design-a-rate-limiter-{seeded[0][:8]}.md"
        assert md.is_file() and app.last_export == md
        assert "token bucket" in md.read_text()
        await app.run_action("export('json')")  # the palette command
        await settle(pilot, app)
        data = json.loads(md.with_suffix(".json").read_text())
        assert "How should I rate-limit a public API?" in json.dumps(data)


# --------------------------------------------------------------------- files


async def test_attach_a_file_from_the_tree(echo_app, fake_llm, isolated_env) -> None:
    work = isolated_env.work
    (work / ".gitignore").write_text("secret.txt\nbuild/\n")
    (work / "secret.txt").write_text("hunter2")
    (work / "build").mkdir()
    (work / "build" / "out.js").write_text("x")
    (work / "main.py").write_text("print('attached!')\n")
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f2")
        await settle(pilot, app)
        tree = app.query_one(ProjectTree)
        assert tree.has_focus
        await wait_for(pilot, lambda: len(tree.root.children) > 0)
        names = [str(node.label) for node in tree.root.children]
        assert "main.py" in names and ".gitignore" in names
        assert "secret.txt" not in names and "build" not in names
        node = next(n for n in tree.root.children if str(n.label) == "main.py")
        tree.move_cursor(node)
        await pilot.press("a")
        await pilot.pause()
        assert [p.name for p in app.attached] == ["main.py"]
        assert any(chip.kind == "file" for chip in app.chip_bar.chips)
        await _send(pilot, app, "what does this print?")
        await settle(pilot, app)
        body = json.dumps(fake_llm.chat_requests[-1]["json"]["messages"])
        assert "attached!" in body
        assert _views(app)[0].info.attachments == ["main.py"]
        assert app.attached == []  # attachments go with one prompt
        await pilot.press("f2")  # hide again
        assert not app.query_one("#files").display


def test_gitignore_rules_and_git_listing(tmp_path) -> None:
    import shutil
    import subprocess

    from ai_workbench.core.project_files import visible_set

    (tmp_path / ".gitignore").write_text("*.log\n/dist\n!keep.log\nnode_modules/\n")
    for name in (
        "a.log",
        "keep.log",
        "src/app.py",
        "dist/x.js",
        "lib/dist/y.js",
        "node_modules/m/i.js",
    ):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    keep = visible_set(tmp_path)
    assert keep.source == ".gitignore"
    shown = {p for p in ("a.log", "keep.log", "src/app.py", "dist", "lib/dist/y.js", "node_modules")
             if keep(tmp_path / p)}  # fmt: skip
    assert shown == {"keep.log", "src/app.py", "lib/dist/y.js"}
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
        keep = visible_set(tmp_path)
        assert keep.source == "git"
        assert keep(tmp_path / "src") and keep(tmp_path / "src" / "app.py")
        assert not keep(tmp_path / "a.log") and not keep(tmp_path / ".git")


# --------------------------------------------------------------------- palette, help, themes


async def test_palette_lists_every_action_with_its_key(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        assert isinstance(app.screen, CommandPalette)
        listed = app.screen.query_one(OptionList)
        await wait_for(pilot, lambda: listed.option_count >= len(app.palette_commands()))
        shown = [str(listed.get_option_at_index(i).prompt) for i in range(listed.option_count)]
        text = "\n".join(shown)
        for command in app.palette_commands():
            assert command.title in text, command.title
        assert any("New session" in line and "^n" in line for line in shown)
        assert "Theme" in text  # Textual's own commands stay
        await _fill(pilot, "export json")
        await pilot.pause(0.3)
        assert "Export session as JSON" in str(listed.get_option_at_index(0).prompt)


async def test_f1_shows_help_for_the_focused_pane(make_app, seeded) -> None:
    app = make_app(session=seeded[0])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+l", "f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "## Conversation" in app.screen.markdown
        assert "Like this answer" in app.screen.text  # the pane's keys
        assert "Command palette" in app.screen.text
        await pilot.press("escape")
        app.prompt.focus()
        await pilot.press("f1")
        await pilot.pause()
        assert "## Prompt" in app.screen.markdown


async def test_theme_chosen_in_the_palette_is_remembered(make_app, isolated_env) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert "aiw-dusk" in app.available_themes  # bundled
        await pilot.press("ctrl+p")
        await pilot.pause(0.1)
        await _fill(pilot, "theme")
        await pilot.pause(0.2)
        await pilot.press("enter")
        await pilot.pause(0.2)
        await _fill(pilot, "aiw-dusk")
        await pilot.pause(0.2)
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.theme == "aiw-dusk"
    config = tomllib.loads((isolated_env.aiw_config / "config.toml").read_text())
    assert config["theme"] == "aiw-dusk"
    again = make_app()
    assert again.theme == "aiw-dusk"  # before the first frame


async def test_user_theme_from_the_config_dir(make_app, isolated_env) -> None:
    themes = isolated_env.aiw_config / "themes"
    themes.mkdir(parents=True)
    (themes / "mine.toml").write_text('name = "mine"\nprimary = "#ff0066"\ndark = true\n')
    (isolated_env.aiw_config / "config.toml").write_text('theme = "mine"\n')
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert app.theme == "mine"


# --------------------------------------------------------------------- suggestions, size


async def test_suggestions_arrive_live_and_are_dismissed_from_the_keyboard(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        panel = app.suggestions_panel()
        assert panel is not None
        item = await app.suggestion_queue.add(
            "shell", "Use --force-with-lease", body="Safer than --force.",
            actions=[("copy", "Copy command")], payload={"command": "git push --force-with-lease"},
        )  # fmt: skip
        await pilot.pause()
        assert [i.title for i in panel.items] == ["Use --force-with-lease"]
        assert any("force-with-lease" in str(n.message) for n in app._notifications)
        await pilot.press("f3")  # hide
        assert not panel.display
        await pilot.press("f3")  # show and focus
        assert panel.options.has_focus
        await pilot.press("1")  # run the first action: copy
        await settle(pilot, app)
        assert app.clipboard == "git push --force-with-lease"
        assert (await app.suggestion_queue.get(item.id)).status == "applied"
        second = await app.suggestion_queue.add("tip", "Try aiw review")
        await pilot.pause()
        panel.options.focus()
        panel.options.highlighted = 0
        await pilot.press("d")
        await settle(pilot, app)
        assert (await app.suggestion_queue.get(second.id)).status == "dismissed"
        assert panel.items == []


async def test_copy_answer_and_code_block(make_app, seeded) -> None:
    app = make_app(session=seeded[0])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+l", "y")
        assert app.clipboard == "bucket = TokenBucket(rate=10)"
        await pilot.press("c")
        assert app.clipboard.startswith("Use a **token bucket**")


async def test_edit_and_resend_an_earlier_prompt(echo_app, seeded) -> None:
    app = echo_app(session=seeded[1])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+l", "e")
        assert app.prompt.has_focus and app.prompt.text == "What does git rebase do?"
        app.prompt.insert(" Briefly.")
        await pilot.press("enter")
        await settle(pilot, app)
        assert _views(app)[-1].text == "You said: What does git rebase do? Briefly."
        assert app.session.id == seeded[1]


async def test_too_small_terminal_says_so(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(50, 12)) as pilot:
        await settle(pilot, app)
        message = app.query_one("#too-small", Static)
        assert message.display and "at least 60×15" in str(message.render())
        assert not app.query_one("#main").display


async def test_sessions_made_elsewhere_appear_when_the_list_gets_focus(make_app, seeded) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert len(app.session_list.sessions) == 3
        async with await Store.open() as store:  # as `aiw ask` in another terminal would
            session = await store.create_session(title="Asked from the shell")
            await store.add_message(session.id, "user", "hello from aiw ask")
        app.session_list.options.focus()
        await settle(pilot, app)
        assert app.session_list.sessions[0].title == "Asked from the shell"


async def test_model_picker_lists_what_the_local_server_serves(echo_app, fake_llm) -> None:
    from ai_workbench.tui.screens.pickers import PickerScreen

    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        labels = [item.label for item in app.screen.items]
        assert "openai/slow" in labels and "openai/echo" in labels  # GET /v1/models
        slow = next(i for i in app.screen.items if i.label == "openai/slow")
        assert fake_llm.base_url.rstrip("/") in slow.detail
        await _fill(pilot, "openai/slow")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.chip_bar.chips[1].label == "model: openai/slow"
        assert app.model_choice.api_base == fake_llm.base_url.rstrip("/")


async def test_model_and_persona_chips_change_and_remove(echo_app, fake_llm) -> None:
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        labels = [chip.label for chip in app.chip_bar.chips]
        assert labels[:2] == ["persona: none", "model: openai/echo"]
        # a persona from the picker (palette-style: type to filter, Enter picks)
        await pilot.press("ctrl+r")
        await settle(pilot, app)
        await _fill(pilot, "SA-1")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.chip_bar.chips[0].label == "persona: core/SA-1"
        # a model typed into the picker
        await pilot.press("ctrl+o")
        await pilot.pause()
        await _fill(pilot, "mirror")  # unknown to the fake server: it echoes
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.chip_bar.chips[1].label == "model: mirror"
        await _send(pilot, app, "which persona?")
        await wait_for(pilot, lambda: bool(fake_llm.chat_requests) and not app.streaming)
        await settle(pilot, app)
        request = fake_llm.chat_requests[-1]["json"]
        assert request["model"] == "mirror"
        assert request["messages"][0]["role"] == "system"  # the persona's prompt
        assert app.session.persona == "core/SA-1"
        # remove both chips from the keyboard
        from ai_workbench.tui.widgets.chips import Chip

        chips = list(app.query(Chip))
        chips[0].focus()
        await pilot.press("delete")
        await settle(pilot, app)

        # the bar is rebuilt after a removal: wait for it, then take the model chip afresh
        def shown() -> list[str]:
            return [chip.data.label for chip in app.query(Chip)]

        await wait_for(
            pilot,
            lambda: (
                shown()[:1] == ["persona: none"]
                and shown() == [c.label for c in app.chip_bar.chips]
            ),
        )
        next(chip for chip in app.query(Chip) if chip.data.kind == "model").focus()
        await pilot.pause()
        await pilot.press("delete")
        await settle(pilot, app)
        await wait_for(pilot, lambda: app.chip_bar.chips[1].label == "model: ollama/llama3.2")
        # back to the configured defaults (no persona, the default provider)
        labels = [c.label for c in app.chip_bar.chips][:2]
        assert labels == ["persona: none", "model: ollama/llama3.2"]
        assert app.session.persona is None


async def test_narrow_terminal_hides_the_suggestions_pane(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(90, 30)) as pilot:
        await settle(pilot, app)
        panel = app.suggestions_panel()
        assert panel is not None and not panel.display
        await pilot.press("f3")
        assert panel.display


async def test_removing_a_sessions_own_model_goes_back_to_the_default(
    make_app, isolated_env
) -> None:
    [session_id] = await seed_sessions([("Pinned model", [("user", "hi"), ("assistant", "yo")])])
    app = make_app(session=session_id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await wait_for(pilot, lambda: app.chip_bar.chips[1].label.startswith("model: openai/echo"))
        from ai_workbench.tui.widgets.chips import Chip

        next(chip for chip in app.query(Chip) if chip.data.kind == "model").focus()
        await pilot.press("delete")
        await wait_for(
            pilot, lambda: app.chip_bar.chips[1].label.startswith("model: ollama/llama3.2")
        )
        await settle(pilot, app)
    async with await Store.open() as store:
        stored = await store.get_session(session_id)
    assert stored is not None and stored.model is None  # saved: it reopens on the default
