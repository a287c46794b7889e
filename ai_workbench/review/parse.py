"""Turn the model's reply into findings: JSON, JSON in a code fence, then JSON amid prose.

A reply that is neither raises :class:`MalformedReply` (the service retries once, then reports
it). Items that are not usable findings (no file, no line, no title) are dropped one by one and
counted by the caller; values the model words loosely are normalised: ``critical``/``high`` →
``error``, ``medium`` → ``warning``, ``low`` → ``info``; ``high``/``0-10``/``0-100``
confidences → 0..1; unknown categories → ``maintainability``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ai_workbench.core.sanitize import strip_controls_deep
from ai_workbench.review.models import CATEGORIES, Finding

DEFAULT_CONFIDENCE = 0.6
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n(.*?)```", re.DOTALL)
_SEVERITY = {
    "error": "error",
    "critical": "error",
    "high": "error",
    "blocker": "error",
    "major": "warning",
    "warning": "warning",
    "medium": "warning",
    "warn": "warning",
    "info": "info",
    "low": "info",
    "minor": "info",
    "note": "info",
    "suggestion": "info",
}
_CATEGORY_ALIASES = {
    "correctness": "bug",
    "logic": "bug",
    "error-handling": "bug",
    "reliability": "bug",
    "perf": "performance",
    "tests": "test",
    "testing": "test",
    "documentation": "docs",
    "doc": "docs",
    "style": "maintainability",
    "readability": "maintainability",
    "design": "maintainability",
}
_CONFIDENCE_WORDS = {"high": 0.9, "medium": 0.6, "low": 0.3}


class MalformedReply(ValueError):
    """The reply holds no usable JSON findings object."""


def _load(text: str) -> Any:
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    for match in _FENCE.finditer(text):
        try:
            return json.loads(match.group(2).strip())
        except ValueError:
            continue
    embedded = _embedded(text)
    if embedded is not None:
        return embedded
    preview = " ".join(stripped.split())[:80]
    raise MalformedReply(f"not JSON and no JSON code fence (reply began: {preview!r})")


def _findings_shaped(data: Any) -> bool:
    if isinstance(data, dict):
        return any(isinstance(data.get(k), list) for k in ("findings", "issues", "comments"))
    return isinstance(data, list) and all(isinstance(item, dict) for item in data)


def _embedded(text: str) -> Any:
    """JSON inside prose (``Here is my review: {...} Hope this helps!``), or None.

    Decodes from each ``{``/``[`` in turn; the first value shaped like findings wins (so a
    ``[1]`` in the prose before the object does not), else the first object or list decoded.
    """
    decoder = json.JSONDecoder()
    first: Any = None
    for match in re.finditer(r"[{\[]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if _findings_shaped(value):
            return value
        if first is None and isinstance(value, dict | list):
            first = value
    return first


def parse_reply(text: str) -> tuple[list[dict[str, Any]], int]:
    """(raw finding dicts, count of unusable items) from a reply; raise MalformedReply."""
    if not text.strip():
        raise MalformedReply("the reply was empty")
    data = strip_controls_deep(_load(text))  # decoded \u001b escapes are real ESCs
    if isinstance(data, dict):
        items = data.get("findings")
        if items is None:
            items = data.get("issues", data.get("comments"))
    elif isinstance(data, list):
        items = data
    else:
        items = None
    if not isinstance(items, list):
        raise MalformedReply('the JSON has no "findings" list')
    good = [item for item in items if isinstance(item, dict)]
    return good, len(items) - len(good)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def confidence_of(value: Any) -> float:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _CONFIDENCE_WORDS:
            return _CONFIDENCE_WORDS[word]
        try:
            value = float(word.rstrip("%"))
        except ValueError:
            return DEFAULT_CONFIDENCE
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DEFAULT_CONFIDENCE
    number = float(value)
    if number > 10:
        number /= 100
    elif number > 1:
        number /= 10
    return min(1.0, max(0.0, number))


def to_finding(item: dict[str, Any]) -> Finding | None:
    """A :class:`Finding` from one reply item, or None when it lacks file, line or title."""
    path = item.get("file") or item.get("path") or item.get("relevant_file")
    start = _int(item.get("line_start", item.get("start_line", item.get("line"))))
    title = item.get("title") or item.get("issue_header") or item.get("summary")
    if not isinstance(path, str) or not path.strip() or start is None or not title:
        return None
    end = _int(item.get("line_end", item.get("end_line")))
    end = start if end is None or end < start else end
    severity = _SEVERITY.get(str(item.get("severity", "warning")).strip().lower(), "warning")
    category = str(item.get("category", "bug")).strip().lower()
    category = _CATEGORY_ALIASES.get(category, category)
    if category not in CATEGORIES:
        category = "maintainability"
    explanation = item.get("explanation") or item.get("issue_content") or item.get("body") or ""
    patch = item.get("patch") or item.get("suggested_patch")
    existing = item.get("existing_code")
    improved = item.get("improved_code")
    return Finding(
        path=path.strip(),
        line_start=max(1, start),
        line_end=max(1, end),
        severity=severity,
        category=category,
        title=" ".join(str(title).split())[:200],
        explanation=str(explanation).strip(),
        confidence=confidence_of(item.get("confidence", DEFAULT_CONFIDENCE)),
        patch=patch if isinstance(patch, str) and patch.strip() else None,
        existing_code=existing if isinstance(existing, str) and existing.strip() else None,
        improved_code=improved if isinstance(improved, str) else None,
    )
