"""Structured output: ask the server itself to keep an answer to a JSON schema.

Small models break JSON often (quotes and ``//`` comments inside code strings); a server that
constrains decoding to a schema does not. Each profile says how to ask
(``structured_output``):

``auto`` (default)
    OpenAI-compatible routes (OpenAI, Ollama's /v1, LM Studio, vLLM, llama.cpp, ...) get
    ``response_format: {"type": "json_schema", ...}``; when the server refuses that, nothing:
    the caller's tolerant parsing (json-repair) is the fallback. What an endpoint refused is
    remembered while the process runs. Other routes (Anthropic, Gemini, ...) get nothing.
    auto does not step down to llama-cpp-python's ``{"type": "json_object", "schema": ...}``
    grammar: measured with Qwen2.5-Coder-1.5B on that server (bench/quality, 12 seeded bugs),
    the grammar made every review reply parse but emptied it (bugs named 0/12, against 7/12
    with no response_format and json-repair, none lost to parsing either way).
``json_schema`` / ``json_object``
    only that form; refused, the request is sent once more without it.
``off``
    never.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ai_workbench.core.errors import ProviderError
from ai_workbench.core.llm.profiles import ResolvedProvider

MODES = ("json_schema", "json_object")
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "grammar")
# endpoint|model -> how many modes of its ladder were refused (in-process memory)
_REFUSED: dict[str, int] = {}


@dataclass(frozen=True)
class OutputSchema:
    """A JSON schema for an answer, with a short name (OpenAI requires one)."""

    name: str
    schema: dict[str, Any]


def endpoint_key(provider: ResolvedProvider) -> str:
    return f"{provider.endpoint}|{provider.bare_model}"


def ladder(provider: ResolvedProvider, schema: OutputSchema | None) -> list[str]:
    """The forms to try for this provider, best first (empty: send no response_format)."""
    if schema is None:
        return []
    setting = provider.structured_output
    if setting == "off":
        return []
    if setting in MODES:
        modes = [setting]
    elif provider.openai_compatible:
        modes = ["json_schema"]  # not json_object + schema: see the module docstring
    else:
        modes = []
    return modes[_REFUSED.get(endpoint_key(provider), 0) :]


def request_fields(mode: str | None, schema: OutputSchema | None) -> dict[str, Any]:
    """The request body fields for ``mode`` (an empty dict for none)."""
    if mode is None or schema is None:
        return {}
    if mode == "json_schema":
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": schema.name, "schema": schema.schema},
            }
        }
    return {"response_format": {"type": "json_object", "schema": schema.schema}}


def refused(exc: ProviderError) -> bool:
    """Whether an error (before any text) reads as the server refusing response_format.

    OpenAI and vLLM answer 400; llama-cpp-python answers 500 with a validation message naming
    ``response_format``; Ollama 400. A 400 counts whatever it says (the field is the one
    thing this request adds): the caller retries without it once and restores the memory
    when that fails the same way."""
    if exc.kind == "bad_request":
        return True
    text = str(exc).lower()
    return exc.kind in {"server", "model"} and any(word in text for word in _FORMAT_WORDS)


def refusals(provider: ResolvedProvider) -> int:
    """How many forms of its ladder this endpoint refused so far in this process."""
    return _REFUSED.get(endpoint_key(provider), 0)


def set_refusals(provider: ResolvedProvider, count: int) -> None:
    if count <= 0:
        _REFUSED.pop(endpoint_key(provider), None)
    else:
        _REFUSED[endpoint_key(provider)] = count


def reset_memory() -> None:
    """Forget every refusal (tests, and a workbench that switched servers)."""
    _REFUSED.clear()
