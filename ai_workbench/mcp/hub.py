"""Connections to MCP servers: started together, each in its own task, failures kept apart.

:class:`McpHub` starts the servers it is asked for concurrently. Each connection lives in one
task that enters the SDK's ``Client`` and stays inside it until the hub closes (the SDK's anyio
task groups must be left by the task that entered them). A server that cannot be spawned, exits
during the handshake, or does not answer within ``start_timeout`` is marked *failed* with its name,
the reason and the tail of its stderr; the others keep working. A server that dies later fails
the call in progress the same way and is marked failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from ai_workbench.core.llm.tools import tool_name
from ai_workbench.core.redact import redact_text
from ai_workbench.core.sanitize import strip_controls
from ai_workbench.mcp.config import ServerSpec

State = Literal["idle", "starting", "ready", "failed", "disabled", "stopped"]
STDERR_TAIL_LINES = 6


class McpCallError(Exception):
    """A call that did not get an answer (timeout, dead server, unknown tool); one line."""


@dataclass
class ToolInfo:
    server: str
    name: str
    description: str
    input_schema: dict[str, Any]

    @property
    def qualified(self) -> str:
        """The name the model sees: ``mcp__SERVER__TOOL`` (Claude Code's convention)."""
        return tool_name("mcp", self.server, self.name)


@dataclass
class Connection:
    """One server's connection and what it offers."""

    spec: ServerSpec
    state: State = "idle"
    error: str | None = None
    tools: list[ToolInfo] = field(default_factory=list)
    resources: list[Any] = field(default_factory=list)
    prompts: list[Any] = field(default_factory=list)
    protocol: str = ""
    start_ms: int | None = None
    client: Any = None
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _stderr: IO[str] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def describe(self) -> str:
        """One line: ``ready, 5 tools`` / ``failed: why``."""
        if self.state == "ready":
            count = len(self.tools)
            return f"ready, {count} tool{'s' if count != 1 else ''}"
        if self.state == "failed":
            return f"failed: {self.error}"
        return self.state

    def stderr_tail(self) -> str:
        stream = self._stderr
        if stream is None:
            return ""
        try:
            stream.flush()
            stream.seek(0, 2)
            size = stream.tell()
            stream.seek(max(0, size - 4000))
            text = stream.read()
        except (OSError, ValueError):
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        tail = " | ".join(lines[-STDERR_TAIL_LINES:])
        return redact_text(strip_controls(tail))[:600]

    def fail(self, reason: str) -> None:
        tail = self.stderr_tail()
        self.state = "failed"
        self.error = f"{reason}; stderr: {tail}" if tail else reason


def describe_error(exc: BaseException) -> str:
    """One line for an exception from the SDK (exception groups unwrapped)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {exc.filename or exc}"
    if isinstance(exc, PermissionError):
        return f"cannot run the command: {exc.strerror or exc}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    name = type(exc).__name__
    if name in ("ConnectError", "ConnectTimeout"):
        return f"cannot connect: {text}"
    if "closed" in text.lower() or name in ("ClosedResourceError", "EndOfStream", "BrokenPipe"):
        return "the server closed the connection (it exited?)"
    return f"{text[:300]}"


class McpHub:
    """The servers of one session (CLI command, chat, workbench), started on demand."""

    def __init__(
        self,
        specs: Iterable[ServerSpec],
        *,
        start_timeout: float = 30.0,
        call_timeout: float = 60.0,
        on_state: Callable[[Connection], None] | None = None,
    ) -> None:
        self.connections: dict[str, Connection] = {s.name: Connection(s) for s in specs}
        self.start_timeout = start_timeout
        self.call_timeout = call_timeout
        self.on_state = on_state
        for conn in self.connections.values():
            if not conn.spec.enabled:
                conn.state = "disabled"
            elif conn.spec.problem:
                conn.state, conn.error = "failed", conn.spec.problem

    async def __aenter__(self) -> McpHub:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def get(self, name: str) -> Connection:
        try:
            return self.connections[name]
        except KeyError:
            known = ", ".join(self.connections) or "none configured (aiw mcp add)"
            raise KeyError(f"no MCP server named '{name}' (have: {known})") from None

    async def start(self, names: Iterable[str] | None = None) -> list[Connection]:
        """Start these servers (all enabled ones by default) together; wait until each is
        ready or failed. Never raises for a server that fails."""
        chosen = (
            [self.get(n) for n in names] if names is not None else list(self.connections.values())
        )
        waiting = [c for c in chosen if c.state in ("idle", "stopped")]
        for conn in waiting:
            self._launch(conn)
        await asyncio.gather(*(self._wait_ready(c) for c in chosen if c._task is not None))
        return chosen

    def _launch(self, conn: Connection) -> None:
        conn.state, conn.error = "starting", None
        conn._ready = asyncio.Event()
        conn._stop = asyncio.Event()
        self._changed(conn)
        conn._task = asyncio.create_task(self._run(conn), name=f"mcp-{conn.name}")

    async def _wait_ready(self, conn: Connection) -> None:
        try:
            await asyncio.wait_for(conn._ready.wait(), self.start_timeout)
        except TimeoutError:
            conn.fail(f"no answer within {self.start_timeout:g}s of starting")
            if conn._task is not None:
                conn._task.cancel()  # its shutdown finishes in the background; close() awaits it
            self._changed(conn)

    def _changed(self, conn: Connection) -> None:
        if self.on_state is not None:
            self.on_state(conn)

    async def _run(self, conn: Connection) -> None:
        from mcp import Client

        from ai_workbench import __version__

        started = time.perf_counter()
        spec = conn.spec
        async with contextlib.AsyncExitStack() as stack:
            try:
                transport = await self._transport(conn, stack)
                from mcp.types import Implementation

                client = Client(
                    transport,
                    client_info=Implementation(name="aiw", version=__version__),
                    read_timeout_seconds=self.start_timeout,
                )
                await stack.enter_async_context(client)
                conn.client = client
                conn.protocol = client.protocol_version
                await self._discover(conn, client)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                conn.fail(describe_error(exc))
                conn.client = None
                conn._ready.set()
                self._changed(conn)
                return
            conn.start_ms = int((time.perf_counter() - started) * 1000)
            conn.state = "ready"
            conn._ready.set()
            self._changed(conn)
            try:
                await conn._stop.wait()
            except asyncio.CancelledError:
                if not conn._stop.is_set() and conn.state == "ready":
                    # the SDK cancelled us: the connection broke while idle (the server died)
                    conn.fail("the server closed the connection (it exited?)")
                    self._changed(conn)
                raise
            conn.client = None
        if spec.transport == "stdio" and conn._stderr is not None:
            with contextlib.suppress(OSError):
                conn._stderr.close()

    async def _transport(self, conn: Connection, stack: contextlib.AsyncExitStack) -> Any:
        spec = conn.spec
        if spec.inproc is not None:
            return spec.inproc
        if spec.transport == "http":
            if not spec.headers:
                return spec.url
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers=spec.headers, timeout=httpx2.Timeout(30.0, read=300.0))
            )
            return streamable_http_client(spec.url, http_client=http)
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        # Kept open after a failure (its tail goes in the report); closed when the task ends.
        conn._stderr = tempfile.TemporaryFile(  # noqa: SIM115
            mode="w+", encoding="utf-8", errors="replace"
        )
        params = StdioServerParameters(
            command=spec.command, args=spec.args, env=spec.env or None, cwd=spec.cwd or None
        )
        return stdio_client(params, errlog=conn._stderr)

    async def _discover(self, conn: Connection, client: Any) -> None:
        caps = client.server_capabilities
        listing = await client.list_tools()
        conn.tools = [
            ToolInfo(
                server=conn.name,
                name=tool.name,
                description=strip_controls(tool.description or ""),
                input_schema=dict(tool.input_schema or {"type": "object", "properties": {}}),
            )
            for tool in listing.tools
        ]
        conn.resources, conn.prompts = [], []
        if getattr(caps, "resources", None) is not None:
            with contextlib.suppress(Exception):
                conn.resources = list((await client.list_resources()).resources)
        if getattr(caps, "prompts", None) is not None:
            with contextlib.suppress(Exception):
                conn.prompts = list((await client.list_prompts()).prompts)

    async def call(
        self, server: str, tool: str, arguments: dict[str, Any], timeout: float | None = None
    ) -> Any:
        """The tool's ``CallToolResult`` (``is_error`` results included); raises
        :class:`McpCallError` when there is no answer."""
        conn = self.get(server)
        if conn.state in ("idle", "stopped"):
            await self.start([server])
        if conn.state != "ready" or conn.client is None:
            raise McpCallError(f"MCP server '{server}' is {conn.describe()}")
        if not any(t.name == tool for t in conn.tools):
            names = ", ".join(t.name for t in conn.tools) or "none"
            raise McpCallError(f"'{server}' has no tool '{tool}' (it has: {names})")
        limit = timeout or conn.spec.timeout or self.call_timeout
        try:
            async with asyncio.timeout(limit):
                return await conn.client.call_tool(tool, arguments, read_timeout_seconds=limit)
        except TimeoutError:
            raise McpCallError(f"{server}/{tool}: no answer within {limit:g}s") from None
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            reason = describe_error(exc)
            if "closed" in reason or "exited" in reason:
                conn.fail(f"the server died: {reason}")
                conn._stop.set()
                self._changed(conn)
                raise McpCallError(f"MCP server '{server}': {conn.error}") from None
            raise McpCallError(f"{server}/{tool}: {reason}") from None

    def tools(self, names: Iterable[str] | None = None) -> list[ToolInfo]:
        chosen = set(names) if names is not None else None
        found: list[ToolInfo] = []
        for conn in self.connections.values():
            if conn.state == "ready" and (chosen is None or conn.name in chosen):
                found.extend(conn.tools)
        return found

    async def close(self) -> None:
        """Stop every server together (stdio children get their stdin closed, then a signal)."""
        running = [c for c in self.connections.values() if c._task is not None]
        for conn in running:
            conn._stop.set()
        tasks = [c._task for c in running if c._task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=8)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        for conn in running:
            conn._task = None
            conn.client = None
            if conn.state == "ready":
                conn.state = "stopped"
