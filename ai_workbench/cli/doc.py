"""`aiw doc`: architecture documents (SRS, NFR, use cases, API, ADR, RFC, C4, UML) gathered in
dialogue, grounded in the project, checked, rendered, exported and rated (docs/documents.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, load_settings, open_store, run_async

DOC_TYPES = ("srs", "nfr", "usecases", "api", "adr", "rfc", "c4", "uml")
EXPORT_FORMATS = ("md", "docx", "pdf", "confluence", "svg")

EXAMPLES = """\b
Examples:
  aiw doc new adr "Move sessions to PostgreSQL" --kb
  aiw doc new api --no-questions -o docs/api.md
  aiw doc new nfr -f notes/requirements.md --session 3f2a
  aiw doc show 3                       # the document, diagrams drawn as text
  aiw doc export 3 --format docx       # also pdf, md (+ SVG files), confluence, svg
  aiw doc rate 3 - -m "Consequences need numbers" --section "Decision Outcome"
  aiw doc learnings                    # what ratings taught later documents
"""

DOC_EXIT_HELP = """\b
Exit codes:
  0   done
  2   bad usage, or a broken config file or value
  3   input refused: unknown type, template, document or section; an empty project index
      with --kb; a missing or binary -f file; an export path that exists (use --force);
      no renderer for a diagram to export as SVG
  4-12  the model provider failed (see `aiw --help`)
  15  the model returned no usable document, even after a retry (nothing saved)"""


def _say(line: str) -> None:
    from ai_workbench.core.sanitize import strip_controls

    click.echo(f"aiw: {strip_controls(line)}", err=True)


def _out(text: str) -> None:
    from ai_workbench.core.sanitize import strip_controls

    click.echo(strip_controls(text))


async def _service(ctx: click.Context | None = None, **cli: Any) -> Any:
    from ai_workbench.documents.service import DocumentService

    loaded = load_settings(ctx, **cli)
    store = await open_store()
    return DocumentService(loaded, store)


@click.group("doc", context_settings=CONTEXT_SETTINGS, epilog=EXAMPLES + "\n" + DOC_EXIT_HELP)
def doc() -> None:
    """Architecture documents: new, list, show, export, rate; templates, learnings, stats."""


def _ask_at_tty(questions: list[Any]) -> Any:
    async def ask(batch: list[Any]) -> dict[str, str]:
        click.echo(f"\n{len(batch)} question(s) — Enter takes the suggested answer:", err=True)
        answers = {}
        for q in batch:
            answers[q.key] = click.prompt(
                click.style(f"  {q.text}", bold=True), default=q.default, err=True
            )
        return answers

    return ask


@doc.command("new", context_settings=CONTEXT_SETTINGS, epilog=DOC_EXIT_HELP)
@click.argument("doc_type", metavar="TYPE")
@click.argument("title", required=False, default="")
@click.option("--kb", is_flag=True, help="Ground it in the project index (aiw index).")
@click.option(
    "-f", "--file", "files", multiple=True, metavar="FILE", help="Attach a file (repeatable)."
)
@click.option("--session", metavar="ID", help="Ground it in a chat session (id or prefix).")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Also export it here (by extension)."
)
@click.option("--force", is_flag=True, help="Replace an existing -o file.")
@click.option(
    "--no-questions", is_flag=True, help="Ask nothing: take the defaults, list them as assumptions."
)
@click.option("-t", "--template", help="Template id (aiw doc templates) instead of TYPE's own.")
@click.option(
    "--diagram", type=click.Choice(["mermaid", "plantuml", "d2"]), help="Diagram language."
)
@click.option("-a", "--answer", "answers", multiple=True, metavar="KEY=VALUE",
              help="Answer a template input up front (repeatable).")  # fmt: skip
@click.option("-m", "--model", help="Model (litellm name) or provider profile.")
@click.option("--api-base", metavar="URL", help="Endpoint for --model.")
@click.option("-P", "--provider", help="Provider profile from config.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def new(
    ctx: click.Context,
    doc_type: str,
    title: str,
    kb: bool,
    files: tuple[str, ...],
    session: str | None,
    output: Path | None,
    force: bool,
    no_questions: bool,
    template: str | None,
    diagram: str | None,
    answers: tuple[str, ...],
    model: str | None,
    api_base: str | None,
    provider: str | None,
    as_json: bool,
) -> None:
    """Generate a document of TYPE (srs, nfr, usecases, api, adr, rfc, c4, uml).

    What the project index (--kb), the attached files and the session do not answer is asked
    here, a few questions at a time, each with a suggested answer. With --no-questions, or
    without a terminal, the suggestions are taken and listed under "Assumptions".
    """
    from ai_workbench.core.errors import EXIT_USAGE

    given: dict[str, str] = {}
    for item in answers:
        if "=" not in item:
            from ai_workbench.cli.common import fail

            fail(f"--answer '{item}': expected KEY=VALUE (keys: aiw doc templates)", EXIT_USAGE)
        k, v = item.split("=", 1)
        given[k.strip()] = v.strip()
    interactive = sys.stdin.isatty() and not no_questions and not as_json
    fmt = _format_of(output) if output else None

    async def go() -> None:
        from ai_workbench.documents.service import NewOptions

        service = await _service(ctx)
        try:
            opts = NewOptions(
                doc_type=doc_type, title=title, template=template, kb=kb, files=list(files),
                session=session, model=model, api_base=api_base, provider=provider,
                diagram=diagram, answers=given, questions=interactive,
            )  # fmt: skip
            if not interactive and not no_questions and not as_json:
                _say("no terminal to ask on: taking the suggested answers (see Assumptions)")
            document = await service.new(
                opts, ask=_ask_at_tty([]) if interactive else None, progress=_say
            )
            exported = None
            if output is not None and fmt is not None:
                exported = await service.export(
                    document.id, fmt, output, force=force, confirm=_confirm if interactive else None
                )
            _report_new(document, exported, as_json)
        finally:
            await service.store.close()

    run_async(go)


def _format_of(path: Path) -> str:
    from ai_workbench.cli.common import fail
    from ai_workbench.core.errors import EXIT_USAGE

    ext = path.suffix.lower()
    formats = {".md": "md", ".docx": "docx", ".pdf": "pdf", ".xhtml": "confluence", ".svg": "svg"}
    if ext not in formats:
        fail(f"-o {path}: name a .md, .docx, .pdf, .xhtml or .svg file", EXIT_USAGE)
    return formats[ext]


def _confirm(path: Path) -> bool:
    return click.confirm(f"aiw: {path} exists. Replace it?", default=False, err=True)


def _report_new(document: Any, exported: Any, as_json: bool) -> None:
    import json

    meta = document.meta
    if as_json:
        data = _doc_json(document)
        if exported is not None:
            data["exported"] = [str(p) for p in exported.files]
        click.echo(json.dumps(data, indent=2))
        return
    checks = meta.get("checks") or {}
    status = "passed" if not checks.get("failed") else "FAILED: " + ", ".join(checks["failed"])
    retry = " (after one retry)" if checks.get("retried") else " (first try)"
    _out(f"#{document.id} {document.doc_type.upper()} “{document.title}” saved")
    _out(
        f"  template {document.template} v{document.template_version}; checks {status}"
        + (retry if not checks.get("failed") else "")
        + f"; {len(meta.get('assumptions') or [])} assumption(s); "
        f"{len(meta.get('sources') or [])} source(s); {meta.get('seconds', 0)} s"
    )
    for w in document.warnings:
        _out(f"  ⚠ {w}")
    if exported is not None:
        for p in exported.files:
            _out(f"  wrote {p}")
    _out(f"  aiw doc show {document.id} · aiw doc export {document.id} --format docx")


def _doc_json(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "type": d.doc_type,
        "template": d.template,
        "template_version": d.template_version,
        "title": d.title,
        "project": d.project,
        "created": d.created,
        "updated": d.updated,
        "meta": d.meta,
        "body": d.body,
    }


@doc.command("list", context_settings=CONTEXT_SETTINGS)
@click.option("--type", "doc_type", type=click.Choice(DOC_TYPES), help="Only this type.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(doc_type: str | None, as_json: bool) -> None:
    """The documents, newest first."""
    import json
    import time

    async def go() -> None:
        service = await _service()
        try:
            docs = await service.list(doc_type)
        finally:
            await service.store.close()
        if as_json:
            click.echo(
                json.dumps(
                    [{k: v for k, v in _doc_json(d).items() if k != "body"} for d in docs], indent=2
                )
            )
            return
        if not docs:
            _out('no documents yet: aiw doc new TYPE "title"')
            return
        for d in docs:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(d.updated))
            failed = (d.meta.get("checks") or {}).get("failed")
            mark = "⚠" if failed or d.warnings else "✓"
            _out(f"{d.id:>4}  {mark} {d.doc_type:<8} {when}  {d.title}")

    run_async(go)


@doc.command("show", context_settings=CONTEXT_SETTINGS)
@click.argument("doc_id", metavar="ID")
@click.option("--raw", is_flag=True, help="The Markdown source (diagrams as source).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (body and metadata).")
def show(doc_id: str, raw: bool, as_json: bool) -> None:
    """Show a document (Mermaid diagrams drawn as text, the rest as source)."""
    import json

    async def go() -> None:
        service = await _service()
        try:
            d = await service.get(doc_id)
        finally:
            await service.store.close()
        if as_json:
            click.echo(json.dumps(_doc_json(d), indent=2))
            return
        if raw:
            _out(d.body)
            return
        from ai_workbench.documents.preview import terminal_markdown

        _out(terminal_markdown(d.body))
        for w in d.warnings:
            _out(f"⚠ {w}")

    run_async(go)


@doc.command("export", context_settings=CONTEXT_SETTINGS, epilog=DOC_EXIT_HELP)
@click.argument("doc_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="File (or directory).")
@click.option("--force", is_flag=True, help="Replace existing files.")
def export(doc_id: str, fmt: str, output: Path | None, force: bool) -> None:
    """Export: md (+ SVG files beside it), docx, pdf, confluence (XHTML storage format), svg."""

    async def go() -> None:
        service = await _service()
        try:
            result = await service.export(
                doc_id, fmt, output, force=force, confirm=_confirm if sys.stdin.isatty() else None
            )
        finally:
            await service.store.close()
        for w in result.warnings:
            _say(f"warning: {w} (its source is kept in the document)")
        for p in result.files:
            _out(f"wrote {p}")

    run_async(go)


@doc.command("rate", context_settings=CONTEXT_SETTINGS)
@click.argument("doc_id", metavar="ID")
@click.argument("rating", type=click.Choice(["+", "-", "like", "dislike", "up", "down"]))
@click.option("-m", "--comment", help="What to keep or change: guides later documents.")
@click.option("--section", metavar="NAME", help="Rate one section, not the whole document.")
def rate(doc_id: str, rating: str, comment: str | None, section: str | None) -> None:
    """Like (+) or dislike (-) a document or one section, with an optional comment.

    A disliked comment becomes guidance every later document of the type follows; a liked
    section becomes an example for its template (aiw doc learnings).
    """
    value = 1 if rating in ("+", "like", "up") else -1

    async def go() -> None:
        service = await _service()
        try:
            stored, learning = await service.rate(doc_id, value, comment, section)
        finally:
            await service.store.close()
        what = f"section '{stored.section}'" if stored.section else "the document"
        _out(f"{'liked' if value > 0 else 'disliked'} {what} of #{stored.document_id} "
             f"(template {stored.template} v{stored.template_version})")  # fmt: skip
        if learning is not None:
            kind = "guidance" if learning.polarity < 0 else "example"
            _out(f"  learning {learning.id} ({kind}, {learning.hits} rating(s)): {learning.rule}")
        elif value < 0:
            _out("  add -m COMMENT to say what to change: later documents follow it")

    run_async(go)


@doc.command("regen", context_settings=CONTEXT_SETTINGS)
@click.argument("doc_id", metavar="ID")
@click.argument("section")
@click.option("-n", "--note", default="", help="What to change in it.")
@click.option("-m", "--model", help="Model (litellm name) or provider profile.")
@click.option("--api-base", metavar="URL", help="Endpoint for --model.")
@click.option("-P", "--provider", help="Provider profile from config.")
def regen(doc_id: str, section: str, note: str, model: str | None, api_base: str | None,
          provider: str | None) -> None:  # fmt: skip
    """Write one section of a document again (with the type's learnings and your note)."""

    async def go() -> None:
        from ai_workbench.documents.service import NewOptions

        service = await _service()
        try:
            d = await service.get(doc_id)
            opts = NewOptions(d.doc_type, model=model, api_base=api_base, provider=provider)
            d = await service.regenerate_section(d.id, section, note, opts, progress=_say)
        finally:
            await service.store.close()
        _out(f"#{d.id}: '{section}' rewritten")
        for w in d.warnings:
            _out(f"  ⚠ {w}")

    run_async(go)


@doc.command("delete", context_settings=CONTEXT_SETTINGS)
@click.argument("doc_id", metavar="ID")
def delete(doc_id: str) -> None:
    """Delete a document (its ratings too; learnings stay)."""

    async def go() -> None:
        service = await _service()
        try:
            d = await service.get(doc_id)
            await service.delete(d.id)
        finally:
            await service.store.close()
        _out(f"deleted #{d.id} “{d.title}”")

    run_async(go)


@doc.command("templates", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def templates(as_json: bool) -> None:
    """The templates (bundled, user, project), their sections, inputs and checks."""
    import json

    from ai_workbench.cli.common import guard

    def go() -> None:
        from ai_workbench.documents.templates import load_templates

        loaded = load_settings(None)
        items = sorted(load_templates(loaded.project_root).values(), key=lambda t: t.type)
        if as_json:
            click.echo(json.dumps([{
                "id": t.id, "type": t.type, "name": t.name, "version": t.version,
                "origin": t.origin, "source": str(t.source), "diagram": t.diagram,
                "sections": [s.name for s in t.sections], "inputs": [i.key for i in t.inputs],
                "checks": list(t.checks),
            } for t in items], indent=2))  # fmt: skip
            return
        for t in items:
            _out(f"{t.id:<10} {t.type:<8} v{t.version}  {t.name}  [{t.origin}]")
            _out(f"    sections: {', '.join(s.name for s in t.sections)}")
            _out(f"    inputs:   {', '.join(i.key for i in t.inputs) or '-'}")
            _out(
                f"    checks:   {', '.join(t.checks)}"
                + (f"; diagram: {t.diagram}" if t.diagram else "")
            )

    guard(go)


@doc.group("learnings", invoke_without_command=True, context_settings=CONTEXT_SETTINGS)
@click.option("--type", "doc_type", type=click.Choice(DOC_TYPES), help="Only this type.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def learnings(ctx: click.Context, doc_type: str | None, as_json: bool) -> None:
    """What ratings taught later documents: guidance (from disliked comments) and examples
    (liked sections). Edit, switch off or delete them below."""
    if ctx.invoked_subcommand is not None:
        return
    import json

    async def go() -> None:
        service = await _service()
        try:
            items = await service.learnings(doc_type)
        finally:
            await service.store.close()
        if as_json:
            click.echo(json.dumps([ln.__dict__ for ln in items], indent=2))
            return
        if not items:
            _out("no learnings yet: rate a document with aiw doc rate ID +|- -m COMMENT")
            return
        for ln in items:
            state = "" if ln.enabled else " (off)"
            where = f" · {ln.section}" if ln.section else ""
            _out(f"{ln.id:>4}  {ln.kind:<8} {ln.doc_type}{where} ×{ln.hits}{state}: {ln.rule}")

    run_async(go)


@learnings.command("edit", context_settings=CONTEXT_SETTINGS)
@click.argument("learning_id", type=int)
@click.option("--rule", help="New guidance text.")
@click.option("--section", help="The section it applies to ('' for the whole document).")
@click.option("--on/--off", "enabled", default=None, help="Switch it on or off.")
def learnings_edit(
    learning_id: int, rule: str | None, section: str | None, enabled: bool | None
) -> None:
    """Change a learning's text, section, or switch it on/off."""

    async def go() -> None:
        service = await _service()
        try:
            ln = await service.update_learning(
                learning_id, rule=rule, section=section, enabled=enabled
            )
        finally:
            await service.store.close()
        _out(f"learning {ln.id}: {'on' if ln.enabled else 'off'} · {ln.rule}")

    run_async(go)


@learnings.command("delete", context_settings=CONTEXT_SETTINGS)
@click.argument("learning_id", type=int)
def learnings_delete(learning_id: int) -> None:
    """Delete a learning."""

    async def go() -> None:
        service = await _service()
        try:
            await service.delete_learning(learning_id)
        finally:
            await service.store.close()
        _out(f"deleted learning {learning_id}")

    run_async(go)


@doc.command("stats", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(as_json: bool) -> None:
    """Ratings per template (and version) and type: which templates to refine first."""
    import json

    async def go() -> None:
        service = await _service()
        try:
            rows = await service.stats()
        finally:
            await service.store.close()
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            _out("no documents yet")
            return
        _out(
            f"{'type':<9} {'template':<12} {'ver':>3} {'docs':>5} {'likes':>6} {'dislikes':>9} {'score':>6}"  # noqa: E501
        )
        for r in sorted(
            rows, key=lambda r: (r["score"] if r["score"] is not None else 2, r["type"])
        ):
            score = "-" if r["score"] is None else f"{r['score']:+.2f}"
            _out(f"{r['type']:<9} {r['template']:<12} {r['version']:>3} {r['documents']:>5} "
                 f"{r['likes']:>6} {r['dislikes']:>9} {score:>6}")  # fmt: skip

    run_async(go)
