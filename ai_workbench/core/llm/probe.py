"""What can answer right now, and what to do when nothing does (the first-run service).

``probe(settings)`` asks every local server aiw knows about (Ollama at :11434, LM Studio at
:1234, the common llama.cpp and vLLM ports, and every configured local OpenAI-compatible
endpoint) what models it serves, each with a short timeout and all at once, and checks which
cloud providers have their key's environment variable set (present or absent, never the
value). From that it builds the ways forward: the exact command that starts a local server
(and whether its binary is installed but not running), which variable to export for a cloud
provider, or any OpenAI-compatible URL.

``check_connection`` sends one real, tiny chat request with a short timeout, and
``save_provider`` writes a working choice to the user config (the same writer as
``aiw config set``). The workbench's welcome view, ``aiw models`` and ``aiw doctor`` call these;
nothing here prints.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ai_workbench.core.llm.discovery import _names

__all__ = [
    "KNOWN_SERVERS",
    "ConnectionCheck",
    "KeyStatus",
    "ProbeReport",
    "ProfileStatus",
    "ServerProbe",
    "Way",
    "check_connection",
    "probe",
    "profile_name_for",
    "save_provider",
    "with_choice",
]

DEFAULT_TIMEOUT = 0.8
TEST_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class KnownServer:
    name: str
    api_base: str  # OpenAI-compatible base (…/v1)
    route: str  # litellm route for models found there
    binary: str  # the program that starts it
    start: str  # the exact command that starts it
    install: str  # where to get it


KNOWN_SERVERS: tuple[KnownServer, ...] = (
    KnownServer(
        "Ollama",
        "http://127.0.0.1:11434/v1",
        "ollama",
        "ollama",
        "ollama serve",
        "https://ollama.com/download",
    ),
    KnownServer(
        "LM Studio",
        "http://127.0.0.1:1234/v1",
        "lm_studio",
        "lms",
        "lms server start",
        "https://lmstudio.ai (then load a model and start the server in the Developer tab)",
    ),
    KnownServer(
        "llama.cpp server",
        "http://127.0.0.1:8080/v1",
        "openai",
        "llama-server",
        "llama-server -m MODEL.gguf --port 8080",
        "https://github.com/ggml-org/llama.cpp",
    ),
    KnownServer(
        "vLLM",
        "http://127.0.0.1:8000/v1",
        "hosted_vllm",
        "vllm",
        "vllm serve MODEL --port 8000",
        "https://docs.vllm.ai",
    ),
)


@dataclass(slots=True)
class ServerProbe:
    """One local endpoint that was asked for its models."""

    name: str  # "Ollama", or the profile name for a configured endpoint
    api_base: str
    route: str
    reachable: bool
    reason: str  # "3 models", "connection refused", "timed out after 0.8s", "HTTP 404", ...
    models: list[str] = field(default_factory=list)  # litellm-style names, e.g. ollama/qwen:1.5b
    binary: str | None = None  # path of the program that starts it, when installed
    start: str | None = None  # the command that starts it
    install: str | None = None
    latency_ms: int | None = None


@dataclass(slots=True)
class KeyStatus:
    """A cloud provider profile and whether its key's variable is set (never the value)."""

    provider: str
    model: str
    env: str
    present: bool


@dataclass(slots=True)
class ProfileStatus:
    """A configured provider profile: can it be used now, and why (not)."""

    name: str
    model: str
    endpoint: str
    local: bool
    role: str  # "default", "fallback 1", ... or ""
    usable: bool
    reason: str
    key_env: str | None = None
    key_present: bool | None = None
    kind: str | None = None  # why not usable, as a ProviderError kind (auth, connection, ...)


@dataclass(slots=True)
class Way:
    """One way forward: a title, why, and the exact commands."""

    kind: Literal["use", "local", "cloud", "url"]
    title: str
    detail: str
    commands: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ProbeReport:
    servers: list[ServerProbe]
    keys: list[KeyStatus]
    profiles: list[ProfileStatus]
    ways: list[Way]
    seconds: float

    @property
    def chain_usable(self) -> bool:
        """Whether some provider of the default chain (default, then fallback) can answer."""
        return any(p.usable for p in self.profiles if p.role)

    @property
    def models(self) -> list[tuple[str, str]]:
        """(model, api_base) for everything local servers serve now."""
        return [(m, s.api_base) for s in self.servers if s.reachable for m in s.models]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["chain_usable"] = self.chain_usable
        return data


# --- asking local servers ---------------------------------------------------------------------


def _openai_base(api_base: str, route: str) -> str:
    base = api_base.rstrip("/")
    if route in ("ollama", "ollama_chat") and not base.endswith("/v1"):
        base += "/v1"
    return base


async def _ask_server(client: Any, probe: ServerProbe, timeout: float) -> None:
    import httpx

    base = _openai_base(probe.api_base, probe.route)
    urls = [f"{base}/models"]
    if probe.route in ("ollama", "ollama_chat"):
        urls = [f"{base.removesuffix('/v1')}/api/tags", f"{base}/models"]
    started = time.perf_counter()
    reason = ""
    for url in urls:
        try:
            response = await client.get(url)
        except httpx.ConnectError as exc:
            reason = _connect_reason(exc)
            break  # the next URL is on the same host and port
        except httpx.TimeoutException:
            reason = f"no answer within {timeout:g}s"
            break
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}"[:120]
            continue
        if response.status_code != 200:
            reason = f"HTTP {response.status_code} from {url}"
            continue
        try:
            names = _names(response.json())
        except ValueError:
            reason = f"{url} did not answer with JSON (another program on this port?)"
            continue
        route = probe.route if probe.route in ("ollama", "lm_studio", "hosted_vllm") else "openai"
        probe.reachable = True
        probe.models = [f"{route}/{name}" for name in names]
        probe.latency_ms = int((time.perf_counter() - started) * 1000)
        count = len(names)
        probe.reason = f"{count} model{'s' if count != 1 else ''}" if names else "serves no model"
        return
    probe.reason = reason or "no answer"


def _connect_reason(exc: BaseException) -> str:
    causes: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(causes) < 6:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused (nothing listens there)"
    text = " ".join(str(c) for c in causes).lower()
    if "refused" in text or "errno 111" in text:
        return "connection refused (nothing listens there)"
    if "name or service" in text or "nodename" in text or "resolve" in text:
        return "host name not found"
    return f"cannot connect ({str(exc)[:80]})"


def _local_candidates(settings: Any) -> list[ServerProbe]:
    """The known local servers, plus every keyless local endpoint the config names.

    Ollama and LM Studio are asked where their profiles point (the bundled ``ollama`` and
    ``lmstudio`` profiles, or any keyless local profile on their route), else at their
    default ports.
    """
    from ai_workbench.core.llm.profiles import is_local_url, route_of

    profiles = getattr(settings, "providers", {})
    keyless: list[tuple[str, str, str]] = []  # (profile, route, openai base)
    for name, profile in profiles.items():
        if not profile.api_base or profile.api_key_env or not is_local_url(profile.api_base):
            continue  # never send anything to a keyed or remote endpoint unasked
        route = route_of(profile.model)
        keyless.append((name, route, _openai_base(profile.api_base, route)))

    found: list[ServerProbe] = []
    seen: set[str] = set()
    for known in KNOWN_SERVERS:
        routes = {"ollama", "ollama_chat"} if known.route == "ollama" else {known.route}
        bases = [b for _, r, b in keyless if r in routes] if known.route != "openai" else []
        base = bases[0] if bases else known.api_base
        if base in seen:
            continue
        seen.add(base)
        found.append(
            ServerProbe(
                known.name,
                base,
                known.route,
                reachable=False,
                reason="",
                binary=shutil.which(known.binary),
                start=known.start,
                install=known.install,
            )
        )
    for name, route, base in keyless:
        if base in seen:
            continue
        seen.add(base)
        found.append(ServerProbe(name, base, route, reachable=False, reason=""))
    return found


# --- profiles and keys ------------------------------------------------------------------------


def _key_statuses(settings: Any) -> list[KeyStatus]:
    keys = []
    for name, profile in sorted(settings.providers.items()):
        if profile.api_key_env:
            present = bool(os.environ.get(profile.api_key_env))
            keys.append(KeyStatus(name, profile.model, profile.api_key_env, present))
    return keys


def _roles(settings: Any) -> dict[str, str]:
    roles = {settings.default_provider: "default"}
    for name in settings.fallback:
        roles.setdefault(name, f"fallback {len(roles)}")
    return roles


def _profile_statuses(settings: Any, servers: list[ServerProbe]) -> list[ProfileStatus]:
    from ai_workbench.core.llm.profiles import resolve_chain

    by_base = {s.api_base: s for s in servers}
    roles = _roles(settings)
    rows: list[ProfileStatus] = []
    ranked = list(roles)
    order = sorted(settings.providers, key=lambda n: (ranked.index(n) if n in roles else 99, n))
    for name in order:
        resolved = resolve_chain(settings, provider=name)[0]
        role = roles.get(name, "")
        status = ProfileStatus(
            name=name,
            model=resolved.model,
            endpoint=resolved.endpoint,
            local=resolved.is_local,
            role=role,
            usable=False,
            reason="",
            key_env=resolved.api_key_env,
            key_present=bool(resolved.api_key()) if resolved.api_key_env else None,
        )
        if settings.offline and not resolved.is_local:
            status.reason = "refused: offline mode is on"
            status.kind = "offline"
        elif resolved.api_key_env and not resolved.api_key() and not resolved.is_local:
            status.reason = f"${resolved.api_key_env} is not set"
            status.kind = "auth"
        elif not resolved.is_local:
            status.usable = True
            status.reason = f"${resolved.api_key_env} is set (cloud; not contacted)"
            if role.startswith("fallback") and not settings.allow_cloud_fallback:
                status.usable = False
                status.kind = "offline"
                status.reason += "; skipped as a fallback (allow_cloud_fallback = false)"
        else:
            server = by_base.get(_openai_base(resolved.endpoint, resolved.route))
            if server is None:
                status.usable = True
                status.reason = "a keyed local endpoint (not contacted)"
            elif not server.reachable:
                status.reason = f"{server.name}: {server.reason}"
                status.kind = "connection"
            elif server.models and resolved.model not in _aliases(server.models, resolved):
                have = ", ".join(m.split("/", 1)[1] for m in server.models[:4])
                status.reason = f"{server.name} answers but does not serve {resolved.bare_model}"
                status.reason += f" (it has: {have})" if have else " (it has no model)"
                status.kind = "model"
            else:
                status.usable = True
                status.reason = f"{server.name} answers ({server.latency_ms} ms)"
        rows.append(status)
    return rows


def _aliases(models: list[str], resolved: Any) -> set[str]:
    """The names under which ``resolved`` counts as served (Ollama adds ``:latest``)."""
    names = set()
    for model in models:
        bare = model.split("/", 1)[1] if "/" in model else model
        names.add(f"{resolved.route}/{bare}")
        if bare.endswith(":latest"):
            names.add(f"{resolved.route}/{bare.removesuffix(':latest')}")
    # LM Studio's placeholder name in the bundled profile means "whatever is loaded".
    if resolved.route == "lm_studio" and resolved.bare_model == "local-model" and models:
        names.add(resolved.model)
    return names


# --- ways forward -----------------------------------------------------------------------------


def _ways(settings: Any, servers: list[ServerProbe], keys: list[KeyStatus]) -> list[Way]:
    ways: list[Way] = []
    for server in servers:
        if server.reachable and server.models:
            model = server.models[0]
            name = _profile_name(settings, server)
            ways.append(
                Way(
                    "use",
                    f"Use {model} from {server.name}",
                    f"{server.name} at {server.api_base} answers and serves "
                    + ", ".join(m.split("/", 1)[1] for m in server.models[:6]),
                    _save_commands(name, model, server.api_base),
                )
            )
    ollama = next((s for s in servers if s.name == "Ollama"), None)
    if ollama is not None and not ollama.reachable:
        if ollama.binary:
            detail = (
                f"the ollama program is installed ({ollama.binary}) but not running; start it "
                "in another terminal, and pull a small model once"
            )
        else:
            detail = f"Ollama is not installed; get it from {ollama.install}, then"
        ways.append(
            Way(
                "local",
                "Start Ollama (local, private, free)",
                detail,
                ["ollama serve", "ollama pull qwen2.5-coder:1.5b"],
            )
        )
    elif ollama is not None and ollama.reachable and not ollama.models:
        ways.append(
            Way(
                "local",
                "Pull a model into Ollama",
                "Ollama is running but serves no model yet",
                ["ollama pull qwen2.5-coder:1.5b"],
            )
        )
    lms = next((s for s in servers if s.name == "LM Studio"), None)
    if lms is not None and not lms.reachable and lms.binary:
        ways.append(
            Way(
                "local",
                "Start LM Studio's server",
                f"LM Studio's command line is installed ({lms.binary}) but its server is not "
                "running; load a model, then",
                [lms.start or "lms server start"],
            )
        )
    for key in keys:
        if key.present:
            ways.append(
                Way(
                    "cloud",
                    f"Use {key.provider} ({key.model})",
                    f"${key.env} is set; this sends your prompts to {key.provider}",
                    [f"aiw config set default_provider {key.provider}"],
                )
            )
        else:
            ways.append(
                Way(
                    "cloud",
                    f"Use {key.provider} ({key.model})",
                    f"${key.env} is not set; sends your prompts to {key.provider}'s cloud",
                    [
                        f"export {key.env}=<your key>",
                        f"aiw config set default_provider {key.provider}",
                    ],
                )
            )
    ways.append(
        Way(
            "url",
            "Any OpenAI-compatible server",
            "vLLM, llama.cpp, LocalAI, a proxy, or a server on another machine: its URL "
            "(ending in /v1) and the model name it serves",
            _save_commands("custom", "openai/MODEL", "http://HOST:PORT/v1"),
        )
    )
    return ways


def _profile_name(settings: Any, server: ServerProbe) -> str:
    for name, profile in settings.providers.items():
        if profile.api_base and _openai_base(profile.api_base, server.route) == server.api_base:
            return name
    return server.name.lower().replace(" ", "").replace(".", "")


def profile_name_for(settings: Any, server: ServerProbe) -> str:
    """The profile a model of ``server`` is saved under: the one pointing there, else the
    server's name (``ollama``, ``lmstudio``, ...)."""
    return _profile_name(settings, server)


def _save_commands(name: str, model: str, api_base: str) -> list[str]:
    return [
        f"aiw config set providers.{name}.model {model}",
        f"aiw config set providers.{name}.api_base {api_base}",
        f"aiw config set default_provider {name}",
    ]


def with_choice(
    settings: Any,
    *,
    model: str | None = None,
    api_base: str | None = None,
    provider: str | None = None,
) -> Any:
    """A copy of ``settings`` whose default chain is what ``--model`` / ``--api-base`` /
    ``--provider`` chose (the chain a session started with those flags uses), so that
    :func:`probe` judges that choice rather than the configured default."""
    from ai_workbench.core.llm.profiles import _default_key_env
    from ai_workbench.core.settings import ProviderProfile

    if model is None and api_base is None and provider is None:
        return settings
    copy = settings.model_copy(deep=True)
    profiles = dict(copy.providers)
    if provider is None and model is not None and model in profiles and api_base is None:
        provider, model = model, None
    if provider is not None and provider in profiles:
        name = provider
        base = profiles[name]
        if model is not None or api_base is not None:
            full = (model if "/" in model else f"openai/{model}") if model else base.model
            profiles[name] = base.model_copy(
                update={"model": full, "api_base": api_base or base.api_base}
            )
    else:
        name = CHOICE_PROFILE
        if model is None:  # only an endpoint: the default profile's model there
            default = profiles[copy.default_provider]
            profiles[name] = default.model_copy(update={"api_base": api_base})
        else:
            adhoc = ProviderProfile(
                model=model if "/" in model else f"openai/{model}", api_base=api_base
            )
            key_env = _default_key_env(adhoc, profiles)
            profiles[name] = adhoc.model_copy(update={"api_key_env": key_env})
    copy.providers = profiles
    copy.default_provider = name
    copy.fallback = []
    return copy


CHOICE_PROFILE = "command-line"


async def probe(settings: Any, timeout: float = DEFAULT_TIMEOUT) -> ProbeReport:
    """Ask every local server at once, check keys, and say what to do. Never raises."""
    import httpx

    started = time.perf_counter()
    servers = _local_candidates(settings)
    # trust_env=False: a proxy from the environment must not see (or break) loopback requests.
    async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
        await asyncio.gather(*(_ask_server(client, s, timeout) for s in servers))
    keys = _key_statuses(settings)
    profiles = _profile_statuses(settings, servers)
    ways = _ways(settings, servers, keys)
    return ProbeReport(servers, keys, profiles, ways, time.perf_counter() - started)


# --- test and save ----------------------------------------------------------------------------


@dataclass(slots=True)
class ConnectionCheck:
    ok: bool
    model: str
    endpoint: str
    message: str  # "answered in 412 ms: OK", or the one-line error with advice
    kind: str | None = None  # the ProviderError kind on failure
    exit_code: int = 0
    latency_ms: int | None = None
    reply: str = ""


async def check_connection(
    model: str,
    api_base: str | None = None,
    *,
    provider: str | None = None,
    settings: Any = None,
    timeout: float = TEST_TIMEOUT,
) -> ConnectionCheck:
    """One real chat request (a few tokens) to ``model`` at ``api_base``, or to a profile."""
    from ai_workbench.core.errors import ProviderError
    from ai_workbench.core.llm.engines import StreamResult, stream_chat
    from ai_workbench.core.llm.profiles import (
        ProviderProfile,
        ResolvedProvider,
        check_allowed,
        resolve_chain,
    )
    from ai_workbench.core.llm.profiles import _resolve_profile as resolve_profile

    resolved: ResolvedProvider
    if provider is not None and settings is not None:
        resolved = resolve_chain(settings, provider=provider)[0]
    else:
        full = model if "/" in model else f"openai/{model}"
        resolved = resolve_profile("test", ProviderProfile(model=full, api_base=api_base))
    result = StreamResult()
    started = time.perf_counter()
    messages = [{"role": "user", "content": "Reply with the single word OK."}]
    try:
        if settings is not None:
            check_allowed(resolved, settings)
        async for _ in stream_chat(
            resolved, messages, result, timeout=timeout, max_retries=0, max_tokens=8
        ):
            pass
    except ProviderError as exc:
        return ConnectionCheck(
            False, resolved.model, resolved.endpoint, str(exc), exc.kind, exc.exit_code
        )
    latency = int((time.perf_counter() - started) * 1000)
    reply = " ".join(result.text.split())[:80]
    return ConnectionCheck(
        True,
        resolved.model,
        resolved.endpoint,
        f"{resolved.model} at {resolved.endpoint} answered in {latency} ms"
        + (f": {reply}" if reply else " (an empty reply)"),
        latency_ms=latency,
        reply=reply,
    )


def save_provider(
    name: str,
    model: str,
    api_base: str | None = None,
    *,
    api_key_env: str | None = None,
    make_default: bool = True,
) -> Path:
    """Write ``[providers.NAME]`` (and ``default_provider``) to the user config file.

    Uses the writer behind ``aiw config set``: comments are kept, every value is validated
    against the other layers first. A key's *variable name* may be saved, never a key.
    """
    from ai_workbench.core.settings import ConfigError, set_user_value

    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"provider name {name!r}: use letters, digits, - and _ only")
    full = model if "/" in model else f"openai/{model}"
    path, _ = set_user_value(f"providers.{name}.model", _toml_string(full))
    if api_base:
        set_user_value(f"providers.{name}.api_base", _toml_string(api_base))
    if api_key_env:
        set_user_value(f"providers.{name}.api_key_env", _toml_string(api_key_env))
    if make_default:
        set_user_value("default_provider", _toml_string(name))
    return path


def _toml_string(value: str) -> str:
    """A TOML string literal, so that set_user_value never reads it as a number or bool."""
    import json

    return json.dumps(value)
