"""``GET /v1/events``: the event stream (core/events.py) as Server-Sent Events.

Admins get every event (suggestions, shell failures of the server's own shell, index runs,
MCP servers); members get index runs (the host's shell and inbox are its owner's). Everyone
gets their own task reminders (``task.reminder``), and only their own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ai_workbench.server.deps import Caller, State
from ai_workbench.server.sse import SSE_HEADERS, SSE_MEDIA_TYPE, comment, sse

router = APIRouter(tags=["events"])

KEEP_ALIVE_SECONDS = 15.0


@router.get(
    "/events",
    summary="Server-Sent Events: your reminders, index runs (admins: suggestions, shell failures)",
    response_class=StreamingResponse,
    responses={200: {"description": "The event stream",
                     "content": {SSE_MEDIA_TYPE: {"schema": {"type": "string"}}}}},
)  # fmt: skip
async def events(request: Request, user: Caller, state: State) -> StreamingResponse:
    from ai_workbench.core.events import IndexRunFinished, ReminderDue

    types: tuple[Any, ...] = () if user.admin else (IndexRunFinished, ReminderDue)
    subscription = state.bus.subscribe(*types)

    async def stream() -> AsyncIterator[bytes]:
        count = 0
        try:
            yield comment("connected")
            while True:
                try:
                    event = await asyncio.wait_for(subscription.get(), KEEP_ALIVE_SECONDS)
                except TimeoutError:
                    yield comment()
                    continue
                except StopAsyncIteration:
                    return
                if isinstance(event, ReminderDue) and event.owner != user.name:
                    continue  # someone else's task
                count += 1
                yield sse(event.kind, event.to_dict(), id=str(count))
        finally:
            subscription.close()

    return StreamingResponse(stream(), media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS)
