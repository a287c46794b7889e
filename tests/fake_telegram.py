"""A loopback fake of the Telegram Bot API for tests (stdlib only, like tests/fake_llm.py).

It answers ``POST /bot<TOKEN>/<method>`` with the Bot API's JSON shapes (``{"ok": true,
"result": ...}`` or ``{"ok": false, "error_code": ..., "description": ...}``) for what the bot
uses: ``getMe``, ``deleteWebhook``, ``getUpdates`` (a real long poll: it waits up to ``timeout``
seconds for an update past ``offset``), ``sendMessage``, ``editMessageText``, ``deleteMessage``,
``sendChatAction``, ``setMyCommands``, ``editMessageReplyMarkup`` (inline keyboards) and
``answerCallbackQuery``. A wrong token gets 401 Unauthorized (as Telegram answers).

Formatted text is checked like Telegram does: ``parse_mode=HTML`` must use only Telegram's tags,
properly nested, with known entities, else 400 "Bad Request: can't parse entities: ...";
``reject_formatting = True`` refuses every formatted message that way (the fallback test). Texts
over 4096 UTF-16 units get 400 "message is too long", an edit to the same text 400 "message is
not modified".

Tests inject what users send with :meth:`FakeTelegram.user_says` (a button press:
:meth:`FakeTelegram.user_presses`) and read what the bot did from
:attr:`FakeTelegram.calls` and :meth:`FakeTelegram.chat` (each message's current text after its
edits).

Usage::

    with FakeTelegram() as tg:
        settings: telegram.base_url = tg.base_url, token = tg.token
        tg.user_says(42, "/start")
        tg.wait_for(lambda: tg.chat(42))
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["BOT_ID", "TOKEN", "FakeTelegram", "Sent"]

TOKEN = "7000000001:AAFakeTokenForTestsOnly0123456789ab"
BOT_ID = 7000000001
BOT_USERNAME = "aiw_test_bot"
_PATH_RE = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)$")
_ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "code", "pre", "blockquote", "tg-emoji",
}  # fmt: skip
_ENTITIES = {"lt", "gt", "amp", "quot"}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _EntityError(Exception):
    pass


class _TelegramHTML(HTMLParser):
    """Telegram's HTML parse mode, strictly: the tag subset, nesting, and entities."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            raise _EntityError(f'Unsupported start tag "{tag}"')
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise _EntityError(f'Unexpected end tag "{tag}"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in _ENTITIES:
            raise _EntityError(f'Unsupported HTML entity "&{name};"')
        self.text.append({"lt": "<", "gt": ">", "amp": "&", "quot": '"'}[name])

    def handle_charref(self, name: str) -> None:
        self.text.append(chr(int(name[1:], 16) if name[:1] in "xX" else int(name)))


def check_html(text: str) -> str:
    """The visible text of ``text`` in Telegram's HTML mode; raises _EntityError like Telegram."""
    if re.search(r"&(?![a-zA-Z]+;|#\d+;|#x[0-9a-fA-F]+;)", text):
        raise _EntityError("Character '&' is reserved and must be escaped with &amp;")
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise _EntityError(f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"')
    return "".join(parser.text)


@dataclass
class Sent:
    """One message the bot sent, with its text after every edit."""

    message_id: int
    chat_id: int
    text: str
    parse_mode: str | None
    history: list[str] = field(default_factory=list)  # every text it had, first to last
    deleted: bool = False
    reply_markup: dict[str, Any] | None = None  # its inline keyboard, if any

    def buttons(self) -> list[dict[str, Any]]:
        """The inline keyboard's buttons, row by row, flattened."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]


class _ApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class FakeTelegram:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.reject_formatting = False
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.timed_calls: list[tuple[float, str, dict[str, Any]]] = []  # (monotonic, method, ..)
        self.messages: dict[int, Sent] = {}
        self.answers: dict[str, str | None] = {}  # callback query id -> the toast's text
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._cond = threading.Condition()
        self._closing = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle

    def __enter__(self) -> FakeTelegram:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._serve(self)

            def do_GET(self) -> None:
                fake._serve(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/bot"

    # --- what tests do

    def user_says(
        self, user_id: int, text: str, *, first_name: str = "Ann", username: str | None = None
    ) -> None:
        """A private message from user ``user_id`` (commands get their bot_command entity)."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": first_name},
            "from": {"id": user_id, "is_bot": False, "first_name": first_name},
            "text": text,
        }
        if username:
            message["from"]["username"] = username
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        with self._cond:
            self._updates.append({"update_id": next(self._update_ids), "message": message})
            self._cond.notify_all()

    def user_presses(self, user_id: int, message_id: int, data: str) -> str:
        """User ``user_id`` presses the inline button with ``data`` under the bot's message
        ``message_id``; the callback query's id (see :attr:`answers`)."""
        with self._cond:
            sent = self.messages[message_id]
            query_id = str(next(self._update_ids))
            query = {
                "id": query_id,
                "from": {"id": user_id, "is_bot": False, "first_name": "Ann"},
                "chat_instance": str(user_id),
                "data": data,
                "message": self._message_json(sent),
            }
            self._updates.append({"update_id": next(self._update_ids), "callback_query": query})
            self._cond.notify_all()
        return query_id

    def chat(self, chat_id: int) -> list[Sent]:
        """The bot's messages in a chat (not deleted), oldest first."""
        with self._cond:
            return [m for m in self.messages.values() if m.chat_id == chat_id and not m.deleted]

    def texts(self, chat_id: int) -> list[str]:
        return [m.text for m in self.chat(chat_id)]

    def methods(self, name: str) -> list[dict[str, Any]]:
        with self._cond:
            return [params for method, params in self.calls if method == name]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout}s; bot calls: {self.calls[-10:]}")

    # --- the API

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        match = _PATH_RE.match(handler.path.split("?", 1)[0])
        if match is None:
            self._reply(handler, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        if match["token"] != self.token:
            self._reply(
                handler, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            )
            return
        params = _params(handler.headers.get("Content-Type", ""), body)
        method = match["method"]
        with self._cond:
            self.calls.append((method, params))
            self.timed_calls.append((time.monotonic(), method, params))
        try:
            result = getattr(self, f"_m_{method}", self._unknown)(params)
        except _ApiError as exc:
            self._reply(
                handler,
                exc.code,
                {"ok": False, "error_code": exc.code, "description": exc.description},
            )
            return
        self._reply(handler, 200, {"ok": True, "result": result})

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        try:
            handler.wfile.write(data)
        except OSError:
            handler.close_connection = True  # the client went away (a long poll at shutdown)

    def _unknown(self, params: dict[str, Any]) -> Any:
        raise _ApiError(404, "Not Found: method not found")

    def _me(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "aiw", "username": BOT_USERNAME}

    def _m_getMe(self, params: dict[str, Any]) -> Any:
        return {
            **self._me(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        return True

    def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        return True

    def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        with self._cond:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
            return list(self._updates)

    def _check_text(self, params: dict[str, Any]) -> tuple[str, str | None]:
        text = str(params.get("text", ""))
        mode = params.get("parse_mode")
        visible = text
        if mode:
            if self.reject_formatting:
                raise _ApiError(
                    400, "Bad Request: can't parse entities: Can't find end of the entity "
                    "starting at byte offset 0",
                )  # fmt: skip
            if str(mode).upper() != "HTML":
                raise _ApiError(400, f"Bad Request: unsupported parse_mode {mode}")
            try:
                visible = check_html(text)
            except _EntityError as exc:
                raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        if not visible.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if utf16_len(visible) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        return text, mode

    def _message_json(self, sent: Sent) -> dict[str, Any]:
        return {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": {"id": sent.chat_id, "type": "private", "first_name": "Ann"},
            "from": self._me(),
            "text": sent.text,
        }

    def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        text, mode = self._check_text(params)
        with self._cond:
            sent = Sent(next(self._message_ids), int(params["chat_id"]), text, mode, [text])
            sent.reply_markup = _markup(params)
            self.messages[sent.message_id] = sent
        return self._message_json(sent)

    def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        message_id = int(params.get("message_id") or 0)
        with self._cond:
            sent = self.messages.get(message_id)
        if sent is None or sent.chat_id != int(params.get("chat_id") or 0) or sent.deleted:
            raise _ApiError(400, "Bad Request: message to edit not found")
        text, mode = self._check_text(params)
        with self._cond:
            if text == sent.text and mode == sent.parse_mode:
                raise _ApiError(
                    400, "Bad Request: message is not modified: specified new message content "
                    "and reply markup are exactly the same as a current content and reply "
                    "markup of the message",
                )  # fmt: skip
            sent.text, sent.parse_mode = text, mode
            sent.reply_markup = _markup(params)  # as Telegram: an edit without one drops it
            sent.history.append(text)
        return self._message_json(sent)

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        with self._cond:
            sent = self.messages.get(int(params.get("message_id") or 0))
            if sent is None or sent.chat_id != int(params.get("chat_id") or 0) or sent.deleted:
                raise _ApiError(400, "Bad Request: message to edit not found")
            markup = _markup(params)
            if markup == sent.reply_markup:
                raise _ApiError(400, "Bad Request: message is not modified")
            sent.reply_markup = markup
        return self._message_json(sent)

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        with self._cond:
            query_id = str(params.get("callback_query_id", ""))
            if query_id in self.answers:
                raise _ApiError(400, "Bad Request: query is too old and response timeout expired")
            self.answers[query_id] = params.get("text")
        return True

    def _m_deleteMessage(self, params: dict[str, Any]) -> Any:
        with self._cond:
            sent = self.messages.get(int(params.get("message_id") or 0))
            if sent is None or sent.deleted:
                raise _ApiError(400, "Bad Request: message to delete not found")
            sent.deleted = True
        return True


def _markup(params: dict[str, Any]) -> dict[str, Any] | None:
    value = params.get("reply_markup")
    if isinstance(value, str):
        value = json.loads(value) if value else None
    return dict(value) if value else None


def _params(content_type: str, body: bytes) -> dict[str, Any]:
    """The method's parameters: JSON, or a form whose values may be JSON (what PTB sends)."""
    if not body:
        return {}
    if "json" in content_type:
        return dict(json.loads(body))
    params: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        params[key] = value
    return params
