"""`aiw personas list|show`: the expert system prompts (docs/personas.md)."""

from __future__ import annotations

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, fail, load_settings


@click.group(context_settings=CONTEXT_SETTINGS)
def personas() -> None:
    """Expert system prompts: bundled, in your config dir, and in the project's .aiw/personas."""


@personas.command("list", context_settings=CONTEXT_SETTINGS)
def personas_list() -> None:
    """Every persona with its origin and description."""
    from ai_workbench.chat.personas import load_personas
    from ai_workbench.cli.output import print_table

    loaded = load_settings()
    catalog = load_personas(loaded.project_root)
    rows = [(p.id, p.name, p.origin, p.description) for p in catalog.personas.values()]
    print_table(["id", "name", "origin", "description"], rows)
    for problem in catalog.errors:
        click.echo(f"aiw: warning: {problem}", err=True)


@personas.command("show", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
def personas_show(name: str) -> None:
    """Print a persona's front matter and prompt."""
    from ai_workbench.chat.personas import load_personas
    from ai_workbench.cli.output import print_markdown

    loaded = load_settings()
    catalog = load_personas(loaded.project_root)
    try:
        persona = catalog.get(name)
    except Exception as exc:
        fail(str(exc).strip("'\""), 3)
        return
    header = [
        f"# {persona.id}: {persona.name}",
        "",
        persona.description,
        "",
        f"source: {persona.source} ({persona.origin})",
    ]
    if persona.model:
        header.append(f"model: {persona.model}")
    if persona.temperature is not None:
        header.append(f"temperature: {persona.temperature}")
    print_markdown("\n".join(header) + "\n\n---\n\n" + persona.prompt)
