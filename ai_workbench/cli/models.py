"""`aiw models`: the configured profiles and what local servers serve now, with reasons."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, load_settings, probe_options, run_async


@click.command("models", context_settings=CONTEXT_SETTINGS)
@probe_options
@click.pass_context
def models(ctx: click.Context, as_json: bool, timeout: float) -> None:
    """Provider profiles (usable now or why not) and the models local servers serve now.

    Local servers (Ollama, LM Studio, llama.cpp, vLLM and every keyless local endpoint in
    your config) are asked for their models; cloud providers are never contacted, only
    whether their key's variable is set is shown (never its value).
    """
    from ai_workbench.core.llm.probe import probe

    loaded = load_settings(ctx)
    report = run_async(lambda: probe(loaded.settings, timeout=timeout))
    if as_json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
        return
    print_report(report)


def print_report(report: Any, *, ways: bool = True) -> None:
    from ai_workbench.cli.output import print_table

    click.echo("Provider profiles (default chain first):")
    rows = [
        (
            p.name,
            p.role or "-",
            p.model,
            "local" if p.local else "cloud",
            "yes" if p.usable else "no",
            p.reason,
        )
        for p in report.profiles
    ]
    print_table(["profile", "role", "model", "where", "usable", "why"], rows)
    click.echo("")
    click.echo(f"Local servers (asked in {report.seconds:.1f}s):")
    print_table(
        ["server", "endpoint", "answers", "why"],
        [(s.name, s.api_base, "yes" if s.reachable else "no", s.reason) for s in report.servers],
    )
    served = report.models
    if served:
        click.echo("")
        click.echo("Models served now (use with --model NAME --api-base URL):")
        print_table(["model", "api base"], served)
    if ways and not report.chain_usable:
        click.echo("")
        print_ways(report)


def print_ways(report: Any) -> None:
    click.echo("Nothing in the default chain answers. Ways forward:")
    for number, way in enumerate(report.ways, 1):
        click.echo(f"  {number}. {way.title}: {way.detail}")
        for command in way.commands:
            click.echo(f"       {command}")
