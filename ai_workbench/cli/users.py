"""`aiw users add|list|revoke`: who may use `aiw serve`, and their bearer tokens."""

from __future__ import annotations

import json

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, open_store, run_async


@click.group(context_settings=CONTEXT_SETTINGS)
def users() -> None:
    """Users of the HTTP API (`aiw serve`): add one (prints a token once), list, revoke.

    Each user sees only their own sessions and ratings; admins may also change settings
    through the API. The workbench and the CLI are the local user, 'local'.
    """


@users.command("add", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.option("--admin", is_flag=True, help="May change settings through the API.")
def users_add(name: str, admin: bool) -> None:
    """Add user NAME and print their token (shown this once; only its hash is kept)."""
    from ai_workbench.users.service import UserService

    async def go() -> None:
        store = await open_store()
        try:
            user, token = await UserService(store).add(name, admin=admin)
        finally:
            await store.close()
        role = "admin" if user.admin else "member"
        click.echo(f"aiw: added {user.name} ({role}); their token (shown once):", err=True)
        click.echo(token)
        click.echo("aiw: send it as the header  Authorization: Bearer <token>", err=True)

    run_async(go)


@users.command("list", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def users_list(as_json: bool) -> None:
    """Every user: name, role, created, last used, revoked."""
    from ai_workbench.chat.export import local_time
    from ai_workbench.users.service import UserService

    async def go() -> None:
        store = await open_store()
        try:
            listed = await UserService(store).list()
        finally:
            await store.close()
        if as_json:
            rows = [
                {
                    "name": u.name,
                    "admin": u.admin,
                    "created": u.created,
                    "last_used": u.last_used,
                    "revoked": u.revoked,
                }
                for u in listed
            ]
            click.echo(json.dumps(rows, indent=2))
            return
        if not listed:
            click.echo("no users yet: `aiw users add NAME` makes one", err=True)
            return
        for u in listed:
            state = f"revoked {local_time(u.revoked)}" if u.revoked else "active"
            used = local_time(u.last_used) if u.last_used else "never"
            role = "admin" if u.admin else "member"
            click.echo(
                f"{u.name:<20} {role:<7} {state:<24} created {local_time(u.created)}"
                f"  last used {used}"
            )

    run_async(go)


@users.command("revoke", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
def users_revoke(name: str) -> None:
    """Disable NAME's token now (their sessions are kept; `add` again for a new token)."""
    from ai_workbench.users.service import UserService

    async def go() -> None:
        store = await open_store()
        try:
            user = await UserService(store).revoke(name)
        finally:
            await store.close()
        click.echo(f"aiw: revoked {user.name}'s token", err=True)

    run_async(go)
