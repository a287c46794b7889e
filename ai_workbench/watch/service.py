"""The watch service: saves in the project become suggestions, without leaving the editor.

Pipeline for one save::

    watchfiles event ─▶ filter (ProjectIgnore) ─▶ debounce per file (watch.debounce_ms after the
    last event) ─▶ read; same SHA-256 as last time? stop ─▶ find AI comments ─▶ one job per
    request (all ``AI!`` of a file together, each ``AI?`` alone); fingerprint known? stop ─▶
    rate limiter (watch.max_calls_per_minute; the rest wait, shown as waiting) ─▶ model call ─▶
    exact patch (diff applied in memory, AI comment removed) or answer ─▶ SuggestionQueue.

A burst of saves is one request because only the file's state after the quiet period is read,
and a job still waiting for its turn is replaced when the file changes again. Suggestions carry
``expect`` (the digests the patch was made against), so ``apply`` refuses a file edited since,
and a fingerprint of file + comment + content, so a dismissed suggestion does not come back for
the same content.

The service is plain asyncio (no Textual): the workbench starts it in a worker, ``aiw watch``
runs it headless, tests drive it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ai_workbench.core.redact import redact_text
from ai_workbench.suggestions.service import (
    ACTION_APPLY,
    ACTION_DISMISS,
    ACTION_OPEN,
    ACTION_VIEW,
    Suggestion,
    SuggestionAction,
    SuggestionQueue,
)
from ai_workbench.watch.comments import (
    AiComment,
    find_ai_comments,
    has_marker,
    remove_comments,
)
from ai_workbench.watch.diffs import (
    DiffError,
    apply_hunks,
    combined_patch,
    diff_stats,
    extract_diff,
    parse_diff,
    restore_redacted,
    safe_relpath,
)
from ai_workbench.watch.edit_patch import edit_blocks, patch_from_edits, without_edit_blocks
from ai_workbench.watch.ignore import ProjectIgnore
from ai_workbench.watch.limiter import RateLimiter
from ai_workbench.watch.prompts import change_messages, question_messages, related_files

__all__ = ["SUGGESTION_KIND", "WatchEvent", "WatchJob", "WatchService"]

log = logging.getLogger(__name__)

SUGGESTION_KIND = "watch"
REINDEX_QUIET_S = 2.0  # wait this long after saves before updating the knowledge index
EventKind = Literal["watching", "waiting", "asking", "suggested", "skipped", "error", "stopped"]
JobKind = Literal["change", "question", "review"]


@dataclass(slots=True)
class WatchEvent:
    """Something the user may want to see (headless: a line; workbench: a notification)."""

    kind: EventKind
    message: str
    path: str | None = None
    suggestion: Suggestion | None = None


@dataclass(eq=False)
class WatchJob:
    """One model request to make: a change (every ``AI!`` of a file), one question, or a
    review of the file's changed hunks (``watch.review_on_save``)."""

    kind: JobKind
    relpath: str
    text: str
    digest: str
    comments: list[AiComment]
    fingerprint: str
    state: Literal["queued", "waiting", "running", "done", "superseded"] = "queued"
    queued_at: float = field(default_factory=time.monotonic)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # how it ended: a suggestion, a refused patch ("No patch for …"), or a failed request
    outcome: Literal["suggested", "no_patch", "failed"] | None = None
    error: BaseException | None = None  # why it failed (a ProviderError, usually)

    @property
    def line(self) -> int:
        return self.comments[0].start_line if self.comments else 1

    @property
    def request(self) -> str:
        if self.kind == "review":
            return "review the changed lines"
        asks = [c.request for c in self.comments if c.request]
        return "; ".join(asks) if asks else "(bare marker)"

    def describe(self) -> str:
        return f"{self.relpath}:{self.line} {self.request}"


def _names(request: str, target: str) -> bool:
    """Whether an AI comment's ``request`` names ``target`` (its path or its file name): a
    patch for one comment may change another file only when the user asked for it."""
    name = target.rsplit("/", 1)[-1]
    return (
        target in request
        or re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", request) is not None
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fingerprint(kind: str, relpath: str, comments: Iterable[AiComment], digest: str) -> str:
    parts = [SUGGESTION_KIND, kind, relpath, *(c.raw.strip() for c in comments), digest]
    return _sha("\x1f".join(parts).encode("utf-8"))


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


class WatchService:
    """Watches ``root`` and queues suggestions for AI comments; start/stop from any asyncio loop.

    ``settings`` is the full :class:`~ai_workbench.core.settings.Settings` (``settings.watch`` holds
    this feature's keys; the rest picks providers). ``model``/``api_base``/``provider`` choose the
    model as on the command line (default: ``watch.model``, else the default provider chain).
    ``choose_model`` (the workbench's current model choice, ``{"model", "api_base",
    "provider"}``) is asked before each request and wins over those arguments when it names one.
    ``on_event`` hears progress (waiting, asking, errors) synchronously on the loop.
    """

    def __init__(
        self,
        root: Path,
        settings: Any,
        queue: SuggestionQueue,
        *,
        model: str | None = None,
        api_base: str | None = None,
        provider: str | None = None,
        on_event: Callable[[WatchEvent], None] | None = None,
        choose_model: Callable[[], dict[str, str | None]] | None = None,
        limiter: RateLimiter | None = None,
        ignore: ProjectIgnore | None = None,
        loaded: Any = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.settings = settings
        self.config = settings.watch
        self.queue = queue
        self.model = model
        self.api_base = api_base
        self.provider = provider
        self.on_event = on_event
        self.choose_model = choose_model
        self.loaded = loaded  # LoadedConfig, for the review service (built when not given)
        self.limiter = limiter or RateLimiter(self.config.max_calls_per_minute)
        knowledge = getattr(settings, "knowledge", None)
        extra = [*self.config.ignore, *(getattr(knowledge, "exclude", None) or [])]
        self.ignore = ignore or ProjectIgnore(self.root, extra)
        self.calls = 0  # model calls made
        self._digests: dict[str, str] = {}
        self._pending: dict[str, float] = {}  # relpath -> when its quiet period ends
        self._jobs: list[WatchJob] = []
        self._running: WatchJob | None = None
        self._wake_settle = asyncio.Event()
        self._wake_jobs = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._watching = False
        self._waiting_reported = 0
        self._locks: dict[str, asyncio.Lock] = {}
        self._search: Callable[[str, int], Sequence[str]] | None = _knowledge_search(
            self.root, knowledge
        )
        self._knowledge = knowledge
        self._reindex_task: asyncio.Task[None] | None = None
        self._reindex_again = False
        self.reindexed = 0  # incremental knowledge-index updates run
        self.processed: list[WatchJob] = []  # the jobs of the last process_pending_now

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not self._stop.is_set()

    async def start(self, *, rescan: bool = True) -> None:
        """Start watching; returns once the file system watch is registered.

        With ``rescan`` the project is then read once (before returning) for AI comments not
        yet suggested (held back by the rate limit when the last watcher stopped, or saved
        while nothing watched), so waiting requests survive a restart; a request already
        suggested or dismissed (same fingerprint) makes no model call.
        """
        if self._tasks:
            return
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        self._tasks = [
            asyncio.create_task(self._watch_loop(ready), name="aiw-watch"),
            asyncio.create_task(self._settle_loop(), name="aiw-watch-settle"),
            asyncio.create_task(self._dispatch_loop(), name="aiw-watch-dispatch"),
        ]
        await ready
        self._emit(
            "watching",
            f"watching {self.root} for {self.config.change_marker} and "
            f"{self.config.question_marker} comments",
        )
        if rescan:
            # awaited, not backgrounded: a save right after start() must not race the scan
            # into asking twice (the scan reads the file before or after, never during)
            await self._rescan()

    async def stop(self) -> None:
        """Stop watching and cancel queued work (suggestions already queued stay)."""
        if not self._tasks:
            return
        self._stop.set()
        self._wake_settle.set()
        self._wake_jobs.set()
        tasks, self._tasks = self._tasks, []
        watch_task = tasks[0]
        try:
            await asyncio.wait_for(asyncio.shield(watch_task), timeout=2.0)
        except (TimeoutError, asyncio.CancelledError, Exception):
            watch_task.cancel()
        if self._reindex_task is not None:
            tasks.append(self._reindex_task)
            self._reindex_task = None
        for task in tasks[1:]:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
        for job in self._jobs:
            job.state = "superseded"
            job.done.set()
        self._jobs.clear()
        self._emit("stopped", "stopped watching")

    def waiting(self) -> list[WatchJob]:
        """Jobs waiting for their turn (the rate limit), oldest first."""
        return [job for job in self._jobs if job.state in ("queued", "waiting")]

    # ------------------------------------------------------------------ the watch

    async def _watch_loop(self, ready: asyncio.Future[None]) -> None:
        from watchfiles import Change, awatch

        watcher = awatch(
            self.root,
            watch_filter=self.ignore,
            debounce=1_600,
            step=50,
            stop_event=self._stop,
            recursive=True,
            ignore_permission_denied=True,
        )
        first = asyncio.ensure_future(watcher.__anext__())
        # awatch registers the inotify/FSEvents watches synchronously on its first step,
        # before it waits in its thread; let it get there.
        for _ in range(3):
            await asyncio.sleep(0)
        if not ready.done():
            ready.set_result(None)
        loop = asyncio.get_running_loop()
        try:
            changes = await first
            while True:
                now = loop.time()
                for change, raw in changes:
                    rel = self.ignore.relative(raw)
                    if not rel:
                        continue
                    if change == Change.deleted:
                        self._digests.pop(rel, None)
                        self._pending.pop(rel, None)
                        continue
                    self._pending[rel] = now + self.config.debounce_ms / 1000
                self._wake_settle.set()
                changes = await watcher.__anext__()
        except StopAsyncIteration:
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. the inotify watch limit: say so, do not crash the app
            self._emit("error", f"the file watcher stopped: {exc}")
        finally:
            if not ready.done():
                ready.set_result(None)
            with contextlib.suppress(Exception):
                await watcher.aclose()

    async def _settle_loop(self) -> None:
        """Read a file once its saves have been quiet for ``watch.debounce_ms``."""
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            if not self._pending:
                self._wake_settle.clear()
                await self._wake_settle.wait()
                continue
            now = loop.time()
            due = [rel for rel, when in self._pending.items() if when <= now]
            if not due:
                self._wake_settle.clear()
                timeout = min(self._pending.values()) - now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake_settle.wait(), timeout)
                continue
            for rel in due:
                self._pending.pop(rel, None)
                try:
                    await self._consider(rel, force=False)
                except Exception as exc:  # one bad file must not stop the watcher
                    log.exception("watch: %s", rel)
                    self._emit("error", f"{rel}: {exc}", rel)
            self._schedule_reindex()

    # ------------------------------------------------------------------ files to jobs

    async def process_pending_now(self, *, wait: bool = True) -> int:
        """Look at every watched file's AI comments now (for saves a watcher can miss).

        Files are read even when their content looks unchanged, but a request already
        suggested (same fingerprint) is not made again. Returns how many requests were
        queued; with ``wait`` (always when the service is not started) returns after they are
        answered (or superseded, or stopped).
        """
        self._pending.clear()
        jobs: list[WatchJob] = []
        for rel in await asyncio.to_thread(self._marker_files):
            jobs += await self._consider(rel, force=True)
        self.processed = jobs  # each job's outcome says how it ended
        if not self._tasks:  # not started (`aiw watch --now`): a dispatcher just for these
            task = asyncio.create_task(self._dispatch_loop())
            try:
                await asyncio.gather(*(job.done.wait() for job in jobs))
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        elif wait:
            await asyncio.gather(*(job.done.wait() for job in jobs))
        return len(jobs)

    def _marker_files(self) -> list[str]:
        """Relative paths of the watched files holding an AI marker (reads files: a thread)."""
        markers = (self.config.change_marker, self.config.question_marker)
        max_bytes = self.config.max_file_bytes
        found = []
        for path in self.ignore.walk():
            try:
                if path.stat().st_size > max_bytes:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            if has_marker(data.decode("utf-8", "replace"), markers):
                rel = self.ignore.relative(path)
                if rel:
                    found.append(rel)
        return found

    async def _rescan(self) -> None:
        """Queue the AI comments pending in the project when the watch starts (see start)."""
        try:
            jobs: list[WatchJob] = []
            for rel in await asyncio.to_thread(self._marker_files):
                if self._stop.is_set():
                    return
                jobs += await self._consider(rel, force=True, announce_known=False)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a scan problem must not stop the watcher
            log.exception("watch: rescan")
            self._emit("error", f"looking for pending AI comments failed: {exc}")
            return
        if jobs:
            self._emit(
                "watching",
                f"{len(jobs)} pending AI comment request(s) found in the project: "
                + ", ".join(job.describe() for job in jobs[:3])
                + (f" and {len(jobs) - 3} more" if len(jobs) > 3 else ""),
            )

    async def _consider(
        self, rel: str, *, force: bool, announce_known: bool = True
    ) -> list[WatchJob]:
        """Read ``rel``; queue jobs for its AI comments not suggested before."""
        lock = self._locks.setdefault(rel, asyncio.Lock())
        async with lock:
            path = self.root / rel
            try:
                if not path.is_file() or path.stat().st_size > self.config.max_file_bytes:
                    return []
                data = await asyncio.to_thread(path.read_bytes)
            except OSError:
                return []
            digest = _sha(data)
            if not force and self._digests.get(rel) == digest:
                return []
            self._digests[rel] = digest
            if b"\0" in data[:8192]:
                return []
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                return []
            comments = find_ai_comments(
                text,
                rel,
                change_marker=self.config.change_marker,
                question_marker=self.config.question_marker,
            )
            jobs: list[WatchJob] = []
            if self.config.review_on_save and not force and (self.root / ".git").exists():
                fp = _fingerprint("review", rel, [], digest)
                jobs.append(WatchJob("review", rel, text, digest, [], fp))
            if not comments and not jobs:
                self._drop_jobs(rel)
                return []
            changes = [c for c in comments if c.kind == "change"]
            if changes:
                fp = _fingerprint("change", rel, changes, digest)
                jobs.append(WatchJob("change", rel, text, digest, changes, fp))
            for question in (c for c in comments if c.kind == "question"):
                fp = _fingerprint("question", rel, [question], digest)
                jobs.append(WatchJob("question", rel, text, digest, [question], fp))
            known = await self._known_fingerprints()
            fresh = [job for job in jobs if job.kind == "review" or job.fingerprint not in known]
            for job in jobs:
                if job not in fresh and announce_known:
                    self._emit("skipped", f"already suggested: {job.describe()}", rel)
            self._drop_jobs(rel)
            self._jobs.extend(fresh)
            if fresh:
                self._wake_jobs.set()
            return fresh

    def _drop_jobs(self, rel: str) -> None:
        """Forget jobs still waiting for an older version of ``rel`` (it changed again)."""
        keep: list[WatchJob] = []
        for job in self._jobs:
            if job.relpath == rel and job.state in ("queued", "waiting"):
                job.state = "superseded"
                job.done.set()
            else:
                keep.append(job)
        self._jobs = keep

    async def _known_fingerprints(self) -> set[str]:
        items = await self.queue.list(statuses=None, kind=SUGGESTION_KIND, limit=None)
        return {item.fingerprint for item in items if item.fingerprint}

    # ------------------------------------------------------------------ jobs to suggestions

    async def _dispatch_loop(self) -> None:
        """Run jobs one at a time, within the rate limit."""
        while not self._stop.is_set():
            queued = [job for job in self._jobs if job.state in ("queued", "waiting")]
            if not queued:
                self._waiting_reported = 0
                self._wake_jobs.clear()
                await self._wake_jobs.wait()
                continue
            delay = self.limiter.delay()
            if delay > 0:
                for job in queued:
                    job.state = "waiting"
                if len(queued) != self._waiting_reported:
                    self._waiting_reported = len(queued)
                    names = ", ".join(job.describe() for job in queued[:3])
                    more = f" and {len(queued) - 3} more" if len(queued) > 3 else ""
                    self._emit(
                        "waiting",
                        f"{len(queued)} waiting (watch.max_calls_per_minute = "
                        f"{self.limiter.per_minute}); next model call in {delay:.0f} s: "
                        f"{names}{more}",
                    )
                self._wake_jobs.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake_jobs.wait(), min(delay, 1.0))
                continue
            job = queued[0]
            job.state = "running"
            self._running = job
            if job.kind != "review":
                # a review can make several calls (units, retries): it takes a slot per call
                # through _review_slot instead, so max_calls_per_minute holds for it too
                self.limiter.take()
            try:
                await self._run(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("watch job %s", job.describe())
                job.outcome, job.error = "failed", exc
                self._emit("error", f"{job.describe()}: {exc}", job.relpath)
            finally:
                self._running = None
                job.state = "done"
                job.done.set()
                with contextlib.suppress(ValueError):
                    self._jobs.remove(job)
            if self._waiting_reported and len(self.waiting()) < self._waiting_reported:
                self._waiting_reported = len(self.waiting())

    async def _run(self, job: WatchJob) -> None:
        from ai_workbench.core.errors import ProviderError

        if job.kind == "review":
            await self._review(job)
            return
        marker = self.config.change_marker if job.kind == "change" else self.config.question_marker
        self._emit("asking", f"asking the model: {job.describe()}", job.relpath)
        related = await asyncio.to_thread(
            related_files,
            self.root,
            job.relpath,
            job.text,
            limit=self.config.related_files,
            ignored=lambda rel: self.ignore.ignored(rel),
            max_bytes=self.config.max_file_bytes,
            search=self._search,
            query=job.request,
        )
        if job.kind == "change":
            messages = change_messages(
                job.relpath,
                job.text,
                job.comments,
                related,
                marker=marker,
                context_lines=self.config.context_lines,
            )
        else:
            messages = question_messages(
                job.relpath,
                job.text,
                job.comments[0],
                related,
                marker=marker,
                context_lines=self.config.context_lines,
            )
        try:
            answer, truncated = await self._complete(messages)
        except ProviderError as exc:
            job.outcome, job.error = "failed", exc
            self._emit("error", f"{job.describe()}: {exc}", job.relpath)
            return
        if job.kind == "change":
            await self._suggest_change(job, answer, truncated)
        else:
            await self._suggest_answer(job, answer, truncated)

    async def _complete(self, messages: list[dict[str, str]]) -> tuple[str, bool]:
        """The model's whole answer and whether the token limit cut it (the default chain,
        falling through like a chat turn)."""
        from ai_workbench.core.errors import FALL_THROUGH, ProviderError
        from ai_workbench.core.llm.engines import StreamResult, complete
        from ai_workbench.core.llm.profiles import check_allowed, resolve_chain

        model, api_base, provider = self._model_choice()
        chain = resolve_chain(self.settings, model=model, api_base=api_base, provider=provider)
        self.calls += 1
        last: ProviderError | None = None
        for index, resolved in enumerate(chain):
            result = StreamResult()
            try:
                check_allowed(resolved, self.settings)
                await complete(
                    resolved, messages, result, self.settings, temperature=resolved.temperature
                )
                return result.text, result.truncated
            except ProviderError as exc:
                last = exc
                if result.text or exc.kind not in FALL_THROUGH or index + 1 >= len(chain):
                    raise
        assert last is not None
        raise last

    def _model_choice(self) -> tuple[str | None, str | None, str | None]:
        """(model, api_base, provider): the workbench's choice, the arguments, watch.model."""
        model, api_base, provider = self.model, self.api_base, self.provider
        if self.choose_model is not None:
            chosen = self.choose_model()
            if any(chosen.values()):
                model, api_base = chosen.get("model"), chosen.get("api_base")
                provider = chosen.get("provider")
        if model is None and provider is None and api_base is None and self.config.model:
            wanted = self.config.model
            if wanted in self.settings.providers:
                provider = wanted
            else:
                model = wanted
        return model, api_base, provider

    def _actions(self, *ids: str) -> list[SuggestionAction]:
        labels = {
            ACTION_APPLY: "Apply",
            ACTION_VIEW: "View",
            ACTION_OPEN: "Open",
            ACTION_DISMISS: "Dismiss",
        }
        return [SuggestionAction(i, labels[i]) for i in ids]

    async def _suggest_change(self, job: WatchJob, answer: str, truncated: bool = False) -> None:
        where = f"{job.relpath}:{job.line}"
        subject = _sha(f"change\x1f{job.relpath}\x1f{job.request}".encode())
        try:
            if truncated:  # the diff's end is missing: whatever it changes is not the request
                raise DiffError("the answer was cut at the token limit, so its diff is incomplete")
            patch, expect = await asyncio.to_thread(self._build_patch, job, answer)
        except DiffError as exc:
            job.outcome = "no_patch"
            body = (
                f"Asked at `{where}`: {job.request}\n\nThe model's answer could not be turned "
                f"into a patch ({exc}). Edit the comment and save to ask again.\n\n"
                f"Its answer:\n\n{answer.strip()}"
            )
            title = f"No patch for {where}: {_clip(job.request, 60)}"
            await self._add_text(job, title, body, answer, subject)
            return
        job.outcome = "suggested"
        files, added, removed = diff_stats(patch)
        note = _explanation(answer)
        changed = ", ".join(f"`{name}`" for name in expect)
        body = (
            f"Asked at `{where}`: {job.request}\n\nPatch for {changed} (+{added} −{removed}); "
            f"applying it also removes the {self.config.change_marker} comment."
            + (f"\n\n{note}" if note else "")
            + f"\n\n```diff\n{patch}```\n"
        )
        await self._add(
            job,
            f"{where}: {_clip(job.request, 70)}",
            body,
            self._actions(ACTION_APPLY, ACTION_VIEW, ACTION_DISMISS),
            {
                "patch": patch,
                "root": str(self.root),
                "expect": expect,
                "path": str(self.root / job.relpath),
                "line": job.line,
                "files": files,
            },
            subject,
        )

    async def _suggest_answer(self, job: WatchJob, answer: str, truncated: bool = False) -> None:
        where = f"{job.relpath}:{job.line}"
        subject = _sha(f"question\x1f{job.relpath}\x1f{job.request}".encode())
        body = answer.strip() or "(the model gave an empty answer)"
        if truncated:
            body += "\n\n**Truncated:** the answer reached the token limit and stops here."
        job.outcome = "suggested"
        await self._add_text(job, f"{where}: {_clip(job.request, 70)}", body, body, subject)

    async def _add_text(
        self, job: WatchJob, title: str, body: str, text: str, subject: str
    ) -> None:
        """Queue a suggestion to read (no patch): view it, open the file at the comment."""
        payload = {"path": str(self.root / job.relpath), "line": job.line, "text": text}
        actions = self._actions(ACTION_VIEW, ACTION_OPEN, ACTION_DISMISS)
        await self._add(job, title, body, actions, payload, subject)

    async def _add(
        self,
        job: WatchJob,
        title: str,
        body: str,
        actions: list[SuggestionAction],
        payload: dict[str, Any],
        subject: str,
    ) -> None:
        payload = {"root": str(self.root), **payload, "watch_kind": job.kind, "subject": subject}
        item = await self.queue.add(
            SUGGESTION_KIND,
            title,
            body,
            actions=actions,
            payload=payload,
            source=f"{job.relpath}:{job.line}",
            fingerprint=job.fingerprint,
        )
        if item is None:
            return
        # An older open suggestion for the same request was made against older content.
        for older in await self.queue.list(kind=SUGGESTION_KIND, limit=None):
            if older.id != item.id and (older.payload or {}).get("subject") == subject:
                await self.queue.set_status(older.id, "dismissed")
        self._emit("suggested", title, job.relpath, item)

    # ------------------------------------------------------------------ patches

    def _build_patch(self, job: WatchJob, answer: str) -> tuple[str, dict[str, str]]:
        """(exact diff, expect digests) from the model's answer; DiffError if unusable."""
        blocks = edit_blocks(answer)  # SEARCH/REPLACE blocks, as the prompt asks for
        if blocks:
            return patch_from_edits(self, job, blocks)
        diff_text = extract_diff(answer)
        if diff_text is None:
            raise DiffError("the answer holds no diff")
        files = parse_diff(diff_text)
        if not files:
            raise DiffError("the diff has no hunks")
        base: dict[str, tuple[str | None, str]] = {job.relpath: (job.text, job.digest)}
        new: dict[str, str | None] = {}
        for item in files:
            target = safe_relpath(item.path) if item.headers else job.relpath
            if target is None:
                raise DiffError(f"the diff names a path outside the project: {item.path}")
            if target != job.relpath and self.ignore.ignored(target):
                raise DiffError(f"the diff changes {target}, which the watcher ignores")
            if target != job.relpath and not _names(job.request, target):
                raise DiffError(
                    f"the diff also changes {target}, which the request does not name; "
                    f"name it in the {self.config.change_marker} comment to allow that"
                )
            if target not in base:
                path = self.root / target
                try:
                    data = path.read_bytes()
                    base[target] = (data.decode("utf-8"), _sha(data))
                except FileNotFoundError:
                    base[target] = (None, "absent")
                except (OSError, UnicodeDecodeError) as exc:
                    raise DiffError(f"cannot read {target}: {exc}") from None
            current = new.get(target, base[target][0])
            if item.new_path is None and item.old_path is not None and item.headers:
                new[target] = None  # the model deletes the file
                continue
            try:
                new[target] = _apply_redacted(current or "", item.hunks, target)
            except DiffError:
                if target != job.relpath or current is None:
                    raise
                # models often leave the AI comment out of their context lines
                new[target] = _apply_redacted(
                    self._without_request(current, job), item.hunks, target
                )
        # Applying the patch also removes the AI comments that asked for it.
        edited = new.get(job.relpath, job.text)
        if edited is not None:
            new[job.relpath] = self._without_request(edited, job)
        unchanged = all(
            text
            == (self._without_request(job.text, job) if target == job.relpath else base[target][0])
            for target, text in new.items()
        )
        if unchanged:
            raise DiffError(
                "the model's diff makes none of the requested change (applying it would only "
                f"delete the {self.config.change_marker} comment)"
            )
        return combined_patch(new, base, "the diff changes nothing")

    def _without_request(self, text: str, job: WatchJob) -> str:
        found = find_ai_comments(
            text,
            job.relpath,
            change_marker=self.config.change_marker,
            question_marker=self.config.question_marker,
        )
        raws = {c.raw.strip() for c in job.comments}
        requests = {c.request for c in job.comments}
        mine = [
            c
            for c in found
            if c.kind == "change" and (c.raw.strip() in raws or c.request in requests)
        ]
        return remove_comments(text, mine) if mine else text

    # ------------------------------------------------------------------ review on save

    async def _review(self, job: WatchJob) -> None:
        """Review the saved file's uncommitted hunks with the review service (issue 5).

        The review service stores the run and queues its findings (kind ``review``) itself;
        they are announced here as ``suggested`` events so the workbench panel and
        ``aiw watch`` show them at once.
        """
        from ai_workbench.core.settings import LoadedConfig
        from ai_workbench.review.service import ReviewOptions, ReviewService

        loaded = self.loaded or LoadedConfig(self.settings, [], self.root)
        model, api_base, provider = self._model_choice()
        started = time.time()
        self._emit("asking", f"reviewing the changes in {job.relpath}", job.relpath)
        try:
            result = await ReviewService(loaded, self.queue.store).review_file(
                self.root / job.relpath,
                ReviewOptions(
                    model=model,
                    api_base=api_base,
                    provider=provider,
                    before_call=lambda: self._review_slot(job),
                ),
            )
        except Exception as exc:
            job.outcome, job.error = "failed", exc
            self._emit("error", f"review of {job.relpath} failed: {exc}", job.relpath)
            return
        job.outcome = "failed" if getattr(result, "status", "") == "error" else "suggested"
        for problem in getattr(result, "errors", None) or []:
            self._emit("error", f"review of {job.relpath}: {problem}", job.relpath)
        items = await self.queue.list(kind="review", limit=None)
        for item in reversed(items):
            if item.created >= started and (item.source or "").startswith(job.relpath + ":"):
                self._emit("suggested", item.title, job.relpath, item)

    async def _review_slot(self, job: WatchJob) -> None:
        """Wait for a rate-limiter slot and take it: called before each call a review makes."""
        told = False
        while True:
            delay = self.limiter.delay()
            if delay <= 0:
                self.limiter.take()
                self.calls += 1
                return
            if not told:
                told = True
                self._emit(
                    "waiting",
                    f"review of {job.relpath} waits for its next model call "
                    f"(watch.max_calls_per_minute = {self.limiter.per_minute}); "
                    f"next in {delay:.0f} s",
                    job.relpath,
                )
            await asyncio.sleep(min(delay, 1.0))

    # ------------------------------------------------------------------ knowledge index

    def _schedule_reindex(self) -> None:
        """Bring the knowledge index up to date after saves (only if the project has one)."""
        if self._knowledge is None or not _knowledge_index_path(self.root).exists():
            return
        if self._reindex_task is not None and not self._reindex_task.done():
            self._reindex_again = True
            return
        self._reindex_task = asyncio.create_task(self._reindex(), name="aiw-watch-reindex")

    async def _reindex(self) -> None:
        from ai_workbench.knowledge.service import KnowledgeService

        def run() -> None:
            service = KnowledgeService(self._knowledge, self.root)
            try:
                # lexical part now (unchanged files are not even read); vectors on `aiw index`
                service.index(embed=False)
            finally:
                service.close()

        while True:
            self._reindex_again = False
            await asyncio.sleep(REINDEX_QUIET_S)
            try:
                await asyncio.to_thread(run)
                self.reindexed += 1
            except Exception as exc:
                self._emit("error", f"updating the knowledge index failed: {exc}")
                return
            if not self._reindex_again or self._stop.is_set():
                return

    # ------------------------------------------------------------------ events

    def _emit(
        self,
        kind: EventKind,
        message: str,
        path: str | None = None,
        suggestion: Suggestion | None = None,
    ) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(WatchEvent(kind, message, path, suggestion))
        except Exception:
            log.exception("watch event listener failed")


# ---------------------------------------------------------------------------------- helpers


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _apply_redacted(text: str, hunks: list[Any], path: str) -> str:
    """Apply hunks the model wrote against the *redacted* text to the real text.

    Unchanged lines keep their real content; a changed line that still shows a redaction
    placeholder is taken from the original when it is one of the replaced lines, else the
    change is refused (writing ``[REDACTED:…]`` into a file would break it).
    """
    real = text.splitlines()
    redacted_text = redact_text(text)
    shown = redacted_text.splitlines()
    if shown == real:
        out = apply_hunks(real, hunks, path)
    else:
        if len(shown) != len(real):
            raise DiffError(f"{path} holds a multi-line secret; aiw does not patch around it")
        out = restore_redacted(real, shown, apply_hunks(shown, hunks, path), path)
    nl = _newline(text)
    result = nl.join(out)
    if out and (text.endswith(("\n", "\r")) or not text):
        result += nl
    return result


def _explanation(answer: str) -> str:
    """The model's words outside its diff (a sentence or two), for the suggestion body."""
    import re

    outside = re.sub(r"```.*?```", "", without_edit_blocks(answer), flags=re.DOTALL).strip()
    if not outside or outside.lstrip().startswith(("--- ", "@@", "diff --git")):
        return ""
    return _clip(outside, 400)


def _knowledge_index_path(root: Path) -> Path:
    from ai_workbench.core import paths
    from ai_workbench.knowledge.service import project_key

    return paths.data_dir() / "knowledge" / project_key(root) / "index.db"


def _knowledge_search(root: Path, knowledge: Any) -> Callable[[str, int], Sequence[str]] | None:
    """``search(query, k) -> [relpath]`` over the project's knowledge index (lexical, so no
    embedding model loads in the watcher), or None when aiw has no index for the project."""
    if knowledge is None:
        return None
    try:
        from ai_workbench.knowledge.service import KnowledgeService
    except ImportError:
        return None

    def run(query: str, k: int) -> Sequence[str]:
        if not _knowledge_index_path(root).exists():
            return []
        service = KnowledgeService(knowledge, root)
        try:
            hits = service.search_sync(query, k, mode="lexical").hits
        finally:
            service.close()
        return list(dict.fromkeys(hit.rel for hit in hits))

    return run
