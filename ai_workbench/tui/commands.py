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


# Commands of features that live in their own modules (the workbench's own: palette_commands()).
EXTRA_COMMANDS: list[PaletteCommand] = [
    PaletteCommand(
        "Review changes",
        "AI code review of the uncommitted changes: apply, rate, dismiss findings",
        "review",
        "app.review",
    ),
    PaletteCommand(
        "Memory",
        "What aiw remembers about you: profile facts and summaries; add, edit, forget, clear",
        "memory",
    ),
    PaletteCommand(
        "Agent mode",
        "Hand a goal to a model with tools (plan/ask/auto-edit/full-auto); approve what it asks",
        "agent",
        "app.agent",
    ),
    PaletteCommand(
        "Documents",
        "Architecture documents (ADR, SRS, NFR, API, C4, UML...): new, preview, export, rate",
        "documents",
    ),
    PaletteCommand(
        "MCP servers",
        "The MCP servers and their states; choose whose tools this session offers the model",
        "mcp_servers",
    ),
    PaletteCommand(
        "Knowledge sources",
        "Confluence, GitLab, GitHub, web and folder sources: sync one, read the runs' reports",
        "sources",
    ),
]


def palette_commands() -> list[PaletteCommand]:
    """Every workbench command with the binding whose key the palette shows next to it."""
    C = PaletteCommand
    conversation = "the conversation"
    sessions = "the session list"
    return [
        C("Send prompt", "Send what is in the prompt box", "send_prompt", "prompt.send"),
        C("New session", "Start an empty session", "new_session", "app.new_session"),
        C(
            "Search sessions",
            "Full-text search over every message of every session",
            "search_sessions",
            "app.search",
        ),
        C(
            "Rename session",
            "Give the session a new title",
            "rename_session",
            "sessions.rename",
            sessions,
        ),
        C(
            "Delete session",
            "Delete the session and its messages (asks first)",
            "delete_session",
            "sessions.delete",
            sessions,
        ),
        C(
            "Export session as Markdown",
            "Write the session to a .md file in the project",
            "export('md')",
            "sessions.export_md",
            sessions,
        ),
        C(
            "Export session as JSON",
            "Write the session to a .json file in the project",
            "export('json')",
            "sessions.export_json",
            sessions,
        ),
        C("Choose model", "Pick a provider profile or type a model", "pick_model", "app.model"),
        C(
            "Set up a model",
            "What answers, why not, and ways forward: start a server, a cloud key, any URL",
            "setup_model",
        ),
        C(
            "Choose persona",
            "Pick the expert persona for this session",
            "pick_persona",
            "app.persona",
        ),
        C("Toggle file tree", "Show or hide the project's files", "toggle_files", "app.files"),
        C("Toggle tasks", "Show or hide your tasks and reminders", "toggle_tasks", "app.tasks"),
        C(
            "Toggle suggestions",
            "Show or hide the suggestions panel",
            "toggle_suggestions",
            "app.suggestions",
        ),
        C(
            "Toggle project knowledge",
            "Ground answers in the project index, with path:lines citations",
            "toggle_kb",
            "app.kb",
        ),
        C(
            "Index the project",
            "Build or update the project index (as `aiw index`) in the background",
            "index_project",
            None,
        ),
        C(
            "Open a cited location",
            "Open a path:lines cited by the selected (or last) answer in $EDITOR",
            "message('open_citation')",
            "chat.open_citation",
            conversation,
        ),
        C(
            "Process AI comments now",
            "Turn pending AI! / AI? comments in the project into suggestions",
            "process_ai_comments",
            "app.watch_now",
        ),
        C(
            "Cancel answer",
            "Stop the streaming answer (the partial text is kept)",
            "cancel_answer",
            "app.cancel",
        ),
        C(
            "Like answer",
            "Rate the selected (or last) answer +1",
            "message('like')",
            "chat.like",
            conversation,
        ),
        C(
            "Dislike answer",
            "Rate the selected (or last) answer -1",
            "message('dislike')",
            "chat.dislike",
            conversation,
        ),
        C(
            "Copy answer",
            "Copy the selected (or last) message",
            "message('copy')",
            "chat.copy",
            conversation,
        ),
        C(
            "Copy code block",
            "Copy a code block of the selected (or last) answer",
            "message('copy_code')",
            "chat.copy_code",
            conversation,
        ),
        C(
            "Edit and resend prompt",
            "Put the selected (or last) prompt back in the prompt box",
            "message('edit')",
            "chat.edit",
            conversation,
        ),
        C(
            "Regenerate answer",
            "Answer the selected (or last) prompt again; retries a failed turn",
            "message('regenerate')",
            "chat.regenerate",
            conversation,
        ),
        C("Focus conversation", "Move to the messages", "focus_chat", "app.focus_chat"),
        C("Focus prompt", "Move to the prompt box", "focus_prompt", "app.focus_prompt"),
        C("Help", "Help for the focused pane, with its keys", "help", "app.help"),
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
