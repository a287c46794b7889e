"""What a repository shows about its containers (C4 level 2), read from files, nothing run.

* compose files (``docker-compose.yml``, ``compose.yaml``, ...): one container per service,
  its technology from the image (``postgres:16`` -> PostgreSQL 16) or ``build``;
* ``pyproject.toml``: the Python application, its technology from the frameworks among its
  dependencies (FastAPI, Flask, Django, click, Textual, ...) and the stores they imply
  (aiosqlite/sqlite -> SQLite, psycopg -> PostgreSQL, redis, chromadb, ...);
* ``package.json``: the Node application (React, Express, Next.js, Vue, ...).

Each container carries the ``path:lines`` it was read from (cited in the document).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
PY_FRAMEWORKS = {
    "fastapi": "FastAPI",
    "flask": "Flask",
    "django": "Django",
    "starlette": "Starlette",
    "aiohttp": "aiohttp",
    "textual": "Textual",
    "click": "click",
    "typer": "Typer",
    "celery": "Celery",
    "litellm": "litellm",
    "streamlit": "Streamlit",
}
JS_FRAMEWORKS = {
    "react": "React",
    "next": "Next.js",
    "vue": "Vue",
    "express": "Express",
    "@nestjs/core": "NestJS",
    "svelte": "Svelte",
    "fastify": "Fastify",
    "@angular/core": "Angular",
}
STORES = {
    "aiosqlite": ("sqlite", "SQLite database", "SQLite"),
    "sqlalchemy": ("sqldb", "Relational database", "SQL via SQLAlchemy"),
    "psycopg": ("postgres", "PostgreSQL", "PostgreSQL"),
    "psycopg2": ("postgres", "PostgreSQL", "PostgreSQL"),
    "psycopg2-binary": ("postgres", "PostgreSQL", "PostgreSQL"),
    "asyncpg": ("postgres", "PostgreSQL", "PostgreSQL"),
    "redis": ("redis", "Redis", "Redis"),
    "chromadb": ("chroma", "Vector store", "Chroma"),
    "pymongo": ("mongo", "MongoDB", "MongoDB"),
    "pg": ("postgres", "PostgreSQL", "PostgreSQL"),
    "mongoose": ("mongo", "MongoDB", "MongoDB"),
    "ioredis": ("redis", "Redis", "Redis"),
}
IMAGE_TECH = {
    "postgres": "PostgreSQL",
    "mysql": "MySQL",
    "mariadb": "MariaDB",
    "redis": "Redis",
    "mongo": "MongoDB",
    "rabbitmq": "RabbitMQ",
    "nginx": "nginx",
    "elasticsearch": "Elasticsearch",
    "kafka": "Kafka",
    "minio": "MinIO",
}
DB_IMAGES = {"postgres", "mysql", "mariadb", "redis", "mongo", "elasticsearch", "minio"}


@dataclass
class Container:
    alias: str
    label: str
    technology: str
    description: str
    db: bool
    source: str  # path:lines


def _alias(name: str) -> str:
    return re.sub(r"\W+", "_", name).strip("_").lower() or "app"


def _line_of(lines: list[str], needle: str) -> int:
    for n, line in enumerate(lines, 1):
        if needle in line:
            return n
    return 1


def _dep_name(spec: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", spec.strip(), maxsplit=1)[0].lower()


def _compose(root: Path) -> list[Container]:
    import yaml

    out = []
    for name in COMPOSE_FILES:
        path = root / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            continue
        lines = text.split("\n")
        services = data.get("services") if isinstance(data, dict) else None
        for svc, spec in (services or {}).items():
            spec = spec if isinstance(spec, dict) else {}
            image = str(spec.get("image") or "")
            base = image.split("/")[-1].split(":")[0].lower()
            tag = image.split(":")[1] if ":" in image else ""
            tech = IMAGE_TECH.get(base, image or "built from " + str(spec.get("build", ".")))
            if base in IMAGE_TECH and tag and tag != "latest":
                tech = f"{tech} {tag.split('-')[0]}"
            line = _line_of(lines, f"{svc}:")
            out.append(
                Container(
                    _alias(svc),
                    str(svc),
                    tech,
                    f"compose service '{svc}'",
                    base in DB_IMAGES,
                    f"{name}:{line}-{line + max(len(spec), 1)}",
                )
            )
    return out


def _pyproject(root: Path) -> list[Container]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return []
    project = data.get("project") or data.get("tool", {}).get("poetry") or {}
    name = str(project.get("name") or root.name)
    deps_raw = project.get("dependencies") or []
    deps = [_dep_name(d) for d in deps_raw] if isinstance(deps_raw, list) else list(deps_raw)
    lines = text.split("\n")
    start = _line_of(lines, "dependencies")
    end = start
    for n in range(start, len(lines)):
        if lines[n].strip().startswith("]"):
            end = n + 1
            break
    frameworks = [PY_FRAMEWORKS[d] for d in deps if d in PY_FRAMEWORKS]
    tech = "Python" + (", " + ", ".join(frameworks[:3]) if frameworks else "")
    desc = str(project.get("description") or "the application")[:120]
    out = [Container(_alias(name), name, tech, desc, False, f"pyproject.toml:{start}-{end}")]
    seen: set[str] = set()
    for d in deps:
        if d in STORES and STORES[d][0] not in seen:
            alias, label, store_tech = STORES[d]
            seen.add(alias)
            line = _line_of(lines, d)
            out.append(
                Container(
                    alias,
                    label,
                    store_tech,
                    f"used through {d}",
                    True,
                    f"pyproject.toml:{line}-{line}",
                )
            )
    return out


def _package_json(root: Path) -> list[Container]:
    path = root / "package.json"
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return []
    deps = {**(data.get("dependencies") or {}), **(data.get("devDependencies") or {})}
    name = str(data.get("name") or "web")
    frameworks = [JS_FRAMEWORKS[d] for d in deps if d in JS_FRAMEWORKS]
    tech = "Node.js" + (", " + ", ".join(frameworks[:3]) if frameworks else "")
    lines = text.split("\n")
    line = _line_of(lines, '"dependencies"')
    out = [
        Container(
            _alias(name) + "_web",
            name,
            tech,
            str(data.get("description") or "the web application")[:120],
            False,
            f"package.json:{line}-{line + len(deps)}",
        )
    ]
    for d in deps:
        if d in STORES:
            alias, label, store_tech = STORES[d]
            n = _line_of(lines, f'"{d}"')
            out.append(
                Container(
                    alias, label, store_tech, f"used through {d}", True, f"package.json:{n}-{n}"
                )
            )
    return out


def containers(root: Path) -> list[Container]:
    """The containers the repository shows (compose services first), de-duplicated by alias."""
    found: dict[str, Container] = {}
    for c in _compose(root) + _pyproject(root) + _package_json(root):
        found.setdefault(c.alias, c)
    return list(found.values())


def c4_skeleton(title: str, items: list[Container], lang: str = "mermaid") -> str:
    """A container diagram of ``items`` in ``lang`` (the model's starting point)."""

    def q(s: str) -> str:
        return s.replace('"', "'")

    if lang == "plantuml":
        lines = [
            "@startuml",
            "!include <C4/C4_Container>",
            'Person(user, "User")',
            f'System_Boundary(system, "{q(title)}") {{',
        ]
        for c in items:
            kind = "ContainerDb" if c.db else "Container"
            lines.append(
                f'  {kind}({c.alias}, "{q(c.label)}", "{q(c.technology)}", "{q(c.description)}")'
            )
        lines.append("}")
        apps = [c for c in items if not c.db]
        if apps:
            lines.append(f'Rel(user, {apps[0].alias}, "uses")')
            lines += [f'Rel({apps[0].alias}, {c.alias}, "reads/writes")' for c in items if c.db]
        lines.append("@enduml")
        return "\n".join(lines)
    if lang == "d2":
        lines = ["user: User {shape: person}"]
        for c in items:
            shape = "cylinder" if c.db else "rectangle"
            lines.append(
                f'{c.alias}: "{q(c.label)}\\n[{q(c.technology)}]" {{shape: {shape}; tooltip: "{q(c.technology)}"}}'  # noqa: E501
            )
        apps = [c for c in items if not c.db]
        if apps:
            lines.append(f"user -> {apps[0].alias}: uses")
            lines += [f"{apps[0].alias} -> {c.alias}: reads/writes" for c in items if c.db]
        return "\n".join(lines)
    lines = [
        "C4Container",
        f"  title {q(title)}",
        '  Person(user, "User")',
        f'  System_Boundary(system, "{q(title)}") {{',
    ]
    for c in items:
        kind = "ContainerDb" if c.db else "Container"
        lines.append(
            f'    {kind}({c.alias}, "{q(c.label)}", "{q(c.technology)}", "{q(c.description)}")'
        )
    lines.append("  }")
    apps = [c for c in items if not c.db]
    if apps:
        lines.append(f'  Rel(user, {apps[0].alias}, "uses")')
        lines += [f'  Rel({apps[0].alias}, {c.alias}, "reads/writes")' for c in items if c.db]
    return "\n".join(lines)
