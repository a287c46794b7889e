"""RFC 9457 problem details: every error the API returns is ``application/problem+json`` with a
clear ``title``; validation errors name the field; no traceback ever reaches a client."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("aiw.server")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://aiw.dev/problems/"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal server error",
    502: "Model provider failed",
    503: "Service unavailable",
}


class ApiProblem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        kind: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or TITLES.get(status, "Error")
        self.kind = kind or self.title.lower().replace(" ", "-")
        self.headers = dict(headers or {})
        self.extra = extra


def problem_dict(
    status: int, detail: str, *, title: str | None = None, kind: str | None = None,
    instance: str | None = None, **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    title = title or TITLES.get(status, "Error")
    body: dict[str, Any] = {
        "type": TYPE_BASE + (kind or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_response(
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    instance: str | None = None,
    **kw: Any,
) -> JSONResponse:
    return JSONResponse(
        problem_dict(status, detail, instance=instance, **kw),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, rest = parts[0], parts[1:]
        return ".".join(rest) if rest else where
    return ".".join(parts)


def _error(error: Mapping[str, Any]) -> dict[str, str]:
    """One validation error as ``{"field", "message"}``; a body that is not JSON at all is the
    ``body`` field, with the parser's reason and the character where it stopped."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid":
        reason = str((error.get("ctx") or {}).get("error", "")).strip()
        where = f" at character {loc[-1]}" if len(loc) > 1 and isinstance(loc[-1], int) else ""
        message = f"not valid JSON{where}" + (f": {reason}" if reason else "")
        return {"field": "body", "message": f"{message}; send a JSON object"}
    return {"field": _field(loc), "message": str(error.get("msg", "invalid"))}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a problem document."""
    from ai_workbench.core.errors import AiwError, InputError, ProviderError

    @app.exception_handler(ApiProblem)
    async def _api(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(
            exc.status, exc.detail, title=exc.title, kind=exc.kind, headers=exc.headers,
            instance=request.url.path, **exc.extra,
        )  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_error(e) for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        detail = f"{first['field']}: {first['message']}"
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more)"
        return problem_response(
            422, detail, kind="validation", instance=request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(status, "Error")
        if status == 404 and detail == "Not Found":
            detail = f"no endpoint {request.url.path}; see /docs or docs/openapi.yaml"
        elif status == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(
            status, detail, headers=getattr(exc, "headers", None), instance=request.url.path
        )

    @app.exception_handler(AiwError)
    async def _aiw(request: Request, exc: AiwError) -> JSONResponse:
        from ai_workbench.core.sanitize import strip_controls

        detail = strip_controls(str(exc))
        if isinstance(exc, ProviderError):
            return problem_response(
                502, detail, kind="provider", instance=request.url.path, provider_error=exc.kind
            )
        status = 404 if type(exc).__name__.endswith("NotFound") else 400
        if isinstance(exc, InputError | AiwError):
            return problem_response(status, detail, instance=request.url.path)
        return problem_response(400, detail, instance=request.url.path)  # pragma: no cover

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return problem_response(
            500,
            "the server failed on this request; the server's log has the details",
            instance=request.url.path,
        )
