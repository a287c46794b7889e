"""`aiw mcp list|tools|call|add|remove|test|allow|forget|serve`: MCP servers (docs/mcp.md).

:mod:`ai_workbench.mcp.service` does the work; this module reads flags and prints. It also holds
what `aiw ask --mcp NAME` needs from the terminal: the confirmation prompt before a tool call
(:func:`tty_approver`) and the lines that show a call's arguments and result (:func:`reporter`).
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from typing import Any

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, fail, guard, load_settings, run_async
from ai_workbench.core.errors import EXIT_CONNECTION, EXIT_INPUT, EXIT_TIMEOUT, EXIT_USAGE

#: `aiw mcp call` when the tool answered with an error result.
EXIT_TOOL_ERROR = 7


def _pairs(items: tuple[str, ...], flag: str, sep: str = "=") -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        key, ok, value = item.partition(sep)
        if not ok or not key.strip():
            fail(f"{flag} {item!r}: expected NAME{sep}VALUE", EXIT_USAGE)
        found[key.strip()] = value.strip() if sep == ":" else value
    return found


def _echo(text: str = "") -> None:
    from ai_workbench.core.sanitize import strip_controls

    click.echo(strip_controls(text))


def _notices(listed: Any) -> None:
    for line in listed.notices:
        click.echo(f"aiw: {line}", err=True)


@click.group(context_settings=CONTEXT_SETTINGS)
def mcp() -> None:
    """MCP servers: their tools for `aiw ask --mcp NAME`, and aiw as a server for other agents.

    \b
    Servers come from [mcp.servers.NAME] in the config (aiw mcp add), from mcp.json in aiw's
    config dir and from a trusted project's .mcp.json ({"mcpServers": {...}}, the shape Claude
    Desktop, Claude Code and Cursor use).
    """


@mcp.command("list", context_settings=CONTEXT_SETTINGS)
@click.option("--check", is_flag=True, help="Start every enabled server and show its state.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_cmd(ctx: click.Context, check: bool, as_json: bool) -> None:
    """The configured servers: transport, what runs or where, where it is configured."""
    loaded = load_settings(ctx)

    async def go() -> list[dict[str, Any]]:
        from ai_workbench.mcp.service import load_servers, open_hub

        listed = load_servers(loaded)
        _notices(listed)
        hub = open_hub(loaded, listed)
        async with hub:
            if check:
                await hub.start()
            return [
                {
                    "name": conn.name,
                    "transport": conn.spec.transport,
                    "target": conn.spec.target,
                    "source": conn.spec.source,
                    "enabled": conn.spec.enabled,
                    "approval": conn.spec.approval,
                    "state": conn.state,
                    "tools": len(conn.tools),
                    "error": conn.error,
                }
                for conn in hub.connections.values()
            ]

    rows = run_async(go)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        _echo("No MCP servers configured. Add one: aiw mcp add NAME -- COMMAND [ARGS...]")
        return
    for row in rows:
        state = row["state"]
        if state == "ready":
            state = f"ready, {row['tools']} tools"
        elif state == "failed":
            state = f"failed: {row['error']}"
        elif state == "idle":
            state = "not started (--check starts it)"
        _echo(f"{row['name']}  [{row['transport']}]  {row['target']}")
        _echo(f"    {state}; approval: {row['approval']}; from {row['source']}")


def _schema_line(schema: dict[str, Any]) -> str:
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    parts = []
    for name, spec in props.items():
        kind = spec.get("type", "any") if isinstance(spec, dict) else "any"
        parts.append(f"{name}{'' if name in required else '?'}: {kind}")
    return ", ".join(parts)


@mcp.command("tools", context_settings=CONTEXT_SETTINGS)
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with input schemas).")
@click.pass_context
def tools_cmd(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """The tools, resources and prompts of one server (or of every enabled one)."""
    loaded = load_settings(ctx)

    async def go() -> tuple[list[dict[str, Any]], int]:
        from ai_workbench.mcp.service import load_servers, open_hub

        listed = load_servers(loaded)
        _notices(listed)
        async with open_hub(loaded, listed) as hub:
            try:
                chosen = await hub.start([name] if name else None)
            except KeyError as exc:
                fail(str(exc.args[0]), EXIT_INPUT)
            out = []
            failed = 0
            for conn in chosen:
                if conn.state == "disabled":
                    continue
                failed += conn.state == "failed"
                out.append(
                    {
                        "server": conn.name,
                        "state": conn.state,
                        "error": conn.error,
                        "tools": [
                            {
                                "name": t.name,
                                "model_name": t.qualified,
                                "description": t.description,
                                "input_schema": t.input_schema,
                            }
                            for t in conn.tools
                        ],
                        "resources": [
                            {"uri": str(r.uri), "name": r.name, "description": r.description}
                            for r in conn.resources
                        ],
                        "prompts": [
                            {"name": p.name, "description": p.description} for p in conn.prompts
                        ],
                    }
                )
            return out, failed

    servers, failed = run_async(go)
    if as_json:
        click.echo(json.dumps(servers, indent=2))
    else:
        for server in servers:
            if server["state"] != "ready":
                _echo(f"{server['server']}: {server['state']}: {server['error']}")
                continue
            _echo(f"{server['server']}: {len(server['tools'])} tools")
            for tool in server["tools"]:
                description = " ".join((tool["description"] or "").split())[:100]
                _echo(f"  {tool['name']}({_schema_line(tool['input_schema'])})  {description}")
            for res in server["resources"]:
                _echo(f"  resource {res['uri']}  {res['description'] or res['name']}")
            for prompt in server["prompts"]:
                _echo(f"  prompt {prompt['name']}  {prompt['description'] or ''}")
    if failed:
        sys.exit(EXIT_CONNECTION)


@mcp.command("call", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.argument("tool")
@click.option("--args", "args_json", default="{}", metavar="JSON", help="Arguments (an object).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def call_cmd(ctx: click.Context, name: str, tool: str, args_json: str, as_json: bool) -> None:
    """Call one tool yourself and print its result (redacted, cut to mcp.max_result_chars).

    Example: aiw mcp call git git_log --args '{"repo_path": ".", "max_count": 3}'
    """
    try:
        arguments = json.loads(args_json)
    except ValueError as exc:
        fail(f"--args: not valid JSON ({exc.msg} at character {exc.pos})", EXIT_USAGE)
    if not isinstance(arguments, dict):
        fail('--args: expected a JSON object such as \'{"path": "."}\'', EXIT_USAGE)
    loaded = load_settings(ctx)

    async def go() -> tuple[str, bool, int, bool]:
        from ai_workbench.mcp.service import McpCallError, call_text, open_hub

        async with open_hub(loaded) as hub:
            try:
                return await call_text(
                    hub, name, tool, arguments, loaded.settings.mcp.max_result_chars
                )
            except KeyError as exc:
                fail(str(exc.args[0]), EXIT_INPUT)
            except McpCallError as exc:
                code = EXIT_TIMEOUT if "no answer within" in str(exc) else EXIT_CONNECTION
                fail(str(exc), code)

    text, is_error, redacted, was_cut = run_async(go)
    if as_json:
        data = {"text": text, "is_error": is_error, "redacted": redacted, "cut": was_cut}
        click.echo(json.dumps(data))
    else:
        if redacted:
            click.echo(f"aiw: redacted {redacted} secret(s) in the result", err=True)
        (click.echo if not is_error else lambda t: click.echo(t, err=True))(text)
    if is_error:
        sys.exit(EXIT_TOOL_ERROR)


@mcp.command("add", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.argument("command_args", nargs=-1, metavar="[-- COMMAND ARGS...]")
@click.option("--command", "command_line", metavar="CMD", help="The program to start (stdio).")
@click.option("--url", help="A streamable HTTP server, e.g. http://127.0.0.1:8000/mcp.")
@click.option("-e", "--env", "env_items", multiple=True, metavar="NAME=VALUE", help="For CMD.")
@click.option("-H", "--header", "header_items", multiple=True, metavar="NAME: VALUE")
@click.option(
    "--approval",
    type=click.Choice(["ask", "auto", "never"]),
    default="ask",
    show_default=True,
    help="Before each call: ask, auto (never ask), never (tools not offered).",
)
@click.pass_context
def add_cmd(
    ctx: click.Context,
    name: str,
    command_args: tuple[str, ...],
    command_line: str | None,
    url: str | None,
    env_items: tuple[str, ...],
    header_items: tuple[str, ...],
    approval: str,
) -> None:
    """Add a server to the user config ([mcp.servers.NAME]).

    \b
    Examples:
      aiw mcp add git -- uvx mcp-server-git --repository .
      aiw mcp add time --command "mcp-server-time --local-timezone UTC"
      aiw mcp add gh -e GITHUB_TOKEN='${GITHUB_TOKEN}' -- github-mcp-server stdio
      aiw mcp add docs --url http://127.0.0.1:8000/mcp -H 'Authorization: Bearer ${DOCS_TOKEN}'
    Write ${VAR} (quoted) to read a secret from the environment when the server starts.
    """
    command = list(command_args)
    if command_line:
        if command:
            fail("give the command either with --command or after --, not both", EXIT_USAGE)
        command = shlex.split(command_line)
    loaded = load_settings(ctx)

    def go() -> Any:
        from ai_workbench.mcp.service import add_server

        return add_server(
            loaded,
            name,
            command=command or None,
            url=url,
            env=_pairs(env_items, "--env"),
            headers=_pairs(header_items, "--header", ":"),
            approval=approval,
        )

    path = guard(go)
    _echo(f"added MCP server '{name}' to {path}; try it: aiw mcp test {name}")


@mcp.command("remove", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.pass_context
def remove_cmd(ctx: click.Context, name: str) -> None:
    """Remove a server from the user config (and forget its always-allowed tools)."""
    loaded = load_settings(ctx)

    def go() -> str:
        from ai_workbench.mcp.service import remove_server

        return remove_server(loaded, name)

    where = guard(go)
    _echo(f"removed MCP server '{name}' from {where}")


@mcp.command("test", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.pass_context
def test_cmd(ctx: click.Context, name: str) -> None:
    """Start one server, list what it offers and stop it; says why when it cannot start."""
    loaded = load_settings(ctx)

    async def go() -> Any:
        from ai_workbench.mcp.service import open_hub

        async with open_hub(loaded) as hub:
            try:
                (conn,) = await hub.start([name])
            except KeyError as exc:
                fail(str(exc.args[0]), EXIT_INPUT)
            return conn, conn.state, conn.describe()

    conn, state, described = run_async(go)
    spec = conn.spec
    _echo(f"{spec.name}: {spec.transport} {spec.target}")
    if state == "disabled":
        fail(f"{name} is disabled (enabled = false in {spec.source})", EXIT_USAGE)
    if state != "ready":
        fail(f"MCP server '{name}' {described}", EXIT_CONNECTION)
    _echo(
        f"ok: started in {conn.start_ms} ms, protocol {conn.protocol}; {len(conn.tools)} tools, "
        f"{len(conn.resources)} resources, {len(conn.prompts)} prompts"
    )
    for tool in conn.tools:
        _echo(f"  {tool.name}")


@mcp.command("allow", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.argument("tool")
def allow_cmd(name: str, tool: str) -> None:
    """Always allow one tool of a server (no confirmation before its calls)."""
    from ai_workbench.mcp.service import approvals

    approvals.allow_always(name, tool)
    _echo(f"{name}/{tool} is always allowed now (aiw mcp forget {name} {tool} takes it back)")


@mcp.command("forget", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.argument("tool", required=False)
def forget_cmd(name: str, tool: str | None) -> None:
    """Ask again before calls of a server's tool (or of all its tools)."""
    from ai_workbench.mcp.service import approvals

    count = approvals.forget(name, tool)
    _echo(f"{count} always-allowed tool(s) of {name} forgotten")


@mcp.command("serve", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--http",
    "http",
    metavar="HOST:PORT",
    is_flag=False,
    flag_value="127.0.0.1:8766",
    default=None,
    help="Serve streamable HTTP at http://HOST:PORT/mcp (default 127.0.0.1:8766) instead of stdio.",
)
@click.pass_context
def serve_cmd(ctx: click.Context, http: str | None) -> None:
    """Serve this project's knowledge, review, sessions and inbox to other agents (read-only).

    \b
    Stdio by default, for a client that starts `aiw mcp serve` itself (Claude Code:
    claude mcp add aiw -- aiw mcp serve). Tools: knowledge_search, knowledge_get,
    review_diff, sessions_search, suggestions_list. Logs go to stderr only.
    """
    loaded = load_settings(ctx)

    def go() -> None:
        from ai_workbench.cli.common import open_store
        from ai_workbench.mcp.service import serve

        serve(loaded, open_store, http)

    guard(go)


# --- `aiw ask --mcp NAME`: the terminal's side of tool calls ------------------------------------


def _can_ask() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def tty_approver(printer: Any) -> Callable[..., Any]:
    """Ask on the terminal before a call: [y]es once, [a]lways this tool, [n]o. Without a
    terminal every call that needs asking is refused, and the message says how to allow it."""
    import asyncio

    async def approve(info: Any, arguments: dict[str, Any]) -> str:
        shown = json.dumps(arguments, ensure_ascii=False)
        if len(shown) > 600:
            shown = shown[:599] + "…"
        if not _can_ask():
            printer.notice(
                f"mcp: {info.server}/{info.name} refused: no terminal to confirm the call on "
                f"(allow it for good: aiw mcp allow {info.server} {info.name})"
            )
            return "deny"
        with printer.paused():
            click.echo(f"aiw: the model wants to call {info.server}/{info.name}", err=True)
            click.echo(f"     arguments: {shown}", err=True)
            answer = await asyncio.to_thread(
                click.prompt,
                "     allow? [y]es once, [a]lways this tool, [n]o",
                default="n",
                err=True,
                show_default=False,
            )
        choice = answer.strip().lower()[:1]
        return {"y": "once", "a": "always"}.get(choice, "deny")

    return approve


def reporter(printer: Any) -> Callable[[Any], None]:
    """Show a call's arguments, and a summary of its result, as notices (stderr)."""

    def report(event: Any) -> None:
        where = f"{event.server}/{event.tool}"
        if event.phase == "call":
            printer.notice(f"mcp: calling {where} {event.arguments_line()}")
        elif event.phase == "refused":
            printer.notice(f"mcp: {where} was not allowed")
        else:
            lines = event.text.count("\n") + 1 if event.text else 0
            extra = []
            if event.redacted:
                extra.append(f"{event.redacted} secret(s) redacted")
            if event.cut:
                extra.append("cut to mcp.max_result_chars")
            tail = f" ({'; '.join(extra)})" if extra else ""
            first = " ".join(event.text.split())[:120]
            kind = "error" if event.is_error else f"{lines} line(s)"
            printer.notice(f"mcp: {where} -> {kind}{tail}: {first}")

    return report


async def open_tools(loaded: Any, names: tuple[str, ...], printer: Any) -> tuple[Any, Any]:
    """Start the servers `aiw ask --mcp` names (together); (hub, toolbox). Failures are notices."""
    from ai_workbench.mcp.service import McpToolbox, load_servers, open_hub

    listed = load_servers(loaded)
    for line in listed.notices:
        printer.notice(line)
    unknown = [n for n in names if n not in listed.names()]
    if unknown:
        have = ", ".join(listed.names()) or "none configured (aiw mcp add)"
        fail(f"--mcp: no MCP server named {', '.join(unknown)} (have: {have})", EXIT_INPUT)
    hub = open_hub(loaded, listed)
    for conn in await hub.start(names):
        if conn.state != "ready":
            printer.notice(f"mcp: {conn.name} {conn.describe()}; answering without its tools")
    toolbox = McpToolbox(
        hub,
        names,
        approver=tty_approver(printer),
        max_result_chars=loaded.settings.mcp.max_result_chars,
        report=reporter(printer),
    )
    return hub, toolbox
