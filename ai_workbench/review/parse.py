"""Turn the model's reply into findings: JSON, JSON in a code fence, then JSON amid prose.

A reply that is none of those is read tolerantly with json-repair (quotes and newlines inside
code strings, ``//`` comments, a cut-off end: what small models get wrong); a reply that still
holds no findings object raises :class:`MalformedReply` (the service retries once, then reports
it): an unreadable reply is never "no findings". Items that are not usable findings (no file,
no line, no title) are dropped one by one and counted by the caller; values the model words
loosely are normalised: ``critical``/``high`` → ``error``, ``medium`` → ``warning``, ``low`` →
``info``; ``high``/``0-10``/``0-100`` confidences → 0..1; unknown categories →
``maintainability``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
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


@dataclass
class Reply:
    """What a reply held: the finding dicts, how many items were not dicts, and whether it
    was only readable after json-repair (then its code strings are a guess)."""

    items: list[dict[str, Any]]
    bad: int = 0
    repaired: bool = False


_PATH_KEYS = ("file", "path", "relevant_file")


def _strict(text: str) -> Any:
    """The reply's JSON read exactly: the whole text, a code fence, or a findings object amid
    prose; None when none of those is findings-shaped."""
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
    return _embedded(text)


def _findings_shaped(data: Any) -> bool:
    """A findings object, or a non-empty list of finding-like dicts.

    An empty list amid prose is not enough: ``y = []`` inside a quoted code string of a
    broken reply would otherwise read as "no findings".
    """
    if isinstance(data, dict):
        return any(isinstance(data.get(k), list) for k in ("findings", "issues", "comments"))
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(item, dict) for item in data)
        and any(any(k in item for k in _PATH_KEYS) for item in data)
    )


def _embedded(text: str) -> Any:
    """A findings object inside prose (``Here is my review: {...} Hope this helps!``), or None.

    Decodes exactly from each ``{``/``[`` in turn; the first findings-shaped value wins (so a
    ``[1]`` in the prose before the object does not, nor a ``[]`` inside a broken object).
    """
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[{\[]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if _findings_shaped(value):
            return value
    return None


def _repaired(text: str) -> Any:
    """The reply read tolerantly by json-repair (unescaped quotes, raw newlines, ``//``
    comments, a cut-off end), fenced bodies first; None when nothing findings-shaped."""
    from json_repair import repair_json

    candidates = [m.group(2) for m in _FENCE.finditer(text)]
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start >= 0:
        candidates.append(text[start:])
    for candidate in candidates:
        try:
            value = repair_json(candidate, return_objects=True)
        except Exception:  # the repairer is best effort: any failure means "not repaired"
            continue
        if _findings_shaped(value):
            return value
    return None


def _items(data: Any) -> list[Any] | None:
    if isinstance(data, dict):
        items = data.get("findings")
        if items is None:
            items = data.get("issues", data.get("comments"))
        return items if isinstance(items, list) else None
    return data if isinstance(data, list) else None


def read_reply(text: str) -> Reply:
    """The findings of a reply: exact JSON first, then json-repair; raise MalformedReply.

    A reply that cannot be read is never taken for "no findings".
    """
    if not text.strip():
        raise MalformedReply("the reply was empty")
    repaired = False
    data = _strict(text)
    items = _items(data)
    if items is None:
        data = _repaired(text)
        items, repaired = _items(data), True
    if items is None:
        preview = " ".join(text.split())[:80]
        if isinstance(_strict(text), dict):
            raise MalformedReply('the JSON has no "findings" list')
        raise MalformedReply(f"no findings JSON could be read (reply began: {preview!r})")
    items = strip_controls_deep(items)  # decoded \u001b escapes are real ESCs
    good = [item for item in items if isinstance(item, dict)]
    if repaired and items and all(to_finding(item) is None for item in good):
        raise MalformedReply(
            f"the reply is not valid JSON, and after repair none of its {len(items)} item(s) "
            "is a usable finding"
        )
    return Reply(good, len(items) - len(good), repaired)


def parse_reply(text: str) -> tuple[list[dict[str, Any]], int]:
    """(raw finding dicts, count of unusable items) from a reply; raise MalformedReply."""
    reply = read_reply(text)
    return reply.items, reply.bad


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
