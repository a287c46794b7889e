"""Who may talk to the bot: paired Telegram users and the one-time pairing codes.

An unknown user who sends /start gets a short code (:meth:`TelegramLinks.request_code`); the
owner approves it on the machine with ``aiw telegram pair CODE`` (:meth:`TelegramLinks.approve`),
which maps the Telegram user id to an aiw user name (the ``owner`` of per-user rows, by default
``tg-<id>``). Only a SHA-256 of a code is stored; codes expire (``telegram.code_ttl``) and at
most ``telegram.max_pending`` wait at once. A user who asks again gets a new code (the old one
stops working), so one user never holds more than one.

Usage::

    links = TelegramLinks(store)
    issued = await links.request_code(4242, "@ann", max_pending=5, ttl=3600)
    link = await links.approve(issued.code, name="ann")
    assert (await links.get(4242)).owner == "ann"
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ai_workbench.core.db import Database, from_row
from ai_workbench.core.errors import InputError

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "IssuedCode",
    "Link",
    "Pending",
    "TelegramLinks",
    "default_owner",
    "normalize_code",
]

#: Upper-case letters and digits without the look-alikes 0/O and 1/I (OpenClaw's choice).
CODE_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH: Final = 8
_DELETE_CODE: Final = "DELETE FROM telegram_pending WHERE code_hash = ?"
_OWNER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def default_owner(telegram_id: int) -> str:
    """The aiw user name a Telegram user gets when the owner names none: ``tg-<id>``."""
    return f"tg-{telegram_id}"


def normalize_code(code: str) -> str:
    """A code as typed (any case, spaces or dashes) in the form it was issued."""
    return re.sub(r"[\s-]", "", code).upper()


def _hash(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


@dataclass(slots=True)
class Link:
    telegram_id: int
    owner: str
    username: str
    paired_at: float
    session_id: str | None = None
    persona: str | None = None


@dataclass(slots=True)
class Pending:
    telegram_id: int
    username: str
    created: float
    expires: float


@dataclass(slots=True)
class IssuedCode:
    """The answer to /start from an unknown user: a code, or ``None`` when too many wait."""

    code: str | None
    expires: float | None = None


class TelegramLinks:
    """The ``telegram_links`` and ``telegram_pending`` tables of the aiw database."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    # --- paired users

    async def get(self, telegram_id: int) -> Link | None:
        async with self.db._read() as conn:
            row = await self.db._one(
                conn, "SELECT * FROM telegram_links WHERE telegram_id = ?", (telegram_id,)
            )
        return from_row(Link, row) if row is not None else None

    async def list(self) -> list[Link]:
        async with self.db._read() as conn:
            rows = await self.db._all(conn, "SELECT * FROM telegram_links ORDER BY paired_at")
        return [from_row(Link, row) for row in rows]

    async def set_session(self, telegram_id: int, session_id: str | None) -> None:
        async with self.db._write() as conn:
            await self.db._run(
                conn,
                "UPDATE telegram_links SET session_id = ? WHERE telegram_id = ?",
                (session_id, telegram_id),
            )

    async def set_persona(self, telegram_id: int, persona: str | None) -> None:
        async with self.db._write() as conn:
            await self.db._run(
                conn,
                "UPDATE telegram_links SET persona = ? WHERE telegram_id = ?",
                (persona, telegram_id),
            )

    async def unpair(self, who: str) -> list[Link]:
        """Remove the link of a Telegram id, or every link of an aiw user name; the removed."""
        who = who.strip()
        links = [
            link for link in await self.list() if str(link.telegram_id) == who or link.owner == who
        ]
        if not links:
            raise InputError(
                f"no paired Telegram user with id or name {who!r} (see `aiw telegram users`)",
            )
        async with self.db._write() as conn:
            for link in links:
                await self.db._run(
                    conn, "DELETE FROM telegram_links WHERE telegram_id = ?", (link.telegram_id,)
                )
        await _audit(self.db, "telegram.unpair", [(link.telegram_id, link.owner) for link in links])
        return links

    # --- pairing codes

    async def request_code(
        self, telegram_id: int, username: str, *, max_pending: int, ttl: float
    ) -> IssuedCode:
        """A new one-time code for an unknown user (replacing any code they had), or an
        :class:`IssuedCode` without one when ``max_pending`` other users' codes still wait."""
        now = self.clock()
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        async with self.db._write() as conn:
            await self.db._run(conn, "DELETE FROM telegram_pending WHERE expires <= ?", (now,))
            await self.db._run(
                conn, "DELETE FROM telegram_pending WHERE telegram_id = ?", (telegram_id,)
            )
            row = await self.db._one(conn, "SELECT count(*) AS n FROM telegram_pending")
            if row["n"] >= max_pending:
                return IssuedCode(None)
            await self.db._insert(
                conn,
                "telegram_pending",
                {
                    "code_hash": _hash(code),
                    "telegram_id": telegram_id,
                    "username": username,
                    "created": now,
                    "expires": now + ttl,
                },
            )
        return IssuedCode(code, now + ttl)

    async def pending(self) -> list[Pending]:
        """The codes still valid (who asked, when they expire), oldest first."""
        async with self.db._read() as conn:
            rows = await self.db._all(
                conn,
                "SELECT * FROM telegram_pending WHERE expires > ? ORDER BY created",
                (self.clock(),),
            )
        return [from_row(Pending, row) for row in rows]

    async def approve(self, code: str, name: str | None = None) -> Link:
        """Pair the Telegram user who was given ``code`` as aiw user ``name`` (default
        ``tg-<id>``); the code is used up. A re-paired user keeps nothing of the old link."""
        if name is not None and not _OWNER_RE.match(name):
            raise InputError(
                f"--as {name!r}: a user name is 1-64 letters, digits or . _ @ - "
                "(starting with a letter or digit)",
            )
        now = self.clock()
        async with self.db._write() as conn:
            row = await self.db._one(
                conn, "SELECT * FROM telegram_pending WHERE code_hash = ?", (_hash(code),)
            )
            if row is None or row["expires"] <= now:
                if row is not None:
                    await self.db._run(
                        conn,
                        "DELETE FROM telegram_pending WHERE code_hash = ?",
                        (row["code_hash"],),
                    )
                raise InputError(
                    f"no pending pairing code {normalize_code(code)!r} (wrong, used or expired: "
                    "ask the user to send /start to the bot again)",
                )
            pending = from_row(Pending, row)
            await self.db._run(conn, _DELETE_CODE, (row["code_hash"],))
            link = Link(
                telegram_id=pending.telegram_id,
                owner=name or default_owner(pending.telegram_id),
                username=pending.username,
                paired_at=now,
            )
            await self.db._run(
                conn, "DELETE FROM telegram_links WHERE telegram_id = ?", (link.telegram_id,)
            )
            await self.db._insert(
                conn,
                "telegram_links",
                {
                    "telegram_id": link.telegram_id,
                    "owner": link.owner,
                    "username": link.username,
                    "paired_at": link.paired_at,
                },
            )
        await _audit(self.db, "telegram.pair", [(link.telegram_id, link.owner)])
        return link


async def _audit(db: Database, action: str, pairs: list[tuple[int, str]]) -> None:
    audit = getattr(db, "audit", None)  # the composed Store has the audit log
    if audit is not None:
        await audit(action, {"users": [{"telegram_id": t, "owner": o} for t, o in pairs]})
