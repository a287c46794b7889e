"""The ``aiw`` click group: the root command (opens the workbench) and the command table.

Every subcommand lives in its own module (``cli/chat.py`` for ``aiw ask``, ``cli/sessions.py``,
``cli/config.py``, ...) and is imported only when it runs or ``--help`` lists it
(:data:`LAZY_COMMANDS`), so ``aiw`` opening the workbench pays nothing for them. Only click and the
standard library are imported at module level; shared helpers are in :mod:`ai_workbench.cli.common`.
"""

from __future__ import annotations

import sys

import click

from ai_workbench import __version__
from ai_workbench.cli.common import CONTEXT_SETTINGS, guard
from ai_workbench.core.errors import EXIT_CODES_HELP

# --- root -----------------------------------------------------------------------------------


class _LazyGroup(click.Group):
    """A click group whose commands in ``LAZY_COMMANDS`` are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in LAZY_COMMANDS:
            return found
        import importlib

        module, name = LAZY_COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), name)
        self.add_command(command, cmd_name)
        return command


@click.group(
    cls=_LazyGroup,
    invoke_without_command=True,
    context_settings=CONTEXT_SETTINGS,
    epilog="\b\n" + EXIT_CODES_HELP,
)
@click.version_option(__version__, "-V", "--version", prog_name="aiw")
@click.option("--offline", is_flag=True, default=None, help="Refuse providers off this machine.")
@click.option("-m", "--model", help="Workbench: model (litellm name) or provider profile.")
@click.option("--api-base", metavar="URL", help="Workbench: endpoint for --model.")
@click.option("-P", "--provider", help="Workbench: provider profile from config.")
@click.option("-p", "--persona", help="Workbench: persona for new sessions.")
@click.option("-s", "--session", metavar="ID", help="Workbench: open this session (id or prefix).")
@click.option(
    "--kb", is_flag=True, help="Workbench: ground answers in the project index (F7 toggles)."
)
@click.pass_context
def main(
    ctx: click.Context,
    offline: bool | None,
    model: str | None,
    api_base: str | None,
    provider: str | None,
    persona: str | None,
    session: str | None,
    kb: bool,
) -> None:
    """aiw: the AI workbench for the terminal.

    Run `aiw` alone to open the workbench in the current project (F1 for help, Ctrl+P for
    every command), or use a command below headless (scripts, pipes).
    Configuration: `aiw config show`.
    """
    ctx.obj = {"offline": offline} if offline else {}
    if ctx.invoked_subcommand is not None:
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # Not a terminal (a pipe, a script): the workbench cannot run; show the commands.
        click.echo(ctx.get_help())
        return
    import gc

    # No garbage collection until the first frame (tui/boot.py turns it back on):
    # nearly every object made until then stays alive, so collections only cost time
    # (about 30 ms of CPU, an eighth of the start-up; bench/first_frame.py --cpu).
    gc.disable()
    from ai_workbench.tui import STARTED_AT  # noqa: F401  (start the first-frame clock)
    from ai_workbench.tui.app import run_app

    guard(
        lambda: run_app(
            model=model,
            api_base=api_base,
            provider=provider,
            persona=persona,
            session=session,
            offline=offline,
            kb=kb,
        )
    )


# --- the command table ----------------------------------------------------------------------
# name -> (module, attribute). Imported when used (or listed by --help).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "ask": ("ai_workbench.cli.chat", "ask"),
    "sessions": ("ai_workbench.cli.sessions", "sessions"),
    "personas": ("ai_workbench.cli.personas", "personas"),
    "plugins": ("ai_workbench.cli.plugins", "plugins"),
    "config": ("ai_workbench.cli.config", "config"),
    "shell": ("ai_workbench.cli.shell", "shell"),
    "on": ("ai_workbench.cli.shell", "on"),
    "off": ("ai_workbench.cli.shell", "off"),
    "explain": ("ai_workbench.cli.shell", "explain"),
    "history": ("ai_workbench.cli.shell", "history"),
    "review": ("ai_workbench.cli.review", "review"),
    "index": ("ai_workbench.cli.knowledge", "index"),
    "search": ("ai_workbench.cli.knowledge", "search"),
    "kb": ("ai_workbench.cli.knowledge", "kb"),
    "watch": ("ai_workbench.cli.watch", "watch"),
    "suggestions": ("ai_workbench.cli.watch", "suggestions"),
    "models": ("ai_workbench.cli.models", "models"),
    "doctor": ("ai_workbench.cli.doctor", "doctor"),
    "mcp": ("ai_workbench.cli.mcp", "mcp"),
    "telegram": ("ai_workbench.cli.telegram", "telegram"),
    "sources": ("ai_workbench.cli.sources", "sources"),
    "users": ("ai_workbench.cli.users", "users"),
    "serve": ("ai_workbench.cli.serve", "serve"),
    "task": ("ai_workbench.cli.task", "task"),
    "remind": ("ai_workbench.cli.task", "remind"),
    "memory": ("ai_workbench.cli.memory", "memory"),
    "agent": ("ai_workbench.cli.agent", "agent"),
    "doc": ("ai_workbench.cli.doc", "doc"),
}


def run() -> None:  # pragma: no cover - console entry point alias
    main()
