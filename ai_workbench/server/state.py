"""What one server process holds: the store, the settings (reloaded when the user config file
changes), the users and their limits, the event bus and its feeds, the project's index."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import Any

from ai_workbench.core.events import EventBus, FeedRunner
from ai_workbench.core.settings import LoadedConfig, load_config, user_config_path
from ai_workbench.server.limits import ModelSlots, RateLimiter
from ai_workbench.users.service import User, UserService, hash_token

SETTINGS_CHECK_SECONDS = 1.0


class ServerState:
    """Shared by every request of one worker (``request.app.state.aiw``)."""

    def __init__(
        self, loaded: LoadedConfig, *, project_root: Path, db_path: Path | None = None
    ) -> None:
        self.loaded = loaded
        self.project_root = project_root
        self.db_path = db_path
        self.store: Any = None
        self.users: UserService | None = None
        self.reminders: Any = None
        self.sources_sync: Any = None
        self.bus = EventBus()
        self.feeds = FeedRunner()
        self.limiter = RateLimiter(lambda: self.settings.server)
        self.slots = ModelSlots(lambda: self.settings.server)
        self._tokens: dict[str, tuple[User, float]] = {}
        self._config_stamp = _stamp(user_config_path())
        self._config_checked = time.monotonic()
        self._knowledge: Any = None
        self._knowledge_lock = asyncio.Lock()
        self.started = time.time()

    # ---- lifecycle

    async def start(self) -> None:
        from ai_workbench.store import Store

        self.store = await Store.open(self.db_path)
        self.users = UserService(self.store)
        self.feeds.start(self._feeds())
        if self.settings.server.reminders:
            self.reminders = self._reminder_scheduler()
            self.reminders.start()
        if self.settings.server.sources_schedule.strip():
            self.sources_sync = self._sources_schedule(self.settings.server.sources_schedule)
            if self.sources_sync is not None:
                self.sources_sync.start()

    def _sources_schedule(self, text: str) -> Any:
        """``aiw sources sync --all`` on the cron schedule ``text`` in the served project (one
        run per time across workers); None, with a log line, when ``text`` is not a schedule."""
        import logging

        from ai_workbench.sources.schedule import ScheduledSync, parse_cron

        try:
            cron = parse_cron(text)
        except Exception as exc:
            logging.getLogger("aiw.server").error("server.sources_schedule: %s", exc)
            return None
        return ScheduledSync(cron, self.project_root)

    def _reminder_scheduler(self) -> Any:
        """The reminders of the server's users, claimed in the database (so each is delivered
        once with other workers, the workbench or ``aiw telegram`` running); the
        :class:`~ai_workbench.tasks.feed.ReminderFeed` turns every claim into the owner's
        ``task.reminder`` event on ``/v1/events``, whichever process or worker made it."""
        from ai_workbench.tasks.scheduler import ReminderScheduler
        from ai_workbench.tasks.service import TaskService

        async def members() -> list[str]:
            assert self.users is not None
            return [user.name for user in await self.users.list() if user.revoked is None]

        tasks = self.settings.tasks
        return ReminderScheduler(
            TaskService(self.store),
            owner=None,
            owners=members,
            grace=tasks.missed_grace,
            recheck=tasks.recheck_seconds,
        )

    async def stop(self) -> None:
        if self.sources_sync is not None:
            await self.sources_sync.stop()
        if self.reminders is not None:
            await self.reminders.stop()
        await self.feeds.stop()
        if self._knowledge is not None:
            with contextlib.suppress(Exception):
                self._knowledge.close()
        if self.store is not None:
            await self.store.close()

    def _feeds(self) -> list[Any]:
        from ai_workbench.knowledge.feed import IndexRunFeed
        from ai_workbench.shell.feed import SpoolFeed
        from ai_workbench.suggestions.feed import SuggestionFeed
        from ai_workbench.suggestions.service import SuggestionQueue
        from ai_workbench.tasks.feed import ReminderFeed
        from ai_workbench.tasks.service import TaskService

        return [
            ReminderFeed(self.bus, TaskService(self.store)),
            IndexRunFeed(self.bus, self.project_root),
            SuggestionFeed(self.bus, SuggestionQueue(self.store)),
            SpoolFeed(self.bus),
        ]

    # ---- settings

    @property
    def settings(self) -> Any:
        now = time.monotonic()
        if now - self._config_checked >= SETTINGS_CHECK_SECONDS:
            self._config_checked = now
            stamp = _stamp(user_config_path())
            if stamp != self._config_stamp:
                self._config_stamp = stamp
                self.reload()
        return self.loaded.settings

    def reload(self) -> None:
        """Read the settings again (after a change through the API or to the file)."""
        with contextlib.suppress(Exception):  # a broken file keeps the settings we have
            self.loaded = load_config(cwd=self.project_root)
        self._config_stamp = _stamp(user_config_path())

    # ---- users

    async def authenticate(self, token: str) -> User | None:
        """The token's user, looked up at most every ``server.token_cache_seconds``."""
        digest = hash_token(token)
        now = time.monotonic()
        cached = self._tokens.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        assert self.users is not None
        user = await self.users.authenticate(token)
        if user is None:
            self._tokens.pop(digest, None)
            return None
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[digest] = (user, now + self.settings.server.token_cache_seconds)
        return user

    # ---- knowledge

    async def search(self, query: str, k: int | None, owner: str) -> Any:
        """Search the project's index (one search at a time per process: one connection)."""
        async with self._knowledge_lock:
            service = self.knowledge()
            result = await service.search(query, k, store=self.store, owner=owner, remember=False)
            if not result.hits and service.lexical.counts()[1] == 0:
                result.notices.append(
                    f"the index of {self.project_root} is empty: run `aiw index` there"
                )
            return result

    def knowledge(self) -> Any:
        from ai_workbench.knowledge.service import KnowledgeService

        if self._knowledge is None:
            self._knowledge = KnowledgeService.for_project(
                self.settings.knowledge, self.project_root
            )
        return self._knowledge

    def shared_index(self) -> SharedIndex:
        """The project's index for a service that searches it itself (documents), one search
        at a time with the others."""
        return SharedIndex(self)

    async def ground(self, question: str, owner: str) -> Any:
        async with self._knowledge_lock:
            return await self.knowledge().ground(question, self.store, owner=owner, remember=False)

    async def audit(self, user: str, action: str, detail: dict[str, Any]) -> None:
        await self.store.audit(action, detail, owner=user)


class SharedIndex:
    """``status()`` and ``search()`` of the server's knowledge service, under its lock."""

    def __init__(self, state: ServerState) -> None:
        self._state = state

    def status(self) -> dict[str, Any]:
        return self._state.knowledge().status()  # type: ignore[no-any-return]

    async def search(self, query: str, k: int | None = None, **kw: Any) -> Any:
        async with self._state._knowledge_lock:
            return await self._state.knowledge().search(query, k, **kw)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)
