"""The command palette (Ctrl+P): every workbench action, with the key that runs it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

if TYPE_CHECKING:
    from ai_workbench.tui.app import AiwApp


@dataclass(frozen=True)
class PaletteCommand:
    title: str
    help: str
    action: str  # an action string run on the app, e.g. "new_session"
    binding_id: str | None = None  # whose key is shown next to the title
    where: str = ""  # "" for anywhere, else the pane the key works in


# Commands of features that live in their own modules (the app's list is palette_commands()).
EXTRA_COMMANDS: list[PaletteCommand] = [
    PaletteCommand(
        "Review changes",
        "AI code review of the uncommitted changes: apply, rate, dismiss findings",
        "review",
        "app.review",
    ),
]


class AiwCommands(Provider):
    """Lists :meth:`AiwApp.palette_commands`; fuzzy search on the titles."""

    @property
    def _aiw(self) -> AiwApp:
        return self.app  # type: ignore[return-value]

    def _display(self, command: PaletteCommand, title: Content) -> Content:
        key = self._aiw.key_for(command.binding_id) if command.binding_id else ""
        if not key:
            return title
        where = f" in {command.where}" if command.where else ""
        return Content.assemble(title, "  ", Content.from_markup(f"[not bold $accent]{key}[/]"),
                                Content.from_markup(f"[not bold dim]{where}[/]"))  # fmt: skip

    def _run(self, action: str) -> Any:
        return partial(self._aiw.run_action, action)

    def _commands(self) -> list[PaletteCommand]:
        return [*self._aiw.palette_commands(), *EXTRA_COMMANDS]

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(
                self._display(command, Content(command.title)),
                self._run(command.action),
                text=command.title,
                help=command.help,
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score,
                    self._display(command, matcher.highlight(command.title)),
                    self._run(command.action),
                    text=command.title,
                    help=command.help,
                )
