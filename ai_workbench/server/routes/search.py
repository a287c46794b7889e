"""``POST /v1/search``: hybrid search of the served project's index (knowledge service)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ai_workbench.server.deps import Caller, State

router = APIRouter(tags=["knowledge"])


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2_000, description="what to look for")
    k: int | None = Field(default=None, ge=1, le=100, description="hits (knowledge.top_k)")


class Hit(BaseModel):
    uid: str
    location: str = Field(description="path:start-end")
    path: str
    start: int
    end: int
    kind: str
    title: str
    snippet: str
    text: str
    score: float
    match: float = Field(description="0..1, compared with knowledge.threshold")


class SearchResponse(BaseModel):
    query: str
    mode: str
    confident: bool
    threshold: float
    clarifying_question: str | None
    hits: list[Hit]
    notices: list[str]


@router.post("/search", summary="Search the project's index")
async def search(body: SearchRequest, user: Caller, state: State) -> SearchResponse:
    from ai_workbench.core.sanitize import strip_controls

    result = await state.search(body.query, body.k, user.name)
    notices = list(result.notices)
    return SearchResponse(
        query=result.query,
        mode=result.mode,
        confident=result.confident,
        threshold=result.threshold,
        clarifying_question=result.clarifying_question,
        hits=[
            Hit(
                uid=h.uid,
                location=h.location,
                path=h.rel,
                start=h.start,
                end=h.end,
                kind=h.kind,
                title=strip_controls(h.title),
                snippet=strip_controls(h.snippet()),
                text=h.text,
                score=h.score,
                match=h.normalized,
            )
            for h in result.hits
        ],
        notices=notices,
    )
