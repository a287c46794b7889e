"""Personas: expert system prompts kept as Markdown files with a small front matter block.

A persona file looks like::

    ---
    name: Systems Architect
    description: Requirements, quality attributes, trade-offs and ADRs
    model: openai/gpt-4o          # optional
    temperature: 0.2              # optional, 0..2
    ---
    You are a systems architect ...

Personas are looked for in three roots, later ones overriding earlier ones by id:
the bundled ``personas/`` dir, the user's ``<config_dir>/personas`` and the project's
``<project_root>/.aiw/personas``. The id is the file's path relative to its root,
without ``.md`` (``core/SA-1``).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ai_workbench.core.paths import bundled_dir, config_dir, find_project_root

__all__ = [
    "ORIGINS",
    "Persona",
    "PersonaCatalog",
    "PersonaError",
    "PersonaNotFound",
    "load_personas",
    "parse_persona",
    "persona_roots",
]

ORIGINS = ("bundled", "user", "project")
FENCE = "---"
REQUIRED_KEYS = ("name", "description")
MAX_TEMPERATURE = 2.0


class PersonaError(Exception):
    """A persona file that cannot be used; the message names the file, the key and the problem."""

    def __init__(self, source: Path, key: str | None, problem: str, display: str | None = None):
        self.source = source
        self.key = key
        self.problem = problem
        self.display = display or str(source)
        where = f"{self.display}: {key}" if key else self.display
        super().__init__(f"{where}: {problem}")

    @property
    def message(self) -> str:
        return str(self)


class PersonaNotFound(KeyError):
    """No persona (or more than one) matches a name given to :meth:`PersonaCatalog.get`."""

    def __init__(self, name: str, message: str, candidates: list[str] | None = None):
        super().__init__(name)
        self.name = name
        self.message = message
        self.candidates = candidates or []

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Persona:
    id: str
    name: str
    description: str
    prompt: str
    model: str | None
    temperature: float | None
    source: Path
    origin: str

    @property
    def short_id(self) -> str:
        """The last path component of the id (``SA-1`` for ``core/SA-1``)."""
        return self.id.rsplit("/", 1)[-1]


# --------------------------------------------------------------------------- parsing


class _ErrorFactory:
    """Builds :class:`PersonaError` for one file."""

    def __init__(self, source: Path, display: str):
        self.source = source
        self.display = display

    def __call__(self, key: str | None, problem: str) -> PersonaError:
        return PersonaError(self.source, key, problem, self.display)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in {"'", '"'}:
        return value[1:-1]
    return value


def _split_front_matter(text: str, err: _ErrorFactory) -> tuple[list[str], str]:
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != FENCE:
        raise err("front matter", "expected the file to start with a '---' line")
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == FENCE:
            return lines[1:index], "\n".join(lines[index + 1 :])
    raise err("front matter", "expected a closing '---' line")


def _parse_pairs(lines: list[str], err: _ErrorFactory) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for number, raw in enumerate(lines, start=2):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if not sep or not key:
            raise err(f"line {number}", f"expected 'key: value', got {line!r}")
        if key in pairs:
            raise err(key, "expected the key only once, found it again")
        pairs[key] = _unquote(value.strip())
    return pairs


def _parse_temperature(raw: str | None, err: _ErrorFactory) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isnan(value) or not 0.0 <= value <= MAX_TEMPERATURE:
        raise err("temperature", f"expected a number between 0 and 2, got {raw!r}")
    return value


def parse_persona(
    text: str, *, id: str, source: Path, origin: str, display: str | None = None
) -> Persona:
    """Parse one persona file's text; raises :class:`PersonaError` when it is malformed."""
    err = _ErrorFactory(source, display or str(source))
    header, body = _split_front_matter(text, err)
    pairs = _parse_pairs(header, err)
    for key in REQUIRED_KEYS:
        if not pairs.get(key):
            raise err(key, "expected a non-empty value, but the key is missing or empty")
    prompt = body.strip()
    if not prompt:
        raise err("prompt", "expected a Markdown body after the front matter, found none")
    return Persona(
        id=id,
        name=pairs["name"],
        description=pairs["description"],
        prompt=prompt,
        model=pairs.get("model") or None,
        temperature=_parse_temperature(pairs.get("temperature"), err),
        source=source,
        origin=origin,
    )


def _display_path(path: Path, root: Path, origin: str) -> str:
    """Bundled files are named ``personas/core/X.md``; user and project files by full path."""
    if origin == "bundled":
        return path.relative_to(root.parent).as_posix()
    return str(path)


def _load_file(path: Path, root: Path, origin: str) -> Persona:
    display = _display_path(path, root, origin)
    persona_id = path.relative_to(root).with_suffix("").as_posix()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PersonaError(path, None, "expected UTF-8 text", display) from None
    except OSError as exc:
        raise PersonaError(path, None, f"cannot be read ({exc.strerror or exc})", display) from None
    return parse_persona(text, id=persona_id, source=path, origin=origin, display=display)


# --------------------------------------------------------------------------- discovery


def persona_roots(project_root: Path | None = None) -> list[tuple[str, Path]]:
    """The persona dirs in increasing precedence, as ``(origin, path)`` pairs."""
    project = project_root if project_root is not None else find_project_root()
    return [
        ("bundled", bundled_dir("personas")),
        ("user", config_dir() / "personas"),
        ("project", project / ".aiw" / "personas"),
    ]


def _persona_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    files = []
    for path in root.rglob("*.md"):
        rel = path.relative_to(root)
        if any(part.startswith((".", "_")) for part in rel.parts):
            continue
        if path.name.lower() == "readme.md" or not path.is_file():
            continue
        files.append(path)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


@dataclass
class PersonaCatalog:
    """Every persona found, plus the files that could not be loaded."""

    personas: dict[str, Persona] = field(default_factory=dict)
    errors: list[PersonaError] = field(default_factory=list)
    broken: dict[str, PersonaError] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Persona]:
        return iter(self.personas.values())

    def __len__(self) -> int:
        return len(self.personas)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.get(name)
        except (PersonaNotFound, PersonaError):
            return False
        return True

    def ids(self) -> list[str]:
        return list(self.personas)

    def get(self, name: str) -> Persona:
        """Resolve ``name``: exact id, case-insensitive id, a unique ``/``-suffix, or title.

        Raises :class:`PersonaNotFound` (unknown or ambiguous) or the file's
        :class:`PersonaError` when the matching persona file is broken.
        """
        persona_id = _resolve(name, self._all_ids(), self.personas)
        if persona_id in self.broken:
            raise self.broken[persona_id]
        return self.personas[persona_id]

    def _all_ids(self) -> list[str]:
        return sorted({*self.personas, *self.broken})


def _resolve(name: str, ids: list[str], personas: dict[str, Persona]) -> str:
    wanted = name.strip().replace("\\", "/").strip("/")
    wanted = wanted.removesuffix(".md")
    if wanted in ids:
        return wanted
    lowered = wanted.lower()
    for stage in (
        [i for i in ids if i.lower() == lowered],
        _suffix_matches(wanted, ids),
        [p.id for p in personas.values() if p.name.lower() == lowered],
    ):
        if len(stage) == 1:
            return stage[0]
        if len(stage) > 1:
            raise PersonaNotFound(
                name,
                f"persona {name!r} is ambiguous; candidates: {', '.join(stage)}",
                stage,
            )
    raise PersonaNotFound(name, _not_found_message(name, ids, personas))


def _suffix_matches(wanted: str, ids: list[str]) -> list[str]:
    if not wanted:
        return []
    matches = [i for i in ids if i.lower().endswith("/" + wanted.lower())]
    if len(matches) > 1:
        exact = [i for i in matches if i.endswith("/" + wanted)]
        if len(exact) == 1:
            return exact
    return matches


def _not_found_message(name: str, ids: list[str], personas: dict[str, Persona]) -> str:
    available = ", ".join(personas) or "(none)"
    message = f"unknown persona {name!r}; available: {available}"
    suggestion = _close_match(name, ids)
    if suggestion:
        message += f"; did you mean {suggestion!r}?"
    return message


def _close_match(name: str, ids: list[str]) -> str | None:
    keys: dict[str, str] = {}
    for persona_id in ids:
        keys.setdefault(persona_id.lower(), persona_id)
        keys.setdefault(persona_id.rsplit("/", 1)[-1].lower(), persona_id)
    close = difflib.get_close_matches(name.strip().lower(), list(keys), n=1, cutoff=0.6)
    return keys[close[0]] if close else None


def load_personas(project_root: Path | None = None) -> PersonaCatalog:
    """Load every persona from the bundled, user and project roots (later roots win).

    ``project_root`` defaults to :func:`find_project_root` from the working directory.
    A broken file is recorded in ``errors`` rather than raised; when it is the
    highest-precedence file for its id, looking that id up raises its error.
    """
    catalog = PersonaCatalog()
    found: dict[str, Persona] = {}
    seen_roots: set[Path] = set()
    for origin, root in persona_roots(project_root):
        resolved = root.resolve() if root.exists() else root
        if resolved in seen_roots:
            continue
        seen_roots.add(resolved)
        for path in _persona_files(root):
            persona_id = path.relative_to(root).with_suffix("").as_posix()
            try:
                found[persona_id] = _load_file(path, root, origin)
            except PersonaError as exc:
                catalog.errors.append(exc)
                catalog.broken[persona_id] = exc
                found.pop(persona_id, None)
            else:
                catalog.broken.pop(persona_id, None)
    catalog.personas = dict(sorted(found.items()))
    return catalog
