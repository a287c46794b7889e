"""``/v1/memory``: what aiw remembers about the caller (``aiw memory`` over HTTP).

Profile facts (the long tier; pinned ones go into every system prompt of the caller's ``/v1/ask``
turns) are listed, added, edited and forgotten; session summaries (short and medium tiers) are
listed and forgotten; a whole tier (or ``all``) is cleared. A fact sent here is the caller's own
word, so it is stored at once (what the *model* proposes is stored only after the user confirms
it, in the workbench or the CLI). Every text is redacted before it is stored; another user's
memory id is 404, like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ai_workbench.server.deps import Caller, State
from ai_workbench.server.problems import ApiProblem

router = APIRouter(tags=["memory"])

Tier = Literal["short", "medium", "long"]
ClearTier = Literal["short", "medium", "long", "all"]


class MemoryOut(BaseModel):
    id: int
    tier: str = Field(description="long: a profile fact; medium/short: a session summary")
    content: str
    pinned: bool = Field(description="a pinned fact goes into every system prompt")
    source: str
    session_id: str | None
    created: float
    updated: float
    expires: float | None


class MemoryList(BaseModel):
    memories: list[MemoryOut]
    counts: dict[str, int] = Field(description="memories per tier")


class FactIn(BaseModel):
    content: str = Field(min_length=1, max_length=2_000, description="a fact about you")
    pinned: bool = Field(default=True, description="put it in every system prompt")


class FactPatch(BaseModel):
    content: str | None = Field(default=None, min_length=1, max_length=2_000)
    pinned: bool | None = None


class FactAdded(BaseModel):
    memory: MemoryOut
    redacted: dict[str, int] = Field(description="what redaction replaced, {kind: count}")
    duplicate: bool = Field(description="the same fact was already stored: that one is returned")


class Cleared(BaseModel):
    removed: dict[str, int] = Field(description="memories removed per tier")


def _service(state: Any) -> Any:
    from ai_workbench.memory.service import MemoryService

    settings = state.settings
    return MemoryService(state.store, settings.memory, settings.knowledge)


def _out(memory: Any) -> MemoryOut:
    return MemoryOut.model_validate(memory.to_json())


def _not_found(memory_id: int) -> ApiProblem:
    return ApiProblem(404, f"no memory {memory_id} of yours", kind="not-found")


@router.get("/memory", summary="Your memories (profile facts and session summaries)")
async def list_memory(
    user: Caller, state: State, tier: Annotated[Tier | None, Query()] = None
) -> MemoryList:
    service = _service(state)
    found = await service.list(tier, owner=user.name)
    return MemoryList(
        memories=[_out(m) for m in found], counts=await service.counts(owner=user.name)
    )


@router.post("/memory", summary="Add a fact about you to your profile", status_code=201)
async def add_fact(body: FactIn, user: Caller, state: State) -> FactAdded:
    from ai_workbench.core.errors import InputError

    try:
        added = await _service(state).add(body.content, owner=user.name, pinned=body.pinned)
    except InputError as exc:
        raise ApiProblem(
            422, f"content: {exc}", kind="validation", errors=[{"field": "content",
                                                                "message": str(exc)}]
        ) from None  # fmt: skip
    await state.audit(user.name, "api.memory.add", {"memory": added.memory.id})
    return FactAdded(memory=_out(added.memory), redacted=added.redacted, duplicate=added.duplicate)


@router.patch("/memory/{memory_id}", summary="Edit or (un)pin one of your profile facts")
async def edit_fact(memory_id: int, body: FactPatch, user: Caller, state: State) -> MemoryOut:
    from ai_workbench.memory.service import MemoryNotFound

    service = _service(state)
    try:
        current = await service.get(memory_id, owner=user.name)
        if current.tier != "long":
            raise ApiProblem(409, f"memory {memory_id} is a session summary; only facts are edited")
        content = body.content if body.content is not None else current.content
        added = await service.edit(memory_id, content, owner=user.name, pinned=body.pinned)
    except MemoryNotFound:
        raise _not_found(memory_id) from None
    await state.audit(user.name, "api.memory.edit", {"memory": memory_id})
    return _out(added.memory)


@router.delete("/memory/{memory_id}", summary="Forget one of your memories")
async def forget(memory_id: int, user: Caller, state: State) -> MemoryOut:
    from ai_workbench.memory.service import MemoryNotFound

    try:
        memory = await _service(state).forget(memory_id, owner=user.name)
    except MemoryNotFound:
        raise _not_found(memory_id) from None
    await state.audit(user.name, "api.memory.forget", {"memory": memory_id})
    return _out(memory)


@router.delete("/memory", summary="Clear a tier of your memory (or all of it)")
async def clear(
    user: Caller,
    state: State,
    tier: Annotated[ClearTier, Query(description="short, medium, long or all")],
) -> Cleared:
    removed = await _service(state).clear(tier, owner=user.name)
    await state.audit(user.name, "api.memory.clear", {"tier": tier, "removed": removed})
    return Cleared(removed=removed)
