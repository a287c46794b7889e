"""Health, tokens, problem+json, limits: the API's envelope, on the real app under uvicorn."""

from __future__ import annotations

import pytest

from tests.server.conftest import Api

PROBLEM = "application/problem+json"


def assert_problem(response: object, status: int) -> dict:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith(PROBLEM)  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"].startswith("https://")
    assert "Traceback" not in response.text  # type: ignore[attr-defined]
    return body


def test_health_needs_no_token(api: Api) -> None:
    response = api.client().get("/v1/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert isinstance(body["schema_version"], int)


@pytest.mark.parametrize(
    ("method", "path", "json"),
    [
        ("GET", "/v1/sessions", None),
        ("GET", "/v1/sessions/abc", None),
        ("GET", "/v1/sessions/abc/export", None),
        ("DELETE", "/v1/sessions/abc", None),
        ("POST", "/v1/search", {"query": "x"}),
        ("POST", "/v1/ask", {"prompt": "x"}),
        ("POST", "/v1/feedback", {"target_kind": "message", "target_id": "1", "rating": 1}),
        ("GET", "/v1/feedback", None),
        ("POST", "/v1/review", {"diff": "x"}),
        ("GET", "/v1/settings", None),
        ("PATCH", "/v1/settings", {"changes": {"knowledge.top_k": 3}}),
        ("GET", "/v1/events", None),
    ],
)
def test_every_endpoint_but_health_needs_a_valid_token(
    api: Api, method: str, path: str, json: dict | None
) -> None:
    missing = api.client().request(method, path, json=json)
    body = assert_problem(missing, 401)
    assert "Bearer" in body["detail"]
    assert missing.headers["www-authenticate"].startswith("Bearer")

    bad = api.client("aiw_not-a-real-token").request(method, path, json=json)
    assert "not valid" in assert_problem(bad, 401)["detail"]


def test_a_revoked_token_stops_working(api: Api) -> None:
    import asyncio

    from ai_workbench.store import Store
    from ai_workbench.users.service import UserService

    token = api.user("ana")
    client = api.client(token)
    assert client.get("/v1/sessions").status_code == 200

    async def revoke() -> None:
        async with Store(api.db_path) as store:
            await UserService(store).revoke("ana")

    asyncio.run(revoke())
    api.state._tokens.clear()  # the 5 s token cache (server.token_cache_seconds)
    assert_problem(client.get("/v1/sessions"), 401)


def test_validation_errors_name_the_field(api: Api) -> None:
    client = api.client(api.user("ana"))

    body = assert_problem(client.post("/v1/search", json={"query": "x", "k": 0}), 422)
    assert body["errors"][0]["field"] == "k"
    assert body["detail"].startswith("k:")

    body = assert_problem(client.post("/v1/ask", json={}), 422)
    assert body["errors"][0]["field"] == "prompt"

    body = assert_problem(
        client.post(
            "/v1/search", content=b"{not json", headers={"content-type": "application/json"}
        ),
        422,
    )
    assert body["errors"][0]["field"] == "body"
    assert body["detail"].startswith("body: not valid JSON at character 1")


def test_unknown_paths_and_methods_are_problems_too(api: Api) -> None:
    client = api.client(api.user("ana"))

    assert_problem(client.get("/v1/nothing-here"), 404)
    assert_problem(client.put("/v1/health"), 405)


def test_a_server_fault_is_a_500_problem_without_a_traceback(api: Api) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("secret internals /home/lead/.ssh")

    api.state.search = broken  # a bug in the server's own code, not the client's fault
    response = api.client(api.user("ana")).post("/v1/search", json={"query": "x"})

    body = assert_problem(response, 500)
    assert "server's log" in body["detail"]
    assert "secret internals" not in response.text and "RuntimeError" not in response.text
