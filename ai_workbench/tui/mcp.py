"""MCP servers in the workbench: started after the first frame, their states from the event
stream, which servers' tools each session offers the model, and the question before a call.

Made by ``Background.start_mcp`` once the settings are loaded, and only when MCP servers are
configured (``ctx.mcp`` stays None otherwise): the SDK is imported in a thread, then the servers
start together (ai_workbench/mcp/hub.py). Their states arrive as
:class:`~ai_workbench.core.events.McpServerState` events (mcp/feed.py); a failure is announced
with the server's name, the reason and the tail of its stderr. The chips pane shows a ``tools``
chip; the conversation pane asks :meth:`WorkbenchMcp.toolbox` for the open session's tools.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Callable
from typing import Any

from ai_workbench.core.events import McpServerState
from ai_workbench.tui.context import Workbench, clip, escape


class WorkbenchMcp:
    """The hub of this workbench, the servers' last known states and each session's choice."""

    def __init__(self, app: Any, ctx: Workbench, listed: Any) -> None:
        self.app = app
        self.ctx = ctx
        self.listed = listed  # mcp.config.ServerList
        self.hub: Any = None
        self.states: dict[str, McpServerState] = {}
        # Servers whose tools a session offers, by session id (None: the new session).
        self.chosen: dict[str | None, set[str]] = {}
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def names(self) -> list[str]:
        return [spec.name for spec in self.listed.servers]

    async def start(self) -> None:
        """Import the SDK in a thread, then start every enabled server together."""
        from ai_workbench.mcp.service import open_hub

        loaded = self.ctx.loaded
        self._unsubscribe = self.ctx.bus.on(self._state_changed, McpServerState)
        self.hub = open_hub(loaded, self.listed, self.ctx.bus)
        if any(spec.enabled and not spec.problem for spec in self.listed.servers):
            await asyncio.to_thread(_import_sdk)
            await self.hub.start()

    async def restart(self, name: str) -> None:
        conn = self.hub.get(name)
        if conn.state in ("failed", "stopped") and conn.spec.enabled and not conn.spec.problem:
            if conn._task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait([conn._task], timeout=5)
            conn._task = None
            conn.state = "idle"
            await self.hub.start([name])

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.hub is not None:
            await self.hub.close()

    # ---- states

    def state(self, name: str) -> McpServerState:
        return self.states.get(name) or McpServerState(server=name, state="idle")

    def _state_changed(self, event: McpServerState) -> None:
        before = self.states.get(event.server)
        self.states[event.server] = event
        if event.state == "failed" and (before is None or before.state != "failed"):
            self.app.notify(
                f"{event.server}: {clip(event.error, 300)}",
                title="MCP server failed",
                severity="error",
                timeout=12,
            )
        with contextlib.suppress(Exception):  # the chips pane is not there while closing
            self.app.chat.bar.redraw()

    # ---- each session's servers

    def chosen_for(self, session_id: str | None) -> set[str]:
        return self.chosen.get(session_id, set())

    def choose(self, session_id: str | None, servers: set[str]) -> None:
        self.chosen[session_id] = set(servers) & set(self.names)

    def adopt(self, session_id: str) -> None:
        """The new session got its id (first turn): its choice goes with it."""
        if None in self.chosen:
            self.chosen[session_id] = self.chosen.pop(None)

    def chip(self, session_id: str | None) -> tuple[str, str, bool]:
        """The ``tools`` chip: (value, label, warn)."""
        chosen = [n for n in self.names if n in self.chosen_for(session_id)]
        if not chosen:
            failed = sum(1 for n in self.names if self.state(n).state == "failed")
            more = f" · {failed} failed" if failed else ""
            return "", f"tools: off ({len(self.names)} MCP){more}", False
        marks = {"starting": "…", "failed": " ✗", "idle": "…"}
        label = ", ".join(f"{n}{marks.get(self.state(n).state, '')}" for n in chosen)
        warn = any(self.state(n).state == "failed" for n in chosen)
        return ",".join(chosen), f"tools: {label}", warn

    def line(self, name: str) -> str:
        """One server's state as markup: ``ready, 5 tools`` / ``failed: why``."""
        event = self.state(name)
        if event.state == "ready":
            return f"[$success]ready[/], {event.tools} tool{'s' if event.tools != 1 else ''}"
        if event.state == "failed":
            return f"[$error]failed:[/] {escape(event.error)}"
        if event.state in ("starting", "idle"):
            return "[$warning]starting…[/]"
        return escape(event.state)

    # ---- a turn's tools

    async def toolbox(self, session_id: str | None, report: Callable[[Any], None]) -> Any:
        """The tools of the servers this session chose (None when it chose none); waits for
        servers still starting."""
        chosen = [n for n in self.names if n in self.chosen_for(session_id)]
        if not chosen or self.hub is None:
            return None
        from ai_workbench.mcp.service import McpToolbox

        await self.hub.start(chosen)  # returns at once for servers ready or failed
        return McpToolbox(
            self.hub,
            chosen,
            approver=self.approve,
            max_result_chars=self.ctx.loaded.settings.mcp.max_result_chars,
            report=report,
        )

    async def approve(self, info: Any, arguments: dict[str, Any]) -> str:
        """Ask in a modal: ``once``, ``always`` or ``deny`` (also when the turn is cancelled)."""
        from ai_workbench.tui.screens.mcp import ToolCallScreen

        decided: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        screen = ToolCallScreen(info.server, info.name, info.description, arguments)

        def done(decision: str | None) -> None:
            if not decided.done():
                decided.set_result(decision or "deny")

        self.app.push_screen(screen, done)
        try:
            return await decided
        except asyncio.CancelledError:
            if self.app.screen is screen:
                self.app.pop_screen()
            raise


def tool_line(event: Any) -> Any:
    """What the conversation shows of a call (a ``Content``, never markup: the text comes from
    the model and the server): the call, its result or the refusal."""
    from textual.content import Content

    from ai_workbench.tui.screens.mcp import shown_arguments

    name = f"⚙ {event.server}/{event.tool} "
    args = clip(shown_arguments(event.arguments), 160)
    if event.phase == "call":
        return Content.assemble((name, "$accent"), (args, "dim"), " …")
    if event.phase == "refused":
        return Content.assemble(
            (name, "$warning"), (args, "dim"), " → not allowed (the model was told)"
        )
    lines = len(event.text.splitlines()) if event.text else 0
    notes = []
    if event.redacted:
        notes.append(f"{event.redacted} secret(s) redacted")
    if event.cut:
        notes.append("cut")
    extra = (f" ({', '.join(notes)})", "dim") if notes else ""
    summary = clip(event.text, 160) or "(nothing)"
    if event.is_error:
        return Content.assemble((name, "$error"), (args, "dim"), f" → error: {summary}", extra)
    return Content.assemble(
        (name, "$accent"), (args, "dim"), f" → {lines} line(s): {summary}", extra
    )


async def start_mcp(app: Any, ctx: Workbench) -> WorkbenchMcp | None:
    """Read the configured servers (a thread) and start them; None when there are none."""
    from ai_workbench.mcp.config import load_servers

    try:
        listed = await asyncio.to_thread(load_servers, ctx.loaded)
    except Exception as exc:
        app.notify(f"MCP servers: {exc}", severity="error", timeout=10)
        return None
    for notice in listed.notices:
        app.notify(notice, title="MCP", severity="warning", timeout=10)
    if not listed.servers:
        return None
    mcp = WorkbenchMcp(app, ctx, listed)
    ctx.mcp = mcp
    await mcp.start()
    return mcp


def _import_sdk() -> None:
    importlib.import_module("mcp")
    importlib.import_module("mcp.client.stdio")
    importlib.import_module("mcp.client.streamable_http")
