"""The welcome view when no model answers (issue 14, section 2), driven with Pilot.

Real parts only: the probe asks held, closed loopback ports (tests/tui/conftest.py) or the
loopback fake LLM (tests/fake_llm.py, OpenAI-compatible: /v1/models, /v1/chat/completions);
saving writes the real user config in the isolated XDG dir.
"""

from __future__ import annotations

import os
import stat
import tomllib
from typing import Any

import pytest
from textual.widgets import Button, Input, OptionList, Static

from tests.tui.conftest import SIZE, hold_closed_ports, point_local_servers_at, settle


def _welcome(app: Any) -> Any:
    return app.chat.welcome


def _shown(app: Any) -> bool:
    pane = _welcome(app)
    return pane is not None and pane.display and not app.chat_log.display


def _text(widget: Static) -> str:
    return str(widget.render())


def _model_chip(app: Any) -> Any:
    return next(c for c in app.chip_bar.query(".chip") if c.data.kind == "model")


def _ways(app: Any) -> list[str]:
    options = _welcome(app).query_one("#welcome-ways", OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_nothing_answers_shows_what_was_tried_and_the_ways_forward(
    make_app: Any, isolated_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An `ollama` program is installed but nothing runs: the view says so, with the command.
    bin_dir = isolated_env.root / "bin"
    bin_dir.mkdir()
    ollama = bin_dir / "ollama"
    ollama.write_text("#!/bin/sh\nexit 0\n")
    ollama.chmod(ollama.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert _shown(app)
        pane = _welcome(app)
        title = _text(pane.query_one("#welcome-title", Static))
        assert "No model answers yet" in title and "ollama/llama3.2" in title
        tried = _text(pane.query_one("#welcome-tried", Static))
        for server in ("Ollama", "LM Studio", "llama.cpp server", "vLLM"):
            assert server in tried
        assert tried.count("connection refused") == 4
        assert "$OPENAI_API_KEY not set" in tried
        ways = "\n".join(_ways(app))
        assert f"installed ({ollama})" in ways and "not running" in ways
        assert "$ ollama serve" in ways and "$ ollama pull" in ways
        assert "export OPENAI_API_KEY=<your key>" in ways
        # The bar above the conversation does not claim a model that does not answer.
        chip = _model_chip(app)
        assert chip.has_class("-warn") and "no answer" in str(chip.render())
        assert pane.query_one("#welcome-save", Button).disabled
        # It does not take the focus away from the prompt; Enter on a way copies its command.
        assert app.prompt.has_focus
        pane.query_one("#welcome-ways", OptionList).focus()
        await pilot.press("enter")
        assert app.clipboard == "ollama serve"
        await pilot.press("escape")  # back to the conversation
        await settle(pilot, app)
        assert not _shown(app) and app.prompt.has_focus


async def test_a_typed_url_is_tested_then_saved_and_the_chat_uses_it(
    make_app: Any, fake_llm: Any, isolated_env: Any, no_local_servers: list[int]
) -> None:
    fake_llm.reply = "hello from the saved model"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert _shown(app)
        pane = _welcome(app)
        result = pane.query_one("#welcome-result", Static)
        # A URL where nothing listens fails the test, and nothing can be saved.
        pane.query_one("#welcome-url", Input).value = f"http://127.0.0.1:{no_local_servers[2]}/v1"
        pane.query_one("#welcome-model", Input).value = "echo"
        pane.query_one("#welcome-url", Input).focus()
        await pilot.press("ctrl+t")
        await settle(pilot, app)
        assert "✗" in _text(result) and "cannot connect" in _text(result)
        assert pane.query_one("#welcome-save", Button).disabled
        await pilot.press("ctrl+s")
        assert "Test the connection first" in _text(result)
        assert not (isolated_env.aiw_config / "config.toml").exists()
        # The fake server answers: the test passes, then Save writes the user config.
        pane.query_one("#welcome-url", Input).value = fake_llm.base_url
        await pilot.press("enter")  # Enter in a field tests too
        await settle(pilot, app)
        assert "✓" in _text(result) and "answered" in _text(result)
        assert not pane.query_one("#welcome-save", Button).disabled
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        config = tomllib.loads((isolated_env.aiw_config / "config.toml").read_text())
        assert config["default_provider"] == "custom"
        assert config["providers"]["custom"] == {
            "model": "openai/echo",
            "api_base": fake_llm.base_url,
        }
        # Without a restart: the chip names the saved model, the view is gone, a turn works.
        assert not _shown(app)
        chip = _model_chip(app)
        assert not chip.has_class("-warn") and "openai/echo" in str(chip.render())
        app.prompt.insert("hi")
        app.prompt.focus()
        await pilot.press("enter")
        await settle(pilot, app)
        answer = app.chat_log.views[-1]
        assert answer.info.status == "complete" and answer.text == fake_llm.reply
        assert fake_llm.chat_requests[-1]["json"]["model"] == "echo"


async def test_a_model_a_running_server_serves_is_offered_and_used(
    make_app: Any, fake_llm: Any, isolated_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ollama's port answers (the fake speaks /v1/models) but does not serve llama3.2.
    monkeypatch.setenv("AIW_PROVIDERS__OLLAMA__API_BASE", fake_llm.url)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert _shown(app)
        pane = _welcome(app)
        assert "does not serve llama3.2" in _text(pane.query_one("#welcome-title", Static))
        ways = _ways(app)
        index = next(i for i, w in enumerate(ways) if w.startswith("Use ollama/echo"))
        options = pane.query_one("#welcome-ways", OptionList)
        options.focus()
        options.highlighted = index
        await pilot.press("enter")  # fills the fields and tests the connection
        await settle(pilot, app)
        assert pane.query_one("#welcome-model", Input).value == "ollama/echo"
        assert "✓" in _text(pane.query_one("#welcome-result", Static))
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        config = tomllib.loads((isolated_env.aiw_config / "config.toml").read_text())
        assert config["default_provider"] == "ollama"
        assert config["providers"]["ollama"]["model"] == "ollama/echo"
        assert not _shown(app) and not _model_chip(app).has_class("-warn")


async def test_set_up_a_model_is_in_the_palette_and_a_working_model_is_not_flagged(
    echo_app: Any,
) -> None:
    app = echo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert not _shown(app)  # the command line's model answers
        assert not _model_chip(app).has_class("-warn")
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"set up a model")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot, app)
        assert _shown(app)
        assert "the current one answers" in _text(_welcome(app).query_one("#welcome-title"))
        assert _welcome(app).query_one("#welcome-ways", OptionList).has_focus
        await pilot.press("escape")
        await settle(pilot, app)
        assert not _shown(app)


async def test_a_command_line_model_that_does_not_answer_is_flagged(
    make_app: Any, no_local_servers: list[int]
) -> None:
    app = make_app(model="openai/echo", api_base=f"http://127.0.0.1:{no_local_servers[3]}/v1")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        chip = _model_chip(app)
        assert chip.has_class("-warn") and "openai/echo" in str(chip.render())
        assert _shown(app)
        title = _text(_welcome(app).query_one("#welcome-title", Static))
        assert "connection refused" in title


# --------------------------------------------------------------------- snapshot

# Below Linux's ephemeral range (32768-60999): no outgoing connection on this machine can be
# using one of them as its local port (47811-47814 once were, and the snapshot was skipped).
SNAPSHOT_PORTS = [29811, 29812, 29813, 29814]


def test_welcome_view_snapshot(
    snap_compare: Any, make_app: Any, isolated_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    empty = isolated_env.root / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no ollama / lms on this "fresh machine"
    try:
        held = hold_closed_ports(SNAPSHOT_PORTS)
    except OSError:
        pytest.skip(f"ports {SNAPSHOT_PORTS} are in use on this machine")
    point_local_servers_at(monkeypatch, SNAPSHOT_PORTS)

    async def run_before(pilot: Any) -> None:
        await settle(pilot, pilot.app)
        tried = pilot.app.chat.welcome.query_one("#welcome-tried", Static)
        text = str(tried.render())
        assert "4 model" not in text  # (sanity: nothing answered)
        # The probe's duration varies run to run: show a fixed one.
        report = pilot.app.chat.bar.report
        report.seconds = 0.0
        pilot.app.chat.welcome.show_report(report)
        await pilot.pause()

    try:
        assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)
    finally:
        for sock in held:
            sock.close()
