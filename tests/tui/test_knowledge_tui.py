"""Project knowledge in the workbench: index from the palette, F7 grounds prompts, o opens a
cited location; a weak retrieval asks back instead of sending."""

from __future__ import annotations

from typing import Any

from ai_workbench.core.feedback import FeedbackService
from ai_workbench.store import Store
from ai_workbench.tui.screens.feedback import FeedbackScreen
from tests.tui.conftest import SIZE, settle, wait_for


def _notified(app: Any, text: str) -> bool:
    return any(text in str(n.message) for n in app._notifications)


async def test_grounded_answer_with_a_citation_opened_in_the_editor(
    make_app, fake_llm, shop_project, monkeypatch
) -> None:
    monkeypatch.setenv("EDITOR", "nvim")
    app = make_app(model="openai/echo", api_base=fake_llm.base_url, cwd=shop_project)
    opened: list[list[str]] = []
    app.editor_runner = opened.append
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        app.action_index_project()  # as the palette's "Index the project"
        await wait_for(pilot, lambda: _notified(app, "Index updated"), timeout=60)
        assert _notified(app, "3 added")
        await pilot.press("f7")
        assert app.kb_on and any(c.kind == "kb" for c in app.chip_bar.chips)
        fake_llm.reply = "VAT is added in `billing/invoice.py:1-4` by invoice_total."
        app.prompt.focus()
        app.prompt.insert("how is the invoice VAT total computed?")
        await pilot.press("enter")
        await settle(pilot, app)
        messages = fake_llm.chat_requests[-1]["json"]["messages"]
        system = next(m["content"] for m in messages if m["role"] == "system")
        assert "net = sum(line.amount for line in lines)" in system  # the retrieved chunk
        await pilot.press("ctrl+l", "o")
        await settle(pilot, app)
        assert opened == [["nvim", "+1", str(shop_project / "billing" / "invoice.py")]]
        # liking the grounded answer likes the chunk it cites, for this question
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, FeedbackScreen))
        await pilot.press("enter")
        await settle(pilot, app)
        assert _notified(app, "with its 1 cited source(s)")
    from ai_workbench.knowledge.service import KnowledgeService

    async with await Store.open() as store:
        service = KnowledgeService.for_project(app.loaded.settings.knowledge, shop_project)
        try:
            [chunk] = service.cited_chunks("see billing/invoice.py:1-4")
            saved = await FeedbackService(store).get("chunk", chunk.uid)
        finally:
            service.close()
    assert saved is not None and saved.rating == 1


async def test_weak_retrieval_asks_back_and_keeps_the_prompt(
    make_app, fake_llm, shop_project
) -> None:
    from ai_workbench.tui.knowledge import index_project

    app = make_app(model="openai/echo", api_base=fake_llm.base_url, cwd=shop_project, kb=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        # no index yet: a clear message, and the prompt stays
        app.prompt.focus()
        app.prompt.insert("why does the kubernetes operator crash?")
        await pilot.press("enter")
        await settle(pilot, app)
        assert _notified(app, "aiw index")
        assert app.prompt.text == "why does the kubernetes operator crash?"
        assert fake_llm.chat_requests == []
        index_project(app.loaded)
        await pilot.press("enter")
        await settle(pilot, app)
        note = app.chat_log.views[-1]
        assert "Do you mean" in note.text and "below the" in note.text
        assert app.prompt.text == "why does the kubernetes operator crash?"
        assert fake_llm.chat_requests == []  # asked the user, not the model


async def test_an_index_run_elsewhere_is_announced(make_app, shop_project, run_aiw) -> None:
    app = make_app(cwd=shop_project)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        await wait_for(pilot, lambda: app._seen_report is not None, timeout=10)  # baseline
        done = run_aiw("index", "--no-embed", cwd=shop_project)  # another terminal
        assert done.returncode == 0, done.stderr
        await wait_for(pilot, lambda: _notified(app, "Index updated: 3 added"), timeout=10)
