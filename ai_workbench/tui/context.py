"""What every pane of the workbench shares: where it runs, the settings and services once they
are loaded, and the event stream. Plain Python (no widgets): the app makes one and hands it to
each pane it composes, so panes reach services through it, never through the app.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai_workbench.core.events import EventBus


@dataclass(frozen=True)
class ModelChoice:
    """The model the next turns use, when the user chose one (command line or picker)."""

    model: str | None = None
    api_base: str | None = None
    provider: str | None = None
    label: str = ""


class Workbench:
    """Settings, services and readiness, filled in by the start-up (tui/boot.py)."""

    def __init__(
        self,
        cwd: Path,
        cli_overrides: dict[str, Any],
        store_path: Path | None,
        cli_choice: ModelChoice | None,
    ) -> None:
        self.cwd = cwd
        self.cli_overrides = cli_overrides
        self.store_path = store_path
        self.cli_choice = cli_choice
        self.bus = EventBus()
        self.loaded: Any = None  # core.settings.Loaded
        self.store: Any = None
        self.sessions: Any = None  # chat.sessions.SessionService
        self.feedback: Any = None  # core.feedback.FeedbackService
        self.suggestion_queue: Any = None
        self.watch_service: Any = None  # watch.WatchService once started
        self.mcp: Any = None  # tui.mcp.WorkbenchMcp, once started (MCP servers configured)
        self.boot_errors: dict[str, str] = {}
        self.config_ready = asyncio.Event()
        self.store_ready = asyncio.Event()
        self.warm: asyncio.Event | None = None  # set once litellm is imported (when needed)

    @property
    def project_root(self) -> Path:
        return Path(self.loaded.project_root) if self.loaded is not None else self.cwd

    def display_path(self, path: Path) -> str:
        try:
            return path.relative_to(self.cwd).as_posix()
        except ValueError:
            return str(path)

    async def wait_store(self) -> bool:
        await self.store_ready.wait()
        return self.store is not None

    def ready(self) -> bool:
        return self.config_ready.is_set() and self.store_ready.is_set()

    async def wait_ready(self) -> str | None:
        """Wait for settings and the store; the problem that stops a turn, if any."""
        await asyncio.gather(self.config_ready.wait(), self.store_ready.wait())
        return self.boot_errors.get("config") or self.boot_errors.get("store")


def clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def escape(text: str) -> str:
    from textual.markup import escape as textual_escape

    return textual_escape(text)
