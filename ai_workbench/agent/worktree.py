"""What a run changed in the project, commands included: the work tree before and after, as git
trees, and the diffstat between them.

The steps' own diffs only know what ``edit_file`` and ``write_file`` changed; a command
(``sed -i``, a formatter, a code generator) changes files too. :func:`snapshot` writes the work
tree as it is (tracked files and the untracked ones git does not ignore) as a tree object, through
a temporary copy of the index, so the user's index and branch stay untouched; :func:`diffstat`
compares two such trees. Git runs with hooks, fsmonitor and pagers off (it runs outside the
sandbox). Outside a git repository there is no snapshot and the summary keeps the steps' diffs.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from ai_workbench.agent.sandbox import plain_env
from ai_workbench.agent.summary import FileChange

__all__ = ["diffstat", "snapshot"]

_GIT = ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
        "-c", "core.pager=cat"]  # fmt: skip
_TIMEOUT = 60.0


def _git(root: Path, *args: str, env: dict[str, str] | None = None) -> str | None:
    try:
        done = subprocess.run(
            [*_GIT, *args], cwd=root, capture_output=True, timeout=_TIMEOUT, check=False,
            stdin=subprocess.DEVNULL, env=env or plain_env({"GIT_TERMINAL_PROMPT": "0"}),
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "surrogateescape")


def snapshot(root: Path) -> str | None:
    """The id of a tree object holding the work tree under ``root`` as it is now; None when
    ``root`` is not in a git repository or git fails."""
    index = _git(root, "rev-parse", "--git-path", "index")
    if index is None:
        return None
    real_index = Path(root, index.strip())
    with tempfile.TemporaryDirectory(prefix="aiw-agent-index-") as scratch:
        temp_index = Path(scratch, "index")
        if real_index.is_file():
            shutil.copyfile(real_index, temp_index)  # stat data kept: only changed files hashed
        env = plain_env({"GIT_INDEX_FILE": str(temp_index), "GIT_TERMINAL_PROMPT": "0"})
        if _git(root, "add", "--all", "--", ".", env=env) is None:
            return None
        tree = _git(root, "write-tree", env=env)
    return tree.strip() if tree else None


def diffstat(root: Path, before: str, after: str) -> list[FileChange] | None:
    """Lines added and removed per file between two snapshots, paths relative to ``root``
    (binary files count 0/0); None when git fails."""
    out = _git(root, "diff", "--numstat", "--no-renames", "--relative", "-z", before, after)
    if out is None:
        return None
    changes: list[FileChange] = []
    for record in out.split("\0"):
        if not record.strip():
            continue
        added, removed, path = [*record.split("\t", 2), "", ""][:3]
        if not path:
            continue
        changes.append(
            FileChange(path, int(added) if added.isdigit() else 0,
                       int(removed) if removed.isdigit() else 0)
        )  # fmt: skip
    return sorted(changes, key=lambda change: change.path)
