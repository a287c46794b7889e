"""The documents screen: the list, a Markdown preview (Mermaid drawn as text), the questions
of a new document, and keys to regenerate a section, export and rate.

Everything goes through :class:`~ai_workbench.documents.service.DocumentService` (no SQLite,
model or renderer here); generation and export run in workers so the screen never blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Footer, Input, Markdown, OptionList, Static
from textual.widgets.option_list import Option

from ai_workbench.tui.screens.confirm import InputModal
from ai_workbench.tui.screens.feedback import FeedbackResult, FeedbackScreen

if TYPE_CHECKING:
    from ai_workbench.documents.service import DocumentService, Question

DOC_TYPES = ("srs", "nfr", "usecases", "api", "adr", "rfc", "c4", "uml")
FORMATS = ("md", "docx", "pdf", "confluence", "svg")


class LineModal(InputModal[str]):
    """One line of input with a title and a hint; Enter returns it, Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, hint: str, value: str = "", modal_id: str = "line") -> None:
        super().__init__(classes="modal", id=f"{modal_id}-modal")
        self.title_text, self.hint, self.value = title, hint, value

    def compose(self) -> Any:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield Input(self.value, placeholder=self.hint)
            yield Static(
                f"[dim]{escape(self.hint)} · Enter · Esc cancels[/dim]", classes="dialog-hint"
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())


class QuestionsModal(InputModal[dict[str, str]]):
    """A few clarifying questions, each prefilled with its suggested answer; Enter moves to the
    next and submits after the last; Esc takes every suggestion."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "defaults", "Take the defaults")]

    def __init__(self, questions: list[Question]) -> None:
        super().__init__(classes="modal questions-modal")
        self.questions = questions

    def compose(self) -> Any:
        with Vertical(classes="dialog", id="questions-dialog"):
            yield Static(
                f"[b]{len(self.questions)} question(s)[/b] — Enter keeps the suggestion",
                classes="dialog-title",
            )
            for q in self.questions:
                yield Static(escape(q.text), classes="dialog-body")
                yield Input(q.default, id=f"q-{q.key}")

    def _answers(self) -> dict[str, str]:
        return {q.key: self.query_one(f"#q-{q.key}", Input).value for q in self.questions}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        ids = [f"q-{q.key}" for q in self.questions]
        at = ids.index(event.input.id or "")
        if at + 1 < len(ids):
            self.query_one(f"#{ids[at + 1]}", Input).focus()
        else:
            self.dismiss(self._answers())

    def action_defaults(self) -> None:
        self.dismiss({})  # no answer: the suggestions are taken and listed as assumptions


class DocumentsScreen(Screen[None]):
    """Documents of this user: list left, preview right; every action on a key."""

    HELP = """\
## Documents

Architecture documents (SRS, NFR, use cases, API, ADR, RFC, C4, UML), newest first.

- **n** new document: type and title (e.g. `adr Move sessions to PostgreSQL`), then the
  clarifying questions (Enter keeps a suggestion, Esc takes them all)
- **s** picks the section the next keys act on (none: the whole document)
- **r** writes the chosen section again (with an optional note)
- **e** exports (md, docx, pdf, confluence, svg) into the project directory
- **+ / -** like or dislike the document or the chosen section, with a comment: later
  documents of the type follow disliked comments, liked sections become examples
- **Esc** goes back
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New", id="documents.new"),
        Binding("s", "pick_section", "Section", id="documents.section"),
        Binding("r", "regenerate", "Regenerate", id="documents.regenerate"),
        Binding("e", "export", "Export", id="documents.export"),
        Binding("plus", "rate(1)", "Like", id="documents.like"),
        Binding("minus", "rate(-1)", "Dislike", id="documents.dislike"),
        Binding("escape,q", "close", "Back", id="documents.close"),
    ]

    DEFAULT_CSS = """
    DocumentsScreen { layout: vertical; }
    DocumentsScreen #documents-status {
        height: auto; max-height: 4; padding: 0 1; background: $panel;
    }
    DocumentsScreen #documents-body { height: 1fr; }
    DocumentsScreen #documents-list { width: 38%; min-width: 28; border: none; }
    DocumentsScreen #documents-preview-scroll { width: 1fr; padding: 0 1; }
    """

    def __init__(self, service: DocumentService, *, kb: bool = False, model: Any = None) -> None:
        super().__init__()
        self.service = service
        self.kb = kb
        self.model = model
        self.docs: list[Any] = []
        self.section: str = ""
        self.busy = False
        self.last_export: Any = None

    def compose(self) -> Any:
        yield Static("", id="documents-status", markup=True)
        with Horizontal(id="documents-body"):
            yield OptionList(id="documents-list")
            with VerticalScroll(id="documents-preview-scroll"):
                yield Markdown("", id="documents-preview")
        yield Footer()

    async def on_mount(self) -> None:
        await self.reload()

    @property
    def current(self) -> Any:
        ol = self.query_one("#documents-list", OptionList)
        if not self.docs or ol.highlighted is None:
            return None
        return self.docs[ol.highlighted]

    def status(self, text: str) -> None:
        self.query_one("#documents-status", Static).update(text)

    async def reload(self, select: int | None = None) -> None:
        self.docs = await self.service.list()
        ol = self.query_one("#documents-list", OptionList)
        ol.clear_options()
        for d in self.docs:
            failed = (d.meta.get("checks") or {}).get("failed") or d.warnings
            mark = "[$warning]⚠[/]" if failed else "[$success]✓[/]"
            ol.add_option(
                Option(f"{mark} #{d.id} [b]{d.doc_type}[/b] {escape(d.title)}", id=str(d.id))
            )
        if self.docs:
            index = next((i for i, d in enumerate(self.docs) if d.id == select), 0)
            ol.highlighted = index
            await self.show(self.docs[index])
        else:
            self.status("No documents yet: press [b]n[/b] for a new one.")
            await self.query_one("#documents-preview", Markdown).update("")

    @on(OptionList.OptionHighlighted, "#documents-list")
    async def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if 0 <= event.option_index < len(self.docs):
            self.section = ""
            await self.show(self.docs[event.option_index])

    async def show(self, doc: Any) -> None:
        from ai_workbench.core.sanitize import strip_controls
        from ai_workbench.documents.preview import terminal_markdown

        await self.query_one("#documents-preview", Markdown).update(
            strip_controls(terminal_markdown(doc.body))
        )
        meta = doc.meta
        checks = meta.get("checks") or {}
        line = (
            f"#{doc.id} {doc.doc_type.upper()} · template {doc.template} v{doc.template_version} · "
            f"checks {'passed' if not checks.get('failed') else 'failed: ' + ', '.join(checks['failed'])}"  # noqa: E501
            f" · {len(meta.get('assumptions') or [])} assumption(s)"
        )
        if self.section:
            line += f" · section [b]{escape(self.section)}[/b]"
        for w in doc.warnings[:2]:
            line += f"\n[$warning]⚠ {escape(w)}[/]"
        self.status(line)

    # ------------------------------------------------------------------ actions

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_new(self) -> None:
        if self.busy:
            self.notify("Busy with a document: wait for it to finish.", severity="warning")
            return

        def chosen(value: str | None) -> None:
            if not value:
                return
            kind, _, title = value.partition(" ")
            if kind.lower() not in DOC_TYPES:
                self.notify(
                    f"Unknown type '{kind}': one of {', '.join(DOC_TYPES)}", severity="error"
                )
                return
            self.generate(kind.lower(), title.strip())

        self.app.push_screen(
            LineModal(
                "New document",
                "TYPE TITLE, e.g. adr Move sessions to PostgreSQL",
                modal_id="new-doc",
            ),
            chosen,
        )

    @work(exclusive=True, group="documents")
    async def generate(self, kind: str, title: str) -> None:
        from ai_workbench.core.errors import AiwError
        from ai_workbench.documents.service import NewOptions

        self.busy = True
        choice = self.model
        opts = NewOptions(
            kind, title, kb=self.kb,
            model=getattr(choice, "model", None), api_base=getattr(choice, "api_base", None),
            provider=getattr(choice, "provider", None),
        )  # fmt: skip
        try:
            self.status(f"Planning the {kind.upper()}…")
            plan = await self.service.plan(opts)

            async def ask(batch: list[Question]) -> dict[str, str]:
                self.status("Questions: " + " · ".join(escape(q.text) for q in batch))
                return await self.app.push_screen_wait(QuestionsModal(batch))

            answers = await self.service.ask_all(plan, ask)
            self.status(f"Writing the {kind.upper()} “{escape(plan.title)}”…")
            doc = await self.service.generate(
                plan, answers, opts, progress=lambda s: self.status(escape(s))
            )
        except AiwError as exc:
            self.status(f"[$error]{escape(str(exc))}[/]")
            self.notify(str(exc), severity="error")
            return
        finally:
            self.busy = False
        await self.reload(select=doc.id)
        self.notify(f"Document #{doc.id} saved")

    def action_pick_section(self) -> None:
        doc = self.current
        if doc is None:
            return
        from ai_workbench.documents.markdown import parse

        names = list(parse(doc.body).sections)
        if not names:
            return
        order = ["", *names]
        at = order.index(self.section) if self.section in order else 0
        self.section = order[(at + 1) % len(order)]
        self.notify(f"Section: {self.section or 'whole document'}")
        self.run_worker(self.show(doc), exclusive=False)

    def action_regenerate(self) -> None:
        doc = self.current
        if doc is None:
            return
        if not self.section:
            self.notify("Press s to choose the section to write again.", severity="warning")
            return

        def noted(note: str | None) -> None:
            if note is not None:
                self.regenerate(doc.id, self.section, note)

        self.app.push_screen(
            LineModal(
                f"Write '{self.section}' again", "What to change (optional)", modal_id="regen"
            ),
            noted,
        )

    @work(exclusive=True, group="documents")
    async def regenerate(self, doc_id: int, section: str, note: str) -> None:
        from ai_workbench.core.errors import AiwError
        from ai_workbench.documents.service import NewOptions

        choice = self.model
        opts = NewOptions("", model=getattr(choice, "model", None),
                          api_base=getattr(choice, "api_base", None),
                          provider=getattr(choice, "provider", None))  # fmt: skip
        self.status(f"Rewriting '{escape(section)}'…")
        try:
            await self.service.regenerate_section(doc_id, section, note, opts)
        except AiwError as exc:
            self.notify(str(exc), severity="error")
            return
        await self.reload(select=doc_id)
        self.notify(f"'{section}' rewritten")

    def action_export(self) -> None:
        doc = self.current
        if doc is None:
            return

        def chosen(fmt: str | None) -> None:
            if fmt:
                if fmt not in FORMATS:
                    self.notify(f"Format: one of {', '.join(FORMATS)}", severity="error")
                    return
                self.export(doc.id, fmt)

        self.app.push_screen(
            LineModal("Export", " | ".join(FORMATS), "docx", modal_id="export"), chosen
        )

    @work(exclusive=True, group="documents-export")
    async def export(self, doc_id: int, fmt: str) -> None:
        from ai_workbench.core.errors import AiwError

        try:
            result = await self.service.export(doc_id, fmt, self.service.root)
        except AiwError as exc:
            self.notify(str(exc), severity="error")
            return
        self.last_export = result
        extra = f" (+{len(result.files) - 1} file(s))" if len(result.files) > 1 else ""
        self.notify(f"Wrote {result.path}{extra}")
        for w in result.warnings:
            self.notify(w, severity="warning")

    def action_rate(self, rating: int) -> None:
        doc = self.current
        if doc is None:
            return
        section = self.section

        def rated(result: FeedbackResult | None) -> None:
            if result is None or result.rating is None:
                return
            self.rate(doc.id, result.rating, result.comment or None, section or None)

        self.app.push_screen(
            FeedbackScreen(rating, excerpt=f"{doc.title}" + (f" · {section}" if section else "")),
            rated,
        )

    @work(group="documents-rate")
    async def rate(
        self, doc_id: int, rating: int, comment: str | None, section: str | None
    ) -> None:
        _, learning = await self.service.rate(doc_id, rating, comment, section)
        if learning is not None:
            self.notify(f"Learning {learning.id} ({learning.kind}): later documents follow it")
        else:
            self.notify("Rated")


def open_documents(app: Any) -> None:
    """Push the documents screen from the workbench (palette: Documents)."""
    if app.store is None or app.loaded is None:
        app.notify("Still starting up: try again in a moment.", severity="warning")
        return
    from ai_workbench.documents.service import DocumentService

    service = DocumentService(app.loaded, app.store)
    app.push_screen(
        DocumentsScreen(
            service, kb=bool(getattr(app, "kb_on", False)), model=getattr(app, "model_choice", None)
        )
    )
