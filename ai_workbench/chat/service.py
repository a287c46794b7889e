"""The chat service: one turn from prompt to saved answer.

input ▶ save user message ▶ assemble context (persona, plugins, files, stdin, history within
the model's window) ▶ redact ▶ stream ▶ save the answer as it streams (appending, at least once
per ``chat.save_interval``, in the background: a locked database never stalls the stream) ▶
mark it complete, or partial on cancel, error or a ``chat.max_answer_*`` cap. A final save
that cannot get past a lock writes the answer to a recovery file instead (chat/drafts.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ai_workbench.chat.drafts import AnswerCap, AnswerSaver, write_recovery
from ai_workbench.chat.store import LOCAL_OWNER, ChatStore, Message, SearchHit, Session
from ai_workbench.chat.summaries import summary_note
from ai_workbench.core.context import (
    AttachedFile,
    FittedMessages,
    build_user_content,
    collect_files,
    estimate_tokens,
    fit_messages,
)
from ai_workbench.core.db import StoreError
from ai_workbench.core.errors import FALL_THROUGH, InputError, ProviderError, chain_failed
from ai_workbench.core.llm.engines import (
    StreamResult,
    complete,
    connection_options,
    stream_chat,
    truncation_error,
)
from ai_workbench.core.llm.profiles import ResolvedProvider, check_allowed, resolve_chain
from ai_workbench.core.llm.tools import Toolbox
from ai_workbench.core.redact import redact, redact_text
from ai_workbench.core.settings import LoadedConfig

if TYPE_CHECKING:
    from ai_workbench.chat.personas import Persona
    from ai_workbench.memory.service import MemoryService

Notice = Callable[[str], None]


@dataclass
class AskOptions:
    prompt: str
    files: Sequence[str] = ()
    stdin_text: str | None = None
    persona: str | None = None
    contexts: Sequence[str] = ()
    session: str | None = None  # id or unique prefix
    continue_last: bool = False
    model: str | None = None
    api_base: str | None = None
    provider: str | None = None
    temperature: float | None = None
    cwd: Path | None = None
    # Answer this already-saved user message of ``session`` again (regenerate): nothing new is
    # saved for the user, the history is what came before it, ``prompt``/``files`` are ignored.
    reuse_user_message: int | None = None
    # Extra system-context sections (e.g. retrieved project knowledge), already redacted.
    extra_context: Sequence[str] = ()
    # The aiw user the turn belongs to: only their sessions can be continued, and their memory
    # (profile, recalled facts, summaries) is used ('local': the workbench's and the CLI's single
    # local user; `aiw serve` passes the caller's name).
    owner: str = LOCAL_OWNER


@dataclass
class PreparedTurn:
    session: Session
    created_session: bool
    user_message_id: int
    messages: list[dict[str, str]]
    chain: list[ResolvedProvider]
    temperature: float | None
    files: list[AttachedFile]
    notices: list[str] = field(default_factory=list)
    # the project-knowledge excerpts sent (``path:start-end``): the answer's citations are
    # checked against them (knowledge.citations.Citation items)
    sources: list[Any] = field(default_factory=list)
    # prompt tokens the user's memory added (profile block, recalled facts; estimate)
    memory_tokens: int = 0


@dataclass
class AskResult:
    session: Session
    created_session: bool
    message_id: int
    text: str
    status: str  # complete | partial | error
    provider: ResolvedProvider | None
    stream: StreamResult
    latency_ms: int
    error: ProviderError | None = None
    cost: float | None = None  # US dollars (core.costs); None when unknown
    # Set when the database stayed locked: where the whole answer was written instead.
    saved_to: Path | None = None

    citations: Any = None  # a knowledge CitationCheck for a grounded answer, else None

    @property
    def truncated(self) -> bool:
        """The answer stopped at the token limit (saved as partial, with the reason)."""
        return self.stream.truncated


def find_persona(project_root: Path | None, name: str) -> Persona:
    """The persona ``name`` (an id such as ``core/CA-1``, or a unique short id or name) from the
    bundled, user and project persona folders; other capabilities (review) take theirs here.

    Raises :class:`~ai_workbench.chat.personas.PersonaNotFound` (unknown or ambiguous; it names
    the available ones) or :class:`~ai_workbench.chat.personas.PersonaError` (a broken file).
    """
    from ai_workbench.chat.personas import load_personas

    return load_personas(project_root).get(name)


async def search_sessions(
    store: ChatStore,
    query: str,
    limit: int = 50,
    *,
    since: float | None = None,
    model: str | None = None,
    highlight: tuple[str, str] = ("[", "]"),
) -> list[SearchHit]:
    """Search over every saved message: words (bm25) and substrings (trigram), merged; the one
    search ``aiw sessions search``, the workbench and the MCP server share."""
    from ai_workbench.chat.sessions import SessionService

    return await SessionService(store).search(
        query, limit, highlight=highlight, since=since, model=model
    )


async def session_transcript(
    store: ChatStore, session_id: str, *, owner: str = LOCAL_OWNER
) -> tuple[str, str]:
    """(session id, the session as Markdown) for grounding a document (``aiw doc --session``);
    only ``owner``'s sessions: an unknown id, or another user's, raises the store's one-line
    error."""
    from ai_workbench.chat.sessions import SessionService

    session = await store.get_session(session_id, owner=owner)
    return session.id, await SessionService(store).export(session.id, "md", owner=owner)


class ChatService:
    """Runs chat turns against the store and providers; no terminal, no Textual."""

    def __init__(self, loaded: LoadedConfig, store: ChatStore) -> None:
        self.loaded = loaded
        self.settings = loaded.settings
        self.store = store
        self._memory: MemoryService | None = None

    async def prepare(self, opts: AskOptions, notice: Notice | None = None) -> PreparedTurn:
        """Everything before the request: resolve, assemble, redact and save the user's turn."""
        from ai_workbench.chat.personas import load_personas
        from ai_workbench.chat.plugins import discover_plugins, run_plugins

        notices: list[str] = []
        say = notice or notices.append
        cwd = (opts.cwd or Path.cwd()).resolve()
        chat = self.settings.chat

        session = await self._existing_session(opts)
        persona_name = opts.persona or (session.persona if session else None) or chat.persona
        persona = None
        if persona_name:
            catalog = load_personas(self.loaded.project_root)
            try:
                persona = catalog.get(persona_name)
            except Exception as exc:
                raise InputError(str(exc).strip("'\"")) from None

        model = opts.model
        if model is None and opts.provider is None and persona and persona.model:
            model = persona.model
        api_base = opts.api_base
        if model is None and opts.provider is None and opts.api_base is None and session:
            # Continue where the session left off: same model, same endpoint.
            model = session.model if session.model else None
            api_base = session.api_base
        provider_name = opts.provider
        if provider_name is None and opts.model is None and session and model == session.model:
            provider_name = self._profile_for(session.model, session.api_base)
            if provider_name is not None:
                model = api_base = None
        chain = resolve_chain(self.settings, model=model, api_base=api_base, provider=provider_name)

        reused = await self._reused_message(opts, session)
        files = (
            []
            if reused is not None
            else collect_files(
                opts.files, cwd, max_files=chat.max_context_files, max_bytes=chat.max_file_bytes
            )
        )
        if reused is None and not (opts.prompt.strip() or files or (opts.stdin_text or "").strip()):
            raise InputError("nothing to ask: give a prompt, -f FILE or text on stdin")

        contexts = list(opts.contexts) or (session.context if session else []) or chat.context
        system = persona.prompt if persona else ""
        if contexts:
            registry = discover_plugins(self.loaded.project_root)
            for problem in registry.errors:
                say(str(problem))
            try:
                plugin_run = run_plugins(
                    registry, list(contexts), opts.prompt, [f.path for f in files]
                )
            except Exception as exc:  # unknown plugin name
                raise InputError(str(exc).strip("'\"")) from None
            for problem in plugin_run.errors:
                say(problem)
            for name, text in plugin_run.sections:
                system += f"\n\n## Context from the {name} plugin\n\n{text}"
        memory_section = await self._memory_section(opts.prompt, opts.owner, say)
        if memory_section:
            system += f"\n\n{memory_section}"
        for section in opts.extra_context:
            system += f"\n\n{section}"
        system = system.strip()

        if reused is not None:
            user_text = reused.content  # redacted when it was first saved
        else:
            redaction = redact(build_user_content(opts.prompt, files, opts.stdin_text))
            if redaction.total:
                kinds = ", ".join(f"{n} {k}" for k, n in sorted(redaction.counts.items()))
                say(f"redacted {redaction.total} secret(s) before sending: {kinds}")
            user_text = redaction.text

        history = (
            await self._history_messages(session, before=reused.id if reused else None)
            if session
            else []
        )
        fitted = await self._fit(session, system, history, user_text, chain, opts.owner, say)
        if fitted.dropped:
            say(
                f"left out the {fitted.dropped} oldest message(s) of this session to fit "
                f"{chain[0].model}'s context window"
            )

        created = session is None
        if session is None:
            session = await self.store.create_session(
                title=_title_from(redact_text(opts.prompt), files, opts.stdin_text),
                persona=persona.id if persona else None,
                model=chain[0].model,
                context=list(contexts),
                api_base=chain[0].api_base,
                owner=opts.owner,
            )
        else:
            await self.store.update_session(
                session.id,
                persona=persona.id if persona else session.persona,
                context=list(contexts),
            )
        # The user's message is saved before anything is sent.
        if reused is not None:
            user_id = reused.id
        else:
            user_id = await self.store.add_message(session.id, "user", user_text)
        for item in files:
            await self.store.add_attachment(
                user_id, str(item.path), sha256=item.sha256, size=item.size
            )
        temperature = opts.temperature
        if temperature is None:
            temperature = chat.temperature if chat.temperature is not None else None
        if temperature is None and persona is not None:
            temperature = persona.temperature
        return PreparedTurn(
            session=session,
            created_session=created,
            user_message_id=user_id,
            messages=fitted.messages,
            chain=chain,
            temperature=temperature,
            files=files,
            notices=notices,
            sources=_sent_sources(opts.extra_context),
            memory_tokens=estimate_tokens(memory_section) if memory_section else 0,
        )

    def _profile_for(self, model: str | None, api_base: str | None) -> str | None:
        """The configured profile a session used (it carries the key's variable)."""
        for name, profile in self.settings.providers.items():
            if profile.model == model and profile.api_base == api_base:
                return name
        return None

    async def _existing_session(self, opts: AskOptions) -> Session | None:
        if opts.session:
            return await self.store.get_session(opts.session, owner=opts.owner)
        if opts.continue_last:
            recent = await self.store.list_sessions(limit=1, owner=opts.owner)
            if not recent:
                raise InputError("no session to continue yet; ask without --continue first")
            return recent[0]
        return None

    async def _reused_message(self, opts: AskOptions, session: Session | None) -> Message | None:
        if opts.reuse_user_message is None:
            return None
        if session is None:
            raise InputError("regenerating an answer needs the session it belongs to")
        message = await self.store.get_message(opts.reuse_user_message)
        if message.session_id != session.id or message.role != "user":
            raise InputError(
                f"message {opts.reuse_user_message} is not a prompt of session {session.id[:8]}"
            )
        return message

    async def _history_messages(self, session: Session, before: int | None = None) -> list[Message]:
        history: list[Message] = []
        for message in await self.store.get_messages(session.id):
            if before is not None and message.id >= before:
                break
            if message.role in ("user", "assistant") and message.content.strip():
                history.append(message)
        return history

    # ---- memory: the profile block, recalled facts, summaries instead of dropped turns

    @property
    def memory(self) -> MemoryService:
        if self._memory is None:
            from ai_workbench.memory.service import MemoryService

            self._memory = MemoryService(self.store, self.settings.memory, self.settings.knowledge)
        return self._memory

    async def _memory_section(self, prompt: str, owner: str, say: Notice) -> str:
        """The profile block and the facts recalled for ``prompt`` ('' when none or off)."""
        if not self.settings.memory.enabled:
            return ""
        try:
            return await self.memory.system_section(prompt, owner=owner)
        except StoreError as exc:  # memory is a help, never a reason to fail a turn
            say(f"memory left out of this turn: {exc}")
            return ""

    async def _fit(
        self,
        session: Session | None,
        system: str,
        history: list[Message],
        user_text: str,
        chain: list[ResolvedProvider],
        owner: str,
        say: Notice,
    ) -> FittedMessages:
        """System + history + the new turn within the model's window. When the history does not
        fit, its older turns are summarised (short-term memory, shown in the session as a note)
        instead of dropped; without a summary (off, or the model failed) they are dropped."""
        from ai_workbench.chat.summaries import SUMMARY_HEADING, split_for_summary, summarize

        window = min(p.context_window for p in chain)
        model = chain[0].model
        summary = None
        use_summary = session is not None and self.settings.memory.summarize
        if use_summary and session is not None:
            summary = await self.memory.short_summary(session.id, owner=owner)

        def fit(summary_text: str, messages: Sequence[Message]) -> FittedMessages:
            full = system
            if summary_text:
                full = f"{system}\n\n{SUMMARY_HEADING}\n\n{summary_text}".strip()
            turns = [{"role": m.role, "content": m.content} for m in messages]
            return fit_messages(full, turns, user_text, context_window=window, model=model)

        recent = [m for m in history if summary is None or m.id > (summary.covers_until or 0)]
        fitted = fit(summary.content if summary else "", recent)
        if not fitted.dropped or not use_summary or session is None:
            return fitted
        older, kept = split_for_summary(system, recent, user_text, window)
        if not older:
            return fitted
        try:
            text = await summarize(
                chain[0], self.settings, older, summary.content if summary else "", window
            )
        except ProviderError as exc:
            say(f"could not summarise the older turns ({exc}); leaving them out instead")
            return fitted
        try:
            summarized = fit(text, kept)
        except InputError:  # the summary does not fit beside the new turn: drop instead
            return fitted
        covers = older[-1].id
        await self.memory.save_short(session.id, text, covers, owner=owner)
        await self.store.add_message(session.id, "system", summary_note(text, len(older), model))
        say(
            f"summarised the {len(older)} oldest message(s) of this session to fit {model}'s "
            "context window (the summary is in the session as a note)"
        )
        return summarized

    async def summarize_sessions(
        self,
        *,
        owner: str = "local",
        session_id: str | None = None,
        limit: int = 5,
        notice: Notice | None = None,
        exclude: Collection[str] = (),
        failed: list[str] | None = None,
    ) -> list[tuple[Session, str]]:
        """Write the medium-term summary of finished sessions (idle ``memory.
        finished_after_minutes``, answered, not summarised yet; or of ``session_id`` now), at
        most ``limit``, each by its own model; expired summaries are purged first. Sessions in
        ``exclude`` are passed over; the ids of those whose model failed go into ``failed`` (a
        caller that looks again later skips them, so they do not block the others)."""
        from ai_workbench.chat.summaries import summarize_session

        say = notice or (lambda _text: None)
        await self.memory.purge_expired()
        if session_id is not None:  # another user's session is "not found"
            targets = [await self.store.get_session(session_id, owner=owner)]
        else:
            done = await self.memory.summarized_sessions(owner=owner)
            cutoff = time.time() - self.settings.memory.finished_after_minutes * 60
            targets = [
                s
                for s in await self.store.list_sessions(limit=200, owner=owner)
                if s.id not in done
                and s.id not in exclude
                and s.updated <= cutoff
                and s.message_count >= 2
            ][:limit]
        written: list[tuple[Session, str]] = []
        for session in targets:
            messages = await self.store.get_messages(session.id)
            if not any(m.role == "assistant" and m.content.strip() for m in messages):
                continue
            try:
                profile = self._profile_for(session.model, session.api_base)
                if profile is not None or not session.model:
                    chain = resolve_chain(self.settings, provider=profile)
                else:
                    chain = resolve_chain(
                        self.settings, model=session.model, api_base=session.api_base
                    )
                provider = chain[0]
                check_allowed(provider, self.settings, notice=say)
                text = await summarize_session(
                    provider, self.settings, messages, provider.context_window
                )
            except (ProviderError, InputError) as exc:
                say(f"could not summarise session {session.id[:8]}: {exc}")
                if failed is not None:
                    failed.append(session.id)
                continue
            if text:
                await self.memory.save_medium(session.id, text, owner=owner)
                written.append((session, text))
        return written

    async def run(
        self,
        turn: PreparedTurn,
        on_text: Callable[[str], None],
        notice: Notice | None = None,
        tools: Toolbox | None = None,
    ) -> AskResult:
        """Stream the answer, trying the chain in order; save as it streams.

        With ``tools`` (e.g. MCP tools, ``aiw ask --mcp``) the model may call them, at most
        ``mcp.max_tool_rounds`` rounds (core/llm/toolloop.py); the saved answer is its text."""
        say = notice or turn.notices.append
        settings = self.settings
        started = time.perf_counter()
        answer_id = await self.store.add_message(
            turn.session.id, "assistant", "", status="partial", model=turn.chain[0].model,
            provider=turn.chain[0].name,
        )  # fmt: skip
        result = StreamResult()
        last_error: ProviderError | None = None
        errors: list[ProviderError] = []  # one per provider that failed, in the order tried
        used: ResolvedProvider | None = None
        saver = AnswerSaver(self.store, answer_id, settings.chat.save_interval, say)
        cap = AnswerCap(settings.chat)
        citations: Any = None
        try:
            for index, provider in enumerate(turn.chain):
                result = StreamResult()
                used = provider
                try:
                    check_allowed(provider, settings, notice=say)
                    if index > 0:
                        await self.store.update_message(
                            answer_id, model=provider.model, provider=provider.name
                        )
                    options = {
                        **connection_options(settings, provider),
                        "temperature": turn.temperature
                        if turn.temperature is not None
                        else provider.temperature,
                        "max_tokens": settings.chat.max_output_tokens,
                        "notice": say,
                    }
                    if tools is None:
                        stream = stream_chat(provider, turn.messages, result, **options)
                    else:
                        stream = _with_tools_or_without(
                            provider, turn.messages, result, tools,
                            settings.mcp.max_tool_rounds, options,
                        )  # fmt: skip
                    try:
                        async for text in stream:
                            on_text(text)
                            saver.feed(result.text)
                            stop = cap.add(text, result.tokens_out)
                            if stop is not None:
                                raise ProviderError(
                                    "capped", f"{provider.label()}: {stop}",
                                    provider=provider.name, model=provider.model, partial=True,
                                )  # fmt: skip
                    finally:
                        await stream.aclose()
                    last_error = None
                    if result.truncated:  # complete stream, incomplete answer: say so
                        last_error = truncation_error(
                            provider, result, settings.chat.max_output_tokens
                        )
                    break
                except ProviderError as exc:
                    errors.append(exc)
                    last_error = exc
                    more = index + 1 < len(turn.chain)
                    if result.text or exc.kind not in FALL_THROUGH or not more:
                        if not result.text and exc.kind in FALL_THROUGH:
                            # Nothing answered: name every provider tried, with the first's code.
                            last_error = chain_failed(errors)
                        break
                    nxt = turn.chain[index + 1]
                    say(f"{exc}; trying {nxt.label()}")
            if last_error is None and turn.sources and result.text.strip() and used is not None:
                citations = await self._check_citations(turn, used, result, on_text, say)
        except asyncio.CancelledError:
            await asyncio.shield(
                self._finish(
                    answer_id, result, "partial", started, "interrupted", used or turn.chain[0],
                    saver, turn.session.id, patience=0,
                )
            )  # fmt: skip
            raise
        latency = int((time.perf_counter() - started) * 1000)
        status = "complete" if last_error is None else ("partial" if result.text else "error")
        cost, saved_to = await self._finish(
            answer_id, result, status, started, None if last_error is None else str(last_error),
            used or turn.chain[0], saver, turn.session.id,
            patience=settings.chat.save_retry_seconds,
        )  # fmt: skip
        try:
            session = await self.store.get_session(turn.session.id, owner=turn.session.owner)
        except StoreError:
            session = turn.session  # unreadable now: what we know is enough for the result
        return AskResult(
            session=session,
            created_session=turn.created_session,
            message_id=answer_id,
            text=result.text,
            status=status,
            provider=used,
            stream=result,
            latency_ms=latency,
            error=last_error,
            cost=cost,
            saved_to=saved_to,
            citations=citations,
        )

    async def _check_citations(
        self,
        turn: PreparedTurn,
        provider: ResolvedProvider,
        result: StreamResult,
        on_text: Callable[[str], None],
        say: Notice,
    ) -> Any:
        """Check a grounded answer's citations against the excerpts sent; when it cites none,
        ask the model once which it used. The verdict is appended to the answer (streamed
        like it, so the CLI prints it, the workbench shows it and the session stores it)."""
        from ai_workbench.knowledge.service import NOTE_SEPARATOR, check_citations, cite_request

        root = self.loaded.project_root
        check = check_citations(result.text, turn.sources, root)
        if not check.cited:
            say("the answer cites none of the excerpts it was given; asking which it used")
            follow = StreamResult()
            messages = [
                *turn.messages,
                {"role": "assistant", "content": result.text},
                {"role": "user", "content": cite_request(turn.sources)},
            ]
            try:
                await complete(
                    provider, messages, follow, self.settings, temperature=0.0, max_tokens=200
                )
                check = check_citations(follow.text, turn.sources, root)
            except ProviderError as exc:
                say(f"could not ask for the answer's sources: {exc}")
                check.ask_error = exc.kind.replace("_", " ")
            check.asked = True
            if follow.tokens_in is not None:
                result.tokens_in = (result.tokens_in or 0) + follow.tokens_in
            if follow.tokens_out is not None:
                result.tokens_out = (result.tokens_out or 0) + follow.tokens_out
        note = NOTE_SEPARATOR + check.note() + "\n"
        result.text += note
        on_text(note)
        return check

    async def _finish(
        self,
        answer_id: int,
        result: StreamResult,
        status: str,
        started: float,
        error: str | None,
        provider: ResolvedProvider,
        saver: AnswerSaver,
        session_id: str,
        *,
        patience: float,
    ) -> tuple[float | None, Path | None]:
        """The final save of the whole answer; (cost, recovery file if the save failed)."""
        from ai_workbench.core.context import estimate_tokens
        from ai_workbench.core.llm.costs import cost_of

        tokens_out = result.tokens_out
        if tokens_out is None and result.text:
            tokens_out = estimate_tokens(result.text)
        cost = await asyncio.to_thread(
            cost_of, provider.model, result.tokens_in, tokens_out, is_local=provider.is_local
        )
        latency_ms = int((time.perf_counter() - started) * 1000)

        async def save() -> None:
            await self.store.update_message(
                answer_id,
                content=result.text,
                status=status,
                tokens_in=result.tokens_in,
                tokens_out=tokens_out,
                latency_ms=latency_ms,
                error=error,
                cost=cost,
            )

        failed = await saver.finish(save, patience)
        if failed is None:
            return cost, None
        path = await asyncio.to_thread(
            write_recovery, session_id, answer_id, result.text, str(failed)
        )
        return cost, path


async def _with_tools_or_without(
    provider: ResolvedProvider,
    messages: list[dict[str, str]],
    result: StreamResult,
    tools: Toolbox,
    max_rounds: int,
    options: dict[str, Any],
) -> AsyncIterator[str]:
    """The answer with ``tools`` offered (core/llm/toolloop.py); a model whose server refuses
    tools before a word came back (Ollama: "... does not support tools") answers without
    them, and the notice says so: remember_fact is offered on every turn, and must not cost a
    model without tool support its answers."""
    from ai_workbench.core.llm.toolloop import stream_with_tools

    rounds: list[Any] = []
    stream = stream_with_tools(
        provider, messages, result, tools, max_rounds=max_rounds, rounds=rounds, **options
    )
    try:
        async for text in stream:
            yield text
        return
    except ProviderError as exc:
        if result.text or rounds or "tool" not in str(exc).lower():
            raise
        options["notice"](f"{provider.label()} does not take tools; answering without them")
    finally:
        await stream.aclose()
    async for text in stream_chat(provider, messages, result, **options):
        yield text


def _sent_sources(sections: Sequence[str]) -> list[Any]:
    """The knowledge excerpts (``path:start-end``) among the extra context sections."""
    if not sections:
        return []
    from ai_workbench.knowledge.service import sent_sources

    return [source for section in sections for source in sent_sources(section)]


def _title_from(prompt: str, files: Sequence[AttachedFile], stdin_text: str | None) -> str:
    for line in prompt.splitlines():
        if line.strip():
            title = " ".join(line.split())
            return title if len(title) <= 60 else title[:59].rstrip() + "…"
    if files:
        return "About " + ", ".join(f.display for f in files[:3])
    if stdin_text:
        return "About standard input"
    return "Untitled"
