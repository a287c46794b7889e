"""The running bot: python-telegram-bot long polling, access control and the commands.

Every private text message goes through :meth:`TelegramBot.handle`:

* an unknown user: ``/start`` gives a one-time pairing code (or a polite refusal when
  ``telegram.max_pending`` codes already wait); anything else gets no reply and reaches no model;
* a paired user: a per-user token bucket first ("slow down" once when empty), then ``/start``,
  ``/help``, ``/new``, ``/persona [NAME]``, ``/kb QUESTION``, the tasks commands
  (``/task``, ``/tasks``, ``/done``, ``/snooze``: :mod:`ai_workbench.telegram.tasks`) or a
  plain message, which continues
  the user's session through :class:`ai_workbench.chat.service.ChatService` as its aiw user;
  the answer streams into an edited message (:class:`ai_workbench.telegram.reply.LiveReply`)
  and gets 👍/👎 buttons that rate it for that user (:meth:`TelegramBot.rate`).

While it runs, the paired users' reminders are delivered to their chats
(:mod:`ai_workbench.telegram.reminders`).

A user's messages are answered one at a time, in order; ``telegram.max_concurrent`` model calls
run at once for everyone. MCP tools are offered only with ``telegram.allow_tools = true`` (or
to the aiw users it lists).
Group chats are ignored. The bot token never appears in a log line or a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from ai_workbench.core.errors import EXIT_AUTH, EXIT_CONNECTION, AiwError
from ai_workbench.core.settings import LoadedConfig
from ai_workbench.telegram.limits import RateLimiter
from ai_workbench.telegram.links import Link, TelegramLinks
from ai_workbench.telegram.reply import LiveReply, send_text

__all__ = ["COMMANDS", "TelegramBot", "run_bot"]

log = logging.getLogger("ai_workbench.telegram")

COMMANDS: tuple[tuple[str, str], ...] = (
    ("new", "start a new conversation"),
    ("persona", "list personas, or /persona NAME to switch"),
    ("kb", "answer from the project's index, with sources"),
    ("search", "find where something is in the project's index"),
    ("review", "review a diff: /review followed by `git diff` output"),
    ("task", "add a task: /task renew the cert friday 9am"),
    ("tasks", "your open tasks (/tasks today, week or overdue)"),
    ("done", "complete a task: /done ID"),
    ("snooze", "remind again later: /snooze ID 2h"),
    ("help", "what this bot does"),
)
HELP = (
    "I answer with the models of the aiw workbench this bot runs on.\n\n"
    "Send a message to continue your conversation.\n"
    "/new: start a new conversation\n"
    "/persona: list personas; /persona NAME to switch (and start anew; /persona default resets)\n"
    "/kb QUESTION: answer from the project's index, citing files\n"
    "/search WORDS: where the project's index mentions them (files, pages, issues)\n"
    "/review DIFF: review a unified diff pasted after the command (`git diff` output)\n"
    '/task TEXT: add a task ("renew the cert next friday 9am"); its reminder comes here\n'
    "/tasks: your open tasks (/tasks today, week or overdue)\n"
    "/done ID: complete a task; /snooze ID 2h: remind again later\n"
    "/help: this text"
)
_RATE_RE = re.compile(r"^rate:(?P<rating>1|-1):(?P<message>\d{1,18})$")
_COMMAND_RE = re.compile(
    r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@(?P<bot>\w+))?(?:\s+(?P<arg>.*))?$", re.S
)


def parse_command(text: str, bot_username: str | None) -> tuple[str | None, str]:
    """(command, argument) of ``/name[@bot] arg``; (None, text) for a plain message. A command
    addressed to another bot is treated as plain text."""
    match = _COMMAND_RE.match(text.strip())
    if match is None:
        return None, text
    if match["bot"] and bot_username and match["bot"].lower() != bot_username.lower():
        return None, text
    return match["name"].lower(), (match["arg"] or "").strip()


def rating_keyboard(message_id: int, chosen: int | None = None) -> InlineKeyboardMarkup:
    """👍 / 👎 under a finished answer (``message_id`` is the aiw message); ✓ marks a rating."""

    def button(rating: int, face: str) -> InlineKeyboardButton:
        mark = " ✓" if chosen == rating else ""
        return InlineKeyboardButton(face + mark, callback_data=f"rate:{rating}:{message_id}")

    return InlineKeyboardMarkup([[button(1, "👍"), button(-1, "👎")]])


def _display_name(user: Any) -> str:
    if getattr(user, "username", None):
        return f"@{user.username}"
    return str(getattr(user, "full_name", "") or getattr(user, "first_name", "") or "")


@dataclass
class _Answer:
    """What one chat turn produced, for the reply's last line."""

    status: str
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # shown under the answer (redactions)
    message_id: int | None = None  # the aiw message: rated with the buttons under the answer


class TelegramBot:
    """The bot's behaviour over one open store; :meth:`application` wires it to PTB."""

    def __init__(
        self,
        loaded: LoadedConfig,
        store: Any,
        token: str,
        *,
        project_root: Path | None = None,
        on_event: Callable[[str], None] | None = None,
        reminder_clock: Any = None,
    ) -> None:
        self.loaded = loaded
        self.settings = loaded.settings
        self.tg = loaded.settings.telegram
        self.store = store
        self.token = token
        self.project_root = project_root or loaded.project_root
        self.links = TelegramLinks(store)
        self.limiter = RateLimiter(self.tg.messages_per_minute, self.tg.burst)
        # Strangers' /start: a bucket of its own (two codes, then one a minute).
        self.pairing_limiter = RateLimiter(1.0, 2)
        self.model_calls = asyncio.Semaphore(self.tg.max_concurrent)
        self.user_locks: dict[int, asyncio.Lock] = {}
        self.on_event = on_event or (lambda line: log.info("%s", line))
        self.username: str | None = None
        self._knowledge: Any = None
        self._knowledge_lock = asyncio.Lock()  # one index connection: one search at a time
        self._hub: Any = None
        self._toolbox: Any = None
        self._app: Application | None = None
        self.reminder_clock = reminder_clock  # tests drive a ManualClock
        self.reminders: Any = None
        self._tasks: Any = None

    # --- wiring

    def application(self) -> Application:
        app = (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.tg.base_url)
            .concurrent_updates(True)
            .build()
        )
        app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT, self._on_message))
        app.add_handler(CallbackQueryHandler(self._on_rating, pattern=_RATE_RE))
        app.add_error_handler(self._on_error)
        return app

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.handle(update)

    async def _on_rating(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.rate(update)

    async def rate(self, update: Update) -> None:
        """A 👍/👎 press under an answer: the paired user's rating of their own answer, stored
        like `aiw kb like` / the API's ``/v1/feedback`` (pressing again changes it)."""
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        match = _RATE_RE.match(query.data or "")
        link = await self.links.get(user.id)
        if match is None or link is None:  # a stranger (or an unpaired user): nothing
            with contextlib.suppress(TelegramError):
                await query.answer()
            return
        rating, message_id = int(match["rating"]), int(match["message"])
        if await self.store.message_owner(message_id) != link.owner:
            with contextlib.suppress(TelegramError):
                await query.answer("That answer is not one of yours to rate.")
            return
        from ai_workbench.core.feedback import FeedbackService

        await FeedbackService(self.store).rate("message", message_id, rating, owner=link.owner)
        await self._audit(link, "telegram.rate", {"message": message_id, "rating": rating})
        with contextlib.suppress(TelegramError):
            await query.answer("Thanks! Rated 👍" if rating > 0 else "Thanks! Rated 👎")
            await query.edit_message_reply_markup(rating_keyboard(message_id, rating))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.on_event(f"error: {self.clean(str(context.error))}")

    def clean(self, text: str) -> str:
        """``text`` without the bot token (in a message or a log line)."""
        return text.replace(self.token, "[REDACTED:telegram-bot-token]") if self.token else text

    async def close(self) -> None:
        if self._hub is not None:
            with contextlib.suppress(Exception):
                await self._hub.close()
        if self._knowledge is not None:
            self._knowledge.close()

    # --- one message

    async def handle(self, update: Update) -> None:
        message = update.effective_message
        user = update.effective_user
        chat = update.effective_chat
        if message is None or user is None or chat is None or chat.type != "private":
            return
        if user.is_bot or not message.text:
            return
        command, argument = parse_command(message.text, self.username)
        link = await self.links.get(user.id)
        if link is None:
            await self._stranger(update, command)
            return
        decision = self.limiter.take(user.id)
        if not decision.allowed:
            if decision.warn:
                wait = max(1, round(decision.retry_after))
                await self._say(
                    chat.id,
                    f"Slow down, please: you can send another message in about {wait} s.",
                )
            return
        lock = self.user_locks.setdefault(user.id, asyncio.Lock())
        async with lock:
            link = await self.links.get(user.id)  # /new or unpair may have happened meanwhile
            if link is None:
                return
            await self._paired(chat.id, link, command, argument, message.text)

    async def _stranger(self, update: Update, command: str | None) -> None:
        """Only /start gets an answer: a pairing code. Everything else is ignored."""
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None
        if command != "start" or not self.pairing_limiter.take(user.id).allowed:
            return
        name = _display_name(user)
        issued = await self.links.request_code(
            user.id, name, max_pending=self.tg.max_pending, ttl=self.tg.code_ttl
        )
        if issued.code is None:
            self.on_event(f"pairing refused for {name} (id {user.id}): too many codes waiting")
            await self._say(
                chat.id,
                "Sorry, this bot cannot take more pairing requests right now. "
                "Please try again later.",
            )
            return
        minutes = round(self.tg.code_ttl / 60)
        self.on_event(
            f"{name} (id {user.id}) asked to pair: approve with `aiw telegram pair CODE` "
            "(the code they were sent)"
        )
        await self._say(
            chat.id,
            f"Hello! This is a private bot. Your pairing code is {issued.code}\n\n"
            "Give it to the owner of this bot; they approve it with "
            f"`aiw telegram pair {issued.code}`. The code expires in {minutes} minutes.",
            markdown=False,
        )

    async def _paired(
        self, chat_id: int, link: Link, command: str | None, argument: str, text: str
    ) -> None:
        if command in ("start", "help"):
            greeting = f"Hello, {link.owner}! " if command == "start" else ""
            await self._say(chat_id, greeting + HELP, markdown=False)
        elif command == "new":
            await self.links.set_session(link.telegram_id, None)
            await self._say(chat_id, "New conversation started.", markdown=False)
        elif command == "persona":
            await self._persona(chat_id, link, argument)
        elif command == "kb":
            if not argument:
                await self._say(chat_id, "Usage: /kb QUESTION", markdown=False)
                return
            await self._answer(chat_id, link, argument, grounded=True)
        elif command == "search":
            await self._search(chat_id, link, argument)
        elif command == "review":
            await self._review(chat_id, link, argument)
        elif command in ("task", "tasks", "done", "snooze"):
            await self._task_command(chat_id, link, command, argument)
        elif command is not None:
            await self._say(chat_id, f"Unknown command /{command}. /help lists the commands.")
        else:
            await self._answer(chat_id, link, text, grounded=False)

    async def _search(self, chat_id: int, link: Link, query: str) -> None:
        from ai_workbench.telegram.lookup import SEARCH_USAGE, search_reply

        if not query:
            await self._say(chat_id, SEARCH_USAGE, markdown=False)
            return
        try:
            async with self._knowledge_lock:
                result = await self._knowledge_service().search(
                    query, None, store=self.store, owner=link.owner, remember=False
                )
        except AiwError as exc:
            await self._say(chat_id, str(exc), markdown=False)
            return
        await self._say(chat_id, search_reply(result))

    async def _review(self, chat_id: int, link: Link, diff: str) -> None:
        """A pasted diff reviewed like `POST /v1/review`: nothing on this machine is read or
        changed, nothing is queued in the workbench's inbox."""
        from ai_workbench.review.service import ReviewOptions, ReviewService
        from ai_workbench.telegram.lookup import REVIEW_USAGE, review_reply, unfence

        diff = unfence(diff)
        if not diff.strip():
            await self._say(chat_id, REVIEW_USAGE, markdown=False)
            return
        opts = ReviewOptions(
            provider=self.tg.provider or None, model=self.tg.model or None,
            queue_suggestions=False,
        )  # fmt: skip
        typing = asyncio.create_task(self._typing(chat_id))
        try:
            async with self.model_calls:
                service = ReviewService(self.loaded, self.store)
                # the API's root for this user (server/routes/feedback.review_root): one
                # user's reviews and what their ratings taught, whichever way they came
                result = await service.review_diff(diff, opts, root=f"/aiw-api/{link.owner}")
            await self._audit(
                link, "telegram.review", {"run": result.run_id, "findings": len(result.shown)}
            )
            text = review_reply(result)
        except AiwError as exc:
            text = f"⚠ {exc}"
        finally:
            typing.cancel()
        await self._say(chat_id, text)

    async def _audit(self, link: Link, action: str, detail: dict[str, Any]) -> None:
        """Writes from Telegram go to the audit log as the paired aiw user, like the API's."""
        audit = getattr(self.store, "audit", None)
        if audit is not None:
            with contextlib.suppress(Exception):  # the log is a record, never a reason to fail
                await audit(action, {**detail, "telegram_id": link.telegram_id}, owner=link.owner)

    def _knowledge_service(self) -> Any:
        from ai_workbench.knowledge.service import KnowledgeService

        if self._knowledge is None:
            root = Path(self.tg.project).expanduser() if self.tg.project else self.project_root
            self._knowledge = KnowledgeService.for_project(self.settings.knowledge, root)
        return self._knowledge

    async def _task_command(self, chat_id: int, link: Link, command: str, argument: str) -> None:
        if self._tasks is None:
            from ai_workbench.telegram.tasks import TaskCommands

            self._tasks = TaskCommands(self.store, self.settings.tasks)
        handler = {
            "task": self._tasks.add,
            "tasks": self._tasks.list,
            "done": self._tasks.done,
            "snooze": self._tasks.snooze,
        }[command]
        try:
            text = await handler(link.owner, argument)
        except AiwError as exc:
            text = str(exc)
        await self._say(chat_id, text, markdown=False)

    async def _send_reminder(self, chat_id: int, text: str) -> None:
        try:
            await send_text(self.bot, chat_id, text, markdown=False, clean=self.clean)
        except TelegramError as exc:
            self.on_event(f"could not send a reminder: {self.clean(str(exc))}")

    async def _persona(self, chat_id: int, link: Link, name: str) -> None:
        from ai_workbench.chat.personas import PersonaError, PersonaNotFound, load_personas

        if name.lower() in ("default", "none", "off"):
            # A session keeps its persona: a new persona starts a new conversation.
            await self.links.set_persona(link.telegram_id, None)
            await self.links.set_session(link.telegram_id, None)
            await self._say(
                chat_id, "Persona reset to the default; new conversation started.", markdown=False
            )
            return
        catalog = await asyncio.to_thread(load_personas, self.loaded.project_root)
        if not name:
            current = link.persona or self.tg.persona or self.settings.chat.persona or "none"
            lines = [f"Current persona: {current}", "", "Personas:"]
            lines += [f"{p.id}: {p.name}" for p in catalog]
            lines.append("\n/persona NAME switches; /persona default resets.")
            await self._say(chat_id, "\n".join(lines), markdown=False)
            return
        try:
            persona = catalog.get(name)
        except (PersonaNotFound, PersonaError) as exc:
            await self._say(chat_id, str(exc).strip("'\""), markdown=False)
            return
        await self.links.set_persona(link.telegram_id, persona.id)
        await self.links.set_session(link.telegram_id, None)
        await self._say(
            chat_id,
            f"Persona: {persona.id} ({persona.name}); new conversation started.",
            markdown=False,
        )

    # --- answers

    async def _answer(self, chat_id: int, link: Link, text: str, *, grounded: bool) -> None:
        from ai_workbench.chat.service import AskOptions, ChatService
        from ai_workbench.chat.store import SessionNotFound

        typing = asyncio.create_task(self._typing(chat_id))
        reply = LiveReply(self.bot, chat_id, interval=self.tg.edit_interval, clean=self.clean)
        answer: _Answer | None = None
        try:
            async with self.model_calls:
                extra: list[str] = []
                if grounded:
                    section, question = await self._grounding(text)
                    if question is not None:
                        typing.cancel()
                        await self._say(chat_id, question)
                        return
                    extra = [section] if section else []
                opts = AskOptions(
                    prompt=text,
                    persona=link.persona or self.tg.persona or None,
                    session=link.session_id,
                    model=self.tg.model or None,
                    provider=self.tg.provider or None,
                    cwd=self.project_root,
                    extra_context=extra,
                    owner=link.owner,  # the paired user's own sessions (aiw serve's users)
                )
                service = ChatService(self.loaded, self.store)
                try:
                    turn = await service.prepare(opts)
                except SessionNotFound:  # deleted with `aiw sessions delete`: start anew
                    opts.session = None
                    turn = await service.prepare(opts)
                if turn.created_session or turn.session.id != link.session_id:
                    await self.links.set_session(link.telegram_id, turn.session.id)
                await self._audit(
                    link, "telegram.ask",
                    {"session": turn.session.id, "message": turn.user_message_id,
                     "kb": grounded},
                )  # fmt: skip

                def feed(piece: str) -> None:
                    if not typing.done():
                        typing.cancel()
                    reply.feed(piece)

                toolbox = await self._tools(link.owner)
                result = await service.run(turn, feed, tools=toolbox)
                answer = _Answer(result.status, str(result.error) if result.error else None)
                answer.message_id = result.message_id
                answer.notes = [n for n in turn.notices if n.startswith("redacted ")]
        except AiwError as exc:
            answer = _Answer("error", str(exc))
        except asyncio.CancelledError:  # the bot is stopping: the chat service kept the partial
            reply.cancel()
            raise
        except Exception as exc:  # a bug: the user hears of it, the log has the details
            log.exception("telegram: answer failed")
            self.on_event(f"answer for {link.owner} failed: {type(exc).__name__}: {exc}")
            answer = _Answer("error", "internal error (the bot's log has the details)")
        finally:
            typing.cancel()
        if answer is None:
            return
        if answer.error:
            self.on_event(f"answer for {link.owner} ended with: {answer.error}")
        trailer = "".join(f"\n\n({note})" for note in answer.notes)
        if answer.error and reply.text:
            trailer += f"\n\n⚠ answer cut short: {answer.error}"
        elif answer.error:
            trailer = f"⚠ {answer.error}{trailer}"
        try:
            await reply.finish(trailer)
        except TelegramError as exc:
            self.on_event(f"could not send the answer to {link.owner}: {self.clean(str(exc))}")
            return
        if answer.status == "complete" and answer.message_id and reply.shown:
            with contextlib.suppress(TelegramError):  # rating is a nicety: the answer is there
                await self.bot.edit_message_reply_markup(
                    chat_id, reply.shown[-1].message_id,
                    reply_markup=rating_keyboard(answer.message_id),
                )  # fmt: skip

    async def _typing(self, chat_id: int) -> None:
        """Show "typing…" until the first text arrives (Telegram shows it 5 s each time)."""
        with contextlib.suppress(TelegramError):
            while True:
                await self.bot.send_chat_action(chat_id, "typing")
                await asyncio.sleep(4.5)

    async def _grounding(self, question: str) -> tuple[str | None, str | None]:
        from ai_workbench.knowledge.service import excerpt_budget

        self._knowledge_service()
        budget = excerpt_budget(
            self.settings, model=self.tg.model or None, provider=self.tg.provider or None
        )
        async with self._knowledge_lock:
            grounding = await self._knowledge_service().ground(
                question, self.store, budget_tokens=budget
            )
        return grounding.section, grounding.question

    async def _tools(self, owner: str) -> Any:
        """MCP tools for ``owner``'s answers: none unless ``telegram.allow_tools`` is true or
        lists them; then the configured servers' tools whose approval is ``auto`` (``ask`` ones
        are refused: nobody can confirm a call from Telegram)."""
        allowed = self.tg.allow_tools
        if not allowed or (isinstance(allowed, list) and owner not in allowed):
            return None
        if self._toolbox is None:
            from ai_workbench.mcp.service import McpToolbox, load_servers, open_hub

            listed = load_servers(self.loaded)
            if not listed.names():
                return None
            self._hub = open_hub(self.loaded, listed)
            await self._hub.start(listed.names())
            self._toolbox = McpToolbox(
                self._hub,
                listed.names(),
                approver=None,
                max_result_chars=self.settings.mcp.max_result_chars,
            )
        return self._toolbox

    # --- sending

    @property
    def bot(self) -> Any:
        assert self._app is not None, "the bot is not running"
        return self._app.bot

    async def _say(self, chat_id: int, text: str, *, markdown: bool = True) -> None:
        try:
            await send_text(self.bot, chat_id, text, markdown=markdown, clean=self.clean)
        except TelegramError as exc:
            self.on_event(f"could not send a message: {self.clean(str(exc))}")

    # --- running

    async def run(self, stop: asyncio.Event, ready: Callable[[str], None] | None = None) -> None:
        """Poll until ``stop`` is set. Raises AiwError when the token or server is wrong."""
        self._app = self.application()
        try:
            await self._app.initialize()
        except InvalidToken as exc:
            raise AiwError(
                f"Telegram refused the bot token in ${self.tg.token_env} ({self.clean(str(exc))});"
                " check it with @BotFather (/token) and set the variable again",
                EXIT_AUTH,
            ) from None
        except NetworkError as exc:
            raise AiwError(
                f"cannot reach the Telegram Bot API at {self.tg.base_url} "
                f"({self.clean(str(exc))}); check the network or telegram.base_url",
                EXIT_CONNECTION,
            ) from None
        try:
            self.username = self._app.bot.username
            with contextlib.suppress(TelegramError):
                await self._app.bot.set_my_commands([BotCommand(n, d) for n, d in COMMANDS])
            await self._app.start()
            assert self._app.updater is not None
            await self._app.updater.start_polling(
                timeout=self.tg.poll_timeout,
                allowed_updates=["message", "callback_query"],
                error_callback=lambda exc: self.on_event(f"polling: {self.clean(str(exc))}"),
            )
            if self.tg.reminders:
                from ai_workbench.telegram.reminders import telegram_scheduler

                self.reminders = telegram_scheduler(
                    self.store,
                    self._send_reminder,
                    settings=self.settings.tasks,
                    clock=self.reminder_clock,
                    on_event=self.on_event,
                )
                self.reminders.start()
            if ready is not None:
                ready(self.username or "")
            await stop.wait()
        finally:
            if self.reminders is not None:
                await self.reminders.stop()
            with contextlib.suppress(Exception):
                if self._app.updater is not None and self._app.updater.running:
                    await self._app.updater.stop()
            with contextlib.suppress(Exception):
                if self._app.running:
                    await self._app.stop()
            with contextlib.suppress(Exception):
                await self._app.shutdown()
            await self.close()


async def run_bot(
    loaded: LoadedConfig,
    store: Any,
    token: str,
    stop: asyncio.Event,
    *,
    project_root: Path | None = None,
    on_event: Callable[[str], None] | None = None,
    ready: Callable[[str], None] | None = None,
    reminder_clock: Any = None,
) -> None:
    """Run the bot until ``stop`` is set (``aiw telegram``; tests run it the same way)."""
    bot = TelegramBot(
        loaded,
        store,
        token,
        project_root=project_root,
        on_event=on_event,
        reminder_clock=reminder_clock,
    )
    await bot.run(stop, ready)
