"""Which MCP servers there are: ``[mcp.servers.NAME]`` in settings and ``mcpServers`` JSON files.

Three sources, first wins on a name: aiw's settings (``[mcp.servers.NAME]``), the user's
``mcp.json`` in aiw's config dir, and the project's ``.mcp.json`` (the file Claude Code reads).
Both JSON files use the ``{"mcpServers": {NAME: {...}}}`` shape other clients use. A project's
servers are commands that arrive with a clone, so they (and ``[mcp.servers]`` in a project
``.aiw.toml``) are used only once the project is trusted (``aiw plugins trust``).

``${VAR}`` and ``${VAR:-default}`` in any string expand from aiw's environment. A stdio server
gets a minimal environment (the SDK's HOME, LOGNAME, PATH, SHELL, TERM, USER) plus the variables
its entry names: never aiw's whole environment, so provider keys stay out unless named.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ai_workbench.core import paths, trust
from ai_workbench.core.settings import LoadedConfig, McpServerSettings

Approval = Literal["ask", "auto", "never"]
APPROVALS: tuple[str, ...] = ("ask", "auto", "never")
USER_FILE_NAME = "mcp.json"
PROJECT_FILE_NAME = ".mcp.json"
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")


@dataclass
class ServerSpec:
    """One configured server, variables expanded; ``problem`` says why it cannot start."""

    name: str
    source: str
    command: str = ""
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
    approval: Approval = "ask"
    tools: dict[str, Approval] = field(default_factory=dict)
    timeout: float | None = None
    problem: str | None = None
    # An SDK server object served in-process (tests, embedding): no subprocess, no socket.
    inproc: Any = None

    @property
    def transport(self) -> Literal["stdio", "http", "memory"]:
        if self.inproc is not None:
            return "memory"
        return "http" if self.url else "stdio"

    @property
    def target(self) -> str:
        """What it runs or where it is, for listings (header values never shown)."""
        if self.url or self.inproc is not None:
            return self.url or "in-process"
        return " ".join([self.command, *self.args])

    def approval_for(self, tool: str) -> Approval:
        return self.tools.get(tool, self.approval)


@dataclass
class ServerList:
    servers: list[ServerSpec] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def names(self) -> list[str]:
        return [spec.name for spec in self.servers]

    def get(self, name: str) -> ServerSpec:
        for spec in self.servers:
            if spec.name == name:
                return spec
        known = ", ".join(s.name for s in self.servers) or "none configured (aiw mcp add)"
        raise KeyError(f"no MCP server named '{name}' (have: {known})")


def user_file() -> Path:
    return paths.config_dir() / USER_FILE_NAME


def expand(value: str, missing: list[str]) -> str:
    """``${VAR}``/``${VAR:-default}`` from the environment; unset names go to ``missing``."""

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found is not None and (found or default is None):
            return found
        if default is not None:
            return default
        missing.append(name)
        return ""

    return _VAR_RE.sub(sub, value)


def _spec(name: str, source: str, raw: Mapping[str, Any]) -> ServerSpec:
    missing: list[str] = []
    spec = ServerSpec(name=name, source=source)
    spec.command = expand(str(raw.get("command") or ""), missing)
    spec.args = [expand(str(arg), missing) for arg in raw.get("args") or []]
    spec.env = {str(k): expand(str(v), missing) for k, v in (raw.get("env") or {}).items()}
    cwd = raw.get("cwd")
    spec.cwd = expand(str(cwd), missing) if cwd else None
    spec.url = expand(str(raw.get("url") or ""), missing)
    spec.headers = {str(k): expand(str(v), missing) for k, v in (raw.get("headers") or {}).items()}
    spec.enabled = bool(raw.get("enabled", not raw.get("disabled", False)))
    approval = raw.get("approval", "ask")
    spec.approval = approval if approval in APPROVALS else "ask"
    tools = raw.get("tools") or {}
    spec.tools = {str(k): v for k, v in tools.items() if v in APPROVALS}
    timeout = raw.get("timeout")
    spec.timeout = float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else None
    if missing:
        names = ", ".join(f"${{{n}}}" for n in dict.fromkeys(missing))
        spec.problem = f"{names} not set in the environment ({source})"
    elif not _NAME_RE.match(name):
        spec.problem = f"'{name}' is not a usable server name (letters, digits, _ . -)"
    kind = str(raw.get("type") or raw.get("transport") or "").lower()
    if spec.problem is None and (kind == "sse" or spec.url.rstrip("/").endswith("/sse")):
        spec.problem = (
            "the SSE transport is not supported; use the server's streamable HTTP endpoint "
            "(usually ending in /mcp)"
        )
    if spec.problem is None and bool(spec.command) == bool(spec.url):
        spec.problem = f"needs either command or url ({source})"
    if spec.problem is None and spec.url and not spec.url.startswith(("http://", "https://")):
        spec.problem = f"url must start with http:// or https:// ({source})"
    return spec


def _from_settings(loaded: LoadedConfig, out: ServerList) -> None:
    trusted: bool | None = None
    for name, entry in loaded.settings.mcp.servers.items():
        layer = loaded.provenance.get(("mcp", "servers", name))
        kinds = {
            lay.kind
            for key, lay in loaded.provenance.items()
            if key[:3] == ("mcp", "servers", name)
        }
        if layer is not None:
            kinds.add(layer.kind)
        if "project" in kinds:
            if trusted is None:
                trusted = trust.is_trusted(loaded.project_root)
            if not trusted:
                out.notices.append(
                    f"MCP server '{name}' from {loaded.settings.project_file} is ignored: this "
                    "project is not trusted (aiw plugins trust, after reading the file)"
                )
                continue
        leaf = "command" if entry.command else "url"
        source = loaded.source_of(("mcp", "servers", name, leaf))
        out.servers.append(_spec(name, source, _settings_dict(entry)))


def _settings_dict(entry: McpServerSettings) -> dict[str, Any]:
    return entry.model_dump()


def read_json_file(path: Path) -> dict[str, Any]:
    """The ``mcpServers`` table of a JSON file (``{}`` when the file does not exist)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{path}: invalid JSON: {exc}") from None
    servers = data.get("mcpServers", {}) if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise ValueError(f'{path}: expected {{"mcpServers": {{"NAME": {{...}}}}}}')
    return servers


def _from_json(path: Path, label: str, out: ServerList) -> None:
    try:
        servers = read_json_file(path)
    except ValueError as exc:
        out.notices.append(str(exc))
        return
    for name, raw in servers.items():
        if not isinstance(raw, dict):
            out.notices.append(f"{path}: mcpServers.{name}: expected an object")
            continue
        out.servers.append(_spec(str(name), f"{label} {path}", raw))


def load_servers(loaded: LoadedConfig) -> ServerList:
    """Every configured server (disabled ones too), with notices about what was left out."""
    out = ServerList()
    _from_settings(loaded, out)
    _from_json(user_file(), "user", out)
    project = loaded.project_root / PROJECT_FILE_NAME
    if project.is_file():
        if trust.is_trusted(loaded.project_root):
            _from_json(project, "project", out)
        else:
            out.notices.append(
                f"{project} is ignored: its servers are commands from the project, which is not "
                "trusted (read the file, then aiw plugins trust)"
            )
    seen: set[str] = set()
    unique: list[ServerSpec] = []
    for spec in out.servers:
        if spec.name in seen:
            out.notices.append(f"MCP server '{spec.name}' in {spec.source} is shadowed (same name)")
            continue
        seen.add(spec.name)
        unique.append(spec)
    out.servers = unique
    return out
