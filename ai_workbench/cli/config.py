"""`aiw config show|path|set`: the effective settings and where they come from."""

from __future__ import annotations

from typing import Any

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, guard, load_settings


@click.group(context_settings=CONTEXT_SETTINGS)
def config() -> None:
    """Show and change settings. Sources, highest first: flags › AIW_* env › .aiw.toml ›
    user config.toml › bundled defaults."""


@config.command("show", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def config_show(ctx: click.Context, as_json: bool) -> None:
    """Every effective key, its value and where it came from (secrets masked)."""
    from ai_workbench.cli.output import print_config
    from ai_workbench.core.settings import effective_items, mask_value

    loaded = load_settings(ctx)
    rows = [(key, mask_value(key, value), source) for key, value, source in effective_items(loaded)]
    keys = _key_status(loaded)
    print_config(rows, keys, as_json=as_json)


def _key_status(loaded: Any) -> list[tuple[str, str, bool]]:
    import os

    status = []
    for name, profile in sorted(loaded.settings.providers.items()):
        if profile.api_key_env:
            status.append((name, profile.api_key_env, bool(os.environ.get(profile.api_key_env))))
    return status


@config.command("path", context_settings=CONTEXT_SETTINGS)
def config_path() -> None:
    """Where aiw reads config and keeps data."""
    from ai_workbench.core import paths
    from ai_workbench.core.db import default_db_path
    from ai_workbench.core.settings import user_config_path

    project = paths.find_project_config()
    click.echo(f"user config:    {user_config_path()}")
    click.echo(f"project config: {project if project else '(none: create .aiw.toml in the repo)'}")
    click.echo(f"config dir:     {paths.config_dir()}")
    click.echo(f"data dir:       {paths.data_dir()}")
    click.echo(f"database:       {default_db_path()}")


@config.command("set", context_settings=CONTEXT_SETTINGS)
@click.argument("key")
@click.argument("value")
def config_set(key: str, value: str) -> None:
    """Set KEY to VALUE in the user config file, keeping its comments.

    VALUE is read as TOML when it parses (true, 3, ["Trading"]), else as a string.
    Example: aiw config set providers.local.model openai/qwen2.5-coder
    """
    from ai_workbench.core.settings import set_user_value

    path, parsed = guard(lambda: set_user_value(key, value))
    click.echo(f"{key} = {parsed!r} written to {path}", err=True)
