"""Model text and provider errors cannot drive the user's terminal (issue 13, item 4).

A hostile model (the fake LLM's ``hostile`` model) answers with OSC 52 (clipboard), OSC 0
(title), OSC 8 (links), CSI clear-screen/cursor moves, DCS and 8-bit CSI, some of them split
across stream chunks. Through the real CLI, none of that reaches stdout or the database: in a
pipe no ESC at all, on a terminal only the sequences rich itself writes for its styling.
"""

from __future__ import annotations

import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ai_workbench.core.sanitize import StreamSanitizer, strip_controls
from tests.conftest import REPO_ROOT, IsolatedEnv, RunAiw
from tests.fake_llm import HOSTILE_REPLY, FakeLLM

VISIBLE = "Hello  there cleared click red backspace done  end"
# Bytes that must never reach a terminal from model text.
FORBIDDEN = (b"\x1b]52", b"\x1b]0;", b"\x1b]8;;https://evil", b"\x1b[2J", b"\x1b[3;1H",
             b"\x1bP", b"\x1b[?1049h", b"\xc2\x9b", b"\x07", b"\r\x08")  # fmt: skip
# What rich writes itself on a terminal: SGR styling, cursor up / erase line for Live, cursor
# show/hide, and OSC 8 links of its own (never to the hostile target, checked above).
RICH_OWN = re.compile(
    rb"\x1b\[[0-9;]*m|\x1b\[\d*[ABCDK]|\x1b\[2K|\x1b\[\?25[lh]|\x1b\]8;[^\x1b\x07]*(?:\x1b\\|\x07)"
)
ANY_ESC = re.compile(rb"\x1b|\xc2[\x80-\x9f]")


def ask(fake: FakeLLM, *rest: str) -> list[str]:
    return ["ask", "--model", "openai/hostile", "--api-base", fake.base_url, *rest]


def db_rows(env: IsolatedEnv, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(env.aiw_data / "aiw.db")
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


# --- the function ------------------------------------------------------------------------------


def test_strip_controls_removes_whole_sequences_and_keeps_text() -> None:
    assert strip_controls(HOSTILE_REPLY) == VISIBLE
    assert strip_controls("tabs\tand\nnewlines stay") == "tabs\tand\nnewlines stay"
    assert strip_controls("naïve — ünïcödé ✓") == "naïve — ünïcödé ✓"
    # an unterminated OSC loses its introducer only: the text stays, as text
    assert strip_controls("a\x1b]0;no end") == "a0;no end"
    assert strip_controls("lone \x1b") == "lone "


@pytest.mark.parametrize("seed", range(40))
def test_stream_sanitizer_matches_whole_text_however_it_is_split(seed: int) -> None:
    import random

    rng = random.Random(seed)
    text = HOSTILE_REPLY * 2
    cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, 30)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    clean = StreamSanitizer()
    out = "".join(clean.feed(p) for p in pieces) + clean.flush()
    assert out == strip_controls(text)
    assert "\x1b" not in out


# --- aiw ask, piped and on a terminal ---------------------------------------------------------


def test_piped_answer_has_no_escape_at_all_and_db_is_clean(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    done = run_aiw(*ask(fake_llm, "hi"))
    assert done.returncode == 0, done.stderr
    out = done.stdout.encode()
    assert not ANY_ESC.search(out), out
    assert done.stdout == VISIBLE + "\n"
    assert not ANY_ESC.search(done.stderr.encode())
    (content,) = db_rows(isolated_env, "SELECT content FROM messages WHERE role = 'assistant'")[0]
    assert content == VISIBLE
    # and the replay: sessions show / export, piped
    (sid,) = db_rows(isolated_env, "SELECT id FROM sessions")[0]
    for args in (
        ("show", str(sid)),
        ("export", str(sid)),
        ("export", str(sid), "--format", "json"),
    ):
        shown = run_aiw("sessions", *args)
        assert shown.returncode == 0, shown.stderr
        assert not ANY_ESC.search(shown.stdout.encode()), args
        assert not re.search(r"\\u001b|\\u009b", shown.stdout), args


def _run_on_a_terminal(args: list[str], cwd: Path) -> bytes:
    """Run aiw with stdout on a pseudo-terminal; return every byte it wrote there."""
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100", LINES="40")
    env["PYTHONPATH"] = str(REPO_ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai_workbench", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
    )
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break  # the child closed its end
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
        proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else b""
    return out


def test_terminal_answer_has_only_riches_own_sequences(
    fake_llm: FakeLLM, isolated_env: IsolatedEnv, run_aiw: RunAiw
) -> None:
    out = _run_on_a_terminal(ask(fake_llm, "hi"), isolated_env.work)
    for bad in FORBIDDEN:
        assert bad not in out, (bad, out)
    leftover = ANY_ESC.search(RICH_OWN.sub(b"", out))
    assert leftover is None, out
    assert b"click" in out and b"backspace" in out
    (sid,) = db_rows(isolated_env, "SELECT id FROM sessions")[0]
    shown = _run_on_a_terminal(["sessions", "show", str(sid)], isolated_env.work)
    for bad in FORBIDDEN:
        assert bad not in shown, (bad, shown)
    assert ANY_ESC.search(RICH_OWN.sub(b"", shown)) is None, shown


def test_old_rows_with_raw_sequences_are_cleaned_when_shown(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    fake_llm.reply = "plain"
    assert (
        run_aiw("ask", "--model", "openai/echo", "--api-base", fake_llm.base_url, "x").returncode
        == 0
    )
    conn = sqlite3.connect(isolated_env.aiw_data / "aiw.db")
    conn.execute("UPDATE messages SET content = ?, error = ? WHERE role = 'assistant'",
                 (HOSTILE_REPLY, "bad \x1b]0;t\x07 error"))  # fmt: skip
    conn.commit()
    (sid,) = conn.execute("SELECT id FROM sessions").fetchone()
    conn.close()
    shown = run_aiw("sessions", "show", sid)
    assert shown.returncode == 0, shown.stderr
    assert not ANY_ESC.search(shown.stdout.encode())
    assert VISIBLE in shown.stdout


def test_provider_error_body_cannot_drive_the_terminal(run_aiw: RunAiw, fake_llm: FakeLLM) -> None:
    fake_llm.error_message = "bad request \x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J here \x9b1A"
    done = run_aiw("ask", "--model", "openai/fail-500", "--api-base", fake_llm.base_url, "hi",
                   env={"AIW_MAX_RETRIES": "0"})  # fmt: skip
    assert done.returncode == 7, done.stderr
    assert "bad request" in done.stderr and "here" in done.stderr
    assert not ANY_ESC.search(done.stderr.encode()), done.stderr
    assert not ANY_ESC.search(done.stdout.encode())


def test_json_escaped_sequences_in_a_shell_analysis_are_removed() -> None:
    from ai_workbench.shell.analysis import parse_reply

    reply = (
        '{"explanation": "missing file\\u001b]52;c;ZWNobyBwd25lZA==\\u0007 fixed", '
        '"suggestions": [{"command": "ls\\u001b[2J -la", "description": "list\\u009b1A"}]}'
    )
    explanation, items = parse_reply(reply)
    assert explanation == "missing file fixed"
    assert items[0]["command"] == "ls -la"
    assert items[0]["description"] == "list"
