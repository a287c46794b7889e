"""`aiw watch` and `aiw suggestions` as a user runs them (real subprocesses, loopback model)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT
from tests.test_watch_helpers import diff_for, make_project

SOURCE = "def greet(name):\n    return 'hi ' + name\n"


def _model(fake: Any) -> list[str]:
    return ["-m", "openai/echo", "--api-base", fake.base_url]


def test_watch_now_then_list_show_apply(tmp_path: Path, fake_llm: Any, run_aiw: Any) -> None:
    root = make_project(tmp_path / "proj", {"greet.py": SOURCE + "# use an f-string AI!\n"})
    fake_llm.reply = diff_for("greet.py", "    return 'hi ' + name", "    return f'hi {name}'")

    done = run_aiw("watch", "--now", *_model(fake_llm), cwd=root)
    assert done.returncode == 0, done.stderr
    assert "#1 watch · greet.py:3: use an f-string" in done.stdout
    assert "patch: greet.py (+1 -2)" in done.stdout
    assert "1 AI comment request(s) processed" in done.stderr

    listed = run_aiw("suggestions", "list", cwd=root)
    assert listed.stdout.split("\t")[:4] == ["1", "watch", "new", "apply, view, dismiss"]
    shown = run_aiw("suggestions", "show", "1", "--patch", cwd=root)
    assert shown.stdout.startswith("--- a/greet.py\n+++ b/greet.py\n")
    assert "-# use an f-string AI!" in shown.stdout

    applied = run_aiw("suggestions", "apply", "1", cwd=root)
    assert applied.returncode == 0, applied.stderr
    assert "applied suggestion 1: greet.py" in applied.stderr
    assert (root / "greet.py").read_text() == "def greet(name):\n    return f'hi {name}'\n"
    again = run_aiw("suggestions", "apply", "1", cwd=root)
    assert again.returncode == 3 and "already applied" in again.stderr


def test_apply_refuses_a_file_changed_since(tmp_path: Path, fake_llm: Any, run_aiw: Any) -> None:
    root = make_project(tmp_path / "proj", {"greet.py": SOURCE + "# use an f-string AI!\n"})
    fake_llm.reply = diff_for("greet.py", "    return 'hi ' + name", "    return f'hi {name}'")
    assert run_aiw("watch", "--now", *_model(fake_llm), cwd=root).returncode == 0
    edited = SOURCE + "# use an f-string AI!\nprint(greet('x'))\n"
    (root / "greet.py").write_text(edited)

    refused = run_aiw("suggestions", "apply", "1", cwd=root)
    assert refused.returncode == 3
    assert refused.stderr.startswith(
        "aiw: error: suggestion 1: greet.py changed since the suggestion was made; "
        "nothing was applied"
    )
    assert (root / "greet.py").read_text() == edited

    dismissed = run_aiw("suggestions", "dismiss", "1", cwd=root)
    assert dismissed.returncode == 0 and "dismissed suggestion 1" in dismissed.stderr
    assert run_aiw("suggestions", "list", cwd=root).stdout == ""


def test_headless_watch_prints_suggestions_as_they_come(tmp_path: Path, fake_llm: Any) -> None:
    root = make_project(tmp_path / "proj", {"greet.py": SOURCE})
    fake_llm.reply = "It concatenates; an f-string reads better."
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), AIW_WATCH__DEBOUNCE_MS="80")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai_workbench", "watch", *_model(fake_llm)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None and proc.stdout is not None
        deadline = time.monotonic() + 30
        while "Ctrl-C stops" not in proc.stderr.readline():
            assert time.monotonic() < deadline and proc.poll() is None, "watch did not start"
        (root / "greet.py").write_text(SOURCE + "# why concatenate? AI?\n")
        first = proc.stdout.readline()
        assert first == "#1 watch · greet.py:3: why concatenate?\n"
        assert proc.stdout.readline() == "    It concatenates; an f-string reads better.\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_watch_outside_the_limits_says_what_is_wrong(tmp_path: Path, run_aiw: Any) -> None:
    root = make_project(tmp_path / "proj")
    (root / ".aiw.toml").write_text("[watch]\nmax_calls_per_minute = 0\n")
    bad = run_aiw("watch", "--now", cwd=root)
    assert bad.returncode == 2
    assert "watch.max_calls_per_minute" in bad.stderr and ".aiw.toml" in bad.stderr


def test_watch_now_says_when_every_request_failed(
    tmp_path: Path, fake_llm: Any, run_aiw: Any
) -> None:
    root = make_project(tmp_path / "proj", {"greet.py": SOURCE + "# use an f-string AI!\n"})
    done = run_aiw(
        "watch", "--now", "-m", "openai/fail-500", "--api-base", fake_llm.base_url,
        env={"AIW_MAX_RETRIES": "0"}, cwd=root,
    )  # fmt: skip
    assert done.returncode == 7, done.stderr  # the provider's exit code (5xx), was 0
    assert "every request failed" in done.stderr and "1 failed" in done.stderr
    assert "Traceback" not in done.stderr

    fake_llm.reply = diff_for("greet.py", "    return 'hi ' + name", "    return f'hi {name}'")
    (root / "greet.py").write_text(SOURCE + "# now use an f-string AI!\n")
    fine = run_aiw("watch", "--now", *_model(fake_llm), cwd=root)
    assert fine.returncode == 0 and "1 suggested" in fine.stderr
