"""One answer shown in a Telegram chat as it streams: a message edited in place.

The first text is sent as soon as it arrives; after that the message is edited at most once per
``interval`` seconds and only when its text changed (Telegram throttles frequent edits). The
growing text is plain; a finished piece (the answer is done, or it continued in a new message)
is edited once more into Telegram's HTML (from the Markdown the model wrote), and shown as
plain text when Telegram refuses the formatting ("can't parse entities"). An answer longer
than one message continues in new messages, cut by
:func:`ai_workbench.telegram.split.split_message` (code fences closed and reopened).

Imports python-telegram-bot: only the running bot (:mod:`ai_workbench.telegram.bot`) loads this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError

from ai_workbench.telegram.markdown import to_telegram_html
from ai_workbench.telegram.split import split_message

__all__ = ["LiveReply", "send_text"]

log = logging.getLogger("ai_workbench.telegram")
#: Most retries of one final send/edit that Telegram answered with 429 (flood control).
MAX_FLOOD_RETRIES = 3
#: Most seconds a final send waits for flood control before it gives up on that piece.
MAX_FLOOD_WAIT = 30.0


def _is_parse_error(exc: BadRequest) -> bool:
    return "can't parse entities" in str(exc).lower() or "can't find end" in str(exc).lower()


def _not_modified(exc: BadRequest) -> bool:
    return "message is not modified" in str(exc).lower()


@dataclass(slots=True)
class _Shown:
    message_id: int
    text: str  # the piece as last sent (Markdown source)
    formatted: bool  # sent with parse_mode HTML
    done: bool  # in its final form (formatted, or plain because Telegram refused the format)


class LiveReply:
    """A streaming answer in chat ``chat_id``: :meth:`feed` text, then :meth:`finish`."""

    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        *,
        interval: float,
        clean: Callable[[str], str] = lambda text: text,
    ) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.interval = interval
        self.clean = clean  # applied to every text that leaves (the bot token never does)
        self.text = ""
        self.shown: list[_Shown] = []
        self.edits = 0
        self._changed = asyncio.Event()
        self._done = False
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def feed(self, piece: str) -> None:
        """More answer text (called from the chat service's stream, never blocks)."""
        if not piece:
            return
        self.text += piece
        self._changed.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    @property
    def started(self) -> bool:
        return self._task is not None

    async def _loop(self) -> None:
        while not self._done:
            await self._changed.wait()
            self._changed.clear()
            if self._done:
                break
            try:
                await self._show(final=False)
            except TelegramError as exc:  # a dropped edit is shown by the next or final one
                log.warning("telegram: could not update a streaming answer: %s", exc)
            with contextlib.suppress(TimeoutError):  # the throttle; finish() cuts it short
                await asyncio.wait_for(self._stop.wait(), self.interval)

    def cancel(self) -> None:
        """Stop updating (the bot is shutting down); nothing more is sent."""
        self._done = True
        self._stop.set()
        if self._task is not None:
            self._task.cancel()

    async def finish(self, trailer: str = "") -> None:
        """The whole answer (plus ``trailer``, e.g. an error line), formatted where possible."""
        self._done = True
        self._stop.set()
        self._changed.set()
        if self._task is not None:
            await self._task
        self.text += trailer
        await self._show(final=True)

    async def _show(self, *, final: bool) -> None:
        """Bring the messages up to the text. A piece that is complete (another follows it, or
        the answer is done) is shown formatted, once; the growing last piece is plain."""
        pieces = split_message(self.clean(self.text)) or ["(the model sent no text)"]
        for index, piece in enumerate(pieces):
            complete = final or index < len(pieces) - 1
            if index < len(self.shown):
                shown = self.shown[index]
                if shown.text == piece and (shown.done or not complete):
                    continue
                await self._edit(shown, piece, final=complete)
            else:
                message_id, formatted = await _send(
                    self.bot, self.chat_id, piece, formatted=complete, retry=final
                )
                self.shown.append(_Shown(message_id, piece, formatted, complete))
        if final:
            for extra in self.shown[len(pieces) :]:
                with contextlib.suppress(TelegramError):
                    await self.bot.delete_message(self.chat_id, extra.message_id)
            del self.shown[len(pieces) :]

    async def _edit(self, shown: _Shown, piece: str, *, final: bool) -> None:
        attempts = 0
        formatted = final
        while True:
            try:
                if formatted:
                    await self.bot.edit_message_text(
                        to_telegram_html(piece),
                        chat_id=self.chat_id,
                        message_id=shown.message_id,
                        parse_mode=ParseMode.HTML,
                    )
                else:
                    await self.bot.edit_message_text(
                        piece, chat_id=self.chat_id, message_id=shown.message_id
                    )
                self.edits += 1
                break
            except BadRequest as exc:
                if _not_modified(exc):
                    break
                if formatted and _is_parse_error(exc):
                    log.info("telegram: formatting refused (%s); sending plain text", exc)
                    formatted = False
                    continue
                raise
            except RetryAfter as exc:
                attempts += 1
                if not final or attempts > MAX_FLOOD_RETRIES:
                    raise
                await asyncio.sleep(min(_seconds(exc.retry_after), MAX_FLOOD_WAIT))
        shown.text, shown.formatted, shown.done = piece, formatted, final


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


async def _send(
    bot: Bot, chat_id: int, text: str, *, formatted: bool, retry: bool = True
) -> tuple[int, bool]:
    """Send one piece (HTML when ``formatted``, plain when Telegram refuses it); (id, formatted)."""
    attempts = 0
    while True:
        try:
            if formatted:
                message = await bot.send_message(
                    chat_id, to_telegram_html(text), parse_mode=ParseMode.HTML
                )
            else:
                message = await bot.send_message(chat_id, text)
            return message.message_id, formatted
        except BadRequest as exc:
            if formatted and _is_parse_error(exc):
                log.info("telegram: formatting refused (%s); sending plain text", exc)
                formatted = False
                continue
            raise
        except RetryAfter as exc:
            attempts += 1
            if not retry or attempts > MAX_FLOOD_RETRIES:
                raise
            await asyncio.sleep(min(_seconds(exc.retry_after), MAX_FLOOD_WAIT))


async def send_text(
    bot: Bot, chat_id: int, text: str, *, markdown: bool = True, clean: Callable[[str], str] = str
) -> None:
    """A whole reply (commands, notices): split, formatted where possible."""
    for piece in split_message(clean(text)):
        await _send(bot, chat_id, piece, formatted=markdown)
