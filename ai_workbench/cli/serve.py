"""`aiw serve`: the HTTP API (FastAPI on uvicorn) for a team; see docs/server.md."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, fail, load_settings
from ai_workbench.core.errors import EXIT_INPUT

EXAMPLES = """\b
Examples:
  aiw users add ana --admin        # prints ana's token once
  aiw serve                        # http://127.0.0.1:8787/v1/health
  aiw serve --workers 2 --port 9000
  aiw serve --host 0.0.0.0 --allow-remote --ssl-keyfile key.pem --ssl-certfile cert.pem
"""


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("serve", context_settings=CONTEXT_SETTINGS, epilog=EXAMPLES)
@click.option("--host", help="Address to listen on (server.host, default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (server.port, default 8787).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes.")  # fmt: skip
@click.option(
    "--allow-remote", is_flag=True, help="Needed to listen on an address other than loopback."
)
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--project",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Project whose index /v1/search serves (default: the current one).",
)
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="info", show_default=True)  # fmt: skip
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    workers: int,
    allow_remote: bool,
    ssl_keyfile: Path | None,
    ssl_certfile: Path | None,
    project: Path | None,
    log_level: str,
) -> None:
    """Serve the HTTP API: search, ask, review, feedback, sessions, settings, events.

    Every request but /v1/health needs a user's token (`aiw users add NAME`). Listens on
    loopback unless --allow-remote; without TLS (--ssl-* or a reverse proxy in front, see
    docs/server.md) tokens would cross the network in the clear, and aiw says so.
    """
    loaded = load_settings(ctx)
    cfg = loaded.settings.server
    host = host or cfg.host
    port = port or cfg.port
    if bool(ssl_keyfile) != bool(ssl_certfile):
        fail("--ssl-keyfile and --ssl-certfile go together: give both or neither", EXIT_INPUT)
    if not is_loopback(host):
        if not allow_remote:
            fail(
                f"--host {host} is not a loopback address: add --allow-remote to serve other "
                "machines (and TLS: --ssl-keyfile/--ssl-certfile or a reverse proxy)",
                EXIT_INPUT,
            )
        if ssl_keyfile is None:
            click.echo(
                f"aiw: warning: serving {host}:{port} without TLS: bearer tokens and answers "
                "cross the network in the clear; use --ssl-keyfile/--ssl-certfile or put a "
                "TLS reverse proxy in front (docs/server.md)",
                err=True,
            )
    if cfg.sources_schedule.strip():
        from ai_workbench.sources.schedule import parse_cron

        try:
            cron = parse_cron(cfg.sources_schedule)
        except Exception as exc:
            fail(f"server.sources_schedule: {exc}", EXIT_INPUT)
        click.echo(f"aiw: syncing the sources on the schedule {cron.text!r}", err=True)
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - a broken install
        fail("aiw serve needs uvicorn and fastapi: pip install 'ai-workbench'", EXIT_INPUT)
    root = (project or loaded.project_root or Path.cwd()).resolve()
    os.environ["AIW_SERVE_ROOT"] = str(root)
    if (ctx.find_root().obj or {}).get("offline"):
        os.environ["AIW_OFFLINE"] = "true"  # each worker loads the settings itself
    scheme = "https" if ssl_keyfile else "http"
    click.echo(
        f"aiw: serving {root.name or root} on {scheme}://{host}:{port}/v1 "
        f"({workers} worker(s)); Ctrl+C stops",
        err=True,
    )
    uvicorn.run(
        "ai_workbench.server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
