"""The checks a template declares and a generated document must pass.

Each check reads the parsed document and returns the failures as short sentences the user and
the model both understand (the model gets them back for its one retry). A check passes when it
returns no failure.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ai_workbench.documents.markdown import ParsedDoc, blocks, diagrams

if TYPE_CHECKING:
    from ai_workbench.documents.templates import Template

MADR_STATUSES = ("proposed", "accepted", "rejected", "deprecated", "superseded")
# a number with a unit or a percentage: "300 ms", "99.9 %", "2 s", "< 1 second", "100 rps"
MEASURE = re.compile(
    r"(\d+(?:[.,]\d+)?\s*(?:%|percent|ms|milliseconds?|s\b|sec|seconds?|min|minutes?|h\b|hours?|"
    r"days?|rps|req(?:uests)?/s|requests|users|mb|gb|kb|tb|mib|gib|x\b|times|errors?|"
    r"failures?|incidents?|findings?|defects?|vulnerabilit(?:y|ies)|steps?|clicks?|per\s+\w+))",
    re.I,
)
VERIFY = re.compile(
    r"\b(test|tests|tested|benchmark|load test|monitor|monitoring|measured|measure|review|"
    r"audit|scan|inspection|inspect|alert|dashboard|metric|probe|survey|analysis|ci\b|check|"
    r"profil|user stud|usability stud|trial|penetration|pen test|fuzz|drill|"
    r"chaos|static analysis|lint|sla report|uptime report)",
    re.I,
)


@dataclass(frozen=True)
class CheckResult:
    check: str
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


Check = Callable[[ParsedDoc, "Template"], list[str]]


PLACEHOLDER = re.compile(r"<[^<>\n]{2,60}>")
# a diagram label, participant or message that is a <placeholder>: "A[<caller>]", "as <db>"
DIAGRAM_PLACEHOLDER = re.compile(r"(?:[\[(\"]|\bas\s|:\s?)(<[a-zA-Z][^<>\n]{1,60}>)")


def _shape_placeholders(example: str) -> list[str]:
    """What a section's shape holds only as a stand-in: its ``<...>`` parts and the lines of
    its sample diagram that carry a label or a relation (a copied line draws nothing real)."""
    found = list(dict.fromkeys(PLACEHOLDER.findall(example)))
    for block in diagrams(example):
        for line in block.text.split("\n")[1:]:
            line = line.strip()
            if re.search(r"\[|-->|->>|-->>|:", line) and len(line) >= 12:
                found.append(line)
    return found


def check_sections(doc: ParsedDoc, template: Template) -> list[str]:
    out = []
    for section in template.sections:
        body = doc.section(section.name)
        if body is None:
            out.append(f"the section '## {section.name}' is missing")
        elif not re.sub(r"\s+", "", body):
            out.append(f"the section '## {section.name}' is empty")
        else:
            # a placeholder of the section's shape copied as it is: the content is missing
            copied = [p for p in _shape_placeholders(section.example) if p in body]
            copied += [
                m.group(1) for b in diagrams(body) for m in DIAGRAM_PLACEHOLDER.finditer(b.text)
            ]
            if copied:
                out.append(
                    f"'## {section.name}' still has the placeholder {copied[0]!r} from its "
                    "shape: write the real content there"
                )
    return out


def check_madr(doc: ParsedDoc, template: Template) -> list[str]:
    out = []
    status = doc.front_matter.get("status", "").lower()
    if status not in MADR_STATUSES:
        out.append(f"the front matter needs 'status:' set to one of {', '.join(MADR_STATUSES)}")
    for name in ("Context and Problem Statement", "Decision Outcome"):
        if not (doc.section(name) or "").strip():
            out.append(f"the section '## {name}' (MADR) is missing or empty")
    outcome = doc.section("Decision Outcome") or ""
    if outcome and not re.search(r"chosen option", outcome, re.I):
        out.append("'## Decision Outcome' must state 'Chosen option: \"...\", because ...'")
    if outcome and not re.search(r"consequence|good, because|bad, because", outcome, re.I):
        out.append(
            "'## Decision Outcome' needs a '### Consequences' part with 'Good, because' / "
            "'Bad, because' bullets"
        )
    return out


def _table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.split("\n"):
        line = line.strip()
        if not (line.startswith("|") and line.count("|") >= 3):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
            continue
        rows.append(cells)
    return rows


def _column(header: list[str], *names: str) -> int | None:
    for i, cell in enumerate(header):
        if any(n in cell.lower() for n in names):
            return i
    return None


def _nfr_items(body: str) -> list[tuple[str, str, str, str | None]]:
    """(label, whole text, target, verification) per requirement: a table row, a '###'
    subsection or a bullet. Target and verification are the table's cells of that name
    (target '' and verification None without such a column)."""
    rows = _table_rows(body)
    if len(rows) >= 2:  # the first row is the header
        header = rows[0]
        t = _column(header, "target", "metric", "measure", "fit criter")
        v = _column(header, "verif", "how", "test", "method")
        return [
            (
                cells[0] or "?",
                " | ".join(cells),
                cells[t] if t is not None and t < len(cells) else "",
                (cells[v] if v < len(cells) else "") if v is not None else None,
            )
            for cells in rows[1:]
        ]
    items: list[tuple[str, str, str, str | None]] = []
    parts = re.split(r"^#{3,4}\s+", body, flags=re.M)[1:]
    if parts:
        for part in parts:
            items.append((part.split("\n", 1)[0].strip()[:30], part, "", None))
        return items
    for line in body.split("\n"):
        m = re.match(r"^\s*(?:[-*]|\d+\.)\s+(.*)", line)
        if m:
            items.append((m.group(1)[:30], m.group(1), "", None))
    return items


def check_nfr_measurable(doc: ParsedDoc, template: Template) -> list[str]:
    body = doc.section("Requirements") or ""
    items = _nfr_items(body)
    if not items:
        return ["'## Requirements' lists no requirement (a table row or a bullet each)"]
    out = []
    for label, text, target, verification in items:
        if not MEASURE.search(text):
            said = f" (its target says '{target[:40]}')" if target else ""
            out.append(
                f"requirement {label} has no measurable target{said}: give a number with a "
                "unit that fits it, e.g. '95th percentile under 300 ms', '99.5 % per month'"
            )
        # a verification column is read alone: "checkout" in the requirement is no method
        if not VERIFY.search(text if verification is None else verification):
            said = f" (its verification says '{verification[:40]}')" if verification else ""
            out.append(
                f"requirement {label} does not say how it is verified{said}: name a test, "
                "benchmark, monitor, review or audit"
            )
    return out


# a requirement's identifier: FR-1, FR1, FR 1, FR-01, FR.1, REQ-1 (bold or not)
REQ_ID = re.compile(r"\b(?:FR|REQ)[-_. ]?\d+\b", re.I)


def check_srs_requirements(doc: ParsedDoc, template: Template) -> list[str]:
    body = doc.section("Functional Requirements") or ""
    ids = REQ_ID.findall(body)
    out = []
    if len(ids) < 2:
        shalls = len(re.findall(r"\bshall\b", body, re.I))
        out.append(
            "'## Functional Requirements' needs at least two requirements, each on its own line "
            "starting with an identifier: '- FR-1: The system shall ...'"
            + (f" (it has {shalls} 'shall' sentence(s) but no FR-n identifiers)" if shalls else "")
        )
    elif not re.search(r"\bshall\b", body, re.I):
        out.append("'## Functional Requirements': each requirement must use 'shall'")
    return out


USECASE_FIELDS = ("actor", "preconditions", "main flow", "alternatives")


def check_usecase_fields(doc: ParsedDoc, template: Template) -> list[str]:
    body = doc.section("Use Cases") or ""
    parts = re.split(r"^###\s+", body, flags=re.M)[1:]
    if not parts:
        return ["'## Use Cases' has no use case (a '### UC-1: <name>' heading each)"]
    out = []
    for part in parts:
        name = part.split("\n", 1)[0].strip()
        low = part.lower()
        for f in USECASE_FIELDS:
            key = "alternative" if f == "alternatives" else f
            key = "precondition" if f == "preconditions" else key
            if key not in low:
                out.append(f"use case '{name}' has no {f.title()}")
    return out


def check_diagram(doc: ParsedDoc, template: Template) -> list[str]:
    text = "\n\n".join(doc.sections.values())
    found = diagrams(text)
    if not found:
        lang = template.diagram or "mermaid"
        hint = f": {template.diagram_hint}" if template.diagram_hint else ""
        return [f"'## {template.diagram_home}' has no diagram (a fenced ```{lang} block{hint})"]
    return []


C4_CONTAINER = re.compile(r"\b(Container(?:Db|Queue)?(?:_Ext)?)\s*\(([^)]*)\)")


def _args(raw: str) -> list[str]:
    return [a.strip().strip("\"'").strip() for a in re.findall(r'"[^"]*"|[^,]+', raw)]


def check_c4_technology(doc: ParsedDoc, template: Template) -> list[str]:
    text = "\n\n".join(doc.sections.values())
    out = []
    seen = 0
    for block in diagrams(text):
        if block.diagram == "d2":
            for m in re.finditer(r"^\s*([\w-]+)\s*:\s*([^{\n]*)\{", block.text, re.M):
                inner = block.text[m.end() :].split("}", 1)[0]
                if "shape" in inner and "person" in inner:
                    continue
                seen += 1
                if not re.search(r"(tech|technology|tooltip)\s*:", inner):
                    out.append(f"container '{m.group(1)}' names no technology")
            continue
        for m in C4_CONTAINER.finditer(block.text):
            seen += 1
            args = _args(m.group(2))
            label = args[1] if len(args) > 1 else args[0] if args else "?"
            if len(args) < 3 or not args[2]:
                out.append(
                    f"container '{label}' names no technology ({m.group(1)}(alias, label, "
                    "technology, description))"
                )
    if not seen:
        out.append("the diagram has no container (Container(alias, label, technology, ...))")
    return out


def check_openapi(doc: ParsedDoc, template: Template) -> list[str]:
    from ai_workbench.documents.openapi import validate_text

    text = doc.section("OpenAPI")
    if text is None:
        return ["the section '## OpenAPI' with the specification is missing"]
    specs = [b for b in blocks(text) if b.lang in ("yaml", "yml", "json")]
    if not specs:
        return ["'## OpenAPI' has no ```yaml block"]
    problem = validate_text(specs[0].text)
    return [f"the OpenAPI document is not valid: {problem}"] if problem else []


def check_api_routes(doc: ParsedDoc, template: Template) -> list[str]:
    body = doc.section("Endpoints") or ""
    spec = doc.section("OpenAPI") or ""
    routes = re.findall(r"^\s{2}(/[^:\s]*):", spec, re.M)
    missing = [r for r in routes if not re.search(rf"{re.escape(r)}(?![\w/{{])", body)]
    if missing:
        more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        return [
            f"'## Endpoints' does not describe {', '.join(missing[:20])}{more}: give each path "
            "a '### METHOD /path' heading and a sentence"
        ]
    return []


CHECKS: dict[str, Check] = {
    "sections": check_sections,
    "madr": check_madr,
    "nfr_measurable": check_nfr_measurable,
    "srs_requirements": check_srs_requirements,
    "usecase_fields": check_usecase_fields,
    "diagram": check_diagram,
    "c4_technology": check_c4_technology,
    "openapi": check_openapi,
    "api_routes": check_api_routes,
}


# the section a check's failures are about, when its messages do not name one ('## X')
CHECK_SECTION = {
    "nfr_measurable": "Requirements",
    "srs_requirements": "Functional Requirements",
    "usecase_fields": "Use Cases",
    "api_routes": "Endpoints",
}
_NAMED = re.compile(r"'## ([^']+)'")


def failing_sections(results: list[CheckResult], template: Template) -> dict[str, list[str]] | None:
    """The template's sections the failures are about, each with its failures (``[check]
    reason`` lines), in the template's order; ``None`` when a failure is about no section the
    model writes (front matter, the OpenAPI built from the code): then the whole document is
    retried."""
    found: dict[str, list[str]] = {}
    for r in results:
        for f in r.failures:
            if r.check in ("diagram", "c4_technology"):
                name = template.diagram_home
            else:
                named = _NAMED.search(f)
                name = named.group(1) if named else CHECK_SECTION.get(r.check, "")
            section = template.section(name)
            if section is None:
                return None
            found.setdefault(section.name, []).append(f"[{r.check}] {f}")
    order = [s.name for s in template.sections]
    return {name: found[name] for name in order if name in found}


def run_checks(doc: ParsedDoc, template: Template) -> list[CheckResult]:
    return [CheckResult(name, tuple(CHECKS[name](doc, template))) for name in template.checks]


def failures(results: list[CheckResult]) -> list[str]:
    return [f"[{r.check}] {f}" for r in results for f in r.failures]
