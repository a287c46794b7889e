"""Open a file in the user's editor at a line, with the workbench stepped aside meanwhile."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

# Editors that take `+LINE path`; others get the path alone (VS Code: `-g path:line`).
_PLUS_LINE = {
    "vi",
    "vim",
    "nvim",
    "view",
    "nano",
    "emacs",
    "emacsclient",
    "micro",
    "kak",
    "joe",
    "mg",
    "ne",
    "jed",
}
_COLON_LINE = {"hx", "helix", "subl", "zed"}
_GOTO_LINE = {"code", "code-insiders", "codium", "cursor"}


def editor_command(editor: str, path: Path, line: int | None) -> list[str]:
    """The command that opens ``path`` at ``line`` in ``editor`` ($VISUAL/$EDITOR syntax)."""
    argv = shlex.split(editor) or ["vi"]
    name = os.path.basename(argv[0])
    if line and name in _PLUS_LINE:
        return [*argv, f"+{line}", str(path)]
    if line and name in _COLON_LINE:
        return [*argv, f"{path}:{line}"]
    if line and name in _GOTO_LINE:
        return [*argv, "-g", f"{path}:{line}"]
    return [*argv, str(path)]


def run_editor(app: Any, path: Path, line: int | None = None) -> None:
    """Suspend ``app``, run ``$VISUAL``/``$EDITOR`` on ``path`` (at ``line``), come back."""
    import subprocess

    from textual.app import SuspendNotSupported

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        with app.suspend():
            subprocess.run(editor_command(editor, path, line), check=False)
    except SuspendNotSupported:
        app.notify("This terminal cannot hand over to an editor.", severity="warning")
    except OSError as exc:
        app.notify(
            f"cannot start editor '{editor}': {exc.strerror or exc}; set $EDITOR",
            severity="error",
        )
