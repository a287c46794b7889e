"""The agent's approval modal: the WHOLE command or diff the policy asks about, and why.

**o** allows it once, **r** always in this run, **a** always (the toolbox writes the rule shown
to ``[agent.permissions] allow``; offered only when the request names a rule), **d** / **n** /
**Esc** deny. Everything shown came from the model or a file: control sequences are stripped
and nothing is read as markup.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

ANSWERS = ("once", "run", "always", "deny")


def clean(value: Any) -> str:
    from ai_workbench.core.sanitize import strip_controls

    return strip_controls(str(value or ""))


def looks_like_diff(text: str) -> bool:
    lines = text.splitlines()
    return any(line.startswith("@@") for line in lines) or any(
        line.startswith(("--- ", "+++ ", "diff --git")) for line in lines[:5]
    )


def highlighted(text: str, tool: str = "") -> Content:
    """``text`` (already cleaned) as highlighted Content: a diff, a shell command, or plain."""
    from textual.highlight import highlight

    if looks_like_diff(text):
        return highlight(text, language="diff")
    if tool in ("run_command", "bash", "shell"):
        return highlight(text, language="bash")
    return Content(text)


class ApprovalScreen(ModalScreen[str]):
    """Returns ``once``, ``run``, ``always`` or ``deny``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o,y", "answer('once')", "Once", id="agent_approval.once"),
        Binding("r", "answer('run')", "This run", id="agent_approval.run"),
        Binding("a", "answer('always')", "Always", id="agent_approval.always"),
        Binding("d,n,escape", "answer('deny')", "Deny", id="agent_approval.deny"),
    ]

    def __init__(self, request: Any) -> None:
        super().__init__(classes="modal")
        self.request = request
        self.tool = clean(getattr(request, "tool", ""))
        self.summary = clean(getattr(request, "summary", "")) or self.tool
        self.reason = clean(getattr(request, "reason", ""))
        self.detail = clean(getattr(request, "detail", ""))
        self.rule = clean(getattr(request, "rule", ""))

    def compose(self) -> Any:
        with Vertical(classes="dialog", id="agent-approval-dialog"):
            yield Static(
                Content.assemble(("⚠ The agent asks: ", "bold $warning"), (self.summary, "bold")),
                classes="dialog-title",
                id="agent-approval-title",
            )
            if self.reason:
                yield Static(
                    Content.assemble(("Why it asks: ", "dim"), self.reason),
                    classes="dialog-body",
                    id="agent-approval-reason",
                )
            with VerticalScroll(id="agent-approval-scroll"):
                yield Static(highlighted(self.detail, self.tool), id="agent-approval-detail")
            if self.rule:
                yield Static(
                    Content.assemble(
                        ("a", "bold"),
                        " always allows ",
                        (self.rule, "bold $accent"),
                        " (written to [agent.permissions] allow in your settings)",
                    ),
                    classes="dialog-hint",
                    id="agent-approval-rule",
                )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Once (o)", id="once", variant="primary")
                yield Button("This run (r)", id="run")
                yield Button("Always (a)", id="always", disabled=not self.rule)
                yield Button("Deny (d)", id="deny", variant="error")

    def on_mount(self) -> None:
        self.query_one("#deny", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id or "deny")

    def action_answer(self, answer: str) -> None:
        if answer == "always" and not self.rule:
            self.notify("No rule to remember for this one: o once or r for this run.")
            return
        self.dismiss(answer if answer in ANSWERS else "deny")
