"""The documents screen driven by Pilot: the real store, the loopback model, real renderers.

Opened from the palette action; a new ADR goes through the questions modal (an answer typed,
the rest kept), the preview draws the Mermaid diagram as text, a dislike with a comment on a
section becomes guidance, and export writes a DOCX into the project.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Input, Markdown, OptionList

from ai_workbench.tui.screens.documents import DocumentsScreen, QuestionsModal
from ai_workbench.tui.screens.feedback import FeedbackScreen
from tests.documents import replies
from tests.tui.conftest import SIZE, settle, wait_for


async def test_new_adr_questions_preview_rate_export(
    make_app: Any, fake_llm: Any, isolated_env: Any
) -> None:
    project = isolated_env.work / "proj"
    (project / ".git").mkdir(parents=True)
    fake_llm.reply = replies.ADR
    app = make_app(model="openai/echo", api_base=fake_llm.base_url, cwd=project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.action_documents()
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentsScreen))
        screen = app.screen
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen.focused, Input))
        for ch in "adr Move sessions to PostgreSQL":
            await pilot.press("space" if ch == " " else ch)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, QuestionsModal))
        modal = app.screen
        status = modal.query_one("#q-status", Input)
        assert status.value == "proposed"  # the suggested default, prefilled
        status.value = "accepted"
        for _ in modal.questions:
            await pilot.press("enter")
            await pilot.pause()
        # the second round (a template with more than questions_per_round inputs)
        await wait_for(
            pilot,
            lambda: (
                app.screen is screen
                or (isinstance(app.screen, QuestionsModal) and app.screen is not modal)
            ),
        )
        if isinstance(app.screen, QuestionsModal):
            await pilot.press("escape")  # take the remaining suggestions
        await wait_for(pilot, lambda: bool(screen.docs), timeout=30)
        doc = screen.docs[0]
        assert doc.body.startswith("---\nstatus: accepted\n")
        assert "## Assumptions" in doc.body
        prompt = fake_llm.chat_requests[0]["json"]["messages"][1]["content"]
        assert "status: accepted" in prompt
        preview = screen.query_one("#documents-preview", Markdown)
        assert "drawn as text" in preview.source and "┌" in preview.source
        assert screen.query_one("#documents-list", OptionList).option_count == 1

        # dislike one section, with a comment
        while screen.section != "Decision Outcome":
            await pilot.press("s")
            await pilot.pause()
        await pilot.press("minus")
        await wait_for(pilot, lambda: isinstance(app.screen, FeedbackScreen))
        app.screen.query_one(Input).value = "Give numbers for every consequence"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.pause()
        learnings: list[Any] = []

        async def load() -> None:
            learnings.extend(await screen.service.learnings("adr"))

        for _ in range(50):
            learnings.clear()
            await load()
            if learnings:
                break
            await pilot.pause(0.05)
        assert [(ln.rule, ln.section) for ln in learnings] == [
            ("Give numbers for every consequence", "Decision Outcome")
        ]

        # export as DOCX into the project
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen.focused, Input))
        await pilot.press("enter")  # the suggested format: docx
        await wait_for(pilot, lambda: screen.last_export is not None, timeout=30)
        path = Path(screen.last_export.path)
        assert path.parent == project and path.suffix == ".docx"
        import docx

        assert len(docx.Document(str(path)).inline_shapes) == 1
