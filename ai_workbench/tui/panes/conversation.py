"""The conversation pane's message actions: rate (with a comment), copy, copy a code block,
open a cited location. Editing and regenerating go on up to the conversation pane (they need
the prompt and the turn), as :class:`ChatLog.Action` messages it handles."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work

from ai_workbench.tui.context import Workbench, clip
from ai_workbench.tui.messages import OpenInEditor
from ai_workbench.tui.widgets.chat import ChatLog, MessageView, code_blocks

if TYPE_CHECKING:
    from ai_workbench.tui.screens.feedback import FeedbackResult

ANSWER_ACTIONS = ("like", "dislike", "copy_code", "regenerate", "open_citation")


class ConversationLog(ChatLog):
    """The chat log that acts on its own messages."""

    def __init__(self, ctx: Workbench, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx

    def act_on(self, kind: str) -> None:
        """Run ``kind`` on the selected message, or the last fitting one (palette commands)."""
        role = "assistant" if kind in ANSWER_ACTIONS else None
        view = self.target(role)
        if view is not None and role and view.role != role:
            view = self.last(role)
        if view is None:
            self.notify("No message to act on yet.", severity="warning")
            return
        self.post_message(self.Action(kind, view))

    @on(ChatLog.Action)
    def _action(self, event: ChatLog.Action) -> None:
        kind, view = event.action, event.view
        if kind in ("edit", "regenerate"):
            return  # the conversation pane's
        event.stop()
        if kind in ("like", "dislike"):
            self.rate(view, 1 if kind == "like" else -1)
        elif kind == "copy":
            self.app.copy_to_clipboard(view.text)
            self.notify(f"Copied the message ({len(view.text):,} characters)")
        elif kind == "copy_code":
            self.copy_code(view)
        elif kind == "open_citation":
            self.open_citation(view)

    # ---- rating

    def rate(self, view: MessageView, rating: int) -> None:
        from ai_workbench.tui.screens.feedback import FeedbackScreen

        if view.role != "assistant" or view.info.message_id is None or view.info.streaming:
            self.notify("Only a finished answer can be rated.", severity="warning")
            return
        existing = view.info.rating is not None
        first_line = next((line for line in view.text.splitlines() if line.strip()), "")
        first_line = first_line.replace("**", "").replace("`", "").lstrip("#> ")
        screen = FeedbackScreen(
            rating,
            excerpt=clip(first_line, 70),
            comment=view.info.comment if existing else None,
            existing=existing,
        )

        def done(result: FeedbackResult | None) -> None:
            if result is not None:
                self._save_feedback(view, result)

        self.app.push_screen(screen, done)

    @work(group="feedback", exit_on_error=False)
    async def _save_feedback(self, view: MessageView, result: FeedbackResult) -> None:
        feedback = self.ctx.feedback
        message_id = view.info.message_id
        try:
            if result.rating is None:
                await feedback.clear("message", message_id)
                view.update_info(rating=None, comment=None)
                self.notify("Rating removed")
                return
            saved = await feedback.rate("message", message_id, result.rating, result.comment)
        except Exception as exc:
            self.notify(f"could not save the rating: {exc}", severity="error")
            return
        view.update_info(rating=saved.rating, comment=saved.comment)
        sources = await self._rate_cited_sources(view, saved.rating, saved.comment)
        verdict = "Liked" if saved.rating > 0 else "Disliked"
        extra = f", with its {sources} cited source(s) in the project index" if sources else ""
        self.notify(verdict + extra, timeout=3)

    async def _rate_cited_sources(self, view: MessageView, rating: int, comment: str | None) -> int:
        """A rated grounded answer rates the indexed chunks it cites (issue 7): they rise or
        fall for similar questions. 0 when it cites nothing indexed."""
        from ai_workbench.tui.knowledge import citations, rate_cited

        loaded = self.ctx.loaded
        if loaded is None or not citations(view.text, Path(loaded.project_root)):
            return 0
        user = self.previous_user(view)
        question = user.text if user else None
        try:
            return await rate_cited(loaded, self.ctx.store, view.text, rating, question, comment)
        except Exception as exc:  # no index yet, or a broken one: the message rating stands
            self.log.warning(f"rating cited sources: {exc}")
            return 0

    # ---- copying and citations

    def copy_code(self, view: MessageView) -> None:
        from ai_workbench.tui.screens.pickers import PickerScreen, PickItem

        blocks = code_blocks(view.text)
        if not blocks:
            self.notify("No code block in this message.", severity="warning")
            return
        if len(blocks) == 1:
            self._copy_block(blocks[0])
            return
        items = [
            PickItem(
                str(index),
                clip(next((ln for ln in block.splitlines() if ln.strip()), "(blank)"), 70),
                f"block {index + 1} · {len(block.splitlines())} lines",
            )
            for index, block in enumerate(blocks)
        ]

        def done(value: str | None) -> None:
            if value is not None:
                self._copy_block(blocks[int(value)])

        self.app.push_screen(PickerScreen("Copy which code block?", items), done)

    def _copy_block(self, block: str) -> None:
        self.app.copy_to_clipboard(block)
        lines = len(block.splitlines())
        self.notify(f"Copied the code block ({lines} line{'s' if lines != 1 else ''})")

    def open_citation(self, view: MessageView) -> None:
        from ai_workbench.tui.knowledge import citations
        from ai_workbench.tui.screens.pickers import PickerScreen, PickItem

        root = self.ctx.project_root
        found = citations(view.text, root)
        if not found:
            self.notify("No cited file location in this message.", severity="warning")
            return
        if len(found) == 1:
            self.post_message(OpenInEditor(root / found[0].path, found[0].start))
            return
        items = [PickItem(str(i), c.label) for i, c in enumerate(found)]

        def chosen(value: str | None) -> None:
            if value is not None:
                hit = found[int(value)]
                self.post_message(OpenInEditor(root / hit.path, hit.start))

        self.app.push_screen(PickerScreen("Open a cited location", items), chosen)
