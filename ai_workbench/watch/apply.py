"""Apply a queued suggestion's patch: the one path ``aiw suggestions apply`` and tests use.

It reads ``payload["patch"]``, ``payload["root"]`` and ``payload["expect"]`` (see the action
constants in :mod:`ai_workbench.suggestions.service`) and hands them to
:func:`ai_workbench.core.patches.apply_patch`, which checks first, refuses a file edited since the
suggestion was made and changes nothing on any error. On success the suggestion is marked
``applied``. Works for any producer's patch (watch, review), not only the watcher's.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ai_workbench.core.errors import InputError
from ai_workbench.suggestions.service import Suggestion, SuggestionQueue

__all__ = ["apply_suggestion", "patch_of", "project_of", "same_project"]


def project_of(item: Suggestion) -> str | None:
    """The project a suggestion belongs to: ``payload["root"]``, else the shell's ``cwd``."""
    payload: dict[str, Any] = item.payload or {}
    for key in ("root", "cwd"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def same_project(root: Path, here: Path) -> bool:
    """Whether ``root`` (a suggestion's project) is the project ``here`` is in."""
    from ai_workbench.core.paths import find_project_config, find_project_root

    here = here.resolve()
    candidates = {find_project_root(here)}
    config = find_project_config(here)
    if config is not None:
        candidates.add(config.parent.resolve())
    return root.resolve() in candidates


def patch_of(item: Suggestion) -> tuple[Path, str, dict[str, str] | None]:
    """(root, patch, expect) of a suggestion; InputError when it carries no patch."""
    payload: dict[str, Any] = item.payload or {}
    patch = payload.get("patch")
    if not isinstance(patch, str) or not patch.strip():
        actions = ", ".join(a.id for a in item.actions) or "none"
        raise InputError(
            f"suggestion {item.id} has no patch to apply (its actions: {actions}); "
            f"see it with `aiw suggestions show {item.id}`"
        )
    root = Path(str(payload.get("root") or "."))
    if not root.is_dir():
        raise InputError(f"suggestion {item.id}: its project {root} no longer exists")
    expect = payload.get("expect")
    return root, patch, dict(expect) if isinstance(expect, dict) else None


async def apply_suggestion(
    queue: SuggestionQueue,
    suggestion_id: int,
    *,
    check_only: bool = False,
    here: Path | None = None,
) -> Any:
    """Apply (or with ``check_only`` just check) a suggestion's patch; mark it applied.

    With ``here`` (the CLI passes the cwd unless --any-project) a suggestion made for another
    project is refused: the queue is shared by every project, so `apply 1` typed in repo B
    must not patch repo A.

    Raises :class:`~ai_workbench.core.patches.PatchError` (nothing changed) or
    :class:`InputError`. Returns the :class:`~ai_workbench.core.patches.PatchResult`, or the
    checked paths with ``check_only``.
    """
    from ai_workbench.core.patches import PatchError, apply_patch, check_patch

    item = await queue.get(suggestion_id)
    if item.status in ("applied", "dismissed"):
        raise InputError(f"suggestion {item.id} is already {item.status}")
    root, patch, expect = patch_of(item)
    if here is not None and not same_project(root, here):
        raise InputError(
            f"suggestion {item.id} is for the project {root}, not this one; cd into {root} "
            "to apply it, or pass --any-project to apply it there from here"
        )
    try:
        if check_only:
            return await asyncio.to_thread(check_patch, root, patch, expect=expect)
        result = await asyncio.to_thread(apply_patch, root, patch, expect=expect)
    except PatchError as exc:
        raise PatchError(f"suggestion {item.id}: {exc}", paths=exc.paths) from None
    await queue.set_status(item.id, "applied")
    return result
