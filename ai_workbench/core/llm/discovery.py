"""The models that local servers offer right now (Ollama, LM Studio, any OpenAI-compatible one).

The workbench's model picker lists configured profiles and, next to them, what each *local*
endpoint reports: ``GET {api_base}/models`` (OpenAI-compatible: LM Studio, vLLM, llama.cpp,
Ollama's /v1) or Ollama's own ``GET /api/tags``. Only endpoints on this machine or a private
network are asked (never a cloud API, never with a key), each with a short timeout, all at once,
so an absent server costs a refused connection and a slow one at most ``timeout`` seconds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ai_workbench.core.llm.profiles import ResolvedProvider

__all__ = ["DiscoveredModel", "discover_models", "endpoints_to_ask", "server_slots"]

DEFAULT_TIMEOUT = 0.8


@dataclass(frozen=True, slots=True)
class DiscoveredModel:
    model: str  # litellm-style name to use, e.g. "ollama/qwen2.5-coder:7b"
    api_base: str
    source: str  # the profile name, or "command line"


@dataclass(frozen=True, slots=True)
class Endpoint:
    source: str
    api_base: str
    route: str  # "ollama", "lm_studio", "openai", ...


def endpoints_to_ask(settings: Any, extra: list[tuple[str, str, str]] = ()) -> list[Endpoint]:
    """Local endpoints of the configured profiles (plus ``extra`` (source, api_base, model))."""
    from ai_workbench.core.endpoints import is_local_url, route_of

    seen: set[str] = set()
    found: list[Endpoint] = []
    candidates = [(name, p.api_base, p.model) for name, p in settings.providers.items()]
    for source, api_base, model in [*extra, *candidates]:
        if not api_base or not is_local_url(api_base):
            continue
        if getattr(settings.providers.get(source), "api_key_env", None):
            continue  # a keyed profile: never send anything it did not ask for
        base = api_base.rstrip("/")
        if base in seen:
            continue
        seen.add(base)
        found.append(Endpoint(source, base, route_of(model or "openai/x")))
    return found


def _names(data: Any) -> list[str]:
    """Model ids from an OpenAI ``{"data": [{"id"}]}`` or Ollama ``{"models": [{"name"}]}``."""
    names: list[str] = []
    if isinstance(data, dict):
        for item in data.get("data") or []:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                names.append(item["id"])
        for item in data.get("models") or []:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                names.append(item["name"])
    return names


async def _ask(client: Any, endpoint: Endpoint) -> list[DiscoveredModel]:
    base = endpoint.api_base
    urls = [f"{base}/models"]
    if endpoint.route == "ollama":
        root = base[: -len("/v1")] if base.endswith("/v1") else base
        urls = [f"{root}/api/tags", f"{root}/v1/models"]
    for url in urls:
        try:
            response = await client.get(url)
        except Exception:
            continue
        if response.status_code != 200:
            continue
        try:
            names = _names(response.json())
        except ValueError:
            continue
        route = endpoint.route if endpoint.route in ("ollama", "lm_studio") else "openai"
        return [DiscoveredModel(f"{route}/{name}", base, endpoint.source) for name in names]
    return []


async def discover_models(
    endpoints: list[Endpoint], timeout: float = DEFAULT_TIMEOUT
) -> list[DiscoveredModel]:
    """Ask every endpoint at once; what answered, in endpoint order. Never raises."""
    if not endpoints:
        return []
    import httpx

    async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
        results = await asyncio.gather(
            *(_ask(client, e) for e in endpoints), return_exceptions=True
        )
    found: list[DiscoveredModel] = []
    for result in results:
        if isinstance(result, list):
            found.extend(result)
    return found


def _slot_count(data: Any) -> int | None:
    """``total_slots`` of llama.cpp's ``/props``, or the length of its ``/slots`` list."""
    if isinstance(data, dict):
        value = data.get("total_slots")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        return len(data)
    return None


async def server_slots(
    api_base: str, route: str = "openai", timeout: float = DEFAULT_TIMEOUT
) -> int | None:
    """How many requests a local server says it runs at once, or None when it does not say.

    llama.cpp's server reports ``total_slots`` on ``GET /props`` and lists its slots on
    ``GET /slots`` (next to ``/v1``); llama-cpp-python, LM Studio and vLLM answer neither, and
    Ollama keeps OLLAMA_NUM_PARALLEL to itself (not asked). Never raises.
    """
    if route in ("ollama", "ollama_chat"):
        return None
    import httpx

    base = api_base.rstrip("/")
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            for url in (f"{root}/props", f"{root}/slots"):
                try:
                    response = await client.get(url)
                    if response.status_code != 200:
                        continue
                    count = _slot_count(response.json())
                except (httpx.HTTPError, ValueError):
                    continue
                if count:
                    return count
    except Exception:
        return None
    return None


# A local server runs one request at a time unless it says otherwise: llama-cpp-python's
# server *interrupts* a running stream when another request waits, Ollama queues beyond
# OLLAMA_NUM_PARALLEL (which it does not report).
LOCAL_PARALLEL_DEFAULT = 1


async def parallel_limit(provider: ResolvedProvider, wanted: int) -> tuple[int, str]:
    """How many requests to send ``provider`` at once (at most ``wanted``), and why.

    The profile's ``parallel`` wins; a cloud API gets ``wanted``; a local server gets the slot
    count it reports (llama.cpp's server: ``total_slots`` on ``GET /props``, or ``GET /slots``),
    else 1. The reason is "" when nothing limited ``wanted``.
    """
    wanted = max(1, wanted)
    if provider.parallel:
        limit = min(wanted, provider.parallel)
        why = f"parallel = {provider.parallel} in provider '{provider.name}'"
        return limit, why if limit < wanted else ""
    if not provider.is_local:
        return wanted, ""
    slots = await server_slots(provider.endpoint, provider.route)  # one local GET: not cached
    if slots:
        limit = min(wanted, slots)
        why = f"the server at {provider.endpoint} reports {slots} slot(s)"
        return limit, why if limit < wanted else ""
    limit = min(wanted, LOCAL_PARALLEL_DEFAULT)
    return limit, (
        f"the local server at {provider.endpoint} does not report how many requests it runs "
        f"at once, so aiw sends {limit} at a time (set parallel = N in its provider profile)"
    )
