"""``/v1/sessions``: the caller's chat sessions (list, get, export, delete); never another's."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from ai_workbench.server.deps import Caller, State

router = APIRouter(tags=["sessions"])


class SessionInfo(BaseModel):
    id: str
    title: str
    persona: str | None
    model: str | None
    context: list[str]
    created: float
    updated: float
    message_count: int


class SessionList(BaseModel):
    sessions: list[SessionInfo]
    failed: list[str] = Field(description="ids of listed sessions that never got an answer")


class SessionDetail(SessionInfo):
    messages: list[dict[str, Any]]


@router.get("/sessions", summary="Your sessions, most recent first")
async def list_sessions(
    user: Caller,
    state: State,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    include_failed: Annotated[bool, Query(description="also sessions never answered")] = False,
) -> SessionList:
    from ai_workbench.chat.export import session_dict
    from ai_workbench.chat.sessions import SessionService

    listed, failed = await SessionService(state.store).listing(
        limit, include_failed=include_failed, owner=user.name
    )
    return SessionList(
        sessions=[SessionInfo(**session_dict(s)) for s in listed],
        failed=sorted(failed & {s.id for s in listed}),
    )


@router.get("/sessions/{session_id}", summary="One of your sessions with its messages")
async def get_session(session_id: str, user: Caller, state: State) -> SessionDetail:
    from ai_workbench.chat.sessions import SessionService

    text = await SessionService(state.store).export(session_id, "json", owner=user.name)
    return SessionDetail(**json.loads(text))


@router.get(
    "/sessions/{session_id}/export",
    summary="Export one of your sessions as Markdown or JSON",
    response_class=Response,
    responses={
        200: {
            "description": "The session as a document",
            "content": {"text/markdown": {"schema": {"type": "string"}},
                        "application/json": {"schema": {"type": "object"}}},
        }
    },
)  # fmt: skip
async def export_session(
    session_id: str,
    user: Caller,
    state: State,
    format: Annotated[Literal["md", "json"], Query()] = "md",
) -> Response:
    from ai_workbench.chat.sessions import SessionService

    text = await SessionService(state.store).export(session_id, format, owner=user.name)
    media = "application/json" if format == "json" else "text/markdown; charset=utf-8"
    name = f"aiw-session-{session_id[:8]}.{format}"
    return Response(
        text, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.delete("/sessions/{session_id}", status_code=204, summary="Delete one of your sessions")
async def delete_session(session_id: str, user: Caller, state: State) -> Response:
    from ai_workbench.chat.sessions import SessionService

    sessions = SessionService(state.store)
    session, _ = await sessions.open(session_id, owner=user.name)
    await sessions.delete(session.id)
    await state.audit(user.name, "api.sessions.delete", {"session": session.id})
    return Response(status_code=204)
