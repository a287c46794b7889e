"""The messages a document generation sends: the template's outline, the answers, the
excerpts to cite, the code facts, and what earlier ratings taught (guidance and examples)."""

from __future__ import annotations

from collections.abc import Sequence

from ai_workbench.documents.sources import Answer, SourceSet
from ai_workbench.documents.storage import Learning
from ai_workbench.documents.templates import Template

FENCE_WORD = {"mermaid": "mermaid", "plantuml": "plantuml", "d2": "d2"}
MAX_GUIDANCE = 8
MAX_EXAMPLES = 2
EXAMPLE_CHARS = 900


def system_prompt(template: Template, learnings: Sequence[Learning]) -> str:
    parts = [
        "You are a software architect writing a project document. Write Markdown only: no "
        "preamble, no closing remarks. Be concrete, short and factual; when you use a fact "
        "from an excerpt, cite it as [S1], [S2], ...; never invent facts about the project.",
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


def outline(template: Template, diagram: str) -> str:
    lines = []
    for s in template.sections:
        lines.append(f"## {s.name}\n({s.guidance.strip()})" if s.guidance else f"## {s.name}")
    text = "\n\n".join(lines)
    if diagram:
        hint = template.diagram_hint or "a diagram"
        text += (
            f"\n\nDiagram: {hint}, in a fenced ```{FENCE_WORD[diagram]} block inside the section "
            "that asks for it. Keep it small (at most 8 nodes)."
        )
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
