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
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
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
    parallel: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="requests the server runs at once (default: what a local server reports, "
        "else 1 for a local server)",
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


class ChatSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    persona: str = ""
    context: list[str] = Field(default_factory=list)
    max_context_files: int = Field(default=20, ge=1)
    max_file_bytes: int = Field(default=262_144, ge=1)
    save_interval: float = Field(default=1.0, gt=0, le=10)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_output_tokens: int | None = Field(default=None, gt=0)


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

    chroma_url: str = ""
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
    max_retries: int = Field(default=2, ge=0, le=10)
    theme: str = "textual-dark"
    chat: ChatSettings = Field(default_factory=ChatSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    shell: ShellSettings = Field(default_factory=ShellSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
    providers: dict[str, ProviderProfile] = Field(default_factory=dict)
    keys: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description='workbench key map: binding id = "key" (e.g. "prompt.send" = "ctrl+s")',
    )

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
    """A project file may name providers but never hold or redirect their keys."""
    for name, profile in (data.get("providers") or {}).items():
        if isinstance(profile, dict) and "api_key_env" in profile:
            raise ConfigError(
                f"{path}: providers.{name}.api_key_env: a project file cannot choose which "
                "environment variable supplies an API key; set it in your user config"
            )


def _refuse_project_endpoint_for_keys(provenance: Mapping[tuple[str, ...], Layer]) -> None:
    """A project file must not point a keyed provider at another endpoint (key exfiltration)."""
    for key, layer in provenance.items():
        if layer.kind == "project" and len(key) == 3 and key[0] == "providers":
            if key[2] != "api_base":
                continue
            if ("providers", key[1], "api_key_env") in provenance:
                raise ConfigError(
                    f"{layer.path}: providers.{key[1]}.api_base: a project file cannot redirect "
                    "a provider that sends an API key; define a new provider without a key, "
                    "or set it in your user config"
                )


def user_config_path() -> Path:
    override = os.environ.get("AIW_CONFIG")
    return Path(override).expanduser() if override else paths.user_config_file()


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

    _refuse_project_endpoint_for_keys(provenance)
    token = _FILE_LAYERS.set(file_layers)
    try:
        settings = Settings(**cli_data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, provenance)) from None
    finally:
        _FILE_LAYERS.reset(token)
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
    if error["type"] != "extra_forbidden" and not isinstance(got, dict | list) and got is not None:
        suffix = f", got {got!r}"
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
        if leaf != "api_key_env" and any(word in leaf for word in SECRET_KEY_NAMES):
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
    path = user_config_path()
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        doc = tomlkit.parse(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    except Exception as exc:  # tomlkit's ParseError
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None

    table: Any = doc
    for part in parts[:-1]:
        if part not in table:
            table[part] = tomlkit.table()
        table = table[part]
        if not isinstance(table, Mapping):
            raise ConfigError(f"{path}: {key}: '{part}' is a value, not a table")
    table[parts[-1]] = value
    new_text = tomlkit.dumps(doc)

    # Validate with the new user layer before touching the file.
    _validate_candidate(path, new_text, cwd)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new_text, encoding="utf-8")
    os.replace(tmp, path)
    return path, value


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
