"""The project's files (what git does not ignore); attach one to the next prompt or edit it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DirectoryTree, Static


class ProjectTree(DirectoryTree):
    """A DirectoryTree filtered by the project's ignore rules."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "attach", "Attach", id="files.attach", tooltip="Attach to the next prompt"),
        Binding("o", "open_editor", "Edit", id="files.edit", tooltip="Open in $EDITOR"),
        Binding("R", "reload_tree", "Reload", id="files.reload", show=False),
    ]

    class AttachRequested(Message):
        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    class EditRequested(Message):
        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    def __init__(self, root: Path, keep: Callable[[Path], bool], **kwargs: Any) -> None:
        self._keep = keep
        super().__init__(root, **kwargs)

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [path for path in paths if self._keep(path)]

    def _selected_file(self) -> Path | None:
        node = self.cursor_node
        if node is None or node.data is None:
            return None
        path = node.data.path
        return path if not path.is_dir() else None

    def action_attach(self) -> None:
        path = self._selected_file()
        if path is None:
            self.app.bell()
            return
        self.post_message(self.AttachRequested(path))

    def action_open_editor(self) -> None:
        path = self._selected_file()
        if path is None:
            self.app.bell()
            return
        self.post_message(self.EditRequested(path))

    def action_reload_tree(self) -> None:
        self.reload()

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.post_message(self.AttachRequested(event.path))


class FileTreePane(Vertical):
    """The tree with a title; mounted the first time it is shown."""

    HELP = """\
## Files

The project's files, without what `.gitignore` excludes (git decides when the project is
a repository).

- **a** (or **Enter** on a file) attaches it to the next prompt; again detaches it
- **o** opens it in `$EDITOR` (the workbench steps aside until the editor exits)
- **F2** hides the pane; **R** reloads the tree
"""

    def __init__(self, root: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = root
        self.project_tree: ProjectTree | None = None
        self._status = Static("Reading the project…", classes="pane-status")

    def compose(self) -> Any:
        yield Static(f"Files · {self.root.name}", classes="pane-title")
        yield self._status

    def on_mount(self) -> None:
        self.run_worker(self._load(), group="files", exclusive=True, exit_on_error=False)

    async def _load(self) -> None:
        """Read the project's visible files (git or .gitignore) in a thread, then show them."""
        import asyncio

        from ai_workbench.core.project_files import visible_set

        keep = await asyncio.to_thread(visible_set, self.root)
        await self.show_tree(keep, keep.source)

    async def show_tree(self, keep: Callable[[Path], bool], source: str) -> None:
        self._status.display = False
        self.project_tree = ProjectTree(self.root, keep, id="file-tree")
        await self.mount(self.project_tree)
        self.project_tree.focus()
