"""The suggestions pane (right): the queue as it fills (events from suggestions/feed.py), and
what the user does with an item: run its action, apply its patch, run a shell fix, rate it,
dismiss it. Opening a file and drafting a prompt go on up as messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work

from ai_workbench.core.events import SuggestionAdded, SuggestionChanged
from ai_workbench.tui.context import Workbench, clip
from ai_workbench.tui.messages import OpenInEditor, PromptDraft
from ai_workbench.tui.widgets.suggestions import SuggestionsPanel


class SuggestionsPane(SuggestionsPanel):
    """Subscribes to suggestion events once mounted (it is lazy: after the first frame)."""

    def __init__(self, ctx: Workbench, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx
        self.known: set[int] = set()  # ids already shown or announced
        self._unsubscribe: Any = None

    def on_mount(self) -> None:
        # (SuggestionsPanel.on_mount runs too: it posts Ready, handled below.)
        self._unsubscribe = self.ctx.bus.on(self._on_event, SuggestionAdded, SuggestionChanged)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    @on(SuggestionsPanel.Ready)
    def _ready(self, event: SuggestionsPanel.Ready) -> None:
        event.stop()
        self.run_worker(self._fill(), group="suggestions", exit_on_error=False)

    async def _fill(self) -> None:
        if not await self.ctx.wait_store() or self.ctx.suggestion_queue is None:
            return
        try:
            items = await self.ctx.suggestion_queue.list()
        except Exception as exc:
            self.log.warning(f"suggestions: {exc}")
            return
        self.known.update(item.id for item in items)
        self.set_items(items)

    def _on_event(self, event: SuggestionAdded | SuggestionChanged) -> None:
        if isinstance(event, SuggestionChanged):
            self.remove_item(event.id)
            return
        if event.id in self.known or event.item is None:
            return
        self.known.add(event.id)
        self.add_item(event.item)
        self.notify(f"{event.title}", title=f"Suggestion · {event.suggestion_kind}", timeout=6)

    # ---- status

    @on(SuggestionsPanel.Seen)
    def _seen(self, event: SuggestionsPanel.Seen) -> None:
        event.stop()
        self.set_status(event.suggestion, "seen")

    @on(SuggestionsPanel.Dismiss)
    def _dismiss(self, event: SuggestionsPanel.Dismiss) -> None:
        event.stop()
        self.set_status(event.suggestion, "dismissed")

    @work(group="suggestions", exit_on_error=False)
    async def set_status(self, item: Any, status: str) -> None:
        try:
            await self.ctx.suggestion_queue.set_status(item.id, status)
        except Exception as exc:
            self.notify(str(exc), severity="error")
            return
        item.status = status
        if status in ("dismissed", "applied"):
            self.remove_item(item.id)
            if status == "dismissed":
                self.notify(f"Dismissed: {clip(item.title, 50)}", timeout=3)
        else:
            self.set_items(self.items)

    # ---- rating

    @on(SuggestionsPanel.Rate)
    def _rate(self, event: SuggestionsPanel.Rate) -> None:
        event.stop()
        self._rate_suggestion(event.suggestion, event.rating)

    @work(group="feedback", exit_on_error=False)
    async def _rate_suggestion(self, item: Any, rating: int) -> None:
        """Like/dislike a suggestion with an optional comment (a review finding as that finding)."""
        from ai_workbench.review.service import (
            clear_suggestion_rating,
            rate_suggestion,
            suggestion_rating,
        )
        from ai_workbench.tui.screens.feedback import FeedbackScreen

        ctx = self.ctx
        if ctx.store is None:
            return
        existing = await suggestion_rating(ctx.store, item)
        result = await self.app.push_screen_wait(
            FeedbackScreen(
                rating,
                excerpt=clip(item.title, 70),
                comment=existing.comment if existing else None,
                existing=existing is not None,
            )
        )
        if result is None:
            return
        try:
            if result.rating is None:
                await clear_suggestion_rating(ctx.loaded, ctx.store, item)
            else:
                await rate_suggestion(ctx.loaded, ctx.store, item, result.rating, result.comment)
        except Exception as exc:
            self.notify(f"could not save the rating: {exc}", severity="error")
            return
        self.set_rating(item.id, result.rating)
        verdict = {1: "Liked", -1: "Disliked"}.get(result.rating or 0, "Rating removed")
        self.notify(verdict, timeout=3)

    # ---- actions

    @on(SuggestionsPanel.RunAction)
    def _run_action(self, event: SuggestionsPanel.RunAction) -> None:
        event.stop()
        item, action = event.suggestion, event.action
        payload = item.payload or {}
        if action.id == "dismiss":
            self.set_status(item, "dismissed")
            return
        if action.id == "apply" and payload.get("patch"):
            self.run_worker(
                lambda: self._apply(item), thread=True, group="suggestion-apply",
                exit_on_error=False,
            )  # fmt: skip
            return
        if action.id == "run":
            self._run_fix(item)
            return
        if action.id == "view":
            from ai_workbench.tui.screens.confirm import MessageScreen

            text = item.body or str(payload.get("patch") or payload.get("text") or item.title)
            markdown = bool(item.body)
            self.app.push_screen(
                MessageScreen(item.title, text, severity="info", markdown=markdown)
            )
            return
        if action.id == "copy" or (action.id not in ("ask", "open") and "command" in payload):
            text = str(payload.get("command") or payload.get("text") or item.body or item.title)
            self.app.copy_to_clipboard(text)
            self.notify(f"Copied: {clip(text, 60)}")
        elif action.id == "open" and payload.get("path"):
            line = payload.get("line")
            path = Path(str(payload["path"]))
            self.post_message(OpenInEditor(path, line if isinstance(line, int) else None))
            return  # looking at it is not acting on it: the item stays open
        elif action.id == "ask" or "prompt" in payload:
            text = str(payload.get("prompt") or f"{item.title}\n\n{item.body}")
            self.post_message(PromptDraft(text))
        else:
            self.notify(
                f"The workbench cannot run “{action.label}” for {item.kind} suggestions yet.",
                severity="warning",
            )
            return
        self.set_status(item, "applied")

    def _apply(self, item: Any) -> None:  # a thread: git apply --check, then git apply
        from ai_workbench.core.patches import PatchError, apply_patch

        payload = item.payload or {}
        root = Path(str(payload.get("root") or self.ctx.cwd))
        try:
            done = apply_patch(root, str(payload["patch"]), expect=payload.get("expect"))
        except PatchError as exc:
            self.app.call_from_thread(
                self.notify, str(exc), title="Not applied", severity="error", timeout=12
            )
            return
        self.app.call_from_thread(self.set_status, item, "applied")
        self.app.call_from_thread(self.notify, f"Applied to {', '.join(done.paths)}")

    @work(group="run-fix", exclusive=True, exit_on_error=False)
    async def _run_fix(self, item: Any) -> None:
        """Pick, confirm (``yes`` typed for a dangerous one) and run a shell fix; see run_fix."""
        from ai_workbench.tui.run_fix import run_fix_flow

        if await run_fix_flow(self.app, item, cwd=self.ctx.cwd):
            self.set_status(item, "applied")
