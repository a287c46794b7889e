"""The messages a document generation sends: the template's outline, the answers, the
excerpts to cite, the code facts, and what earlier ratings taught (guidance and examples)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ai_workbench.documents.sources import Answer, SourceSet
from ai_workbench.documents.storage import Learning
from ai_workbench.documents.templates import Template

FENCE_WORD = {"mermaid": "mermaid", "plantuml": "plantuml", "d2": "d2"}
MAX_GUIDANCE = 8
MAX_EXAMPLES = 2
EXAMPLE_CHARS = 900


def system_prompt(template: Template, learnings: Sequence[Learning], cite: bool = True) -> str:
    parts = [
        "You are a software architect writing a project document. Write Markdown only: no "
        "preamble, no closing remarks. Be concrete, short and factual; "
        + (
            "when you use a fact from an excerpt, cite it as [S1], [S2], ...; "
            if cite
            else "there are no excerpts to cite, so write no [S1]-style citations; "
        )
        + "never invent facts about the project.",
        template.guidance.strip(),
    ]
    guidance = [ln for ln in learnings if ln.polarity < 0 and ln.enabled][:MAX_GUIDANCE]
    if guidance:
        parts.append(
            f"Readers of earlier {template.type.upper()} documents asked for the following; "
            "follow it:\n"
            + "\n".join(
                f"- {ln.rule}" + (f" (section '{ln.section}')" if ln.section else "")
                for ln in guidance
            )
        )
    examples = [ln for ln in learnings if ln.polarity > 0 and ln.enabled and ln.example][
        :MAX_EXAMPLES
    ]
    for ln in examples:
        parts.append(
            f"A '{ln.section}' section readers liked (an example of tone and depth, not of "
            f"content):\n<example>\n{ln.example[:EXAMPLE_CHARS]}\n</example>"
        )
    return "\n\n".join(p for p in parts if p)


def _example(text: str, diagram: str) -> str:
    """A section's skeleton, its diagram fences in the document's language."""
    if diagram:
        text = re.sub(r"^```(mermaid|plantuml|d2)\b", f"```{FENCE_WORD[diagram]}", text, flags=re.M)
    return text.strip()


def diagram_rule(template: Template, diagram: str) -> str:
    hint = template.diagram_hint or "a diagram"
    return (
        f"'## {template.diagram_home}' must contain {hint}, in a fenced ```{FENCE_WORD[diagram]} "
        "block. Keep it small (at most 8 nodes)."
    )


def outline(template: Template, diagram: str) -> str:
    parts = []
    for s in template.sections:
        if s.alone:
            continue  # asked for in a call of its own (alone_prompt)
        text = f"## {s.name}"
        if s.guidance:
            text += f"\n({s.guidance.strip()})"
        # the skeleton is in the template's own diagram language: show it only for that one
        if s.example and (diagram == template.diagram or "```" not in s.example):
            text += f"\nShape:\n{_example(s.example, diagram)}"
        parts.append(text)
    text = "\n\n".join(parts)
    if any(s.example for s in template.sections):
        text += "\n\nReplace every <...> in a shape with the real content; do not copy it."
    if diagram:
        text += "\n\nDiagram: " + diagram_rule(template, diagram)
    return text


def user_prompt(
    template: Template,
    title: str,
    answers: Sequence[Answer],
    sources: SourceSet,
    facts: str,
    diagram: str,
) -> str:
    parts = [f'Write the {template.name} titled "{title}".']
    if answers:
        parts.append(
            "What the authors said (or assumed):\n"
            + "\n".join(f"- {a.key.replace('_', ' ')}: {a.value}" for a in answers)
        )
    if facts:
        parts.append(facts)
    block = sources.prompt_block()
    if block:
        parts.append("Excerpts from the project (cite them as [S<n>]):\n\n" + block)
    parts.append(
        "Use exactly these level-2 headings, in this order, and nothing above the first one:\n\n"
        + outline(template, diagram)
    )
    return "\n\n".join(parts)


def retry_prompt(failures: Sequence[str]) -> str:
    return (
        "The document fails these checks:\n"
        + "\n".join(f"- {f}" for f in failures)
        + "\n\nWrite the whole document again with every problem fixed, the same headings, "
        "Markdown only."
    )


ROUTE_FACT = re.compile(r"^- ([A-Z]+) (/\S*) \(", re.M)


def alone_prompt(template: Template, section: str, diagram: str, facts: str = "") -> str:
    """Ask for a section written in a call of its own (a long one, such as every endpoint).
    For the API's Endpoints the routes found in the code are its skeleton: each one's heading
    is given, the model writes what it does."""
    spec = template.section(section)
    parts = [f"Now write the section '## {section}' of the same document."]
    if spec and spec.guidance:
        parts.append(f"What the section holds: {spec.guidance.strip()}")
    routes = ROUTE_FACT.findall(facts) if template.type == "api" else []
    if routes:
        parts.append(
            "Write these headings, in this order, each followed by one sentence on what it "
            "does:\n\n"
            + "\n\n".join(f"### {m} {p}\n\n<one sentence: what it does>" for m, p in routes)
        )
    elif spec and spec.example and (diagram == template.diagram or "```" not in spec.example):
        parts.append(
            "Its shape (replace every <...> with the real content):\n"
            + _example(spec.example, diagram)
        )
    if diagram and section == template.diagram_home:
        parts.append(diagram_rule(template, diagram))
    parts.append("Reply with the body of that section only: no heading, no other section.")
    return "\n\n".join(parts)


def section_fix_prompt(
    template: Template, section: str, problems: Sequence[str], diagram: str
) -> str:
    """Ask for one failing section again: what is wrong, its guidance and its shape."""
    spec = template.section(section)
    parts = [
        f"The section '## {section}' of your document fails these checks:\n"
        + "\n".join(f"- {p}" for p in problems)
    ]
    if spec and spec.guidance:
        parts.append(f"What the section holds: {spec.guidance.strip()}")
    if spec and spec.example and (diagram == template.diagram or "```" not in spec.example):
        parts.append(
            "Its shape (replace every <...> with the real content):\n"
            + _example(spec.example, diagram)
        )
    if diagram and section == template.diagram_home:
        parts.append(diagram_rule(template, diagram))
    parts.append(
        f"Write the section '## {section}' again with every problem fixed. Reply with the body "
        "of that section only: no heading, no other section, no remarks."
    )
    return "\n\n".join(parts)


def diagram_only_prompt(template: Template, diagram: str) -> str:
    """Ask for the missing diagram alone (a small model writes one block more reliably)."""
    fence = FENCE_WORD[diagram]
    hint = template.diagram_hint or "a diagram of the design"
    spec = template.section(template.diagram_home)
    sample = ""
    if spec and spec.example and diagram == template.diagram:
        found = re.search(r"```(?:mermaid|plantuml|d2)\n.*?\n```", spec.example, re.S)
        if found:
            sample = "\n\nIts shape (replace the names with the document's):\n" + _example(
                found.group(0), diagram
            )
    return (
        f"Your document has no diagram. Draw {hint} for the section '## {template.diagram_home}'"
        f", using the names in your document.{sample}\n\nReply with only the diagram in one "
        f"fenced ```{fence} block (at most 8 nodes), nothing else."
    )


def diagram_fix_prompt(lang: str, source: str, error: str) -> str:
    return (
        f"This {lang} diagram does not render. The renderer said:\n{error}\n\n"
        f"```{FENCE_WORD.get(lang, lang)}\n{source}\n```\n\n"
        f"Reply with only the corrected diagram in one fenced ```{FENCE_WORD.get(lang, lang)} "
        "block, valid for that language."
    )


def section_prompt(template: Template, document: str, section: str, note: str = "") -> str:
    spec = template.section(section)
    guidance = spec.guidance if spec else ""
    return (
        f"Here is the document:\n\n{document}\n\n"
        f"Rewrite only the section '## {section}'"
        + (f" ({guidance.strip()})" if guidance else "")
        + (f". The reader asks: {note}" if note else "")
        + ". Reply with the new body of that section only, without its heading."
    )
