"""`aiw review`: AI code review of the working tree, the index or a range, as a CI gate too.

Exit codes (documented in `aiw review --help`): 0 no finding at the --fail-on level, 1 findings
at that level, 2 the review could not be done (bad flags, not a repository, provider down, a
model reply malformed twice...). Internal errors are 2 as well, never 1, so a CI gate cannot
take a crash for a finding.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, load_settings

EXIT_FINDINGS = 1
EXIT_TOOL = 2
FAIL_LEVELS = {
    "error": ("error",),
    "warning": ("error", "warning"),
    "info": ("error", "warning", "info"),
}

REVIEW_EXIT_HELP = """\b
Exit codes:
  0  no finding at the --fail-on level (or no --fail-on)
  1  findings at the --fail-on level
  2  the review could not be done: bad flags, not a git repository, provider error,
     a model reply malformed even after a retry (the report still lists the rest)"""

EXAMPLES = """\b
Examples:
  aiw review                              # uncommitted changes (and new files)
  aiw review --staged                     # what `git commit` would record
  aiw review --range origin/main..HEAD --format sarif --fail-on error > aiw.sarif
  aiw review -f src/app.py -f src/db.py   # those files (whole, if unchanged)
  aiw review learnings                    # what ratings taught it; edit / delete
"""


def _tool_error(message: str) -> None:
    from ai_workbench.core.sanitize import strip_controls

    click.echo(f"aiw: error: {strip_controls(message)}", err=True)
    sys.exit(EXIT_TOOL)


def _guarded(func: Any) -> Any:
    """Run ``func`` (sync, or async: run to completion); every failure is one line on stderr
    and exit 2 (never 1: see above)."""
    import asyncio
    import inspect
    import os

    from ai_workbench.core.errors import AiwError
    from ai_workbench.core.settings import ConfigError

    try:
        value = func() if callable(func) else func
        return asyncio.run(value) if inspect.iscoroutine(value) else value
    except (ConfigError, AiwError) as exc:
        _tool_error(str(exc))
    except KeyboardInterrupt:
        click.echo("aiw: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("AIW_DEBUG"):
            raise
        _tool_error(
            f"internal error: {type(exc).__name__}: {exc} (a bug; run with AIW_DEBUG=1 for the "
            "traceback and please report it)"
        )
    return None


def _check_output(output: Path) -> None:
    """Refuse an -o path that cannot be written, with one line and exit 2."""
    import os

    parent = output.parent if str(output.parent) else Path(".")
    if output.is_dir():
        _tool_error(f"-o {output}: is a directory; name a file to write the report to")
    if not parent.is_dir():
        _tool_error(
            f"-o {output}: the directory {parent} does not exist; create it (mkdir -p "
            f"{parent}) or write the report elsewhere"
        )
    if not os.access(parent, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
        _tool_error(f"-o {output}: not writable; choose another path")


def _notice(quiet: bool) -> Any:
    def say(line: str) -> None:
        if not quiet:
            click.echo(f"aiw: {line}", err=True)

    return say


@click.group(
    "review",
    invoke_without_command=True,
    context_settings=CONTEXT_SETTINGS,
    epilog=EXAMPLES + "\n" + REVIEW_EXIT_HELP,
)
@click.option("--staged", is_flag=True, help="Review the staged changes (the index).")
@click.option("--range", "rev_range", metavar="A..B", help="Review the commits in A..B (or A...B).")
@click.option(
    "-f",
    "--files",
    "files",
    multiple=True,
    metavar="PATH",
    help="Review these files' changes (whole file when unchanged); repeatable.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "md", "sarif", "codeclimate"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info"]),
    help="Exit 1 when a shown finding is at least this severe.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file instead of stdout (table: plain text, no colour).",
)
@click.option("-m", "--model", help="Model (litellm name) or provider profile.")
@click.option("--api-base", metavar="URL", help="Endpoint for --model.")
@click.option("-P", "--provider", help="Provider profile from config.")
@click.option("-p", "--persona", help="Reviewer persona (default: review.persona, core/CA-1).")
@click.option("--no-learning", is_flag=True, help="Ignore what earlier ratings taught.")
@click.option("--show-held", is_flag=True, help="Also list held-back findings, with the reason.")
@click.option("--max-per-file", type=click.IntRange(1, 50), help="Findings shown per file.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), help="Hold back findings below.")
@click.option("--no-suggestions", is_flag=True, help="Do not add findings to the workbench queue.")
@click.option("--offline", is_flag=True, default=None, help="Refuse providers off this machine.")
@click.option("-v", "--verbose", is_flag=True, help="Table: print each explanation too.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or notices on stderr.")
@click.pass_context
def review(
    ctx: click.Context,
    staged: bool,
    rev_range: str | None,
    files: tuple[str, ...],
    fmt: str,
    fail_on: str | None,
    output: Path | None,
    model: str | None,
    api_base: str | None,
    provider: str | None,
    persona: str | None,
    no_learning: bool,
    show_held: bool,
    max_per_file: int | None,
    min_confidence: float | None,
    no_suggestions: bool,
    offline: bool | None,
    verbose: bool,
    quiet: bool,
) -> None:
    """Review changes with a model: findings on added lines, with fixes, as a CI gate.

    Findings are placed on added lines only (moved or discarded otherwise, and counted),
    at most a few per file; low-confidence findings and ones like those you disliked are held
    back and counted (--show-held lists them). Every run is stored; rate findings in the
    workbench or with `aiw review rate`.
    """
    if ctx.invoked_subcommand is not None:
        return
    if sum(bool(x) for x in (staged, rev_range, files)) > 1:
        _tool_error("use only one of --staged, --range and --files")
    if api_base and not model and not provider:
        _tool_error("--api-base needs --model (the model's name on that server)")
    if output is not None:
        _check_output(output)  # before any model call: a typo must not cost a whole review
    try:
        loaded = load_settings(ctx, offline=offline or None)
    except SystemExit:
        sys.exit(EXIT_TOOL)
    say = _notice(quiet)

    from ai_workbench.review import ReviewOptions

    opts = ReviewOptions(
        staged=staged,
        rev_range=rev_range,
        files=list(files) or None,
        model=model,
        api_base=api_base,
        provider=provider,
        persona=persona,
        learning=not no_learning,
        max_per_file=max_per_file,
        min_confidence=min_confidence,
        queue_suggestions=not no_suggestions,
    )

    async def go() -> Any:
        from ai_workbench.review import ReviewService
        from ai_workbench.store import Store

        store = await Store.open()
        try:
            return await ReviewService(loaded, store).review(opts, progress=say)
        finally:
            await store.close()

    result = _guarded(go)
    for line in result.notices:
        say(line)
    for line in result.errors:
        click.echo(f"aiw: warning: {line}", err=True)

    def report() -> None:
        from ai_workbench.review.formats import print_table, render, render_table

        if fmt == "table" and output is None:
            print_table(result, include_held=show_held, verbose=verbose)
            return
        if fmt == "table":
            text = render_table(result, include_held=show_held, verbose=verbose)
        else:
            text = render(result, fmt, include_held=show_held)
        if output is None:
            click.echo(text, nl=False)
            return
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise AiwError(f"-o {output}: cannot write the report: {exc.strerror or exc}") from None
        say(f"wrote {output}")

    from ai_workbench.core.errors import AiwError

    _guarded(report)
    if (fmt != "table" or output is not None) and not quiet:
        from ai_workbench.review.formats import summary_line

        say(summary_line(result))
    if result.errors:
        sys.exit(EXIT_TOOL)
    if fail_on and any(f.severity in FAIL_LEVELS[fail_on] for f in result.shown):
        sys.exit(EXIT_FINDINGS)


# --- rating from the command line --------------------------------------------------------


@review.command("rate", context_settings=CONTEXT_SETTINGS)
@click.argument("finding_id", type=int)
@click.argument("rating", type=click.Choice(["like", "dislike", "clear"]))
@click.option("-m", "--comment", help="Why (becomes the rule text of a new learning).")
def review_rate(finding_id: int, rating: str, comment: str | None) -> None:
    """Like or dislike a finding by id (ids: `--format json`); later reviews learn from it."""
    loaded = load_settings()

    async def go() -> str:
        from ai_workbench.review import ReviewService
        from ai_workbench.store import Store

        store = await Store.open()
        try:
            service = ReviewService(loaded, store)
            if rating == "clear":
                await service.unrate(finding_id)
                return f"rating of finding {finding_id} removed"
            learning = await service.rate(finding_id, 1 if rating == "like" else -1, comment)
            return (
                f"finding {finding_id} {rating}d; learning #{learning.id} ({learning.kind}, "
                f"{len(learning.examples)} example(s)): {learning.rule}"
            )
        finally:
            await store.close()

    click.echo(_guarded(go), err=True)


# --- learnings ---------------------------------------------------------------------------


@review.group("learnings", invoke_without_command=True, context_settings=CONTEXT_SETTINGS)
@click.option("--all", "all_repos", is_flag=True, help="Every repository, not just this one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def learnings(ctx: click.Context, all_repos: bool, as_json: bool) -> None:
    """What ratings taught the reviewer in this repository (list; edit and delete below).

    An `avoid` learning holds back new findings resembling at least review.min_dislikes of
    its examples (never error findings); `prefer` learnings are shown to the model as
    examples of what the team values.
    """
    if ctx.invoked_subcommand is not None:
        return
    _list_learnings(all_repos, as_json)


@learnings.command("list", context_settings=CONTEXT_SETTINGS)
@click.option("--all", "all_repos", is_flag=True, help="Every repository, not just this one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def learnings_list(all_repos: bool, as_json: bool) -> None:
    """List the learnings with their examples."""
    _list_learnings(all_repos, as_json)


def _repo_here() -> str | None:
    from ai_workbench.review.diff import GitError, repo_root

    try:
        return str(repo_root(Path.cwd()))
    except GitError:
        return None


def _list_learnings(all_repos: bool, as_json: bool) -> None:
    import json

    loaded = load_settings()
    repo = None if all_repos else _repo_here()
    if not all_repos and repo is None:
        _tool_error("not inside a git repository; use --all to list every repository's learnings")

    async def go() -> Any:
        from ai_workbench.review import ReviewService
        from ai_workbench.store import Store

        store = await Store.open()
        try:
            return await ReviewService(loaded, store).learnings(repo)
        finally:
            await store.close()

    items = _guarded(go)
    if as_json:
        rows = [
            {
                "id": i.id,
                "repo": i.repo,
                "kind": i.kind,
                "category": i.category,
                "path_glob": i.path_glob,
                "rule": i.rule,
                "enabled": i.enabled,
                "examples": [e.__dict__ for e in i.examples],
            }
            for i in items
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not items:
        click.echo("No learnings yet: rate findings (workbench, or `aiw review rate ID dislike`).")
        return
    from ai_workbench.cli.output import print_table

    print_table(
        ["id", "kind", "category", "paths", "examples", "on", "rule"],
        [
            (
                i.id,
                i.kind,
                i.category,
                i.path_glob,
                len(i.examples),
                "yes" if i.enabled else "no",
                i.rule,
            )
            for i in items
        ],
    )


@learnings.command("edit", context_settings=CONTEXT_SETTINGS)
@click.argument("learning_id", type=int)
@click.option("--rule", help="New rule text (sent to the model; shown in lists).")
@click.option("--category", help="A category (bug, security, ...) or '*' for any.")
@click.option("--paths", "path_glob", help="Glob of files it applies to, e.g. 'tests/**'.")
@click.option("--enable/--disable", default=None, help="Turn it on or off without deleting it.")
def learnings_edit(
    learning_id: int,
    rule: str | None,
    category: str | None,
    path_glob: str | None,
    enable: bool | None,
) -> None:
    """Change a learning's rule text, category, file glob or on/off state.

    With no option, opens the rule text in $EDITOR.
    """
    from ai_workbench.review.models import CATEGORIES

    if category is not None and category not in (*CATEGORIES, "*"):
        _tool_error(f"--category: expected one of {', '.join(CATEGORIES)} or '*'")
    loaded = load_settings()

    async def current() -> Any:
        from ai_workbench.review import ReviewService
        from ai_workbench.store import Store

        store = await Store.open()
        try:
            return await ReviewService(loaded, store).reviews.get_learning(learning_id)
        finally:
            await store.close()

    changes: dict[str, Any] = {}
    if rule is None and category is None and path_glob is None and enable is None:
        existing = _guarded(current)
        edited = click.edit(existing.rule + "\n")
        if edited is None or not edited.strip() or edited.strip() == existing.rule:
            click.echo("unchanged", err=True)
            return
        changes["rule"] = edited.strip()
    if rule is not None:
        if not rule.strip():
            _tool_error("--rule must not be empty")
        changes["rule"] = rule.strip()
    if category is not None:
        changes["category"] = category
    if path_glob is not None:
        changes["path_glob"] = path_glob.strip() or "**"
    if enable is not None:
        changes["enabled"] = enable

    async def go() -> Any:
        from ai_workbench.review import ReviewService
        from ai_workbench.store import Store

        store = await Store.open()
        try:
            return await ReviewService(loaded, store).update_learning(learning_id, **changes)
        finally:
            await store.close()

    item = _guarded(go)
    state = "on" if item.enabled else "off"
    click.echo(
        f"learning #{item.id} ({item.kind}, {item.category}, {item.path_glob}, {state}): "
        f"{item.rule}",
        err=True,
    )


@learnings.command("delete", context_settings=CONTEXT_SETTINGS)
@click.argument("learning_ids", type=int, nargs=-1, required=True)
def learnings_delete(learning_ids: tuple[int, ...]) -> None:
    """Delete learnings (the ratings stay; they no longer affect reviews)."""
    loaded = load_settings()

    async def go() -> None:
        from ai_workbench.review import ReviewService
        from ai_workbench.store import Store

        store = await Store.open()
        try:
            service = ReviewService(loaded, store)
            for learning_id in learning_ids:
                await service.delete_learning(learning_id)
                click.echo(f"deleted learning #{learning_id}", err=True)
        finally:
            await store.close()

    _guarded(go)
