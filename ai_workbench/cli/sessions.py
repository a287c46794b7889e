"""`aiw sessions list|show|export|rm`: the saved chat sessions (ids accept unique prefixes)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, open_store, run_async
from ai_workbench.core.errors import AiwError


@click.group(context_settings=CONTEXT_SETTINGS)
def sessions() -> None:
    """List, show, export and delete chat sessions (ids accept unique prefixes)."""


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
