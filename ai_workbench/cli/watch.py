"""``aiw watch`` (headless file-watch suggestions) and ``aiw suggestions`` (act on the queue).

``aiw watch`` runs the same :class:`~ai_workbench.watch.WatchService` the workbench runs and
prints each suggestion as it is queued; ``aiw suggestions list | show | apply | dismiss`` acts on
the queue from any terminal, so the flow works without the workbench.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, fail, load_settings, open_store, run_async


def _print_suggestion(item: Any) -> None:
    """One queued suggestion on stdout: the title, then the answer or the patch summary."""
    from ai_workbench.core.sanitize import strip_controls

    payload = item.payload or {}
    click.echo(f"#{item.id} {item.kind} · {strip_controls(item.title)}")
    if payload.get("patch"):
        from ai_workbench.watch.diffs import diff_stats

        files, added, removed = diff_stats(payload["patch"])
        names = ", ".join(payload.get("expect") or {}) or f"{files} file(s)"
        click.echo(
            f"    patch: {names} (+{added} -{removed}) · aiw suggestions show {item.id} · "
            f"apply {item.id} · dismiss {item.id}"
        )
    else:
        text = strip_controls(str(payload.get("text") or item.body)).strip()
        for line in text.splitlines() or [""]:
            click.echo(textwrap.indent(line, "    ") if line.strip() else "")
        click.echo(f"    (aiw suggestions dismiss {item.id})")
    sys.stdout.flush()


def _print_event(event: Any) -> None:
    if event.kind == "suggested":
        if event.suggestion is not None and event.suggestion.kind != "watch":
            _print_suggestion(event.suggestion)  # review findings (queued by the review service)
        return
    if event.kind == "stopped":
        return
    from ai_workbench.core.sanitize import strip_controls

    prefix = "aiw: error: " if event.kind == "error" else "aiw: "
    click.echo(prefix + strip_controls(event.message), err=True)


def _watch_root(path: Path | None, project_root: Path) -> Path:
    """The folder to watch: a git repository or a folder with .aiw.toml, never just the cwd.

    Watching a folder that is not a project (say, $HOME) would read and watch every file
    under it; the workbench refuses too.
    """
    from ai_workbench.core.errors import EXIT_USAGE
    from ai_workbench.core.paths import find_project_config

    root = (path or project_root).resolve()
    if (root / ".git").exists() or (root / ".aiw.toml").is_file():
        return root
    if path is None:
        config = find_project_config(root)
        if config is not None:
            return config.parent.resolve()
    fail(
        f"{root} is not a project (no .git or .aiw.toml there), and watching it would watch "
        "every file under it; cd into a project (a git repository), or create an empty "
        f".aiw.toml in {root} to watch that folder",
        EXIT_USAGE,
    )
    raise AssertionError("unreachable")


@click.command(
    "watch",
    context_settings=CONTEXT_SETTINGS,
    epilog="\b\nExamples:\n"
    "  aiw watch                       # watch the project, print suggestions as they come\n"
    "  aiw watch --now                 # answer pending AI comments once, then exit\n"
    "  aiw watch -m openai/NAME --api-base http://127.0.0.1:8080/v1\n"
    "\b\nIn your code (any language's comment syntax):\n"
    "  # make this retry on timeouts AI!      -> a patch (aiw suggestions apply ID)\n"
    "  // why is this O(n^2)? AI?             -> an answer",
)
@click.argument(
    "path", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option("--now", is_flag=True, help="Process every pending AI comment once, then exit.")
@click.option("-m", "--model", help="Model (litellm name) or provider profile for the requests.")
@click.option("--api-base", metavar="URL", help="Endpoint for --model (OpenAI-compatible URL).")
@click.option("-P", "--provider", help="Provider profile from config ([providers.NAME]).")
@click.pass_context
def watch(
    ctx: click.Context,
    path: Path | None,
    now: bool,
    model: str | None,
    api_base: str | None,
    provider: str | None,
) -> None:
    """Watch the project and turn saved AI! / AI? comments into suggestions.

    A comment ending with AI! asks for a change (a patch you apply with `aiw suggestions
    apply ID`), one ending with AI? asks a question (the answer is printed). Respects
    .gitignore; at most watch.max_calls_per_minute model calls. Ctrl-C stops.
    """
    if api_base and not model and not provider:
        raise click.UsageError("--api-base needs --model (the model's name on that server)")
    loaded = load_settings(ctx)
    root = _watch_root(path, loaded.project_root)

    async def go() -> int:
        import asyncio
        import contextlib
        import signal

        from ai_workbench.suggestions.service import SuggestionQueue
        from ai_workbench.watch import WatchService

        store = await open_store()
        service: WatchService | None = None
        try:
            queue = SuggestionQueue(store)
            queue.subscribe(_print_suggestion)
            service = WatchService(
                root,
                loaded.settings,
                queue,
                model=model,
                api_base=api_base,
                provider=provider,
                on_event=_print_event,
                loaded=loaded,
            )
            if now:
                count = await service.process_pending_now()
                if not count:
                    click.echo(f"aiw: no new AI comments in {root}", err=True)
                    return 0
                return _now_summary(service.processed, root)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
                    loop.add_signal_handler(sig, stop.set)
            await service.start()
            click.echo(
                "aiw: Ctrl-C stops; suggestions stay queued (aiw suggestions list)", err=True
            )
            await stop.wait()
            return 0
        finally:
            if service is not None:
                await service.stop()
            await store.close()

    sys.exit(run_async(go))


def _now_summary(jobs: list[Any], root: Path) -> int:
    """Say how the requests of ``aiw watch --now`` ended; the exit code.

    0 when none failed; when some did, the first failure's exit code (a provider error's: 9
    for a server that cannot be reached...), else 1.
    """
    from ai_workbench.core.errors import EXIT_INTERNAL, AiwError

    failed = [job for job in jobs if job.outcome == "failed" or job.outcome is None]
    no_patch = [job for job in jobs if job.outcome == "no_patch"]
    suggested = len(jobs) - len(failed) - len(no_patch)
    parts = [f"{suggested} suggested"]
    if no_patch:
        parts.append(f"{len(no_patch)} without a usable patch")
    if failed:
        parts.append(f"{len(failed)} failed")
    line = f"{len(jobs)} AI comment request(s) processed in {root}: " + ", ".join(parts)
    if not failed:
        click.echo(f"aiw: {line}", err=True)
        return 0
    if len(failed) == len(jobs):
        line = f"every request failed ({line})"
    click.echo(f"aiw: error: {line}", err=True)
    first = next((job.error for job in failed if isinstance(job.error, AiwError)), None)
    return first.exit_code if first is not None else EXIT_INTERNAL


# --- suggestions -------------------------------------------------------------------------------


@click.group("suggestions", context_settings=CONTEXT_SETTINGS)
def suggestions() -> None:
    """List, show, apply and dismiss what aiw suggested (watch, review, shell)."""


@suggestions.command("list", context_settings=CONTEXT_SETTINGS)
@click.option("-a", "--all", "show_all", is_flag=True, help="Include applied and dismissed ones.")
@click.option("-k", "--kind", help="Only this kind (watch, review, shell, ...).")
@click.option("-l", "--limit", type=int, default=50, show_default=True, help="How many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def suggestions_list(show_all: bool, kind: str | None, limit: int, as_json: bool) -> None:
    """Open suggestions, newest first."""
    from ai_workbench.cli.output import print_table
    from ai_workbench.suggestions.service import SuggestionQueue

    async def go() -> None:
        store = await open_store()
        try:
            queue = SuggestionQueue(store)
            items = await queue.list(
                statuses=None if show_all else ("new", "seen"), kind=kind, limit=limit
            )
        finally:
            await store.close()
        if as_json:
            click.echo(json.dumps([_as_dict(item) for item in items], indent=2))
            return
        if not items:
            click.echo(
                "no suggestions" + ("" if show_all else " open (--all for every one)"), err=True
            )
            return
        rows = [
            (
                item.id,
                item.kind,
                item.status,
                ", ".join(a.id for a in item.actions),
                _project_label(item),
                item.title,
            )
            for item in items
        ]
        print_table(["id", "kind", "status", "actions", "project", "title"], rows)

    run_async(go)


def _project_label(item: Any) -> str:
    """The suggestion's project root, with the home directory as ``~`` (``-``: none)."""
    from ai_workbench.watch.apply import project_of

    root = project_of(item)
    if not root:
        return "-"
    home = str(Path.home())
    if root == home or root.startswith(home.rstrip("/") + "/"):
        return "~" + root[len(home.rstrip("/")) :]
    return root


def _as_dict(item: Any) -> dict[str, Any]:
    from ai_workbench.watch.apply import project_of

    return {
        "id": item.id,
        "kind": item.kind,
        "status": item.status,
        "project": project_of(item),
        "title": item.title,
        "body": item.body,
        "actions": [a.id for a in item.actions],
        "source": item.source,
        "payload": item.payload,
        "created": item.created,
        "updated": item.updated,
    }


@suggestions.command("show", context_settings=CONTEXT_SETTINGS)
@click.argument("suggestion_id", metavar="ID", type=int)
@click.option("--patch", "patch_only", is_flag=True, help="Print only the patch (for `git apply`).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def suggestions_show(suggestion_id: int, patch_only: bool, as_json: bool) -> None:
    """Print a suggestion: title, status, body and its patch."""
    from ai_workbench.cli.output import print_markdown
    from ai_workbench.suggestions.service import SuggestionQueue

    async def go() -> None:
        store = await open_store()
        try:
            item = await SuggestionQueue(store).get(suggestion_id)
        finally:
            await store.close()
        payload = item.payload or {}
        if as_json:
            click.echo(json.dumps(_as_dict(item), indent=2))
            return
        if patch_only:
            from ai_workbench.watch.apply import patch_of

            _, patch, _ = patch_of(item)
            click.echo(patch, nl=not patch.endswith("\n"))
            return
        actions = ", ".join(a.id for a in item.actions) or "none"
        text = (
            f"# #{item.id} {item.title}\n\n{item.kind} · {item.status} · "
            f"{item.source or 'no source'} · actions: {actions}\n\n"
            f"project: `{_project_label(item)}`\n\n{item.body}"
        )
        patch = payload.get("patch")
        if patch and patch.strip() not in item.body:
            text += f"\n\n```diff\n{patch}```\n"
        print_markdown(text)

    run_async(go)


@suggestions.command("apply", context_settings=CONTEXT_SETTINGS)
@click.argument("suggestion_id", metavar="ID", type=int)
@click.option("--check", "check_only", is_flag=True, help="Only check that it applies.")
@click.option(
    "--any-project",
    is_flag=True,
    help="Apply it even though it belongs to another project than the current directory's.",
)
def suggestions_apply(suggestion_id: int, check_only: bool, any_project: bool) -> None:
    """Apply a suggestion's patch (checked first; refused if a file changed since).

    The queue is shared by every project: a suggestion for another project than the one you
    are in is refused (exit 3) unless --any-project is given.
    """
    from ai_workbench.suggestions.service import SuggestionQueue
    from ai_workbench.watch.apply import apply_suggestion

    async def go() -> None:
        store = await open_store()
        try:
            result = await apply_suggestion(
                SuggestionQueue(store),
                suggestion_id,
                check_only=check_only,
                here=None if any_project else Path.cwd(),
            )
        finally:
            await store.close()
        if check_only:
            click.echo(
                f"suggestion {suggestion_id} applies cleanly to {', '.join(result)}", err=True
            )
        else:
            click.echo(f"applied suggestion {suggestion_id}: {', '.join(result.paths)}", err=True)

    run_async(go)


@suggestions.command("dismiss", context_settings=CONTEXT_SETTINGS)
@click.argument("suggestion_ids", metavar="ID...", type=int, nargs=-1, required=True)
def suggestions_dismiss(suggestion_ids: tuple[int, ...]) -> None:
    """Dismiss suggestions; they do not come back for the same content."""
    from ai_workbench.suggestions.service import SuggestionQueue

    async def go() -> None:
        store = await open_store()
        try:
            queue = SuggestionQueue(store)
            for suggestion_id in suggestion_ids:
                item = await queue.dismiss(suggestion_id)
                click.echo(f"dismissed suggestion {item.id}: {item.title}", err=True)
        finally:
            await store.close()

    run_async(go)
