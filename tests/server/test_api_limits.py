"""Per-user limits on the real server: the token bucket (429 + Retry-After), the cap on model
calls at once, the request body size (413)."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.fake_llm import FakeLLM
from tests.server.conftest import Api
from tests.server.test_api_basics import assert_problem


@pytest.fixture
def api_config() -> str:
    return "[server]\nburst = 3\nrate_per_minute = 6\nmax_body_bytes = 2048\nmax_model_calls = 1\n"


def test_rate_limit_is_per_user_with_retry_after(api: Api) -> None:
    ana, bob = api.client(api.user("ana")), api.client(api.user("bob"))

    assert [ana.get("/v1/sessions").status_code for _ in range(3)] == [200, 200, 200]
    limited = ana.get("/v1/sessions")
    body = assert_problem(limited, 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 10
    assert "server.rate_per_minute" in body["detail"]
    assert bob.get("/v1/sessions").status_code == 200  # bob has his own bucket
    assert api.client().get("/v1/health").status_code == 200  # health is never limited


def test_a_body_over_the_limit_is_413(api: Api) -> None:
    client = api.client(api.user("ana"))

    too_big = client.post("/v1/search", json={"query": "x" * 5000})
    assert_problem(too_big, 413)

    def chunks():  # no Content-Length: the limit holds while the body is read
        for _ in range(10):
            yield b" " * 1000

    streamed = client.post(
        "/v1/search", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(streamed, 413)


def test_model_calls_at_once_are_capped_per_user(api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.chunk_delay = 0.1
    ana = api.client(api.user("ana"))
    started = threading.Event()
    first: list[httpx.Response] = []

    def slow_stream() -> None:
        with ana.stream(
            "POST", "/v1/ask", json={"prompt": "long", "provider": "slow", "stream": True}
        ) as response:
            started.set()
            response.read()
            first.append(response)

    thread = threading.Thread(target=slow_stream, daemon=True)
    thread.start()
    assert started.wait(10)

    second = ana.post("/v1/ask", json={"prompt": "meanwhile"})
    body = assert_problem(second, 429)
    assert second.headers["retry-after"] == "1"
    assert "server.max_model_calls" in body["detail"]
    bob = api.client(api.user("bob"))
    assert bob.post("/v1/ask", json={"prompt": "mine"}).status_code == 200
    thread.join(30)
    assert first and first[0].status_code == 200
