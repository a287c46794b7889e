"""The review prompt: the reviewer persona, a strict JSON contract, learnings and the code.

The persona (default ``core/CA-1``) says *how* to review; the contract below overrides its
text output format, because findings must be machine-checked: file, new-side lines, severity,
category, title, explanation, confidence and an optional fix. The fix is asked for as a pair of
snippets (``existing_code`` / ``improved_code``), from which aiw builds the unified diff itself:
models miscount hunk headers, but they copy lines well. A ready ``patch`` is accepted too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ai_workbench.review.chunks import ReviewUnit
from ai_workbench.review.models import CATEGORIES

CONTRACT = """\
## Output contract (this overrides any other output format above)

Reply with one JSON object and nothing else:

{"findings": [
  {"file": "path/as/shown.py",
   "line_start": 12, "line_end": 12,
   "severity": "error | warning | info",
   "category": "bug | security | performance | maintainability | test | docs",
   "title": "one line, under 80 characters",
   "explanation": "the concrete failure: which input or sequence leads to which wrong outcome",
   "confidence": 0.0-1.0,
   "existing_code": "the exact added line(s) to replace, copied verbatim (optional)",
   "improved_code": "what replaces them (optional; with existing_code)"}
]}

Rules:
- Put a finding only on lines marked `+` (added lines), using the line numbers shown.
- At most {max_per_file} findings per file; report the most important first.
- An empty list, {"findings": []}, is the right answer when nothing real is wrong.
  Prefer not reporting over guessing.
- severity: error = will break or is exploitable; warning = a real bug on an edge case or a
  risky pattern; info = a maintainability issue with a concrete future risk.
- confidence: how sure you are the problem is real after trying to refute it yourself.
- Never report style, formatting, import order, naming taste or missing comments."""


#: The contract as a JSON schema, sent as ``response_format`` where the server takes one
#: (core/llm/structured.py): a server that constrains decoding to it never returns broken JSON.
FINDINGS_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "file": {"type": "string"},
                    "line_start": {"type": "integer"},
                    "line_end": {"type": "integer"},
                    "severity": {"type": "string", "enum": ["error", "warning", "info"]},
                    "category": {"type": "string", "enum": list(CATEGORIES)},
                    "title": {"type": "string"},
                    "explanation": {"type": "string"},
                    "confidence": {"type": "number"},
                    "existing_code": {"type": "string"},
                    "improved_code": {"type": "string"},
                },
                "required": [
                    "file",
                    "line_start",
                    "line_end",
                    "severity",
                    "category",
                    "title",
                    "explanation",
                    "confidence",
                ],
            },
        }
    },
    "required": ["findings"],
}


@dataclass
class Example:
    """A liked finding shown to the model as what this team values."""

    path: str
    category: str
    severity: str
    title: str
    explanation: str


def system_prompt(persona_prompt: str, max_per_file: int) -> str:
    contract = CONTRACT.replace("{max_per_file}", str(max_per_file))
    return (persona_prompt.strip() + "\n\n" + contract).strip()


def user_prompt(
    unit: ReviewUnit,
    *,
    target: str,
    avoid: Sequence[str] = (),
    liked: Sequence[Example] = (),
) -> str:
    parts = [
        f"Review these changes ({target}). Each file section shows new-side line numbers; "
        "`+` marks an added line, `-` a removed line (no number), other lines are unchanged "
        "context.",
    ]
    if liked:
        lines = ["Findings this team found useful before (examples of what to look for):"]
        for ex in liked:
            lines.append(f"- [{ex.severity}/{ex.category}] {ex.title}: {_clip(ex.explanation)}")
        parts.append("\n".join(lines))
    if avoid:
        lines = ["This team has asked not to get findings like these:"]
        lines += [f"- {_clip(rule)}" for rule in avoid]
        parts.append("\n".join(lines))
    parts.append(unit.text())
    return "\n\n".join(parts)


def repair_prompt(problem: str) -> str:
    return (
        f"Your reply could not be used: {problem}. Reply again with only the JSON object "
        '{"findings": [...]} described in the instructions, no prose and no code fence.'
    )


def _clip(text: str, width: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


__all__ = ["CATEGORIES", "CONTRACT", "Example", "repair_prompt", "system_prompt", "user_prompt"]
