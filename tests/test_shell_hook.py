"""The shell hook in real bash and zsh driven through tmux, with the loopback model.

A failing command must give one spool event, a stored event with the output read from tmux's
scrollback, and a ``shell`` suggestion with the explanation and classified fixes; success,
signals, answers (grep 1), an empty Enter, ignored commands and sensitive dirs give nothing;
the hook lives next to other PROMPT_COMMAND users and bash-preexec; `aiw off` stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_workbench.shell.integration import render_init
from ai_workbench.shell.spool import read_events, spool_file
from tests.conftest import IsolatedEnv
from tests.fake_llm import FakeLLM
from tests.shell.tmux import PROMPT, TmuxShell, have, shell_env, wait_until

pytestmark = pytest.mark.skipif(not have("tmux", "bash", "zsh"), reason="needs tmux, bash, zsh")

BASH_PREEXEC = Path(__file__).parent / "shell" / "bash-preexec.sh"

REPLY = json.dumps(
    {
        "explanation": "The file **missing.txt** does not exist in this directory.",
        "suggestions": [
            {"description": "List the files here", "command": "ls -la", "risk_level": "safe"},
            {"description": "Start over", "command": "rm -rf ~", "risk_level": "safe"},
        ],
    }
)


def _init_file(env: IsolatedEnv, shell: str) -> Path:
    path = env.root / f"aiw-init.{shell}"
    path.write_text(render_init(shell), encoding="utf-8")  # type: ignore[arg-type]
    return path


def _rc(env: IsolatedEnv, shell: str, before: str = "", after: str = "") -> str:
    prompt = f"PS1={shlex.quote(PROMPT)}\n"
    if shell == "zsh":
        prompt = f"PROMPT={shlex.quote(PROMPT)}\nunsetopt zle_bracketed_paste 2>/dev/null\n"
    return f"{prompt}{before}\n. {shlex.quote(str(_init_file(env, shell)))}\n{after}\n"


def _shell(env: IsolatedEnv, fake: FakeLLM | None, shell: str, rc: str, **kw: object) -> TmuxShell:
    extra = {"AIW_SHELL__AUTO_ANALYSE": "false"}
    if fake is not None:
        extra = {"AIW_SHELL__MODEL": "openai/echo", "AIW_SHELL__API_BASE": fake.url}
    return TmuxShell(shell, rc, env.work, shell_env(extra), **kw)  # type: ignore[arg-type]


def _events() -> list:
    return read_events(0)[0]


def _db_events() -> list:
    from ai_workbench.shell.events import ShellEventStore
    from ai_workbench.store import Store

    async def go() -> list:
        store = await Store.open()
        try:
            return await ShellEventStore(store).recent(50)
        finally:
            await store.close()

    return asyncio.run(go())


def _suggestions() -> list:
    from ai_workbench.store import Store
    from ai_workbench.suggestions.service import SuggestionQueue

    async def go() -> list:
        store = await Store.open()
        try:
            return await SuggestionQueue(store).list(kind="shell")
        finally:
            await store.close()

    return asyncio.run(go())


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_failure_becomes_event_and_suggestion_with_classified_fixes(
    shell: str, isolated_env: IsolatedEnv, fake_llm: FakeLLM
) -> None:
    fake_llm.reply = REPLY
    with _shell(isolated_env, fake_llm, shell, _rc(isolated_env, shell)) as term:
        term.run("cat missing.txt")
        events = wait_until(_events)
        assert len(events) == 1
        event = events[0]
        assert (event.cmd, event.status, event.shell) == ("cat missing.txt", 1, shell)
        assert event.cwd == str(isolated_env.work)
        assert event.t1 >= event.t0 > 0

        items = wait_until(_suggestions, timeout=30)
        (item,) = items
        assert item.title == "`cat missing.txt` failed (exit 1)"
        assert "missing.txt** does not exist" in item.body
        commands = item.payload["commands"]
        assert commands[0] == {"description": "List the files here", "command": "ls -la",
                               "risk_level": "safe"}  # fmt: skip
        # the model called it safe; aiw's classifier knows better
        assert commands[1]["command"] == "rm -rf ~"
        assert commands[1]["risk_level"] == "dangerous"
        assert item.payload["command"] == "ls -la"
        assert [a.id for a in item.actions][:3] == ["run", "copy", "ask"]

        (stored,) = _db_events()
        assert "No such file or directory" in (stored.stderr or "")
        assert stored.capture == "tmux"
        assert PROMPT.strip() not in stored.stderr
        # the model saw the output read from tmux's scrollback
        sent = fake_llm.chat_requests[-1]["json"]["messages"][-1]["content"]
        assert "cat missing.txt" in sent and "No such file or directory" in sent
        # the prompt came back at once: the shell is usable while the analysis runs
        assert term.screen().rstrip().endswith(PROMPT.strip())


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_success_signals_answers_empty_enter_ignored_and_sensitive_give_nothing(
    shell: str, isolated_env: IsolatedEnv
) -> None:
    secret_dir = isolated_env.home / ".ssh"
    secret_dir.mkdir()
    config = isolated_env.aiw_config
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(
        '[shell]\nignore = ["make lint*"]\nsensitive_dirs = ["~/.ssh"]\n'
    )
    with _shell(isolated_env, None, shell, _rc(isolated_env, shell)) as term:
        for command in (
            "true",
            "ls /",
            "sh -c 'kill -INT $$'",  # 130
            "sh -c 'exit 141'",
            "grep nothing-here /etc/hostname",
            "echo abc | grep -q zzz",
            "test -f /nonexistent",
            "[ 1 = 2 ]",
            "git diff --quiet --no-index /etc/hostname /etc/hostname-nope-x; true",
            "command -v no-such-command-aiw",
            "make lint-everything",
            f"cd {secret_dir} && false",
            "cd -",
        ):
            term.run(command)
        # an empty Enter after a failure must not repeat it: fail once, then Enter twice
        term.run("false; cd .")  # status 0: nothing
        term.run("sh -c 'exit 3'")
        term.run("")
        term.run("")
        wait_until(_events)
        assert [e.cmd for e in _events()] == ["sh -c 'exit 3'"]
        assert _events()[0].status == 3


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_exit_127_and_2_count_even_for_grep(shell: str, isolated_env: IsolatedEnv) -> None:
    with _shell(isolated_env, None, shell, _rc(isolated_env, shell)) as term:
        term.run("grep -q x /nonexistent/file")  # grep 2: an error, not an answer
        term.run("no-such-command-aiw-xyz")
        wait_until(lambda: len(_events()) == 2)
        assert [(e.cmd, e.status) for e in _events()] == [
            ("grep -q x /nonexistent/file", 2),
            ("no-such-command-aiw-xyz", 127),
        ]


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_aiw_off_stops_events_without_resourcing(
    shell: str, isolated_env: IsolatedEnv, run_aiw
) -> None:
    with _shell(isolated_env, None, shell, _rc(isolated_env, shell)) as term:
        assert run_aiw("off").returncode == 0
        term.run("false")
        term.run("ls /nonexistent-aiw")
        assert run_aiw("on").returncode == 0
        term.run("ls /nonexistent-aiw-2")
        wait_until(_events)
        assert [e.cmd for e in _events()] == ["ls /nonexistent-aiw-2"]


@contextlib.contextmanager
def _bash_after_one_failure(
    isolated_env: IsolatedEnv, before: str, failing: str
) -> Iterator[TmuxShell]:
    """Bash with ``before`` in its rc ahead of aiw's block; ``failing`` fails, ``true`` does not,
    and the spool holds exactly the failure. Yields the terminal."""
    with _shell(isolated_env, None, "bash", _rc(isolated_env, "bash", before=before)) as term:
        term.run(failing)
        term.run("true")
        wait_until(_events)
        assert [e.cmd for e in _events()] == [failing]
        yield term


def test_bash_keeps_an_existing_string_prompt_command(isolated_env: IsolatedEnv) -> None:
    marker = isolated_env.root / "pc-ran"
    before = f'PROMPT_COMMAND="echo -n x >> {marker}; history -a"'
    with _bash_after_one_failure(isolated_env, before, "ls /nonexistent-string"):
        assert marker.read_text().count("x") >= 3  # theirs ran at every prompt


def test_bash_keeps_an_existing_array_prompt_command(isolated_env: IsolatedEnv) -> None:
    marker = isolated_env.root / "pc-ran"
    before = f"PROMPT_COMMAND=('echo -n a >> {marker}' 'echo -n b >> {marker}')"
    with _bash_after_one_failure(isolated_env, before, "ls /nonexistent-array") as term:
        text = marker.read_text()
        assert text.count("a") >= 3 and text.count("b") >= 3
        out = term.run("declare -p PROMPT_COMMAND")
        assert "declare -a PROMPT_COMMAND" in out and "_aiw_precmd" in out


@pytest.mark.skipif(not BASH_PREEXEC.exists(), reason="bash-preexec.sh not vendored")
def test_bash_joins_bash_preexec(isolated_env: IsolatedEnv) -> None:
    marker = isolated_env.root / "preexec-ran"
    before = (
        f". {shlex.quote(str(BASH_PREEXEC))}\n"
        f'mine() {{ echo "$1" >> {marker}; }}\npreexec_functions+=(mine)\n'
    )
    with _shell(isolated_env, None, "bash", _rc(isolated_env, "bash", before=before)) as term:
        term.run("ls /nonexistent-bp")
        term.run("true")
        wait_until(_events)
        assert [(e.cmd, e.status) for e in _events()] == [("ls /nonexistent-bp", 2)]
        assert marker.read_text().splitlines() == ["ls /nonexistent-bp", "true"]
        out = term.run("echo ${precmd_functions[*]} / $(trap -p DEBUG | wc -l)")
        assert "_aiw_bp_precmd" in out


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_leading_space_commands_stay_private(shell: str, isolated_env: IsolatedEnv) -> None:
    before = "HISTCONTROL=ignorespace" if shell == "bash" else "setopt HIST_IGNORE_SPACE"
    with _shell(isolated_env, None, shell, _rc(isolated_env, shell, before=before)) as term:
        term.run(" ls /nonexistent-private")
        term.run("ls /nonexistent-public")
        wait_until(_events)
        assert [e.cmd for e in _events()] == ["ls /nonexistent-public"]


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_less_and_vim_still_work_with_the_hook(shell: str, isolated_env: IsolatedEnv) -> None:
    (isolated_env.work / "notes.txt").write_text("line one\nline two\n")
    with _shell(isolated_env, None, shell, _rc(isolated_env, shell)) as term:
        term.type("less notes.txt")
        term.keys("Enter")
        term.wait_for(lambda s: "line two" in s)
        term.keys("q")
        term.wait_for(lambda s: s.rstrip().endswith(PROMPT.strip()))
        if have("vim"):
            term.type("vim -u NONE -N notes.txt")
            term.keys("Enter")
            term.wait_for(lambda s: "line one" in s and "~" in s)
            term.type("Gothird\x1b:wq")
            term.keys("Enter")
            term.wait_for(lambda s: s.rstrip().endswith(PROMPT.strip()))
            assert (isolated_env.work / "notes.txt").read_text().endswith("third\n")
        term.run("ls /nonexistent-after-less")
        wait_until(_events)
        assert len(_events()) == 1


def test_secrets_in_command_and_output_never_reach_the_model(
    isolated_env: IsolatedEnv, fake_llm: FakeLLM
) -> None:
    fake_llm.reply = REPLY
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    aws = "AKIA" + "IOSFODNN7EXAMPLE"
    with _shell(isolated_env, fake_llm, "bash", _rc(isolated_env, "bash")) as term:
        term.run(
            f"echo 'using password={aws}' >&2; curl -H 'Authorization: token {token}' http://127.0.0.1:9/x"
        )
        wait_until(lambda: fake_llm.chat_requests, timeout=30)
        body = json.dumps(fake_llm.chat_requests[-1]["json"])
        assert token not in body and aws not in body
        assert "[REDACTED:" in body
        assert "curl" in body
        wait_until(_suggestions, timeout=30)
        stored = _db_events()[0]
        assert token not in stored.command and aws not in (stored.stderr or "")


def test_spool_lines_are_whole_json_when_shells_write_at_once(isolated_env: IsolatedEnv) -> None:
    """Two shells failing in a burst: every spool line parses (single-write appends)."""
    rc = _rc(isolated_env, "bash")
    with (
        _shell(isolated_env, None, "bash", rc) as one,
        _shell(isolated_env, None, "bash", rc, width=200) as two,
    ):
        for n in range(5):
            one.type(f"ls /nonexistent-one-{n} {'x' * 300}")
            one.keys("Enter")
            two.type(f"ls /nonexistent-two-{n} {'y' * 300}")
            two.keys("Enter")
        wait_until(lambda: len(_events()) == 10, timeout=30)
    raw = spool_file().read_text().splitlines()
    assert len(raw) == 10 and all(json.loads(line)["status"] == 2 for line in raw)


def test_python_of_the_worker_is_this_interpreter() -> None:
    assert f"_aiw_py={sys.executable}" in render_init("bash")


@pytest.mark.skipif(not have("strace"), reason="needs strace")
@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_success_spawns_no_process(shell: str, isolated_env: IsolatedEnv) -> None:
    """strace -f over 50 successful prompts after start-up: no fork, clone or execve."""
    import re
    import subprocess

    rc = _rc(isolated_env, shell)
    env = shell_env({"HISTFILE": "/dev/null"})
    if shell == "bash":
        rc_file = isolated_env.root / "nofork.bashrc"
        rc_file.write_text(rc)
        argv = ["bash", "--noprofile", "--rcfile", str(rc_file), "-i"]
    else:
        zdot = isolated_env.root / "zdot-nofork"
        zdot.mkdir()
        (zdot / ".zshrc").write_text(rc)
        env["ZDOTDIR"] = str(zdot)
        argv = ["zsh", "-i"]
    log = isolated_env.root / "strace.log"
    script = "echo aiw-start-mark\n" + "ls / >/dev/null\n:\n" * 25 + "ls /nonexistent-x\nexit 0\n"
    subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=fork,vfork,clone,clone3,execve,write", "-o", str(log),
         *argv],
        input=script, text=True, env=env, capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    lines = log.read_text(errors="replace").splitlines()
    start = next(i for i, line in enumerate(lines) if "aiw-start-mark" in line)
    fail_at = next(
        i for i, line in enumerate(lines) if "execve(" in line and "nonexistent-x" in line
    )
    execs = [line for line in lines[start:fail_at] if re.search(r"\bexecve\(", line)]
    # 25 successful `ls` and 25 `:`: the only programs started are the 25 `ls` themselves
    assert len(execs) == 25 and all('"ls", "/"' in line for line in execs), execs
    forks = [line for line in lines[start:fail_at] if re.search(r"\b(?:clone3?|v?fork)\(", line)]
    assert len(forks) == 26  # the 25 `ls` and the failing one (its fork precedes its exec)
    # the failure starts the worker (detached), and only then
    assert any("ai_workbench.cli.shell_worker" in line for line in lines[fail_at:])


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_list_status_history_and_scrubbed_spool(shell: str, isolated_env: IsolatedEnv) -> None:
    """`a && diff x y` failing in `a` is reported; the event carries this session's own
    commands (redacted; not the stale $HISTFILE); once stored, no raw secret stays in the
    spool, which keeps mode 0600 in a 0700 dir."""
    import os
    import stat

    histfile = Path(shell_env()["HISTFILE"])
    histfile.write_text("stale-command-from-an-old-session\n")
    before = "SAVEHIST=100\nHISTSIZE=100\n" if shell == "zsh" else ""
    with _shell(isolated_env, None, shell, _rc(isolated_env, shell, before=before)) as term:
        term.run("echo first-step")
        term.run("echo PGPASSWORD=pg-secret-77 >/dev/null")
        term.run("sh -c 'exit 1' && diff /etc/hostname /etc/hostname")
        term.run("mysql -uroot -phunter2xyz shop")  # fails: not installed, or no server
        stored = wait_until(lambda: len(_db_events()) == 2 and _db_events(), timeout=30)
        by_cmd = {e.command.split()[0]: e for e in stored}
        assert by_cmd["sh"].exit_code == 1  # diff's 1 is no answer after `&&`
        failed = by_cmd["mysql"]
        assert "hunter2xyz" not in failed.command
        history = (failed.context or {}).get("history")
        assert history == [
            "echo first-step",
            "echo PGPASSWORD=[REDACTED:password] >/dev/null",
            "sh -c 'exit 1' && diff /etc/hostname /etc/hostname",
        ]

        def scrubbed() -> bool:
            return "hunter2xyz" not in spool_file().read_text()

        wait_until(scrubbed)
        assert [e.cmd for e in _events()] == [e.command for e in reversed(stored)]
        assert "pg-secret-77" not in spool_file().read_text()
        assert stat.S_IMODE(spool_file().stat().st_mode) == 0o600
        assert stat.S_IMODE(os.stat(spool_file().parent).st_mode) == 0o700
