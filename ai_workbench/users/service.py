"""UserService: the users of `aiw serve` and their bearer tokens.

A token is ``aiw_`` + 32 random bytes (``secrets.token_urlsafe``), printed once by ``aiw users
add``; the database keeps only its SHA-256 (a token with 256 bits of entropy needs no slow hash:
nobody can guess one whose hash leaked). :meth:`UserService.authenticate` finds the row by that
hash and compares with :func:`hmac.compare_digest`.

``'local'`` is the single local user of the workbench and the CLI (it owns what they write); it
has no token unless one is made for it with ``aiw users add local``, which lets an API client
see the workbench's own sessions.

Usage::

    users = UserService(store)
    user, token = await users.add("ana", admin=True)   # show token once
    who = await users.authenticate(token)              # User | None
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Final

from ai_workbench.core.db import LOCAL_OWNER, Database, StoreError, from_row
from ai_workbench.core.errors import EXIT_INPUT, InputError

__all__ = ["LOCAL_USER", "TOKEN_PREFIX", "User", "UserError", "UserService", "hash_token"]

LOCAL_USER: Final = LOCAL_OWNER
TOKEN_PREFIX: Final = "aiw_"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")


class UserError(StoreError):
    """No such user, a name taken, a bad name: the message says what to do."""

    exit_code = EXIT_INPUT


@dataclass(slots=True, frozen=True)
class User:
    name: str
    admin: bool
    created: float
    revoked: float | None = None
    last_used: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_name(name: str) -> str:
    """The user name, lower case; an :class:`InputError` names the rule when it breaks it."""
    clean = name.strip().lower()
    if not _NAME.match(clean):
        raise InputError(
            f"user name {name!r}: use 1-32 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return clean


_COLUMNS = "name, admin, created, revoked, last_used"


class UserService:
    """Users and tokens on top of the aiw database (any :class:`Database` with the schema)."""

    #: ``last_used`` is written at most this often per user (a busy client is not a write each).
    TOUCH_SECONDS: Final = 60.0

    def __init__(self, store: Database) -> None:
        self.store = store

    async def add(
        self, name: str, admin: bool = False, *, actor: str = LOCAL_OWNER
    ) -> tuple[User, str]:
        """Create ``name`` (or re-enable a revoked one) with a new token; (user, token).

        The token is returned once and never stored; an active user of that name is an error
        (revoke first to replace the token)."""
        clean = check_name(name)
        token = new_token()
        now = time.time()
        store = self.store
        async with store._write() as db:
            row = await store._one(db, f"SELECT {_COLUMNS} FROM users WHERE name = ?", (clean,))
            if row is not None and row["revoked"] is None:
                raise UserError(
                    f"user {clean!r} exists; `aiw users revoke {clean}` first to give them a new"
                    " token",
                    path=store.path,
                )
            if row is None:
                await store._run(
                    db,
                    "INSERT INTO users (name, admin, token_hash, created) VALUES (?, ?, ?, ?)",
                    (clean, int(admin), hash_token(token), now),
                )
            else:
                await store._run(
                    db,
                    "UPDATE users SET admin = ?, token_hash = ?, revoked = NULL, created = ?"
                    " WHERE name = ?",
                    (int(admin), hash_token(token), now, clean),
                )
            await _audit(store, db, "users.add", actor, {"user": clean, "admin": admin})
        return User(clean, admin, now), token

    async def get(self, name: str) -> User:
        """The user ``name`` (active or revoked); :class:`UserError` when there is none."""
        clean = name.strip().lower()
        async with self.store._read() as db:
            row = await self.store._one(
                db, f"SELECT {_COLUMNS} FROM users WHERE name = ?", (clean,)
            )
        if row is None:
            raise UserError(f"no user {name!r}; `aiw users list` shows them", path=self.store.path)
        return _user(row)

    async def list(self) -> list[User]:
        """Every user, active ones first, by name."""
        async with self.store._read() as db:
            rows = await self.store._all(
                db, f"SELECT {_COLUMNS} FROM users ORDER BY revoked IS NOT NULL, name", ()
            )
        return [_user(r) for r in rows]

    async def revoke(self, name: str, *, actor: str = LOCAL_OWNER) -> User:
        """Disable ``name``'s token at once (their sessions and ratings are kept)."""
        clean = name.strip().lower()
        store = self.store
        now = time.time()
        async with store._write() as db:
            count, _ = await store._run(
                db,
                "UPDATE users SET token_hash = NULL, revoked = ?"
                " WHERE name = ? AND revoked IS NULL",
                (now, clean),
            )
            if count == 0:
                raise UserError(
                    f"no active user {name!r}; `aiw users list` shows them", path=store.path
                )
            await _audit(store, db, "users.revoke", actor, {"user": clean})
        return await self.get(clean)

    async def authenticate(self, token: str) -> User | None:
        """The active user this token belongs to, or ``None``."""
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = hash_token(token)
        store = self.store
        async with store._read() as db:
            row = await store._one(
                db,
                f"SELECT {_COLUMNS}, token_hash FROM users WHERE token_hash = ?"
                " AND revoked IS NULL",
                (digest,),
            )
        if row is None or not hmac.compare_digest(str(row["token_hash"]), digest):
            return None
        user = _user(row)
        now = time.time()
        if user.last_used is None or now - user.last_used > self.TOUCH_SECONDS:
            async with store._write() as db:
                await store._run(
                    db, "UPDATE users SET last_used = ? WHERE name = ?", (now, user.name)
                )
        return user


async def _audit(store: Database, db: object, action: str, owner: str, detail: object) -> None:
    import json

    await store._run(
        db,  # type: ignore[arg-type]
        "INSERT INTO audit (action, detail, created, owner) VALUES (?, ?, ?, ?)",
        (action, json.dumps(detail), time.time(), owner),
    )


def _user(row: object) -> User:
    return from_row(User, row, admin=bool(row["admin"]))  # type: ignore[index]
