"""The loopback fake LLM server, proven with real clients: litellm, httpx and a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.conftest import REPO_ROOT, IsolatedEnv, RunAiw, _is_local_address
from tests.fake_llm import (
    EMBEDDING_DIMS,
    MODEL_NAMES,
    FakeLLM,
    chunk_text,
    fake_embedding,
    long_answer,
)

PROMPT = "hello there my good friend"
ECHO = f"You said: {PROMPT}"
MESSAGES = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": PROMPT},
]
NO_RETRY: dict[str, Any] = {"num_retries": 0, "max_retries": 0, "timeout": 5}


@pytest.fixture(scope="session")
def litellm_mod() -> ModuleType:
    """litellm, imported once per session (it takes seconds), quiet and offline."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


@dataclass
class Streamed:
    text: str = ""
    chunks: list[Any] = field(default_factory=list)
    finish_reasons: list[str | None] = field(default_factory=list)
    usage: Any = None
    error: BaseException | None = None


async def stream_chat(litellm: ModuleType, fake: FakeLLM, model: str, **kwargs: Any) -> Streamed:
    """Stream a litellm chat completion, collecting deltas; a mid-stream error is kept."""
    out = Streamed()
    response = await litellm.acompletion(
        model=f"openai/{model}",
        api_base=fake.base_url,
        api_key="sk-test",
        messages=kwargs.pop("messages", MESSAGES),
        stream=True,
        **{**NO_RETRY, **kwargs},
    )
    try:
        async for chunk in response:
            out.chunks.append(chunk)
            if chunk.choices:
                out.text += chunk.choices[0].delta.content or ""
                out.finish_reasons.append(chunk.choices[0].finish_reason)
            if getattr(chunk, "usage", None):
                out.usage = chunk.usage
    except Exception as exc:
        out.error = exc
    return out


def sse_events(body: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, checking the ``data: …\\n\\n`` framing."""
    assert body.endswith("\n\n")
    events = body[:-2].split("\n\n")
    assert all(e.startswith("data: ") and "\n" not in e for e in events), events
    return [e[len("data: ") :] for e in events]


# -- litellm ----------------------------------------------------------------------------------


async def test_litellm_streams_echo_with_usage(litellm_mod: ModuleType, fake_llm: FakeLLM) -> None:
    got = await stream_chat(litellm_mod, fake_llm, "echo", stream_options={"include_usage": True})
    assert got.error is None
    assert got.text == ECHO
    # litellm turns the final usage-only chunk (``"choices": []``) into one more chunk
    # with an empty choice, so "stop" is the last finish_reason that is not None.
    assert [r for r in got.finish_reasons if r] == ["stop"]
    assert got.usage is not None
    assert got.usage.prompt_tokens == len(f"be brief {PROMPT}".split())
    assert got.usage.completion_tokens == len(ECHO.split())
    assert got.usage.total_tokens == got.usage.prompt_tokens + got.usage.completion_tokens

    (request,) = fake_llm.requests
    assert request["method"] == "POST"
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-test"
    assert request["json"]["model"] == "echo"
    assert request["json"]["stream"] is True
    assert request["json"]["messages"][-1] == {"role": "user", "content": PROMPT}


async def test_litellm_stream_without_usage_and_fixed_reply(
    litellm_mod: ModuleType, fake_llm: FakeLLM
) -> None:
    fake_llm.reply = "A fixed answer, spread over a few chunks of words."
    got = await stream_chat(litellm_mod, fake_llm, "echo")
    assert got.error is None
    assert got.text == fake_llm.reply
    assert got.finish_reasons[-1] == "stop"
    assert "stream_options" not in fake_llm.requests[0]["json"]


async def test_litellm_non_stream(litellm_mod: ModuleType, fake_llm: FakeLLM) -> None:
    response = await litellm_mod.acompletion(
        model="openai/echo",
        api_base=fake_llm.base_url,
        api_key="sk-test",
        messages=MESSAGES,
        **NO_RETRY,
    )
    assert response.choices[0].message.content == ECHO
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.completion_tokens == len(ECHO.split())


async def test_litellm_unknown_model_echoes(litellm_mod: ModuleType, fake_llm: FakeLLM) -> None:
    got = await stream_chat(litellm_mod, fake_llm, "gpt-something-new")
    assert got.text == ECHO
    assert fake_llm.requests[0]["json"]["model"] == "gpt-something-new"


@pytest.mark.parametrize(
    ("model", "exc_name", "status"),
    [
        ("fail-401", "AuthenticationError", 401),
        # litellm's OpenAI mapping has no 403 branch: it raises the generic APIError.
        ("fail-403", "APIError", 403),
        ("fail-404", "NotFoundError", 404),
        ("fail-429", "RateLimitError", 429),
        ("fail-500", "InternalServerError", 500),
        ("fail-503", "ServiceUnavailableError", 503),
    ],
)
async def test_litellm_maps_failures(
    litellm_mod: ModuleType, fake_llm: FakeLLM, model: str, exc_name: str, status: int
) -> None:
    expected = getattr(litellm_mod, exc_name)
    with pytest.raises(expected) as info:
        await stream_chat(litellm_mod, fake_llm, model)
    assert info.type is expected
    assert info.value.status_code == status
    assert len(fake_llm.requests) == 1  # no retries


async def test_litellm_cut_raises_midstream(litellm_mod: ModuleType, fake_llm: FakeLLM) -> None:
    got = await stream_chat(litellm_mod, fake_llm, "cut")
    # The first chunks arrive, then the iterator raises; no finish_reason is ever seen.
    assert got.text == "".join(chunk_text(long_answer(30))[:2])
    assert all(reason is None for reason in got.finish_reasons)
    from litellm.exceptions import MidStreamFallbackError

    assert isinstance(got.error, MidStreamFallbackError)
    assert isinstance(got.error, litellm_mod.ServiceUnavailableError)
    assert got.error.generated_content == got.text
    assert isinstance(got.error.original_exception, litellm_mod.APIConnectionError)


def test_litellm_sync_cut_raises_midstream(litellm_mod: ModuleType, fake_llm: FakeLLM) -> None:
    response = litellm_mod.completion(
        model="openai/cut",
        api_base=fake_llm.base_url,
        api_key="sk-test",
        messages=MESSAGES,
        stream=True,
        **NO_RETRY,
    )
    from litellm.exceptions import MidStreamFallbackError

    text = ""
    # What matters is the kind of error and the text kept before the cut, not litellm's wording
    # of it (1.110 words it differently from earlier releases).
    with pytest.raises(MidStreamFallbackError):
        for chunk in response:
            text += chunk.choices[0].delta.content or ""
    assert text == "".join(chunk_text(long_answer(30))[:2])


async def test_litellm_hang_times_out(litellm_mod: ModuleType, fake_llm: FakeLLM) -> None:
    start = time.perf_counter()
    with pytest.raises(litellm_mod.Timeout):
        await stream_chat(litellm_mod, fake_llm, "hang", timeout=0.5)
    assert time.perf_counter() - start < 5


async def test_litellm_flaky_then_ok(litellm_mod: ModuleType, fake_llm: FakeLLM) -> None:
    for _ in range(2):
        with pytest.raises(litellm_mod.RateLimitError):
            await stream_chat(litellm_mod, fake_llm, "flaky-429-2")
    got = await stream_chat(litellm_mod, fake_llm, "flaky-429-2")
    assert got.text == ECHO
    assert fake_llm.script == {"flaky-429-2": 3}


async def test_litellm_embeddings(litellm_mod: ModuleType, fake_llm: FakeLLM) -> None:
    response = await litellm_mod.aembedding(
        model="openai/embed",
        api_base=fake_llm.base_url,
        api_key="sk-test",
        input=["alpha", "beta"],
        **NO_RETRY,
    )
    vectors = [item["embedding"] for item in response.data]
    assert [len(v) for v in vectors] == [EMBEDDING_DIMS, EMBEDDING_DIMS]
    for got, text in zip(vectors, ["alpha", "beta"], strict=True):
        assert got == pytest.approx(fake_embedding(text), abs=1e-6)


# -- plain httpx ------------------------------------------------------------------------------


def test_httpx_raw_stream_matches_openai_wire_format(fake_llm: FakeLLM) -> None:
    payload = {
        "model": "openai/echo",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with (
        httpx.Client(timeout=5) as client,
        client.stream("POST", f"{fake_llm.base_url}/chat/completions", json=payload) as resp,
    ):
        assert resp.status_code == 200
        assert resp.http_version == "HTTP/1.1"
        assert resp.headers["content-type"] == "text/event-stream"
        assert resp.headers["cache-control"] == "no-cache"
        assert resp.headers["transfer-encoding"] == "chunked"
        body = resp.read().decode()

    events = sse_events(body)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1
    assert ids.pop().startswith("chatcmpl-")
    for c in chunks:
        assert c["object"] == "chat.completion.chunk"
        assert c["model"] == "echo"
        assert isinstance(c["created"], int)
        assert c["system_fingerprint"] is None
    first, *content, finish, usage = chunks
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert first["choices"][0]["finish_reason"] is None
    text = "".join(c["choices"][0]["delta"]["content"] for c in [first, *content])
    assert text == ECHO
    assert all(c["choices"][0]["logprobs"] is None for c in content)
    assert all(len(c["choices"][0]["delta"]["content"].split()) <= 3 for c in content)
    assert finish["choices"] == [
        {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    ]
    assert usage["choices"] == []
    assert usage["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": len(ECHO.split()),
        "total_tokens": 7 + len(ECHO.split()),
    }


def test_httpx_sse_lines_and_no_v1_prefix(fake_llm: FakeLLM) -> None:
    payload = {"model": "echo", "messages": [{"role": "user", "content": "a b c d e f g"}]}
    text = ""
    done = False
    with (
        httpx.Client(timeout=5) as client,
        client.stream(
            "POST", f"{fake_llm.url}/chat/completions", json={**payload, "stream": True}
        ) as resp,
    ):
        for line in resp.iter_lines():
            if not line:
                continue
            data = line.removeprefix("data: ")
            if data == "[DONE]":
                done = True
                continue
            choices = json.loads(data)["choices"]
            if choices:
                text += choices[0]["delta"].get("content") or ""
    assert done
    assert text == "You said: a b c d e f g"
    assert fake_llm.requests[0]["path"] == "/chat/completions"


def test_httpx_keep_alive_reuses_connection(fake_llm: FakeLLM) -> None:
    payload = {"model": "echo", "messages": [{"role": "user", "content": "x"}], "stream": True}
    with httpx.Client(timeout=5) as client:
        for _ in range(3):
            resp = client.post(f"{fake_llm.base_url}/chat/completions", json=payload)
            assert sse_events(resp.text)[-1] == "[DONE]"
        resp = client.post(
            f"{fake_llm.base_url}/chat/completions", json={**payload, "stream": False}
        )
        assert resp.json()["choices"][0]["message"]["content"] == "You said: x"
    assert len(fake_llm.requests) == 4


def test_httpx_list_content_parts(fake_llm: FakeLLM) -> None:
    content = [{"type": "text", "text": "part one, "}, {"type": "text", "text": "part two"}]
    resp = httpx.post(
        f"{fake_llm.base_url}/chat/completions",
        json={"model": "echo", "messages": [{"role": "user", "content": content}]},
        timeout=5,
    )
    assert resp.json()["choices"][0]["message"]["content"] == "You said: part one, part two"


def test_httpx_cut_is_a_protocol_error(fake_llm: FakeLLM) -> None:
    payload = {"model": "cut", "messages": MESSAGES, "stream": True}
    lines: list[str] = []
    with (
        httpx.Client(timeout=5) as client,
        client.stream("POST", f"{fake_llm.base_url}/chat/completions", json=payload) as resp,
        pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
    ):
        lines.extend(line for line in resp.iter_lines() if line)
    assert len(lines) == 3  # the role chunk and 2 content chunks
    assert all('finish_reason":null' in line for line in lines)


def test_models_endpoint(fake_llm: FakeLLM) -> None:
    for url in (f"{fake_llm.base_url}/models", f"{fake_llm.url}/models"):
        resp = httpx.get(url, timeout=5)
        assert resp.status_code == 200
        body = resp.json()
        assert body["object"] == "list"
        assert [m["id"] for m in body["data"]] == list(MODEL_NAMES)
        assert all(m["object"] == "model" for m in body["data"])
    for name in ("echo", "slow", "hang", "cut", "fail-404", "flaky-429-1"):
        assert name in MODEL_NAMES
    assert httpx.get(f"{fake_llm.base_url}/models/echo", timeout=5).json()["id"] == "echo"


def test_error_bodies(fake_llm: FakeLLM) -> None:
    url = f"{fake_llm.base_url}/chat/completions"
    resp = httpx.post(url, json={"model": "openai/fail-404", "messages": MESSAGES}, timeout=5)
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "model_not_found"
    assert "The model `fail-404` does not exist" in error["message"]

    resp = httpx.post(url, json={"model": "fail-429", "messages": MESSAGES}, timeout=5)
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "0"
    assert resp.json()["error"]["code"] == "rate_limit_exceeded"

    for status in (401, 403, 500, 503):
        resp = httpx.post(url, json={"model": f"fail-{status}", "stream": True}, timeout=5)
        assert resp.status_code == status
        assert resp.headers["content-type"] == "application/json"
        assert set(resp.json()["error"]) == {"message", "type", "param", "code"}

    resp = httpx.post(f"{fake_llm.base_url}/nope", json={}, timeout=5)
    assert resp.status_code == 404


def test_flaky_counters(fake_llm: FakeLLM) -> None:
    url = f"{fake_llm.base_url}/chat/completions"
    body = {"messages": [{"role": "user", "content": "hi"}]}
    statuses = [
        httpx.post(url, json={**body, "model": "flaky-500-2"}, timeout=5).status_code
        for _ in range(4)
    ]
    assert statuses == [500, 500, 200, 200]
    assert httpx.post(url, json={**body, "model": "flaky-429-1"}, timeout=5).status_code == 429
    assert (
        httpx.post(url, json={**body, "model": "openai/flaky-429-1"}, timeout=5).status_code == 200
    )
    assert fake_llm.script == {"flaky-500-2": 4, "flaky-429-1": 2}
    fake_llm.reset()
    assert fake_llm.script == {}
    assert fake_llm.requests == []
    assert httpx.post(url, json={**body, "model": "flaky-500-2"}, timeout=5).status_code == 500


def test_embeddings_endpoint(fake_llm: FakeLLM) -> None:
    resp = httpx.post(
        f"{fake_llm.url}/embeddings", json={"model": "embed", "input": "same text"}, timeout=5
    )
    data = resp.json()["data"]
    assert len(data) == 1
    vector = data[0]["embedding"]
    assert len(vector) == EMBEDDING_DIMS
    assert vector == fake_embedding("same text")
    assert sum(x * x for x in vector) == pytest.approx(1.0, abs=1e-4)
    assert fake_embedding("same text") != fake_embedding("other text")


def test_slow_streams_with_delay(fake_llm: FakeLLM) -> None:
    fake_llm.reply = "one two three four five six seven eight nine"  # 3 chunks
    payload = {"model": "slow", "messages": MESSAGES, "stream": True}
    start = time.perf_counter()
    resp = httpx.post(f"{fake_llm.base_url}/chat/completions", json=payload, timeout=5)
    elapsed = time.perf_counter() - start
    assert elapsed >= 3 * 0.05 * 0.9
    text = "".join(
        (json.loads(e)["choices"][0]["delta"].get("content") or "")
        for e in sse_events(resp.text)[:-1]
    )
    assert text == fake_llm.reply
    assert len(chunk_text(long_answer())) > 60  # the default slow answer lasts > 3 s


def test_chunk_delay_applies_to_echo(fake_llm: FakeLLM) -> None:
    fake_llm.chunk_delay = 0.1
    payload = {"model": "echo", "messages": [{"role": "user", "content": "x"}], "stream": True}
    start = time.perf_counter()
    httpx.post(f"{fake_llm.base_url}/chat/completions", json=payload, timeout=5)
    assert time.perf_counter() - start >= 0.09


# -- lifecycle --------------------------------------------------------------------------------


def test_context_manager_and_stop_releases_hanging_request() -> None:
    errors: list[BaseException] = []

    with FakeLLM() as fake:
        assert fake.url.startswith("http://127.0.0.1:")
        assert fake.base_url == f"{fake.url}/v1"

        def call() -> None:
            try:
                httpx.post(f"{fake.base_url}/chat/completions", json={"model": "hang"}, timeout=30)
            except httpx.HTTPError as exc:
                errors.append(exc)

        thread = threading.Thread(target=call)
        thread.start()
        deadline = time.monotonic() + 5
        while not fake.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.requests[0]["json"] == {"model": "hang"}
        start = time.perf_counter()
    assert time.perf_counter() - start < 3
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert errors and isinstance(errors[0], httpx.RemoteProtocolError)
    with pytest.raises(RuntimeError):
        _ = fake.url


def test_module_runs_in_foreground(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_llm", "--reply", "fixed"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        resp = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "echo", "messages": [{"role": "user", "content": "hi"}]},
            timeout=5,
        )
        assert resp.json()["choices"][0]["message"]["content"] == "fixed"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0


# -- the conftest fixtures --------------------------------------------------------------------


def test_isolated_env(isolated_env: IsolatedEnv, tmp_path: Path) -> None:
    assert os.environ["HOME"] == str(isolated_env.home)
    for name, path in [
        ("XDG_CONFIG_HOME", isolated_env.config),
        ("XDG_DATA_HOME", isolated_env.data),
        ("XDG_CACHE_HOME", isolated_env.cache),
        ("XDG_STATE_HOME", isolated_env.state),
        ("XDG_RUNTIME_DIR", isolated_env.runtime),
    ]:
        assert os.environ[name] == str(path)
        assert path.is_dir()
        assert path.is_relative_to(tmp_path)
    assert not [k for k in os.environ if k.startswith("AIW_")]
    assert "OPENAI_API_KEY" not in os.environ
    assert "HTTPS_PROXY" not in os.environ and "https_proxy" not in os.environ
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert os.environ["NO_COLOR"] == "1"


def test_loopback_guard() -> None:
    assert _is_local_address(("127.0.0.1", 80))
    assert _is_local_address(("::1", 80, 0, 0))
    assert _is_local_address(("localhost", 80))
    assert _is_local_address("/tmp/some.sock")
    assert not _is_local_address(("203.0.113.7", 443))
    assert not _is_local_address(("example.com", 443))
    assert socket.socket.connect.__module__ == "tests.conftest"


def test_run_aiw_uses_isolated_env(run_aiw: RunAiw, isolated_env: IsolatedEnv) -> None:
    if not (REPO_ROOT / "ai_workbench" / "__main__.py").exists():
        pytest.skip("ai_workbench.__main__ is not written yet")
    result = run_aiw("--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout or "usage" in result.stdout


def test_hang_handler_ends_when_client_leaves() -> None:
    with FakeLLM() as fake:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{fake.base_url}/chat/completions", json={"model": "hang"}, timeout=0.3)
        server = fake._server
        assert server is not None
        deadline = time.monotonic() + 3
        while server.connections and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not server.connections
