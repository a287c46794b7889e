"""Provider profiles: which model to call, where, with which key, and whether it is allowed.

Resolution turns settings (+ command-line choices) into an ordered chain of
:class:`ResolvedProvider`; :mod:`ai_workbench.core.llm.engines` streams from them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ai_workbench.core.endpoints import (  # noqa: F401  (re-exported)
    LOCAL_HOSTNAMES,
    LOCAL_ROUTES,
    LOCAL_SUFFIXES,
    is_local_url,
    is_loopback_url,
    route_of,
)
from ai_workbench.core.errors import ProviderError
from ai_workbench.core.settings import ProviderProfile, Settings

# Routes whose servers speak the OpenAI chat-completions protocol, with their default
# endpoint. The built-in client handles these; litellm handles every other route.
OPENAI_COMPATIBLE: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "ollama": "http://127.0.0.1:11434/v1",
    "ollama_chat": "http://127.0.0.1:11434/v1",
    "lm_studio": "http://127.0.0.1:1234/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "groq": "https://api.groq.com/openai/v1",
    "mistral": "https://api.mistral.ai/v1",
    "xai": "https://api.x.ai/v1",
    "hosted_vllm": "http://127.0.0.1:8000/v1",
}

# Context windows of common models (tokens); profiles may override with context_window.
CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-4o": 128_000,
    "gpt-4.1": 1_000_000,
    "gpt-5": 400_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "claude": 200_000,
    "gemini": 1_000_000,
    "deepseek": 64_000,
    "llama3": 128_000,
    "qwen": 32_000,
    "mistral": 32_000,
}
DEFAULT_CONTEXT_WINDOW = 8_192


@dataclass(frozen=True)
class ResolvedProvider:
    """One concrete way to reach a model."""

    name: str
    model: str  # litellm-style "route/name"
    api_base: str | None
    api_key_env: str | None
    is_local: bool
    context_window: int
    temperature: float | None = None
    structured_output: str = "auto"  # auto | json_schema | json_object | off
    prompt_tokens_per_second: float | None = None
    first_token_timeout: float | None = None
    parallel: int | None = None  # requests the server runs at once, from the profile
    supports_tools: str | bool = "auto"  # tool calls in the OpenAI format: auto | True | False

    @property
    def route(self) -> str:
        return route_of(self.model)

    @property
    def bare_model(self) -> str:
        return self.model.split("/", 1)[1] if "/" in self.model else self.model

    @property
    def openai_compatible(self) -> bool:
        return self.route in OPENAI_COMPATIBLE

    @property
    def endpoint(self) -> str:
        """The base URL requests go to (for messages and the offline check)."""
        if self.api_base:
            return self.api_base.rstrip("/")
        return OPENAI_COMPATIBLE.get(self.route, f"{self.route} cloud API")

    def api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        return os.environ.get(self.api_key_env) or None

    def label(self) -> str:
        return f"provider '{self.name}' ({self.model})"


def _host_of(url: str) -> str:
    return urlsplit(url if "://" in url else f"http://{url}").netloc or url


def offline_refusal(setting: str, endpoint: str, what: str = "it") -> str:
    """The one line that refuses ``setting`` (pointing at ``endpoint``) in offline mode."""
    return (
        f"{setting} = {endpoint}: {what} is not on this machine or a private network, and "
        "offline mode is on (offline = true or AIW_OFFLINE=1); nothing was sent. Use a local "
        "endpoint or turn offline mode off"
    )


def _is_local(profile: ProviderProfile) -> bool:
    if profile.local is not None:
        return profile.local
    if profile.api_base:
        return is_local_url(profile.api_base)
    return route_of(profile.model) in LOCAL_ROUTES


def context_window_for(model: str, override: int | None = None) -> int:
    if override:
        return override
    bare = model.split("/", 1)[-1].lower()
    best = 0
    window = DEFAULT_CONTEXT_WINDOW
    for prefix, size in CONTEXT_WINDOWS.items():
        if bare.startswith(prefix) and len(prefix) > best:
            best, window = len(prefix), size
    return window


def _resolve_profile(name: str, profile: ProviderProfile) -> ResolvedProvider:
    return ResolvedProvider(
        name=name,
        model=profile.model,
        api_base=profile.api_base,
        api_key_env=profile.api_key_env,
        is_local=_is_local(profile),
        context_window=context_window_for(profile.model, profile.context_window),
        temperature=profile.temperature,
        structured_output=profile.structured_output,
        prompt_tokens_per_second=profile.prompt_tokens_per_second,
        first_token_timeout=profile.first_token_timeout,
        parallel=profile.parallel,
        supports_tools=profile.supports_tools,
    )


def resolve_chain(
    settings: Settings,
    *,
    model: str | None = None,
    api_base: str | None = None,
    provider: str | None = None,
) -> list[ResolvedProvider]:
    """The ordered providers to try. An explicit choice is tried alone; otherwise the
    default then the fallback chain (cloud entries only when allowed)."""
    profiles = settings.providers
    if provider is not None:
        if provider not in profiles:
            raise ProviderError(
                "config",
                f"unknown provider '{provider}'; configured: {', '.join(sorted(profiles))} "
                "(add one under [providers.NAME] in your config)",
            )
        chosen = _resolve_profile(provider, profiles[provider])
        return [_with_overrides(chosen, model, api_base)]
    if model is not None:
        if model in profiles and api_base is None:
            return [_resolve_profile(model, profiles[model])]
        adhoc = ProviderProfile(
            model=model if "/" in model else f"openai/{model}", api_base=api_base
        )
        key_env = _default_key_env(adhoc, profiles)
        return [
            ResolvedProvider(
                name=route_of(adhoc.model) if api_base is None else _host_of(api_base),
                model=adhoc.model,
                api_base=api_base,
                api_key_env=key_env,
                is_local=_is_local(adhoc),
                context_window=context_window_for(adhoc.model),
            )
        ]
    if api_base is not None:
        base = _resolve_profile(settings.default_provider, profiles[settings.default_provider])
        return [_with_overrides(base, None, api_base)]

    names = [settings.default_provider, *settings.fallback]
    chain: list[ResolvedProvider] = []
    for index, name in enumerate(dict.fromkeys(names)):
        if name not in profiles:
            raise ProviderError("config", f"fallback names unknown provider '{name}'")
        resolved = _resolve_profile(name, profiles[name])
        if index > 0 and not resolved.is_local and not settings.allow_cloud_fallback:
            continue
        chain.append(resolved)
    return chain


def _with_overrides(
    base: ResolvedProvider, model: str | None, api_base: str | None
) -> ResolvedProvider:
    if model is None and api_base is None:
        return base
    new_model = base.model if model is None else (model if "/" in model else f"openai/{model}")
    new_base = api_base if api_base is not None else base.api_base
    profile = ProviderProfile(model=new_model, api_base=new_base)
    # Never send a configured key to an endpoint the profile did not name.
    key_env = base.api_key_env if api_base is None else None
    return ResolvedProvider(
        name=base.name,
        model=new_model,
        api_base=new_base,
        api_key_env=key_env,
        is_local=_is_local(profile),
        context_window=context_window_for(new_model),
        temperature=base.temperature,
        structured_output=base.structured_output,
        prompt_tokens_per_second=base.prompt_tokens_per_second if model is None else None,
        first_token_timeout=base.first_token_timeout,
        parallel=base.parallel if api_base is None else None,
        supports_tools=base.supports_tools if model is None else "auto",
    )


def _default_key_env(adhoc: ProviderProfile, profiles: dict[str, ProviderProfile]) -> str | None:
    """For `--model anthropic/x` without an endpoint, use the key env of a profile on the
    same route (or the conventional ROUTE_API_KEY). Never for a custom endpoint."""
    if adhoc.api_base is not None:
        return None
    route = route_of(adhoc.model)
    for profile in profiles.values():
        if route_of(profile.model) == route and profile.api_key_env and not profile.api_base:
            return profile.api_key_env
    if route in LOCAL_ROUTES:
        return None
    return f"{route.upper()}_API_KEY"


def check_allowed(
    provider: ResolvedProvider, settings: Settings, notice: Callable[[str], None] | None = None
) -> None:
    """Refuse a provider that offline mode or a missing key rules out, before any request.

    When the project's ``.aiw.toml`` chose this endpoint, say so once (``notice``, else
    stderr): see :mod:`ai_workbench.core.llm.redirects`."""
    if settings.offline and not provider.is_local:
        raise ProviderError(
            "offline",
            f"{provider.label()} at {provider.endpoint} is not on this machine or a private "
            "network, and offline mode is on (offline = true or AIW_OFFLINE=1); "
            "use a local provider (--provider ollama) or turn offline mode off",
            provider=provider.name,
            model=provider.model,
        )
    if provider.api_key_env and not provider.api_key() and not provider.is_local:
        raise ProviderError(
            "auth",
            f"{provider.label()}: the environment variable {provider.api_key_env} is not set; "
            f"export {provider.api_key_env}=<your key> or choose another provider",
            provider=provider.name,
            model=provider.model,
        )
    from ai_workbench.core.llm.redirects import announce_project_endpoint

    announce_project_endpoint(
        settings,
        provider.endpoint,
        notice,
        resolve_profile=_resolve_profile,
        resolve_chain=resolve_chain,
    )
