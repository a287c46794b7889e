"""F1: help for the focused pane, with the keys that work there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static

KeySection = tuple[str, Sequence[tuple[str, str]]]


def keys_markup(sections: Sequence[KeySection]) -> str:
    """Key tables as aligned markup (much cheaper to render than Markdown tables)."""
    width = max((len(key) for _, rows in sections for key, _ in rows), default=4) + 2
    lines: list[str] = []
    for title, rows in sections:
        if not rows:
            continue
        lines.append(f"[b $primary]{escape(title)}[/]")
        for key, what in rows:
            lines.append(f"  [b $accent]{escape(key.ljust(width))}[/]{escape(what)}")
        lines.append("")
    return "\n".join(lines).rstrip()


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "close", "Close", id="help.close"),
    ]

    def __init__(self, markdown: str, keys: Sequence[KeySection] = ()) -> None:
        super().__init__(classes="modal")
        self.markdown = markdown
        self.keys = list(keys)

    @property
    def text(self) -> str:
        """Everything the screen shows, as plain text (for tests and screen readers)."""
        rows = [f"{key} {what}" for _, section in self.keys for key, what in section]
        return "\n".join([self.markdown, *[title for title, _ in self.keys], *rows])

    def compose(self) -> Any:
        with Vertical(classes="dialog", id="help-dialog"):
            with VerticalScroll(id="help-scroll"):
                yield Markdown(self.markdown, id="help-text")
                yield Static(keys_markup(self.keys), id="help-keys")
            yield Static(
                "[dim]Esc or F1 closes · Ctrl+P lists every command[/dim]", classes="dialog-hint"
            )

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)


APP_HELP = """\
## aiw workbench

Sessions on the left, the conversation in the middle, suggestions on the right.
**Tab** moves between panes; **F1** shows help for the pane you are in.

Type a prompt at the bottom and press **Enter**. Attach project files from the file tree
(**F2**). Pick a model (**Ctrl+O**) or a persona (**Ctrl+R**). Every command, with its key,
is in the palette (**Ctrl+P**), which also switches themes.

Keys can be remapped by binding id in `~/.config/aiw/keys.toml`, e.g.
`[keys]` `"prompt.send" = "ctrl+s"`.
"""


def help_for_focus(app: Any) -> tuple[str, list[KeySection]]:
    """The focused pane's HELP text and the keys active now (pane first, then global)."""
    from dataclasses import replace

    from textual.app import App

    text = None
    node: Any = app.focused
    while node is not None and node is not app:
        text = getattr(type(node), "HELP", None)
        if text:
            break
        node = node.parent
    groups: dict[bool, dict[str, list[str]]] = {True: {}, False: {}}  # global? → what → keys
    for key, active in app.screen.active_bindings.items():
        binding = active.binding
        if not binding.description or binding.system or not (binding.id or binding.show):
            continue  # Textual's own scrolling / editing keys: documented upstream
        what = binding.tooltip or binding.description
        shown = app.get_key_display(replace(binding, key=key))
        keys = groups[isinstance(active.node, App)].setdefault(what, [])
        if shown not in keys:
            keys.append(shown)
    here = [(" ".join(keys), what) for what, keys in groups[False].items()]
    everywhere = [(" ".join(keys), what) for what, keys in groups[True].items()]
    everywhere.append((app.get_key_display(Binding("ctrl+p", "")), "Command palette"))
    everywhere.append((app.get_key_display(Binding("ctrl+q", "")), "Quit"))
    return text or APP_HELP, [("Keys here", here), ("Everywhere", everywhere)]
