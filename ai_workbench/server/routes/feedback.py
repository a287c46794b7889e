"""``/v1/feedback``: rate an answer, a search hit or a review finding of yours (+1 / -1)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ai_workbench.server.deps import Caller, State
from ai_workbench.server.problems import ApiProblem

router = APIRouter(tags=["feedback"])

Kind = Literal["message", "chunk", "finding"]


class FeedbackIn(BaseModel):
    target_kind: Kind = Field(description="message (an answer), chunk (a search hit), finding")
    target_id: str = Field(min_length=1, max_length=200)
    rating: Literal[1, -1]
    comment: str | None = Field(default=None, max_length=4_000)


class FeedbackOut(BaseModel):
    id: int
    target_kind: str
    target_id: str
    rating: int
    comment: str | None
    created: float
    updated: float


class FeedbackList(BaseModel):
    feedback: list[FeedbackOut]


def review_root(user: str) -> str:
    """Where the API's reviews of ``user`` are filed (their learnings are kept under it)."""
    return f"/aiw-api/{user}"


@router.post("/feedback", summary="Rate an answer, a search hit or a finding")
async def rate(body: FeedbackIn, user: Caller, state: State) -> FeedbackOut:
    from ai_workbench.core.feedback import FeedbackService

    missing = ApiProblem(
        404, f"no {body.target_kind} {body.target_id!r} of yours to rate", kind="not-found"
    )
    if body.target_kind == "message":
        if not body.target_id.isdigit():
            raise missing
        if await state.store.message_owner(int(body.target_id)) != user.name:
            raise missing
        item = await FeedbackService(state.store).rate(
            "message", int(body.target_id), body.rating, body.comment, owner=user.name
        )
    elif body.target_kind == "finding":
        from ai_workbench.review.service import ReviewService

        if not body.target_id.isdigit():
            raise missing
        review = ReviewService(state.loaded, state.store)
        try:
            repo = await review.repo_of(int(body.target_id))
        except Exception:
            raise missing from None
        if repo != review_root(user.name):
            raise missing
        await review.rate(int(body.target_id), body.rating, body.comment, owner=user.name)
        item = await FeedbackService(state.store).get(
            "finding", int(body.target_id), owner=user.name
        )
    else:
        chunk = state.knowledge().resolve(body.target_id) if len(body.target_id) >= 4 else None
        if chunk is None:
            raise ApiProblem(404, f"no indexed chunk {body.target_id!r}; use a hit's uid")
        item = await FeedbackService(state.store).rate(
            "chunk", chunk.uid, body.rating, body.comment, owner=user.name
        )
    assert item is not None
    await state.audit(
        user.name, "api.feedback",
        {"target_kind": item.target_kind, "target_id": item.target_id, "rating": item.rating},
    )  # fmt: skip
    return _out(item)


@router.get("/feedback", summary="Your ratings, most recent first")
async def list_feedback(
    user: Caller, state: State, target_kind: Annotated[Kind | None, Query()] = None
) -> FeedbackList:
    items = await state.store.list_feedback(target_kind, owner=user.name)
    return FeedbackList(feedback=[_out(i) for i in items])


def _out(item: object) -> FeedbackOut:
    return FeedbackOut.model_validate(item, from_attributes=True)
