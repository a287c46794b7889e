"""`aiw plugins list|trust`: the context plugins that add domain knowledge (docs/plugins.md)."""

from __future__ import annotations

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, load_settings


@click.group(context_settings=CONTEXT_SETTINGS)
def plugins() -> None:
    """Context plugins that add domain knowledge to prompts (--context NAME)."""


@plugins.command("list", context_settings=CONTEXT_SETTINGS)
def plugins_list() -> None:
    """Every context plugin with its origin; load failures are reported."""
    from ai_workbench.chat.plugins import discover_plugins
    from ai_workbench.cli.output import print_table

    loaded = load_settings()
    registry = discover_plugins(loaded.project_root)
    rows = [
        (name, registry.origin(name), plugin.description)
        for name, plugin in sorted(registry.plugins.items())
    ]
    print_table(["name", "origin", "description"], rows)
    for problem in registry.errors:
        click.echo(f"aiw: warning: {problem}", err=True)


@plugins.command("trust", context_settings=CONTEXT_SETTINGS)
@click.option("--revoke", is_flag=True, help="Stop trusting this project.")
def plugins_trust(revoke: bool) -> None:
    """Allow (or stop) this project's own plugins in .aiw/plugins/ to run.

    They are Python code that came with the repository, so aiw runs them only after you
    trust the project once (like `direnv allow`).
    """
    from ai_workbench.core import paths
    from ai_workbench.core.trust import set_trusted

    root = paths.find_project_root()
    changed = set_trusted(root, not revoke)
    state = "no longer trusted" if revoke else "trusted"
    click.echo(f"{root}: {state}" + ("" if changed else " (unchanged)"), err=True)
