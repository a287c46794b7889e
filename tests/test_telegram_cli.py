"""`aiw telegram` as the owner runs it: the token from the environment (a clear line when it is
missing or refused), the bot as a real process stopped by SIGTERM, settings a project file may
not set, and python-telegram-bot loaded only when the bot runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, IsolatedEnv, RunAiw
from tests.fake_telegram import TOKEN, FakeTelegram

WRONG_TOKEN = "7000000001:AAWrongTokenWrongTokenWrong00000000"


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def configure(env: IsolatedEnv, base_url: str, extra: str = "") -> None:
    env.write_user_config(
        f'[telegram]\nbase_url = "{base_url}"\npoll_timeout = 1\nedit_interval = 0.2\n{extra}'
    )


def test_missing_token_is_one_clear_line(run_aiw: RunAiw, isolated_env: IsolatedEnv) -> None:
    result = run_aiw("telegram")
    assert result.returncode == 4
    assert result.stderr.strip().splitlines() == [
        "aiw: error: no Telegram bot token: set the environment variable AIW_TELEGRAM_TOKEN to "
        "the token @BotFather gave you (telegram.token_env names the variable; docs/telegram.md)"
    ]
    configure(isolated_env, "http://127.0.0.1:9/bot", 'token_env = "MY_BOT_TOKEN"\n')
    named = run_aiw("telegram", "run")
    assert named.returncode == 4 and "variable MY_BOT_TOKEN" in named.stderr


def test_a_token_in_the_config_is_refused(run_aiw: RunAiw, isolated_env: IsolatedEnv) -> None:
    configure(isolated_env, "http://127.0.0.1:9/bot", f'token_env = "{TOKEN}"\n')
    result = run_aiw("telegram", env={"AIW_TELEGRAM_TOKEN": TOKEN})
    assert result.returncode == 2
    assert "telegram.token_env" in result.stderr and "not the token itself" in result.stderr
    assert TOKEN not in result.stderr


def test_a_project_file_cannot_configure_the_bot(
    run_aiw: RunAiw, isolated_env: IsolatedEnv
) -> None:
    project = isolated_env.work / "proj"
    (project / ".git").mkdir(parents=True)
    (project / ".aiw.toml").write_text('[telegram]\nbase_url = "http://evil.example/bot"\n')
    result = run_aiw("telegram", cwd=project, env={"AIW_TELEGRAM_TOKEN": TOKEN})
    assert result.returncode == 2
    assert "a project file cannot configure the Telegram bot" in result.stderr


def test_a_refused_token_is_one_clear_line_without_the_token(
    run_aiw: RunAiw, isolated_env: IsolatedEnv, fake_tg: FakeTelegram
) -> None:
    configure(isolated_env, fake_tg.base_url)
    result = run_aiw("telegram", env={"AIW_TELEGRAM_TOKEN": WRONG_TOKEN}, timeout=60)
    assert result.returncode == 4, result.stderr
    assert "Telegram refused the bot token in $AIW_TELEGRAM_TOKEN" in result.stderr
    assert "@BotFather" in result.stderr
    assert WRONG_TOKEN not in result.stderr + result.stdout
    assert "WrongToken" not in result.stderr + result.stdout


def test_an_unreachable_server_is_one_clear_line(
    run_aiw: RunAiw, isolated_env: IsolatedEnv
) -> None:
    configure(isolated_env, "http://127.0.0.1:9/bot")
    result = run_aiw("telegram", env={"AIW_TELEGRAM_TOKEN": TOKEN}, timeout=90)
    assert result.returncode == 9, result.stderr
    assert "cannot reach the Telegram Bot API at http://127.0.0.1:9/bot" in result.stderr
    assert TOKEN not in result.stderr


def test_the_bot_runs_as_a_process_and_stops_on_sigterm(
    isolated_env: IsolatedEnv, fake_tg: FakeTelegram
) -> None:
    configure(isolated_env, fake_tg.base_url)
    env = dict(os.environ, AIW_TELEGRAM_TOKEN=TOKEN, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai_workbench", "telegram"],
        cwd=isolated_env.work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        fake_tg.wait_for(lambda: fake_tg.methods("getUpdates"), timeout=60)
        fake_tg.user_says(77, "/start", username="bob")
        [message] = fake_tg.wait_for(lambda: fake_tg.chat(77))
        assert "Your pairing code is" in message.text
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "@aiw_test_bot is listening" in err
    assert "@bob (id 77) asked to pair" in err
    assert "stopped" in err
    assert TOKEN not in out + err
    code = message.text.split("Your pairing code is ")[1].split()[0]
    assert code not in err  # the code goes to the user only


def test_users_and_pending_when_empty(run_aiw: RunAiw) -> None:
    users = run_aiw("telegram", "users")
    pending = run_aiw("telegram", "pending")
    as_json = run_aiw("telegram", "users", "--json")
    unpair = run_aiw("telegram", "unpair", "nobody")
    bad_name = run_aiw("telegram", "pair", "ABCDEFGH", "--as", "no spaces please")
    assert users.returncode == 0 and "no paired Telegram users" in users.stdout
    assert pending.returncode == 0 and "no pairing requests waiting" in pending.stdout
    assert json.loads(as_json.stdout) == []
    assert unpair.returncode == 3 and "no paired Telegram user" in unpair.stderr
    assert bad_name.returncode == 3 and "--as 'no spaces please'" in bad_name.stderr


def test_python_telegram_bot_loads_only_when_the_bot_runs(isolated_env: IsolatedEnv) -> None:
    code = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: sys.stderr.write('MODULES ' + json.dumps(sorted(sys.modules))))\n"
        "from ai_workbench.cli.main import main\n"
        "import ai_workbench.telegram.links, ai_workbench.telegram.split\n"
        "try:\n"
        "    main(args=['telegram', 'users'], prog_name='aiw')\n"
        "finally:\n"
        "    main(args=['telegram', '--help'], prog_name='aiw')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=isolated_env.work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Usage: aiw telegram" in result.stdout, result.stderr
    modules = json.loads(result.stderr.rsplit("MODULES ", 1)[1])
    loaded = {name.split(".", 1)[0] for name in modules}
    assert "ai_workbench" in loaded
    for heavy in ("telegram", "litellm", "chromadb", "textual", "markdown_it"):
        assert heavy not in loaded, f"`aiw telegram users` imports {heavy}"


def test_the_cli_module_itself_is_light(isolated_env: IsolatedEnv) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", "import ai_workbench.cli.telegram, sys; print('telegram' in "
         "sys.modules)"],
        cwd=Path(isolated_env.work), env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.stdout.strip() == "False", result.stderr
    assert time.monotonic() - started < 30
