"""The knowledge sources in the workbench: each source with its documents and last sync, the
latest sync runs, and a run's report (added, updated, deleted, failed with reasons, notes).
**s** syncs the selected source in the background (waiting for the index's write lock if
another process holds it), **r** reloads, **Esc** closes."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


def run_label(report: dict[str, Any]) -> str:
    when = time.strftime("%m-%d %H:%M", time.localtime(report.get("started") or 0))
    counts = (
        f"+{len(report.get('added', []))} ~{len(report.get('updated', []))} "
        f"-{len(report.get('deleted', []))} ={report.get('unchanged', 0)} "
        f"!{len(report.get('failed', []))}"
    )
    status = report.get("status", "?")
    return f"run {report.get('run')}  {when}  {status:<7} {report.get('source')}  {counts}"


def report_text(report: dict[str, Any]) -> str:
    """A run's report as plain lines (shown as Content, never as markup)."""
    from ai_workbench.core.sanitize import strip_controls

    lines = [run_label(report)]
    lines.append(
        f"duration {report.get('duration_s', 0):.1f} s, "
        f"embedding {report.get('embedding_s', 0):.1f} s "
        f"({report.get('embedding_calls', 0)} calls, {report.get('chunks_embedded', 0)} chunks)"
    )
    if report.get("error"):
        lines.append(f"FAILED: {report['error']}")
    for key in ("added", "updated", "deleted", "skipped"):
        for entry in report.get(key, [])[:30]:
            why = f" ({entry['reason']})" if entry.get("reason") else ""
            lines.append(
                f"{key:<8} {entry.get('title') or entry.get('id')}{why}  {entry.get('url', '')}"
            )
    for entry in report.get("failed", []):
        lines.append(f"failed   {entry.get('id')}: {entry.get('reason')}  {entry.get('url', '')}")
    for note in report.get("notes", []):
        lines.append(f"note     {note}")
    return strip_controls("\n".join(lines))


class SourcesScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss_screen", "Close", id="sources.close"),
        Binding("s", "sync", "Sync source", id="sources.sync"),
        Binding("r", "reload", "Reload", id="sources.reload"),
    ]

    def __init__(self, loaded: Any, store: Any) -> None:
        super().__init__(classes="modal")
        self.loaded = loaded
        self.store = store
        self.sources: list[Any] = []
        self.runs: list[dict[str, Any]] = []
        self.syncing: set[str] = set()

    def compose(self) -> Any:
        with Vertical(classes="dialog", id="sources-dialog"):
            yield Static("[b]Knowledge sources[/b]  [dim]s sync · r reload · Esc close[/dim]",
                         classes="dialog-title")  # fmt: skip
            yield OptionList(id="sources-list")
            yield Static("[b]Latest runs[/b]", classes="dialog-body")
            yield OptionList(id="sources-runs")
            with VerticalScroll(classes="dialog-scroll"):
                yield Static("", id="sources-report")

    async def on_mount(self) -> None:
        await self.action_reload()
        self.query_one("#sources-list", OptionList).focus()

    async def action_reload(self) -> None:
        from ai_workbench.sources.service import SourcesService

        service = SourcesService(self.store)
        self.sources = await service.list()
        counts = await service.document_counts()
        self.runs = await service.runs(limit=30)
        listing = self.query_one("#sources-list", OptionList)
        listing.clear_options()
        if not self.sources:
            listing.add_option(Option("No sources yet: aiw sources add --help (docs/sources.md)",
                                      disabled=True))  # fmt: skip
        for s in self.sources:
            when = (time.strftime("%m-%d %H:%M", time.localtime(s.last_sync))
                    if s.last_sync else "never")  # fmt: skip
            busy = "  syncing…" if s.name in self.syncing else ""
            docs = counts.get(s.name, 0)
            label = f"{s.name}  {s.kind}  {s.location}  {docs} docs, synced {when}{busy}"
            listing.add_option(Option(Content(label), id=s.name))
        runs = self.query_one("#sources-runs", OptionList)
        runs.clear_options()
        for report in self.runs:
            runs.add_option(Option(Content(run_label(report)), id=str(report.get("run"))))
        if self.runs:
            self._show(self.runs[0])

    def _show(self, report: dict[str, Any]) -> None:
        self.query_one("#sources-report", Static).update(Content(report_text(report)))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "sources-runs" and event.option.id:
            for report in self.runs:
                if str(report.get("run")) == event.option.id:
                    self._show(report)

    def action_sync(self) -> None:
        listing = self.query_one("#sources-list", OptionList)
        index = listing.highlighted
        if index is None or not self.sources:
            return
        source = self.sources[index]
        if source.name in self.syncing:
            return
        self.syncing.add(source.name)
        self.notify(f"syncing {source.name}…")
        self.run_worker(self._sync(source), exclusive=False, group="sources-sync")

    async def _sync(self, source: Any) -> None:
        from pathlib import Path

        from ai_workbench.knowledge.service import KnowledgeService
        from ai_workbench.sources.service import SourcesService

        def on_wait(holder: str) -> None:
            self.app.call_from_thread(self.notify, f"{source.name}: waiting, {holder} is "
                                      "writing the index")  # fmt: skip

        knowledge = KnowledgeService.for_project(self.loaded.settings.knowledge, Path(source.root))
        try:
            report = await SourcesService(self.store).sync(source, knowledge, on_wait=on_wait)
            severity = "error" if report.status == "failed" else "information"
            self.notify(report.error or report.line(), severity=severity, timeout=8)
        except Exception as exc:
            self.notify(f"{source.name}: {exc}", severity="error", timeout=10)
        finally:
            knowledge.close()
            self.syncing.discard(source.name)
        if self.is_attached:
            await self.action_reload()

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)


def open_sources(app: Any) -> None:
    """Push the sources screen (``app.action_sources``)."""
    if app.store is None or app.loaded is None:
        app.notify("Still starting up: try again in a moment.", severity="warning")
        return
    app.push_screen(SourcesScreen(app.loaded, app.store))
