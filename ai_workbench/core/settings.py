"""Layered settings (pydantic-settings).

Sources, highest priority first: command-line flags › ``AIW_*`` environment variables
(nested keys joined with ``__``) › the project's ``.aiw.toml`` (found walking up to the repo
root) › the user's ``config.toml`` (XDG config dir, or ``AIW_CONFIG``) › bundled defaults.

Every loaded value remembers where it came from, so ``aiw config show`` can print it and a
bad value is reported as one line naming the file (or variable), the key and what was
expected.
"""

from __future__ import annotations

import contextvars
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ai_workbench.core import paths

DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")
SECRET_KEY_NAMES = ("api_key", "apikey", "key", "token", "secret", "password")


class ConfigError(Exception):
    """A broken config file or value. ``str()`` is the one line shown to the user."""

    exit_code = 2
    key: str | None = None  # the key a set_user_values change failed on


class ProviderProfile(BaseModel):
    """A named way to reach a model: ``[providers.NAME]`` in config."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="litellm model name, e.g. openai/gpt-4o-mini")
    api_base: str | None = Field(default=None, description="endpoint URL")
    api_key_env: str | None = Field(
        default=None, description="name of the environment variable holding the API key"
    )
    local: bool | None = Field(
        default=None, description="force local/cloud classification (default: from the endpoint)"
    )
    context_window: int | None = Field(default=None, gt=0, description="tokens the model accepts")
    temperature: float | None = Field(default=None, ge=0, le=2)
    structured_output: Literal["auto", "json_schema", "json_object", "off"] = Field(
        default="auto",
        description="how JSON answers are constrained: auto tries json_schema, then json_object "
        "with the schema, then none (remembered per endpoint while aiw runs)",
    )
    prompt_tokens_per_second: float | None = Field(
        default=None,
        gt=0,
        description="how fast the model reads a prompt (default: measured from earlier requests)",
    )
    first_token_timeout: float | None = Field(
        default=None, gt=0, description="seconds to wait for the first token (overrides the global)"
    )
    parallel: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="requests the server runs at once (default: what a local server reports, "
        "else 1 for a local server)",
    )
    supports_tools: Literal["auto"] | bool = Field(
        default="auto",
        description="whether the model takes tool calls in the OpenAI tools format (the agent "
        "uses a text protocol when false; auto: try tools, fall back when the server refuses)",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_inline_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for key in data:
                if str(key).lower() in SECRET_KEY_NAMES:
                    raise ValueError(
                        f"API keys are never read from config files; remove '{key}' and set "
                        "api_key_env to the name of an environment variable that holds the key"
                    )
        return data

    @field_validator("model")
    @classmethod
    def _model_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected a model name such as openai/gpt-4o-mini")
        return value.strip()


# The default skip list of `capture = "tee"` is stdlib-only, so that `aiw shell init` can read
# it without loading pydantic.
from ai_workbench.core.defaults import DEFAULT_TEE_SKIP  # noqa: E402


class ShellSettings(BaseModel):
    """``[shell]``: the bash/zsh hook that explains failed commands (docs/shell.md)."""

    model_config = ConfigDict(extra="forbid")

    auto_analyse: bool = True
    context_level: Literal["minimal", "standard", "detailed"] = "standard"
    capture: Literal["scrollback", "tee", "pty", "none"] = "scrollback"
    # tee mode: commands whose stderr is never redirected (docs/shell.md, "Capture modes").
    tee_skip: list[str] = Field(default_factory=lambda: list(DEFAULT_TEE_SKIP))
    max_output_bytes: int = Field(default=4096, ge=256, le=65_536)
    ignore: list[str] = Field(default_factory=list)
    sensitive_dirs: list[str] = Field(default_factory=lambda: ["~/.ssh", "~/.gnupg", "~/.aws"])
    model: str = ""
    api_base: str = ""
    provider: str = ""


class ReviewSettings(BaseModel):
    """``[review]``: `aiw review` and the workbench review screen (docs/review.md)."""

    model_config = ConfigDict(extra="forbid")

    persona: str = "core/CA-1"
    model: str = ""
    provider: str = ""
    max_findings_per_file: int = Field(default=3, ge=1, le=50)
    min_confidence: float = Field(default=0.6, ge=0, le=1)
    max_parallel: int = Field(default=4, ge=1, le=32)
    max_tokens_per_call: int = Field(default=6_000, ge=1_000)
    context_lines: int = Field(default=5, ge=0, le=50)
    learning: bool = True
    min_dislikes: int = Field(default=3, ge=1, le=50)
    suggestions: bool = True


class DocumentsSettings(BaseModel):
    """``[documents]``: `aiw doc` and the workbench documents screen (docs/documents.md)."""

    model_config = ConfigDict(extra="forbid")

    model: str = ""
    provider: str = ""
    questions_per_round: int = Field(default=3, ge=1, le=10)
    temperature: float | None = Field(default=0.2, ge=0, le=2)
    max_tokens: int = Field(default=1_500, ge=200, le=32_000)
    render_timeout: float = Field(default=30.0, gt=0, le=300)


class ChatSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    persona: str = ""
    context: list[str] = Field(default_factory=list)
    max_context_files: int = Field(default=20, ge=1)
    max_file_bytes: int = Field(default=262_144, ge=1)
    save_interval: float = Field(default=1.0, gt=0, le=10)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_output_tokens: int | None = Field(default=None, gt=0)
    # An answer that grows past any of these is stopped and kept as partial (chat/drafts.py).
    max_answer_bytes: int = Field(default=1_000_000, ge=1_000)
    max_answer_tokens: int = Field(default=250_000, ge=100)
    max_answer_seconds: float = Field(default=900.0, gt=0)
    # How long the final save of an answer retries a locked database before the answer is
    # written to a recovery file in the data dir instead.
    save_retry_seconds: float = Field(default=60.0, ge=0)


class WatchSettings(BaseModel):
    """``[watch]``: the file watcher that turns saved ``AI!``/``AI?`` comments into suggestions."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    change_marker: str = "AI!"
    question_marker: str = "AI?"
    debounce_ms: int = Field(default=300, ge=0, le=60_000)
    max_calls_per_minute: int = Field(default=6, ge=1, le=600)
    review_on_save: bool = False
    ignore: list[str] = Field(default_factory=list)
    max_file_bytes: int = Field(default=262_144, ge=1)
    context_lines: int = Field(default=60, ge=0)
    related_files: int = Field(default=3, ge=0, le=20)
    model: str = ""

    @field_validator("change_marker", "question_marker")
    @classmethod
    def _marker(cls, value: str) -> str:
        value = value.strip()
        if not value or any(ch.isspace() for ch in value):
            raise ValueError("expected a marker without spaces, such as AI! or AI?")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> WatchSettings:
        if self.change_marker.lower() == self.question_marker.lower():
            raise ValueError("change_marker and question_marker must differ")
        return self


class KnowledgeSettings(BaseModel):
    """``[knowledge]``: the project index (``aiw index``/``aiw search``/``aiw ask --kb``)."""

    model_config = ConfigDict(extra="forbid")

    # Where the index lives: "local" (SQLite FTS5 + Chroma in the data dir; a chroma_url moves
    # the vectors to a Chroma server), "chroma" (vectors on the Chroma server at chroma_url) or
    # "postgres" (both halves in the PostgreSQL + pgvector database at postgres_url, shared).
    backend: Literal["local", "chroma", "postgres"] = "local"
    chroma_url: str = ""
    postgres_url: str = ""
    # The name a team shares one index under (default: the project directory's name + path hash).
    project: str = Field(default="", pattern=r"^[A-Za-z0-9._-]{0,64}$")
    embedding_model: str = "builtin"
    embedding_api_base: str = ""
    threshold: float = Field(default=0.7, ge=0, le=1)
    top_k: int = Field(default=8, ge=1, le=100)
    max_file_bytes: int = Field(default=1_048_576, ge=1)
    max_document_bytes: int = Field(default=20_971_520, ge=1)
    max_files: int = Field(default=50_000, ge=1)
    exclude: list[str] = Field(default_factory=list)
    window_lines: int = Field(default=60, ge=5, le=2000)
    window_overlap: int = Field(default=10, ge=0, le=1000)
    # Copied from the top-level ``offline`` by Settings, so whatever holds these knowledge
    # settings (the CLI, the workbench, watch) refuses remote embeddings and Chroma servers.
    _offline: bool = PrivateAttr(default=False)
    # (dotted key, value, project file) of knowledge endpoints a trusted project file chose.
    _project_choices: dict[str, tuple[str, str, str]] = PrivateAttr(default_factory=dict)

    @property
    def offline(self) -> bool:
        return self._offline


McpApproval = Literal["ask", "auto", "never"]


class McpServerSettings(BaseModel):
    """``[mcp.servers.NAME]``: one MCP server, started as a command (stdio) or reached at a URL
    (streamable HTTP). ``${VAR}`` in any string is read from the environment (docs/mcp.md)."""

    model_config = ConfigDict(extra="forbid")

    command: str = ""
    args: list[str] = Field(default_factory=list)
    # The only variables the command gets besides HOME, LOGNAME, PATH, SHELL, TERM and USER.
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str = ""
    url: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True
    # Before a call: ask (the default), auto (never ask), never (the tool is not offered).
    approval: McpApproval = "ask"
    tools: dict[str, McpApproval] = Field(default_factory=dict, description="per-tool approval")
    timeout: float | None = Field(default=None, gt=0, description="seconds per call")

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSettings:
        if bool(self.command.strip()) == bool(self.url.strip()):
            raise ValueError("set either command (a program to start) or url (an HTTP server)")
        return self


class McpSettings(BaseModel):
    """``[mcp]``: MCP servers whose tools chat may offer to the model (docs/mcp.md)."""

    model_config = ConfigDict(extra="forbid")

    servers: dict[str, McpServerSettings] = Field(default_factory=dict)
    start_timeout: float = Field(default=30.0, gt=0)
    call_timeout: float = Field(default=60.0, gt=0)
    max_result_chars: int = Field(default=20_000, ge=500)
    max_tool_rounds: int = Field(default=8, ge=1, le=50)


class TelegramSettings(BaseModel):
    """``[telegram]``: the Telegram bot `aiw telegram` runs (docs/telegram.md). User-level only:
    a project file cannot set any of it (the bot's token variable, server or tools)."""

    model_config = ConfigDict(extra="forbid")

    # The NAME of the environment variable that holds the bot token (never the token itself).
    token_env: str = "AIW_TELEGRAM_TOKEN"
    # The Bot API server; the token is appended (a self-hosted telegram-bot-api, or tests).
    base_url: str = "https://api.telegram.org/bot"
    # Let paired users' chats call MCP tools (only tools whose approval is "auto": nobody can
    # confirm a call from Telegram): true for every paired user, or the aiw user names allowed.
    # Off: answers never call tools.
    allow_tools: bool | list[str] = False

    @field_validator("allow_tools", mode="before")
    @classmethod
    def _allow_tools(cls, value: Any) -> Any:
        if isinstance(value, bool) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            return value
        raise ValueError('give true, false or a list of aiw user names such as ["ann"]')

    # Deliver the paired users' task reminders to their chats while the bot runs.
    reminders: bool = True
    persona: str = ""
    model: str = ""
    provider: str = ""
    # The project whose index /kb searches (default: where `aiw telegram` starts).
    project: str = ""
    # Seconds between two edits of a streaming answer (Telegram throttles frequent edits).
    edit_interval: float = Field(default=1.0, ge=0.05, le=30)
    # Per user: a token bucket of `burst` messages, refilled at `messages_per_minute`.
    messages_per_minute: float = Field(default=10.0, gt=0, le=600)
    burst: int = Field(default=3, ge=1, le=100)
    # Model calls running at once for all users together.
    max_concurrent: int = Field(default=2, ge=1, le=32)
    # Pairing: unanswered codes at most, and how long one is valid (seconds).
    max_pending: int = Field(default=5, ge=1, le=50)
    code_ttl: float = Field(default=3600.0, ge=60, le=7 * 86400)
    # Seconds one getUpdates long poll waits for news.
    poll_timeout: int = Field(default=30, ge=0, le=300)

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        import re

        value = value.strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(
                "expected the NAME of an environment variable (such as AIW_TELEGRAM_TOKEN), "
                "not the token itself"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http(s) URL such as https://api.telegram.org/bot")
        return value


class ServerSettings(BaseModel):
    """``[server]``: the HTTP API, `aiw serve` (docs/server.md)."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=1, le=65_535)
    # Per user: a token bucket refilled at rate_per_minute, holding at most burst requests.
    rate_per_minute: float = Field(default=120.0, gt=0)
    burst: int = Field(default=30, ge=1)
    # Request bodies above this are refused with 413 before they are read whole.
    max_body_bytes: int = Field(default=1_048_576, ge=1_024)
    # Model calls (/v1/ask, /v1/review) one user may have running at once.
    max_model_calls: int = Field(default=2, ge=1, le=256)
    # Seconds a checked token is trusted before it is looked up again (revocation delay).
    token_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # Run the reminder scheduler for the server's users (their reminders: /v1/events).
    reminders: bool = True
    # A cron schedule ("0 3 * * *") on which `aiw serve` runs `aiw sources sync --all` for the
    # served project (once per time, whatever the workers); empty: no schedule in serve.
    sources_schedule: str = ""


class TasksSettings(BaseModel):
    """``[tasks]``: tasks, natural dates and reminders (docs/tasks.md)."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(default="", description="IANA zone; empty: the system's")
    date_order: Literal["", "DMY", "MDY"] = Field(
        default="", description="how 03/04 reads; empty: ask (ambiguous)"
    )
    default_time: str = Field(
        default="09:00", pattern=r"^([01]?\d|2[0-3]):[0-5]\d$", description="for a day alone"
    )
    remind_before: str = Field(default="0m", description="default lead of a reminder (15m, 1d)")
    chat_tools: Literal["auto", "always", "never"] = Field(
        default="auto", description="offer propose_task in chat (auto: when the prompt asks)"
    )
    desktop_notify: bool = True
    missed_grace: float = Field(default=120.0, ge=0)
    recheck_seconds: float = Field(default=30.0, gt=0, le=3600)


class MemorySettings(BaseModel):
    """``[memory]``: what aiw remembers about the user and their sessions (docs/memory.md)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True  # the profile block and recalled facts in every system prompt
    profile_tokens: int = Field(default=300, ge=0, le=4_000)  # the profile block's budget
    recall: int = Field(default=3, ge=0, le=20)  # unpinned facts offered when relevant
    recall_tokens: int = Field(default=200, ge=0, le=4_000)
    offer_tool: bool = True  # offer remember_fact to the model (saved only when confirmed)
    summarize: bool = True  # summarise a long session's older turns instead of dropping them
    medium_days: float = Field(default=30.0, gt=0)  # how long a session summary is kept
    finished_after_minutes: float = Field(default=60.0, ge=0)  # idle this long: finished
    auto_summarize: bool = True  # the workbench summarises finished sessions in the background


AgentMode = Literal["plan", "ask", "auto-edit", "full-auto"]
_RULE_RE = re.compile(r"^(?:[A-Za-z][\w-]*(?:\((?:.|\n)*\))?|mcp__[\w*-]+)$")


class AgentPermissions(BaseModel):
    """``[agent.permissions]``: ``Tool(pattern)`` rules, e.g. ``Bash(pytest:*)``,
    ``Write(src/**)``, ``Read(.env)``, ``mcp__git__*`` (docs/agent.md)."""

    model_config = ConfigDict(extra="forbid")

    allow: list[str] = Field(default_factory=list)
    ask: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)

    @field_validator("allow", "ask", "deny")
    @classmethod
    def _rules(cls, value: list[str]) -> list[str]:
        for rule in value:
            if not _RULE_RE.match(rule.strip()):
                raise ValueError(
                    f"{rule!r} is not a rule; write Tool(pattern) such as Bash(pytest:*), "
                    "Edit(src/**), Read(.env) or an MCP tool name such as mcp__git__*"
                )
        return [rule.strip() for rule in value]


class AgentSettings(BaseModel):
    """``[agent]``: the agent's mode, limits, sandbox and permission rules (docs/agent.md)."""

    model_config = ConfigDict(extra="forbid")

    mode: AgentMode = "ask"
    model: str = Field(default="", description="model for agent runs (default: the chain's)")
    provider: str = Field(default="", description="provider profile for agent runs")
    persona: str = Field(default="", description="persona whose prompt the agent starts from")
    max_steps: int = Field(default=20, ge=1, le=1000, description="tool calls per run")
    max_seconds: float = Field(default=1800.0, gt=0, description="wall-clock limit of a run")
    max_tokens: int = Field(default=200_000, ge=1_000, description="token budget of a run")
    max_cost: float | None = Field(default=None, gt=0, description="cost budget (USD) of a run")
    command_timeout: float = Field(default=120.0, gt=0, le=3600, description="seconds/command")
    output_head_chars: int = Field(default=6_000, ge=200, description="kept from a result start")
    output_tail_chars: int = Field(default=4_000, ge=200, description="kept from a result end")
    max_read_bytes: int = Field(default=1_048_576, ge=1_024, description="largest file read")
    network: bool = Field(default=False, description="commands may use the network")
    sandbox: Literal["auto", "bwrap", "landlock", "none"] = "auto"
    temperature: float | None = Field(
        default=0.0,
        ge=0,
        le=2,
        description="sampling temperature of agent runs (a persona's or provider's wins)",
    )
    check_command: str = Field(
        default="auto",
        description="tests run before a run that changed files ends: auto | off | a command",
    )
    first_turn: Literal["auto", "tools"] = Field(
        default="auto",
        description=(
            "auto: a goal to make failing tests pass in files it names starts with the tests "
            "and the fix as code; tools: the model always starts with the tools"
        ),
    )
    mcp_servers: list[str] = Field(
        default_factory=list, description="MCP servers whose tools every run offers (aiw mcp list)"
    )
    permissions: AgentPermissions = Field(default_factory=AgentPermissions)


_FILE_LAYERS: contextvars.ContextVar[list[Layer]] = contextvars.ContextVar("aiw_file_layers")


class Settings(BaseSettings):
    """aiw's effective configuration."""

    model_config = SettingsConfigDict(
        env_prefix="AIW_",
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    default_provider: str = "ollama"
    fallback: list[str] = Field(default_factory=list)
    allow_cloud_fallback: bool = False
    offline: bool = False
    engine: Literal["auto", "direct", "litellm"] = "auto"
    request_timeout: float = Field(default=60.0, gt=0)
    # The wait for the first token (prompt evaluation): None = 180 s for local providers,
    # request_timeout for cloud ones. request_timeout then bounds each gap between chunks.
    first_token_timeout: float | None = Field(default=None, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    theme: str = "textual-dark"
    chat: ChatSettings = Field(default_factory=ChatSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    shell: ShellSettings = Field(default_factory=ShellSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    tasks: TasksSettings = Field(default_factory=TasksSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    documents: DocumentsSettings = Field(default_factory=DocumentsSettings)
    providers: dict[str, ProviderProfile] = Field(default_factory=dict)
    keys: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description='workbench key map: binding id = "key" (e.g. "prompt.send" = "ctrl+s")',
    )
    # Endpoints the project's .aiw.toml put in use: endpoint -> (dotted key, value). Worked out
    # on first use by the model layer (core/llm/redirects.py) from _project_inputs: the project
    # layer, the user's own merged configuration below it, and where each key came from.
    _project_endpoints: dict[str, tuple[str, str]] | None = PrivateAttr(default=None)
    _project_inputs: tuple[Any, Any, Any] | None = PrivateAttr(default=None)
    _project_file: str | None = PrivateAttr(default=None)

    @property
    def project_endpoints(self) -> dict[str, tuple[str, str]]:
        return self._project_endpoints or {}

    @property
    def project_file(self) -> str | None:
        return self._project_file

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest priority first. File layers were parsed (with their paths) beforehand.
        files = [_LayerSource(settings_cls, layer) for layer in reversed(_FILE_LAYERS.get([]))]
        return (init_settings, env_settings, *files)

    @model_validator(mode="after")
    def _known_providers(self) -> Settings:
        if self.providers and self.default_provider not in self.providers:
            raise ValueError(
                f"default_provider '{self.default_provider}' is not a configured provider "
                f"(have: {', '.join(sorted(self.providers))})"
            )
        self.knowledge._offline = self.offline
        return self


class _LayerSource(PydanticBaseSettingsSource):
    """A parsed TOML layer as a pydantic-settings source."""

    def __init__(self, settings_cls: type[BaseSettings], layer: Layer) -> None:
        super().__init__(settings_cls)
        self.layer = layer

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.layer.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.layer.data)


@dataclass
class Layer:
    """One source of settings: its label (file path or 'env'), kind and data."""

    kind: Literal["default", "user", "project", "env", "cli"]
    label: str
    data: dict[str, Any]
    path: Path | None = None


@dataclass
class LoadedConfig:
    settings: Settings
    layers: list[Layer]  # lowest priority first
    project_root: Path
    provenance: dict[tuple[str, ...], Layer] = field(default_factory=dict)

    def source_of(self, key: tuple[str, ...]) -> str:
        for depth in range(len(key), 0, -1):
            layer = self.provenance.get(key[:depth])
            if layer is not None:
                return _describe(layer, key[:depth])
        return "built-in default"


def _describe(layer: Layer, key: tuple[str, ...]) -> str:
    if layer.kind == "env":
        return "env " + env_var_name(key)
    if layer.kind == "cli":
        return "command line"
    if layer.kind == "default":
        return "bundled default"
    return str(layer.path)


def env_var_name(key: tuple[str, ...]) -> str:
    return "AIW_" + "__".join(part.upper() for part in key)


def read_toml(path: Path, kind: Literal["default", "user", "project"]) -> Layer:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Layer(kind, str(path), {}, path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if kind == "project":
        _refuse_project_secrets(path, data)
    return Layer(kind, str(path), data, path)


def _refuse_project_secrets(path: Path, data: dict[str, Any]) -> None:
    """A project file may name providers but never hold or redirect their keys, and never
    configures the Telegram bot (its token variable, server and tools are the user's)."""
    if "telegram" in data:
        raise ConfigError(
            f"{path}: telegram: a project file cannot configure the Telegram bot; set "
            "[telegram] in your user config (`aiw config path` shows where)"
        )
    for name, profile in (data.get("providers") or {}).items():
        if isinstance(profile, dict) and "api_key_env" in profile:
            raise ConfigError(
                f"{path}: providers.{name}.api_key_env: a project file cannot choose which "
                "environment variable supplies an API key; set it in your user config"
            )


_LOCAL_EMBEDDINGS = frozenset({"", "builtin", "e5", "none", "off", "false"})


def _merge(layers: list[Layer]) -> dict[str, Any]:
    """The layers' data merged, later ones winning (tables merged key by key)."""

    def into(target: dict[str, Any], data: Mapping[str, Any]) -> None:
        for key, value in data.items():
            if isinstance(value, Mapping) and isinstance(target.get(key), dict):
                into(target[key], value)
            elif isinstance(value, Mapping):
                target[key] = {}
                into(target[key], value)
            else:
                target[key] = value

    merged: dict[str, Any] = {}
    for layer in layers:
        into(merged, layer.data)
    return merged


def _redirects(
    merged: Mapping[str, Any], below: Mapping[str, Any]
) -> Iterator[tuple[tuple[str, ...], str, bool]]:
    """(key, why, always) for every value that would send requests, keys or indexed text
    somewhere the user did not choose; ``always``: refused even for a trusted project."""
    from ai_workbench.core.endpoints import LOCAL_ROUTES, is_loopback_url, route_of

    below_providers = below.get("providers") or {}
    for name, profile in (merged.get("providers") or {}).items():
        if not isinstance(profile, Mapping):
            continue
        key_env = profile.get("api_key_env")
        base = profile.get("api_base")
        if base and key_env:
            yield (
                ("providers", name, "api_base"),
                "a project file cannot redirect a provider that sends an API key; define a new "
                "provider without a key, or set it in your user config",
                True,
            )
        elif base and not is_loopback_url(str(base)):
            yield (("providers", name, "api_base"), f"sends requests to {base}", False)
        old = (below_providers.get(name) or {}).get("model")
        model = profile.get("model")
        if key_env and model and old and route_of(str(model)) != route_of(str(old)):
            yield (
                ("providers", name, "model"),
                f"a project file cannot move a provider that sends an API key ({key_env}) "
                f"to another service ({route_of(str(old))} -> {route_of(str(model))})",
                True,
            )
        if profile.get("local") is True:
            yield (("providers", name, "local"), "counts a remote endpoint as local", False)
    knowledge = merged.get("knowledge") or {}
    if knowledge.get("chroma_url") and not is_loopback_url(str(knowledge["chroma_url"])):
        url = knowledge["chroma_url"]
        yield (("knowledge", "chroma_url"), f"sends every indexed chunk to {url}", False)
    if knowledge.get("postgres_url") and not is_loopback_url(str(knowledge["postgres_url"])):
        url = re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", str(knowledge["postgres_url"]))
        yield (("knowledge", "postgres_url"), f"sends every indexed chunk to {url}", False)
    if knowledge.get("embedding_api_base"):
        base = knowledge["embedding_api_base"]
        yield (("knowledge", "embedding_api_base"), f"sends indexed text to {base}", False)
    model = str(knowledge.get("embedding_model") or "").strip()
    if model.lower() not in _LOCAL_EMBEDDINGS and route_of(model) not in LOCAL_ROUTES:
        yield (("knowledge", "embedding_model"), f"sends indexed text to {model}", False)
    shell_base = (merged.get("shell") or {}).get("api_base")
    if shell_base and not is_loopback_url(str(shell_base)):
        yield (("shell", "api_base"), f"sends shell output to {shell_base}", False)
    if merged.get("allow_cloud_fallback") is True:
        yield (("allow_cloud_fallback",), "lets cloud providers join the chain", False)
    if merged.get("offline") is False and below.get("offline") is True:
        yield (("offline",), "turns off the offline mode you set", False)


def _refuse_project_redirects(
    layers: list[Layer], provenance: Mapping[tuple[str, ...], Layer], project_root: Path
) -> dict[str, tuple[str, str, str]]:
    """Refuse a project file that chooses where requests, keys or indexed text go.

    Such settings are user-level only; a project trusted with ``aiw plugins trust`` (it may
    run its own code anyway) may set them, except the ones that would hand an API key to
    another endpoint. Returns the knowledge endpoints a trusted project chose, for the
    first-use notice: dotted key -> (dotted key, value, project file).
    """
    project = next((layer for layer in layers if layer.kind == "project"), None)
    if project is None or not project.data:
        return {}
    below = _merge([layer for layer in layers if layer.kind in ("default", "user")])
    merged = _merge(layers)
    trusted: bool | None = None
    chosen: dict[str, tuple[str, str, str]] = {}
    for key, why, always in _redirects(merged, below):
        if provenance.get(key) is not project:
            continue  # the user's own setting (or an env/flag override)
        dotted = ".".join(key)
        if always:
            raise ConfigError(f"{project.path}: {dotted}: {why}")
        if trusted is None:
            from ai_workbench.core.trust import is_trusted

            trusted = is_trusted(project_root)
        if not trusted:
            raise ConfigError(
                f"{project.path}: {dotted}: a project file cannot choose where data or keys go "
                f"(it {why}); set it in your user config (`aiw config set {dotted} ...`), or "
                "trust this project with `aiw plugins trust`"
            )
        if key[0] == "knowledge":
            value = _get_path(merged, key)
            chosen[dotted] = (dotted, str(value), str(project.path))
    return chosen


def _get_path(data: Mapping[str, Any], key: tuple[str, ...]) -> Any:
    value: Any = data
    for part in key:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def user_config_path() -> Path:
    override = os.environ.get("AIW_CONFIG")
    return Path(override).expanduser() if override else paths.user_config_file()


def _check_config_override() -> None:
    """``AIW_CONFIG`` naming a file that is not there is a mistake to report, not to skip."""
    override = os.environ.get("AIW_CONFIG")
    if not override:
        return
    path = Path(override).expanduser()
    if path.is_dir():
        raise ConfigError(f"AIW_CONFIG={override}: is a directory; point it at a .toml file")
    if not path.exists():
        raise ConfigError(
            f"AIW_CONFIG={override}: no such file; create it (`aiw config set KEY VALUE` "
            "writes it) or unset AIW_CONFIG to use the default config"
        )


def _leaves(data: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in data.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, path)
        else:
            yield path


def _env_layer() -> Layer:
    source = EnvSettingsSource(Settings)
    try:
        data = source()
    except Exception as exc:  # pydantic-settings' SettingsError for undecodable JSON
        raise ConfigError(f"environment: {exc}") from None
    return Layer("env", "environment", data)


def load_config(
    cli: Mapping[str, Any] | None = None,
    cwd: Path | None = None,
) -> LoadedConfig:
    """Load and validate every layer; raise ConfigError with one clear line on a problem."""
    cwd = (cwd or Path.cwd()).resolve()
    project_root = paths.find_project_root(cwd)
    _check_config_override()
    file_layers = [read_toml(DEFAULTS_FILE, "default"), read_toml(user_config_path(), "user")]
    project_file = paths.find_project_config(cwd)
    if project_file is not None:
        file_layers.append(read_toml(project_file, "project"))
    cli_data = {k: v for k, v in (cli or {}).items() if v is not None}
    layers = [*file_layers, _env_layer(), Layer("cli", "command line", cli_data)]

    provenance: dict[tuple[str, ...], Layer] = {}
    for layer in layers:
        for key in _leaves(layer.data):
            provenance[key] = layer

    knowledge_choices = _refuse_project_redirects(layers, provenance, project_root)
    token = _FILE_LAYERS.set(file_layers)
    try:
        settings = Settings(**cli_data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, provenance)) from None
    finally:
        _FILE_LAYERS.reset(token)
    project = next((layer for layer in layers if layer.kind == "project"), None)
    if project is not None and project.data:
        below = _merge([layer for layer in layers if layer.kind in ("default", "user")])
        settings._project_file = str(project.path)
        settings._project_inputs = (project, below, provenance)
        settings.knowledge._project_choices = knowledge_choices
    return LoadedConfig(settings, layers, project_root, provenance)


def _explain(exc: ValidationError, provenance: Mapping[tuple[str, ...], Layer]) -> str:
    error = exc.errors()[0]
    loc = tuple(str(part) for part in error["loc"] if not isinstance(part, int))
    # Drop pydantic's internal segments such as "function-after[...]".
    loc = tuple(part for part in loc if "[" not in part)
    where = "config"
    for depth in range(len(loc), 0, -1):
        layer = provenance.get(loc[:depth])
        if layer is not None:
            where = _describe(layer, loc[:depth])
            break
    key = ".".join(loc) or "(top level)"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key (see `aiw config show` for the valid keys)"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    else:
        message = "expected " + message[0].lower() + message[1:].removeprefix("Input should be ")
        message = message.replace("expected input should be ", "expected ")
    got = error.get("input")
    suffix = ""
    # A value under a secret-looking key (``token_env = "<the token>"``) is never echoed.
    secret = bool(loc) and any(word in loc[-1].lower() for word in SECRET_KEY_NAMES)
    if error["type"] != "extra_forbidden" and not isinstance(got, dict | list) and got is not None:
        suffix = "" if secret else f", got {got!r}"
    extra = len(exc.errors()) - 1
    more = f" (and {extra} more problem{'s' if extra > 1 else ''})" if extra else ""
    return f"{where}: {key}: {message}{suffix}{more}"


# --- `aiw config show` / `aiw config set` -------------------------------------------------


def effective_items(loaded: LoadedConfig) -> list[tuple[str, Any, str]]:
    """(dotted key, value, source) for every leaf of the effective settings."""
    dumped = loaded.settings.model_dump(mode="json")
    rows: list[tuple[str, Any, str]] = []

    def walk(value: Any, key: tuple[str, ...]) -> None:
        if isinstance(value, dict) and value:
            for sub, item in value.items():
                walk(item, (*key, str(sub)))
            return
        rows.append((".".join(key), value, loaded.source_of(key)))

    walk(dumped, ())
    return rows


def mask_value(key: str, value: Any) -> Any:
    """Mask anything secret-looking that could appear in an effective value."""
    if isinstance(value, str):
        from ai_workbench.core.redact import redact_text

        leaf = key.rsplit(".", 1)[-1].lower()
        if leaf not in ("api_key_env", "token_env") and any(w in leaf for w in SECRET_KEY_NAMES):
            return "****" if value else value
        return redact_text(value)
    return value


def parse_cli_value(raw: str) -> Any:
    """A TOML literal (true, 3, 1.5, ["a"]) when it parses as one, else the string itself."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def set_user_value(key: str, raw: str, cwd: Path | None = None) -> tuple[Path, Any]:
    """Write KEY = VALUE into the user config file, keeping its comments.

    The change is validated against every other layer first; an invalid value leaves the
    file untouched and raises ConfigError.
    """
    path = user_config_path()
    doc = _read_user_doc(path)
    value = _apply_user_value(doc, key, raw, path)
    _write_user_doc(path, doc, cwd)
    return path, value


def set_user_values(changes: Sequence[tuple[str, str]], cwd: Path | None = None) -> Path:
    """Several KEY = VALUE at once: each is checked on its own first (a ConfigError names the
    first bad key as its ``key``), then all are written in one replace of the file, or none."""
    import tomlkit

    path = user_config_path()
    for key, raw in changes:
        alone = _read_user_doc(path)
        try:
            _apply_user_value(alone, key, raw, path)
            _validate_candidate(path, tomlkit.dumps(alone), cwd)
        except ConfigError as exc:
            exc.key = key
            raise
    doc = _read_user_doc(path)
    for key, raw in changes:
        _apply_user_value(doc, key, raw, path)
    _write_user_doc(path, doc, cwd)
    return path


def _apply_user_value(doc: Any, key: str, raw: str, path: Path) -> Any:
    import tomlkit

    parts = tuple(part for part in key.split(".") if part)
    if not parts:
        raise ConfigError(f"config set: '{key}' is not a key")
    if parts[-1].lower() in SECRET_KEY_NAMES and parts[0] == "providers":
        raise ConfigError(
            f"config set: {key}: API keys are never stored in config; export the key in an "
            "environment variable and set providers.NAME.api_key_env to its name"
        )
    value = parse_cli_value(raw)
    table = _parent_table(doc, parts, path, key, make=tomlkit.table)
    table[parts[-1]] = value
    return value


def set_user_table(
    parts: tuple[str, ...], value: Mapping[str, Any] | None, cwd: Path | None = None
) -> Path:
    """Write the table ``parts`` (e.g. ``("mcp", "servers", "git")``) into the user config file,
    or remove it when ``value`` is None, keeping the rest and its comments; validated first."""
    import tomlkit

    path = user_config_path()
    doc = _read_user_doc(path)
    make = None if value is None else lambda: tomlkit.table(is_super_table=True)
    table = _parent_table(doc, parts, path, ".".join(parts), make=make)
    if table is None:  # removing a table whose parent is not there: nothing to do
        return path
    if value is None:
        if parts[-1] in table:
            del table[parts[-1]]
    else:
        new = tomlkit.table()
        for key, item in value.items():
            new[key] = item
        table[parts[-1]] = new
    _write_user_doc(path, doc, cwd)
    return path


def _parent_table(
    doc: Any, parts: tuple[str, ...], path: Path, key: str, make: Callable[[], Any] | None
) -> Any:
    """The table in ``doc`` that holds ``parts[-1]``, its missing parents made with ``make``
    (None when one is missing and ``make`` is None)."""
    table: Any = doc
    for part in parts[:-1]:
        if part not in table:
            if make is None:
                return None
            table[part] = make()
        table = table[part]
        if not isinstance(table, Mapping):
            raise ConfigError(f"{path}: {key}: '{part}' is a value, not a table")
    return table


def _read_user_doc(path: Path) -> Any:
    """The user config file as a tomlkit document (empty when there is none), comments kept."""
    import tomlkit

    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        return tomlkit.parse(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    except Exception as exc:  # tomlkit's ParseError
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _write_user_doc(path: Path, doc: Any, cwd: Path | None) -> None:
    """Validate ``doc`` as the new user layer, then replace the file atomically."""
    import tomlkit

    new_text = tomlkit.dumps(doc)
    _validate_candidate(path, new_text, cwd)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new_text, encoding="utf-8")
    os.replace(tmp, path)


def _validate_candidate(path: Path, text: str, cwd: Path | None) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / "config.toml"
        candidate.write_text(text, encoding="utf-8")
        previous = os.environ.get("AIW_CONFIG")
        os.environ["AIW_CONFIG"] = str(candidate)
        try:
            load_config(cwd=cwd)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(str(candidate), str(path))) from None
        finally:
            if previous is None:
                os.environ.pop("AIW_CONFIG", None)
            else:
                os.environ["AIW_CONFIG"] = previous
