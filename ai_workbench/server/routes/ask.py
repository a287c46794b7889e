"""``POST /v1/ask``: one chat turn (chat service) as Server-Sent Events or one JSON answer.

The caller's own sessions only: ``session`` must be one of theirs (else 404), a new session is
theirs. Events of the stream: ``session`` (id, whether new), ``token`` (text), ``notice``,
``done`` (the saved answer's id, status, usage) or ``error`` (a problem document), in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ai_workbench.server.deps import Caller, State
from ai_workbench.server.problems import ApiProblem, problem_dict
from ai_workbench.server.sse import SSE_HEADERS, SSE_MEDIA_TYPE, sse

router = APIRouter(tags=["chat"])


class AskRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=200_000)
    session: str | None = Field(
        default=None, description="continue this session of yours (id or unique prefix)"
    )
    persona: str | None = Field(default=None, description="persona id or name")
    provider: str | None = Field(
        default=None, description="a provider profile configured on the server"
    )
    kb: bool = Field(default=False, description="ground the answer in the project index")
    stream: bool = Field(
        default=False,
        description="stream Server-Sent Events (also chosen by Accept: text/event-stream)",
    )
    temperature: float | None = Field(default=None, ge=0, le=2)


class AskAnswer(BaseModel):
    session_id: str
    created_session: bool
    message_id: int | None
    text: str
    status: str = Field(description="complete | partial | error | clarify")
    model: str | None = None
    provider: str | None = None
    latency_ms: int | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    error: str | None = None
    notices: list[str] = Field(default_factory=list)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer (JSON), or its Server-Sent Events stream",
        "content": {SSE_MEDIA_TYPE: {"schema": {"type": "string"}}},
    }
}


@router.post("/ask", summary="Ask the model (SSE stream or one JSON answer)", responses=_RESPONSES)
async def ask(body: AskRequest, request: Request, user: Caller, state: State) -> Any:
    from ai_workbench.chat.service import AskOptions, ChatService
    from ai_workbench.core.redact import redact_text

    streaming = body.stream or SSE_MEDIA_TYPE in request.headers.get("accept", "")
    notices: list[str] = []
    extra: list[str] = []
    if body.kb:
        grounding = await state.ground(body.prompt, user.name)
        if grounding.section is None:
            return AskAnswer(
                session_id="", created_session=False, message_id=None,
                text=grounding.question or "", status="clarify",
                notices=["the index has no confident match; answer the question to go on"],
            )  # fmt: skip
        extra.append(grounding.section)
    if body.provider is not None and body.provider not in state.settings.providers:
        raise ApiProblem(
            422,
            f"provider: no profile {body.provider!r} on this server; choose one of "
            + ", ".join(sorted(state.settings.providers)),
            kind="validation",
            errors=[{"field": "provider", "message": "unknown provider profile"}],
        )
    opts = AskOptions(
        prompt=body.prompt, session=body.session, persona=body.persona,
        provider=body.provider, temperature=body.temperature, owner=user.name,
        cwd=state.project_root, extra_context=extra,
    )  # fmt: skip
    state.slots.acquire(user.name)
    try:
        service = ChatService(state.loaded, state.store)
        turn = await service.prepare(opts, notices.append)
        await state.audit(
            user.name, "api.ask",
            {"session": turn.session.id, "message": turn.user_message_id,
             "prompt": redact_text(body.prompt)[:200]},
        )  # fmt: skip
    except BaseException:
        state.slots.release(user.name)
        raise
    if not streaming:
        try:
            result = await service.run(turn, lambda _text: None, notices.append)
        finally:
            state.slots.release(user.name)
        if result.status == "error" and not result.text:
            from ai_workbench.core.sanitize import strip_controls

            raise ApiProblem(
                502, strip_controls(str(result.error)), kind="provider",
                session_id=result.session.id, message_id=result.message_id,
            )  # fmt: skip
        return _answer(result, notices)
    return StreamingResponse(
        _stream(service, turn, notices, state, user.name),
        media_type=SSE_MEDIA_TYPE,
        headers=SSE_HEADERS,
    )


async def _stream(
    service: Any, turn: Any, notices: list[str], state: Any, user: str
) -> AsyncIterator[bytes]:
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    try:
        yield sse("session", {"session_id": turn.session.id, "created": turn.created_session})
        for line in notices:
            yield sse("notice", {"text": line})
        task = asyncio.create_task(
            service.run(
                turn,
                lambda text: queue.put_nowait(("token", text)),
                lambda line: queue.put_nowait(("notice", line)),
            )
        )
        task.add_done_callback(lambda _t: queue.put_nowait(("end", None)))
        try:
            while True:
                kind, value = await queue.get()
                if kind == "end":
                    break
                yield sse(kind, {"text": value})
            try:
                result = task.result()
            except Exception as exc:
                from ai_workbench.core.sanitize import strip_controls

                yield sse(
                    "error",
                    problem_dict(500 if not hasattr(exc, "kind") else 502,
                                 strip_controls(str(exc)) if hasattr(exc, "kind")
                                 else "the answer failed; the server's log has the details"),
                )  # fmt: skip
                return
            yield sse("done", _answer(result, []).model_dump(exclude={"text"}))
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
    finally:
        state.slots.release(user)


def _answer(result: Any, notices: list[str]) -> AskAnswer:
    provider = result.provider
    return AskAnswer(
        session_id=result.session.id,
        created_session=result.created_session,
        message_id=result.message_id,
        text=result.text,
        status=result.status,
        model=provider.model if provider else None,
        provider=provider.name if provider else None,
        latency_ms=result.latency_ms,
        tokens_in=result.stream.tokens_in,
        tokens_out=result.stream.tokens_out,
        cost_usd=result.cost,
        error=str(result.error) if result.error else None,
        notices=notices,
    )
