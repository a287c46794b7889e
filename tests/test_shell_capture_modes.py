"""The opt-in capture modes (docs/shell.md "Capture modes") in real bash and zsh under tmux.

``capture = "tee"``: a failed command's stderr (and only its stderr) is the event's output,
the error is on the screen before the next prompt, success leaves nothing, skip-listed
programs keep a terminal on fd 2, and vim/less work and leave the terminal sane.
``capture = "pty"``: under ``aiw shell pty`` the output between the OSC 133 marks is the
event's output (colours removed), window-size changes reach the shell, full-screen programs
work, and the proxy passes bytes and the exit status through. Plus the splitters on their own.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ai_workbench.shell.capture import clean_terminal_text, read_out_file
from ai_workbench.shell.pty_proxy import MarkSplitter
from ai_workbench.shell.spool import read_events, spool_dir
from ai_workbench.shell.tee import TeeSplitter
from tests.conftest import REPO_ROOT, IsolatedEnv
from tests.shell.tmux import PROMPT, TmuxShell, have, shell_env, wait_until
from tests.test_shell_hook import BASH_PREEXEC, _rc

needs_tmux = pytest.mark.skipif(not have("tmux", "bash", "zsh"), reason="needs tmux, bash, zsh")
PROXY = [sys.executable, "-m", "ai_workbench.shell.pty_proxy"]


def _config(env: IsolatedEnv, body: str) -> None:
    env.aiw_config.mkdir(parents=True, exist_ok=True)
    (env.aiw_config / "config.toml").write_text(f"[shell]\n{body}\n", encoding="utf-8")


def _tee_rc(env: IsolatedEnv, shell: str) -> str:
    # bash runs a preexec in the shell itself only through bash-preexec (no DEBUG trap of ours)
    before = f". {shlex.quote(str(BASH_PREEXEC))}" if shell == "bash" else ""
    return _rc(env, shell, before=before)


def _term(env: IsolatedEnv, shell: str, rc: str, **kw: object) -> TmuxShell:
    return TmuxShell(shell, rc, env.work, shell_env({"AIW_SHELL__AUTO_ANALYSE": "false"}), **kw)  # type: ignore[arg-type]


def _stored() -> list:
    from ai_workbench.shell.events import ShellEventStore
    from ai_workbench.store import Store

    async def go() -> list:
        store = await Store.open()
        try:
            return list(reversed(await ShellEventStore(store).recent(50)))
        finally:
            await store.close()

    return asyncio.run(go())


def _stored_n(count: int) -> list:
    return wait_until(lambda: (rows := _stored()) and len(rows) >= count and rows, timeout=30)


def _line(term: TmuxShell, command: str) -> str:
    """Run ``command``; the last line it printed (the one above the new prompt)."""
    lines = [ln for ln in term.run(command).splitlines() if ln.strip()]
    return lines[-2]


def _prompt_last(screen: str) -> bool:
    return screen.rstrip().endswith(PROMPT.strip())


# ------------------------------------------------------------------------------------ tee


@needs_tmux
@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_tee_keeps_the_stderr_of_a_failure_and_nothing_on_success(
    shell: str, isolated_env: IsolatedEnv
) -> None:
    _config(isolated_env, 'capture = "tee"')
    with _term(isolated_env, shell, _tee_rc(isolated_env, shell)) as term:
        term.run("true")
        term.run("ls / >/dev/null")
        screen = term.run("echo stdout-line; ls /nonexistent-tee-1; sh -c 'exit 5'")
        # the error went through the reader and is on the screen before the next prompt
        tail = screen[screen.rindex("nonexistent-tee-1; sh -c") :]
        assert "cannot access '/nonexistent-tee-1'" in tail.split(PROMPT.strip())[0]
        term.run("echo fine")
        (event,) = _stored_n(1)
        assert event.capture == "tee"
        assert "cannot access '/nonexistent-tee-1'" in event.stderr
        assert "stdout-line" not in event.stderr  # stderr only, not the screen
        # a second failure gets its own stderr, not the first one's
        term.run("sh -c 'echo second-error >&2; exit 4'")
        _, second = _stored_n(2)
        assert second.stderr == "second-error" and second.exit_code == 4
        assert [e.cmd for e in read_events(0)[0]] == [
            "echo stdout-line; ls /nonexistent-tee-1; sh -c 'exit 5'",
            "sh -c 'echo second-error >&2; exit 4'",
        ]
        # one reader for the shell's life, and the files it left were taken by the workers
        readers = subprocess.run(
            ["pgrep", "-f", f"{REPO_ROOT}/ai_workbench/shell/tee.py"],
            capture_output=True, text=True, check=False,
        ).stdout.split()  # fmt: skip
        assert len(readers) == 1
        wait_until(lambda: not list(spool_dir().glob("tee-*.err")))
        # Ctrl-C and Ctrl-\\ at the prompt reach the shell's process group: the reader lives on
        term.type("half-typed")
        term.keys("C-c")
        term.keys("C-\\")
        term.run("sh -c 'echo third-error >&2; exit 6'")
        assert _stored_n(3)[-1].capture == "tee"
        # the reader gone: the shell lives on, tees nothing more, falls back to the scrollback
        os.kill(int(readers[0]), signal.SIGKILL)
        assert _line(term, "bash -c '[ -t 2 ] && echo FD2-TTY'") == "FD2-TTY"
        term.run("ls /nonexistent-reader-gone")
        fourth = _stored_n(4)[-1]
        assert fourth.capture == "tmux" and "nonexistent-reader-gone" in fourth.stderr


def _less_then_vim(term: TmuxShell, work: Path, stty_before: str, *vim_lines: str) -> None:
    """Page notes.txt with less and quit it, then edit it in vim (``vim_lines``, each followed
    by Enter, add a line "third"); the edit is saved and the terminal is sane afterwards."""
    term.type("less notes.txt")
    term.keys("Enter")
    term.wait_for(lambda s: "line two" in s)
    term.keys("q")
    term.wait_for(_prompt_last)
    term.type("vim -u NONE -N notes.txt")
    term.keys("Enter")
    term.wait_for(lambda s: "line one" in s and "~" in s)
    for line in vim_lines:
        term.type(line)
        term.keys("Enter")
    term.wait_for(_prompt_last)
    assert (work / "notes.txt").read_text().endswith("third\n")
    # the terminal is sane: same modes, input echoes, commands run
    assert _line(term, "stty -g") == stty_before
    assert "sane-2" in term.run("echo sane-$((1+1))")


@needs_tmux
@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_tee_leaves_skip_listed_and_full_screen_programs_alone(
    shell: str, isolated_env: IsolatedEnv
) -> None:
    _config(isolated_env, 'capture = "tee"\ntee_skip = ["vim", "less", "sh", "=python3", '
            '"git commit* !*-*m *"]')  # fmt: skip
    probe = "[ -t 2 ] && echo FD2-TTY || echo FD2-PIPE"
    (isolated_env.work / "notes.txt").write_text("line one\nline two\n")
    with _term(isolated_env, shell, _tee_rc(isolated_env, shell)) as term:
        stty_before = _line(term, "stty -g")
        assert "FD2-TTY" in _line(term, f"sh -c {shlex.quote(probe)}")
        assert "FD2-PIPE" in _line(term, f"bash -c {shlex.quote(probe)}")
        assert "FD2-TTY" in _line(term, f"echo x | /bin/sh -c {shlex.quote(probe)}")
        for line, skipped in [
            ("vim notes.txt", 0), ("sudo -k", 1), ("python3", 0), ("python3 x.py", 1),
            ("git commit", 0), ("git commit --amend", 0), ("git commit -am 'msg'", 1),
            ("FOO=1 less x", 0), ("/usr/bin/less x", 0), ("make && less log", 0),
        ]:  # fmt: skip
            out = _line(term, f"_aiw_skip {shlex.quote(line)}; echo skip=$?")
            assert out == f"skip={skipped}", line

        _less_then_vim(term, isolated_env.work, stty_before, "Gothird\x1b:wq")
        # a failing skip-listed program is still reported, its output read from the scrollback
        term.run("less /nonexistent-less-file")
        term.run("ls /nonexistent-after-vim")
        first, second = _stored_n(2)
        assert first.capture == "tmux" and "nonexistent-less-file" in first.stderr
        assert second.capture == "tee" and "nonexistent-after-vim" in second.stderr


@needs_tmux
def test_tee_needs_a_preexec_in_bash(isolated_env: IsolatedEnv) -> None:
    """Without bash-preexec, bash has no pre-command hook that runs in the shell: tee stays
    off (no reader, nothing redirected) and failures fall back to the scrollback."""
    _config(isolated_env, 'capture = "tee"')
    with _term(isolated_env, "bash", _rc(isolated_env, "bash")) as term:
        out = term.run("bash -c '[ -t 2 ] && echo FD2-TTY'; ls /nonexistent-no-bp")
        assert "FD2-TTY" in out
        (event,) = _stored_n(1)
        assert event.capture == "tmux" and "nonexistent-no-bp" in event.stderr


# ------------------------------------------------------------------------------------ pty


def _pty_rc(env: IsolatedEnv, shell: str) -> str:
    """The real rc line: `aiw shell init` runs inside the proxied shell and sees its env."""
    prompt = f"PS1={shlex.quote(PROMPT)}"
    if shell == "zsh":
        prompt = f"PROMPT={shlex.quote(PROMPT)}\nunsetopt zle_bracketed_paste 2>/dev/null"
    init = f"{shlex.quote(sys.executable)} -m ai_workbench shell init {shell}"
    return f'{prompt}\neval "$({init})"\n'


@needs_tmux
@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_pty_keeps_the_output_between_the_marks_of_a_failure(
    shell: str, isolated_env: IsolatedEnv
) -> None:
    with _term(isolated_env, shell, _pty_rc(isolated_env, shell), wrap=PROXY) as term:
        term.run("echo before")
        term.run("true")
        term.run(r"""sh -c 'echo out-line; printf "\033[31mred-error\033[0m\n" >&2; exit 3'""")
        term.run("ls / >/dev/null")
        (event,) = _stored_n(1)
        assert event.capture == "pty"
        assert event.stderr == "out-line\nred-error"  # merged, colour codes gone, no prompt
        assert event.exit_code == 3
        # window-size changes reach the shell through the proxy
        term._tmux("resize-window", "-x", "101", "-y", "33")
        term.wait_for(lambda s: "33 101" in term.run("stty size"), timeout=10)
        assert _line(term, "echo $AIW_SHELL__CAPTURE") == "pty"
        wait_until(lambda: not list(spool_dir().glob("pty-*.out")))


@needs_tmux
@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_pty_full_screen_programs_work_and_stay_out_of_the_output(
    shell: str, isolated_env: IsolatedEnv
) -> None:
    (isolated_env.work / "notes.txt").write_text("line one\nline two\n")
    with _term(isolated_env, shell, _pty_rc(isolated_env, shell), wrap=PROXY) as term:
        stty_before = _line(term, "stty -g")
        # vim fails (:cq) after drawing its screen: the alternate screen is not the output
        _less_then_vim(term, isolated_env.work, stty_before, "Gothird\x1b:w", ":cq")
        (event,) = _stored_n(1)
        assert event.command == "vim -u NONE -N notes.txt" and event.capture == "pty"
        assert "line one" not in (event.stderr or "")


def test_pty_proxy_passes_bytes_and_exit_status_through(isolated_env: IsolatedEnv, run_aiw) -> None:
    script = "printf 'tab\\there\\n'; printf '\\033]133;D;9\\007after\\n'; exit 7\n"
    done = run_aiw("shell", "pty", "bash", "--norc", "--noprofile", "-i", input=script,
                   env={"PS1": "$ "})  # fmt: skip
    assert done.returncode == 7
    assert "tab\there" in done.stdout
    assert "\x1b]133;D;9\x07after" in done.stdout  # marks reach the terminal unchanged
    killed = subprocess.run(
        [*PROXY, "bash", "--norc", "--noprofile", "-i"],
        input=b"kill -KILL $$\n", capture_output=True, env=shell_env(), timeout=30, check=False,
    )  # fmt: skip
    assert killed.returncode == 128 + 9  # a signal, as a shell reports it


def test_pty_proxy_refuses_to_nest(run_aiw) -> None:
    done = run_aiw("shell", "pty", env={"AIW_PTY_PID": str(os.getpid())})
    assert done.returncode == 1 and '[ -z "$AIW_PTY" ]' in done.stderr


# ------------------------------------------------------------------------- the splitters


def test_mark_splitter_saves_failures_only_across_split_reads(tmp_path: Path) -> None:
    splitter = MarkSplitter(tmp_path, keep=64)
    stream = (
        b"\x1b]133;A\x07$ \x1b]133;B\x07ok\r\n\x1b]133;C\x07fine\r\n\x1b]133;D;0;aiw=1-1\x07"
        b"\x1b]133;A\x07$ \x1b]133;C\x07\x1b[1mbold\x1b[0m err\r\n"
        b"\x1b[?1049hFULLSCREEN\x1b[?1049l" + b"x" * 100 + b"\r\nlast line\r\n"
        b"\x1b]133;D;2;aiw=1-2\x1b\\\x1b]133;A\x07$ "
        b"\x1b]133;C\x07no id\r\n\x1b]133;D;1\x07"
    )
    for at in range(0, len(stream), 7):  # marks cut at every possible place
        splitter.feed(stream[at : at + 7])
    assert [p.name for p in splitter.saved] == ["pty-1-2.out"]
    text = clean_terminal_text((tmp_path / "pty-1-2.out").read_bytes())
    assert text.endswith("x" * 20 + "\nlast line")  # the last 64 bytes only
    assert "FULLSCREEN" not in text
    assert (tmp_path / "pty-1-2.out").stat().st_mode & 0o777 == 0o600


def test_tee_splitter_finds_markers_cut_anywhere() -> None:
    splitter = TeeSplitter(b"123")
    stream = b"a\x1e12\x1e123S1-1\nerr one\n\x1e123E2 1-1\ntrailing\x1e1"
    pieces = []
    for at in range(len(stream)):
        pieces += splitter.feed(stream[at : at + 1])
    text = b"".join(p for kind, p in pieces if kind == "text")
    assert text == b"a\x1e12err one\ntrailing"  # a lone partial marker is held back
    assert [(k, p) for k, p in pieces if k != "text"] == [("S", b"1-1"), ("E", b"2 1-1")]


def test_clean_terminal_text_and_out_files_confined_to_the_spool(
    isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    assert clean_terminal_text(b"\x1b[32m10%\r50%\r100%\x1b[0m\r\nab\bc\r\n\r\n") == "100%\nac"
    spool = spool_dir()
    spool.mkdir(parents=True)
    outside = tmp_path / "tee-1-1.err"
    outside.write_text("secret")
    assert read_out_file(str(outside), "tee", spool) is None
    assert outside.exists()
    inside = spool / "tee-1-1.err"
    inside.write_bytes(b"boom\n")
    got = read_out_file(str(inside), "tee", spool)
    assert got is not None and (got.text, got.source) == ("boom", "tee")
    assert not inside.exists()
    (spool / "notes.txt").write_text("x")
    assert read_out_file(str(spool / "notes.txt"), "tee", spool) is None
