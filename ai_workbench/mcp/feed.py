"""MCP servers' connection states as events (:class:`~ai_workbench.core.events.McpServerState`).

The hub calls back on every change of a connection (starting, ready, failed, stopped); this
module turns that into an event on a bus, so the workbench (and later the HTTP server's SSE
stream) shows each server's state without asking the hub.
"""

from __future__ import annotations

from ai_workbench.core.events import EventBus, McpServerState
from ai_workbench.mcp.hub import Connection, McpHub


def state_event(conn: Connection) -> McpServerState:
    """The event for ``conn``'s current state."""
    return McpServerState(
        server=conn.name,
        state=conn.state,
        tools=len(conn.tools) if conn.state == "ready" else 0,
        error=(conn.error or "") if conn.state == "failed" else "",
        transport=conn.spec.transport,
        target=conn.spec.target,
    )


def publish_states(hub: McpHub, bus: EventBus) -> None:
    """Publish every later state change of ``hub``'s servers on ``bus``, and their states now
    (a disabled server, or one whose configuration is broken, never changes again)."""
    previous = hub.on_state

    def changed(conn: Connection) -> None:
        if previous is not None:
            previous(conn)
        bus.publish(state_event(conn))

    hub.on_state = changed
    for conn in hub.connections.values():
        bus.publish(state_event(conn))
