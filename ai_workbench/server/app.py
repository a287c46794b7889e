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
from ai_workbench.server.limits import BodyLimit
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
)

DESCRIPTION = """\
The aiw HTTP API: search the project's index, ask the model (streamed or not), review diffs,
rate answers, read your sessions, follow the event stream. Every request except `/v1/health`
needs `Authorization: Bearer <token>` (`aiw users add NAME`). Errors are RFC 9457
`application/problem+json`. See docs/server.md.
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
    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn calls in each worker (``--workers N``): settings from the files
    and environment, the project from ``AIW_SERVE_ROOT``."""
    import os

    root = os.environ.get("AIW_SERVE_ROOT")
    return create_app(project_root=Path(root) if root else None)
