"""Review output formats: SARIF checked against the official 2.1.0 schema, CodeClimate, md, json.

The schema is tests/data/sarif-schema-2.1.0.json, copied from oasis-tcs/sarif-spec
(sarif-2.1/schema/sarif-schema-2.1.0.json, commit a560296 of 2024-05-02).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ai_workbench.review.formats import render, to_codeclimate
from ai_workbench.review.sarif import to_sarif
from tests.test_review_core import BUG, CHANGED_CALC, findings_reply, make_repo, run_review

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())

WARNING = dict(
    BUG,
    line_start=4,
    line_end=4,
    severity="warning",
    category="security",
    title="Index comes from the loop bound",
    existing_code=None,
    improved_code=None,
)


@pytest.fixture
async def result(isolated_env: Any, fake_llm: Any) -> Any:
    root = make_repo(isolated_env.work / "repo")
    (root / "calc.py").write_text(CHANGED_CALC)
    fake_llm.reply = findings_reply(BUG, WARNING)
    return await run_review(root, fake_llm)


def test_sarif_is_valid_against_the_official_schema(result: Any) -> None:
    sarif = json.loads(render(result, "sarif"))
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(sarif), key=str)
    assert errors == []
    assert sarif["version"] == "2.1.0"


def test_sarif_has_what_github_and_reviewdog_read(result: Any) -> None:
    run = to_sarif(result)["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert {"aiw/bug", "aiw/security"} <= set(rules)
    for rule in rules.values():
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    bug = by_rule["aiw/bug"]
    assert bug["level"] == "error" and by_rule["aiw/security"]["level"] == "warning"
    loc = bug["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "calc.py"  # repo-relative, no leading slash
    assert loc["region"] == {"startLine": 3, "endLine": 4}
    assert bug["message"]["text"].startswith(BUG["title"])
    assert len(bug["partialFingerprints"]["aiwFindingHash/v1"]) == 32
    (fix,) = bug["fixes"]
    (replacement,) = fix["artifactChanges"][0]["replacements"]
    assert replacement == {
        "deletedRegion": {"startLine": 3, "endLine": 3},
        "insertedContent": {"text": "    for i in range(len(items)):"},
    }
    assert "fixes" not in by_rule["aiw/security"]  # no patch, no fix
    # the fix, applied as reviewdog would (replace whole lines), gives the patched file
    lines = CHANGED_CALC.split("\n")
    region = replacement["deletedRegion"]
    lines[region["startLine"] - 1 : region["endLine"]] = [replacement["insertedContent"]["text"]]
    assert "\n".join(lines) == CHANGED_CALC.replace("range(len(items) + 1)", "range(len(items))")


def test_fingerprints_are_stable_when_lines_move(isolated_env: Any, fake_llm: Any) -> None:
    import asyncio

    root = make_repo(isolated_env.work / "repo")
    (root / "calc.py").write_text(CHANGED_CALC)
    fake_llm.reply = findings_reply(BUG)
    first = asyncio.run(run_review(root, fake_llm)).shown[0].fingerprint
    (root / "calc.py").write_text("# header\n" + CHANGED_CALC)
    fake_llm.reply = findings_reply(dict(BUG, line_start=4, line_end=5))
    second = asyncio.run(run_review(root, fake_llm)).shown[0]
    assert second.line_start == 4 and second.fingerprint == first


def test_codeclimate_for_gitlab(result: Any) -> None:
    issues = to_codeclimate(result)
    assert [i["severity"] for i in issues] == ["critical", "major"]
    first = issues[0]
    assert first["check_name"] == "aiw/bug" and first["description"] == BUG["title"]
    assert first["location"] == {"path": "calc.py", "lines": {"begin": 3, "end": 4}}
    assert len({i["fingerprint"] for i in issues}) == 2  # unique, or GitLab shows only one


def test_markdown_and_json(result: Any) -> None:
    md = render(result, "md")
    assert "## calc.py" in md and "`calc.py:3-4`" in md and "```diff" in md
    assert "2 finding(s) (1 error, 1 warning)" in md
    data = json.loads(render(result, "json"))
    assert [f["rule_id"] for f in data["findings"]] == ["aiw/bug", "aiw/security"]
    assert data["stats"]["calls"] == 1 and data["status"] == "complete"
