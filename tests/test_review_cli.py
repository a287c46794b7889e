"""`aiw review` as a user and a CI job run it: real processes, real git, the loopback model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_review_core import (
    BUG,
    findings_reply,
    git,
    make_changed_repo,
)
from tests.test_review_core import aiw_review as review

WARN = dict(BUG, severity="warning", title="Index may be out of range", existing_code=None)


@pytest.fixture
def repo(isolated_env: Any) -> Path:
    return make_changed_repo(isolated_env.work / "repo")


def test_table_by_default_and_fail_on_levels(run_aiw, fake_llm, repo) -> None:
    fake_llm.reply = findings_reply(WARN)
    plain = review(run_aiw, fake_llm, repo)
    assert plain.returncode == 0, plain.stderr
    assert "calc.py:3" in plain.stdout and "Index may be out of range" in plain.stdout
    assert "1 finding(s) (1 warning)" in plain.stdout
    assert review(run_aiw, fake_llm, repo, "--fail-on", "error", "-q").returncode == 0
    assert review(run_aiw, fake_llm, repo, "--fail-on", "warning", "-q").returncode == 1
    fake_llm.reply = findings_reply(BUG)
    gate = review(run_aiw, fake_llm, repo, "--format", "sarif", "--fail-on", "error")
    assert gate.returncode == 1, gate.stderr
    sarif = json.loads(gate.stdout)  # stdout is the report alone
    assert sarif["runs"][0]["results"][0]["ruleId"] == "aiw/bug"
    fake_llm.reply = findings_reply()
    clean = review(run_aiw, fake_llm, repo, "--format", "sarif", "--fail-on", "error")
    assert clean.returncode == 0 and json.loads(clean.stdout)["runs"][0]["results"] == []


def test_tool_errors_exit_2(run_aiw, fake_llm, repo, isolated_env) -> None:
    fake_llm.reply = "no json here"
    malformed = review(run_aiw, fake_llm, repo, "--format", "json", "--fail-on", "error")
    assert malformed.returncode == 2
    assert "malformed twice" in malformed.stderr
    assert json.loads(malformed.stdout)["errors"]  # the report still says what happened
    down = run_aiw(
        "review", "--model", "openai/echo", "--api-base", "http://127.0.0.1:9/v1", cwd=repo
    )
    assert down.returncode == 2 and "cannot connect" in down.stderr
    outside = review(run_aiw, fake_llm, isolated_env.work)
    assert outside.returncode == 2 and "not inside a git repository" in outside.stderr
    both = review(run_aiw, fake_llm, repo, "--staged", "--range", "HEAD~1..HEAD")
    assert both.returncode == 2 and "only one of" in both.stderr


def test_staged_range_and_files(run_aiw, fake_llm, repo) -> None:
    fake_llm.reply = findings_reply(BUG)
    nothing = review(run_aiw, fake_llm, repo, "--staged", "--format", "json")
    assert json.loads(nothing.stdout)["findings"] == [] and not fake_llm.chat_requests
    git(repo, "add", "calc.py")
    staged = review(run_aiw, fake_llm, repo, "--staged", "--format", "json")
    assert json.loads(staged.stdout)["mode"] == "staged"
    assert len(json.loads(staged.stdout)["findings"]) == 1
    git(repo, "commit", "-qm", "change")
    ranged = review(run_aiw, fake_llm, repo, "--range", "HEAD~1..HEAD", "--format", "md")
    assert ranged.returncode == 0 and "`calc.py:3-4`" in ranged.stdout
    fake_llm.reply = findings_reply(
        dict(BUG, file="util.py", line_start=2, line_end=2, existing_code=None)
    )
    files = review(run_aiw, fake_llm, repo, "--files", "util.py", "--format", "codeclimate")
    assert json.loads(files.stdout)[0]["location"]["path"] == "util.py"


def test_show_held_and_rating_and_learnings_commands(run_aiw, fake_llm, repo) -> None:
    nits = [
        dict(
            WARN,
            category="maintainability",
            title=f"Variable name {v} is not descriptive",
            explanation=f"Rename {v} to something descriptive for readability.",
            line_start=3,
            line_end=3,
        )
        for v in ("i", "s", "n")
    ]
    fake_llm.reply = findings_reply(*nits)
    first = json.loads(review(run_aiw, fake_llm, repo, "--format", "json").stdout)
    ids = [f["id"] for f in first["findings"]]
    assert len(ids) == 3
    for fid in ids:
        rated = run_aiw("review", "rate", str(fid), "dislike", "-m", "no naming nits", cwd=repo)
        assert rated.returncode == 0, rated.stderr
    listed = run_aiw("review", "learnings", "--json", cwd=repo)
    (learning,) = json.loads(listed.stdout)
    assert learning["kind"] == "avoid" and learning["rule"] == "no naming nits"
    assert len(learning["examples"]) == 3
    quiet = review(run_aiw, fake_llm, repo, "--show-held")
    assert "3 held back (3 learned" in quiet.stdout and "learned" in quiet.stdout
    assert (
        review(run_aiw, fake_llm, repo, "--no-learning", "--format", "json").stdout.count(
            '"held_reason": null'
        )
        == 3
    )
    edited = run_aiw(
        "review", "learnings", "edit", str(learning["id"]), "--rule", "Skip names", cwd=repo
    )
    assert edited.returncode == 0 and "Skip names" in edited.stderr
    assert run_aiw("review", "learnings", "delete", str(learning["id"]), cwd=repo).returncode == 0
    assert "No learnings yet" in run_aiw("review", "learnings", cwd=repo).stdout
    missing = run_aiw("review", "learnings", "delete", "999", cwd=repo)
    assert missing.returncode == 2 and "no review learning with id 999" in missing.stderr


def test_pre_commit_hook_definition() -> None:
    text = (Path(__file__).parent.parent / ".pre-commit-hooks.yaml").read_text()
    assert "- id: aiw-review" in text and "pass_filenames: false" in text
    assert "entry: aiw review --staged --fail-on error" in text
