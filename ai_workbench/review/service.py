"""The review service: from a change set to stored, filtered, placed findings.

collect changes (git) ▶ plan units within the token budget ▶ redact ▶ call the model for each
unit, at most ``max_parallel`` at once ▶ parse (retry a malformed reply once, then report it)
▶ place each finding on added lines (count moves and discards) ▶ build or check its patch ▶
hold back low-confidence, learned-against and over-the-cap findings (counted, stored) ▶ store
the run ▶ queue the shown findings as suggestions.

No terminal and no Textual here: the CLI and the workbench screen both call this.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from ai_workbench.core.context import estimate_tokens
from ai_workbench.core.db import Database as Store
from ai_workbench.core.errors import FALL_THROUGH, AiwError, InputError, ProviderError
from ai_workbench.core.feedback import Feedback
from ai_workbench.core.llm.discovery import parallel_limit
from ai_workbench.core.llm.engines import StreamResult, complete
from ai_workbench.core.llm.profiles import ResolvedProvider, check_allowed, resolve_chain
from ai_workbench.core.llm.structured import OutputSchema
from ai_workbench.core.redact import redact
from ai_workbench.core.settings import LoadedConfig
from ai_workbench.review.anchor import anchor, build_patch, resolve_path
from ai_workbench.review.chunks import ReviewUnit, plan_units
from ai_workbench.review.diff import ChangeSet, FileDiff, collect_changes, parse_diff
from ai_workbench.review.learning import LearningFilter, learn_from_rating, load_filter
from ai_workbench.review.models import (
    HELD_CAP,
    HELD_LEARNED,
    HELD_LOW_CONFIDENCE,
    HELD_OFF_CHANGE,
    SEVERITY_RANK,
    Finding,
    ReviewResult,
)
from ai_workbench.review.parse import MalformedReply, Reply, read_reply, to_finding
from ai_workbench.review.prompt import (
    FINDINGS_SCHEMA,
    repair_prompt,
    system_prompt,
    user_prompt,
)
from ai_workbench.review.storage import Learning, ReviewStore

Progress = Callable[[str], None]
PROMPT_OVERHEAD = 1_500  # tokens for the persona, the contract, learnings and the answer
# A call the server interrupted (another client's request on a one-slot server) is made again
# from the start this many times, after 1 s, 2 s...
INTERRUPTED_RETRIES = 2
INTERRUPTED_BACKOFF_S = 1.0
SUGGESTION_KIND = "review"


class ReviewError(AiwError):
    """The review could not run at all (every call failed); exit code 2 in the CLI."""

    exit_code = 2


@dataclass
class ReviewOptions:
    """What to review and how; ``None`` means the ``[review]`` setting."""

    staged: bool = False
    rev_range: str | None = None
    files: list[str] | None = None
    whole_files: bool = True
    model: str | None = None
    api_base: str | None = None
    provider: str | None = None
    persona: str | None = None
    learning: bool = True
    max_per_file: int | None = None
    min_confidence: float | None = None
    max_parallel: int | None = None
    queue_suggestions: bool = True
    cwd: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # awaited before every model call (retries and fallbacks too): the file watcher's rate
    # limiter uses it so a review counts as the calls it makes, not as one
    before_call: Callable[[], Awaitable[None]] | None = None


@dataclass
class _Unit:
    unit: ReviewUnit
    raw: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    provider_error: ProviderError | None = None
    incomplete: bool = False  # read, but cut at the token limit: reported, not failed


class ReviewService:
    """Reviews, ratings, status changes and learnings on top of one :class:`Store`."""

    def __init__(self, loaded: LoadedConfig, store: Store) -> None:
        self.loaded = loaded
        self.settings = loaded.settings
        self.cfg = loaded.settings.review
        self.store = store
        self.reviews = ReviewStore(store)

    # ------------------------------------------------------------------ reviewing

    async def review(self, opts: ReviewOptions, progress: Progress | None = None) -> ReviewResult:
        """Collect the changes ``opts`` names and review them."""
        cwd = (opts.cwd or Path.cwd()).resolve()
        changes = await asyncio.to_thread(
            collect_changes,
            cwd,
            staged=opts.staged,
            rev_range=opts.rev_range,
            files=opts.files,
            whole_files=opts.whole_files,
        )
        return await self.review_changes(changes, opts, progress)

    async def review_file(
        self, path: Path, opts: ReviewOptions | None = None, progress: Progress | None = None
    ) -> ReviewResult:
        """Review one file's changes the way ``opts`` reviews (working tree by default).

        For the file watcher and "re-review this file": with ``opts.staged`` or
        ``opts.rev_range`` it reviews that file's staged or in-range changes (so re-reviewing a
        file of a ``--staged`` review does not suddenly review the working tree); otherwise its
        uncommitted hunks only, so an unchanged file gives an empty result.
        """
        base = opts or ReviewOptions()
        path = Path(path).resolve()
        if base.staged or base.rev_range:
            chosen = replace(base, files=None, cwd=path.parent)
            changes = await asyncio.to_thread(
                collect_changes, path.parent, staged=base.staged, rev_range=base.rev_range
            )
            try:
                rel = path.relative_to(changes.root).as_posix()
            except ValueError:
                raise InputError(f"{path} is outside the repository {changes.root}") from None
            changes.files = [fd for fd in changes.files if rel in (fd.path, fd.old_path)]
            return await self.review_changes(changes, chosen, progress)
        chosen = replace(
            base,
            files=[str(path)],
            staged=False,
            rev_range=None,
            whole_files=bool(base.files) and base.whole_files,
            cwd=path.parent,
        )
        return await self.review(chosen, progress)

    async def review_diff(
        self,
        diff: str,
        opts: ReviewOptions,
        *,
        root: str,
        files: Mapping[str, str] | None = None,
        progress: Progress | None = None,
    ) -> ReviewResult:
        """Review a unified diff given as text (the HTTP API): no repository is read.

        ``files`` may give a changed file's whole new text (better context, fixes that build);
        without it the new text is rebuilt from the hunks. ``root`` names where the diff is
        from (its learnings are kept under it); nothing is read from or written to it.
        """
        parsed = parse_diff(diff)
        if not parsed:
            raise InputError("diff: no file changes found; send the output of `git diff`")
        for fd in parsed:
            parts = PurePosixPath(fd.path).parts
            if not fd.path or fd.path.startswith("/") or ".." in parts:
                raise InputError(f"diff: path {fd.path!r} must be relative, without '..'")
            if fd.deleted or fd.binary:
                continue
            text = (files or {}).get(fd.path)
            fd.new_text = text if text is not None else text_from_hunks(fd)
        changes = ChangeSet(Path(root), "diff", f"{len(parsed)} file(s)", parsed)
        return await self.review_changes(changes, opts, progress)

    async def repo_of(self, finding_id: int) -> str:
        """The repository (root) a stored finding was reviewed in."""
        return await self.reviews.repo_of(finding_id)

    async def review_changes(
        self, changes: ChangeSet, opts: ReviewOptions, progress: Progress | None = None
    ) -> ReviewResult:
        say = progress or (lambda _line: None)
        started = time.perf_counter()
        persona = self._persona(opts.persona or self.cfg.persona)
        chain = self._chain(opts, persona)
        max_per_file = opts.max_per_file or self.cfg.max_findings_per_file
        min_conf = self.cfg.min_confidence if opts.min_confidence is None else opts.min_confidence
        learning = opts.learning and self.cfg.learning
        root = str(changes.root)
        result = ReviewResult(
            root=root,
            mode=changes.mode,
            target=changes.target,
            model=chain[0].model,
            learning=learning,
            changes=changes,
        )
        stats = result.stats
        budget = max(
            500,
            min(self.cfg.max_tokens_per_call, int(chain[0].context_window * 0.6)) - PROMPT_OVERHEAD,
        )
        units, skipped, hunks = plan_units(changes, budget, before=self.cfg.context_lines)
        stats.files = len({b.path for u in units for b in u.blocks})
        stats.hunks, stats.units, stats.skipped_files = hunks, len(units), skipped
        if skipped:
            result.notices.append("not reviewed: " + ", ".join(skipped))
        lf = await load_filter(self.reviews, root, self.cfg.min_dislikes) if learning else None
        result.run_id = await self.reviews.start_run(
            root, changes.mode, changes.target, chain[0].model, persona[0], learning
        )
        if units:
            say(f"reviewing {stats.hunks} hunk(s) in {stats.files} file(s): {len(units)} call(s)")
        system = system_prompt(persona[1], max_per_file)
        avoid = lf.avoid_rules() if lf else []
        liked = lf.examples() if lf else []
        parallel, why = await parallel_limit(chain[0], opts.max_parallel or self.cfg.max_parallel)
        stats.parallel = parallel
        if why and len(units) > 1:
            say(f"{parallel} call(s) at a time: {why}")
        gate = asyncio.Semaphore(parallel)
        temperature = persona[2]

        async def run(unit: ReviewUnit) -> _Unit:
            async with gate:
                return await self._review_unit(
                    unit,
                    chain,
                    system,
                    changes.target,
                    avoid,
                    liked,
                    temperature,
                    result,
                    opts.before_call,
                )

        outcomes = await asyncio.gather(*(run(u) for u in units))
        provider_errors = [o.provider_error for o in outcomes if o.provider_error is not None]
        for outcome in outcomes:
            if outcome.error:
                result.errors.append(outcome.error)
                stats.failed_units += not outcome.incomplete
        if stats.repaired:
            result.notices.append(
                f"{stats.repaired} reply(ies) were not valid JSON and were read with json-repair; "
                "their findings are kept, their fixes dropped (repaired code is a guess)"
            )
        by_path = changes.by_path()
        for outcome in outcomes:
            for item in outcome.raw:
                stats.raw_findings += 1
                finding = to_finding(item)
                if finding is None:
                    stats.discarded += 1
                    continue
                self._place(finding, by_path, root, result, outcome.unit.blocks)
        self._filter(result, lf, max_per_file, min_conf)
        stats.duration_ms = int((time.perf_counter() - started) * 1000)
        if stats.reanchored or stats.discarded:
            result.notices.append(
                f"{stats.reanchored} finding(s) moved onto added lines, "
                f"{stats.discarded} discarded (not on a changed line of a reviewed file)"
            )
        await self.reviews.finish_run(result)
        if units and len(provider_errors) == len(units):
            raise ReviewError(str(provider_errors[0])) from provider_errors[0]
        if opts.queue_suggestions and self.cfg.suggestions:
            await self._queue(result)
        return result

    def _persona(self, name: str) -> tuple[str, str, float | None]:
        """(id, prompt, temperature) of the reviewer persona."""
        from ai_workbench.chat.service import find_persona

        try:
            persona = find_persona(self.loaded.project_root, name)
        except Exception as exc:
            raise InputError(f"review persona: {str(exc).strip(chr(39) + chr(34))}") from None
        return persona.id, persona.prompt, persona.temperature

    def _chain(
        self, opts: ReviewOptions, persona: tuple[str, str, float | None]
    ) -> list[ResolvedProvider]:
        model = opts.model or (self.cfg.model or None)
        provider = opts.provider or (self.cfg.provider or None)
        return resolve_chain(self.settings, model=model, api_base=opts.api_base, provider=provider)

    async def _call(
        self,
        chain: list[ResolvedProvider],
        messages: list[dict[str, str]],
        temperature: float | None,
        result: ReviewResult,
        before_call: Callable[[], Awaitable[None]] | None = None,
    ) -> StreamResult:
        last: ProviderError | None = None
        queue = list(chain)
        interruptions = 0
        while queue:
            provider = queue.pop(0)
            stream = StreamResult()
            try:
                check_allowed(provider, self.settings)
                if before_call is not None:
                    await before_call()
                result.stats.calls += 1
                result.stats.tokens_sent += sum(estimate_tokens(m["content"]) for m in messages)
                await complete(
                    provider,
                    messages,
                    stream,
                    self.settings,
                    wait_first_token=True,
                    temperature=temperature,
                    schema=OutputSchema("review_findings", FINDINGS_SCHEMA),
                )
            except ProviderError as exc:
                last = exc
                if exc.kind == "interrupted":
                    # another client's request cut ours (a one-slot server): half a JSON reply
                    # is no use, so ask again from the start, a bounded number of times
                    result.stats.interrupted += 1
                    if interruptions < INTERRUPTED_RETRIES:
                        interruptions += 1
                        queue.insert(0, provider)
                        await asyncio.sleep(INTERRUPTED_BACKOFF_S * interruptions)
                        continue
                if exc.kind in FALL_THROUGH:
                    continue
                raise
            result.stats.tokens_in += stream.tokens_in or 0
            result.stats.tokens_out += stream.tokens_out or 0
            return stream
        assert last is not None
        raise last

    async def _review_unit(
        self,
        unit: ReviewUnit,
        chain: list[ResolvedProvider],
        system: str,
        target: str,
        avoid: list[str],
        liked: list[Any],
        temperature: float | None,
        result: ReviewResult,
        before_call: Callable[[], Awaitable[None]] | None = None,
    ) -> _Unit:
        outcome = _Unit(unit)
        user = user_prompt(unit, target=target, avoid=avoid, liked=liked)
        redaction = redact(user)
        if redaction.total:
            result.notices.append(
                f"redacted {redaction.total} secret(s) in {unit.label()} before sending"
            )
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": redaction.text},
        ]
        try:
            first = await self._call(chain, messages, temperature, result, before_call)
            try:
                self._take(outcome, read_reply(first.text), first, result)
                return outcome
            except MalformedReply as problem:
                if first.truncated:  # asking again hits the same limit: report it
                    outcome.error = _truncated_error(unit, problem)
                    return outcome
                result.stats.retries += 1
                messages += [
                    {"role": "assistant", "content": first.text},
                    {"role": "user", "content": repair_prompt(str(problem))},
                ]
            second = await self._call(chain, messages, temperature, result, before_call)
            if second.text.strip() == first.text.strip():
                outcome.error = (
                    f"{unit.label()}: the model's reply was malformed twice (asked again, it "
                    "sent the same reply); these lines were not reviewed"
                )
                return outcome
            try:
                self._take(outcome, read_reply(second.text), second, result)
            except MalformedReply as problem:
                outcome.error = (
                    _truncated_error(unit, problem)
                    if second.truncated
                    else f"{unit.label()}: the model's reply was malformed twice ({problem}); "
                    "these lines were not reviewed"
                )
        except ProviderError as exc:
            outcome.provider_error = exc
            outcome.error = f"{unit.label()}: {exc}"
        return outcome

    def _take(
        self, outcome: _Unit, reply: Reply, stream: StreamResult, result: ReviewResult
    ) -> None:
        """Keep a readable reply's findings; a repaired reply loses its fixes (its code strings
        are the repairer's guess) and a truncated one is reported as incomplete."""
        result.stats.discarded += reply.bad
        if reply.repaired:
            result.stats.repaired += 1
            for item in reply.items:
                for key in ("patch", "suggested_patch", "improved_code"):
                    item.pop(key, None)
        if stream.truncated:
            result.stats.truncated += 1
            outcome.incomplete = True
            outcome.error = (
                f"{outcome.unit.label()}: the model's reply was cut at the token limit; "
                f"{len(reply.items)} finding(s) read from it, others may be missing"
            )
        outcome.raw = reply.items

    def _place(
        self,
        finding: Finding,
        by_path: dict[str, FileDiff],
        root: str,
        result: ReviewResult,
        blocks: Sequence[Any] = (),
    ) -> None:
        stats = result.stats
        path = resolve_path(finding.path, by_path, root)
        fd = by_path.get(path) if path else None
        if fd is not None:
            finding.path = fd.path
        shown = [(b.start, b.end) for b in blocks if fd is not None and b.path == fd.path]
        outcome = anchor(finding, fd, shown or None)
        if outcome == "discarded" or fd is None:
            stats.discarded += 1
            return
        if outcome == "off-change":
            # far from every change: counted and listed as held back, never shown as a hit
            finding.held_reason = HELD_OFF_CHANGE
            finding.compute_fingerprint()
            result.findings.append(finding)
            return
        if outcome == "reanchored":
            stats.reanchored += 1
        if fd.path not in result.digests and _worktree_matches(Path(root), fd):
            from ai_workbench.core.patches import file_digest

            result.digests[fd.path] = file_digest(Path(root) / fd.path)
        finding.patch = self._patch_for(finding, fd, Path(root))
        finding.compute_fingerprint()
        if any(f.fingerprint == finding.fingerprint for f in result.findings):
            stats.discarded += 1  # the same finding from an overlapping unit
            return
        result.findings.append(finding)

    def _patch_for(self, finding: Finding, fd: FileDiff, root: Path) -> str | None:
        from ai_workbench.core.patches import PatchError, check_patch, normalise_patch, patch_paths

        patch = None
        if finding.patch:
            try:
                candidate = normalise_patch(finding.patch)
                if patch_paths(candidate) == [fd.path]:
                    patch = candidate
            except Exception:
                patch = None
        if patch is None:
            patch = build_patch(finding, fd)
        if patch is None:
            return None
        if _worktree_matches(root, fd):
            try:
                check_patch(root, patch)
            except PatchError:
                return None  # a fix that does not apply is worse than none
        return patch

    def _filter(
        self, result: ReviewResult, lf: LearningFilter | None, max_per_file: int, min_conf: float
    ) -> None:
        held = result.stats.held
        for f in result.findings:
            if f.held_reason is not None:
                continue  # held back while placed (off-change)
            if f.confidence < min_conf:
                f.held_reason = HELD_LOW_CONFIDENCE
                continue
            learned = lf.check(f) if lf else None
            if learned is not None:
                label = f"learning #{learned.id} ({_clip(learned.rule, 60)})"
                if f.severity == "error":
                    f.learning_note = f"resembles {label}; shown because it is an error"
                else:
                    f.held_reason = HELD_LEARNED
                    f.learning_note = f"held back by {label}"
        per_file: dict[str, list[Finding]] = {}
        for f in result.findings:
            if f.held_reason is None:
                per_file.setdefault(f.path, []).append(f)
        for items in per_file.values():
            items.sort(key=lambda f: (-SEVERITY_RANK[f.severity], -f.confidence, f.line_start))
            for f in items[max_per_file:]:
                f.held_reason = HELD_CAP
        for f in result.findings:
            if f.held_reason:
                held[f.held_reason] += 1
                f.status = "held"
        result.findings.sort(key=lambda f: f.sort_key())

    async def _queue(self, result: ReviewResult) -> int:
        from ai_workbench.suggestions.service import (
            ACTION_APPLY,
            ACTION_DISMISS,
            ACTION_OPEN,
            SuggestionAction,
            SuggestionQueue,
        )

        queue = SuggestionQueue(self.store)
        root = Path(result.root)
        by_path = result.changes.by_path() if result.changes is not None else {}
        added = 0
        for f in result.shown:
            fd = by_path.get(f.path)
            actions = []
            payload: dict[str, Any] = {
                "path": str(root / f.path),
                "line": f.line_start,
                "root": str(root),
                "finding_id": f.id,
            }
            if f.patch and fd is not None and f.path in result.digests:
                actions.append(SuggestionAction(ACTION_APPLY, "Apply fix"))
                payload["patch"] = f.patch
                payload["expect"] = {f.path: result.digests[f.path]}
            actions += [
                SuggestionAction(ACTION_OPEN, "Open"),
                SuggestionAction(ACTION_DISMISS, "Dismiss"),
            ]
            body = f"**{f.path}:{f.line_start}** · {f.severity} · {f.rule_id}\n\n{f.explanation}"
            if f.patch:
                body += f"\n\n```diff\n{f.patch.rstrip()}\n```"
            item = await queue.add(
                SUGGESTION_KIND,
                f"{f.severity}: {f.title}",
                body,
                actions=actions,
                payload=payload,
                source=f"{f.path}:{f.line_start}",
                fingerprint=f"review:{f.fingerprint}",
            )
            added += item is not None
        return added

    # ------------------------------------------------------------------ after the review

    async def rate(
        self, finding_id: int, rating: int, comment: str | None = None, *, owner: str = "local"
    ) -> Learning:
        """Like (+1) or dislike (-1) a finding: stored as ``owner``'s feedback and learned from."""
        from ai_workbench.core.feedback import FeedbackService

        finding = await self.reviews.get_finding(finding_id)
        repo = await self.reviews.repo_of(finding_id)
        await FeedbackService(self.store).rate("finding", finding_id, rating, comment, owner=owner)
        return await learn_from_rating(self.reviews, repo, finding, rating, comment)

    async def unrate(self, finding_id: int) -> None:
        from ai_workbench.core.feedback import FeedbackService

        await FeedbackService(self.store).clear("finding", finding_id)
        await self.reviews.remove_examples_of(finding_id)

    async def set_status(self, finding_id: int, status: str) -> None:
        await self.reviews.set_finding_status(finding_id, status)

    async def dismiss(self, finding: Finding) -> None:
        """Dismiss a finding, and its entry in the suggestions queue (it will not come back)."""
        if finding.id is not None:
            await self.reviews.set_finding_status(finding.id, "dismissed")
        finding.status = "dismissed"
        await self._sync_suggestion(finding, "dismissed")

    def expect_for(self, result: ReviewResult, finding: Finding) -> dict[str, str] | None:
        """The digest of the finding's file when it was reviewed, if the review saw the disk."""
        digest = result.digests.get(finding.path)
        return {finding.path: digest} if digest else None

    async def _sync_suggestion(self, finding: Finding, status: str) -> None:
        from ai_workbench.suggestions.service import SuggestionQueue

        queue = SuggestionQueue(self.store)
        for item in await queue.list(kind=SUGGESTION_KIND, limit=None):
            if item.fingerprint == f"review:{finding.fingerprint}":
                await queue.set_status(item.id, status)

    async def apply(
        self, finding: Finding, root: Path, expect: dict[str, str] | None = None
    ) -> Any:
        """Apply the finding's patch (``git apply --check`` first; nothing changes on conflict)."""
        from ai_workbench.core.patches import PatchError, apply_patch

        if not finding.patch:
            raise PatchError(f"{finding.path}:{finding.line_start}: this finding has no patch")
        applied = await asyncio.to_thread(apply_patch, root, finding.patch, expect=expect)
        if finding.id is not None:
            await self.reviews.set_finding_status(finding.id, "applied")
        finding.status = "applied"
        await self._sync_suggestion(finding, "applied")
        return applied

    async def learnings(self, repo: str | None = None) -> list[Learning]:
        return await self.reviews.learnings(repo)

    async def update_learning(self, learning_id: int, **changes: Any) -> Learning:
        return await self.reviews.update_learning(learning_id, **changes)

    async def delete_learning(self, learning_id: int) -> None:
        await self.reviews.delete_learning(learning_id)


def text_from_hunks(fd: FileDiff) -> str:
    """A file's new text as far as its hunks show it (lines they do not show are empty)."""
    known: dict[int, str] = {}
    for hunk in fd.hunks:
        for kind, _old, new, text in hunk.lines:
            if kind in (" ", "+") and new is not None:
                known[new] = text
    last = max(known, default=0)
    return "\n".join(known.get(n, "") for n in range(1, last + 1)) + ("\n" if last else "")


def _worktree_matches(root: Path, fd: FileDiff) -> bool:
    """Whether the reviewed text is what is on disk now (so its patch applies there)."""
    try:
        return (root / fd.path).read_text(encoding="utf-8", errors="replace") == fd.new_text
    except OSError:
        return False


def _truncated_error(unit: ReviewUnit, problem: MalformedReply) -> str:
    return (
        f"{unit.label()}: the model's reply was cut at the token limit and cannot be read "
        f"({problem}); these lines were not reviewed (raise the model's output limit, or lower "
        "review.max_tokens_per_call for smaller parts)"
    )


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# --- the inbox: a suggestion that is a review finding is rated as that finding --------------


def finding_of(item: Any) -> int | None:
    """The finding id of a queued suggestion that is a review finding, else ``None``."""
    payload = item.payload or {}
    value = payload.get("finding_id")
    return int(value) if item.kind == SUGGESTION_KIND and isinstance(value, int) else None


async def rate_suggestion(
    loaded: LoadedConfig | None, store: Store, item: Any, rating: int, comment: str | None = None
) -> Feedback | None:
    """Like (+1) or dislike (-1) a suggestion from the inbox; the saved feedback.

    A review finding is rated as that finding (stored against it, and learned from by the next
    reviews of its repository, see :meth:`ReviewService.rate`); any other suggestion is rated in
    the inbox (:meth:`~ai_workbench.suggestions.service.SuggestionQueue.rate`).
    """
    from ai_workbench.core.feedback import FeedbackService
    from ai_workbench.suggestions.service import SuggestionQueue

    finding = finding_of(item)
    if finding is not None and loaded is not None:
        await ReviewService(loaded, store).rate(finding, rating, comment)
        return await FeedbackService(store).get("finding", finding)
    return await SuggestionQueue(store).rate(item.id, rating, comment)


async def clear_suggestion_rating(loaded: LoadedConfig | None, store: Store, item: Any) -> None:
    """Remove the rating :func:`rate_suggestion` gave (a finding also stops teaching reviews)."""
    from ai_workbench.suggestions.service import SuggestionQueue

    finding = finding_of(item)
    if finding is not None and loaded is not None:
        await ReviewService(loaded, store).unrate(finding)
        return
    await SuggestionQueue(store).clear_rating(item.id)


async def suggestion_rating(store: Store, item: Any) -> Feedback | None:
    """The rating :func:`rate_suggestion` stored for ``item``, or ``None``."""
    from ai_workbench.core.feedback import FeedbackService
    from ai_workbench.suggestions.service import SuggestionQueue

    finding = finding_of(item)
    if finding is not None:
        return await FeedbackService(store).get("finding", finding)
    return await SuggestionQueue(store).rating(item.id)
