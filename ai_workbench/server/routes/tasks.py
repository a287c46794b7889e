"""``/v1/tasks``: the caller's tasks (list, create, get, update, delete).

A task is written as the CLI reads it: ``text`` with a natural date in it ("renew the TLS cert
next friday 9am", "every monday 10:00 standup"), or ``text`` and ``due`` (a phrase or ISO 8601;
an ISO time with an offset is taken as given, one without in the task's timezone). The answer
echoes what was read. An ambiguous date saves nothing: 422 problem+json naming the field, with
the readings (``readings``) to send back as an ISO ``due``. One user never sees another's tasks:
someone else's id is 404, like one that does not exist. Reminders reach the owner as
``task.reminder`` events on ``/v1/events``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ai_workbench.server.deps import Caller, State
from ai_workbench.server.problems import ApiProblem

router = APIRouter(tags=["tasks"])

Window = Literal["today", "week", "overdue"]
Status = Literal["open", "done", "all"]


class LinkOut(BaseModel):
    kind: str = Field(description="url or file")
    target: str


class TaskOut(BaseModel):
    id: int
    title: str
    notes: str
    status: str = Field(description="open or done")
    due: str | None = Field(description="ISO 8601 in the task's timezone; null: no date")
    tz: str
    rrule: str | None = Field(description="RFC 5545 recurrence rule, if it repeats")
    remind_before_seconds: float | None = Field(description="null: no reminder")
    next_reminder: str | None
    tags: list[str]
    links: list[LinkOut]
    created: float
    done_at: float | None


class TaskCreated(BaseModel):
    task: TaskOut
    read_as: str = Field(description='what was read, e.g. "renew the cert" due Fri 2026-12-04')


class TaskList(BaseModel):
    tasks: list[TaskOut]


class TaskIn(BaseModel):
    text: str = Field(
        min_length=1, max_length=2_000, description="the task, with its date in it or not"
    )
    due: str | None = Field(
        default=None,
        max_length=200,
        description="the due time: a phrase (tomorrow 9am) or ISO 8601; overrides a date in text",
    )
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA zone to read dates in (default: server's)"
    )
    remind: str | None = Field(
        default=None, max_length=20, description="lead time (15m, 1d) or none; default: server's"
    )
    rrule: str | None = Field(default=None, max_length=500, description="RFC 5545 RRULE")
    tags: list[Annotated[str, Field(max_length=64)]] = Field(default=[], max_length=20)
    links: list[Annotated[str, Field(max_length=2_000)]] = Field(
        default=[], max_length=20, description="URLs"
    )
    notes: str = Field(default="", max_length=10_000)


class TaskPatch(BaseModel):
    done: bool | None = Field(default=None, description="true completes it; false reopens it")
    snooze: str | None = Field(
        default=None, max_length=20, description="remind again after this long (10m, 2h, 1d)"
    )
    title: str | None = Field(default=None, min_length=1, max_length=2_000)
    due: str | None = Field(
        default=None, max_length=200, description="a phrase or ISO 8601; 'none' clears it"
    )
    tags: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=20)
    notes: str | None = Field(default=None, max_length=10_000)


def _service(state: Any) -> Any:
    from ai_workbench.tasks.service import TaskService

    return TaskService(state.store)


def _reader(state: Any, timezone: str | None = None) -> Any:
    from ai_workbench.core.errors import InputError
    from ai_workbench.tasks.intake import TaskInput

    settings = state.settings.tasks
    if timezone:
        settings = settings.model_copy(update={"timezone": timezone})
    try:
        return TaskInput(settings)
    except InputError as exc:
        raise _invalid("timezone", str(exc)) from None


def _invalid(field: str, message: str, **extra: Any) -> ApiProblem:
    return ApiProblem(
        422,
        f"{field}: {message}",
        kind=extra.pop("kind", "validation"),
        errors=[{"field": field, "message": message}],
        **extra,
    )


def _ambiguous(field: str, exc: Any) -> ApiProblem:
    readings = [choice.isoformat() for choice in exc.choices]
    return _invalid(
        field,
        f"the date {exc.phrase!r} is ambiguous; send one of the readings as an ISO `due`",
        kind="ambiguous-date",
        readings=readings,
    )


def _when(reader: Any, phrase: str) -> datetime:
    """``due``: ISO 8601 with an offset as given; anything else read in the reader's zone."""
    text = phrase.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.tzinfo is not None:
        return parsed.astimezone(reader.zone)
    return reader.when(text)  # type: ignore[no-any-return]


def _out(task: Any) -> TaskOut:
    return TaskOut.model_validate(task.to_dict())


async def _task(state: Any, user: str, task_id: int) -> Any:
    from ai_workbench.tasks.service import TaskNotFound

    try:
        return await _service(state).get(task_id, owner=user)
    except TaskNotFound:
        raise ApiProblem(404, f"no task {task_id} of yours", kind="not-found") from None


@router.get("/tasks", summary="Your tasks, soonest due first (undated last)")
async def list_tasks(
    user: Caller,
    state: State,
    due: Annotated[Window | None, Query(description="due today, this week, or overdue")] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[Status, Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=1_000)] = 200,
) -> TaskList:
    from ai_workbench.tasks.intake import due_window

    reader = _reader(state)
    found = await _service(state).list(
        owner=user.name,
        status=None if status == "all" else status,
        due_before=due_window(due, reader.now()),
        tag=tag,
        limit=limit,
        reminders=True,
    )
    return TaskList(tasks=[_out(task) for task in found])


@router.post("/tasks", summary="Add a task (natural dates read and echoed)", status_code=201)
async def create_task(body: TaskIn, user: Caller, state: State) -> TaskCreated:
    from ai_workbench.core.errors import AiwError
    from ai_workbench.tasks.dates import AmbiguousDate
    from ai_workbench.tasks.service import make_links

    reader = _reader(state, body.timezone)
    due: datetime | None = None
    if body.due:
        try:
            due = _when(reader, body.due)
        except AmbiguousDate as exc:
            raise _ambiguous("due", exc) from None
        except AiwError as exc:
            raise _invalid("due", str(exc)) from None
    try:
        draft = reader.read(
            body.text,
            due=due.strftime("%Y-%m-%d %H:%M") if due is not None else None,
            rrule=body.rrule,
            remind=body.remind,
            tags=body.tags,
            links=make_links(body.links),
            notes=body.notes,
        )
    except AmbiguousDate as exc:
        raise _ambiguous("text", exc) from None
    except AiwError as exc:
        field = "rrule" if "rrule" in str(exc) else "remind" if "remind" in str(exc) else "text"
        raise _invalid(field, str(exc)) from None
    if due is not None:
        draft.due = due  # keep the seconds and the offset the client gave
    task = await draft.save(_service(state), owner=user.name)
    await state.audit(user.name, "api.task.add", {"task": task.id})
    return TaskCreated(task=_out(await _task(state, user.name, task.id)), read_as=draft.echo())


@router.get("/tasks/{task_id}", summary="One of your tasks")
async def get_task(task_id: int, user: Caller, state: State) -> TaskOut:
    return _out(await _task(state, user.name, task_id))


@router.patch("/tasks/{task_id}", summary="Complete, reopen, snooze or edit one of your tasks")
async def update_task(task_id: int, body: TaskPatch, user: Caller, state: State) -> TaskOut:
    from ai_workbench.core.errors import AiwError
    from ai_workbench.tasks.dates import AmbiguousDate, parse_duration

    task = await _task(state, user.name, task_id)
    service = _service(state)
    changes: dict[str, Any] = {}
    if body.title is not None:
        changes["title"] = body.title
    if body.notes is not None:
        changes["notes"] = body.notes
    if body.tags is not None:
        changes["tags"] = body.tags
    if body.due is not None:
        if body.due.strip().lower() == "none":
            changes["due"] = None
        else:
            reader = _reader(state, task.tz)
            try:
                changes["due"] = _when(reader, body.due)
            except AmbiguousDate as exc:
                raise _ambiguous("due", exc) from None
            except AiwError as exc:
                raise _invalid("due", str(exc)) from None
    delta = None
    if body.snooze is not None:
        try:
            delta = parse_duration(body.snooze)
        except AiwError as exc:
            raise _invalid("snooze", str(exc)) from None
    try:
        if changes:
            task = await service.edit(task_id, owner=user.name, **changes)
        if body.done is True and task.status == "open":
            task = await service.done(task_id, owner=user.name)
        elif body.done is False and task.status == "done":
            task = await service.reopen(task_id, owner=user.name)
        if delta is not None:
            task = await service.snooze(task_id, delta, owner=user.name)
    except AiwError as exc:
        raise ApiProblem(409, str(exc), kind="conflict") from None
    await state.audit(
        user.name, "api.task.update", {"task": task_id, "fields": sorted(body.model_fields_set)}
    )
    return _out(await _task(state, user.name, task_id))


@router.delete("/tasks/{task_id}", summary="Delete one of your tasks (and its reminders)")
async def delete_task(task_id: int, user: Caller, state: State) -> TaskOut:
    task = await _task(state, user.name, task_id)
    await _service(state).remove(task_id, owner=user.name)
    await state.audit(user.name, "api.task.delete", {"task": task_id})
    return _out(task)
