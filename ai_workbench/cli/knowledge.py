"""`aiw index`, `aiw search` and `aiw kb like|dislike|status`: the project knowledge index.

The commands print; :class:`ai_workbench.knowledge.service.KnowledgeService` does the work
(the CLI never opens the index database or Chroma itself). ``grounding_for_ask`` is what
``aiw ask --kb`` calls to get the retrieved context or a clarifying question.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, guard, load_settings, open_store, run_async
from ai_workbench.core.errors import EXIT_INPUT, AiwError


def _service(loaded: Any, root: Path | None = None) -> Any:
    from ai_workbench.knowledge.service import KnowledgeService

    return KnowledgeService.for_project(loaded.settings.knowledge, root or loaded.project_root)


def _project_root(path: Path | None) -> Path | None:
    if path is None:
        return None
    path = path.resolve()
    if not path.is_dir():
        raise AiwError(f"{path}: not a directory (give the project folder to index)", EXIT_INPUT)
    return path


def _warn(message: str) -> None:
    click.echo(f"aiw: warning: {message}", err=True)


@click.command("index", context_settings=CONTEXT_SETTINGS)
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
@click.option("--no-embed", is_flag=True, help="Update the lexical index only (no vectors).")
@click.option("--no-wait", is_flag=True, help="Fail at once if another process writes the index.")
@click.pass_context
def index(
    ctx: click.Context, path: Path | None, as_json: bool, no_embed: bool, no_wait: bool
) -> None:
    """Index the project's code and documents for `aiw search` and `aiw ask --kb`.

    PATH defaults to the current repository's root. Re-running is incremental: unchanged files
    cost nothing, changed ones are replaced and deleted ones removed. .gitignore and
    knowledge.exclude are respected; binary and oversized files are skipped. Each run's report
    is printed and kept as JSON.
    """
    loaded = load_settings(ctx)

    def go() -> Any:
        service = _service(loaded, _project_root(path))
        try:
            return _run_index(service, no_embed, wait=not no_wait)
        finally:
            service.close()

    report = guard(go)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_report(report)
    if report.embedding_error:
        _warn(f"{report.embedding_error}")


def _run_index(service: Any, no_embed: bool, *, wait: bool = True) -> Any:
    def on_wait(holder: str) -> None:
        click.echo(f"aiw: waiting for the index of {service.root}: {holder} is writing it",
                   err=True)  # fmt: skip

    if not sys.stderr.isatty():
        return service.index(embed=not no_embed, wait=wait, on_wait=on_wait)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (
        TextColumn("indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[path]}", style="dim"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("index", total=None, path="")

        def progress(done: int, total: int, rel: str) -> None:
            bar.update(task, completed=done, total=total, path=rel[-50:])

        return service.index(progress=progress, embed=not no_embed, wait=wait, on_wait=on_wait)


def _print_report(report: Any) -> None:
    def out(line: str) -> None:
        click.echo(line, err=True)

    out(
        f"indexed {report.root}: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.deleted)} deleted, {report.unchanged} unchanged, "
        f"{len(report.skipped)} skipped, {len(report.failed)} failed "
        f"({report.chunks_total} chunks, {report.duration_s:.2f} s"
        + (
            f"; embedded {report.chunks_embedded} in {report.embedding_s:.2f} s "
            f"with {report.embedding_model})"
            if report.embedding_model
            else ")"
        )
    )
    for item in report.failed:
        out(f"  failed  {item['path']}: {item['reason']}")
    for item in report.skipped[:20]:
        out(f"  skipped {item['path']}: {item['reason']}")
    if len(report.skipped) > 20:
        out(f"  ... and {len(report.skipped) - 20} more skipped (see the report)")
    out(f"report: {report.report_path}")


@click.command("search", context_settings=CONTEXT_SETTINGS)
@click.argument("query", nargs=-1, required=True)
@click.option("-k", "--top", "k", type=click.IntRange(1, 100), help="How many results.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "lexical", "vector"]),
    default="hybrid",
    show_default=True,
    help="Retrieval: BM25 + vectors, or one of them.",
)
@click.option("--path", "root", type=click.Path(path_type=Path), help="Project root (default: .)")
@click.pass_context
def search(
    ctx: click.Context, query: tuple[str, ...], k: int | None, as_json: bool, mode: str,
    root: Path | None,
) -> None:  # fmt: skip
    """Search the project index: path:lines, score and snippet per result.

    Rate a result with `aiw kb like N` / `aiw kb dislike N -m "why"` (N is its number here);
    later searches for similar questions rank it up or down.
    """
    loaded = load_settings(ctx)
    text = " ".join(query)

    async def go() -> Any:
        service = _service(loaded, _project_root(root))
        store = await open_store()
        try:
            if service.lexical.counts()[1] == 0:
                raise AiwError(
                    f"the index of {service.root} is empty: run `aiw index` first", EXIT_INPUT
                )
            return await service.search(text, k, store=store, mode=mode)
        finally:
            await store.close()
            service.close()

    result = run_async(go)
    for notice in result.notices:
        _warn(notice)
    if as_json:
        payload = {
            "query": result.query,
            "mode": result.mode,
            "best": result.best,
            "threshold": result.threshold,
            "clarifying_question": result.clarifying_question,
            "results": [h.to_json() | {"rank": i} for i, h in enumerate(result.hits, 1)],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    if not result.hits:
        click.echo(f'no results for "{text}"', err=True)
        return
    for rank, hit in enumerate(result.hits, 1):
        title = f"  {hit.title}" if hit.title else ""
        click.echo(
            f"{rank:>2}. {hit.location}  score {hit.score:.3f}  match {hit.normalized:.2f}  "
            f"[{hit.uid[:8]}]{title}"
        )
        click.echo(f"    {hit.snippet()}")
        if hit.url:
            click.echo(f"    {hit.url}")
    question = result.clarifying_question
    if question:
        click.echo(f"\n{question}", err=True)


@click.group("kb", context_settings=CONTEXT_SETTINGS)
def kb() -> None:
    """Project knowledge: rate search results, show the index status."""


def _rate(ctx: click.Context, ref: str, rating: int, comment: str | None, query: str | None):
    loaded = load_settings(ctx)

    async def go() -> Any:
        service = _service(loaded)
        store = await open_store()
        try:
            asked = query or service.last_query()
            chunk = await service.rate(store, ref, rating, query=asked, comment=comment)
            return chunk, asked
        finally:
            await store.close()
            service.close()

    chunk, asked = run_async(go)
    verb = "liked" if rating > 0 else "disliked"
    about = f' for "{asked}"' if asked else ""
    click.echo(f"{verb} {chunk.location}{about}", err=True)


def _rating_command(name: str, query_help: str) -> Callable[[Callable[..., None]], click.Command]:
    """``kb like`` / ``kb dislike``: RESULT, ``-m COMMENT`` and ``-q QUERY`` (``query_help``)."""

    def decorate(func: Callable[..., None]) -> click.Command:
        func = click.pass_context(func)
        func = click.option("-q", "--query", help=query_help)(func)
        func = click.option(
            "-m", "--comment", help="Why (kept with the rating; secrets are redacted)."
        )(func)
        func = click.argument("ref", metavar="RESULT")(func)
        return kb.command(name, context_settings=CONTEXT_SETTINGS)(func)

    return decorate


@_rating_command("like", "The question it answers (default: the last search).")
def kb_like(ctx: click.Context, ref: str, comment: str | None, query: str | None) -> None:
    """Like RESULT (its number in the last `aiw search`, or its id): it rises for similar
    questions."""
    _rate(ctx, ref, 1, comment, query)


@_rating_command("dislike", "The question it did not answer (default: the last search).")
def kb_dislike(ctx: click.Context, ref: str, comment: str | None, query: str | None) -> None:
    """Dislike RESULT (its number in the last `aiw search`, or its id): it falls for similar
    questions."""
    _rate(ctx, ref, -1, comment, query)


@kb.command("status", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def kb_status(ctx: click.Context, as_json: bool) -> None:
    """Where the index is, how many files and chunks it holds, and the last run."""
    loaded = load_settings(ctx)

    def go() -> dict[str, Any]:
        service = _service(loaded)
        try:
            status = service.status()
            runs = service.reports()
            status["last_report"] = str(runs[-1]) if runs else None
            problem = service.vector_problem() if status["chunks"] else None
            status["vectors"] = problem or "available"
            return status
        finally:
            service.close()

    status = guard(go)
    if as_json:
        click.echo(json.dumps(status, indent=2))
    else:
        for key, value in status.items():
            click.echo(f"{key + ':':<17} {value}")


# --- used by `aiw ask --kb` ------------------------------------------------------------------


async def grounding_for_ask(
    loaded: Any, question: str, store: Any, **model_choice: str | None
) -> tuple[str | None, str | None]:
    """(system-context section, None) for a confident retrieval, else (None, clarifying question).

    ``model_choice`` (model, api_base, provider: the ask's flags) sizes the excerpts by how
    fast that model reads. Raises AiwError when the project has no index yet.
    """
    from ai_workbench.knowledge.service import excerpt_budget

    service = _service(loaded)
    try:
        budget = excerpt_budget(loaded.settings, **model_choice)
        grounding = await service.ground(question, store, budget_tokens=budget)
    finally:
        service.close()
    for notice in grounding.result.notices:
        _warn(notice)
    return grounding.section, grounding.question
