"""MCP modals: the question before a tool call, and the servers with their states (where a
session turns servers' tools on and off)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option


def clean_arguments(value: Any) -> Any:
    """A call's arguments with control sequences stripped from every string (keys too)."""
    from ai_workbench.core.sanitize import strip_controls

    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, dict):
        return {strip_controls(str(k)): clean_arguments(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_arguments(v) for v in value]
    return value


def shown_arguments(arguments: dict[str, Any], indent: int | None = None) -> str:
    """The arguments as JSON to show: control sequences stripped, secrets redacted (a model
    may put a secret from the conversation into a call)."""
    import json

    from ai_workbench.core.redact import redact_text

    text = json.dumps(clean_arguments(arguments), ensure_ascii=False, indent=indent, sort_keys=True)
    return redact_text(text)


class ToolCallScreen(ModalScreen[str]):
    """Allow one MCP tool call: **y** once, **a** always (this server's tool, remembered),
    **n** / **Esc** no. Returns ``once``, ``always`` or ``deny``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer('once')", "Yes, once", id="mcp_call.once"),
        Binding("a", "answer('always')", "Always", id="mcp_call.always"),
        Binding("n,escape", "answer('deny')", "No", id="mcp_call.deny"),
    ]

    def __init__(self, server: str, tool: str, description: str, arguments: dict[str, Any]) -> None:
        super().__init__(classes="modal")
        self.server = server
        self.tool = tool
        self.description = description
        self.arguments_text = shown_arguments(arguments, indent=2)

    def compose(self) -> Any:
        from ai_workbench.core.sanitize import strip_controls

        about = escape(strip_controls(self.description or "")[:300])
        with Vertical(classes="dialog", id="mcp-call-dialog"):
            yield Static(
                f"[b]The model wants to call [$accent]{escape(self.tool)}[/] "
                f"on the MCP server [$accent]{escape(self.server)}[/][/b]",
                classes="dialog-title",
            )
            if about:
                yield Static(f"[dim]{about}[/dim]", classes="dialog-body")
            yield Static("[b]Arguments[/b]", classes="dialog-body")
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(escape(self.arguments_text), id="mcp-call-arguments")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes, once (y)", id="once", variant="primary")
                yield Button("Always this tool (a)", id="always")
                yield Button("No (n)", id="deny")

    def on_mount(self) -> None:
        self.query_one("#deny", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id or "deny")

    def action_answer(self, decision: str) -> None:
        self.dismiss(decision)


class McpServersScreen(ModalScreen[set[str] | None]):
    """The configured MCP servers and their states; **Space**/**Enter** turns a server's tools
    on or off for this session, **r** restarts a failed server, **Esc** closes (keeping the
    choice). Returns the servers chosen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="mcp_servers.close"),
        Binding("space", "toggle", "On/off", id="mcp_servers.toggle"),
        Binding("r", "restart", "Restart", id="mcp_servers.restart"),
    ]

    def __init__(self, mcp: Any, chosen: set[str], purpose: str = "this session") -> None:
        super().__init__(classes="modal")
        self.mcp = mcp
        self.chosen = set(chosen)
        self.purpose = purpose  # whose tools: "this session", "agent runs"
        self._unsubscribe: Any = None

    def compose(self) -> Any:
        with Vertical(classes="dialog picker", id="mcp-servers-dialog"):
            yield Static(
                f"[b]MCP servers: tools for {escape(self.purpose)}[/b]", classes="dialog-title"
            )
            yield OptionList(id="mcp-servers")
            verb = "uses" if self.purpose == "this session" else "use"
            yield Static(
                f"[dim]Space/Enter: {escape(self.purpose)} {verb} the server's tools or not · "
                "r restarts a failed server · Esc closes[/dim]",
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        from ai_workbench.core.events import McpServerState

        self._unsubscribe = self.mcp.ctx.bus.on(lambda _: self._refresh(), McpServerState)
        self.call_after_refresh(self._first_refresh)

    def _first_refresh(self) -> None:
        self._refresh()
        self.query_one(OptionList).focus()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    def _refresh(self) -> None:
        options = next(iter(self.query(OptionList)), None)
        if options is None:  # not mounted yet (the first refresh follows)
            return
        highlighted = options.highlighted
        shown = []
        for spec in self.mcp.listed.servers:
            mark = "[$accent]☑[/]" if spec.name in self.chosen else "☐"
            where = escape(f"{spec.transport}: {spec.target}"[:80])
            prompt = (
                f"{mark} [b]{escape(spec.name)}[/b]  {self.mcp.line(spec.name)}\n"
                f"    [dim]{where} · {escape(spec.source)}[/dim]"
            )
            shown.append(Option(Content.from_markup(prompt), id=spec.name))
        options.set_options(shown)
        if shown:
            options.highlighted = min(highlighted or 0, len(shown) - 1)

    def _current(self) -> str | None:
        option = self.query_one(OptionList).highlighted_option
        return option.id if option is not None else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_toggle()

    def action_toggle(self) -> None:
        name = self._current()
        if name is None:
            return
        self.chosen.symmetric_difference_update({name})
        self._refresh()

    def action_restart(self) -> None:
        name = self._current()
        if name is None or self.mcp.state(name).state != "failed":
            self.app.bell()
            return
        self.app.run_worker(self.mcp.restart(name), group="mcp", exit_on_error=False)

    def action_close(self) -> None:
        self.dismiss(self.chosen)
