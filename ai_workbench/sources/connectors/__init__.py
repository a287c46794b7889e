"""One connector per kind of source. A connector yields :data:`~ai_workbench.sources.models.Item`
values (a fetched document, one known to be unchanged, or one that failed) and raises
:class:`~ai_workbench.sources.models.SourceError` when the source as a whole cannot be read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from ai_workbench.sources.models import Item, Known, Source


class Connector(Protocol):
    async def items(self, known: dict[str, Known], state: dict[str, Any]) -> AsyncIterator[Item]:
        """Every document the source holds now (the sync deletes the others)."""
        ...

    async def close(self) -> None: ...


def connector_for(source: Source) -> Connector:
    if source.kind == "confluence":
        from ai_workbench.sources.connectors.confluence import Confluence

        return Confluence(source)
    if source.kind == "gitlab":
        from ai_workbench.sources.connectors.gitlab import GitLab

        return GitLab(source)
    if source.kind == "github":
        from ai_workbench.sources.connectors.github import GitHub

        return GitHub(source)
    if source.kind == "web":
        from ai_workbench.sources.connectors.web import WebSite

        return WebSite(source)
    from ai_workbench.sources.connectors.folder import Folder

    return Folder(source)
