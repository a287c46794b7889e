"""Review with a small model: the findings schema is asked for, and findings stay where the
model put them unless they quote the changed code; far ones are held back (issue 14 §4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ai_workbench.review.formats import summary_line
from ai_workbench.review.prompt import FINDINGS_SCHEMA
from tests.test_review_core import findings_reply, make_repo, run_review

LINES = [f"def f{i}(x):\n    return x + {i}\n\n" for i in range(20)]  # 60 lines


def _one_line_change(root: Path) -> None:
    text = "".join(LINES).replace("return x + 10\n", "return x - 10\n")
    (root / "mod.py").write_text(text)


def _finding(line: int, title: str, **kw: Any) -> dict[str, Any]:
    base = {
        "file": "mod.py",
        "line_start": line,
        "line_end": line,
        "severity": "warning",
        "category": "bug",
        "title": title,
        "explanation": "x",
        "confidence": 0.9,
    }
    return {**base, **kw}


async def test_one_line_diff_does_not_make_every_finding_hit(isolated_env, fake_llm) -> None:
    root = make_repo(isolated_env.work / "repo", {"mod.py": "".join(LINES)})
    _one_line_change(root)  # line 32 changes: `return x - 10`
    fake_llm.reply = findings_reply(
        _finding(32, "on the change"),
        _finding(30, "on the context"),  # shown to the model, not changed
        _finding(55, "far away"),
    )
    result = await run_review(root, fake_llm, max_per_file=10)
    shown = {f.title: (f.line_start, f.reanchored) for f in result.shown}
    assert shown == {"on the change": (32, False), "on the context": (30, False)}
    held = {f.title: (f.held_reason, f.line_start) for f in result.held}
    assert held == {"far away": ("off-change", 55)}
    assert result.stats.reanchored == 0
    assert "1 held back (1 off-change" in summary_line(result)


async def test_review_asks_for_the_findings_schema(isolated_env, fake_llm) -> None:
    root = make_repo(isolated_env.work / "repo", {"mod.py": "".join(LINES)})
    _one_line_change(root)
    fake_llm.reply = json.dumps({"findings": []})
    await run_review(root, fake_llm)
    sent = fake_llm.chat_requests[-1]["json"]["response_format"]
    assert sent == {
        "type": "json_schema",
        "json_schema": {"name": "review_findings", "schema": FINDINGS_SCHEMA},
    }


async def test_review_on_a_llama_cpp_style_server_falls_back_to_parsing(
    isolated_env, fake_llm
) -> None:
    root = make_repo(isolated_env.work / "repo", {"mod.py": "".join(LINES)})
    _one_line_change(root)
    fake_llm.reply = findings_reply(_finding(32, "on the change"))
    from ai_workbench.core.settings import load_config
    from ai_workbench.review import ReviewOptions, ReviewService
    from ai_workbench.store import Store

    loaded = load_config({}, cwd=root)
    async with await Store.open() as store:
        opts = ReviewOptions(model="openai/json-object-only", api_base=fake_llm.base_url, cwd=root)
        result = await ReviewService(loaded, store).review(opts)
    assert [f.title for f in result.shown] == ["on the change"]
    sent = [(r["json"].get("response_format") or {}).get("type") for r in fake_llm.chat_requests]
    assert sent == ["json_schema", None]
