"""Dependencies every authenticated route takes: the caller (bearer token), their rate limit."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ai_workbench.server.problems import ApiProblem
from ai_workbench.server.state import ServerState
from ai_workbench.users.service import User

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    description="A token from `aiw users add NAME` (shown once).",
)


async def state_of(request: Request) -> ServerState:
    return request.app.state.aiw  # type: ignore[no-any-return]


State = Annotated[ServerState, Depends(state_of)]


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The authenticated user (401 without a valid token), counted against their rate limit."""
    state: ServerState = request.app.state.aiw
    challenge = {"WWW-Authenticate": 'Bearer realm="aiw"'}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiProblem(
            401,
            "send a token: Authorization: Bearer <token> (`aiw users add NAME` makes one)",
            headers=challenge,
        )
    user = await state.authenticate(credentials.credentials)
    if user is None:
        raise ApiProblem(
            401,
            "the token is not valid or was revoked; ask the server's owner for a new one",
            headers=challenge,
        )
    state.limiter.check(user.name)
    request.state.user = user
    return user


Caller = Annotated[User, Depends(caller)]


def require_admin(user: User) -> None:
    if not user.admin:
        raise ApiProblem(
            403, f"{user.name} is a member; only admins may change settings (aiw users add --admin)"
        )
