"""The conversation pane (centre column): chips, the conversation, the status line and the
prompt; it owns the open session and the chat turn (send, stream, save, cancel, retry)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import on, work
from textual.containers import Vertical
from textual.widgets import Static

from ai_workbench.tui.context import Workbench, escape
from ai_workbench.tui.messages import SessionEdited, SessionShown, Status
from ai_workbench.tui.panes.choices import ChoiceBar
from ai_workbench.tui.panes.conversation import ConversationLog
from ai_workbench.tui.panes.setup import ModelSetup
from ai_workbench.tui.widgets.chat import ChatLog, MessageInfo, MessageView, views_from_messages
from ai_workbench.tui.widgets.chips import Chip
from ai_workbench.tui.widgets.prompt import PromptInput


class ChatPane(ModelSetup, Vertical):
    """The open session and its turns. Other panes reach it through messages the app routes."""

    def __init__(
        self, ctx: Workbench, *, persona: str | None = None, kb: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx
        self.session: Any = None
        self.streaming = False
        self.chat_worker: Any = None
        self.status_text = ""
        self.bar = ChoiceBar(ctx, persona=persona, kb=kb, id="chips")
        self.log_view = ConversationLog(ctx, id="chat-log")
        self.prompt = PromptInput(id="prompt")
        self.init_setup()

    def compose(self) -> Any:
        yield self.bar
        yield self.log_view
        yield Static(id="turn-status", markup=True)
        yield self.prompt

    def on_mount(self) -> None:
        self.start_probe()

    # ---- display

    def set_status(self, markup: str) -> None:
        self.status_text = markup
        status = self.query_one("#turn-status", Static)
        status.update(markup)
        status.set_class(bool(markup), "-visible")

    @on(Status)
    def _status(self, event: Status) -> None:
        event.stop()
        self.set_status(event.markup)

    def refresh_chips(self) -> None:
        log = self.log_view
        self.bar.show(self.session, log.session_tokens(), log.session_cost())

    def _set_session(self, session: Any, *, changed: bool = False) -> None:
        new = (self.session.id if self.session else None) != (session.id if session else None)
        self.session = session
        self.refresh_chips()
        if new or changed:
            self.post_message(SessionShown(session.id if session else None, changed))

    @on(Chip.Removed)
    def _chip_removed(self) -> None:
        self.prompt.focus()

    @on(SessionEdited)
    def _choice_saved(self, event: SessionEdited) -> None:
        event.stop()
        self.session_edited(event.session)

    def session_edited(self, session: Any) -> None:
        """A session was saved (a choice here, a rename in the list): show the stored one."""
        if self.session is not None and self.session.id == session.id:
            self.session = session
            self.refresh_chips()

    # ---- sessions

    def open_session(self, session_id: str, message_id: int | None = None) -> None:
        if self.streaming:
            self.cancel_turn("switched session")
        self._open_session(session_id, message_id)

    def open_first(self, session_id: str | None, sessions: list[Any]) -> None:
        """At start-up: open ``session_id`` (``--session``), else the most recent session,
        unless a conversation already started in the meantime."""
        idle = self.session is None and not self.streaming and self.chat_worker is None
        if session_id is None and sessions and idle:
            session_id = sessions[0].id
        if session_id is None:
            self._settled.set()
            return
        self._open_session(session_id, None, self.ctx.cli_choice)

    @work(group="open", exclusive=True, exit_on_error=False)
    async def _open_session(
        self, session_id: str, message_id: int | None, choice: Any = None
    ) -> None:
        try:
            await self._open_session_now(session_id, message_id, choice)
        finally:
            self._settled.set()
            self._sync_welcome()

    async def _open_session_now(
        self, session_id: str, message_id: int | None, choice: Any = None
    ) -> None:
        from ai_workbench.core.errors import AiwError

        if not await self.ctx.wait_store():
            return
        if self.chat_worker is not None and not self.chat_worker.is_finished:
            with contextlib.suppress(Exception):  # WorkerCancelled: it was just cancelled
                await self.chat_worker.wait()
        try:
            session, messages = await self.ctx.sessions.open(session_id)
            answer_ids = [m.id for m in messages if m.role == "assistant"]
            ratings = await self.ctx.feedback.for_targets("message", answer_ids)
        except AiwError as exc:
            self.notify(str(exc), title="Session", severity="error")
            return
        self.bar.persona_choice = None
        # A model chosen with Ctrl+O belongs to the session it was chosen in (it is saved
        # there): a session opened from the list continues with its own saved model. The one
        # the workbench starts with takes the command line's --model / --provider, if given.
        self.bar.model_choice = choice
        views = views_from_messages(messages, ratings)
        for view in views:
            stored = next((m for m in messages if m.id == view.info.message_id), None)
            if stored is not None:
                view.attachment_paths = [a.path for a in stored.attachments]  # type: ignore[attr-defined]
        await self.log_view.load(views)
        self.session = session
        self.refresh_chips()
        self.post_message(SessionShown(session.id))
        if message_id is not None:
            target = await self.log_view.reveal(message_id)
            if target is not None:
                self.log_view.focus()
                self.log_view.select_view(target)
        elif not self._session_list_focused():
            self.prompt.focus()

    def _session_list_focused(self) -> bool:
        focused = self.app.focused
        return focused is not None and focused.id == "session-options"

    def new_session(self) -> None:
        if self.streaming:
            self.cancel_turn("new session")
        self.session = None
        self.bar.persona_choice = None
        self.bar.model_choice = self.ctx.cli_choice  # the start's choice, else the default
        self.run_worker(self.log_view.clear_messages(), group="open", exclusive=True)
        self.refresh_chips()
        self.post_message(SessionShown(None))
        self.prompt.focus()
        self._sync_welcome()

    # ---- a chat turn

    @on(PromptInput.Submitted)
    def _prompt_submitted(self, event: PromptInput.Submitted) -> None:
        text = event.text
        if self.streaming:
            self.notify("An answer is still streaming; Esc cancels it.", severity="warning")
            return
        if not text.strip() and not self.bar.attached:
            self.app.bell()
            return
        self.prompt.remember(text)
        self.prompt.clear()
        self._welcome_pinned = False
        self.hide_welcome()
        self.chat_worker = self._run_turn(text, list(self.bar.attached))

    def draft(self, text: str) -> None:
        """Put ``text`` in the prompt box for the user to edit and send."""
        self.prompt.set_text(text)
        self.prompt.focus()

    def _ask_options(self, text: str, files: list[Path]) -> Any:
        from ai_workbench.chat.service import AskOptions

        choice = self.bar.model_choice
        return AskOptions(
            prompt=text,
            files=[str(p) for p in files],
            persona=self.bar.persona_choice,
            session=self.session.id if self.session else None,
            model=choice.model if choice else None,
            api_base=choice.api_base if choice else None,
            provider=choice.provider if choice else None,
            cwd=self.ctx.cwd,
        )

    def _notice(self, line: str) -> None:
        self.notify(line, severity="information", timeout=6)

    async def _wait_ready(self) -> str | None:
        if not self.ctx.ready():
            self.set_status("[dim]opening the session database…[/dim]")
            problem = await self.ctx.wait_ready()
            self.set_status("")
            return problem
        return await self.ctx.wait_ready()

    def restore_prompt(self, text: str, files: list[Path]) -> None:
        if not self.prompt.text.strip():
            self.prompt.set_text(text)
        self.bar.attach(files)

    @work(group="chat", exclusive=True, exit_on_error=False)
    async def _run_turn(
        self,
        text: str,
        files: list[Path],
        retry_turn: Any = None,
        reuse_message: int | None = None,
    ) -> None:
        from ai_workbench.chat.service import ChatService
        from ai_workbench.core.errors import AiwError
        from ai_workbench.tui.tasks import confirm_proposals, task_toolbox, with_task_tools

        log = self.log_view
        answer: MessageView | None = None
        # Is the user's message on screen yet?
        shown = retry_turn is not None or reuse_message is not None
        self.streaming = True
        self.app.refresh_bindings()
        try:
            problem = await self._wait_ready()
            if problem is not None:
                self.restore_prompt(text, files)
                self.notify(problem, title="Cannot send", severity="error", timeout=10)
                return
            service = ChatService(self.ctx.loaded, self.ctx.store)
            if retry_turn is None:
                options = self._ask_options(text, files)
                if reuse_message is not None:
                    options = replace(options, reuse_user_message=reuse_message, files=[])
                if self.bar.kb_on and reuse_message is None:
                    grounded = await self._ground(text, files)
                    if grounded is None:
                        return
                    options = replace(options, extra_context=grounded)
                try:
                    turn = await service.prepare(options, self._notice)
                except AiwError as exc:
                    if reuse_message is None:
                        self.restore_prompt(text, files)
                    self.set_status(f"[$error]{escape(str(exc))}[/]")
                    self.notify(str(exc), title="Not sent", severity="error", timeout=10)
                    return
                self.set_status("")
                self.bar.detach(files)
                if self.session is None and self.ctx.mcp is not None:
                    self.ctx.mcp.adopt(turn.session.id)  # the new session's tools go with it
                self._set_session(turn.session)
            if retry_turn is None and reuse_message is None:
                user_view = MessageView(
                    text,
                    MessageInfo(
                        role="user",
                        message_id=turn.user_message_id,
                        attachments=[os.path.basename(f.display) for f in turn.files],
                    ),
                )
                user_view.attachment_paths = [str(f.path) for f in turn.files]  # type: ignore[attr-defined]
                await log.add(user_view)
                shown = True
                self.refresh_chips()
                self.post_message(SessionShown(turn.session.id, changed=True))
            elif retry_turn is not None:
                turn = retry_turn
            answer = MessageView(
                "", MessageInfo(role="assistant", model=turn.chain[0].model, streaming=True)
            )
            answer.turn = turn  # type: ignore[attr-defined]
            answer.turn_choice = self.bar.model_choice  # type: ignore[attr-defined]
            await log.add(answer)
            log.scroll_end(animate=False)
            warm = self.ctx.warm
            if warm is not None and not warm.is_set():
                answer.update_info(waiting="loading model client…")
                self.set_status("[$warning]loading model client… your prompt is sent when ready[/]")
                await warm.wait()
                self.set_status("")
                answer.update_info(waiting=None)
            tools = await self._tools(turn, answer)
            task_tools = task_toolbox(self.ctx, text) if retry_turn is None else None
            result = await self._stream(service, turn, answer, with_task_tools(tools, task_tools))
            await self._finish_turn(answer, result)
            if task_tools is not None and task_tools.proposals:  # saved only on the user's yes
                self.app.run_worker(
                    confirm_proposals(self.app, self.ctx, task_tools.proposals),
                    group="task-confirm", exit_on_error=False,
                )  # fmt: skip
        except asyncio.CancelledError:
            if answer is not None:
                answer.update_info(streaming=False, waiting=None, status="partial", error=None)
                # ChatService saved the partial answer before re-raising; learn its id so it
                # can be rated, copied and regenerated like any other.
                turn_session = getattr(getattr(answer, "turn", None), "session", None)
                if turn_session is not None:
                    self.call_later(self._adopt_saved_answer, answer, turn_session.id)
            elif not shown:
                self.restore_prompt(text, files)  # cancelled before it was sent
            self.set_status("")
            raise
        except Exception as exc:  # a bug: show it, never a traceback
            message = f"internal error: {type(exc).__name__}: {exc} (please report it)"
            if answer is not None:
                answer.update_info(streaming=False, status="error", error=message)
            self.notify(message, severity="error", timeout=12)
        finally:
            self.streaming = False
            self.app.refresh_bindings()

    @work(group="adopt", exit_on_error=False)
    async def _adopt_saved_answer(self, answer: MessageView, session_id: str) -> None:
        try:
            session, messages = await self.ctx.sessions.open(session_id)
        except Exception:
            return
        saved = next((m for m in reversed(messages) if m.role == "assistant"), None)
        if saved is not None and answer.info.message_id is None:
            answer.update_info(
                message_id=saved.id,
                status=saved.status,
                tokens_in=saved.tokens_in,
                tokens_out=saved.tokens_out,
            )
        if self.session is not None and self.session.id == session.id:
            self.session = session
            self.refresh_chips()
        self.post_message(SessionShown(session.id, changed=True))

    async def _tools(self, turn: Any, answer: MessageView) -> Any:
        """The tools this turn offers: MCP tools the session chose (tui/mcp.py), each call shown
        in the answer, and ``remember_fact`` (stored only if the user confirms in a modal)."""
        from ai_workbench.memory.tools import with_memory_tools

        return with_memory_tools(await self._mcp_tools(turn, answer), self._memory_tools(answer))

    def _memory_tools(self, answer: MessageView) -> Any:
        from ai_workbench.tui.screens.memory import memory_service

        settings = self.ctx.loaded.settings.memory if self.ctx.loaded is not None else None
        service = memory_service(self.ctx)
        if settings is None or service is None or not (settings.enabled and settings.offer_tool):
            return None
        from ai_workbench.memory.tools import MemoryTools

        async def confirm(proposal: Any) -> bool:
            from ai_workbench.tui.screens.memory import RememberScreen

            decided: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            screen = RememberScreen(proposal.fact)

            def done(yes: bool | None) -> None:
                if not decided.done():
                    decided.set_result(bool(yes))

            self.app.push_screen(screen, done)
            try:
                return await decided
            except asyncio.CancelledError:
                if self.app.screen is screen:
                    self.app.pop_screen()
                raise

        def report(line: str) -> None:
            from ai_workbench.core.sanitize import strip_controls

            self.notify(escape(strip_controls(line)), title="Memory")

        return MemoryTools(service, confirm, report=report)

    async def _mcp_tools(self, turn: Any, answer: MessageView) -> Any:
        mcp = self.ctx.mcp
        if mcp is None or not mcp.chosen_for(turn.session.id):
            return None
        from ai_workbench.tui.mcp import tool_line

        def report(event: Any) -> None:
            answer.add_tool_line(tool_line(event), replace_last=event.phase == "result")

        self.set_status("[dim]starting MCP servers…[/dim]")
        try:
            return await mcp.toolbox(turn.session.id, report)
        finally:
            self.set_status("")

    async def _stream(self, service: Any, turn: Any, answer: MessageView, tools: Any = None) -> Any:
        from textual.widgets import Markdown

        stream = Markdown.get_stream(answer.markdown)
        pending: list[str] = []
        wake = asyncio.Event()

        def on_text(text: str) -> None:
            answer.text += text
            pending.append(text)
            wake.set()

        async def pump() -> None:
            while True:
                await wake.wait()
                wake.clear()
                if pending:
                    chunk = "".join(pending)
                    pending.clear()
                    if answer.has_class("-empty"):
                        answer.refresh_info()
                    await stream.write(chunk)

        pumping = asyncio.create_task(pump())
        try:
            return await service.run(turn, on_text, notice=self._notice, tools=tools)
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping
            if pending:
                await stream.write("".join(pending))
                pending.clear()
            await stream.stop()

    async def _finish_turn(self, answer: MessageView, result: Any) -> None:
        from ai_workbench.core.context import estimate_tokens

        stream = result.stream
        tokens_out = stream.tokens_out
        if tokens_out is None and result.text:
            tokens_out = estimate_tokens(result.text)
        answer.update_info(
            streaming=False,
            waiting=None,
            message_id=result.message_id,
            status=result.status,
            model=result.provider.model if result.provider else answer.info.model,
            tokens_in=stream.tokens_in,
            tokens_out=tokens_out,
            cost=result.cost,
            error=str(result.error) if result.error else None,
        )
        saved_to = getattr(result, "saved_to", None)
        if saved_to is not None:  # the database stayed locked: the answer is in a file
            note = (
                f"The session database stayed locked, so this answer is not in the session; "
                f"it was saved to {saved_to}"
            )
            answer.update_info(note=note)
            self.notify(note, title="Answer kept in a file", severity="warning", timeout=15)
        if result.error is not None:
            self.notify(str(result.error), title="Provider error", severity="error", timeout=12)
            if getattr(result.error, "kind", None) in ("connection", "auth", "model", "offline"):
                self.recheck()  # the model chip stops claiming a model that does not answer
        self._set_session(result.session, changed=True)

    def cancel_turn(self, reason: str | None) -> None:
        worker = self.chat_worker
        if worker is not None and not worker.is_finished:
            worker.cancel()
            why = f" ({reason})" if reason else ""
            self.notify(f"Answer cancelled{why}; the partial answer is kept.", timeout=5)

    # ---- project knowledge

    async def _ground(self, text: str, files: list[Path]) -> list[str] | None:
        """Context sections for a grounded prompt, or None when it must not be sent (then the
        prompt is back in the box and the reason, or the clarifying question, is shown)."""
        from ai_workbench.core.errors import AiwError
        from ai_workbench.tui.knowledge import ground

        self.set_status("[dim]searching the project index…[/dim]")
        try:
            section, question = await ground(self.ctx.loaded, self.ctx.store, text)
        except AiwError as exc:
            self.restore_prompt(text, files)
            self.set_status("")
            self.notify(
                f"{exc} (or press F7 to ask without project knowledge)",
                title="Not sent",
                severity="error",
                timeout=10,
            )
            return None
        finally:
            self.set_status("")
        if question:
            self.restore_prompt(text, files)
            note = MessageView(
                question, MessageInfo(role="assistant", model="aiw · project knowledge")
            )
            await self.log_view.add(note)
            self.log_view.scroll_end(animate=False)
            return None
        return [section] if section else []

    # ---- edit and regenerate (the log's other actions are its own)

    @on(ChatLog.Action)
    def _log_action(self, event: ChatLog.Action) -> None:
        event.stop()
        if event.action == "edit":
            self.edit_prompt(event.view)
        elif event.action == "regenerate":
            self.regenerate(event.view)

    def edit_prompt(self, view: MessageView) -> None:
        user = self.log_view.previous_user(view)
        if user is None:
            self.notify("No prompt to edit there.", severity="warning")
            return
        self.prompt.set_text(user.text)
        paths = [Path(raw) for raw in getattr(user, "attachment_paths", [])]
        self.bar.attach([p for p in paths if p.exists()])
        self.refresh_chips()
        self.prompt.focus()
        self.notify("Editing an earlier prompt: Enter sends it as a new turn.", timeout=5)

    def regenerate(self, view: MessageView) -> None:
        if self.streaming:
            self.notify("An answer is still streaming; Esc cancels it.", severity="warning")
            return
        turn = getattr(view, "turn", None)
        if view.role == "assistant" and turn is not None and self.session is not None:
            if getattr(view, "turn_choice", None) != self.bar.model_choice:
                turn = self._rechain(turn)
                if turn is None:
                    return
            self.chat_worker = self._run_turn("", [], retry_turn=turn)
            return
        user = self.log_view.previous_user(view)
        if user is None:
            self.notify("No prompt to answer again there.", severity="warning")
            return
        if user.info.message_id is not None and self.session is not None:
            # A reopened session: answer the saved prompt again, without saving it twice.
            self.chat_worker = self._run_turn(user.text, [], reuse_message=user.info.message_id)
            return
        files = [Path(p) for p in getattr(user, "attachment_paths", []) if Path(p).exists()]
        self.notify("Asking again as a new turn; the earlier answer stays in the session.")
        self.chat_worker = self._run_turn(user.text, files)

    def _rechain(self, turn: Any) -> Any:
        from ai_workbench.core.errors import ProviderError
        from ai_workbench.core.llm.profiles import resolve_chain

        args = self.bar.model_args()
        if not any(args.values()) and self.session is not None and self.session.model:
            args["model"] = self.session.model
        try:
            chain = resolve_chain(self.ctx.loaded.settings, **args)
        except ProviderError as exc:
            self.notify(str(exc), severity="error")
            return None
        return replace(turn, chain=chain)
