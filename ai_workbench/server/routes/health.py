"""``GET /v1/health``: is the server up (no token needed)."""

from __future__ import annotations

import time

from fastapi import APIRouter
from pydantic import BaseModel

from ai_workbench import __version__
from ai_workbench.server.deps import State

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str
    schema_version: int
    uptime_s: float


@router.get("/health", summary="Liveness and version (no token needed)")
async def health(state: State) -> Health:
    from ai_workbench.schema import SCHEMA_VERSION

    return Health(
        status="ok",
        version=__version__,
        schema_version=SCHEMA_VERSION,
        uptime_s=round(time.time() - state.started, 3),
    )
