"""SARIF 2.1.0 for GitHub code scanning, reviewdog and any SARIF viewer.

Choices that make consumers accept it (see ../shared/design/REVIEW.md §2):

* one rule per category, id ``aiw/<category>``, each with short/full description and help;
* repo-relative forward-slash ``uri`` with ``uriBaseId`` ``%SRCROOT%``; ``startLine`` ≥ 1;
* ``partialFingerprints`` (a hash of rule, path and the normalised anchored line), so alerts
  keep their identity when lines move and the REST upload does not duplicate them;
* a ``fixes`` entry for each finding with a patch: one ``replacement`` per hunk with a
  ``deletedRegion`` (start line and line count) and ``insertedContent`` text, which reviewdog
  turns into a suggestion;
* ``message.markdown`` next to ``message.text`` (reviewdog prefers markdown).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ai_workbench import __version__
from ai_workbench.review.models import CATEGORIES, Finding, ReviewResult, rule_id

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/ai-workbench/aiw/blob/main/docs/review.md"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")

RULE_TEXT = {
    "bug": ("Likely bug", "The change can behave wrongly: logic, edge cases, error handling."),
    "security": ("Security issue", "The change can be exploited or leaks sensitive data."),
    "performance": ("Performance issue", "The change has a plausible real cost at run time."),
    "maintainability": (
        "Maintainability risk",
        "The change makes a future bug plausible (misleading names, duplicated logic).",
    ),
    "test": ("Test gap", "New branching logic without a test that would catch a regression."),
    "docs": ("Documentation mismatch", "Documentation that contradicts the changed code."),
}


def _rules() -> list[dict[str, Any]]:
    rules = []
    for category in CATEGORIES:
        short, full = RULE_TEXT[category]
        rules.append(
            {
                "id": rule_id(category),
                "name": category.capitalize(),
                "shortDescription": {"text": short},
                "fullDescription": {"text": full},
                "help": {
                    "text": f"{full} Reported by aiw review; see {INFORMATION_URI}.",
                    "markdown": f"{full} Reported by `aiw review`; see [docs]({INFORMATION_URI}).",
                },
                "properties": {"tags": ["ai-review", category]},
            }
        )
    return rules


def _replacements(patch: str) -> list[dict[str, Any]]:
    """Each hunk of a unified diff as a SARIF replacement of whole old lines."""
    out: list[dict[str, Any]] = []
    lines = patch.splitlines()
    i = 0
    while i < len(lines):
        match = _HUNK.match(lines[i])
        if not match:
            i += 1
            continue
        old_line = int(match.group(1))
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].startswith(("@@", "--- ", "diff ")):
            body.append(lines[i])
            i += 1
        # Trim shared context at both ends: replace only the changed lines.
        lead = 0
        while lead < len(body) and body[lead].startswith(" "):
            lead += 1
        tail = len(body)
        while tail > lead and body[tail - 1].startswith((" ", "\\")):
            tail -= 1
        core = body[lead:tail]
        deleted = [x for x in core if x.startswith((" ", "-"))]
        inserted = [x[1:] for x in core if x.startswith((" ", "+"))]
        start = max(1, old_line + lead)
        if deleted:
            # whole lines (no columns: to the end of endLine, line break excluded)
            region: dict[str, Any] = {"startLine": start, "endLine": start + len(deleted) - 1}
            text = "\n".join(inserted)
        else:  # a pure insertion before line `start`
            region = {"startLine": start, "startColumn": 1, "endColumn": 1}
            text = "\n".join(inserted) + "\n"
        out.append({"deletedRegion": region, "insertedContent": {"text": text}})
    return out


def _result(f: Finding) -> dict[str, Any]:
    message = f"{f.title}\n\n{f.explanation}".strip()
    location = {
        "physicalLocation": {
            "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": max(1, f.line_start), "endLine": max(f.line_start, f.line_end)},
        }
    }
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": CATEGORIES.index(f.category),
        "level": LEVELS[f.severity],
        "message": {"text": message, "markdown": f"**{f.title}**\n\n{f.explanation}".strip()},
        "locations": [location],
        "partialFingerprints": {"aiwFindingHash/v1": f.fingerprint},
        "properties": {"confidence": round(f.confidence, 3), "category": f.category},
    }
    if f.patch:
        replacements = _replacements(f.patch)
        if replacements:
            result["fixes"] = [
                {
                    "description": {"text": f"Suggested fix: {f.title}"},
                    "artifactChanges": [
                        {
                            "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
                            "replacements": replacements,
                        }
                    ],
                }
            ]
    return result


def to_sarif(result: ReviewResult, *, include_held: bool = False) -> dict[str, Any]:
    findings = result.findings if include_held else result.shown
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "aiw-review",
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": _rules(),
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": _root_uri(result.root)}},
        "results": [_result(f) for f in findings],
        "columnKind": "unicodeCodePoints",
        "properties": {
            "mode": result.mode,
            "target": result.target,
            "model": result.model,
            "stats": result.stats.to_dict(),
            "errors": list(result.errors),
        },
    }
    if result.errors:
        run["invocations"] = [
            {
                "executionSuccessful": False,
                "toolExecutionNotifications": [
                    {"level": "error", "message": {"text": e}} for e in result.errors
                ],
            }
        ]
    else:
        run["invocations"] = [{"executionSuccessful": True}]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _root_uri(root: str) -> str:
    from pathlib import Path

    return Path(root).as_uri() + "/"


def render_sarif(result: ReviewResult, *, include_held: bool = False) -> str:
    return json.dumps(to_sarif(result, include_held=include_held), indent=2) + "\n"
