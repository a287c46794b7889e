"""`aiw sources`: knowledge beyond the repository (Confluence, GitLab, GitHub, web sites, folders
of documents and transcripts), synced incrementally into the project's index.

The commands print; :class:`ai_workbench.sources.service.SourcesService` does the work and
writes through the knowledge service (the CLI never opens the index itself).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, load_settings, open_store, run_async

_NAME = click.option("--name", help="What to call it (default: from the space/project/host).")
_ROOT = click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False),
    help="The project whose index it feeds (default: the current one).",
)


def _err(line: str) -> None:
    from ai_workbench.core.sanitize import strip_controls

    click.echo(strip_controls(line), err=True)


def _knowledge(loaded: Any, root: str | Path) -> Any:
    from ai_workbench.knowledge.service import KnowledgeService

    return KnowledgeService.for_project(loaded.settings.knowledge, Path(root))


@click.group("sources", context_settings=CONTEXT_SETTINGS)
def sources() -> None:
    """Index Confluence, GitLab, GitHub, web sites and document folders with the project.

    \b
    aiw sources add confluence https://wiki.example.com --space ENG --token-env CONFLUENCE_TOKEN
    aiw sources add gitlab https://gitlab.example.com --project team/app --token-env GITLAB_TOKEN
    aiw sources add github owner/repo --token-env GITHUB_TOKEN
    aiw sources add web https://docs.example.com/guide/ --depth 2
    aiw sources add dir ~/meetings            (PDF, DOCX, TXT, Markdown, SRT/VTT transcripts)
    aiw sources sync --all && aiw sources report
    aiw sources schedule "0 3 * * *"

    Tokens are read from the environment variable you name, never stored.
    """


def _add(ctx: click.Context, kind: str, location: str, name: str | None, root: Path | None,
         **options: Any) -> None:  # fmt: skip
    loaded = load_settings(ctx)

    async def go() -> Any:
        from ai_workbench.sources.service import SourcesService

        store = await open_store()
        try:
            where = root or loaded.project_root
            return await SourcesService(store).add(kind, location, Path(where), name=name,
                                                   options=options)  # fmt: skip
        finally:
            await store.close()

    source = run_async(go)
    token = options.get("token_env")
    hint = f" (token from ${token})" if token else ""
    _err(f"added {source.kind} source '{source.name}'{hint} for {source.root}")
    _err(f"next: aiw sources sync {source.name}")


def _token_env(required: bool = False) -> Any:
    return click.option(
        "--token-env",
        metavar="VAR",
        required=required,
        help="Environment variable that holds the token (read at sync time, never stored).",
    )


@sources.group("add", context_settings=CONTEXT_SETTINGS)
def add() -> None:
    """Add a source (then `aiw sources sync NAME`)."""


@add.command("confluence", context_settings=CONTEXT_SETTINGS)
@click.argument("url")
@click.option("--space", required=True, help="The space key (ENG).")
@_token_env(required=True)
@click.option("--user", help="Confluence Cloud: your e-mail (basic auth with an API token).")
@_NAME
@_ROOT
@click.pass_context
def add_confluence(ctx: click.Context, url: str, space: str, token_env: str, user: str | None,
                   name: str | None, root: Path | None) -> None:  # fmt: skip
    """A Confluence space's pages (URL: the site, with /wiki on Cloud)."""
    _add(ctx, "confluence", _url(url), name, root, space=space, token_env=token_env, user=user)


@add.command("gitlab", context_settings=CONTEXT_SETTINGS)
@click.argument("url")
@click.option("--project", required=True, help="The project path (group/app) or id.")
@_token_env()
@_NAME
@_ROOT
@click.pass_context
def add_gitlab(ctx: click.Context, url: str, project: str, token_env: str | None,
               name: str | None, root: Path | None) -> None:  # fmt: skip
    """A GitLab project's issues, merge requests and wiki."""
    _add(ctx, "gitlab", _url(url), name, root, project=project, token_env=token_env)


@add.command("github", context_settings=CONTEXT_SETTINGS)
@click.argument("repo", metavar="OWNER/REPO")
@_token_env()
@click.option("--api-url", help="GitHub Enterprise: the API URL (https://host/api/v3).")
@_NAME
@_ROOT
@click.pass_context
def add_github(ctx: click.Context, repo: str, token_env: str | None, api_url: str | None,
               name: str | None, root: Path | None) -> None:  # fmt: skip
    """A GitHub repository's issues and pull requests."""
    import re

    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise click.BadParameter(f"'{repo}' is not OWNER/REPO", param_hint="OWNER/REPO")
    _add(ctx, "github", repo, name, root, token_env=token_env,
         api_url=_url(api_url) if api_url else None)  # fmt: skip


@add.command("web", context_settings=CONTEXT_SETTINGS)
@click.argument("url")
@click.option("--depth", type=click.IntRange(0, 10), default=1, show_default=True,
              help="How many links away from URL to follow.")  # fmt: skip
@click.option("--same-site/--any-site", default=True, show_default=True,
              help="Follow links to this site only, or to any.")  # fmt: skip
@click.option("--max-pages", type=click.IntRange(1, 100_000), default=500, show_default=True)
@_NAME
@_ROOT
@click.pass_context
def add_web(ctx: click.Context, url: str, depth: int, same_site: bool, max_pages: int,
            name: str | None, root: Path | None) -> None:  # fmt: skip
    """Web pages from URL (robots.txt respected)."""
    _add(ctx, "web", _url(url), name, root, depth=depth, same_site=same_site,
         max_pages=max_pages)  # fmt: skip


@add.command("dir", context_settings=CONTEXT_SETTINGS)
@click.argument("path", type=click.Path(path_type=Path, exists=True, file_okay=False))
@_NAME
@_ROOT
@click.pass_context
def add_dir(ctx: click.Context, path: Path, name: str | None, root: Path | None) -> None:
    """A folder of PDF, DOCX, TXT, Markdown and SRT/VTT transcript files."""
    _add(ctx, "dir", str(path.resolve()), name, root)


def _url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"'{url}' is not an http(s) URL", param_hint="URL")
    return url.rstrip("/") if parts.path in ("", "/") else url


@sources.command("list", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """The sources, with their documents and last sync."""

    async def go() -> Any:
        from ai_workbench.sources.service import SourcesService

        store = await open_store()
        try:
            service = SourcesService(store)
            return await service.list(), await service.document_counts()
        finally:
            await store.close()

    found, counts = run_async(go)
    if as_json:
        rows = [s.to_json() | {"documents": counts.get(s.name, 0)} for s in found]
        click.echo(json.dumps(rows, indent=2))
        return
    if not found:
        _err("no sources yet: aiw sources add --help")
        return
    import time

    for s in found:
        when = (
            time.strftime("%Y-%m-%d %H:%M", time.localtime(s.last_sync)) if s.last_sync else "never"
        )
        extra = s.options.get("space") or s.options.get("project") or ""
        token = f" token ${s.options['token_env']}" if s.options.get("token_env") else ""
        click.echo(
            f"{s.name:<24} {s.kind:<10} {s.location}{' ' + extra if extra else ''}{token}  "
            f"{counts.get(s.name, 0)} docs, synced {when}"
        )


@sources.command("rm", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.pass_context
def rm(ctx: click.Context, name: str) -> None:
    """Remove a source and its documents from the index."""
    loaded = load_settings(ctx)

    async def go() -> int:
        from ai_workbench.sources.service import SourcesService

        store = await open_store()
        try:
            service = SourcesService(store)
            source = await service.get(name)
            knowledge = _knowledge(loaded, source.root)
            try:
                return await service.remove(name, knowledge)
            finally:
                knowledge.close()
        finally:
            await store.close()

    count = run_async(go)
    _err(f"removed source '{name}' and its {count} document(s) from the index")


@sources.command("sync", context_settings=CONTEXT_SETTINGS)
@click.argument("name", required=False)
@click.option("--all", "all_", is_flag=True, help="Every source (of every project).")
@click.option("--limit", type=click.IntRange(1), help="At most N changed documents per source "
              "this run, the highest rated first (the rest next run).")  # fmt: skip
@click.option("--no-embed", is_flag=True, help="Update the lexical index only (no vectors).")
@click.option("--no-wait", is_flag=True, help="Fail at once if another process writes the index.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs' reports as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Only problems (for a scheduled job).")
@click.pass_context
def sync(ctx: click.Context, name: str | None, all_: bool, limit: int | None, no_embed: bool,
         no_wait: bool, as_json: bool, quiet: bool) -> None:  # fmt: skip
    """Sync NAME (or --all): new documents added, changed ones rewritten, deleted ones removed.

    Exit code 0 when every source synced (some documents may have failed: see the report),
    else the code of the last source that failed.
    """
    if bool(name) == all_:
        raise click.UsageError("name one source, or give --all")
    loaded = load_settings(ctx)

    async def go() -> list[Any]:
        from ai_workbench.sources.service import SourcesService

        store = await open_store()
        try:
            service = SourcesService(store)
            chosen = await service.list() if all_ else [await service.get(name or "")]
            if all_ and not chosen:
                _err("no sources yet: aiw sources add --help")
            reports = []
            for source in chosen:
                knowledge = _knowledge(loaded, source.root)
                try:
                    reports.append(await _sync_one(service, source, knowledge, limit=limit,
                                                   embed=not no_embed, wait=not no_wait,
                                                   quiet=quiet))  # fmt: skip
                finally:
                    knowledge.close()
            return reports
        finally:
            await store.close()

    reports = run_async(go)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in reports], indent=2))
    code = 0
    for report in reports:
        if not quiet or report.status != "ok":
            _print_report(report.to_json(), brief=True)
        if report.status == "failed":
            code = _exit_code(report.error or "")
    if code:
        sys.exit(code)


def _exit_code(error: str) -> int:
    from ai_workbench.core.errors import EXIT_AUTH, EXIT_CONNECTION, EXIT_INPUT, EXIT_RATE_LIMIT

    if "token" in error or error.startswith(("401", "403")):
        return EXIT_AUTH
    if "rate limited" in error:
        return EXIT_RATE_LIMIT
    if "404" in error or "not a directory" in error:
        return EXIT_INPUT
    return EXIT_CONNECTION


async def _sync_one(service: Any, source: Any, knowledge: Any, *, limit: int | None,
                    embed: bool, wait: bool, quiet: bool) -> Any:  # fmt: skip
    def on_wait(holder: str) -> None:
        _err(f"aiw: waiting for the index of {source.root}: {holder} is writing it")

    if quiet or not sys.stderr.isatty():
        return await service.sync(source, knowledge, limit=limit, embed=embed, wait=wait,
                                  on_wait=on_wait)  # fmt: skip
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

    columns = (
        SpinnerColumn(),
        TextColumn(f"syncing {source.name}"),
        BarColumn(),
        TextColumn("{task.completed} documents"),
        TextColumn("{task.fields[item]}", style="dim"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(source.name, total=None, item="")

        def progress(done: int, total: int | None, item: str) -> None:
            bar.update(task, completed=done, total=total, item=item[-50:])

        return await service.sync(source, knowledge, progress=progress, limit=limit,
                                  embed=embed, wait=wait, on_wait=on_wait)  # fmt: skip


def _print_report(data: dict[str, Any], *, brief: bool = False) -> None:
    from ai_workbench.sources.models import RunReport

    fields = {k: v for k, v in data.items() if k in RunReport.__dataclass_fields__}
    report = RunReport(**fields)
    run = f"run {report.run}: " if report.run else ""
    _err(run + report.line())
    if report.error:
        _err(f"  FAILED  {report.error}")
    for entry in report.failed:
        _err(f"  failed  {entry.get('id')}: {entry.get('reason')} ({entry.get('url')})")
    if report.embedding_error:
        _err(f"  warning {report.embedding_error}")
    for note in report.notes:
        _err(f"  note    {note}")
    if brief:
        return
    for label, entries in (("added", report.added), ("updated", report.updated),
                           ("deleted", report.deleted), ("skipped", report.skipped)):  # fmt: skip
        for entry in entries[:50]:
            why = f": {entry['reason']}" if entry.get("reason") else ""
            _err(f"  {label:<7} {entry.get('title') or entry.get('id')}{why}  {entry.get('url')}")
        if len(entries) > 50:
            _err(f"  ... and {len(entries) - 50} more {label} (--json for all)")
    _err(f"  {report.embedding_calls} embedding call(s), {report.chunks_embedded} chunks in "
         f"{report.embedding_s:.2f} s; {report.chunks_added} chunks added, "
         f"{report.chunks_removed} removed")  # fmt: skip


@sources.command("report", context_settings=CONTEXT_SETTINGS)
@click.argument("run", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--list", "list_runs", is_flag=True, help="List the latest runs.")
@click.pass_context
def report(ctx: click.Context, run: str | None, as_json: bool, list_runs: bool) -> None:
    """A sync run's report: RUN is its number or a source's name (default: the latest)."""

    async def go() -> Any:
        from ai_workbench.sources.service import SourcesService

        store = await open_store()
        try:
            service = SourcesService(store)
            return await service.runs() if list_runs else await service.run(run)
        finally:
            await store.close()

    data = run_async(go)
    if as_json:
        click.echo(json.dumps(data, indent=2))
    elif list_runs:
        import time

        for item in data:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(item["started"]))
            click.echo(f"{item['run']:>5}  {when}  {item['status']:<8} {item['source']}: "
                       f"+{len(item['added'])} ~{len(item['updated'])} -{len(item['deleted'])} "
                       f"!{len(item['failed'])}")  # fmt: skip
    else:
        _print_report(data)


@sources.command("schedule", context_settings=CONTEXT_SETTINGS)
@click.argument("cron", required=False, metavar='"MIN HOUR DOM MON DOW"')
@click.option(
    "--via",
    type=click.Choice(["systemd", "cron"]),
    help="A systemd user timer or a crontab line (default: systemd when it runs).",
)
@click.option("--print", "print_only", is_flag=True, help="Only show what would be installed.")
@click.option("--remove", is_flag=True, help="Remove the installed timer or crontab line.")
@click.option("-y", "--yes", is_flag=True, help="Install without asking.")
def schedule(cron: str | None, via: str | None, print_only: bool, remove: bool,
             yes: bool) -> None:  # fmt: skip
    """Run `aiw sources sync --all` on a cron schedule, e.g. "0 3 * * *" (03:00 daily).

    Shows the timer or crontab line and asks before writing it. Tokens: put VAR=value lines
    in ~/.config/aiw/sources.env (mode 0600); the job reads it, since a timer does not get
    your shell's environment.
    """
    from ai_workbench.cli.common import guard
    from ai_workbench.sources import schedule as sched

    if remove:

        def drop() -> list[str]:
            done = []
            if via in (None, "systemd") and sched.remove_systemd():
                done.append("systemd timer aiw-sources.timer")
            if (
                via in (None, "cron")
                and __import__("shutil").which("crontab")
                and (sched.remove_cron())
            ):
                done.append("crontab line")
            return done

        removed = guard(drop)
        _err("removed the " + " and the ".join(removed) if removed else "no schedule installed")
        return
    if not cron:
        raise click.UsageError('give the schedule, e.g. aiw sources schedule "0 3 * * *"')
    parsed = guard(lambda: sched.parse_cron(cron))
    chosen = guard(lambda: sched.choose_via(via)) if not (print_only and via is None) else None
    show_systemd = chosen == "systemd" or (chosen is None and print_only)
    if show_systemd:
        units = guard(lambda: sched.systemd_units(parsed))
        for file_name, text in units.items():
            click.echo(f"# {sched.systemd_dir() / file_name}\n{text}")
    if chosen == "cron" or (chosen is None and print_only):
        click.echo(f"# crontab line\n{sched.crontab_line(parsed)}")
    if print_only:
        return
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("not a terminal to ask on: add --yes to install")
        if not click.confirm(f"install this {chosen} schedule?", default=True, err=True):
            _err("nothing installed")
            return
    where = guard(lambda: sched.install_systemd(parsed) if chosen == "systemd"
                  else sched.install_cron(parsed))  # fmt: skip
    _err(f"installed: {where}; the job reads tokens from {sched.env_file()} if it exists")
