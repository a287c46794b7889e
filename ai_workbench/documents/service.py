"""The documents service: from a type and a title to a checked, rendered, stored document.

template ▶ excerpts (project index, attached files, session, code scans) ▶ the inputs they do
not answer become questions (asked through a callback, a few at a time, or their defaults
taken and listed as assumptions) ▶ the model writes the Markdown (guidance from disliked
comments, liked sections as examples) ▶ the template's checks (one retry with the failures) ▶
each diagram rendered offline (one retry with the renderer's error, else kept with a warning)
▶ the assembled document stored with its template and version.

No terminal and no Textual here: the CLI and the workbench screen both call this.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ai_workbench.core.db import Database
from ai_workbench.core.errors import (
    EXIT_NO_DOCUMENT,
    FALL_THROUGH,
    AiwError,
    InputError,
    ProviderError,
)
from ai_workbench.core.redact import redact_text
from ai_workbench.core.settings import LoadedConfig
from ai_workbench.documents import prompts
from ai_workbench.documents.checks import CheckResult, failing_sections, failures, run_checks
from ai_workbench.documents.markdown import close_fences, diagrams, parse, strip_outer_fence
from ai_workbench.documents.sources import Answer, Source, SourceSet, windows
from ai_workbench.documents.storage import Document, DocumentStore, Learning, Rating
from ai_workbench.documents.templates import (
    DIAGRAM_LANGUAGES,
    Template,
    find_template,
    load_templates,
)

Progress = Callable[[str], None]
MAX_FILE_BYTES = 200_000
SIMILARITY = 0.45
INTERRUPTED_RETRIES = 2


class DocumentError(AiwError):
    """The model returned no usable document (after its retry); nothing is stored."""

    exit_code = EXIT_NO_DOCUMENT


@dataclass(frozen=True)
class Question:
    key: str
    text: str
    default: str
    section: str = ""


Ask = Callable[[list[Question]], Awaitable[dict[str, str]]]


@dataclass
class NewOptions:
    doc_type: str
    title: str = ""
    template: str | None = None
    kb: bool = False
    files: list[str] = field(default_factory=list)
    session: str | None = None
    model: str | None = None
    api_base: str | None = None
    provider: str | None = None
    diagram: str | None = None
    answers: dict[str, str] = field(default_factory=dict)
    questions: bool = True  # False: take every default (--no-questions, headless)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (name, text) sent, not read


@dataclass
class Plan:
    """What is known before the model is asked: the template, the excerpts, the answers found
    in them and the questions left for the user."""

    template: Template
    title: str
    diagram: str
    sources: SourceSet
    facts: str
    answers: dict[str, Answer]
    questions: list[Question]
    openapi: str = ""  # YAML of the spec built from the code (api documents)
    notices: list[str] = field(default_factory=list)


@dataclass
class Pending:
    """A step of the dialogue with questions left (:meth:`DocumentService.dialogue`): the next
    round to answer, and how many come after it. Nothing is stored, no model was called."""

    plan: Plan
    questions: list[Question]
    remaining: int


@dataclass
class Ready:
    """Every question answered (or its suggestion taken): what :meth:`DocumentService.write`
    needs."""

    plan: Plan
    answers: dict[str, Answer]
    opts: NewOptions


class DocumentService:
    """``owner``'s documents, ratings and learnings (another user's are "no document N").

    ``root`` is the project the documents describe (default: the settings' project, else the
    current directory); ``knowledge`` an object with ``status()`` and ``search()`` like the
    knowledge service (the server shares its own), made for the project when not given."""

    def __init__(
        self,
        loaded: LoadedConfig,
        store: Database,
        owner: str = "local",
        *,
        root: Path | None = None,
        knowledge: Any = None,
    ) -> None:
        self.loaded = loaded
        self.settings = loaded.settings
        self.cfg = loaded.settings.documents
        self.store = store
        self.docs = DocumentStore(store, owner)
        self.owner = owner
        self.project_root: Path | None = root or loaded.project_root
        self.root = self.project_root or Path.cwd()
        self._shared_knowledge = knowledge

    # ------------------------------------------------------------------ templates

    def templates(self) -> list[Template]:
        return sorted(load_templates(self.project_root).values(), key=lambda t: (t.type, t.id))

    def template(self, doc_type: str, name: str | None = None) -> Template:
        return find_template(self.project_root, doc_type, name)

    # ------------------------------------------------------------------ planning

    async def plan(self, opts: NewOptions, progress: Progress | None = None) -> Plan:
        template = self.template(opts.doc_type, opts.template)
        title = (opts.title or "").strip() or f"{template.name} of {self.root.name}"
        diagram = opts.diagram if opts.diagram is not None else template.diagram
        if diagram and diagram not in DIAGRAM_LANGUAGES:
            raise InputError(f"--diagram: '{diagram}' is not one of {', '.join(DIAGRAM_LANGUAGES)}")
        sources = SourceSet()
        notices: list[str] = []
        pools: dict[str, list[Source]] = {"file": [], "session": [], "kb": []}
        for name in opts.files:
            pools["file"].extend(self._file_sources(name))
        for name, text in opts.texts:
            pools["file"].extend(self._text_sources(name, text))
        if opts.session:
            pools["session"].extend(await self._session_sources(opts.session))
        facts, openapi = "", ""
        if template.type == "api":
            facts, openapi, code = self._api_facts(title, opts.answers.get("base_url", ""))
            sources.extend(code)
        elif template.type == "c4":
            facts, code = self._c4_facts(title, diagram or "mermaid")
            sources.extend(code)
        for pool in ("file", "session"):
            sources.extend(pools[pool])
        knowledge = None
        if opts.kb:
            knowledge = self._knowledge()
            if progress:
                progress("searching the project index")
            queries = [title] + [i.query_for(title) for i in template.inputs if i.query]
            for query in dict.fromkeys(q for q in queries if q.strip()):
                result = await knowledge.search(
                    query, store=self.store, owner=self.owner, remember=self.owner == "local"
                )
                # context, not an answer: any hit with evidence (the best few); whether it
                # answers an input is decided below by how much of the input's query it covers
                for hit in result.hits[: 3 if result.confident else 2]:
                    if hit.normalized > 0:
                        src = Source(hit.location, redact_text(hit.text), "kb")
                        pools["kb"].append(sources.add(src))
        answers: dict[str, Answer] = {}
        questions: list[Question] = []
        for item in template.inputs:
            given = opts.answers.get(item.key)
            if given is not None:
                answers[item.key] = Answer(item.key, given, "given")
                continue
            found = None
            if item.query and not item.front_matter:
                pool = pools["kb"] + pools["file"] + pools["session"]
                found = sources.best_for(item.query_for(title), pool)
            if found is not None:
                answers[item.key] = Answer(
                    item.key, f"see [{found.label}] ({found.location})", "source", [found.label]
                )
                continue
            questions.append(
                Question(item.key, item.question, item.default_for(title), item.section)
            )
        return Plan(template, title, diagram, sources, facts, answers, questions, openapi, notices)

    def _knowledge(self) -> Any:
        from ai_workbench.knowledge.service import KnowledgeService

        service = self._shared_knowledge or KnowledgeService.for_project(
            self.settings.knowledge, self.root
        )
        if service.status()["chunks"] == 0:
            raise InputError(
                f"--kb: the project index of {self.root} is empty: run `aiw index` first "
                "(or leave out --kb)"
            )
        return service

    def _file_sources(self, name: str) -> list[Source]:
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = Path.cwd() / path
        if not path.is_file():
            raise InputError(f"-f {name}: no such file")
        data = path.read_bytes()
        if len(data) > MAX_FILE_BYTES:
            raise InputError(
                f"-f {name}: {len(data)} bytes is more than {MAX_FILE_BYTES}; attach a smaller extract"  # noqa: E501
            )
        if b"\0" in data[:8192]:
            raise InputError(f"-f {name}: a binary file; attach text (Markdown, code, notes)")
        try:
            rel = path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            rel = str(path)
        return windows(rel, data.decode("utf-8", errors="replace"), "file")

    @staticmethod
    def _text_sources(name: str, text: str) -> list[Source]:
        """An attachment sent as text (the HTTP API: the server reads no client's path)."""
        label = name.strip() or "attachment"
        if len(text.encode()) > MAX_FILE_BYTES:
            raise InputError(
                f"attachment {label}: more than {MAX_FILE_BYTES} bytes; send a smaller extract"
            )
        if "\0" in text:
            raise InputError(f"attachment {label}: binary data; send text (Markdown, code, notes)")
        return windows(label, redact_text(text), "file")

    async def _session_sources(self, session: str) -> list[Source]:
        from ai_workbench.chat.service import session_transcript

        sid, text = await session_transcript(self.store, session, owner=self.owner)
        return windows(f"session {sid[:8]}", text, "session")

    def _api_facts(self, title: str, base_url: str) -> tuple[str, str, list[Source]]:
        from ai_workbench.documents.openapi import build_spec, scan, to_yaml

        routes, commands = scan(self.root)
        spec = build_spec(title, routes, base_url)
        code = [
            Source(
                r.location, f"{r.method.upper()} {r.path} -> {r.function}() {r.doc}".strip(), "code"
            )
            for r in routes
        ]
        if routes:
            listing = "\n".join(
                f"- {r.method.upper()} {r.path} ({r.function}, {r.location}) {r.doc}".rstrip()
                for r in routes
            )
            facts = f"Routes found in the code (describe exactly these):\n{listing}"
        else:
            facts = "No HTTP routes were found in the code: say so in Endpoints."
        if commands:
            facts += "\n\nCLI commands found in the code:\n" + "\n".join(
                f"- {c.name} ({c.rel}:{c.line}) {c.doc}".rstrip() for c in commands[:20]
            )
        return facts, to_yaml(spec), code

    def _c4_facts(self, title: str, lang: str) -> tuple[str, list[Source]]:
        from ai_workbench.documents.repo import c4_skeleton, containers

        items = containers(self.root)
        code = [
            Source(c.source, f"{c.label}: {c.technology} ({c.description})", "code") for c in items
        ]
        if not items:
            return (
                "The repository shows no services or dependency files: ask nothing, draw what the answers say.",  # noqa: E501
                code,
            )
        skeleton = c4_skeleton(title, items, lang)
        listing = "\n".join(f"- {c.label} [{c.technology}] from {c.source}" for c in items)
        return (
            f"Containers the repository shows:\n{listing}\n\nStart from this diagram; keep every "
            f"container and its technology, add people, relations and missing parts:\n"
            f"```{prompts.FENCE_WORD[lang]}\n{skeleton}\n```"
        ), code

    # ------------------------------------------------------------------ generation

    async def new(
        self, opts: NewOptions, ask: Ask | None = None, progress: Progress | None = None
    ) -> Document:
        """Plan, ask (``ask`` is called with a few questions at a time; ``None`` or
        ``opts.questions=False`` takes the defaults), generate, check, render, store."""
        plan = await self.plan(opts, progress)
        answers = await self.ask_all(plan, ask if opts.questions else None)
        return await self.generate(plan, answers, opts, progress)

    async def dialogue(self, opts: NewOptions, progress: Progress | None = None) -> Pending | Ready:
        """One step of the dialogue for a client that cannot be called back (the HTTP API).

        ``opts.answers`` holds every answer so far; a blank one takes that question's
        suggestion (listed under Assumptions, as with ``--no-questions``). While questions are
        left unanswered and ``opts.questions`` is set, the next round of them
        (``documents.questions_per_round``) comes back as :class:`Pending` — no model call,
        nothing stored; the client sends them answered with the others. Otherwise
        :class:`Ready`: :meth:`write` makes the document."""
        given = {k: redact_text(v).strip() for k, v in opts.answers.items()}
        blank = {k for k, v in given.items() if not v}
        planned = NewOptions(**{**opts.__dict__, "answers": {k: v for k, v in given.items() if v}})
        plan = await self.plan(planned, progress)
        left = [q for q in plan.questions if q.key not in blank]
        per_round = max(1, self.cfg.questions_per_round)
        if opts.questions and left:
            return Pending(plan, left[:per_round], max(0, len(left) - per_round))
        return Ready(plan, await self.ask_all(plan, None), planned)

    async def write(self, ready: Ready, progress: Progress | None = None) -> Document:
        """Generate, check, render and store the document :meth:`dialogue` got ready."""
        return await self.generate(ready.plan, ready.answers, ready.opts, progress)

    async def ask_all(self, plan: Plan, ask: Ask | None) -> dict[str, Answer]:
        answers = dict(plan.answers)
        per_round = self.cfg.questions_per_round
        for start in range(0, len(plan.questions), per_round):
            batch = plan.questions[start : start + per_round]
            replies = await ask(batch) if ask is not None else {}
            for q in batch:
                value = (replies.get(q.key) or "").strip()
                if value:
                    answers[q.key] = Answer(q.key, redact_text(value), "user")
                else:
                    answers[q.key] = Answer(q.key, q.default, "default")
        return answers

    async def generate(
        self,
        plan: Plan,
        answers: dict[str, Answer],
        opts: NewOptions,
        progress: Progress | None = None,
    ) -> Document:
        template = plan.template
        started = time.perf_counter()
        learnings = await self._learnings_for(template)
        ordered = [answers[i.key] for i in template.inputs if i.key in answers]
        messages = [
            {
                "role": "system",
                "content": prompts.system_prompt(template, learnings, bool(plan.sources.items)),
            },
            {
                "role": "user",
                "content": prompts.user_prompt(
                    template, plan.title, ordered, plan.sources, plan.facts, plan.diagram
                ),
            },
        ]
        stats: dict[str, Any] = {"calls": 0}
        if progress:
            progress(
                f"writing the {template.type.upper()} (template {template.id} v{template.version})"
            )
        reply = await self._call(messages, opts, stats)
        alone = await self._write_alone(plan, messages, reply, opts, stats, progress)
        reply = close_fences(reply) + alone
        body = self._assemble(plan, answers, reply)
        first = run_checks(parse(body), template)
        first_failures = failures(first)
        usable = self._usable(reply, template)
        retried = False
        targets = failing_sections(first, template) if usable and first_failures else None
        if targets:
            # the retry rewrites only the failing sections (a missing diagram is asked for
            # alone): a small model repeats a whole document unchanged, but fixes one part
            retried = True
            if progress:
                progress(
                    f"checks failed ({len(first_failures)}): asking the model again for "
                    + ", ".join(targets)
                )
            fixed = await self._fix_sections(plan, body, targets, messages, opts, stats)
            fixed_results = run_checks(parse(fixed), template)
            if len(failures(fixed_results)) <= len(first_failures):
                body, results = fixed, fixed_results
            else:
                results = first
        elif first_failures or not usable:
            retried = True
            if progress:
                progress(f"checks failed ({len(first_failures)}): asking the model once more")
            problems = first_failures or ["the reply has none of the required headings"]
            retry_messages = [
                *messages,
                {"role": "assistant", "content": reply},
                {"role": "user", "content": prompts.retry_prompt(problems)},
            ]
            second = close_fences(await self._call(retry_messages, opts, stats)) + alone
            second_body = self._assemble(plan, answers, second)
            second_results = run_checks(parse(second_body), template)
            if self._usable(second, template) and (
                len(failures(second_results)) <= len(first_failures) or not usable
            ):
                reply, body, results = second, second_body, second_results
            else:
                results = first
            usable = self._usable(reply, template)
        else:
            results = first
        if not usable:
            raise DocumentError(
                f"the model returned no usable {template.type.upper()} (none of the sections "
                f"{', '.join(s.name for s in template.sections[:3])}… after a retry); nothing "
                "was saved: try a larger model (--model) or a shorter title"
            )
        body, diagram_log = await self._render_diagrams(body, messages, opts, stats, progress)
        results = run_checks(parse(body), template)
        body, dropped = _drop_unknown_citations(body, {s.label for s in plan.sources.items})
        plan.sources.mark_cited(body)
        body = self._with_appendices(body, plan, answers)
        warnings = [f"check {f}" for f in failures(results)]
        warnings += [
            f"diagram {d['index']} ({d['lang']}) did not render: {d['error']}"
            for d in diagram_log
            if not d["ok"]
        ]
        meta = {
            "answers": [a.__dict__ for a in answers.values()],
            "assumptions": [
                {"key": a.key, "question": self._question_text(template, a.key), "value": a.value}
                for a in answers.values()
                if a.how == "default"
            ],
            "sources": [s.__dict__ for s in plan.sources.items],
            "checks": {
                "first_try": [r.check for r in first if not r.passed],
                "first_try_passed": not first_failures,
                "first_try_failures": first_failures,
                "retried": retried,
                "failed": [r.check for r in results if not r.passed],
                "failures": failures(results),
            },
            "diagrams": diagram_log,
            "dropped_citations": dropped,
            "diagram_language": plan.diagram,
            "warnings": warnings,
            "model": stats.get("model", ""),
            "calls": stats["calls"],
            "seconds": round(time.perf_counter() - started, 2),
            "questions": len(plan.questions),
        }
        doc = Document(
            0, template.type, template.id, template.version, plan.title, str(self.root),
            body, meta, owner=self.owner,
        )  # fmt: skip
        return await self.docs.add(doc)

    async def _write_alone(
        self,
        plan: Plan,
        messages: list[dict[str, str]],
        reply: str,
        opts: NewOptions,
        stats: dict[str, Any],
        progress: Progress | None,
    ) -> str:
        """The sections the template writes in calls of their own, as '## Name' parts to add
        to the reply (a small model runs out of tokens or attention on one long document)."""
        out = ""
        for section in plan.template.sections:
            if not section.alone:
                continue
            if progress:
                progress(f"writing '{section.name}'")
            convo = [
                *messages,
                {"role": "assistant", "content": reply},
                {
                    "role": "user",
                    "content": prompts.alone_prompt(
                        plan.template, section.name, plan.diagram, plan.facts
                    ),
                },
            ]
            text = _section_reply(await self._call(convo, opts, stats), plan.template, section.name)
            if text:
                out += f"\n\n## {section.name}\n\n{text}\n"
        return out

    async def _fix_sections(
        self,
        plan: Plan,
        body: str,
        targets: dict[str, list[str]],
        messages: list[dict[str, str]],
        opts: NewOptions,
        stats: dict[str, Any],
    ) -> str:
        """One call per failing section: the section written again with its failures, its
        guidance and its shape; a diagram that is only missing is asked for alone and added
        to its section. The conversation so far is kept so the model sees its document."""
        template = plan.template
        for name, problems in targets.items():
            only_diagram = all(p.startswith("[diagram]") for p in problems)
            if only_diagram and plan.diagram:
                ask = prompts.diagram_only_prompt(template, plan.diagram)
            else:
                ask = prompts.section_fix_prompt(template, name, problems, plan.diagram)
            convo = [
                *messages,
                {"role": "assistant", "content": body},
                {"role": "user", "content": ask},
            ]
            try:
                reply = await self._call(convo, opts, stats)
            except ProviderError:
                continue  # the section stays as it was; its failures are reported
            current = parse(body).section(name) or ""
            if only_diagram and plan.diagram:
                found = diagrams(reply)
                if not found:
                    continue
                block = found[0]
                fence = prompts.FENCE_WORD.get(block.diagram or "", block.lang)
                new = f"{current.strip()}\n\n```{fence}\n{block.text.strip()}\n```".strip()
            else:
                new = _section_reply(reply, template, name)
                if not new:
                    continue
            body = _replace_section(body, name, new)
        return body

    @staticmethod
    def _question_text(template: Template, key: str) -> str:
        return next((i.question for i in template.inputs if i.key == key), key)

    @staticmethod
    def _usable(reply: str, template: Template) -> bool:
        doc = parse(strip_outer_fence(reply))
        hits = sum(1 for s in template.sections if (doc.section(s.name) or "").strip())
        return hits >= max(1, (len(template.sections) + 1) // 2)

    def _assemble(self, plan: Plan, answers: dict[str, Answer], reply: str) -> str:
        """The document: front matter, title, the template's sections in order (the model's
        text, or a TODO), any extra sections the model wrote, the OpenAPI spec for APIs."""
        template = plan.template
        parsed = parse(strip_outer_fence(reply))
        out: list[str] = []
        if template.front_matter:
            values = {
                i.front_matter: answers[i.key].value
                for i in template.inputs
                if i.front_matter and i.key in answers
            }
            values.setdefault("date", _dt.date.today().isoformat())
            lines = (
                ["---"] + [f"{k}: {values.get(k, '')}" for k in template.front_matter] + ["---", ""]
            )
            out.extend(lines)
        out.append(f"# {plan.title}\n")
        used: set[str] = set()
        chosen: dict[str, str] = {}
        # exact headings (the name or an alias) first, then the fuzzy ones: "Non-Functional
        # Requirements" must not be taken for "Functional Requirements"
        for exact in (True, False):
            for section in template.sections:
                if section.name in chosen:
                    continue
                for heading in parsed.sections:
                    if heading in used:
                        continue
                    names = {n.lower() for n in (section.name, *section.aliases)}
                    if heading.lower() in names if exact else section.matches(heading):
                        chosen[section.name] = heading
                        used.add(heading)
                        break
        for section in template.sections:
            body = close_fences(parsed.sections.get(chosen.get(section.name, "\0"), ""))
            out.append(f"## {section.name}\n")
            out.append(body.strip() + "\n" if body.strip() else "")
        skip = {"assumptions", "sources", "openapi"}
        for heading, text in parsed.sections.items():
            if heading not in used and heading.lower() not in skip and text.strip():
                out.append(f"## {heading}\n\n{text.strip()}\n")
        if plan.openapi:
            out.append(
                f"## OpenAPI\n\nBuilt from the routes in the code (validated, OpenAPI 3.1).\n\n```yaml\n{plan.openapi.rstrip()}\n```\n"  # noqa: E501
            )
        return "\n".join(out).rstrip() + "\n"

    def _with_appendices(self, body: str, plan: Plan, answers: dict[str, Answer]) -> str:
        assumed = [a for a in answers.values() if a.how == "default"]
        parts = [body.rstrip()]
        if assumed:
            parts.append(
                "## Assumptions\n\nNo one answered these questions; the document assumes:\n\n"
                + "\n".join(
                    f"- {self._question_text(plan.template, a.key)} — *assumed:* {a.value}"
                    for a in assumed
                )
            )
        appendix = plan.sources.appendix()
        if appendix:
            parts.append("## Sources\n\n" + appendix)
        return "\n\n".join(parts) + "\n"

    async def _render_diagrams(
        self,
        body: str,
        messages: list[dict[str, str]],
        opts: NewOptions,
        stats: dict[str, Any],
        progress: Progress | None,
    ) -> tuple[str, list[dict[str, Any]]]:
        from ai_workbench.documents.render import RenderError, render_svg

        log: list[dict[str, Any]] = []
        lines = body.split("\n")
        # work from the last block up, so earlier line numbers stay right
        found = diagrams(body)
        for index, block in reversed(list(enumerate(found, 1))):
            lang = block.diagram or ""
            source = block.text
            entry: dict[str, Any] = {
                "index": index,
                "lang": lang,
                "ok": False,
                "retried": False,
                "error": "",
                "renderer": "",
                "seconds": 0.0,
            }
            try:
                rendered = await asyncio.to_thread(
                    render_svg, lang, source, timeout=self.cfg.render_timeout
                )
                entry.update(
                    ok=True, renderer=rendered.renderer, seconds=round(rendered.seconds, 3)
                )
            except RenderError as exc:
                if progress:
                    progress(f"diagram {index} ({lang}) did not render: asking the model to fix it")
                entry["retried"] = True
                fix_messages = [
                    *messages,
                    {"role": "user", "content": prompts.diagram_fix_prompt(lang, source, str(exc))},
                ]
                fixed = None
                try:
                    reply = await self._call(fix_messages, opts, stats)
                    candidates = [b for b in diagrams(reply) if b.diagram == lang] or [
                        b for b in diagrams(reply)
                    ]
                    fixed = candidates[0].text if candidates else None
                except ProviderError:
                    fixed = None
                error = str(exc)
                if fixed:
                    try:
                        rendered = await asyncio.to_thread(
                            render_svg, lang, fixed, timeout=self.cfg.render_timeout
                        )
                        entry.update(
                            ok=True, renderer=rendered.renderer, seconds=round(rendered.seconds, 3)
                        )
                        source = fixed
                    except RenderError as again:
                        error = str(again)
                        source = fixed if len(fixed) > 10 else source
                if not entry["ok"]:
                    entry["error"] = error
            fence = "```" + (prompts.FENCE_WORD.get(lang, lang))
            new_block = [fence, *source.split("\n"), "```"]
            if not entry["ok"]:
                new_block = [
                    f"> ⚠ **This diagram did not render** ({entry['error']}); its {lang} source "
                    "is kept below.",
                    "",
                    *new_block,
                ]
            lines[block.start : block.end + 1] = new_block
            log.append(entry)
        log.reverse()
        return "\n".join(lines), log

    async def _learnings_for(self, template: Template) -> list[Learning]:
        items = await self.docs.learnings(template.type)
        return [ln for ln in items if ln.enabled]

    def _chain(self, opts: NewOptions) -> list[Any]:
        from ai_workbench.core.llm.profiles import resolve_chain

        model = opts.model or (self.cfg.model or None)
        provider = opts.provider or (self.cfg.provider or None)
        return resolve_chain(self.settings, model=model, api_base=opts.api_base, provider=provider)

    async def _call(self, messages: list[dict[str, str]], opts: Any, stats: dict[str, Any]) -> str:
        from ai_workbench.core.errors import chain_failed
        from ai_workbench.core.llm.engines import StreamResult, complete
        from ai_workbench.core.llm.profiles import check_allowed
        from ai_workbench.core.redact import redact

        safe = [dict(m, content=redact(m["content"]).text) for m in messages]
        errors: list[ProviderError] = []
        queue = list(self._chain(opts))
        interruptions = 0
        while queue:
            provider = queue.pop(0)
            result = StreamResult()
            try:
                check_allowed(provider, self.settings)
                stats["calls"] = stats.get("calls", 0) + 1
                await complete(
                    provider,
                    safe,
                    result,
                    self.settings,
                    wait_first_token=True,
                    temperature=self.cfg.temperature,
                    max_tokens=self.cfg.max_tokens,
                )
            except ProviderError as exc:
                if exc.kind == "interrupted" and interruptions < INTERRUPTED_RETRIES:
                    interruptions += 1
                    queue.insert(0, provider)
                    await asyncio.sleep(interruptions)
                    continue
                errors.append(exc)
                if exc.kind in FALL_THROUGH:
                    continue
                raise
            stats["model"] = provider.model
            stats["tokens_out"] = stats.get("tokens_out", 0) + (result.tokens_out or 0)
            return result.text
        raise chain_failed(errors)

    # ------------------------------------------------------------------ sections

    async def regenerate_section(
        self,
        doc_id: int | str,
        section: str,
        note: str = "",
        opts: NewOptions | None = None,
        progress: Progress | None = None,
    ) -> Document:
        """Write one section again (with the reader's note and the type's learnings)."""
        doc = await self.docs.get(doc_id)
        template = self.template(doc.doc_type, doc.template)
        parsed = parse(doc.body)
        name = next((h for h in parsed.sections if h.lower() == section.strip().lower()), None)
        if name is None:
            name = next((h for h in parsed.sections if section.strip().lower() in h.lower()), None)
        if name is None:
            raise InputError(
                f"document {doc.id} has no section '{section}' (its sections: {', '.join(parsed.sections)})"  # noqa: E501
            )
        opts = opts or NewOptions(doc.doc_type)
        learnings = await self._learnings_for(template)
        messages = [
            {"role": "system", "content": prompts.system_prompt(template, learnings)},
            {"role": "user", "content": prompts.section_prompt(template, doc.body, name, note)},
        ]
        stats: dict[str, Any] = {"calls": 0}
        if progress:
            progress(f"rewriting '{name}'")
        reply = strip_outer_fence(await self._call(messages, opts, stats)).strip()
        reply = re.sub(rf"^#+\s*{re.escape(name)}\s*\n", "", reply, flags=re.I).strip()
        if not reply:
            raise DocumentError(
                f"the model returned an empty '{name}' section; the document is unchanged"
            )
        body = _replace_section(doc.body, name, reply)
        body, log = await self._render_diagrams(body, messages, opts, stats, progress)
        results = run_checks(parse(body), template)
        doc.body = body
        doc.meta.setdefault("regenerated", []).append({"section": name, "at": time.time()})
        doc.meta["checks"] = dict(
            doc.meta.get("checks") or {},
            failed=[r.check for r in results if not r.passed],
            failures=failures(results),
        )
        doc.meta["warnings"] = [f"check {f}" for f in failures(results)] + [
            f"diagram ({d['lang']}) did not render: {d['error']}" for d in log if not d["ok"]
        ]
        return await self.docs.update(doc)

    # ------------------------------------------------------------------ reading

    async def list(self, doc_type: str | None = None, limit: int = 200) -> list[Document]:
        return await self.docs.list(doc_type, limit)

    async def get(self, doc_id: int | str) -> Document:
        return await self.docs.get(doc_id)

    async def delete(self, doc_id: int | str) -> bool:
        doc = await self.docs.get(doc_id)
        return await self.docs.delete(doc.id)

    def check(self, doc: Document) -> list[CheckResult]:
        return run_checks(parse(doc.body), self.template(doc.doc_type, doc.template))

    # ------------------------------------------------------------------ feedback

    async def rate(
        self, doc_id: int | str, rating: int, comment: str | None = None, section: str | None = None
    ) -> tuple[Rating, Learning | None]:
        """Rate a document or one of its sections; a disliked comment becomes guidance for the
        next document of the type (merged into a similar one), a liked section an example."""
        from ai_workbench.core.feedback import FeedbackService

        if rating not in (1, -1):
            raise InputError("rating must be + (like) or - (dislike)")
        doc = await self.docs.get(doc_id)
        name = ""
        text = ""
        if section:
            parsed = parse(doc.body)
            name = next((h for h in parsed.sections if h.lower() == section.strip().lower()), "")
            if not name:
                name = next(
                    (h for h in parsed.sections if section.strip().lower() in h.lower()), ""
                )
            if not name:
                raise InputError(
                    f"document {doc.id} has no section '{section}' (its sections: {', '.join(parsed.sections)})"  # noqa: E501
                )
            text = parsed.sections[name]
        clean = redact_text(comment).strip() if comment else None
        stored = await self.docs.rate(doc, name, rating, clean or None)
        await FeedbackService(self.store).rate(
            "document", f"{doc.id}#{name}" if name else str(doc.id), rating, clean, owner=self.owner
        )
        learning = await self._learn(doc, name, rating, clean, text, stored.id)
        return stored, learning

    async def _learn(
        self,
        doc: Document,
        section: str,
        rating: int,
        comment: str | None,
        text: str,
        rating_id: int,
    ) -> Learning | None:
        if rating < 0:
            if not comment:
                return None
            for ln in await self.docs.learnings(doc.doc_type):
                if (
                    ln.polarity < 0
                    and ln.section in ("", section)
                    and similarity(ln.rule, comment) >= SIMILARITY
                ):
                    return await self.docs.bump_learning(ln.id)
            return await self.docs.add_learning(doc, section, -1, comment, "", rating_id)
        if not section or not text.strip():
            return None
        label = comment or f"liked '{section}' of “{doc.title}”"
        return await self.docs.add_learning(doc, section, 1, label, text.strip()[:4000], rating_id)

    async def learnings(self, doc_type: str | None = None) -> list[Learning]:
        return await self.docs.learnings(doc_type)

    async def update_learning(self, learning_id: int, **changes: Any) -> Learning:
        return await self.docs.update_learning(learning_id, **changes)

    async def delete_learning(self, learning_id: int) -> None:
        await self.docs.delete_learning(learning_id)

    async def ratings(self, doc_id: int) -> list[Rating]:
        return await self.docs.ratings(doc_id)

    async def stats(self) -> list[dict[str, Any]]:
        return await self.docs.stats()

    # ------------------------------------------------------------------ export

    async def export_files(
        self, doc_id: int | str, fmt: str, *, inline: bool = False
    ) -> tuple[Document, dict[str, bytes], list[str]]:
        """The document and the files its export is made of, by name (the main one last),
        without writing any; ``inline`` puts a Markdown export's SVGs inside it."""
        from ai_workbench.documents.export import build_export, default_path

        doc = await self.docs.get(doc_id)
        files, warnings = await asyncio.to_thread(
            build_export, doc, fmt, Path(default_path(doc, fmt).name),
            timeout=self.cfg.render_timeout, inline=inline,
        )  # fmt: skip
        return doc, {path.name: data for path, data in files.items()}, warnings

    async def export(
        self,
        doc_id: int | str,
        fmt: str,
        out: Path | None = None,
        *,
        force: bool = False,
        confirm: Callable[[Path], bool] | None = None,
    ) -> Any:
        from ai_workbench.documents.export import export_document

        doc = await self.docs.get(doc_id)
        return await asyncio.to_thread(
            export_document, doc, fmt, out, force=force, confirm=confirm,
            timeout=self.cfg.render_timeout,
        )  # fmt: skip


def _replace_section(body: str, name: str, new: str) -> str:
    lines = body.split("\n")
    start = next(
        (i for i, ln in enumerate(lines) if re.match(rf"^##\s+{re.escape(name)}\s*$", ln)), None
    )
    if start is None:
        return body.rstrip() + f"\n\n## {name}\n\n{new}\n"
    from ai_workbench.documents.markdown import blocks

    fenced: set[int] = set()
    for b in blocks(body):
        fenced.update(range(b.start, b.end + 1))
    end = len(lines)
    for i in range(start + 1, len(lines)):
        if i not in fenced and re.match(r"^##\s+\S", lines[i]) and not lines[i].startswith("###"):
            end = i
            break
    return "\n".join([*lines[: start + 1], "", new.strip(), "", *lines[end:]])


def _drop_unknown_citations(body: str, labels: set[str]) -> tuple[str, list[str]]:
    """Remove citations of excerpts that do not exist ([S7] with six excerpts, or any with
    none): a small model writes them as decoration, and they would point a reader nowhere.
    Code blocks are left alone."""
    from ai_workbench.documents.markdown import blocks

    lines = body.split("\n")
    fenced: set[int] = set()
    for b in blocks(body):
        fenced.update(range(b.start, b.end + 1))
    dropped: list[str] = []

    def sub(m: re.Match[str]) -> str:
        if m.group(1) in labels:
            return m.group(0)
        dropped.append(m.group(1))
        return ""

    for i, line in enumerate(lines):
        if i not in fenced:
            lines[i] = re.sub(r" ?\[(S\d+)\]", sub, line)
    return "\n".join(lines), sorted(set(dropped), key=lambda x: int(x[1:]))


def _section_reply(reply: str, template: Template, name: str) -> str:
    """The new body of section ``name`` from a reply that should hold only that body; a model
    that wrote headings anyway (its own, or the whole document) gives the matching part."""
    text = strip_outer_fence(reply).strip()
    parsed = parse(text)
    if parsed.sections:
        spec = template.section(name)
        for heading, part in parsed.sections.items():
            if spec is not None and spec.matches(heading):
                return part.strip()
        return parsed.preamble.strip()
    lines = text.split("\n")
    if lines and re.match(rf"^#+\s*{re.escape(name)}\s*$", lines[0], re.I):
        lines = lines[1:]
    return "\n".join(lines).strip()


def similarity(a: str, b: str) -> float:
    """Cosine similarity of the two texts' content words (0..1), as review learnings use."""
    import math
    from collections import Counter

    from ai_workbench.documents.sources import _STOP, _WORD

    def bag(t: str) -> Counter[str]:
        return Counter(w.lower() for w in _WORD.findall(t) if w.lower() not in _STOP and len(w) > 2)

    ta, tb = bag(a), bag(b)
    if not ta or not tb:
        return 0.0
    dot = sum(ta[w] * tb[w] for w in ta.keys() & tb.keys())
    norm = math.sqrt(sum(v * v for v in ta.values())) * math.sqrt(sum(v * v for v in tb.values()))
    return dot / norm if norm else 0.0


__all__ = [
    "Ask",
    "Document",
    "DocumentError",
    "DocumentService",
    "Learning",
    "NewOptions",
    "Pending",
    "Plan",
    "Question",
    "Rating",
    "Ready",
]
