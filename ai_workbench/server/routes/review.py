"""``POST /v1/review``: a unified diff in, findings (JSON) or SARIF out (review service)."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ai_workbench.server.deps import Caller, State
from ai_workbench.server.routes.feedback import review_root

router = APIRouter(tags=["review"])


class ReviewRequest(BaseModel):
    diff: str = Field(min_length=1, description="unified diff, e.g. the output of `git diff`")
    files: dict[str, str] | None = Field(
        default=None, description="optional whole new text of changed files, by path"
    )
    format: Literal["json", "sarif"] = "json"
    persona: str | None = None
    provider: str | None = Field(default=None, description="a provider profile on the server")
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    include_held: bool = False


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The review: findings as JSON, or a SARIF 2.1.0 log",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/sarif+json": {"schema": {"type": "object"}},
        },
    }
}


@router.post("/review", summary="Review a diff", response_class=JSONResponse, responses=_RESPONSES)
async def review(body: ReviewRequest, user: Caller, state: State) -> JSONResponse:
    from ai_workbench.review.formats import render
    from ai_workbench.review.service import ReviewOptions, ReviewService
    from ai_workbench.server.problems import ApiProblem

    if body.provider is not None and body.provider not in state.settings.providers:
        raise ApiProblem(
            422, f"provider: no profile {body.provider!r} on this server", kind="validation",
            errors=[{"field": "provider", "message": "unknown provider profile"}],
        )  # fmt: skip
    opts = ReviewOptions(
        provider=body.provider,
        persona=body.persona,
        min_confidence=body.min_confidence,
        queue_suggestions=False,  # the inbox is the workbench's (the local user's)
    )
    async with state.slots.slot(user.name):
        result = await ReviewService(state.loaded, state.store).review_diff(
            body.diff, opts, root=review_root(user.name), files=body.files
        )
    await state.audit(
        user.name, "api.review",
        {"run": result.run_id, "files": len(result.changes.files) if result.changes else 0,
         "findings": len(result.shown)},
    )  # fmt: skip
    text = render(result, body.format, include_held=body.include_held)
    media = "application/sarif+json" if body.format == "sarif" else "application/json"
    return JSONResponse(json.loads(text), media_type=media)
