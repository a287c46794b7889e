"""AI code review: findings on changed lines, checked, filtered, stored, learned from.

Public API (what the CLI, the workbench screen and the file watcher call)::

    from ai_workbench.review import ReviewService, ReviewOptions

    service = ReviewService(loaded_config, store)
    result = await service.review(ReviewOptions(staged=True))           # or rev_range=, files=
    result = await service.review_file(Path("src/app.py"))              # changed hunks of one file
    for finding in result.shown: ...                                    # result.held: held back
    await service.rate(finding.id, -1, "not useful here")               # learns
    await service.apply(finding, Path(result.root), expect=...)         # git apply --check first

Renderers: :mod:`ai_workbench.review.formats` (table, json, md, codeclimate) and
:mod:`ai_workbench.review.sarif`. See docs/review.md for how it all works.
Nothing here imports Textual or litellm at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ai_workbench.review.models import (
    CATEGORIES,
    SEVERITIES,
    Finding,
    ReviewResult,
    ReviewStats,
    rule_id,
)

if TYPE_CHECKING:
    from ai_workbench.review.service import ReviewError, ReviewOptions, ReviewService

_LAZY = frozenset({"ReviewError", "ReviewOptions", "ReviewService"})


def __getattr__(name: str) -> Any:
    # The service (settings, llm engines, ...) loads on first use, so importing a light
    # submodule such as review.schema (the migrations list) does not pay for it.
    if name in _LAZY:
        from ai_workbench.review import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CATEGORIES",
    "SEVERITIES",
    "Finding",
    "ReviewError",
    "ReviewOptions",
    "ReviewResult",
    "ReviewService",
    "ReviewStats",
    "rule_id",
]
