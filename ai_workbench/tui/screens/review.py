"""The review screen: walk through findings by keyboard, see each hunk, apply, rate, dismiss.

Findings are grouped by file on the left; the right shows the selected finding, its hunk with
the finding's lines marked, and the suggested change as a coloured diff. Everything goes through
the :class:`~ai_workbench.review.ReviewService` passed in (no SQLite, git or model here):
``review``/``review_file`` run in workers, ``apply`` checks with ``git apply --check`` first and
changes nothing on conflict, ``rate`` feeds the learnings, ``dismiss`` also clears the
suggestion.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from ai_workbench.tui.editor import editor_command, run_editor
from ai_workbench.tui.screens.feedback import FeedbackResult, FeedbackScreen

if TYPE_CHECKING:
    from ai_workbench.review import Finding, ReviewOptions, ReviewResult, ReviewService

SEVERITY_STYLE = {"error": "$error", "warning": "$warning", "info": "$accent"}
SEVERITY_MARK = {"error": "✖", "warning": "▲", "info": "●"}
STATUS_MARK = {"applied": "✓ ", "dismissed": "✗ "}
CONTEXT = 4
EXPANDED_CONTEXT = 15


class FindingFeedbackScreen(FeedbackScreen):
    """The like/dislike modal, worded for a finding."""

    def _title(self) -> str:
        if self.rating > 0:
            return "[b $success]▲ Like[/] this finding: more like it"
        return "[b $error]▼ Dislike[/] this finding: fewer like it"


class ReviewScreen(Screen[None]):
    """Findings of one review, grouped by file; every action on a key with an id."""

    HELP = """\
## Review

The findings of a review of your changes, grouped by file. The right side shows the
selected finding, its code (the finding's lines marked) and the suggested change.

- **j/k** or **↓/↑** next / previous finding, **n/p** next / previous file
- **space** expands the hunk (more code around it)
- **a** applies the suggested patch (checked with `git apply --check` first; on a conflict
  nothing changes)
- **o** opens the file in $EDITOR at the line
- **+ / -** like or dislike (with an optional comment): later reviews of this repository
  hold back findings like the ones you dislike, and learn from the ones you like
- **d** dismisses the finding, **r** reviews this file again, **Esc** goes back
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "move(1)", "Next", id="review.next", tooltip="Next finding"),
        Binding(
            "k,up", "move(-1)", "Prev", id="review.previous", tooltip="Previous finding", show=False
        ),
        Binding("n", "move_file(1)", "Next file", id="review.next_file", tooltip="Next file"),
        Binding(
            "p",
            "move_file(-1)",
            "Prev file",
            id="review.previous_file",
            show=False,
            tooltip="Previous file",
        ),
        Binding("space", "expand", "Expand", id="review.expand", tooltip="Show more of the hunk"),
        Binding("a", "apply", "Apply", id="review.apply", tooltip="Apply the suggested patch"),
        Binding("o", "open", "Open", id="review.open", tooltip="Open in $EDITOR at the line"),
        Binding("plus", "rate(1)", "Like", id="review.like", tooltip="Like: more like this"),
        Binding(
            "minus", "rate(-1)", "Dislike", id="review.dislike", tooltip="Dislike: fewer like this"
        ),
        Binding(
            "d", "dismiss_finding", "Dismiss", id="review.dismiss", tooltip="Dismiss this finding"
        ),
        Binding(
            "r", "rereview", "Re-review", id="review.rereview", tooltip="Review this file again"
        ),
        Binding("escape,q", "close", "Back", id="review.close", tooltip="Back to the workbench"),
    ]

    DEFAULT_CSS = """
    ReviewScreen { layout: vertical; }
    ReviewScreen #review-status { height: 1; padding: 0 1; background: $panel; }
    ReviewScreen #review-body { height: 1fr; }
    ReviewScreen #review-list { width: 45%; min-width: 30; border: none; }
    ReviewScreen #review-detail { width: 1fr; padding: 0 1; }
    ReviewScreen #review-hunk { margin-top: 1; }
    ReviewScreen #review-fix { margin-top: 1; }
    """

    def __init__(
        self,
        service: ReviewService,
        opts: ReviewOptions,
        *,
        result: ReviewResult | None = None,
        open_editor: Callable[[list[str]], None] | None = None,
    ) -> None:
        super().__init__()
        self.service = service
        self.opts = opts
        self.result: ReviewResult | None = result
        self.findings: list[Finding] = []
        self.index = 0
        self.expanded = False
        self.busy = False
        self._open_editor = open_editor
        self._option_of: list[int] = []  # finding index -> option index

    # ------------------------------------------------------------------ layout

    def compose(self) -> Any:
        yield Static("", id="review-status", markup=True)
        with Horizontal(id="review-body"):
            yield OptionList(id="review-list")
            with VerticalScroll(id="review-detail"):
                yield Static("", id="review-finding", markup=True)
                yield Static("", id="review-hunk", markup=True)
                yield Static("", id="review-fix", markup=True)
        yield Footer()

    @property
    def option_list(self) -> OptionList:
        return self.query_one("#review-list", OptionList)

    def on_mount(self) -> None:
        self.option_list.focus()
        if self.result is not None:
            self._show_result(self.result)
        else:
            self._status("[dim]Reviewing your changes…[/]")
            self._run_review()

    def _status(self, markup: str) -> None:
        self.query_one("#review-status", Static).update(markup)

    # ------------------------------------------------------------------ reviewing

    @work(group="review", exclusive=True, exit_on_error=False)
    async def _run_review(self) -> None:
        self.busy = True
        try:
            result = await self.service.review(self.opts)
        except Exception as exc:
            self._status(f"[$error]Review failed: {escape(str(exc))}[/]")
            self.notify(str(exc), title="Review failed", severity="error", timeout=10)
            return
        finally:
            self.busy = False
        self._show_result(result)

    def _show_result(self, result: ReviewResult) -> None:
        from ai_workbench.review.formats import summary_line

        self.result = result
        self.findings = list(result.shown)
        self.index = min(self.index, max(0, len(self.findings) - 1))
        self._fill_list()
        problems = f" · [$error]{len(result.errors)} problem(s)[/]" if result.errors else ""
        self._status(
            f"[b]Review[/] {escape(result.target)} · {escape(summary_line(result))}{problems}"
        )
        for error in result.errors:
            self.notify(error, title="Review problem", severity="warning", timeout=10)
        self._show_detail()

    def _fill_list(self) -> None:
        options: list[Option] = []
        self._option_of = []
        current = None
        for f in self.findings:
            if f.path != current:
                current = f.path
                count = sum(1 for x in self.findings if x.path == f.path)
                options.append(Option(f"[b]{escape(f.path)}[/] [dim]({count})[/]", disabled=True))
            self._option_of.append(len(options))
            options.append(Option(self._label(f), id=f"finding-{len(self._option_of) - 1}"))
        ol = self.option_list
        ol.clear_options()
        if options:
            ol.add_options(options)
            self._highlight()
        else:
            from ai_workbench.review.formats import empty_message

            message = empty_message(self.result) if self.result is not None else ""
            style = "$error" if self.result is not None and self.result.status == "error" else "dim"
            ol.add_option(Option(f"[{style}]{escape(message)}[/]", disabled=True))

    def _label(self, f: Finding) -> str:
        style = SEVERITY_STYLE[f.severity]
        mark = STATUS_MARK.get(f.status, "")
        title = escape(f.title)
        if f.status in STATUS_MARK:
            title = f"[dim strike]{title}[/]"
        return f"  {mark}[{style}]{SEVERITY_MARK[f.severity]}[/] {f.line_start:>4}  {title}"

    def _highlight(self) -> None:
        if self.findings:
            self.option_list.highlighted = self._option_of[self.index]

    @on(OptionList.OptionHighlighted, "#review-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        option_id = event.option.id or ""
        if option_id.startswith("finding-"):
            index = int(option_id.removeprefix("finding-"))
            if index != self.index:
                self.index = index
                self.expanded = False
            self._show_detail()

    @property
    def current(self) -> Finding | None:
        return self.findings[self.index] if self.findings else None

    # ------------------------------------------------------------------ detail

    def _show_detail(self) -> None:
        f = self.current
        finding = self.query_one("#review-finding", Static)
        hunk = self.query_one("#review-hunk", Static)
        fix = self.query_one("#review-fix", Static)
        if f is None:
            finding.update("")
            hunk.update("")
            fix.update("")
            return
        where = f"{f.path}:{f.line_start}" + (
            f"-{f.line_end}" if f.line_end != f.line_start else ""
        )
        lines = [
            f"[b {SEVERITY_STYLE[f.severity]}]{SEVERITY_MARK[f.severity]} {escape(f.title)}[/]",
            f"[dim]{escape(where)} · {f.severity} · {f.rule_id} · confidence {f.confidence:.2f}"
            + (f" · {f.status}" if f.status != "open" else "")
            + ("· moved onto added lines" if f.reanchored else "")
            + "[/]",
            "",
            escape(f.explanation),
        ]
        if f.learning_note:
            lines += ["", f"[i $warning]{escape(f.learning_note)}[/]"]
        finding.update("\n".join(lines))
        hunk.update(self._hunk_markup(f))
        if f.patch:
            fix.update("[b]Suggested change[/] [dim](a applies it)[/]\n" + _diff_markup(f.patch))
        else:
            fix.update("[dim]No suggested patch for this finding.[/]")

    def _hunk_markup(self, f: Finding) -> str:
        changes = self.result.changes if self.result is not None else None
        fd = changes.by_path().get(f.path) if changes is not None else None
        if fd is None or fd.new_text is None:
            return ""
        lines = fd.new_lines
        added = fd.added_lines
        context = EXPANDED_CONTEXT if self.expanded else CONTEXT
        hunk = fd.hunk_for(f.line_start)
        if hunk is not None and self.expanded:
            start, end = max(1, hunk.new_start - context), min(len(lines), hunk.new_end + context)
        else:
            start = max(1, f.line_start - context)
            end = min(len(lines), f.line_end + context)
        width = len(str(end))
        out = [
            f"[b]Code[/] [dim]{escape(f.path)} lines {start}-{end}"
            f"{'' if self.expanded else ' (space: more)'}[/]"
        ]
        patched = _patched_old_lines(f.patch) if f.patch else set()
        for n in range(start, end + 1):
            text = escape(lines[n - 1]) if n - 1 < len(lines) else ""
            sign = "+" if n in added else " "
            row = f"{n:>{width}} {sign} {text}"
            if f.line_start <= n <= f.line_end:
                row = f"[reverse]{row}[/]"
            elif n in patched:
                row = f"[u]{row}[/]"
            elif n in added:
                row = f"[$success]{row}[/]"
            else:
                row = f"[dim]{row}[/]"
            out.append(row)
        return "\n".join(out)

    # ------------------------------------------------------------------ navigation

    def action_move(self, step: int) -> None:
        if not self.findings:
            return
        self.index = max(0, min(len(self.findings) - 1, self.index + step))
        self.expanded = False
        self._highlight()
        self._show_detail()

    def action_move_file(self, step: int) -> None:
        if not self.findings:
            return
        paths = list(dict.fromkeys(f.path for f in self.findings))
        here = paths.index(self.findings[self.index].path)
        target = paths[max(0, min(len(paths) - 1, here + step))]
        self.index = next(i for i, f in enumerate(self.findings) if f.path == target)
        self.expanded = False
        self._highlight()
        self._show_detail()

    def action_expand(self) -> None:
        self.expanded = not self.expanded
        self._show_detail()

    def action_close(self) -> None:
        self.dismiss(None)

    # ------------------------------------------------------------------ actions

    def action_apply(self) -> None:
        f = self.current
        if f is None or self.result is None:
            return
        if not f.patch:
            self.notify("This finding has no suggested patch.", severity="warning")
            return
        if f.status == "applied":
            self.notify("Already applied.", severity="warning")
            return
        self._apply(f)

    @work(group="review-apply", exclusive=True, exit_on_error=False)
    async def _apply(self, f: Finding) -> None:
        from ai_workbench.core.patches import PatchError
        from ai_workbench.tui.screens.confirm import MessageScreen

        assert self.result is not None
        try:
            await self.service.apply(
                f, Path(self.result.root), self.service.expect_for(self.result, f)
            )
        except PatchError as exc:
            self.app.push_screen(
                MessageScreen("Patch not applied", f"{exc}\n\nNothing was changed.")
            )
            return
        except Exception as exc:
            self.notify(f"could not apply: {exc}", severity="error")
            return
        self.notify(f"Applied the fix to {f.path}", timeout=4)
        self._refresh_label(f)
        self._show_detail()

    def _refresh_label(self, f: Finding) -> None:
        index = self.findings.index(f)
        self.option_list.replace_option_prompt_at_index(self._option_of[index], self._label(f))

    def action_open(self) -> None:
        f = self.current
        if f is None or self.result is None:
            return
        path = Path(self.result.root) / f.path
        if self._open_editor is not None:
            editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
            self._open_editor(editor_command(editor, path, f.line_start))
            return
        run_editor(self.app, path, f.line_start)

    def action_rate(self, rating: int) -> None:
        f = self.current
        if f is None or f.id is None:
            return
        screen = FindingFeedbackScreen(rating, excerpt=f.title)

        def done(result: FeedbackResult | None) -> None:
            if result is not None:
                self._save_rating(f, result)

        self.app.push_screen(screen, done)

    @work(group="review-rate", exit_on_error=False)
    async def _save_rating(self, f: Finding, result: FeedbackResult) -> None:
        assert f.id is not None
        try:
            if result.rating is None:
                await self.service.unrate(f.id)
                self.notify("Rating removed")
                return
            learning = await self.service.rate(f.id, result.rating, result.comment or None)
        except Exception as exc:
            self.notify(f"could not save the rating: {exc}", severity="error")
            return
        word = "Liked" if result.rating > 0 else "Disliked"
        self.notify(
            f"{word}; learning #{learning.id} now has {len(learning.examples)} "
            "example(s) (aiw review learnings)",
            timeout=4,
        )

    def action_dismiss_finding(self) -> None:
        f = self.current
        if f is None:
            return
        self._dismiss(f)

    @work(group="review-dismiss", exit_on_error=False)
    async def _dismiss(self, f: Finding) -> None:
        try:
            await self.service.dismiss(f)
        except Exception as exc:
            self.notify(f"could not dismiss: {exc}", severity="error")
            return
        self._refresh_label(f)
        if self.current is f:
            self.action_move(1)
        self._show_detail()

    def action_rereview(self) -> None:
        f = self.current
        if f is None or self.result is None:
            return
        if self.busy:
            self.notify("A review is already running.", severity="warning")
            return
        self._rereview(f.path)

    @work(group="review", exclusive=True, exit_on_error=False)
    async def _rereview(self, path: str) -> None:
        assert self.result is not None
        self.busy = True
        self._status(f"[dim]Reviewing {escape(path)} again…[/]")
        try:
            fresh = await self.service.review_file(Path(self.result.root) / path, self.opts)
        except Exception as exc:
            self._status(f"[$error]Review of {escape(path)} failed: {escape(str(exc))}[/]")
            return
        finally:
            self.busy = False
        old = self.result
        keep = [f for f in old.findings if f.path != path]
        old.findings = sorted(keep + fresh.findings, key=lambda f: f.sort_key())
        old.errors = [e for e in old.errors if not e.startswith(path)] + fresh.errors
        if fresh.changes is not None and old.changes is not None:
            others = [fd for fd in old.changes.files if fd.path != path]
            old.changes.files = others + fresh.changes.files
        old.digests.update(fresh.digests)
        self.index = 0
        self._show_result(old)
        first = next((i for i, f in enumerate(self.findings) if f.path == path), None)
        if first is not None:
            self.index = first
            self._highlight()
            self._show_detail()
        self.notify(f"{path}: {len(fresh.shown)} finding(s)", timeout=4)


def _diff_markup(patch: str) -> str:
    out = []
    for line in patch.rstrip("\n").splitlines():
        text = escape(line)
        if line.startswith(("+++", "---")):
            out.append(f"[dim]{text}[/]")
        elif line.startswith("+"):
            out.append(f"[$success]{text}[/]")
        elif line.startswith("-"):
            out.append(f"[$error]{text}[/]")
        elif line.startswith("@@"):
            out.append(f"[$accent]{text}[/]")
        else:
            out.append(text)
    return "\n".join(out)


def _patched_old_lines(patch: str) -> set[int]:
    """Line numbers (current file) a patch removes or replaces."""
    import re

    marked: set[int] = set()
    line = 0
    for text in patch.splitlines():
        match = re.match(r"^@@ -(\d+)", text)
        if match:
            line = int(match.group(1))
            continue
        if not line or text.startswith(("+++", "---")):
            continue
        if text.startswith("-"):
            marked.add(line)
            line += 1
        elif text.startswith(" "):
            line += 1
    return marked


def open_review(app: Any, opts: ReviewOptions | None = None) -> None:
    """Push a review of the working tree from the workbench (``app.action_review``)."""
    if app.store is None or app.loaded is None:
        app.notify("Still starting up: try again in a moment.", severity="warning")
        return
    from ai_workbench.review import ReviewOptions, ReviewService

    choice = getattr(app, "model_choice", None)
    if opts is None:
        opts = ReviewOptions(
            model=getattr(choice, "model", None),
            api_base=getattr(choice, "api_base", None),
            provider=getattr(choice, "provider", None),
            cwd=app.cwd,
        )
    app.push_screen(ReviewScreen(ReviewService(app.loaded, app.store), opts))
