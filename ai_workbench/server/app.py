"""The FastAPI app factory: routers under ``/v1``, problem+json errors, limits, lifespan.

Adding an endpoint group (``/v1/documents``, ``/v1/tasks``): a module in ``routes/`` with a
``router``, and its name in :data:`ROUTERS`. Then regenerate docs/openapi.yaml (see
:mod:`ai_workbench.server.openapi`) and add a test that calls each new path.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from ai_workbench.server import problems
from ai_workbench.server.limits import BodyLimit, ServerTiming
from ai_workbench.server.state import ServerState

API_PREFIX = "/v1"
API_VERSION = "1"  # the contract's version (the package's is in /v1/health)

#: Endpoint modules under ``ai_workbench.server.routes``, mounted in this order.
ROUTERS: tuple[str, ...] = (
    "health",
    "search",
    "ask",
    "sessions",
    "feedback",
    "review",
    "settings",
    "events",
    "tasks",
    "memory",
    "documents",
)

DESCRIPTION = """\
The aiw HTTP API: search the project's index, ask the model (streamed or not), review diffs,
rate answers, read your sessions, write and export documents, follow the event stream. Every
request except `/v1/health` needs `Authorization: Bearer <token>` (`aiw users add NAME`).
Errors are RFC 9457 `application/problem+json`. See docs/server.md.
"""


def create_app(
    loaded: Any = None,
    *,
    project_root: Path | None = None,
    db_path: Path | None = None,
) -> FastAPI:
    """The API over the settings ``loaded`` (loaded now when not given), serving the index of
    ``project_root`` (the settings' project, else the current directory), on the database at
    ``db_path`` (the user's by default)."""
    if loaded is None:
        from ai_workbench.core.settings import load_config

        loaded = load_config(cwd=project_root)
    root = (project_root or loaded.project_root or Path.cwd()).resolve()
    state = ServerState(loaded, project_root=root, db_path=db_path)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(
        title="aiw API",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
    )
    app.state.aiw = state
    problems.install(app)
    for name in ROUTERS:
        module = importlib.import_module(f"ai_workbench.server.routes.{name}")
        app.include_router(module.router, prefix=API_PREFIX)
    app.add_middleware(BodyLimit, limit=lambda: state.settings.server.max_body_bytes)
    app.add_middleware(ServerTiming)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "validation errors: the field and what is wrong with it",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_ERRORS = {
    "401": "No token, or not a valid one",
    "403": "Not allowed for this user",
    "404": "Not found (or not yours)",
    "413": "Request body too large",
    "422": "Invalid request: the errors name the fields",
    "429": "Rate limit or model-call cap reached; see Retry-After",
    "502": "The model provider failed",
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with every error response as the problem+json it really is."""
    from fastapi.openapi.utils import get_openapi

    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            codes = {"422"} if op.get("parameters") or op.get("requestBody") else set()
            if op.get("security"):
                codes |= {"401", "429"}
            if "{" in path:
                codes.add("404")
            if method in ("post", "patch", "put"):
                codes.add("413")
            if method == "patch":
                codes.add("403")
            if path.endswith(("/ask", "/review", "/rewrite")) or (
                path.endswith("/documents") and method == "post"
            ):
                codes.add("502")
            responses = op.setdefault("responses", {})
            for code in sorted(codes):
                responses[code] = {"description": _ERRORS[code], "content": problem}
    app.openapi_schema = doc
    return doc


def app_from_env() -> FastAPI:
    """The factory uvicorn calls in each worker (``--workers N``): settings from the files
    and environment, the project from ``AIW_SERVE_ROOT``."""
    import os

    root = os.environ.get("AIW_SERVE_ROOT")
    return create_app(project_root=Path(root) if root else None)
