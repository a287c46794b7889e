"""What the workbench does without a pane of its own: it starts the event feeds and announces
shell failures and index runs from the event stream, builds the project index on request, and
runs the file watcher (AI! / AI? comments, review on save).

No timers here: the feeds (shell/feed.py, suggestions/feed.py, knowledge/feed.py,
chat/feed.py) poll their sources below the interface and publish on ``ctx.bus``; panes and this
module subscribe (see :mod:`ai_workbench.core.events`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ai_workbench.core.events import FeedRunner, IndexRunFinished, ShellFailure
from ai_workbench.tui.context import Workbench, clip

SHOWN_PER_BURST = 3  # shell failures announced at once (the newest); the rest are in history


class Background:
    """Feeds, announcements, indexing and the file watcher for one app."""

    def __init__(self, app: Any, ctx: Workbench, choose_model: Callable[[], Any]) -> None:
        self.app = app
        self.ctx = ctx
        self.choose_model = choose_model
        self.feeds = FeedRunner()
        self._unsubscribe: list[Callable[[], None]] = []
        self._failures: list[ShellFailure] = []
        self._own_reports: set[str] = set()  # index runs announced by index_project
        self._own_reindexes = 0  # index updates our file watcher ran (not announced)
        self._indexing = False  # an index_project run is under way (it announces itself)
        self._suggestion_feed: Any = None
        self.reminders: Any = None  # tui.tasks.Reminders once the store is open
        self.summaries: Any = None  # tui.summaries.SessionSummaries once the store is open

    # ---- feeds

    def start_early(self) -> None:
        """Subscribe, and start the feeds that need no database (after the first frame)."""
        from ai_workbench.shell.feed import SpoolFeed

        bus = self.ctx.bus
        self._unsubscribe.append(bus.on(self._shell_failed, ShellFailure))
        self._unsubscribe.append(bus.on(self._index_finished, IndexRunFinished))
        self.feeds.start([SpoolFeed(bus)])

    def start_with_store(self) -> None:
        """Start the feeds that read the database or the project (settings and store ready)."""
        from ai_workbench.chat.feed import SessionsFeed
        from ai_workbench.knowledge.feed import IndexRunFeed
        from ai_workbench.suggestions.feed import SuggestionFeed

        ctx = self.ctx
        feeds: list[Any] = []
        if ctx.suggestion_queue is not None:
            self._suggestion_feed = SuggestionFeed(ctx.bus, ctx.suggestion_queue)
            feeds.append(self._suggestion_feed)
        if ctx.sessions is not None:
            feeds.append(SessionsFeed(ctx.bus, ctx.sessions))
        if ctx.loaded is not None:
            feeds.append(IndexRunFeed(ctx.bus, ctx.project_root))
        self.feeds.start(feeds)
        if ctx.store is not None:  # task reminders: a scheduler sleeping until the next one
            from ai_workbench.tui.tasks import Reminders

            self.reminders = Reminders(self.app, ctx)
            self.reminders.start()
            from ai_workbench.tui.summaries import SessionSummaries

            self.summaries = SessionSummaries(self.app, ctx)  # finished sessions -> memory
            self.summaries.start()

    @property
    def seen_report(self) -> Path | None:
        """The newest index run report the index feed has looked at (None before its first)."""
        feed = self.feeds.feeds.get("index-runs")
        return getattr(feed, "seen", None)

    async def start_mcp(self) -> None:
        """Start the configured MCP servers together, after the first frame and the settings
        (tui/mcp.py); nothing of MCP is imported when none are configured."""
        await self.ctx.config_ready.wait()
        if self.ctx.loaded is None or not _mcp_configured(self.ctx.loaded):
            return
        from ai_workbench.tui.mcp import start_mcp

        await start_mcp(self.app, self.ctx)

    async def stop(self) -> None:
        if self.reminders is not None:
            await self.reminders.stop()
        if self.summaries is not None:
            await self.summaries.stop()
        if self.ctx.mcp is not None:
            with contextlib.suppress(Exception):
                await self.ctx.mcp.close()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self._suggestion_feed is not None:
            self._suggestion_feed.close()
        await self.feeds.stop()
        if self.ctx.watch_service is not None:
            with contextlib.suppress(Exception):
                await self.ctx.watch_service.stop()

    # ---- announcements

    def _shell_failed(self, event: ShellFailure) -> None:
        """Say at once that a command failed; its analysis arrives later as a suggestion."""
        self._failures.append(event)
        if len(self._failures) == 1:  # the rest of this burst arrives before the flush
            self.app.call_later(self._flush_failures)

    def _flush_failures(self) -> None:
        failures, self._failures = self._failures[-SHOWN_PER_BURST:], []
        loaded = self.ctx.loaded
        analyse = loaded is None or loaded.settings.shell.auto_analyse
        follow = (
            "analysing… the fix will appear under Suggestions"
            if analyse
            else "`aiw explain` analyses it (automatic analysis is off)"
        )
        for event in failures:
            self.app.notify(
                f"`{clip(event.command, 60)}` failed (exit {event.status}) in {event.cwd}; "
                f"{follow}",
                title="Shell",
                severity="warning",
                timeout=6,
            )

    def _index_finished(self, event: IndexRunFinished) -> None:
        """Announce an index run that finished elsewhere (`aiw index` in another terminal)."""
        from ai_workbench.tui.knowledge import report_line

        if self._indexing or str(Path(event.report_path)) in self._own_reports:
            return  # index_project announces its own run
        own = getattr(self.ctx.watch_service, "reindexed", 0)
        if own != self._own_reindexes:  # our file watcher's quiet update after saves: no news
            self._own_reindexes = own
            return
        self.app.notify(
            f"Index updated: {report_line(event.report)}", title="Project index", timeout=8
        )

    # ---- the project index

    def index_project(self) -> None:
        if self.ctx.loaded is None:
            self.app.notify("Still starting up; try again in a moment.", severity="warning")
            return
        self.app.notify("Indexing the project in the background…", timeout=3)
        self.app.run_worker(
            self._index_project, thread=True, group="index", exclusive=True, exit_on_error=False
        )

    def _index_project(self) -> None:
        from ai_workbench.tui.knowledge import index_project, report_line

        notify = self.app.notify
        self._indexing = True
        try:
            report = index_project(self.ctx.loaded)
            if report.report_path:
                self._own_reports.add(str(Path(report.report_path)))  # not again from the feed
        except Exception as exc:
            self.app.call_from_thread(
                notify, f"indexing failed: {exc}", title="Index", severity="error"
            )
            return
        finally:
            self._indexing = False
        self.app.call_from_thread(
            notify, f"Index updated: {report_line(report)}", title="Project index", timeout=8
        )

    # ---- the file watcher

    async def start_watch(self) -> None:
        """Start the file watcher (watch.enabled) once settings and the store are ready."""
        ctx = self.ctx
        await ctx.config_ready.wait()
        await ctx.store_ready.wait()
        if ctx.loaded is None or ctx.suggestion_queue is None:
            return
        root = Path(ctx.loaded.project_root)
        if not ctx.loaded.settings.watch.enabled:
            return
        if not (root / ".git").exists() and not (root / ".aiw.toml").exists():
            return  # not a project (say, the home dir): watching all of it would be costly
        from ai_workbench.watch import WatchService

        service = WatchService(
            root,
            ctx.loaded.settings,
            ctx.suggestion_queue,
            on_event=self._watch_event,
            choose_model=self.choose_model,
            loaded=ctx.loaded,
        )
        await asyncio.to_thread(importlib.import_module, "watchfiles")  # off the event loop
        try:
            await service.start()
        except Exception as exc:
            self.app.notify(f"file watch is off: {exc}", severity="warning", timeout=8)
            return
        ctx.watch_service = service

    def _watch_event(self, event: Any) -> None:
        if event.kind == "waiting":
            self.app.notify(event.message, title="AI comments waiting", timeout=6)
        elif event.kind == "error":
            self.app.notify(event.message, title="File watch", severity="error", timeout=10)
        elif event.kind == "suggested" and event.suggestion is not None:
            from ai_workbench.suggestions.feed import added

            # Review findings are queued by the review service's own queue object: publish
            # them here (the suggestions pane skips ids it already shows).
            self.ctx.bus.publish(added(event.suggestion))

    def process_ai_comments(self) -> None:
        if self.ctx.watch_service is None:
            self.app.notify(
                "The file watcher is not running (watch.enabled = false?)", severity="warning"
            )
            return
        self.app.notify("Looking for AI! and AI? comments…", timeout=3)
        self.app.run_worker(self._process_ai_comments(), group="watch-now", exit_on_error=False)

    async def _process_ai_comments(self) -> None:
        count = await self.ctx.watch_service.process_pending_now(wait=False)
        if not count:
            self.app.notify("No new AI comments in the project.", timeout=4)


def _mcp_configured(loaded: Any) -> bool:
    """Servers in the settings, the user's mcp.json or the project's .mcp.json (a stat each;
    the files are read, and the SDK imported, only when there is one)."""
    from ai_workbench.core import paths

    if loaded.settings.mcp.servers:
        return True
    candidates = [paths.config_dir() / "mcp.json", Path(loaded.project_root) / ".mcp.json"]
    return any(path.is_file() for path in candidates)
