"""The routes a Python project really has, found by a static scan (ast), as OpenAPI 3.1.

FastAPI / Starlette-style decorators (``@app.get("/x")``, ``@router.post(...)``,
``@app.api_route("/x", methods=[...])``), Flask (``@app.route("/x", methods=[...])``,
``@bp.get``) and click commands (``@click.command`` / ``@group.command``: listed as CLI
commands, not HTTP paths). Nothing is imported or run. The spec is validated with
openapi-spec-validator.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "build", "dist", ".tox"}
MAX_FILES = 2_000
PARAM = re.compile(r"[{<](?:\w+:)?(\w+)[}>]")


@dataclass
class Route:
    method: str
    path: str  # OpenAPI form: /items/{item_id}
    function: str
    rel: str
    line: int
    end: int
    doc: str = ""
    params: list[str] = field(default_factory=list)

    @property
    def location(self) -> str:
        return f"{self.rel}:{self.line}-{self.end}"


@dataclass
class Command:
    name: str
    function: str
    rel: str
    line: int
    doc: str = ""


def _python_files(root: Path) -> list[Path]:
    out: list[Path] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).parts
        if any(p in SKIP_DIRS or p.startswith(".") for p in rel[:-1]):
            continue
        if rel and rel[0] in ("tests", "test"):
            continue
        out.append(path)
        if len(out) >= MAX_FILES:
            break
    return out


def _const_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _methods_kw(call: ast.Call) -> list[str]:
    for kw in call.keywords:
        if kw.arg == "methods" and isinstance(kw.value, ast.List | ast.Tuple | ast.Set):
            return [m.lower() for e in kw.value.elts if (m := _const_str(e))]
    return []


def _path_arg(call: ast.Call) -> str | None:
    if call.args:
        return _const_str(call.args[0])
    for kw in call.keywords:
        if kw.arg in ("path", "rule"):
            return _const_str(kw.value)
    return None


def _openapi_path(path: str) -> str:
    return PARAM.sub(lambda m: "{" + m.group(1) + "}", path) or "/"


def scan(root: Path) -> tuple[list[Route], list[Command]]:
    """Every HTTP route and click command under ``root`` (tests and virtualenvs skipped)."""
    routes: list[Route] = []
    commands: list[Command] = []
    for path in _python_files(root):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError, OSError):
            continue
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            doc = (ast.get_docstring(node) or "").strip().split("\n")[0]
            line = min([d.lineno for d in node.decorator_list] + [node.lineno])
            end = getattr(node, "end_lineno", node.lineno) or node.lineno
            for dec in node.decorator_list:
                call = dec if isinstance(dec, ast.Call) else None
                func = call.func if call else dec
                if not isinstance(func, ast.Attribute):
                    continue
                attr = func.attr
                if attr in ("command", "group"):
                    name = _const_str(call.args[0]) if call and call.args else None
                    commands.append(
                        Command(name or node.name.replace("_", "-"), node.name, rel, line, doc)
                    )
                    continue
                if call is None:
                    continue
                route_path = _path_arg(call)
                if route_path is None or not route_path.startswith("/"):
                    continue
                if attr in HTTP_METHODS:
                    methods = [attr]
                elif attr in ("route", "api_route", "add_api_route"):
                    methods = _methods_kw(call) or ["get"]
                else:
                    continue
                api_path = _openapi_path(route_path)
                for method in methods:
                    routes.append(
                        Route(
                            method,
                            api_path,
                            node.name,
                            rel,
                            line,
                            end,
                            doc,
                            PARAM.findall(route_path),
                        )
                    )
    routes.sort(
        key=lambda r: (r.path, HTTP_METHODS.index(r.method) if r.method in HTTP_METHODS else 9)
    )
    return routes, commands


def build_spec(
    title: str, routes: list[Route], base_url: str = "", version: str = "0.1.0"
) -> dict[str, Any]:
    """An OpenAPI 3.1 document with one operation per route (ids unique, path params declared)."""
    paths: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for r in routes:
        op_id = r.function
        n = 2
        while op_id in used:
            op_id = f"{r.function}_{n}"
            n += 1
        used.add(op_id)
        op: dict[str, Any] = {
            "operationId": op_id,
            "summary": r.doc or r.function.replace("_", " "),
            "description": f"Defined in {r.location}.",
            "responses": {"200": {"description": "Successful response"}},
        }
        if r.params:
            op["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in dict.fromkeys(r.params)
            ]
        paths.setdefault(r.path, {})[r.method] = op
    spec: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
    }
    if base_url:
        spec["servers"] = [{"url": base_url}]
    return spec


def to_yaml(spec: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)


def validate_text(text: str) -> str | None:
    """``None`` when ``text`` (YAML or JSON) is a valid OpenAPI document, else the problem."""
    import yaml

    try:
        spec = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        return f"cannot parse it: {str(exc).splitlines()[0]}"
    if not isinstance(spec, dict):
        return "it is not a mapping"
    return validate(spec)


def validate(spec: dict[str, Any]) -> str | None:
    from openapi_spec_validator import validate as _validate

    try:
        _validate(spec)
    except Exception as exc:
        return str(exc).splitlines()[0][:300]
    return None
