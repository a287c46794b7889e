"""``/v1/documents``: the caller's documents (SRS, NFR, use cases, API, ADR, RFC, C4, UML): list,
get, create in a dialogue, export, rate, delete. One user never sees another's: someone else's
id is 404, like one that does not exist.

Creating is ``aiw doc new``'s dialogue over stateless calls. ``POST /v1/documents`` with the type
and title plans the document (the project index with ``kb``, the attachments, one of your
sessions); while inputs of the template are left unanswered it answers ``200`` with the next
round of clarifying questions, each with its suggested answer (no model call, nothing stored).
Send the same request again with ``answers`` holding them (a blank answer takes the
suggestion); when none is left, or with ``no_questions`` (every suggestion taken and listed
under Assumptions), the model writes the document: ``201`` with it. ``stream`` (or ``Accept:
text/event-stream``) sends the writing's progress as Server-Sent Events instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from ai_workbench.documents.templates import DIAGRAM_LANGUAGES, DOC_TYPES
from ai_workbench.server.deps import Caller, State
from ai_workbench.server.problems import ApiProblem, problem_dict
from ai_workbench.server.sse import SSE_HEADERS, SSE_MEDIA_TYPE, sse

router = APIRouter(tags=["documents"])

DocType = Literal[DOC_TYPES]  # type: ignore[valid-type]
Diagram = Literal[(*DIAGRAM_LANGUAGES, "none")]  # type: ignore[valid-type]
Key = Annotated[str, Field(max_length=64)]
Value = Annotated[str, Field(max_length=10_000)]
Format = Literal["md", "docx", "pdf", "confluence", "svg"]

MEDIA = {
    "md": "text/markdown; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "confluence": "application/xhtml+xml; charset=utf-8",
    "svg": "image/svg+xml",
    "zip": "application/zip",
}


# ---------------------------------------------------------------- models


class Attachment(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="how the excerpts cite it")
    text: str = Field(max_length=200_000, description="its text (Markdown, code, notes)")


class DocumentIn(BaseModel):
    type: DocType = Field(description="the kind of document")
    title: str = Field(default="", max_length=300, description="default: '<template> of <project>'")
    template: str | None = Field(
        default=None, max_length=100, description="a template of that type (default: the type's)"
    )
    answers: dict[Key, Value] = Field(
        default={},
        max_length=50,
        description="answers to the template's questions by key; '' takes the suggestion",
    )
    no_questions: bool = Field(
        default=False, description="take every suggestion (listed under Assumptions)"
    )
    kb: bool = Field(default=False, description="ground the document in the project index")
    attachments: list[Attachment] = Field(default=[], max_length=10)
    session: str | None = Field(
        default=None, max_length=64, description="ground it in this session of yours"
    )
    diagram: Diagram | None = Field(  # type: ignore[valid-type]
        default=None, description="diagram language (default: the template's; none: no diagram)"
    )
    provider: str | None = Field(
        default=None, max_length=100, description="a provider profile configured on the server"
    )
    stream: bool = Field(
        default=False,
        description="send the writing's progress as Server-Sent Events "
        "(also chosen by Accept: text/event-stream)",
    )


class QuestionOut(BaseModel):
    key: str
    question: str
    suggestion: str = Field(description="the answer taken when you send ''")
    section: str


class FoundAnswer(BaseModel):
    key: str
    value: str
    how: str = Field(description="given (by you) or source (an excerpt answers it)")


class DocumentQuestions(BaseModel):
    status: Literal["questions"] = "questions"
    type: str
    template: str
    title: str
    questions: list[QuestionOut] = Field(description="this round: answer them in `answers`")
    remaining: int = Field(description="questions after this round")
    answered: list[FoundAnswer]
    notices: list[str]


class DocumentSummary(BaseModel):
    id: int
    type: str
    template: str
    template_version: int
    title: str
    created: float
    updated: float
    checks_passed: bool = Field(description="every check of its template passed when written")
    warnings: list[str] = Field(description="failed checks, diagrams that did not render")


class DocumentList(BaseModel):
    documents: list[DocumentSummary]


class CheckOut(BaseModel):
    check: str
    passed: bool
    failures: list[str]


class SourceOut(BaseModel):
    label: str = Field(description="how the document cites it: S1, S2, ...")
    location: str
    origin: str = Field(description="kb | file | session | code")
    cited: bool


class RatingOut(BaseModel):
    id: int
    section: str = Field(description="'' for the whole document")
    rating: int = Field(description="1 like, -1 dislike")
    comment: str | None
    updated: float


class DocumentOut(DocumentSummary):
    markdown: str = Field(description="the document (the source of truth)")
    sections: list[str]
    checks: list[CheckOut] = Field(description="its template's checks, run now")
    assumptions: list[dict[str, str]] = Field(description="suggestions taken: key, question, value")
    sources: list[SourceOut]
    diagrams: list[dict[str, Any]] = Field(description="each diagram: lang, ok, renderer, error")
    model: str
    calls: int = Field(description="model calls it took")
    seconds: float
    ratings: list[RatingOut] = Field(description="your ratings of it and its sections")


class RatingIn(BaseModel):
    rating: Literal["+", "-", 1, -1] = Field(description="+ (or 1) like, - (or -1) dislike")
    comment: str | None = Field(
        default=None, max_length=2_000, description="a disliked comment guides later documents"
    )
    section: str | None = Field(
        default=None, max_length=200, description="rate this section (default: the document)"
    )


class RewriteIn(BaseModel):
    section: str = Field(min_length=1, max_length=200, description="the section to write again")
    note: str = Field(default="", max_length=2_000, description="what to change")
    provider: str | None = Field(
        default=None, max_length=100, description="a provider profile configured on the server"
    )


class LearningOut(BaseModel):
    id: int
    kind: str = Field(description="guidance (from a dislike) or example (a liked section)")
    section: str
    rule: str
    hits: int
    enabled: bool


class RatingResult(BaseModel):
    rating: RatingOut
    learning: LearningOut | None = Field(
        description="what later documents of the type will follow, if the rating taught one"
    )


# ---------------------------------------------------------------- helpers


def _service(state: Any, user: str) -> Any:
    from ai_workbench.documents.service import DocumentService

    return DocumentService(
        state.loaded, state.store, user, root=state.project_root, knowledge=state.shared_index()
    )


def _invalid(field: str, message: str, **extra: Any) -> ApiProblem:
    return ApiProblem(
        422,
        f"{field}: {message}",
        kind="validation",
        errors=[{"field": field, "message": message}],
        **extra,
    )


async def _mine(service: Any, doc_id: int) -> Any:
    from ai_workbench.core.errors import InputError

    try:
        return await service.get(doc_id)
    except InputError:
        raise ApiProblem(404, f"no document {doc_id} of yours", kind="not-found") from None


def _summary(doc: Any) -> dict[str, Any]:
    checks = doc.meta.get("checks") or {}
    return {
        "id": doc.id,
        "type": doc.doc_type,
        "template": doc.template,
        "template_version": doc.template_version,
        "title": doc.title,
        "created": doc.created,
        "updated": doc.updated,
        "checks_passed": not checks.get("failed"),
        "warnings": doc.warnings,
    }


async def _detail(service: Any, doc: Any) -> DocumentOut:
    from ai_workbench.core.errors import AiwError
    from ai_workbench.documents.markdown import parse

    meta = doc.meta
    try:
        checks = [
            CheckOut(check=r.check, passed=r.passed, failures=list(r.failures))
            for r in service.check(doc)
        ]
    except AiwError:  # its template is gone: what was found when it was written
        stored = meta.get("checks") or {}
        checks = [CheckOut(check=c, passed=False, failures=[]) for c in stored.get("failed", [])]
    sources = [
        SourceOut(label=f"S{s['n']}", location=s["location"], origin=s["origin"], cited=s["cited"])
        for s in meta.get("sources") or []
    ]
    ratings = [
        RatingOut(id=r.id, section=r.section, rating=r.rating, comment=r.comment, updated=r.updated)
        for r in await service.ratings(doc.id)
    ]
    return DocumentOut(
        **_summary(doc),
        markdown=doc.body,
        sections=list(parse(doc.body).sections),
        checks=checks,
        assumptions=[
            {k: str(a.get(k, "")) for k in ("key", "question", "value")}
            for a in meta.get("assumptions") or []
        ],
        sources=sources,
        diagrams=list(meta.get("diagrams") or []),
        model=str(meta.get("model") or ""),
        calls=int(meta.get("calls") or 0),
        seconds=float(meta.get("seconds") or 0.0),
        ratings=ratings,
    )


def _options(body: DocumentIn, service: Any, state: Any) -> Any:
    """The service's options, every field checked first (422 naming it)."""
    from ai_workbench.core.errors import InputError
    from ai_workbench.documents.service import NewOptions

    try:
        template = service.template(body.type, body.template)
    except InputError as exc:
        raise _invalid("template", str(exc)) from None
    keys = [item.key for item in template.inputs]
    for key in body.answers:
        if key not in keys:
            raise _invalid(
                f"answers.{key}",
                f"not a question of template {template.id} (its keys: {', '.join(keys)})",
            )
    for n, item in enumerate(body.attachments):
        if "\0" in item.text:
            raise _invalid(f"attachments.{n}.text", "binary data; send text")
    _check_provider(body.provider, state)
    if body.kb and state.shared_index().status()["chunks"] == 0:
        raise _invalid("kb", f"the index of {state.project_root} is empty: run `aiw index` there")
    return NewOptions(
        doc_type=body.type,
        title=body.title,
        template=template.id,
        kb=body.kb,
        session=body.session,
        provider=body.provider,
        diagram=None if body.diagram is None else ("" if body.diagram == "none" else body.diagram),
        answers=dict(body.answers),
        questions=not body.no_questions,
        texts=[(a.name, a.text) for a in body.attachments],
    )


def _check_provider(provider: str | None, state: Any) -> None:
    if provider is not None and provider not in state.settings.providers:
        raise _invalid(
            "provider",
            f"no profile {provider!r} on this server; choose one of "
            + ", ".join(sorted(state.settings.providers)),
        )


def _questions(pending: Any) -> DocumentQuestions:
    plan = pending.plan
    return DocumentQuestions(
        type=plan.template.type,
        template=plan.template.id,
        title=plan.title,
        questions=[
            QuestionOut(key=q.key, question=q.text, suggestion=q.default, section=q.section)
            for q in pending.questions
        ],
        remaining=pending.remaining,
        answered=[FoundAnswer(key=a.key, value=a.value, how=a.how) for a in plan.answers.values()],
        notices=list(plan.notices),
    )


# ---------------------------------------------------------------- endpoints


@router.get("/documents", summary="Your documents, most recently changed first")
async def list_documents(
    user: Caller,
    state: State,
    type: Annotated[DocType | None, Query(description="only this type")] = None,  # type: ignore[valid-type]
    limit: Annotated[int, Query(ge=1, le=1_000)] = 200,
) -> DocumentList:
    docs = await _service(state, user.name).list(type, limit=limit)
    return DocumentList(documents=[DocumentSummary(**_summary(d)) for d in docs])


_CREATED: dict[int | str, dict[str, Any]] = {
    200: {
        "model": DocumentQuestions,
        "description": "Questions left: answer them in `answers` and send the request again",
    },
    201: {
        "description": "The document, written, checked and stored (or its Server-Sent Events)",
        "content": {SSE_MEDIA_TYPE: {"schema": {"type": "string"}}},
    },
}


@router.post(
    "/documents",
    summary="Write a document: its clarifying questions first, then the document",
    status_code=201,
    response_model=DocumentOut,
    responses=_CREATED,
)
async def create_document(body: DocumentIn, request: Request, user: Caller, state: State) -> Any:
    from ai_workbench.chat.store import SessionNotFound
    from ai_workbench.core.errors import InputError
    from ai_workbench.documents.service import Pending

    service = _service(state, user.name)
    opts = _options(body, service, state)
    try:
        step = await service.dialogue(opts)
    except SessionNotFound:
        raise _invalid("session", f"no session {body.session!r} of yours") from None
    except InputError as exc:
        text = str(exc)
        field = "attachments" if text.startswith("attachment") else "type"
        field = "kb" if "--kb" in text else field
        raise _invalid(field, text) from None
    streaming = body.stream or SSE_MEDIA_TYPE in request.headers.get("accept", "")
    if isinstance(step, Pending):
        questions = _questions(step).model_dump()
        if streaming:
            return StreamingResponse(
                _once("questions", questions), media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS
            )
        return JSONResponse(questions, status_code=200)
    state.slots.acquire(user.name)
    if streaming:
        return StreamingResponse(
            _stream(service, step, state, user.name),
            media_type=SSE_MEDIA_TYPE,
            headers=SSE_HEADERS,
            status_code=201,
        )
    try:
        doc = await _write(service, step, None)
    finally:
        state.slots.release(user.name)
    await _audit_added(state, user.name, doc)
    return await _detail(service, doc)


async def _write(service: Any, ready: Any, progress: Any) -> Any:
    from ai_workbench.documents.service import DocumentError

    try:
        return await service.write(ready, progress)
    except DocumentError as exc:
        raise ApiProblem(502, str(exc), kind="no-document") from None


async def _audit_added(state: Any, user: str, doc: Any) -> None:
    await state.audit(
        user,
        "api.document.add",
        {"document": doc.id, "type": doc.doc_type, "title": doc.title[:200]},
    )


async def _once(event: str, data: Any) -> AsyncIterator[bytes]:
    yield sse(event, data)


async def _stream(service: Any, ready: Any, state: Any, user: str) -> AsyncIterator[bytes]:
    """``progress`` events ({text}) while the document is written, then ``document`` (as the
    JSON answer would be) or ``error`` (a problem document)."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    try:
        task = asyncio.create_task(_write(service, ready, queue.put_nowait))
        task.add_done_callback(lambda _t: queue.put_nowait(None))
        try:
            while (line := await queue.get()) is not None:
                yield sse("progress", {"text": line})
            try:
                doc = task.result()
            except ApiProblem as exc:
                yield sse("error", problem_dict(exc.status, exc.detail, kind=exc.kind))
                return
            except Exception as exc:
                from ai_workbench.core.sanitize import strip_controls

                provider = hasattr(exc, "kind")
                yield sse(
                    "error",
                    problem_dict(
                        502 if provider else 500,
                        strip_controls(str(exc))
                        if provider
                        else "the document failed; the server's log has the details",
                    ),
                )
                return
            await _audit_added(state, user, doc)
            detail = await _detail(service, doc)
            yield sse("document", detail.model_dump())
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
    finally:
        state.slots.release(user)


@router.get("/documents/{doc_id}", summary="One of your documents: Markdown, checks, warnings")
async def get_document(doc_id: int, user: Caller, state: State) -> DocumentOut:
    service = _service(state, user.name)
    return await _detail(service, await _mine(service, doc_id))


@router.get(
    "/documents/{doc_id}/export",
    summary="Export one of your documents (Markdown, DOCX, PDF, Confluence, SVG)",
    response_class=Response,
    responses={
        200: {
            "description": "The exported file; a zip when the export is several files",
            "content": {media.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                        for media in MEDIA.values()},
        }
    },
)  # fmt: skip
async def export_document(
    doc_id: int,
    user: Caller,
    state: State,
    format: Annotated[Format, Query(description="md, docx, pdf, confluence or svg")] = "md",
    zip: Annotated[
        bool,
        Query(
            description="a zip of the files `aiw doc export` writes (md: the Markdown and its "
            "SVGs beside it; without it, md has its SVGs inside as data: images)"
        ),
    ] = False,
) -> Response:
    from ai_workbench.core.errors import InputError

    service = _service(state, user.name)
    doc = await _mine(service, doc_id)
    try:
        _, files, _warnings = await service.export_files(
            doc.id, format, inline=format == "md" and not zip
        )
    except InputError as exc:
        raise _invalid("format", str(exc)) from None
    names = list(files)
    if len(files) == 1 and not zip:
        name = names[0]
        return Response(
            files[name],
            media_type=MEDIA[format],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    stem = names[-1].rsplit(".", 1)[0] if format != "svg" else f"{doc.doc_type}-{doc.id:04d}"
    return Response(
        _zip(files),
        media_type=MEDIA["zip"],
        headers={"Content-Disposition": f'attachment; filename="{stem}-{format}.zip"'},
    )


def _zip(files: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buf.getvalue()


@router.post(
    "/documents/{doc_id}/ratings",
    summary="Like or dislike one of your documents or one of its sections",
)
async def rate_document(doc_id: int, body: RatingIn, user: Caller, state: State) -> RatingResult:
    from ai_workbench.core.errors import InputError

    service = _service(state, user.name)
    doc = await _mine(service, doc_id)
    value = 1 if body.rating in ("+", 1) else -1
    try:
        rating, learning = await service.rate(doc.id, value, body.comment, body.section)
    except InputError as exc:
        raise _invalid("section", str(exc)) from None
    await state.audit(
        user.name,
        "api.document.rate",
        {"document": doc.id, "section": rating.section, "rating": value},
    )
    return RatingResult(
        rating=RatingOut(
            id=rating.id, section=rating.section, rating=rating.rating,
            comment=rating.comment, updated=rating.updated,
        ),
        learning=None if learning is None else LearningOut(
            id=learning.id, kind=learning.kind, section=learning.section, rule=learning.rule,
            hits=learning.hits, enabled=learning.enabled,
        ),
    )  # fmt: skip


@router.post(
    "/documents/{doc_id}/rewrite",
    summary="Write one section of your document again (with a note), checks run again",
)
async def rewrite_section(doc_id: int, body: RewriteIn, user: Caller, state: State) -> DocumentOut:
    from ai_workbench.core.errors import InputError
    from ai_workbench.documents.service import DocumentError, NewOptions

    service = _service(state, user.name)
    doc = await _mine(service, doc_id)
    _check_provider(body.provider, state)
    async with state.slots.slot(user.name):
        try:
            doc = await service.regenerate_section(
                doc.id, body.section, body.note, NewOptions(doc.doc_type, provider=body.provider)
            )
        except DocumentError as exc:
            raise ApiProblem(502, str(exc), kind="no-document") from None
        except InputError as exc:
            raise _invalid("section", str(exc)) from None  # before any model call
    await state.audit(
        user.name, "api.document.rewrite", {"document": doc.id, "section": body.section[:200]}
    )
    return await _detail(service, doc)


@router.delete("/documents/{doc_id}", status_code=204, summary="Delete one of your documents")
async def delete_document(doc_id: int, user: Caller, state: State) -> Response:
    service = _service(state, user.name)
    doc = await _mine(service, doc_id)
    await service.delete(doc.id)
    await state.audit(user.name, "api.document.delete", {"document": doc.id})
    return Response(status_code=204)
