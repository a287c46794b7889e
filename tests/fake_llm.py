"""A loopback OpenAI-compatible HTTP server for tests and benchmarks (stdlib only).

The server speaks enough of the OpenAI REST API for litellm, the ``openai`` SDK, simonw's
``llm`` and plain httpx clients: ``POST /v1/chat/completions`` (streamed as SSE with chunked
transfer encoding, byte-for-byte in OpenAI's shape, or as one JSON object),
``GET /v1/models``, ``GET /v1/models/{id}`` and ``POST /v1/embeddings``. Every path also
works without the ``/v1`` prefix.

What a chat request does is chosen by its ``model`` field (an ``openai/`` prefix is
stripped), so a subprocess test picks the behaviour from the command line:

``echo`` (and any unknown name)
    answers ``FakeLLM.reply`` or ``"You said: <last user message>"``.
``slow``
    a long answer (``reply`` or :func:`long_answer`) with 0.05 s (or ``chunk_delay``)
    between chunks; for kill -9 / Ctrl-C mid-stream tests.
``fail-401`` ``fail-403`` ``fail-404`` ``fail-429`` ``fail-500`` ``fail-503``
    that HTTP status with an OpenAI-style JSON error body.
``flaky-429-N`` / ``flaky-500-N``
    the first N requests for that model name fail (counted in ``FakeLLM.script``), then echo.
``flaky-interrupt-N``
    the first N requests are interrupted like ``interrupt`` (after 2 chunks), then answer.
``hang``
    reads the request, then never answers (until the server stops, 600 s at most).
``cut``
    sends the headers and 2 content chunks, then closes the socket mid-body.
``hostile``
    answers :data:`HOSTILE_REPLY` (``reply`` overrides it), one word per chunk: text laced with
    terminal control sequences (OSC 52 clipboard, OSC 0 title, OSC 8 link, CSI clear screen,
    cursor moves, 8-bit CSI), some split across chunks.
``endless``
    streams words (``reply`` repeated, or ``wordN``) until the client goes away or the server
    stops: for answer caps.

Tool calls: ``FakeLLM.tool_calls`` is a queue of scripted batches (``[{"name": ..., "arguments":
...}]``, arguments a JSON string, possibly malformed, or a dict). A streamed request that offers
``tools`` while the queue has a batch gets that batch as ``delta.tool_calls``, each call's
arguments split across several chunks the way OpenAI sends them (``finish_reason`` "tool_calls");
with ``FakeLLM.tool_index_reuse`` every call comes whole in one chunk on index 0, as Ollama sends a
parallel batch. The next request (carrying the ``tool`` messages) answers as usual; a
``reply_fn`` can read them with :func:`tool_results`.

``FakeLLM.tool_text`` (a string) is streamed as content before a batch's calls (a model that
says what it is about to do). A batch reports usage (crude word counts) when the request asks for
it (``stream_options.include_usage``), like text answers.

``FakeLLM.replies`` is a queue of scripted text answers, one popped per chat request (after any
tool batch): a model that speaks the agent's text protocol, or any multi-turn script.
``no-tools``
    refuses any request that offers ``tools`` with a 500 naming the field, as llama.cpp's server
    does without ``--jinja`` (``tools param requires --jinja flag``); answers other requests.

``FakeLLM.error_message`` replaces the message in every error body (e.g. with control
sequences, as a hostile server would send).
``no-schema``
    answers 400 (OpenAI's wording) to any request with ``response_format``, else echoes.
``no-tools``
    answers 400 (Ollama's wording) to any request that offers ``tools``, else echoes.
``json-object-only``
    like llama-cpp-python's server: a ``response_format`` of type ``json_schema`` gets a 500
    whose message names the field; ``json_object`` (with or without ``schema``) is accepted.

``FakeLLM.first_token_delay`` sleeps after the headers, before the first content chunk (a
server evaluating a long prompt); every request body is in ``FakeLLM.requests``.

``interrupt``
    sends 2 content chunks, then ``data: [DONE]`` with no ``finish_reason`` and ends the body
    cleanly: what llama-cpp-python's server does when another request is waiting.
``length``
    streams the answer but ends it with ``finish_reason: "length"`` (the token limit).
``malformed-review``
    answers :data:`MALFORMED_REVIEW` (a review reply whose JSON is broken by a quoted code
    string holding quotes, newlines and a ``[]``).

``FakeLLM.interrupt_when_busy`` makes every stream behave like llama-cpp-python's with one
slot: a stream that is running when another chat request arrives is ended at once with
``[DONE]`` and no ``finish_reason``. ``FakeLLM.slots`` (an int) is what ``GET /props``
reports as ``total_slots`` (llama.cpp's server); ``None`` (default) answers 404 there, like
llama-cpp-python. ``FakeLLM.peak_streams`` is the most streams that ran at once.

Run ``python -m tests.fake_llm [--port N]`` to serve in the foreground; the first stdout
line is the server's URL.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import re
import select
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "EMBEDDING_DIMS",
    "FAIL_STATUSES",
    "HOSTILE_REPLY",
    "MALFORMED_REVIEW",
    "MODEL_NAMES",
    "FakeLLM",
    "chunk_text",
    "fake_embedding",
    "long_answer",
    "tool_results",
]

#: Model names listed by ``GET /v1/models`` (``flaky-…-N`` accepts any N).
MODEL_NAMES: tuple[str, ...] = (
    "echo",
    "slow",
    "hang",
    "cut",
    "hostile",
    "endless",
    "interrupt",
    "length",
    "malformed-review",
    "fail-401",
    "fail-403",
    "fail-404",
    "fail-429",
    "fail-500",
    "fail-503",
    "flaky-429-1",
    "flaky-500-1",
    "embed",
    "no-schema",
    "no-tools",
    "json-object-only",
    "no-tools",
)
FAIL_STATUSES: tuple[int, ...] = (401, 403, 404, 429, 500, 503)
EMBEDDING_DIMS = 8
WORDS_PER_CHUNK = 3
SLOW_CHUNK_DELAY = 0.05
HANG_SECONDS = 600.0
_FLAKY_RE = re.compile(r"^flaky-(429|500|interrupt)-(\d+)$")
_FAIL_RE = re.compile(r"^fail-(\d{3})$")
_CREATED = 1_700_000_000
ESC = "\x1b"
#: What a hostile model says: visible words around terminal control sequences. Words are split
#: on spaces, so the OSC 0 title and OSC 8 link sequences arrive in two chunks each.
HOSTILE_REPLY = (
    f"Hello {ESC}]52;c;ZWNobyBwd25lZA=={ESC}\\ there{ESC}]0;owned title\x07 "
    f"{ESC}[2J{ESC}[H{ESC}[3;1Hcleared "
    f"{ESC}]8;;https://evil.example/ x{ESC}\\click{ESC}]8;;{ESC}\\ "
    f"\x9b31mred\x9b0m back\rspace\x08\x07 {ESC}P1$r secret{ESC}\\done {ESC}[?1049h end"
)

#: The ``malformed-review`` model's answer: not JSON (a raw newline and unescaped quotes in a
#: code string), with a ``[]`` inside the code that a lax reader takes for "no findings".
MALFORMED_REVIEW = (
    '{"findings": [{"file": "calc.py", "line_start": 3, "improved_code": '
    '"def f(x=None):\n    """doc"""\n    y = []"}]}'
)


def long_answer(words: int = 200) -> str:
    """The ``slow`` model's default answer: ``"word1 word2 … wordN"``."""
    return " ".join(f"word{i}" for i in range(1, words + 1))


def chunk_text(text: str, words_per_chunk: int = WORDS_PER_CHUNK) -> list[str]:
    """Split ``text`` into pieces of about ``words_per_chunk`` words; ``"".join`` gives it back."""
    pieces = re.findall(r"\S+\s*|\s+", text)
    step = max(1, words_per_chunk)
    return ["".join(pieces[i : i + step]) for i in range(0, len(pieces), step)]


def count_tokens(text: str) -> int:
    """A crude token count: whitespace-separated words."""
    return len(text.split())


def fake_embedding(text: str, dims: int = EMBEDDING_DIMS) -> list[float]:
    """A deterministic unit vector of ``dims`` floats derived from a hash of ``text``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    while len(digest) < dims * 2:
        digest += hashlib.sha256(digest).digest()
    raw = [(int.from_bytes(digest[2 * i : 2 * i + 2], "big") / 32767.5) - 1.0 for i in range(dims)]
    norm = sum(x * x for x in raw) ** 0.5 or 1.0
    return [round(x / norm, 6) for x in raw]


def _content_text(content: Any) -> str:
    """The text of a message ``content``: a string or a list of ``{"type": "text"}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return ""


def _last_user_message(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def tool_results(body: dict[str, Any]) -> list[str]:
    """The contents of the ``tool`` messages of a chat request, in order."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return []
    return [
        _content_text(m.get("content"))
        for m in messages
        if isinstance(m, dict) and m.get("role") == "tool"
    ]


def _prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 0
    return sum(
        count_tokens(_content_text(m.get("content"))) for m in messages if isinstance(m, dict)
    )


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _error_body(status: int, model: str, override: str | None = None) -> dict[str, Any]:
    message: str
    err_type: str
    code: str | None
    if status == 401:
        message = (
            "Incorrect API key provided: sk-****. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )
        err_type, code = "invalid_request_error", "invalid_api_key"
    elif status == 403:
        message = f"You are not allowed to sample from the model `{model}`."
        err_type, code = "permission_error", "permission_denied"
    elif status == 404:
        message = f"The model `{model}` does not exist or you do not have access to it."
        err_type, code = "invalid_request_error", "model_not_found"
    elif status == 429:
        message = (
            f"Rate limit reached for {model} on requests per min (RPM): Limit 3, Used 3, "
            "Requested 1. Please try again in 0s."
        )
        err_type, code = "requests", "rate_limit_exceeded"
    elif status == 503:
        message = "The engine is currently overloaded, please try again later."
        err_type, code = "server_error", None
    else:
        message = "The server had an error while processing your request. Sorry about that!"
        err_type, code = "server_error", None
    if override is not None:
        message = override
    return {"error": {"message": message, "type": err_type, "param": None, "code": code}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, fake: FakeLLM, address: tuple[str, int]) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return  # a client went away mid-request: normal in kill/cut tests
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    # -- plumbing --------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def version_string(self) -> str:
        return "FakeLLM/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            sys.stderr.write(f"fake_llm: {format % args}\n")

    @property
    def fake(self) -> FakeLLM:
        return self.server.fake

    def _route(self) -> str:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        if path == "/v1" or path.startswith("/v1/"):
            path = path[3:] or "/"
        return path

    def _read_body(self) -> tuple[bytes, Any]:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return raw, parsed

    def _record(self, body: Any) -> None:
        self.fake._record(
            {
                "method": self.command,
                "path": urlsplit(self.path).path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "json": body,
            }
        )

    def _send_json(
        self, status: int, obj: Any, extra_headers: dict[str, str] | None = None
    ) -> None:
        payload = _dumps(obj)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _send_error(self, status: int, model: str) -> None:
        extra = {"retry-after": "0"} if status == 429 else None
        self._send_json(status, _error_body(status, model, self.fake.error_message), extra)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    # -- verbs -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._record(None)
        route = self._route()
        if route == "/models":
            data = [
                {"id": name, "object": "model", "created": _CREATED, "owned_by": "fake-llm"}
                for name in MODEL_NAMES
            ]
            self._send_json(200, {"object": "list", "data": data})
        elif route.startswith("/models/"):
            name = route[len("/models/") :]
            self._send_json(
                200, {"id": name, "object": "model", "created": _CREATED, "owned_by": "fake-llm"}
            )
        elif route in ("/", "/health"):
            self._send_json(200, {"status": "ok"})
        elif route == "/props" and self.fake.slots is not None:
            self._send_json(200, {"total_slots": self.fake.slots, "n_ctx": 8192})
        else:
            self._not_found()

    def do_POST(self) -> None:
        _, body = self._read_body()
        self._record(body)
        route = self._route()
        if not isinstance(body, dict):
            body = {}
        if route == "/chat/completions":
            self._chat(body)
        elif route == "/embeddings":
            self._embeddings(body)
        else:
            self._not_found()

    def _not_found(self) -> None:
        err = {
            "message": f"Invalid URL ({self.command} {urlsplit(self.path).path})",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
        self._send_json(404, {"error": err})

    # -- embeddings ------------------------------------------------------------------------

    def _embeddings(self, body: dict[str, Any]) -> None:
        model = str(body.get("model") or "embed").removeprefix("openai/")
        inputs = body.get("input")
        if isinstance(inputs, str) or (
            isinstance(inputs, list) and inputs and isinstance(inputs[0], int)
        ):
            inputs = [inputs]
        if not isinstance(inputs, list):
            inputs = []
        as_base64 = body.get("encoding_format") == "base64"
        dims = body.get("dimensions")
        dims = dims if isinstance(dims, int) and 0 < dims <= 4096 else EMBEDDING_DIMS
        data: list[dict[str, Any]] = []
        tokens = 0
        for index, item in enumerate(inputs):
            text = item if isinstance(item, str) else " ".join(str(t) for t in item)
            tokens += count_tokens(text)
            vector = fake_embedding(text, dims)
            embedding: Any = vector
            if as_base64:
                packed = struct.pack(f"<{len(vector)}f", *vector)
                embedding = base64.b64encode(packed).decode("ascii")
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    # -- chat ------------------------------------------------------------------------------

    def _chat(self, body: dict[str, Any]) -> None:
        raw_model = str(body.get("model") or "echo")
        model = raw_model.removeprefix("openai/")
        fake = self.fake

        fail = _FAIL_RE.match(model)
        if fail and int(fail.group(1)) in FAIL_STATUSES:
            self._send_error(int(fail.group(1)), model)
            return
        flaky = _FLAKY_RE.match(model)
        interrupt = model == "interrupt"
        if flaky:
            count = fake._bump(model)
            if count <= int(flaky.group(2)):
                if flaky.group(1) == "interrupt":
                    interrupt = True
                else:
                    self._send_error(int(flaky.group(1)), model)
                    return
        if model == "hang":
            self._hang()
            return
        response_format = body.get("response_format")
        if model == "no-schema" and response_format is not None:
            error = {
                "message": "Invalid parameter: 'response_format' is not supported with this model.",
                "type": "invalid_request_error",
                "param": "response_format",
                "code": None,
            }
            self._send_json(400, {"error": error})
            return
        if model == "no-tools" and body.get("tools"):
            error = {"message": f"registry.ollama.ai/library/{model} does not support tools"}
            self._send_json(400, {"error": error})
            return
        if (
            model == "json-object-only"
            and isinstance(response_format, dict)
            and response_format.get("type") not in ("text", "json_object")
        ):
            message = (
                "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
                "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}"
            )
            error = {"message": message, "type": "internal_server_error", "param": None}
            self._send_json(500, {"error": error})
            return

        if model == "no-tools" and body.get("tools"):
            error = {
                "message": "tools param requires --jinja flag",
                "type": "server_error",
                "param": None,
            }
            self._send_json(500, {"error": error})
            return

        delay = fake.chunk_delay
        words_per_chunk = fake.words_per_chunk
        if body.get("tools") and body.get("stream"):
            batch = fake._next_tool_batch()
            if batch is not None:
                self._tool_calls(body, batch)
                return
        if model == "endless":
            self._endless(body, fake.reply or "")
            return
        if model == "hostile":
            answer = fake.reply if fake.reply is not None else HOSTILE_REPLY
            words_per_chunk = 1
        elif model == "malformed-review" and fake.reply is None:
            answer = MALFORMED_REVIEW
        elif model == "slow":
            answer = fake.reply if fake.reply is not None else long_answer()
            delay = delay or SLOW_CHUNK_DELAY
        elif model in ("cut", "interrupt"):
            answer = fake.reply if fake.reply is not None else long_answer(30)
        else:
            user = _last_user_message(body)
            answer = fake.reply if fake.reply is not None else f"You said: {user}"
        scripted = fake._next_reply()
        if scripted is not None:
            answer = scripted
        if fake.reply_fn is not None:
            chosen = fake.reply_fn(body)
            if chosen is not None:
                answer = chosen

        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        prompt_tokens = _prompt_tokens(body)
        completion_tokens = count_tokens(answer)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if not body.get("stream"):
            self._send_json(
                200,
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": answer,
                                "refusal": None,
                                "annotations": [],
                            },
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                    "service_tier": "default",
                    "system_fingerprint": None,
                },
            )
            return

        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, dict) and bool(
            stream_options.get("include_usage")
        )

        def sse_chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            chunk: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "service_tier": "default",
                "system_fingerprint": None,
                "choices": choices,
                **extra,
            }
            return b"data: " + _dumps(chunk) + b"\n\n"

        def event(delta: dict[str, Any], finish: str | None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return sse_chunk([choice], **({"usage": None} if include_usage else {}))

        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        self.end_headers()

        ticket = fake._stream_started()
        try:
            self._write_chunk(event({"role": "assistant", "content": "", "refusal": None}, None))
            if fake.first_token_delay > 0 and fake._stopping.wait(fake.first_token_delay):
                self._cut()
                return
            for index, piece in enumerate(chunk_text(answer, words_per_chunk)):
                if model == "cut" and index >= 2:
                    self._cut()
                    return
                if (interrupt and index >= 2) or fake._interrupted(ticket):
                    self._end_without_finish()
                    return
                if delay > 0 and fake._stopping.wait(delay):
                    self._cut()  # the server is stopping
                    return
                self._write_chunk(event({"content": piece}, None))
            if model == "cut":
                self._cut()
                return
            if interrupt or fake._interrupted(ticket):
                self._end_without_finish()
                return
        finally:
            fake._stream_ended()
        self._write_chunk(event({}, "length" if model == "length" else "stop"))
        if include_usage:
            self._write_chunk(sse_chunk([], usage=usage))
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _tool_calls(self, body: dict[str, Any], batch: list[dict[str, Any]]) -> None:
        """Stream ``batch`` as ``delta.tool_calls``: split arguments, or Ollama's index reuse."""
        model = str(body.get("model") or "echo").removeprefix("openai/")
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"

        def event(delta: dict[str, Any], finish: str | None) -> bytes:
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": _CREATED,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return b"data: " + _dumps(chunk) + b"\n\n"

        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self._write_chunk(event({"role": "assistant", "content": None}, None))
        if self.fake.tool_text:
            for piece in chunk_text(self.fake.tool_text):
                self._write_chunk(event({"content": piece}, None))
        for number, call in enumerate(batch):
            args = call.get("arguments", {})
            text = args if isinstance(args, str) else json.dumps(args)
            call_id = f"call_{uuid.uuid4().hex[:12]}"
            if self.fake.tool_index_reuse:
                whole = {
                    "index": 0,
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call["name"], "arguments": text},
                }
                self._write_chunk(event({"tool_calls": [whole]}, None))
                continue
            head = {
                "index": number,
                "id": call_id,
                "type": "function",
                "function": {"name": call["name"], "arguments": ""},
            }
            self._write_chunk(event({"tool_calls": [head]}, None))
            step = max(1, len(text) // 3)
            for start in range(0, len(text), step):
                piece = {"index": number, "function": {"arguments": text[start : start + step]}}
                self._write_chunk(event({"tool_calls": [piece]}, None))
        self._write_chunk(event({}, "tool_calls"))
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            prompt = _prompt_tokens(body)
            said = sum(count_tokens(json.dumps(call)) for call in batch)
            said += count_tokens(self.fake.tool_text or "")
            usage = {"prompt_tokens": prompt, "completion_tokens": said}
            usage["total_tokens"] = prompt + said
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": _CREATED,
                "model": model,
                "choices": [],
                "usage": usage,
            }
            self._write_chunk(b"data: " + _dumps(chunk) + b"\n\n")
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _endless(self, body: dict[str, Any], text: str) -> None:
        """Stream chunks (``text`` or ``wordN ``) until the client or the server stops."""
        self.close_connection = True
        model = str(body.get("model") or "endless").removeprefix("openai/")
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        index = 0
        try:
            while not self.fake._stopping.is_set():
                index += 1
                piece = text or f"word{index} "
                chunk = {
                    "id": "chatcmpl-endless",
                    "object": "chat.completion.chunk",
                    "created": _CREATED,
                    "model": model,
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
                self._write_chunk(b"data: " + _dumps(chunk) + b"\n\n")
                if self.fake.chunk_delay > 0:
                    self.fake._stopping.wait(self.fake.chunk_delay)
        except OSError:
            return  # the client went away

    def _hang(self) -> None:
        """Send nothing until the server stops, the client goes away or ``HANG_SECONDS`` pass."""
        self.close_connection = True
        deadline = time.monotonic() + HANG_SECONDS
        while time.monotonic() < deadline and not self.fake._stopping.wait(0.1):
            try:
                readable, _, _ = select.select([self.connection], [], [], 0)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return  # the client closed its end
            except (OSError, ValueError):
                return

    def _end_without_finish(self) -> None:
        """``data: [DONE]`` and a clean end of the body, but no chunk with a finish_reason."""
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        """Drop the connection mid-body: no finish_reason, no ``[DONE]``, no last chunk."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)


class FakeLLM:
    """A loopback OpenAI-compatible server on 127.0.0.1 in a daemon thread.

    ``reply`` fixes the answer text (``None`` echoes the last user message), ``chunk_delay``
    sleeps between streamed chunks, ``requests`` records every request (method, path,
    lowercased headers, JSON body) and ``script`` counts the ``flaky-…`` requests per model.
    """

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", verbose: bool = False) -> None:
        self.host = host
        self.port = port
        self.verbose = verbose
        self.reply: str | None = None
        # Per-request answer: called with the request's JSON body; a str replaces the answer,
        # None keeps the model's usual one (e.g. a review "model" that answers per file).
        self.reply_fn: Callable[[dict[str, Any]], str | None] | None = None
        self.chunk_delay: float = 0.0
        self.first_token_delay: float = 0.0
        self.words_per_chunk: int = WORDS_PER_CHUNK  # 1 streams like real APIs (a token each)
        self.error_message: str | None = None  # replaces the message of every error body
        # Scripted tool-call batches, one per request that offers tools (module docstring).
        self.tool_calls: list[list[dict[str, Any]]] = []
        self.tool_index_reuse = False  # Ollama: every call of a batch on index 0
        self.tool_text: str | None = None  # content streamed before a batch's calls
        # Scripted text answers, one per chat request (module docstring).
        self.replies: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.script: dict[str, int] = {}
        self.slots: int | None = None  # total_slots on GET /props; None: 404 (llama-cpp-python)
        self.interrupt_when_busy = False  # end a running stream when another request arrives
        self.peak_streams = 0
        self._streams = 0
        self._arrivals = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeLLM:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self, (self.host, self.port))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-llm-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with server.conn_lock:
            connections = list(server.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget recorded requests and flaky counters; back to echo mode without delay, the
        usual chunk size, no slots on /props and no interrupting."""
        with self._lock:
            self.requests.clear()
            self.script.clear()
        self.reply = None
        self.chunk_delay = 0.0
        self.first_token_delay = 0.0
        self.reply_fn = None
        self.error_message = None
        self.words_per_chunk = WORDS_PER_CHUNK
        self.slots = None
        self.interrupt_when_busy = False
        self.peak_streams = 0
        self.tool_calls = []
        self.tool_index_reuse = False
        self.tool_text = None
        self.replies = []

    # -- addresses -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeLLM is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # -- used by the handler ---------------------------------------------------------------

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)
            if entry["method"] == "POST" and entry["path"].endswith("/chat/completions"):
                self._arrivals += 1

    def _stream_started(self) -> int:
        """Count a stream in; its ticket is the number of chat requests seen before it."""
        with self._lock:
            self._streams += 1
            self.peak_streams = max(self.peak_streams, self._streams)
            return self._arrivals

    def _stream_ended(self) -> None:
        with self._lock:
            self._streams -= 1

    def _interrupted(self, ticket: int) -> bool:
        """Whether another chat request arrived since this stream started (and that ends it)."""
        with self._lock:
            return self.interrupt_when_busy and self._arrivals > ticket

    def _next_tool_batch(self) -> list[dict[str, Any]] | None:
        with self._lock:
            return self.tool_calls.pop(0) if self.tool_calls else None

    def _next_reply(self) -> str | None:
        with self._lock:
            return self.replies.pop(0) if self.replies else None

    def _bump(self, model: str) -> int:
        with self._lock:
            self.script[model] = self.script.get(model, 0) + 1
            return self.script[model]

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """The recorded ``POST …/chat/completions`` requests."""
        with self._lock:
            return [r for r in self.requests if r["path"].endswith("/chat/completions")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_llm",
        description="Serve a fake OpenAI-compatible API on 127.0.0.1 until interrupted.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free)")
    parser.add_argument("--reply", default=None, help="fixed answer text instead of echo")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)

    fake = FakeLLM(args.port, verbose=args.verbose)
    fake.reply = args.reply
    fake.chunk_delay = args.chunk_delay
    fake.start()
    print(fake.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(main())
