"""Apply a queued suggestion's patch: the one path ``aiw suggestions apply`` and tests use.

It reads ``payload["patch"]``, ``payload["root"]`` and ``payload["expect"]`` (see the action
constants in :mod:`ai_workbench.core.suggestions`) and hands them to
:func:`ai_workbench.core.patches.apply_patch`, which checks first, refuses a file edited since the
suggestion was made and changes nothing on any error. On success the suggestion is marked
``applied``. Works for any producer's patch (watch, review), not only the watcher's.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ai_workbench.core.errors import InputError
from ai_workbench.core.suggestions import Suggestion, SuggestionQueue

__all__ = ["apply_suggestion", "patch_of"]


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
    queue: SuggestionQueue, suggestion_id: int, *, check_only: bool = False
) -> Any:
    """Apply (or with ``check_only`` just check) a suggestion's patch; mark it applied.

    Raises :class:`~ai_workbench.core.patches.PatchError` (nothing changed) or
    :class:`InputError`. Returns the :class:`~ai_workbench.core.patches.PatchResult`, or the
    checked paths with ``check_only``.
    """
    from ai_workbench.core.patches import PatchError, apply_patch, check_patch

    item = await queue.get(suggestion_id)
    if item.status in ("applied", "dismissed"):
        raise InputError(f"suggestion {item.id} is already {item.status}")
    root, patch, expect = patch_of(item)
    try:
        if check_only:
            return await asyncio.to_thread(check_patch, root, patch, expect=expect)
        result = await asyncio.to_thread(apply_patch, root, patch, expect=expect)
    except PatchError as exc:
        raise PatchError(f"suggestion {item.id}: {exc}", paths=exc.paths) from None
    await queue.set_status(item.id, "applied")
    return result
