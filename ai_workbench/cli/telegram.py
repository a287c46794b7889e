"""`aiw telegram`: run the Telegram bot; `pair`, `users`, `unpair`, `pending` manage who may use it.

The bot itself is :mod:`ai_workbench.telegram.bot` (python-telegram-bot, imported only when the
bot runs); the paired users are :class:`ai_workbench.telegram.links.TelegramLinks`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, fail, load_settings, open_store, run_async
from ai_workbench.core.errors import EXIT_AUTH


@click.group(
    "telegram",
    invoke_without_command=True,
    context_settings=CONTEXT_SETTINGS,
    epilog="\b\nExamples:\n"
    "  export AIW_TELEGRAM_TOKEN=...   # from @BotFather\n"
    "  aiw telegram                    # run the bot (Ctrl+C stops it)\n"
    "  aiw telegram pair K7QX4M2P --as ann\n"
    "  aiw telegram users\n"
    "  aiw telegram unpair ann",
)
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    help="Project whose index /kb searches (default: telegram.project, else this folder).",
)
@click.pass_context
def telegram(ctx: click.Context, project: Path | None) -> None:
    """Talk to aiw from Telegram: run the bot, and pair the users allowed to use it.

    The bot token is read from the environment variable named by telegram.token_env
    (AIW_TELEGRAM_TOKEN by default), never from a file. See docs/telegram.md.
    """
    if ctx.invoked_subcommand is None:
        _run(ctx, project)


@telegram.command("run", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    help="Project whose index /kb searches (default: telegram.project, else this folder).",
)
@click.pass_context
def telegram_run(ctx: click.Context, project: Path | None) -> None:
    """Run the bot (long polling) until Ctrl+C or SIGTERM; the same as `aiw telegram`."""
    _run(ctx, project or (ctx.parent.params.get("project") if ctx.parent else None))


def _run(ctx: click.Context, project: Path | None) -> None:
    loaded = load_settings(ctx)
    tg = loaded.settings.telegram
    token = os.environ.get(tg.token_env, "").strip()
    if not token:
        fail(
            f"no Telegram bot token: set the environment variable {tg.token_env} to the token "
            "@BotFather gave you (telegram.token_env names the variable; docs/telegram.md)",
            EXIT_AUTH,
        )
    root = project.resolve() if project else None

    async def go() -> None:
        import asyncio
        import signal

        from ai_workbench.telegram.bot import run_bot

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        store = await open_store()
        try:
            await run_bot(
                loaded,
                store,
                token,
                stop,
                project_root=root,
                on_event=_event,
                ready=lambda name: _event(
                    f"@{name} is listening ({tg.base_url.split('/bot')[0]}); Ctrl+C stops"
                ),
            )
        finally:
            await store.close()
        _event("stopped")

    _quiet_http_logs(token)
    run_async(go)


def _event(line: str) -> None:
    from ai_workbench.core.sanitize import strip_controls

    stamp = time.strftime("%H:%M:%S")
    click.echo(f"aiw telegram {stamp}: {strip_controls(line)}", err=True)


def _quiet_http_logs(token: str) -> None:
    """httpx logs every request URL at INFO, and the URL holds the token: keep those quiet,
    and strip the token from whatever python-telegram-bot still logs."""
    import logging

    class _NoToken(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            message = record.getMessage()
            if token in message:
                record.msg, record.args = message.replace(token, "[REDACTED]"), None
            return True

    logging.basicConfig(level=logging.WARNING, format="aiw telegram: %(levelname)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_NoToken())
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _links(store: Any) -> Any:
    from ai_workbench.telegram.links import TelegramLinks

    return TelegramLinks(store)


@telegram.command("pair", context_settings=CONTEXT_SETTINGS)
@click.argument("code")
@click.option(
    "--as", "name", metavar="NAME", help="The aiw user they become (default: tg-<telegram id>)."
)
def telegram_pair(code: str, name: str | None) -> None:
    """Approve the pairing CODE a Telegram user got from the bot's /start."""

    async def go() -> None:
        store = await open_store()
        try:
            link = await _links(store).approve(code, name)
        finally:
            await store.close()
        who = f" ({link.username})" if link.username else ""
        click.echo(f"paired Telegram user {link.telegram_id}{who} as {link.owner}")

    run_async(go)


@telegram.command("users", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def telegram_users(as_json: bool) -> None:
    """The paired Telegram users and the aiw user each one is."""
    from ai_workbench.core.sanitize import strip_controls

    async def go() -> None:
        store = await open_store()
        try:
            links = await _links(store).list()
        finally:
            await store.close()
        if as_json:
            rows = [
                {
                    "telegram_id": link.telegram_id,
                    "owner": link.owner,
                    "username": link.username,
                    "paired_at": link.paired_at,
                    "session_id": link.session_id,
                    "persona": link.persona,
                }
                for link in links
            ]
            click.echo(json.dumps(rows, indent=2))
            return
        if not links:
            click.echo("no paired Telegram users (a user sends /start; `aiw telegram pair CODE`)")
            return
        for link in links:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(link.paired_at))
            who = strip_controls(link.username) or "-"
            click.echo(f"{link.telegram_id:>12}  {link.owner:<20} {who:<24} paired {when}")

    run_async(go)


@telegram.command("unpair", context_settings=CONTEXT_SETTINGS)
@click.argument("who", metavar="ID|NAME")
def telegram_unpair(who: str) -> None:
    """Remove a paired user (a Telegram id, or an aiw user name: all of its Telegram ids)."""

    async def go() -> None:
        store = await open_store()
        try:
            removed = await _links(store).unpair(who)
        finally:
            await store.close()
        for link in removed:
            click.echo(f"unpaired Telegram user {link.telegram_id} ({link.owner})")

    run_async(go)


@telegram.command("pending", context_settings=CONTEXT_SETTINGS)
def telegram_pending() -> None:
    """Pairing requests waiting for approval (the codes themselves are never stored)."""
    from ai_workbench.core.sanitize import strip_controls

    async def go() -> None:
        store = await open_store()
        try:
            pending = await _links(store).pending()
        finally:
            await store.close()
        if not pending:
            click.echo("no pairing requests waiting")
            return
        now = time.time()
        for item in pending:
            minutes = max(0, round((item.expires - now) / 60))
            who = strip_controls(item.username) or "-"
            click.echo(f"{item.telegram_id:>12}  {who:<24} expires in {minutes} min")

    run_async(go)
