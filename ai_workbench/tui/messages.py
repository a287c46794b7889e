"""Textual messages the panes send each other through the app (which routes them: a pane never
reaches into another pane or into the app). Each names what happened, not who should act."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.message import Message


class OpenInEditor(Message):
    """Open ``path`` (at ``line``) in the user's editor."""

    def __init__(self, path: Path, line: int | None = None) -> None:
        super().__init__()
        self.path = path
        self.line = line


class PromptDraft(Message):
    """Put ``text`` into the prompt box (and focus it) for the user to edit and send."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class SessionShown(Message):
    """The conversation now shows ``session_id`` (None: a new, unsaved session); ``changed``
    when the session list's titles or counts are stale (a turn was saved)."""

    def __init__(self, session_id: str | None, changed: bool = False) -> None:
        super().__init__()
        self.session_id = session_id
        self.changed = changed


class SessionEdited(Message):
    """A session was renamed or its choices saved; ``session`` is the stored one."""

    def __init__(self, session: Any) -> None:
        super().__init__()
        self.session = session


class SessionDeleted(Message):
    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id


class ModelChanged(Message):
    """The model for the next turns changed: the start-up may need to load a client for it."""


class Status(Message):
    """Show ``markup`` in the line above the prompt ("" clears it)."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.markup = markup


class SetupRequested(Message):
    """Show the model set-up (welcome) view: no model answers, or the user asked for it."""
