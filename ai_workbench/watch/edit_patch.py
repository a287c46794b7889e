"""An ``AI!`` answer written as SEARCH/REPLACE blocks (core/edits.py) → the exact patch.

The model saw the files redacted, so the blocks are applied to the redacted text and the real
lines are put back wherever the model did not change them (a changed line that still shows a
placeholder is refused, as for diffs). The AI comments that asked for the change are removed
from the result, and the patch is made with :func:`make_diff`, so the usual checks apply.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from ai_workbench.core.edits import EditBlock, EditError, apply_edits, parse_edits
from ai_workbench.core.redact import redact_text
from ai_workbench.watch.diffs import (
    DiffError,
    combined_patch,
    restore_redacted,
    safe_relpath,
)

if TYPE_CHECKING:
    from ai_workbench.watch.service import WatchJob

__all__ = ["edit_blocks", "patch_from_edits", "without_edit_blocks"]

_BLOCK = re.compile(r"^\s*<{5,9} ?SEARCH\b.*?^\s*>{5,9} ?REPLACE\b[^\n]*\n?", re.M | re.S)


def edit_blocks(answer: str) -> list[EditBlock]:
    """The answer's SEARCH/REPLACE (or whole-file) blocks; DiffError when one is malformed."""
    try:
        return parse_edits(answer)
    except EditError as exc:
        raise DiffError(str(exc)) from None


def without_edit_blocks(answer: str) -> str:
    """The answer without its SEARCH/REPLACE blocks (for the prose around them)."""
    return _BLOCK.sub("", answer)


def _means(named: str, relpath: str) -> bool:
    """Whether a path the model wrote stands for ``relpath``: the same path under other
    leading directories, or the same file name (small models copy the prompt's
    ``path/to/file.py`` example)."""
    return named.endswith("/" + relpath) or named.rsplit("/", 1)[-1] == relpath.rsplit("/", 1)[-1]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _restore(real: str, shown: str, changed: str, path: str) -> str:
    """``changed`` (an edit of the redacted ``shown``) with the real lines put back."""
    if shown == real:
        return changed
    real_lines, shown_lines = real.splitlines(), shown.splitlines()
    if len(real_lines) != len(shown_lines):
        raise DiffError(f"{path} holds a multi-line secret; aiw does not edit around it")
    out = restore_redacted(real_lines, shown_lines, changed.splitlines(), path)
    eol = "\r\n" if "\r\n" in real else "\n"
    text = eol.join(out)
    return text + eol if out and changed.endswith("\n") else text


def patch_from_edits(
    service: Any, job: WatchJob, blocks: list[EditBlock]
) -> tuple[str, dict[str, str]]:
    """(exact diff, expect digests) from ``blocks``; DiffError when they cannot be applied."""
    base: dict[str, tuple[str | None, str]] = {job.relpath: (job.text, job.digest)}
    targets: list[EditBlock] = []
    for block in blocks:
        target = safe_relpath(block.path) if block.path else job.relpath
        if (
            target is not None
            and target != job.relpath
            and _means(target, job.relpath)
            and not (service.root / target).exists()
        ):
            target = job.relpath  # "path/to/app.py", "./src/app.py" for the asked file
        if target is None:
            raise DiffError(f"the edit names a path outside the project: {block.path}")
        if target != job.relpath and service.ignore.ignored(target):
            raise DiffError(f"the edit changes {target}, which the watcher ignores")
        if target not in base:
            try:
                data = (service.root / target).read_bytes()
                base[target] = (data.decode("utf-8"), _sha(data))
            except FileNotFoundError:
                base[target] = (None, "absent")
            except (OSError, UnicodeDecodeError) as exc:
                raise DiffError(f"cannot read {target}: {exc}") from None
        targets.append(EditBlock(target, block.search, block.replace, block.whole))

    def attempt(job_text: str) -> dict[str, str]:
        shown = {
            path: (
                redact_text(job_text if path == job.relpath else text) if text is not None else None
            )
            for path, (text, _) in base.items()
        }
        changed = apply_edits(shown, targets, job.relpath, max_whole_lines=200)
        out: dict[str, str] = {}
        for path, text in changed.items():
            real = job_text if path == job.relpath else (base[path][0] or "")
            out[path] = _restore(real, shown[path] or "", text, path)
        return out

    applied = job.text
    try:
        new = attempt(job.text)
    except EditError as first:
        # models often leave the AI comment out of the lines they copy into SEARCH
        stripped = service._without_request(job.text, job)
        if stripped == job.text:
            raise DiffError(str(first)) from None
        try:
            new = attempt(stripped)
            applied = stripped
        except EditError:
            raise DiffError(str(first)) from None
    before = {path: applied if path == job.relpath else base[path][0] for path in new}
    if all(new[path] == before[path] for path in new):
        # only removing the request would be left: that is no change at all
        raise DiffError("the edits change nothing")
    if job.relpath in new:
        new[job.relpath] = service._without_request(new[job.relpath], job)
    else:
        new[job.relpath] = service._without_request(job.text, job)
    return combined_patch(new, base, "the edits change nothing")
