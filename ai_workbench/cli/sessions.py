"""`aiw sessions list|show|search|export|rm`: saved chat sessions (ids accept unique prefixes)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, open_store, run_async
from ai_workbench.core.errors import AiwError


@click.group(context_settings=CONTEXT_SETTINGS)
def sessions() -> None:
    """List, show, search, export and delete chat sessions (ids accept unique prefixes)."""


@sessions.command("list", context_settings=CONTEXT_SETTINGS)
@click.option("-l", "--limit", type=int, default=50, show_default=True, help="How many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "-a", "--all", "show_all", is_flag=True, help="Also list failed sessions (never answered)."
)
def sessions_list(limit: int, as_json: bool, show_all: bool) -> None:
    """Sessions, most recently used first.

    A session whose every request failed before any answer (say, the model server was not
    running) keeps your prompt but is listed only with --all, marked failed.
    """
    from ai_workbench.chat.sessions import SessionService
    from ai_workbench.cli.output import print_sessions

    async def go() -> None:
        store = await open_store()
        try:
            listed, failed = await SessionService(store).listing(limit, include_failed=show_all)
            print_sessions(listed, as_json=as_json, failed=failed, hidden=not show_all)
        finally:
            await store.close()

    run_async(go)


@sessions.command("show", context_settings=CONTEXT_SETTINGS)
@click.argument("session_id", metavar="ID")
def sessions_show(session_id: str) -> None:
    """Print a session's conversation (Markdown on a terminal, plain when piped)."""
    from ai_workbench.chat.sessions import SessionService
    from ai_workbench.cli.output import print_markdown

    async def go() -> None:
        store = await open_store()
        try:
            print_markdown(await SessionService(store).export(session_id, "md"))
        finally:
            await store.close()

    run_async(go)


@sessions.command("export", context_settings=CONTEXT_SETTINGS)
@click.argument("session_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout.",
)
def sessions_export(session_id: str, fmt: str, output: Path | None) -> None:
    """Export a session as Markdown or JSON."""
    from ai_workbench.chat.sessions import SessionService

    async def go() -> None:
        store = await open_store()
        try:
            text = await SessionService(store).export(session_id, fmt)
        finally:
            await store.close()
        if output:
            output.write_text(text, encoding="utf-8")
            click.echo(f"wrote {output}", err=True)
        else:
            click.echo(text, nl=not text.endswith("\n"))

    run_async(go)


@sessions.command("rm", context_settings=CONTEXT_SETTINGS)
@click.argument("session_ids", metavar="ID...", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def sessions_rm(session_ids: tuple[str, ...], yes: bool) -> None:
    """Delete sessions and their messages."""

    async def go() -> None:
        store = await open_store()
        try:
            targets = [await store.get_session(sid) for sid in session_ids]
            for target in targets:
                label = f'{target.id[:8]} "{target.title}" ({target.message_count} messages)'
                if not yes:
                    if not sys.stdin.isatty():
                        raise AiwError(
                            f"not deleting {label} without --yes (stdin is not a terminal)", 2
                        )
                    if not click.confirm(f"delete session {label}?", default=False, err=True):
                        click.echo("kept", err=True)
                        continue
                await store.delete_session(target.id)
                click.echo(f"deleted session {label}", err=True)
        finally:
            await store.close()

    run_async(go)


_HL_OPEN, _HL_CLOSE = "\ue000", "\ue001"  # private-use marks, styled after cleaning


def parse_since(text: str) -> float:
    """``30d``, ``12h``, ``2w``, ``45m`` ago, or a date ``2026-11-30``: a unix time."""
    import datetime as dt
    import re
    import time

    value = text.strip().lower()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([mhdw])", value)
    if match:
        size = {"m": 60, "h": 3_600, "d": 86_400, "w": 604_800}[match.group(2)]
        return time.time() - float(match.group(1)) * size
    try:
        return dt.datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: use an age such as 30d, 12h, 2w or a date such as 2026-11-30"
        ) from None


@sessions.command("search", context_settings=CONTEXT_SETTINGS)
@click.argument("query", nargs=-1, required=True)
@click.option("--since", metavar="AGE|DATE", help="Only messages newer than 30d, 12h, 2026-11-30…")
@click.option(
    "-m",
    "--model",
    help="Only answers by this model or sessions that used it (part of its name will do).",
)
@click.option("-l", "--limit", type=int, default=20, show_default=True, help="How many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def sessions_search(
    query: tuple[str, ...], since: str | None, model: str | None, limit: int, as_json: bool
) -> None:
    """Search every past message: words (ranked, word* is a prefix) and exact text.

    \b
    aiw sessions search "retry backoff"
    aiw sessions search "KeyError: 'id'" --since 30d
    aiw sessions search "foo_bar(" --model qwen2.5-coder --json
    The workbench's session search (ctrl+f) is the same search; opening a result jumps to the
    message. `aiw sessions show ID` prints a whole session.
    """
    import json

    from ai_workbench.chat.sessions import SessionService
    from ai_workbench.cli.output import stdout_is_terminal
    from ai_workbench.core.sanitize import strip_controls

    text = " ".join(query)
    after = parse_since(since) if since else None
    styled = stdout_is_terminal() and not as_json

    async def go() -> list[Any]:
        store = await open_store()
        try:
            return await SessionService(store).search(
                text, limit, highlight=(_HL_OPEN, _HL_CLOSE), since=after, model=model
            )
        finally:
            await store.close()

    hits = run_async(go)

    def clean(snippet: str) -> str:
        flat = " ".join(strip_controls(snippet).split())
        if styled:
            on, off = click.style("", fg="yellow", bold=True, reset=False), click.style("")
            return flat.replace(_HL_OPEN, on).replace(_HL_CLOSE, off)
        return flat.replace(_HL_OPEN, "[").replace(_HL_CLOSE, "]")

    if as_json:
        rows = [{**h.to_json(), "snippet": clean(h.snippet)} for h in hits]
        for row in rows:
            row["session_title"] = strip_controls(row["session_title"])
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not hits:
        click.echo(f"no message matches {text!r}", err=True)
        sys.exit(1)
    from ai_workbench.chat.export import local_time

    for hit in hits:
        title = strip_controls(hit.session_title) or "Untitled"
        meta = [hit.role, local_time(hit.created)]
        if hit.model and hit.role == "assistant":
            meta.append(hit.model)
        head = f"{hit.session_id[:8]} {title}  ({', '.join(meta)}, message {hit.message_id})"
        click.echo(click.style(head, bold=True) if styled else head)
        click.echo(f"    {clean(hit.snippet)}")
