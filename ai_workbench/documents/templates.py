"""Document templates: TOML files declaring sections, the inputs each needs and the checks.

Templates are looked for in three roots, later ones overriding earlier ones by id (the file's
name without ``.toml``), like personas: the bundled ``templates/`` inside this package, the
user's ``<config_dir>/templates`` and the project's ``<project_root>/.aiw/templates``. A
template's ``type`` is one of :data:`DOC_TYPES`; ``aiw doc new TYPE`` uses the template whose id
is the type unless ``--template`` names another of that type.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ai_workbench.core.errors import InputError
from ai_workbench.core.paths import config_dir

DOC_TYPES = ("srs", "nfr", "usecases", "api", "adr", "rfc", "c4", "uml")
DIAGRAM_LANGUAGES = ("mermaid", "plantuml", "d2")
ORIGINS = ("bundled", "user", "project")
BUNDLED = Path(__file__).with_name("templates")


class TemplateError(InputError):
    """A template file that cannot be used (names the file, the key and the problem)."""


@dataclass(frozen=True)
class Input:
    key: str
    question: str
    default: str
    query: str = ""  # what to look for in the project index, the files and the session
    section: str = ""  # the section the answer feeds
    front_matter: str = ""  # a front matter key the answer fills (ADR status, ...)

    def default_for(self, title: str) -> str:
        return self.default.replace("{title}", title)

    def query_for(self, title: str) -> str:
        return self.query.replace("{title}", title)


@dataclass(frozen=True)
class Section:
    name: str
    guidance: str = ""
    example: str = ""  # a short skeleton of the section's shape (placeholders in <...>)
    aliases: tuple[str, ...] = ()  # other headings a model may write for it ("Context", ...)
    alone: bool = False  # written in a call of its own, after the rest (a long section)

    def matches(self, heading: str) -> bool:
        """Whether a heading the model wrote is this section (its name or an alias; a
        heading that starts with or contains one counts: "Decision Outcome and Rationale")."""
        h = heading.strip().lower()
        for name in (self.name, *self.aliases):
            n = name.lower()
            if h == n or h.startswith(n) or n.startswith(h) or n in h:
                return True
        return False


@dataclass(frozen=True)
class Template:
    id: str
    type: str
    name: str
    description: str
    version: int
    sections: tuple[Section, ...]
    inputs: tuple[Input, ...]
    checks: tuple[str, ...]
    guidance: str = ""
    diagram: str = ""  # mermaid | plantuml | d2 | '' (none expected)
    diagram_hint: str = ""
    diagram_section: str = ""  # the section the diagram belongs in ('' = the last one)
    front_matter: tuple[str, ...] = ()
    source: Path = field(default=BUNDLED)
    origin: str = "bundled"

    def section(self, name: str) -> Section | None:
        wanted = name.strip().lower()
        for section in self.sections:
            if section.name.lower() == wanted:
                return section
        return None

    @property
    def diagram_home(self) -> str:
        """The section a diagram goes into (``diagram_section``, else the last section)."""
        return self.diagram_section or self.sections[-1].name


def template_roots(project_root: Path | None) -> list[tuple[str, Path]]:
    roots = [("bundled", BUNDLED), ("user", config_dir() / "templates")]
    if project_root is not None:
        roots.append(("project", project_root / ".aiw" / "templates"))
    return roots


def _str(data: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise TemplateError(f"{where}: {key}: expected a string, got {type(value).__name__}")
    if required and not value.strip():
        raise TemplateError(f'{where}: {key}: missing (add `{key} = "..."`)')
    return value.strip()


def _bool(data: dict[str, Any], key: str, where: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise TemplateError(f"{where}: {key}: expected true or false")
    return value


def parse_template(path: Path, origin: str = "bundled") -> Template:
    """Read one template file; :class:`TemplateError` names the file and key on a problem."""
    from ai_workbench.documents.checks import CHECKS

    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{where}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{where}: not valid TOML: {exc}") from None
    doc_type = _str(data, "type", where)
    if doc_type not in DOC_TYPES:
        raise TemplateError(f"{where}: type: '{doc_type}' is not one of {', '.join(DOC_TYPES)}")
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise TemplateError(f"{where}: version: expected a whole number >= 1")
    diagram = _str(data, "diagram", where, required=False)
    if diagram and diagram not in DIAGRAM_LANGUAGES:
        raise TemplateError(
            f"{where}: diagram: '{diagram}' is not one of {', '.join(DIAGRAM_LANGUAGES)} or ''"
        )
    sections = []
    for n, raw in enumerate(data.get("sections") or [], 1):
        if not isinstance(raw, dict):
            raise TemplateError(f"{where}: sections[{n}]: expected a table")
        aliases = raw.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise TemplateError(f"{where}: sections[{n}]: aliases: expected a list of headings")
        sections.append(
            Section(
                _str(raw, "name", f"{where}: sections[{n}]"),
                _str(raw, "guidance", where, required=False),
                _str(raw, "example", f"{where}: sections[{n}]", required=False),
                tuple(a.strip() for a in aliases if a.strip()),
                _bool(raw, "alone", f"{where}: sections[{n}]"),
            )
        )
    if not sections:
        raise TemplateError(f"{where}: sections: a template needs at least one [[sections]] table")
    names = {s.name.lower() for s in sections}
    inputs = []
    for n, raw in enumerate(data.get("inputs") or [], 1):
        at = f"{where}: inputs[{n}]"
        if not isinstance(raw, dict):
            raise TemplateError(f"{at}: expected a table")
        item = Input(
            key=_str(raw, "key", at),
            question=_str(raw, "question", at),
            default=_str(raw, "default", at),
            query=_str(raw, "query", at, required=False),
            section=_str(raw, "section", at, required=False),
            front_matter=_str(raw, "front_matter", at, required=False),
        )
        if item.section and item.section.lower() not in names:
            raise TemplateError(f"{at}: section: '{item.section}' is not one of the sections")
        inputs.append(item)
    checks = data.get("checks") or ["sections"]
    if not isinstance(checks, list) or not all(isinstance(c, str) for c in checks):
        raise TemplateError(f"{where}: checks: expected a list of check names")
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise TemplateError(
            f"{where}: checks: unknown check '{unknown[0]}' (known: {', '.join(sorted(CHECKS))})"
        )
    diagram_section = _str(data, "diagram_section", where, required=False)
    if diagram_section and diagram_section.lower() not in names:
        raise TemplateError(
            f"{where}: diagram_section: '{diagram_section}' is not one of the sections"
        )
    front = data.get("front_matter") or []
    if not isinstance(front, list):
        raise TemplateError(f"{where}: front_matter: expected a list of keys")
    return Template(
        id=path.stem,
        type=doc_type,
        name=_str(data, "name", where),
        description=_str(data, "description", where, required=False),
        version=version,
        sections=tuple(sections),
        inputs=tuple(inputs),
        checks=tuple(checks),
        guidance=_str(data, "guidance", where, required=False),
        diagram=diagram,
        diagram_hint=_str(data, "diagram_hint", where, required=False),
        diagram_section=next(
            (s.name for s in sections if s.name.lower() == diagram_section.lower()), ""
        ),
        front_matter=tuple(str(k) for k in front),
        source=path,
        origin=origin,
    )


def load_templates(project_root: Path | None) -> dict[str, Template]:
    """Every template by id; a user or project file overrides a bundled one of the same id."""
    found: dict[str, Template] = {}
    for origin, root in template_roots(project_root):
        if not root.is_dir():
            continue
        for path in sorted(root.glob("*.toml")):
            found[path.stem] = parse_template(path, origin)
    return found


def find_template(project_root: Path | None, doc_type: str, name: str | None = None) -> Template:
    """The template for ``doc_type`` (``name`` picks one by id); one clear error otherwise."""
    if doc_type not in DOC_TYPES:
        raise InputError(
            f"unknown document type '{doc_type}': choose one of {', '.join(DOC_TYPES)}"
        )
    templates = load_templates(project_root)
    wanted = name or doc_type
    template = templates.get(wanted)
    if template is None:
        same = sorted(t.id for t in templates.values() if t.type == doc_type)
        raise InputError(
            f"unknown template '{wanted}' for type {doc_type}: "
            + (f"choose one of {', '.join(same)}" if same else "none is installed")
            + " (aiw doc templates lists them)"
        )
    if template.type != doc_type:
        raise InputError(
            f"template '{wanted}' ({template.source}) is for {template.type} documents, not {doc_type}"  # noqa: E501
        )
    return template
