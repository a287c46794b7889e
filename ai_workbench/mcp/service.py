"""The MCP capability's API: configured servers, a hub that runs them, tools for a model, and
aiw's own MCP server (docs/mcp.md).

* :func:`load_servers` / :func:`open_hub`: the servers from settings and ``mcpServers`` files,
  and a :class:`McpHub` that starts them concurrently on first use;
* :class:`McpToolbox`: their tools for a chat turn (confirmation, redaction, size limit);
* :func:`add_server` / :func:`remove_server`: ``[mcp.servers.NAME]`` in the user config;
* :func:`serve`: ``aiw mcp serve``, aiw's knowledge, review, sessions and inbox as read-only tools.

The SDK (``mcp``) is imported only when a server starts or aiw serves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ai_workbench.core.errors import InputError
from ai_workbench.core.events import EventBus
from ai_workbench.core.settings import LoadedConfig, set_user_table
from ai_workbench.mcp import approvals
from ai_workbench.mcp.config import (
    APPROVALS,
    ServerList,
    ServerSpec,
    load_servers,
    read_json_file,
    user_file,
)
from ai_workbench.mcp.hub import Connection, McpCallError, McpHub, ToolInfo, describe_error
from ai_workbench.mcp.results import clean, result_text
from ai_workbench.mcp.toolbox import Approver, Decision, McpToolbox, ToolEvent, tool_spec

__all__ = [
    "APPROVALS",
    "Approver",
    "Connection",
    "Decision",
    "McpCallError",
    "McpHub",
    "McpToolbox",
    "ServerList",
    "ServerSpec",
    "ToolEvent",
    "ToolInfo",
    "add_server",
    "approvals",
    "call_text",
    "clean",
    "describe_error",
    "load_servers",
    "open_hub",
    "remove_server",
    "result_text",
    "serve",
    "tool_spec",
]


def open_hub(
    loaded: LoadedConfig, servers: ServerList | None = None, bus: EventBus | None = None
) -> McpHub:
    """A hub over every configured server (none started yet); with ``bus``, every server's
    state is published there as :class:`~ai_workbench.core.events.McpServerState` events."""
    listed = servers if servers is not None else load_servers(loaded)
    mcp = loaded.settings.mcp
    hub = McpHub(listed.servers, start_timeout=mcp.start_timeout, call_timeout=mcp.call_timeout)
    if bus is not None:
        from ai_workbench.mcp.feed import publish_states

        publish_states(hub, bus)
    return hub


async def call_text(
    hub: McpHub, server: str, tool: str, arguments: dict[str, Any], max_chars: int
) -> tuple[str, bool, int, bool]:
    """Call a tool directly (``aiw mcp call``): (clean text, is_error, redacted, cut)."""
    result = await hub.call(server, tool, arguments)
    text, redacted, was_cut = clean(result_text(result), max_chars)
    return text, bool(getattr(result, "is_error", False)), redacted, was_cut


def add_server(
    loaded: LoadedConfig,
    name: str,
    *,
    command: list[str] | None = None,
    url: str | None = None,
    env: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    approval: str = "ask",
    cwd: Path | None = None,
) -> Path:
    """Write ``[mcp.servers.NAME]`` into the user config file; the path written."""
    from ai_workbench.mcp.config import _NAME_RE

    if not _NAME_RE.match(name):
        raise InputError(f"'{name}' is not a usable server name: use letters, digits, _ . -")
    if bool(command) == bool(url):
        raise InputError("give either --command (a program to start) or --url (an HTTP server)")
    if name in load_servers(loaded).names():
        raise InputError(f"an MCP server named '{name}' exists already (aiw mcp remove {name})")
    table: dict[str, Any] = {}
    if command:
        table["command"] = command[0]
        if command[1:]:
            table["args"] = list(command[1:])
        if env:
            table["env"] = dict(env)
    else:
        table["url"] = url
        if headers:
            table["headers"] = dict(headers)
    if approval != "ask":
        table["approval"] = approval
    return set_user_table(("mcp", "servers", name), table, cwd=cwd)


def remove_server(loaded: LoadedConfig, name: str, cwd: Path | None = None) -> str:
    """Remove a server from the user config or the user's ``mcp.json``; where it was."""
    import json

    listed = load_servers(loaded)
    try:
        spec = listed.get(name)
    except KeyError as exc:
        raise InputError(str(exc.args[0])) from None
    from_project = spec.source.startswith("project ") or any(
        layer.kind == "project"
        for key, layer in loaded.provenance.items()
        if key[:3] == ("mcp", "servers", name)
    )
    if from_project:
        raise InputError(f"'{name}' comes from {spec.source}: edit that file to remove it")
    approvals.forget(name)
    if name in loaded.settings.mcp.servers:
        path = set_user_table(("mcp", "servers", name), None, cwd=cwd)
        return str(path)
    path = user_file()
    try:
        servers = read_json_file(path)
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise InputError(str(exc)) from None
    servers.pop(name, None)
    data["mcpServers"] = servers
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return str(path)


def serve(
    loaded: LoadedConfig, open_store: Callable[[], Awaitable[Any]], http: str | None = None
) -> None:
    """Run aiw's MCP server (stdio, or streamable HTTP at HOST:PORT) until stopped;
    ``open_store`` opens the user database for a tool call (the interface owns the store)."""
    from ai_workbench.mcp.server import run

    run(loaded, open_store, http)
