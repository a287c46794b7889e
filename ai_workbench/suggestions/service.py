"""The suggestion queue: things aiw proposes (review findings, shell fixes, watch notes, tips).

Producers (review, shell analysis, watch, ...) :meth:`SuggestionQueue.add` items; the UI lists them,
marks them seen, applies or dismisses them. Items live in the ``suggestions`` table of the aiw
database, so they survive a restart and are shared by every aiw process of the user.

A producer passes a ``fingerprint`` (its own dedupe key, e.g. a hash of file + rule + line text) to
make an item idempotent: once a fingerprint has been queued it is never queued again, whatever its
status, so a dismissed suggestion does not come back for the same content.

An in-process UI hears new items at once through :meth:`SuggestionQueue.subscribe`; items added by
another process show up on the next :meth:`SuggestionQueue.list`.

Usage::

    queue = SuggestionQueue(store)
    unsubscribe = queue.subscribe(lambda s: print("new:", s.title))
    item = await queue.add("shell", "Use --force-with-lease", body="...",
                           actions=[SuggestionAction("apply", "Apply")], fingerprint="abc123")
    await queue.set_status(item.id, "applied")
"""

from __future__ import annotations

import builtins
import json
import logging
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from ai_workbench.core.db import Database, StoreError, from_row
from ai_workbench.core.errors import EXIT_INPUT
from ai_workbench.core.feedback import Feedback
from ai_workbench.core.redact import redact_text
from ai_workbench.core.sanitize import strip_controls

__all__ = [
    "SUGGESTION_STATUSES",
    "SUGGESTION_TARGET",
    "Suggestion",
    "SuggestionAction",
    "SuggestionNotFound",
    "SuggestionQueue",
    "SuggestionStatus",
]

log = logging.getLogger(__name__)

SuggestionStatus = Literal["new", "seen", "applied", "dismissed", "failed"]
SUGGESTION_STATUSES: Final[tuple[str, ...]] = ("new", "seen", "applied", "dismissed", "failed")
OPEN_STATUSES: Final[tuple[str, ...]] = ("new", "seen")
SUGGESTION_TARGET: Final = "suggestion"
"""The feedback ``target_kind`` of a suggestion's own rating."""

_COLUMNS = "id, kind, title, body, actions, payload, source, fingerprint, status, created, updated"


class SuggestionNotFound(StoreError):
    """No suggestion has this id."""

    exit_code = EXIT_INPUT

    def __init__(self, suggestion_id: int, *, store: Database | None = None) -> None:
        super().__init__(
            f"no suggestion with id {suggestion_id}", path=store.path if store else None
        )
        self.suggestion_id = suggestion_id


# Action ids every consumer (the workbench panel, `aiw suggestions apply`) understands, and the
# payload keys each one reads. A producer offers only actions whose payload keys it fills.
ACTION_APPLY: Final = "apply"  # payload["patch"]: unified diff (a/ b/ paths, repo-relative),
#                                payload["root"]: project root, payload["expect"]: {relpath: sha256}
#                                of the files when suggested (see core.patches.apply_patch)
ACTION_COPY: Final = "copy"  # payload["command"] or payload["text"] goes to the clipboard
ACTION_OPEN: Final = "open"  # payload["path"] (absolute or root-relative), payload["line"] optional
ACTION_ASK: Final = "ask"  # payload["prompt"] is put in the chat prompt for the user to send
ACTION_VIEW: Final = "view"  # show the body (Markdown) / payload["patch"] in full
ACTION_DISMISS: Final = "dismiss"  # status -> dismissed; the fingerprint never comes back
ACTION_RUN: Final = "run"  # payload["commands"]: [{"description", "command", "risk_level"}],
#                            payload["cwd"]: where to run; the user picks one and confirms it
#                            (typing "yes" for a dangerous one); see core.runner
STANDARD_ACTIONS: Final[tuple[str, ...]] = (
    ACTION_APPLY,
    ACTION_RUN,
    ACTION_COPY,
    ACTION_OPEN,
    ACTION_ASK,
    ACTION_VIEW,
    ACTION_DISMISS,
)


@dataclass(slots=True)
class SuggestionAction:
    """A button the UI offers for a suggestion; ``id`` is what the producer acts on."""

    id: str
    label: str


@dataclass(slots=True)
class Suggestion:
    id: int
    kind: str
    title: str
    body: str
    actions: list[SuggestionAction]
    payload: dict[str, Any] | None
    source: str | None
    fingerprint: str | None
    status: str
    created: float
    updated: float


ActionLike = SuggestionAction | Mapping[str, Any] | tuple[str, str]
Subscriber = Callable[[Suggestion], None]

# Status listeners per database: every SuggestionQueue on the same store shares them, so a
# status changed through another queue object (the review service's own) is heard too.
_status_listeners: weakref.WeakKeyDictionary[Any, builtins.list[Subscriber]] = (
    weakref.WeakKeyDictionary()
)


class SuggestionQueue:
    """Persistent queue of suggestions on a :class:`~ai_workbench.core.db.Database` (shares it)."""

    def __init__(self, store: Database) -> None:
        self.store = store
        self._subscribers: builtins.list[Subscriber] = []

    # ---- producers

    async def add(
        self,
        kind: str,
        title: str,
        body: str = "",
        *,
        actions: Iterable[ActionLike] = (),
        payload: Mapping[str, Any] | None = None,
        source: str | None = None,
        fingerprint: str | None = None,
    ) -> Suggestion | None:
        """Queue a new suggestion (status ``new``) and tell the subscribers.

        Return ``None`` and add nothing when ``fingerprint`` was queued before, in any status
        (dismissed included). ``title`` and ``body`` are stored redacted (secrets replaced by
        ``[REDACTED:<kind>]``); ``payload`` is stored as given (JSON) for the producer to act on.
        ``actions`` are :class:`SuggestionAction`, ``{"id", "label"}`` mappings or
        ``(id, label)`` pairs.
        """
        if not kind or not kind.strip():
            raise ValueError("kind must not be empty")
        if not title or not title.strip():
            raise ValueError("title must not be empty")
        action_list = [_action(a) for a in actions]
        actions_json = json.dumps([{"id": a.id, "label": a.label} for a in action_list])
        payload_json = None if payload is None else json.dumps(dict(payload))
        title = redact_text(strip_controls(title))
        body = redact_text(strip_controls(body)) if body else ""
        now = time.time()
        store = self.store
        async with store._write() as db:
            if fingerprint is not None:
                seen = await store._one(
                    db, "SELECT 1 FROM suggestions WHERE fingerprint = ?", (fingerprint,)
                )
                if seen is not None:
                    return None
            _, suggestion_id = await store._run(
                db,
                "INSERT INTO suggestions (kind, title, body, actions, payload, source,"
                " fingerprint, status, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'new', ?, ?)",
                (kind, title, body, actions_json, payload_json, source, fingerprint, now, now),
            )
        suggestion = Suggestion(
            id=suggestion_id,
            kind=kind,
            title=title,
            body=body,
            actions=action_list,
            payload=None if payload_json is None else json.loads(payload_json),
            source=source,
            fingerprint=fingerprint,
            status="new",
            created=now,
            updated=now,
        )
        self._notify(suggestion)
        return suggestion

    # ---- readers

    async def list(
        self,
        *,
        statuses: Sequence[str] | None = OPEN_STATUSES,
        kind: str | None = None,
        limit: int | None = 200,
    ) -> builtins.list[Suggestion]:
        """Suggestions in ``statuses`` (``None``: every status), newest first.

        ``limit=None`` returns them all.
        """
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if statuses is not None:
            statuses = [statuses] if isinstance(statuses, str) else builtins.list(statuses)
            for status in statuses:
                _check_status(status)
            if not statuses:
                return []
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        sql = f"SELECT {_COLUMNS} FROM suggestions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, id DESC LIMIT ?"
        params.append(-1 if limit is None else max(0, limit))
        store = self.store
        async with store._read() as db:
            rows = await store._all(db, sql, params)
        return [_suggestion(r) for r in rows]

    async def get(self, suggestion_id: int) -> Suggestion:
        store = self.store
        async with store._read() as db:
            row = await store._one(
                db, f"SELECT {_COLUMNS} FROM suggestions WHERE id = ?", (suggestion_id,)
            )
        if row is None:
            raise SuggestionNotFound(suggestion_id, store=store)
        return _suggestion(row)

    async def counts(self) -> dict[str, int]:
        """How many suggestions are in each status (every status is present, 0 when none)."""
        store = self.store
        async with store._read() as db:
            rows = await store._all(db, "SELECT status, COUNT(*) FROM suggestions GROUP BY status")
        result = dict.fromkeys(SUGGESTION_STATUSES, 0)
        for status, n in rows:
            result[status] = int(n)
        return result

    # ---- state changes

    async def set_status(self, suggestion_id: int, status: SuggestionStatus | str) -> Suggestion:
        """Move a suggestion to ``status`` (bumping ``updated``); return it."""
        _check_status(status)
        store = self.store
        async with store._write() as db:
            await store._update(
                db,
                "suggestions",
                {"status": status, "updated": time.time()},
                suggestion_id,
                missing=SuggestionNotFound(suggestion_id, store=store),
            )
            row = await store._one(
                db, f"SELECT {_COLUMNS} FROM suggestions WHERE id = ?", (suggestion_id,)
            )
        suggestion = _suggestion(row)
        for callback in builtins.list(_status_listeners.get(store, ())):
            try:
                callback(suggestion)
            except Exception:
                log.exception("suggestion status listener %r failed", callback)
        return suggestion

    async def dismiss(self, suggestion_id: int) -> Suggestion:
        """Dismiss a suggestion; its fingerprint stays known, so it is not queued again."""
        return await self.set_status(suggestion_id, "dismissed")

    # ---- ratings

    async def rate(self, suggestion_id: int, rating: int, comment: str | None = None) -> Feedback:
        """Like (+1) or dislike (-1) a suggestion, with an optional comment; the saved feedback.

        Stored against the suggestion itself (``target_kind = "suggestion"``), where producers
        read it back. A producer that learns from ratings rates its own items its own way: a
        review finding goes through :func:`ai_workbench.review.service.rate_suggestion`.
        """
        from ai_workbench.core.feedback import FeedbackService

        return await FeedbackService(self.store).rate(
            SUGGESTION_TARGET, suggestion_id, rating, comment
        )

    async def clear_rating(self, suggestion_id: int) -> None:
        """Remove the suggestion's rating (nothing happens when it has none)."""
        from ai_workbench.core.feedback import FeedbackService

        await FeedbackService(self.store).clear(SUGGESTION_TARGET, suggestion_id)

    async def rating(self, suggestion_id: int) -> Feedback | None:
        """The suggestion's rating, or ``None``."""
        from ai_workbench.core.feedback import FeedbackService

        return await FeedbackService(self.store).get(SUGGESTION_TARGET, suggestion_id)

    # ---- subscribers

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(suggestion)`` for every item this queue adds, after it is committed.

        Callbacks run synchronously in the adding task; one that raises is logged and ignored.
        Returns a function that unsubscribes (calling it again does nothing).
        """
        self._subscribers.append(callback)
        subscribed = True

        def unsubscribe() -> None:
            nonlocal subscribed
            if subscribed:
                subscribed = False
                self._subscribers.remove(callback)

        return unsubscribe

    def on_status_change(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(suggestion)`` after any queue on this database changes a status
        (applied in the review screen, dismissed in the panel, ...), once it is committed.

        Returns a function that unsubscribes (calling it again does nothing).
        """
        listeners = _status_listeners.setdefault(self.store, [])
        listeners.append(callback)

        def unsubscribe() -> None:
            if callback in listeners:
                listeners.remove(callback)

        return unsubscribe

    def _notify(self, suggestion: Suggestion) -> None:
        for callback in builtins.list(self._subscribers):
            try:
                callback(suggestion)
            except Exception:
                log.exception("suggestion subscriber %r failed", callback)


# ---------------------------------------------------------------------------------- helpers


def _check_status(status: object) -> None:
    if status not in SUGGESTION_STATUSES:
        raise ValueError(f"status must be one of {', '.join(SUGGESTION_STATUSES)}; got {status!r}")


def _action(value: ActionLike) -> SuggestionAction:
    if isinstance(value, SuggestionAction):
        action = value
    elif isinstance(value, Mapping):
        action = SuggestionAction(id=str(value["id"]), label=str(value.get("label", value["id"])))
    elif isinstance(value, tuple) and len(value) == 2:
        action = SuggestionAction(id=str(value[0]), label=str(value[1]))
    else:
        raise TypeError(
            f"an action must be a SuggestionAction, mapping or (id, label); got {value!r}"
        )
    if not action.id:
        raise ValueError("an action id must not be empty")
    return SuggestionAction(id=action.id, label=action.label or action.id)


def _actions(raw: str | None) -> builtins.list[SuggestionAction]:
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        return []
    if not isinstance(value, builtins.list):
        return []
    return [
        SuggestionAction(id=str(v["id"]), label=str(v.get("label") or v["id"]))
        for v in value
        if isinstance(v, dict) and v.get("id")
    ]


def _payload(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else {"value": value}


def _suggestion(row: Any) -> Suggestion:
    return from_row(
        Suggestion, row, actions=_actions(row["actions"]), payload=_payload(row["payload"])
    )
