"""The review service end to end in-process: real git repos in tmp dirs, the real SQLite store,
the loopback model server answering canned findings (malformed, out of range, duplicated...).
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ai_workbench.core.patches import PatchError, file_digest
from ai_workbench.core.settings import load_config
from ai_workbench.review import ReviewOptions, ReviewService
from ai_workbench.review.diff import collect_changes, parse_diff
from ai_workbench.store import Store
from ai_workbench.suggestions.service import SuggestionQueue
from tests.fake_llm import FakeLLM

# --------------------------------------------------------------------------- helpers

BASE = {
    "calc.py": (
        "def total(items):\n"
        "    s = 0\n"
        "    for i in items:\n"
        "        s += i\n"
        "    return s\n"
        "\n"
        "\n"
        "def mean(items):\n"
        "    return total(items) / len(items)\n"
    ),
    "util.py": "def greet(name):\n    return 'hi ' + name\n",
}
CHANGED_CALC = (
    "def total(items):\n"
    "    s = 0\n"
    "    for i in range(len(items) + 1):\n"
    "        s += items[i]\n"
    "    return s\n"
    "\n"
    "\n"
    "def mean(items):\n"
    "    return total(items) / len(items)\n"
)
BUG = {
    "file": "calc.py",
    "line_start": 3,
    "line_end": 4,
    "severity": "error",
    "category": "bug",
    "title": "Off-by-one: the loop reads past the end of items",
    "explanation": "range(len(items) + 1) makes the last iteration index items[len(items)], "
    "which raises IndexError for every non-empty list.",
    "confidence": 0.95,
    "existing_code": "    for i in range(len(items) + 1):",
    "improved_code": "    for i in range(len(items)):",
}


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def make_repo(root: Path, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "Dev")
    git(root, "config", "commit.gpgsign", "false")
    for name, text in (files or BASE).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", ".")
    git(root, "commit", "-qm", "base")
    return root


def make_changed_repo(root: Path) -> Path:
    """A repo whose calc.py has an uncommitted change (CHANGED_CALC) to review."""
    make_repo(root)
    (root / "calc.py").write_text(CHANGED_CALC)
    return root


def aiw_review(run_aiw: Any, fake: Any, root: Path, *args: str) -> Any:
    """`aiw review ARGS` in ``root`` against the loopback model (``openai/echo``)."""
    return run_aiw("review", "--model", "openai/echo", "--api-base", fake.base_url, *args, cwd=root)


def findings_reply(*items: dict[str, Any]) -> str:
    return json.dumps({"findings": list(items)})


def per_file(replies: dict[str, list[dict[str, Any]]]) -> Callable[[dict[str, Any]], str]:
    """A reply function: the findings of every file whose section is in the request."""

    def reply(body: dict[str, Any]) -> str:
        user = body["messages"][-1]["content"]
        if body["messages"][-1]["content"].startswith("Your reply could not be used"):
            user = body["messages"][1]["content"]
        shown = set(re.findall(r"^### (\S+) \(lines", user, re.M))
        out = [item for path in shown for item in replies.get(path, [])]
        return findings_reply(*out)

    return reply


async def run_review(root: Path, fake: FakeLLM, **kwargs: Any) -> Any:
    overrides = kwargs.pop("config", {})
    loaded = load_config(overrides, cwd=root)
    async with await Store.open() as store:
        service = ReviewService(loaded, store)
        opts = ReviewOptions(model="openai/echo", api_base=fake.base_url, cwd=root, **kwargs)
        return await service.review(opts)


def db(env: Any) -> sqlite3.Connection:
    conn = sqlite3.connect(env.aiw_data / "aiw.db")
    conn.row_factory = sqlite3.Row
    return conn


@pytest.fixture
def repo(isolated_env: Any) -> Path:
    root = make_repo(isolated_env.work / "repo")
    (root / "calc.py").write_text(CHANGED_CALC)
    return root


# --------------------------------------------------------------------------- collecting


def test_parse_diff_numbers_added_lines_on_the_new_side(repo: Path) -> None:
    files = parse_diff(git(repo, "diff", "HEAD"))
    assert [f.path for f in files] == ["calc.py"]
    (hunk,) = files[0].hunks
    assert hunk.added == [3, 4]
    assert hunk.removed_text == ["    for i in items:", "        s += i"]


def test_collect_modes_worktree_staged_range_files(repo: Path) -> None:
    (repo / "new.py").write_text("x = 1\ny = 2\n")  # untracked: reviewed as all added
    work = collect_changes(repo)
    assert work.mode == "worktree"
    by = work.by_path()
    assert set(by) == {"calc.py", "new.py"}
    assert by["new.py"].added_lines == {1, 2}

    staged = collect_changes(repo, staged=True)
    assert staged.files == []  # nothing staged yet
    git(repo, "add", "calc.py")
    (repo / "calc.py").write_text(CHANGED_CALC + "# later, unstaged\n")
    staged = collect_changes(repo, staged=True)
    assert [f.path for f in staged.files] == ["calc.py"]
    assert staged.files[0].new_text == CHANGED_CALC  # the index, not the working tree

    git(repo, "commit", "-qm", "change")
    ranged = collect_changes(repo, rev_range="HEAD~1..HEAD")
    assert [f.path for f in ranged.files] == ["calc.py"]
    assert ranged.files[0].added_lines == {3, 4}

    whole = collect_changes(repo, files=["util.py"])  # unchanged: reviewed whole
    assert whole.mode == "files" and whole.files[0].added_lines == {1, 2}
    only_changes = collect_changes(repo, files=["util.py"], whole_files=False)
    assert only_changes.files == []


def test_bad_range_and_missing_file_are_clear_errors(repo: Path) -> None:
    from ai_workbench.core.errors import InputError

    with pytest.raises(InputError, match="'nope' is not a commit"):
        collect_changes(repo, rev_range="nope..HEAD")
    with pytest.raises(InputError, match=r"missing\.py does not exist"):
        collect_changes(repo, files=["missing.py"])


# --------------------------------------------------------------------------- reviewing


async def test_review_sends_surrounding_code_and_stores_the_run(repo, fake_llm, isolated_env):
    fake_llm.reply = findings_reply(BUG)
    result = await run_review(repo, fake_llm)
    (finding,) = result.shown
    assert (finding.path, finding.line_start, finding.line_end) == ("calc.py", 3, 4)
    assert finding.severity == "error" and finding.rule_id == "aiw/bug"
    # the prompt: persona CA-1, the JSON contract, numbered code with context and removals
    (request,) = fake_llm.chat_requests
    system, user = (m["content"] for m in request["json"]["messages"])
    assert "meticulous senior code reviewer" in system and '{"findings": [' in system
    assert "1   def total(items):" in user  # unchanged context before the hunk
    assert "3 +     for i in range(len(items) + 1):" in user
    assert "  -     for i in items:" in user
    # the run and its findings are stored
    with db(isolated_env) as conn:
        run = conn.execute("SELECT * FROM review_runs").fetchone()
        rows = conn.execute("SELECT * FROM review_findings").fetchall()
    assert run["status"] == "complete" and run["mode"] == "worktree"
    assert json.loads(run["stats"])["calls"] == 1
    assert [(r["path"], r["line_start"], r["status"]) for r in rows] == [("calc.py", 3, "open")]


async def test_patch_from_snippets_applies_and_a_conflict_changes_nothing(repo, fake_llm):
    fake_llm.reply = findings_reply(BUG)
    result = await run_review(repo, fake_llm)
    finding = result.shown[0]
    assert finding.patch and "+    for i in range(len(items)):" in finding.patch
    loaded = load_config(cwd=repo)
    # a user edit after the review: the patch is refused and the file keeps the edit
    edited = CHANGED_CALC.replace("    s = 0\n", "    s = 0  # accumulator\n")
    (repo / "calc.py").write_text(edited)
    async with await Store.open() as store:
        service = ReviewService(loaded, store)
        with pytest.raises(PatchError):
            await service.apply(
                finding, repo, expect={"calc.py": file_digest(repo / "calc.py") + "x"}
            )
        assert (repo / "calc.py").read_text() == edited
        (repo / "calc.py").write_text(CHANGED_CALC.replace("range(len(items) + 1)", "range(9)"))
        before = (repo / "calc.py").read_text()
        with pytest.raises(PatchError, match="does not apply"):
            await service.apply(finding, repo)
        assert (repo / "calc.py").read_text() == before
        (repo / "calc.py").write_text(CHANGED_CALC)
        await service.apply(finding, repo, expect={"calc.py": file_digest(repo / "calc.py")})
    assert "for i in range(len(items)):\n" in (repo / "calc.py").read_text()


async def test_code_fence_reply_is_accepted(repo, fake_llm):
    fake_llm.reply = "Here you go:\n```json\n" + findings_reply(BUG) + "\n```\nDone."
    result = await run_review(repo, fake_llm)
    assert [f.title for f in result.shown] == [BUG["title"]]
    assert result.stats.retries == 0


async def test_malformed_reply_is_retried_once_then_used(repo, fake_llm):
    answers = iter(["Looks good to me! Ship it.", findings_reply(BUG)])
    fake_llm.reply_fn = lambda body: next(answers)
    result = await run_review(repo, fake_llm)
    assert result.stats.retries == 1 and result.stats.calls == 2
    assert [f.title for f in result.shown] == [BUG["title"]]
    assert not result.errors
    retry = fake_llm.chat_requests[1]["json"]["messages"]
    assert retry[-2] == {"role": "assistant", "content": "Looks good to me! Ship it."}
    assert "could not be used" in retry[-1]["content"]


async def test_malformed_twice_is_reported_not_dropped(repo, fake_llm, isolated_env):
    fake_llm.reply = "I think the code is fine {not json"
    result = await run_review(repo, fake_llm)
    assert result.stats.calls == 2 and result.stats.failed_units == 1
    assert result.status == "error"
    (error,) = result.errors
    assert "calc.py" in error and "malformed twice" in error and "not reviewed" in error
    with db(isolated_env) as conn:
        run = conn.execute("SELECT status, errors FROM review_runs").fetchone()
    assert run["status"] == "error" and "malformed twice" in run["errors"]


async def test_findings_off_the_added_lines_are_reanchored_or_discarded(repo, fake_llm):
    near = dict(BUG, line_start=2, line_end=2, title="Near miss", existing_code=None)
    quoted = dict(BUG, line_start=9, line_end=9, title="Quotes the added line", improved_code=None)
    far = dict(BUG, line_start=9, line_end=9, title="On an unchanged line", existing_code=None)
    other = dict(BUG, file="util.py", title="In a file that did not change")
    beyond = dict(BUG, line_start=400, line_end=401, title="Past the end", existing_code=None)
    broken = {"file": "calc.py", "title": "no line number"}
    fake_llm.reply = findings_reply(BUG, near, quoted, far, other, beyond, broken)
    result = await run_review(repo, fake_llm, max_per_file=10)
    # issue 14: a finding is moved only on evidence (the code it quotes); one on a context line
    # of the hunk keeps its own line; one outside every hunk is held back, not discarded
    placed = {f.title: (f.line_start, f.line_end, f.reanchored) for f in result.shown}
    assert placed == {
        BUG["title"]: (3, 4, False),
        "Near miss": (2, 2, False),
        "Quotes the added line": (3, 3, True),
    }
    # line 9 lies past the lines the model was shown (1-7: the change and 3 lines after it)
    assert {f.title: f.held_reason for f in result.held} == {
        "On an unchanged line": "off-change",
        "Past the end": "off-change",
    }
    assert result.stats.raw_findings == 7
    assert result.stats.reanchored == 1
    assert result.stats.discarded == 2
    assert result.stats.held["off-change"] == 2
    assert any("1 finding(s) moved" in n and "2 discarded" in n for n in result.notices)


async def test_low_confidence_and_per_file_cap_are_held_back_and_counted(repo, fake_llm):
    (repo / "util.py").write_text(
        "def greet(name):\n    return 'hi ' + name\n\n\n"
        "def shout(name):\n    return greet(name).upper()\n"
    )
    unsure = dict(BUG, title="Maybe a race", category="bug", confidence=0.2, existing_code=None)
    util = [
        dict(
            BUG,
            file="util.py",
            line_start=5,
            line_end=6,
            title=f"util issue {i}",
            severity=sev,
            existing_code=None,
            confidence=0.9,
        )
        for i, sev in enumerate(["info", "error", "warning", "warning"])
    ]
    fake_llm.reply_fn = per_file({"calc.py": [BUG, unsure], "util.py": util})
    result = await run_review(repo, fake_llm, max_per_file=2)
    shown = {(f.path, f.title) for f in result.shown}
    assert shown == {
        ("calc.py", BUG["title"]),
        ("util.py", "util issue 1"),
        ("util.py", "util issue 2"),
    }
    held = {f.title: f.held_reason for f in result.held}
    assert held == {
        "Maybe a race": "low-confidence",
        "util issue 0": "per-file-cap",  # the info one goes first
        "util issue 3": "per-file-cap",
    }
    assert result.stats.held == {
        "low-confidence": 1,
        "per-file-cap": 2,
        "learned": 0,
        "off-change": 0,
    }


async def test_large_diff_is_split_within_the_budget_and_reviewed_in_parallel(
    isolated_env, fake_llm
):
    files = {f"mod{i}.py": "".join(f"v{j} = {j}\n" for j in range(60)) for i in range(6)}
    root = make_repo(isolated_env.work / "big", files)
    for name in files:
        (root / name).write_text("".join(f"v{j} = {j} + 1\n" for j in range(60)))
    fake_llm.chunk_delay = 0.02
    fake_llm.reply_fn = per_file(
        {
            f"mod{i}.py": [
                dict(BUG, file=f"mod{i}.py", line_start=5, line_end=5, existing_code=None)
            ]
            for i in range(6)
        }
    )
    result = await run_review(root, fake_llm, config={"review": {"max_tokens_per_call": 1000}})
    assert result.stats.units > 1 and result.stats.calls == result.stats.units
    assert result.stats.files == 6
    assert sorted(f.path for f in result.shown) == sorted(files)  # every file reviewed once
    for request in fake_llm.chat_requests:
        code = request["json"]["messages"][1]["content"]
        assert len(code) // 4 < 1000  # within the per-call budget (about 4 chars a token)


async def test_findings_are_queued_once_as_review_suggestions(repo, fake_llm):
    fake_llm.reply = findings_reply(BUG)
    await run_review(repo, fake_llm)
    await run_review(repo, fake_llm)  # the same finding again: not queued twice
    async with await Store.open() as store:
        items = await SuggestionQueue(store).list(kind="review")
    (item,) = items
    assert item.title.startswith("error: Off-by-one")
    assert [a.id for a in item.actions] == ["apply", "open", "dismiss"]
    assert item.payload["root"] == str(repo)
    assert item.payload["expect"] == {"calc.py": file_digest(repo / "calc.py")}
    assert "+    for i in range(len(items)):" in item.payload["patch"]
    assert item.fingerprint.startswith("review:")


# --------------------------------------------------------------------------- learning

NITS = [
    dict(
        file="calc.py",
        line_start=3,
        line_end=3,
        severity="warning",
        category="maintainability",
        title=title,
        explanation=expl,
        confidence=0.8,
    )
    for title, expl in [
        (
            "Loop variable name i is not descriptive",
            "Rename the loop variable i to index for readability.",
        ),
        ("Variable name s is not descriptive", "Rename the variable s to total for readability."),
        (
            "Name i is too short, not descriptive",
            "A descriptive variable name would improve readability.",
        ),
    ]
]
NEW_NITS = [
    dict(NITS[0], file=path, line_start=line, line_end=line, title=title, explanation=expl)
    for path, line, title, expl in [
        (
            "calc.py",
            4,
            "Variable name s is not descriptive enough",
            "Rename s to a descriptive name for readability.",
        ),
        (
            "util.py",
            5,
            "Parameter name n is not descriptive",
            "Rename the parameter n to a descriptive name for readability.",
        ),
        (
            "util.py",
            6,
            "Short variable name x is not descriptive",
            "Use a descriptive variable name instead of x for readability.",
        ),
    ]
]


async def test_dislikes_make_the_same_review_quieter_but_bugs_stay(repo, fake_llm):
    (repo / "util.py").write_text(
        "def greet(name):\n    return 'hi ' + name\n\n\n"
        "def twice(n):\n    x = n * 2\n    return x\n"
    )
    fake_llm.reply_fn = per_file(
        {"calc.py": [BUG, *NITS[:2], NEW_NITS[0]], "util.py": NEW_NITS[1:]}
    )
    before = await run_review(repo, fake_llm, max_per_file=5)
    assert len(before.shown) == 6
    loaded = load_config(cwd=repo)
    async with await Store.open() as store:
        service = ReviewService(loaded, store)
        nit_ids = [f.id for f in before.shown if f.category == "maintainability"][:3]
        for fid in nit_ids:
            learning = await service.rate(fid, -1)
        assert learning.kind == "avoid" and len(learning.examples) == 3
        bug = next(f for f in before.shown if f.severity == "error")
        await service.rate(bug.id, +1, "exactly what we want")

    after = await run_review(repo, fake_llm, max_per_file=5)
    nits_before = sum(f.category == "maintainability" for f in before.shown)
    nits_after = sum(f.category == "maintainability" for f in after.shown)
    assert nits_before == 5 and nits_after == 0  # at least 90% quieter for that kind
    assert after.stats.held["learned"] == 5
    assert [f.title for f in after.shown] == [BUG["title"]]  # the seeded bug is still reported
    # the liked finding goes to the model as an example; the disliked kind as a rule
    user = fake_llm.chat_requests[-1]["json"]["messages"][1]["content"]
    assert "Findings this team found useful" in user and BUG["title"] in user
    assert "asked not to get findings like these" in user

    # --no-learning gives back the original review
    plain = await run_review(repo, fake_llm, max_per_file=5, learning=False)
    assert len(plain.shown) == 6 and plain.stats.held["learned"] == 0


async def dislike_nits(repo: Path, fake_llm: FakeLLM, comment: str | None = None) -> None:
    """Review the NITS and dislike every finding shown (with ``comment``)."""
    fake_llm.reply = findings_reply(*NITS)
    first = await run_review(repo, fake_llm, max_per_file=5)
    async with await Store.open() as store:
        service = ReviewService(load_config(cwd=repo), store)
        for f in first.shown:
            await service.rate(f.id, -1, comment)


async def test_an_error_like_disliked_ones_is_shown_with_a_note(repo, fake_llm):
    await dislike_nits(repo, fake_llm, "naming nits are noise")
    serious = dict(NITS[0], severity="error", line_start=4, line_end=4)
    fake_llm.reply = findings_reply(serious)
    result = await run_review(repo, fake_llm)
    (shown,) = result.shown
    assert shown.severity == "error"
    assert (
        "resembles learning" in shown.learning_note
        and "naming nits are noise" in shown.learning_note
    )


async def test_learnings_can_be_edited_disabled_and_deleted(repo, fake_llm):
    await dislike_nits(repo, fake_llm)
    loaded = load_config(cwd=repo)
    async with await Store.open() as store:
        service = ReviewService(loaded, store)
        (learning,) = await service.learnings(str(repo))
        edited = await service.update_learning(
            learning.id, rule="No naming nits", path_glob="tests/**"
        )
        assert (edited.rule, edited.path_glob) == ("No naming nits", "tests/**")
    # the glob no longer matches calc.py: nothing is held back
    result = await run_review(repo, fake_llm, max_per_file=5)
    assert result.stats.held["learned"] == 0
    async with await Store.open() as store:
        service = ReviewService(loaded, store)
        await service.update_learning(learning.id, path_glob="**", enabled=False)
        assert (await run_review(repo, fake_llm, max_per_file=5)).stats.held["learned"] == 0
        await service.update_learning(learning.id, enabled=True)
        assert (await run_review(repo, fake_llm, max_per_file=5)).stats.held["learned"] == 3
        await service.delete_learning(learning.id)
        assert await service.learnings(str(repo)) == []
    assert (await run_review(repo, fake_llm, max_per_file=5)).stats.held["learned"] == 0


def test_review_core_is_headless_and_light() -> None:
    """`ai_workbench.review` never imports Textual, and loads no model client up front."""
    import sys

    code = (
        "import sys, ai_workbench.cli.main, ai_workbench.review, ai_workbench.review.formats, "
        "ai_workbench.review.sarif, ai_workbench.cli.review\n"
        "print(sorted(m for m in ('textual', 'litellm', 'chromadb', 'httpx', 'rich') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
