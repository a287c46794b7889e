"""Streaming chat completions from a resolved provider.

Two engines behind one interface:

* ``direct``: a small httpx client for OpenAI-compatible endpoints (OpenAI, Ollama, LM Studio,
  vLLM, DeepSeek, OpenRouter, ...). It imports in ~0.1 s, which is what lets a whole
  ``aiw ask`` finish before litellm (~3 s to import) would have loaded.
* ``litellm``: every other provider (Anthropic, Gemini, Bedrock, Vertex, Azure, ...), or all
  of them with ``engine = "litellm"``. Imported lazily, only when used.

Both map failures to :class:`ProviderError` with a kind, and 429/5xx are retried with bounded
backoff while nothing has been streamed yet. An answer is complete only when the server says
why it stopped (``finish_reason``): a stream that ends with ``[DONE]`` but no reason was
interrupted by the server (kind ``interrupted``, the partial text kept), and
``finish_reason: length`` (the token limit) is reported as :attr:`StreamResult.truncated`.
See docs/providers.md for the measurements.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ai_workbench.core.errors import RETRYABLE, ProviderError, advice_for
from ai_workbench.core.llm import structured
from ai_workbench.core.llm.profiles import OPENAI_COMPATIBLE, ResolvedProvider
from ai_workbench.core.llm.structured import OutputSchema
from ai_workbench.core.llm.tools import ToolCall, ToolCallAccumulator
from ai_workbench.core.sanitize import StreamSanitizer

Engine = Literal["auto", "direct", "litellm"]
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0


@dataclass
class StreamResult:
    """Filled in while a stream runs: what was said, usage, how it ended."""

    text: str = ""
    tokens_in: int | None = None
    tokens_out: int | None = None
    finish_reason: str | None = None
    engine: str = ""
    first_token_ms: int | None = None
    retries: int = 0
    notices: list[str] = field(default_factory=list)
    structured: str | None = None  # the response_format form the answer was asked with
    # The calls the model asked for in this stream (core/llm/tools.py), arguments parsed.
    tool_calls: list[ToolCall] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        """The model stopped at the token limit (``finish_reason: length``): the text is cut."""
        return self.finish_reason == "length"


def truncation_error(
    provider: ResolvedProvider, result: StreamResult, max_tokens: int | None = None
) -> ProviderError:
    """The error that reports an answer cut at the token limit (``finish_reason: length``)."""
    limit = (
        f"max_output_tokens = {max_tokens}"
        if max_tokens
        else f"the server's output limit; {result.tokens_out} tokens"
        if result.tokens_out
        else "the server's output limit"
    )
    return ProviderError(
        "truncated",
        f"{provider.label()}: the answer is truncated: it reached the token limit ({limit}) "
        "and stops mid-way; raise the limit or ask for a shorter answer",
        provider=provider.name,
        model=provider.model,
        partial=bool(result.text),
    )


def choose_engine(provider: ResolvedProvider, engine: Engine) -> Literal["direct", "litellm"]:
    if engine == "litellm":
        return "litellm"
    if provider.openai_compatible:
        return "direct"
    if engine == "direct":
        raise ProviderError(
            "config",
            f"{provider.label()}: engine 'direct' only speaks the OpenAI protocol "
            f'({", ".join(sorted(OPENAI_COMPATIBLE))}); set engine = "auto" or "litellm"',
            provider=provider.name,
            model=provider.model,
        )
    return "litellm"


async def stream_chat(
    provider: ResolvedProvider,
    messages: Sequence[dict[str, Any]],
    result: StreamResult,
    *,
    engine: Engine = "auto",
    timeout: float = 60.0,
    max_retries: int = 2,
    temperature: float | None = None,
    max_tokens: int | None = None,
    notice: Callable[[str], None] | None = None,
    first_token_timeout: float | None = None,
    schema: OutputSchema | None = None,
    tools: Sequence[dict[str, Any]] | None = None,
) -> AsyncIterator[str]:
    """Yield text deltas; retry 429/5xx with backoff while nothing has been yielded.

    With ``tools`` (OpenAI ``tools`` items) the model may ask for calls instead: they are put
    together from their streamed pieces into ``result.tool_calls`` (core/llm/tools.py); running
    them is the caller's job (:func:`ai_workbench.core.llm.tools.stream_with_tools`).

    The deltas are model text, so terminal control sequences are stripped from them (a sequence
    split across deltas is held back until it is complete): what is yielded, kept in
    ``result.text`` and saved can be printed safely.
    ``timeout`` bounds connecting and each gap between chunks; ``first_token_timeout`` (when
    longer) the wait for the first one, which on a CPU is mostly prompt evaluation.
    ``schema`` asks the server to constrain the answer to it (core/llm/structured.py); a
    server that refuses the field is asked again without it, and that is remembered.
    ``notice`` hears each retry as it is scheduled (before the backoff sleep)."""
    from ai_workbench.core.llm import speed

    chosen = choose_engine(provider, engine)
    result.engine = chosen
    attempt = 0
    started = time.perf_counter()
    first_wait = max(timeout, first_token_timeout or timeout)
    modes = structured.ladder(provider, schema)
    step = 0
    refused_before = structured.refusals(provider)
    while True:
        opener = _direct_stream if chosen == "direct" else _litellm_stream
        mode = modes[step] if step < len(modes) else None
        extra = structured.request_fields(mode, schema)
        result.structured = mode
        emitted = False
        sent_at = time.perf_counter()
        clean = StreamSanitizer()
        calls = ToolCallAccumulator()
        try:
            async for raw in opener(
                provider,
                messages,
                result,
                timeout,
                temperature,
                max_tokens,
                first_wait,
                extra,
                tools,
                calls,
            ):
                text = clean.feed(raw)
                if not text:
                    continue
                if not emitted:
                    emitted = True
                    if result.first_token_ms is None:
                        result.first_token_ms = int((time.perf_counter() - started) * 1000)
                        speed.record(
                            provider,
                            _prompt_estimate(messages),
                            int((time.perf_counter() - sent_at) * 1000),
                        )
                result.text += text
                yield text
            tail = clean.flush()
            if tail:
                result.text += tail
                yield tail
            result.tool_calls = calls.finish()
            return
        except ProviderError as exc:
            if not emitted and mode is not None and structured.refused(exc):
                step += 1
                structured.set_refusals(provider, refused_before + step)
                nxt = modes[step] if step < len(modes) else None
                line = f"{provider.label()}: the server refused response_format {mode}; asking " + (
                    f"with {nxt}" if nxt else "without it (answers are parsed tolerantly)"
                )
                result.notices.append(line)
                if notice is not None:
                    notice(line)
                continue
            if tools and not emitted and refuses_tools(exc):
                raise  # not worth a retry: the caller offers no tools next (agent/loop.py)
            if not emitted and step and mode is None and exc.kind == "bad_request":
                structured.set_refusals(provider, refused_before)  # not the format after all
            if emitted or exc.kind not in RETRYABLE or attempt >= max_retries:
                exc.partial = bool(result.text)
                raise
            backoff = BACKOFF_BASE * 2**attempt
            hinted = exc.retry_after
            delay = min(BACKOFF_CAP, max(0.1, hinted) if hinted is not None else backoff)
            attempt += 1
            result.retries = attempt
            line = (
                f"{provider.label()}: {exc.kind.replace('_', ' ')}; retry {attempt}/{max_retries} "
                f"in {delay:.1f}s"
            )
            result.notices.append(line)
            if notice is not None:
                notice(line)
            await asyncio.sleep(delay)


def refuses_tools(exc: ProviderError) -> bool:
    """Whether an error (before any text) reads as the server refusing the ``tools`` field:
    llama.cpp without ``--jinja`` answers 500 "tools param requires --jinja flag", others 400."""
    text = str(exc).lower()
    return exc.kind in {"bad_request", "server", "model"} and "tool" in text


def connection_options(settings: Any, provider: ResolvedProvider | None = None) -> dict[str, Any]:
    """:func:`stream_chat`'s engine, request timeout and retries from ``settings`` (a
    ``core.settings.Settings``); with ``provider``, also its wait for the first token."""
    options: dict[str, Any] = {
        "engine": settings.engine,
        "timeout": settings.request_timeout,
        "max_retries": settings.max_retries,
    }
    if provider is not None:
        from ai_workbench.core.llm.speed import first_token_timeout

        options["first_token_timeout"] = first_token_timeout(
            provider, settings.first_token_timeout, settings.request_timeout
        )
    return options


async def complete(
    provider: ResolvedProvider,
    messages: Sequence[dict[str, Any]],
    result: StreamResult,
    settings: Any,
    *,
    wait_first_token: bool = False,
    **options: Any,
) -> StreamResult:
    """The whole answer into ``result``: :func:`stream_chat` run to its end with the
    :func:`connection_options` of ``settings`` (and the provider's first-token wait when
    ``wait_first_token``) and ``options`` (temperature, max_tokens, schema, ...)."""
    connection = connection_options(settings, provider if wait_first_token else None)
    async for _ in stream_chat(provider, messages, result, **connection, **options):
        pass
    return result


def _prompt_estimate(messages: Sequence[dict[str, str]]) -> int:
    """Tokens in the prompt, roughly (4 characters a token), for the speed measurement."""
    return sum(len(str(m.get("content") or "")) for m in messages) // 4


# --- direct engine (httpx, OpenAI protocol) -----------------------------------------------


def _base_url(provider: ResolvedProvider) -> str:
    base = (provider.api_base or OPENAI_COMPATIBLE[provider.route]).rstrip("/")
    if provider.route in {"ollama", "ollama_chat"} and not base.endswith("/v1"):
        base += "/v1"
    return base


def _fail(
    provider: ResolvedProvider, kind: str, detail: str = "", retry_after: float | None = None
) -> ProviderError:
    message = advice_for(kind, provider.label(), provider.endpoint, detail)
    if kind == "auth":
        where = (
            f"the key in ${provider.api_key_env}"
            if provider.api_key_env
            else "that this endpoint needs no key, or add a provider profile with api_key_env"
        )
        message = f"{provider.label()}: authentication failed ({detail}); check {where}"
    return ProviderError(
        kind,
        message,
        provider=provider.name,
        model=provider.model,
        retry_after=retry_after,
    )


def _status_kind(status: int, body: str) -> str:
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "model"
    if status == 429:
        return "rate_limit"
    if status >= 500:
        return "server"
    if status in (400, 413, 422) and "model" in body.lower() and "not" in body.lower():
        return "model"
    return "bad_request"


def _error_detail(status: int, body: str) -> str:
    message = ""
    try:
        payload = json.loads(body)
        error = payload.get("error", payload)
        message = error.get("message", "") if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        message = body.strip().splitlines()[0] if body.strip() else ""
    message = " ".join(message.split())[:160]
    return f"HTTP {status}" + (f": {message}" if message else "")


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def tls_context() -> Any:
    """The TLS context httpx would make (certifi's CAs, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``),
    made once: loading the CA bundle costs ~70 ms, which every answer paid (a server answering
    many requests a second cannot)."""
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _tls_context(cafile: str | None, capath: str | None) -> Any:
    import httpx

    return httpx.create_ssl_context()  # reads the same two variables itself


async def _direct_stream(
    provider: ResolvedProvider,
    messages: Sequence[dict[str, Any]],
    result: StreamResult,
    timeout: float,
    temperature: float | None,
    max_tokens: int | None,
    first_wait: float | None = None,
    extra: dict[str, Any] | None = None,
    tools: Sequence[dict[str, Any]] | None = None,
    calls: ToolCallAccumulator | None = None,
) -> AsyncIterator[str]:
    import httpx

    body: dict[str, Any] = {
        "model": provider.bare_model,
        "messages": list(messages),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if temperature is not None:
        body["temperature"] = temperature
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    body.update(extra or {})
    first_wait = max(timeout, first_wait or timeout)
    if tools:
        body["tools"] = list(tools)
    headers = {"accept": "text/event-stream"}
    key = provider.api_key()
    if key:
        headers["authorization"] = f"Bearer {key}"
    url = _base_url(provider) + "/chat/completions"
    client_timeout = httpx.Timeout(first_wait, connect=min(timeout, 10.0))
    done = False
    got_headers = False
    try:
        async with (
            httpx.AsyncClient(timeout=client_timeout, verify=tls_context()) as client,
            client.stream("POST", url, json=body, headers=headers) as response,
        ):
            got_headers = True
            if response.status_code >= 400:
                text = (await response.aread()).decode("utf-8", "replace")
                kind = _status_kind(response.status_code, text)
                raise _fail(
                    provider,
                    kind,
                    _error_detail(response.status_code, text),
                    _retry_after(response.headers),
                )
            started = lambda: bool(result.text)  # noqa: E731 - the outer loop appends the text
            async for line in _paced(_lines(response), timeout, first_wait, started):
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    break
                for text in _parse_chunk(provider, data, result, calls):
                    yield text
    except ProviderError:
        raise
    except httpx.ConnectTimeout:
        raise _fail(provider, "timeout", "connecting") from None
    except _Silence as exc:
        raise _fail(provider, "timeout", str(exc)) from None
    except httpx.TimeoutException:
        raise _fail(provider, "timeout", _silence_detail(first_wait, False)) from None
    except httpx.ConnectError as exc:
        raise _fail(provider, "connection", _short(exc) or "connection refused") from None
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        if got_headers:
            raise _fail(provider, "stream_cut", _short(exc)) from None
        raise _fail(provider, "connection", _short(exc)) from None
    except httpx.HTTPError as exc:
        raise _fail(provider, "connection", _short(exc)) from None
    if result.finish_reason is None:
        if not done:
            raise _fail(provider, "stream_cut", "the connection closed before the end")
        # [DONE] without a finish_reason: the server ended the answer early on purpose
        # (llama-cpp-python does whenever another request waits), not a finished answer.
        raise _fail(provider, "interrupted", "[DONE] came without a finish_reason")


class _Silence(Exception):
    """The stream said nothing for longer than allowed (message: the detail)."""


def _silence_detail(seconds: float, started: bool) -> str:
    if started:
        return f"nothing received for {seconds:g}s between chunks (request_timeout)"
    return f"no first token within {seconds:g}s (first_token_timeout)"


async def _lines(response: Any) -> AsyncIterator[str]:
    async for line in response.aiter_lines():
        yield line


async def _paced(
    source: AsyncIterator[Any], timeout: float, first_wait: float, started: Callable[[], bool]
) -> AsyncIterator[Any]:
    """Items of ``source``, failing with :class:`_Silence` when one takes longer than
    ``first_wait`` before the first text and ``timeout`` after it."""
    iterator = aiter(source)
    while True:
        limit = timeout if started() else first_wait
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel (Ctrl-C,
            # a stopped agent run) that lands while the next line is already buffered.
            async with asyncio.timeout(limit):
                item = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise _Silence(_silence_detail(limit, started())) from None
        yield item


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def _parse_chunk(
    provider: ResolvedProvider,
    data: str,
    result: StreamResult,
    calls: ToolCallAccumulator | None = None,
) -> list[str]:
    try:
        chunk = json.loads(data)
    except ValueError:
        raise _fail(provider, "stream_cut", "malformed stream data") from None
    if not isinstance(chunk, dict):
        return []
    if "error" in chunk:
        error = chunk["error"]
        message = error.get("message", "") if isinstance(error, dict) else str(error)
        raise _fail(provider, "server", f"error in stream: {message[:160]}")
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        result.tokens_in = usage.get("prompt_tokens", result.tokens_in)
        result.tokens_out = usage.get("completion_tokens", result.tokens_out)
    texts: list[str] = []
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if content:
            texts.append(content)
        tool_calls = delta.get("tool_calls")
        if tool_calls and calls is not None and isinstance(tool_calls, list):
            calls.feed(tool_calls)
        if choice.get("finish_reason"):
            result.finish_reason = choice["finish_reason"]
    return texts


# --- litellm engine -----------------------------------------------------------------------

_LITELLM_KINDS = {
    "AuthenticationError": "auth",
    "PermissionDeniedError": "auth",
    "NotFoundError": "model",
    "RateLimitError": "rate_limit",
    "InternalServerError": "server",
    "ServiceUnavailableError": "server",
    "BadGatewayError": "server",
    "Timeout": "timeout",
    "APITimeoutError": "timeout",
    "APIConnectionError": "connection",
    "ContextWindowExceededError": "bad_request",
    "BadRequestError": "bad_request",
    "UnprocessableEntityError": "bad_request",
    "MidStreamFallbackError": "stream_cut",
}


def import_litellm() -> Any:
    """Import litellm with the local cost map (it would otherwise fetch one over the net on
    import, offline mode or not; aiw reads prices itself, core/llm/costs.py)."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ.setdefault("LITELLM_LOG", "CRITICAL")
    import litellm

    litellm.suppress_debug_info = True
    litellm.drop_params = True
    return litellm


def _litellm_kind(exc: BaseException) -> str:
    text = str(exc).lower()
    # litellm reports a refused connection on the openai route as a 500 "Connection error."
    if "connection error" in text or "connection refused" in text or "cannot connect" in text:
        return "connection"
    for cls in type(exc).__mro__:
        kind = _LITELLM_KINDS.get(cls.__name__)
        if kind:
            if kind == "connection" and "timed out" in str(exc).lower():
                return "timeout"
            return kind
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return _status_kind(status, str(exc))
    return "unknown"


def _litellm_detail(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    message = " ".join(str(getattr(exc, "message", exc)).split())
    # litellm prefixes messages with its own class path; keep the provider's words.
    for marker in ("Exception - ", "Error - "):
        if marker in message:
            message = message.split(marker, 1)[1]
    message = message[:160]
    return f"HTTP {status}: {message}" if isinstance(status, int) else message


async def _litellm_stream(
    provider: ResolvedProvider,
    messages: Sequence[dict[str, Any]],
    result: StreamResult,
    timeout: float,
    temperature: float | None,
    max_tokens: int | None,
    first_wait: float | None = None,
    extra: dict[str, Any] | None = None,
    tools: Sequence[dict[str, Any]] | None = None,
    calls: ToolCallAccumulator | None = None,
) -> AsyncIterator[str]:
    litellm = await asyncio.to_thread(import_litellm)
    first_wait = max(timeout, first_wait or timeout)
    kwargs: dict[str, Any] = {
        "model": provider.model,
        "messages": list(messages),
        "stream": True,
        "timeout": first_wait,
        "num_retries": 0,
        "max_retries": 0,
        "stream_options": {"include_usage": True},
    }
    if provider.api_base:
        kwargs["api_base"] = provider.api_base
    key = provider.api_key()
    if key:
        kwargs["api_key"] = key
    elif provider.api_base:
        # A profile without api_key_env gets no key: without one litellm would read the
        # route's conventional variable (ANTHROPIC_API_KEY ...) and send it to this endpoint.
        kwargs["api_key"] = "sk-no-key-required"
    if temperature is not None:
        kwargs["temperature"] = temperature
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    kwargs.update(extra or {})
    if tools:
        kwargs["tools"] = list(tools)
    try:
        response = await litellm.acompletion(**kwargs)
        async for chunk in _paced(response, timeout, first_wait, lambda: bool(result.text)):
            usage = getattr(chunk, "usage", None)
            if usage is not None:
                result.tokens_in = getattr(usage, "prompt_tokens", None) or result.tokens_in
                result.tokens_out = getattr(usage, "completion_tokens", None) or result.tokens_out
            for choice in getattr(chunk, "choices", None) or []:
                delta = getattr(choice, "delta", None)
                content = getattr(delta, "content", None) if delta is not None else None
                if content:
                    yield content
                deltas = getattr(delta, "tool_calls", None) if delta is not None else None
                if deltas and calls is not None:
                    calls.feed([_delta_dict(item) for item in deltas])
                if getattr(choice, "finish_reason", None):
                    result.finish_reason = choice.finish_reason
    except (asyncio.CancelledError, GeneratorExit):
        raise
    except _Silence as exc:
        raise _fail(provider, "timeout", str(exc)) from None
    except Exception as exc:
        kind = _litellm_kind(exc)
        if kind in {"connection", "unknown"} and result.text:
            kind = "stream_cut"
        if result.text and "finish_reason" in str(exc).lower():
            # litellm's "stream ended before a finish_reason": the stream closed cleanly
            # ([DONE]) without a reason, i.e. the server interrupted it (best effort: wording)
            kind = "interrupted"
        raise _fail(provider, kind, _litellm_detail(exc), _litellm_retry_after(exc)) from None
    if result.finish_reason is None and not (calls and calls.calls):
        if not result.text:
            raise _fail(provider, "stream_cut", "the stream ended without an answer")
        raise _fail(provider, "interrupted", "the stream ended without a finish_reason")


def _delta_dict(item: Any) -> dict[str, Any]:
    """A litellm tool-call delta (an object, or already a dict) in OpenAI's dict shape."""
    if isinstance(item, dict):
        return item
    function = getattr(item, "function", None)
    return {
        "index": getattr(item, "index", None),
        "id": getattr(item, "id", None),
        "function": {
            "name": getattr(function, "name", None),
            "arguments": getattr(function, "arguments", None),
        },
    }


def _litellm_retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return _retry_after(headers) if headers is not None else None
