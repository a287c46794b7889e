"""``aiw mcp serve``: aiw's project knowledge, review, sessions and inbox as read-only MCP tools.

Other agents (Claude Code, Codex, Cursor, goose ...) start ``aiw mcp serve`` (stdio) or connect to
``aiw mcp serve --http 127.0.0.1:8766`` (streamable HTTP at ``/mcp``) and get five tools, each
with a JSON schema and a description a model can act on. Nothing here writes files or the inbox;
``review_diff`` runs the configured review model and records the run in aiw's history like
``aiw review`` does (so ratings can teach later reviews), without queuing suggestions.

A failure is a tool error with one clear line (no traceback reaches the client); logs go to
stderr only, stdout is the wire.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from pydantic import Field

from ai_workbench.core.errors import AiwError
from ai_workbench.core.redact import redact_text
from ai_workbench.core.sanitize import strip_controls
from ai_workbench.core.settings import LoadedConfig

log = logging.getLogger("aiw.mcp.server")
DEFAULT_HTTP = "127.0.0.1:8766"
SNIPPET_CHARS = 300
MAX_GET_LINES = 400
MAX_GET_CHARS = 40_000
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")

StoreOpener = Callable[[], Awaitable[Any]]


class ServeError(AiwError):
    exit_code = 2


def parse_http(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``PORT`` (loopback) to (host, port)."""
    text = value.strip() or DEFAULT_HTTP
    host, _, port_text = text.rpartition(":")
    if not _ and text.isdigit():
        host, port_text = "", text
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        expected = f"expected HOST:PORT such as {DEFAULT_HTTP}"
        raise ServeError(f"--http: {expected}, got '{value}'") from None
    if not 0 < port < 65536:
        raise ServeError(f"--http: port {port} is out of range (1-65535)")
    return host, port


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _safe(text: str) -> str:
    return redact_text(strip_controls(text))


class AiwTools:
    """The tools' work, without the SDK (tested directly and through the server)."""

    def __init__(self, loaded: LoadedConfig, open_store: StoreOpener) -> None:
        self.loaded = loaded
        self.root = loaded.project_root.resolve()
        self.open_store = open_store
        self._knowledge: Any = None

    def knowledge(self) -> Any:
        from ai_workbench.knowledge.service import KnowledgeService

        if self._knowledge is None:
            settings = self.loaded.settings.knowledge
            self._knowledge = KnowledgeService.for_project(settings, self.root)
        service = self._knowledge
        if service.lexical.counts()[1] == 0:
            raise ServeError(
                f"the project index of {self.root} is empty: run `aiw index` in the project first"
            )
        return service

    async def knowledge_search(
        self, query: str, k: int = 5, path_glob: str | None = None
    ) -> dict[str, Any]:
        if not query.strip():
            raise ServeError("query is empty: give words to look for")
        service = self.knowledge()
        store = await self.open_store()
        try:
            result = await service.search(query, max(k * 4, k) if path_glob else k, store=store)
        finally:
            await store.close()
        hits = [h for h in result.hits if path_glob is None or fnmatch.fnmatch(h.rel, path_glob)][
            :k
        ]
        cards = [
            {
                "rank": rank,
                "chunk_id": hit.uid,
                "location": hit.location,
                "path": hit.rel,
                "lines": [hit.start, hit.end],
                "title": _safe(hit.title),
                "score": hit.normalized,
                "snippet": _clip(_safe(hit.text), SNIPPET_CHARS),
            }
            for rank, hit in enumerate(hits, 1)
        ]
        data: dict[str, Any] = {
            "query": query,
            "mode": result.mode,
            "confident": result.confident,
            "results": cards,
        }
        if not result.confident:
            data["note"] = (
                "no result is a confident match (score below "
                f"{result.threshold}); rephrase or name the file"
            )
        return data

    def knowledge_get(
        self,
        chunk_id: str | None = None,
        path: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> dict[str, Any]:
        if chunk_id:
            chunk = self.knowledge().resolve(chunk_id)
            if chunk is None:
                raise ServeError(
                    f"no chunk '{chunk_id}' in the index (take chunk_id from knowledge_search)"
                )
            return {
                "chunk_id": chunk.uid,
                "location": f"{chunk.rel}:{chunk.start}-{chunk.end}",
                "path": chunk.rel,
                "lines": [chunk.start, chunk.end],
                "text": _safe(chunk.text),
            }
        if not path:
            raise ServeError("give chunk_id (from knowledge_search) or path (with start and end)")
        return self._file_range(path, start, end)

    def _file_range(self, path: str, start: int | None, end: int | None) -> dict[str, Any]:
        target = (self.root / path).resolve()
        if target != self.root and self.root not in target.parents:
            raise ServeError(f"{path}: outside the project ({self.root})")
        if not target.is_file():
            raise ServeError(f"{path}: no such file in the project")
        raw = target.read_bytes()
        if b"\0" in raw[:8192]:
            raise ServeError(f"{path}: a binary file")
        lines = raw.decode("utf-8", "replace").splitlines()
        first = max(1, start or 1)
        last = min(len(lines), end or first + MAX_GET_LINES - 1, first + MAX_GET_LINES - 1)
        if first > max(1, len(lines)):
            raise ServeError(f"{path}: has {len(lines)} lines; start {first} is past the end")
        text = "\n".join(lines[first - 1 : last])
        cut = len(text) > MAX_GET_CHARS
        rel = target.relative_to(self.root).as_posix()
        data: dict[str, Any] = {
            "location": f"{rel}:{first}-{last}",
            "path": rel,
            "lines": [first, last],
            "total_lines": len(lines),
            "text": redact_text(strip_controls(text[:MAX_GET_CHARS]), filename=target.name),
        }
        if cut or (end or 0) > last:
            data["note"] = f"cut: at most {MAX_GET_LINES} lines / {MAX_GET_CHARS} characters"
        return data

    async def review_diff(
        self, target: str = "working", range: str | None = None, paths: list[str] | None = None
    ) -> dict[str, Any]:
        from ai_workbench.review.service import ReviewOptions, ReviewService

        if target == "range" and not range:
            raise ServeError("target 'range' needs range, e.g. 'main..HEAD' or 'HEAD~1'")
        opts = ReviewOptions(
            staged=target == "staged",
            rev_range=range if target == "range" else None,
            files=list(paths) if paths else None,
            queue_suggestions=False,
            cwd=self.root,
        )
        store = await self.open_store()
        try:
            result = await ReviewService(self.loaded, store).review(opts)
        finally:
            await store.close()
        return {
            "target": result.target,
            "model": result.model,
            "status": result.status,
            "findings": [f.to_dict() for f in result.shown],
            "stats": result.stats.to_dict(),
            "errors": [_safe(e) for e in result.errors],
            "notices": [_safe(n) for n in result.notices],
        }

    async def sessions_search(self, query: str, limit: int = 10) -> dict[str, Any]:
        from ai_workbench.chat.service import search_sessions

        if not query.strip():
            raise ServeError("query is empty: give words to look for")
        store = await self.open_store()
        try:
            hits = await search_sessions(store, query, limit)
        finally:
            await store.close()
        return {
            "query": query,
            "results": [
                {
                    "session_id": h.session_id,
                    "session_title": _safe(h.session_title),
                    "message_id": h.message_id,
                    "role": h.role,
                    "snippet": _clip(_safe(h.snippet), SNIPPET_CHARS),
                    "match": h.match,
                }
                for h in hits
            ],
        }

    async def suggestions_list(
        self, status: str = "open", kind: str | None = None, limit: int = 20
    ) -> dict[str, Any]:
        from ai_workbench.suggestions.service import OPEN_STATUSES, SuggestionQueue

        statuses = None if status == "all" else (OPEN_STATUSES if status == "open" else [status])
        store = await self.open_store()
        try:
            try:
                items = await SuggestionQueue(store).list(statuses=statuses, kind=kind, limit=limit)
            except ValueError as exc:
                raise ServeError(str(exc)) from None
        finally:
            await store.close()
        return {
            "suggestions": [
                {
                    "id": s.id,
                    "kind": s.kind,
                    "title": _safe(s.title),
                    "summary": _clip(_safe(s.body), SNIPPET_CHARS),
                    "status": s.status,
                    "source": s.source,
                    "created": s.created,
                }
                for s in items
            ]
        }


def build_server(loaded: LoadedConfig, open_store: StoreOpener) -> Any:
    """The ``MCPServer`` with aiw's tools (no transport yet). The SDK reads the tools' annotations
    (strings here) in this module's globals: ``Annotated``, ``Field`` and ``Literal`` stay there."""
    from mcp.server import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations

    from ai_workbench import __version__

    tools = AiwTools(loaded, open_store)
    server = MCPServer(
        "aiw",
        version=__version__,
        instructions=(
            f"aiw's view of the project at {tools.root}: search its index (knowledge_search, "
            "then knowledge_get for the full text), review its uncommitted changes "
            "(review_diff), search past aiw chat sessions (sessions_search) and list the "
            "suggestions waiting in aiw's inbox (suggestions_list). All tools are read-only."
        ),
        log_level="WARNING",
    )
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    async def guarded(name: str, work: Awaitable[Any]) -> Any:
        try:
            return await work
        except (AiwError, ValueError, OSError) as exc:
            raise ToolError(strip_controls(str(exc)) or type(exc).__name__) from None
        except Exception as exc:
            log.error("%s failed: %s: %s", name, type(exc).__name__, exc)
            if os.environ.get("AIW_DEBUG"):
                log.exception("traceback")
            raise ToolError(f"{name} failed: {type(exc).__name__}: {exc}") from None

    async def sync(value: Callable[[], Any]) -> Any:
        return value()

    @server.tool(
        annotations=read_only,
        description=(
            "Search the project's index (code and documents) for passages about a topic. "
            "Returns short result cards: location (path:first-last line), score (0-1, higher "
            "is better; 'confident' tells whether the best is a real match), a snippet and a "
            "chunk_id. Call knowledge_get with a chunk_id for the whole passage."
        ),
    )
    async def knowledge_search(
        query: Annotated[str, Field(description="what to look for, in words or identifiers")],
        k: Annotated[int, Field(ge=1, le=20, description="how many results")] = 5,
        path_glob: Annotated[
            str | None, Field(description="only files matching this glob, e.g. 'src/*.py'")
        ] = None,
    ) -> dict[str, Any]:
        return await guarded("knowledge_search", tools.knowledge_search(query, k, path_glob))

    @server.tool(
        annotations=read_only,
        description=(
            "Read one passage of the project: a chunk by its chunk_id (from knowledge_search), "
            f"or lines start..end of a file by its project-relative path (at most "
            f"{MAX_GET_LINES} lines). Secrets in the text are redacted."
        ),
    )
    async def knowledge_get(
        chunk_id: Annotated[str | None, Field(description="chunk_id from knowledge_search")] = None,
        path: Annotated[str | None, Field(description="file path relative to the project")] = None,
        start: Annotated[int | None, Field(ge=1, description="first line (1-based)")] = None,
        end: Annotated[int | None, Field(ge=1, description="last line (inclusive)")] = None,
    ) -> dict[str, Any]:
        return await guarded(
            "knowledge_get", sync(lambda: tools.knowledge_get(chunk_id, path, start, end))
        )

    @server.tool(
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True),
        description=(
            "Review code changes with aiw's reviewer model and return the findings as JSON "
            "(path, lines, severity, category, title, explanation, suggested fix). target: "
            "'working' (uncommitted changes), 'staged' (the index) or 'range' (with range, e.g. "
            "'main..HEAD'). Calls the configured model: it can take a minute. Changes no file."
        ),
    )
    async def review_diff(
        target: Annotated[
            Literal["working", "staged", "range"], Field(description="which changes")
        ] = "working",
        range: Annotated[
            str | None, Field(description="git revision range when target is 'range'")
        ] = None,
        paths: Annotated[
            list[str] | None, Field(description="only these project-relative paths")
        ] = None,
    ) -> dict[str, Any]:
        return await guarded("review_diff", tools.review_diff(target, range, paths))

    @server.tool(
        annotations=read_only,
        description=(
            "Search past aiw chat sessions: words (every word must occur; word* is a prefix) "
            "and exact text such as an error message or a code fragment. Returns the session, "
            "message id, role and a snippet with matches in [ ]."
        ),
    )
    async def sessions_search(
        query: Annotated[str, Field(description="words to find")],
        limit: Annotated[int, Field(ge=1, le=50, description="how many results")] = 10,
    ) -> dict[str, Any]:
        return await guarded("sessions_search", tools.sessions_search(query, limit))

    @server.tool(
        annotations=read_only,
        description=(
            "List the suggestions in aiw's inbox (review findings, answers to AI? comments, "
            "patches for AI! comments, explanations of failed shell commands), newest first."
        ),
    )
    async def suggestions_list(
        status: Annotated[
            str, Field(description="'open' (default), 'all', or one status such as 'applied'")
        ] = "open",
        kind: Annotated[str | None, Field(description="only this kind, e.g. 'review'")] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="how many")] = 20,
    ) -> dict[str, Any]:
        return await guarded("suggestions_list", tools.suggestions_list(status, kind, limit))

    return server


def _quiet_logging() -> None:
    """Logs to stderr only (stdout is the protocol), warnings and up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("aiw mcp: %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def run(loaded: LoadedConfig, open_store: StoreOpener, http: str | None = None) -> None:
    """Serve until stdin closes (stdio) or the process is stopped (HTTP)."""
    server = build_server(loaded, open_store)
    _quiet_logging()
    if http is None:
        server.run()
        return
    host, port = parse_http(http)
    if host not in LOOPBACK:
        print(
            f"aiw mcp: warning: serving on {host}:{port}, reachable from other machines; "
            "the tools read this project and your aiw sessions",
            file=sys.stderr,
        )
    print(f"aiw mcp: serving http://{host}:{port}/mcp", file=sys.stderr, flush=True)
    server.run(transport="streamable-http", host=host, port=port)
