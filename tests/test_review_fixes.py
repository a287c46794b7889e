"""Review audit fixes: prose around JSON, -o checked first, honest empty tables, PR ranges from
the merge base, re-review in the screen's mode. Real git repos, the loopback model, real CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ai_workbench.core.errors import InputError
from ai_workbench.review import ReviewOptions, ReviewService
from ai_workbench.review.diff import collect_changes
from ai_workbench.review.parse import parse_reply
from tests.test_review_core import (
    BUG,
    CHANGED_CALC,
    findings_reply,
    git,
    make_changed_repo,
    make_repo,
)
from tests.test_review_core import aiw_review as review


@pytest.fixture
def repo(isolated_env: Any) -> Path:
    return make_changed_repo(isolated_env.work / "repo")


# --------------------------------------------------------------------------- parsing


def test_json_amid_prose_is_parsed_without_a_retry(repo, fake_llm, run_aiw) -> None:
    assert parse_reply('Here is my review:\n{"findings":[]}\nHope this helps!') == ([], 0)
    # a bracket in the prose before the object does not win
    items, bad = parse_reply('See [1] below.\n{"findings": [{"file": "a.py"}]} Thanks!')
    assert items == [{"file": "a.py"}] and bad == 0

    fake_llm.reply = f"Here is my review:\n{findings_reply(BUG)}\nHope this helps!"
    done = review(run_aiw, fake_llm, repo, "--format", "json", "--fail-on", "error")
    assert done.returncode == 1, done.stderr  # the finding, not a malformed reply (2)
    data = json.loads(done.stdout)
    assert [f["title"] for f in data["findings"]] == [BUG["title"]]
    assert data["stats"]["retries"] == 0 and len(fake_llm.chat_requests) == 1


# --------------------------------------------------------------------------- the CLI report


def test_output_in_a_missing_directory_fails_fast_with_one_line(
    repo, fake_llm, run_aiw, tmp_path
) -> None:
    fake_llm.reply = findings_reply(BUG)
    target = tmp_path / "nonexistent" / "dir" / "out.txt"
    done = review(run_aiw, fake_llm, repo, "-o", str(target))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("aiw: error: -o ") and "does not exist" in line
    assert fake_llm.chat_requests == []  # refused before any model call


def test_table_to_a_file_is_the_plain_table(repo, fake_llm, run_aiw, tmp_path) -> None:
    fake_llm.reply = findings_reply(BUG)
    out = tmp_path / "review.txt"
    done = review(run_aiw, fake_llm, repo, "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "calc.py:3" in text and BUG["title"] in text and "1 finding(s) (1 error)" in text
    assert not text.lstrip().startswith("{") and "\x1b[" not in text
    assert done.stdout == ""


def test_tables_never_say_no_findings_when_the_review_failed_or_had_nothing(
    repo, fake_llm, run_aiw
) -> None:
    fake_llm.reply = "I could not produce JSON, sorry."
    failed = review(run_aiw, fake_llm, repo)
    assert failed.returncode == 2
    assert "Review failed" in failed.stdout and "No findings" not in failed.stdout
    md = review(run_aiw, fake_llm, repo, "--format", "md")
    assert "Review failed" in md.stdout and "No findings" not in md.stdout

    git(repo, "checkout", "--", "calc.py")
    calls = len(fake_llm.chat_requests)
    clean = review(run_aiw, fake_llm, repo)
    assert clean.returncode == 0, clean.stderr
    assert "No changes to review" in clean.stdout and "No findings" not in clean.stdout
    assert len(fake_llm.chat_requests) == calls

    fake_llm.reply = findings_reply()
    (repo / "calc.py").write_text(CHANGED_CALC)
    assert "No findings on the changed lines." in review(run_aiw, fake_llm, repo).stdout


# --------------------------------------------------------------------------- ranges


def _forked(root: Path) -> None:
    """main and a feature branch that forked from it; main moved on after the fork."""
    git(root, "checkout", "-q", "-b", "feature")
    (root / "util.py").write_text("def greet(name):\n    return 'hi ' + name\n\n\nX = 1\n")
    git(root, "commit", "-qam", "feature work")
    git(root, "checkout", "-q", "main")
    (root / "calc.py").write_text(CHANGED_CALC)
    git(root, "commit", "-qam", "main moved on")
    git(root, "checkout", "-q", "feature")


@pytest.mark.parametrize("sep", ["..", "..."])
def test_a_range_reviews_what_the_branch_adds_from_the_merge_base(
    isolated_env: Any, sep: str
) -> None:
    root = make_repo(isolated_env.work / "forked")
    _forked(root)
    changes = collect_changes(root, rev_range=f"main{sep}feature")
    assert [f.path for f in changes.files] == ["util.py"]  # not main's calc.py change
    assert changes.files[0].added_lines == {3, 4, 5}


def test_a_missing_base_tells_ci_to_fetch_full_history(repo: Path) -> None:
    with pytest.raises(InputError, match="fetch-depth: 0"):
        collect_changes(repo, rev_range="origin/main..HEAD")


# --------------------------------------------------------------------------- re-review


async def test_re_reviewing_a_file_keeps_the_staged_mode(repo, fake_llm) -> None:
    from ai_workbench.core.settings import load_config
    from ai_workbench.store import Store

    git(repo, "add", "calc.py")
    (repo / "calc.py").write_text(CHANGED_CALC + "UNSTAGED_MARKER = 1\n")
    fake_llm.reply = findings_reply(BUG)
    loaded = load_config(cwd=repo)
    opts = ReviewOptions(model="openai/echo", api_base=fake_llm.base_url, staged=True, cwd=repo)
    async with await Store.open() as store:
        result = await ReviewService(loaded, store).review_file(repo / "calc.py", opts)
    assert result.mode == "staged"
    assert [f.title for f in result.shown] == [BUG["title"]]
    sent = fake_llm.chat_requests[-1]["json"]["messages"][-1]["content"]
    assert "range(len(items) + 1)" in sent and "UNSTAGED_MARKER" not in sent
