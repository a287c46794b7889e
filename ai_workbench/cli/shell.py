"""`aiw shell init|install|uninstall|status`, `aiw on|off`, `aiw explain`, `aiw history`.

The terminal side of the shell hook (docs/shell.md). Only click and the standard library load
at import; `aiw shell init` (run at every shell start by the rc block) stays light.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ai_workbench.cli.common import (
    CONTEXT_SETTINGS,
    fail,
    guard,
    load_settings,
    open_store,
    run_async,
)

F = TypeVar("F", bound=Callable[..., Any])
RISK_STYLE = {"safe": "green", "moderate": "yellow", "dangerous": "bold red"}
RISK_MARK = {"safe": "safe", "moderate": "moderate", "dangerous": "DANGEROUS"}


# --- aiw shell ------------------------------------------------------------------------------


@click.group(context_settings=CONTEXT_SETTINGS)
def shell() -> None:
    """Explain failed commands: the bash/zsh hook (see also `aiw explain`, `aiw on|off`)."""


@shell.command("init", context_settings=CONTEXT_SETTINGS)
@click.argument("shell_name", metavar="bash|zsh", type=click.Choice(["bash", "zsh"]))
def shell_init(shell_name: str) -> None:
    """Print the integration; add `eval "$(aiw shell init bash)"` to your rc file."""
    from ai_workbench.shell.integration import render_init

    click.echo(guard(lambda: render_init(shell_name)), nl=False)  # type: ignore[arg-type]


def _which_shell(name: str | None) -> Any:
    from ai_workbench.shell.integration import detect_shell

    try:
        return detect_shell(name)
    except ValueError as exc:
        fail(str(exc), 2)


def _rc_options(command: F) -> F:
    """``--shell`` and ``--rc``: which shell's rc file install/uninstall change."""
    command = click.option(
        "--rc", "rc_file", type=click.Path(dir_okay=False), help="Rc file to change."
    )(command)
    return click.option(
        "--shell", "shell_name", type=click.Choice(["bash", "zsh"]), help="Default: $SHELL."
    )(command)


@shell.command("install", context_settings=CONTEXT_SETTINGS)
@_rc_options
def shell_install(shell_name: str | None, rc_file: str | None) -> None:
    """Add the hook to ~/.bashrc or ~/.zshrc in a marked block (idempotent)."""
    from pathlib import Path

    from ai_workbench.shell.integration import install

    name = _which_shell(shell_name)
    change = guard(lambda: install(name, Path(rc_file) if rc_file else None))
    what = {
        "added": "added the aiw block to",
        "updated": "updated the aiw block in",
        "unchanged": "the aiw block is already in",
    }[change.action]
    click.echo(f"{what} {change.path}", err=True)
    if change.action != "unchanged":
        click.echo(f"open a new terminal or run: source {change.path}", err=True)


@shell.command("uninstall", context_settings=CONTEXT_SETTINGS)
@_rc_options
def shell_uninstall(shell_name: str | None, rc_file: str | None) -> None:
    """Remove exactly the marked aiw block from the rc file."""
    from pathlib import Path

    from ai_workbench.shell.integration import uninstall

    name = _which_shell(shell_name)
    change = guard(lambda: uninstall(name, Path(rc_file) if rc_file else None))
    if change.action == "removed":
        click.echo(
            f"removed the aiw block from {change.path} (open shells keep it until exit)", err=True
        )
    else:
        click.echo(f"no aiw block in {change.path}; nothing changed", err=True)


@shell.command("status", context_settings=CONTEXT_SETTINGS)
def shell_status() -> None:
    """Whether the hook is installed, on, and where its spool is."""
    from ai_workbench.shell.integration import capture_mode, is_off, off_flag, rc_status
    from ai_workbench.shell.spool import spool_file

    for name in ("bash", "zsh"):
        rc = rc_status(name)  # type: ignore[arg-type]
        click.echo(f"{name}: {'installed in' if rc.installed else 'not installed in'} {rc.path}")
        if rc.broken:
            click.echo(
                f"  broken: the block runs {rc.program}, which does not exist (any more); run "
                f"`aiw shell install --shell {name}` with the aiw you use now",
            )
        elif rc.installed and rc.command:
            click.echo(f"  runs: {rc.command}")
    state = f"off (`aiw on` resumes; flag {off_flag()})" if is_off() else "on"
    click.echo(f"hook: {state}")
    mode = capture_mode()
    notes = {
        "tee": " (zsh; bash only with bash-preexec loaded before aiw)",
        "pty": " (in shells started by `aiw shell pty`"
        + ("; this one is" if os.environ.get("AIW_PTY") else "; this one is not")
        + ")",
    }
    click.echo(f"capture: {mode}{notes.get(mode, '')}")
    click.echo(f"spool: {spool_file()}")


@shell.command("rate", context_settings={**CONTEXT_SETTINGS, "ignore_unknown_options": True})
@click.option("--json", "as_json", is_flag=True, help='Print {"level": …, "reasons": […]}.')
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def shell_rate(as_json: bool, command: tuple[str, ...]) -> None:
    """Rate COMMAND (never run): safe, moderate or dangerous, and why.

    The same rating `aiw explain` and the workbench apply to a model's fixes. Quote the command
    as one argument (`aiw shell rate 'git push origin main'`); several arguments are joined
    with spaces. Exit code 0 whatever the level.
    """
    import json

    from ai_workbench.core.safety.risk import classify

    text = command[0] if len(command) == 1 else " ".join(command)
    risk = classify(text)
    if as_json:
        click.echo(json.dumps(risk.to_json()))
        return
    click.echo(RISK_MARK[risk.level])
    for reason in risk.reasons:
        click.echo(f"  - {reason}")


@shell.command("pty", context_settings={**CONTEXT_SETTINGS, "ignore_unknown_options": True})
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[SHELL [ARGS]...]")
def shell_pty(command: tuple[str, ...]) -> None:
    """Run your shell under aiw's pty proxy, which keeps each command's output.

    Everything passes through unchanged; when a command fails, the output between the
    hook's OSC 133 marks (the last 64 KB, colours removed) becomes the event's output.
    Use it as your terminal's shell command (`aiw shell pty`, or `aiw shell pty zsh -l`), or
    from the top of your rc file:

    \b
        [ -z "$AIW_PTY" ] && exec aiw shell pty

    The shell runs with capture = "pty" (unless your config says "none"); see docs/shell.md.
    """
    from ai_workbench.shell.pty_proxy import main as pty_main

    sys.exit(pty_main(list(command)))


# --- aiw on / off ---------------------------------------------------------------------------


@click.command("on", context_settings=CONTEXT_SETTINGS)
def on() -> None:
    """Resume the shell hook in every open shell (no re-sourcing)."""
    from ai_workbench.shell.integration import set_enabled

    changed = guard(lambda: set_enabled(True))
    click.echo("aiw shell hook is on" + ("" if changed else " (it was)"), err=True)


@click.command("off", context_settings=CONTEXT_SETTINGS)
def off() -> None:
    """Pause the shell hook in every open shell: failures are not recorded or analysed."""
    from ai_workbench.shell.integration import set_enabled

    changed = guard(lambda: set_enabled(False))
    click.echo(
        "aiw shell hook is off" + ("" if changed else " (it was)") + "; `aiw on` resumes", err=True
    )


# --- aiw history ----------------------------------------------------------------------------


@click.command("history", context_settings=CONTEXT_SETTINGS)
@click.option("-n", "--limit", type=int, default=20, show_default=True, help="How many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def history(limit: int, as_json: bool) -> None:
    """Recent failed commands and their analyses (newest first)."""
    import json
    import time

    from ai_workbench.shell.events import ShellEventStore

    async def go() -> list[Any]:
        store = await open_store()
        try:
            return await ShellEventStore(store).recent(limit)
        finally:
            await store.close()

    rows = run_async(go)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "created": r.created,
                        "command": r.command,
                        "exit_code": r.exit_code,
                        "cwd": r.cwd,
                        "status": r.status,
                        "output": r.stderr,
                        "explanation": r.explanation,
                        "suggestions": r.suggestions,
                        "error": r.error,
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
        return
    if not rows:
        click.echo("no failed commands recorded (install the hook: aiw shell install)", err=True)
        return
    from ai_workbench.cli.output import print_table

    table = []
    for r in rows:
        summary = (r.explanation or r.error or r.status).strip().splitlines()[0][:70]
        when = time.strftime("%m-%d %H:%M", time.localtime(r.created))
        table.append((str(r.id), when, str(r.exit_code), r.command[:50], r.status, summary))
    print_table(["id", "when", "exit", "command", "status", "analysis"], table)


# --- aiw explain ----------------------------------------------------------------------------


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def _print_fixes(console: Any, fixes: list[Any]) -> None:
    from rich.markup import escape

    if not fixes:
        console.print("[dim]no fix commands suggested[/]")
        return
    console.print()
    for number, fix in enumerate(fixes, 1):
        style = RISK_STYLE.get(fix.risk_level, "yellow")
        mark = RISK_MARK.get(fix.risk_level, fix.risk_level)
        console.print(f"  [bold]{number}.[/] [{style}]\\[{mark}][/] {escape(fix.description)}")
        console.print(f"     [cyan]{escape(fix.command)}[/]")
        if fix.reasons and fix.risk_level != "safe":
            console.print(f"     [dim]{escape('; '.join(fix.reasons))}[/]")


def _confirm_and_run(
    console: Any, command: str, cwd: str, shell_name: str, claimed: str | None = None
) -> int | None:
    """Show the command, ask, run it in ``cwd``.

    The level is the stricter of aiw's classifier and the model's ``claimed`` rating (the one
    shown in the list), as in the workbench: a dangerous command needs a typed "yes", a
    moderate one defaults to no (``[y/N]``); only a safe one runs on a plain Enter.
    """
    from rich.markup import escape

    from ai_workbench.core.safety.runner import confirmation_for, rate

    rated = rate(command, claimed)
    word = confirmation_for(rated)
    style = RISK_STYLE.get(rated.level, "yellow")
    console.print(f"\n[bold]$ {escape(command)}[/]   [dim]in {escape(cwd)}[/]")
    why = "; ".join(rated.reasons) or "rated so by the model"
    if word is not None:
        console.print(f"[{style}]DANGEROUS:[/] {escape(why)}")
        answer = click.prompt(f"type {word} to run it", default="", show_default=False, err=True)
        if answer.strip().lower() != word:
            console.print("not run")
            return None
    else:
        if rated.level != "safe":
            console.print(f"[{style}]{RISK_MARK[rated.level]}:[/] {escape(why)}")
        if not click.confirm("run it?", default=rated.level == "safe", err=True):
            console.print("not run")
            return None
    program = shutil.which(shell_name) or "/bin/sh"
    where = cwd if os.path.isdir(cwd) else None
    if where is None:
        console.print(f"[yellow]{escape(cwd)} is gone; running in {escape(os.getcwd())}[/]")
    done = subprocess.run([program, "-c", command], cwd=where, check=False)
    console.print(f"[dim]exit {done.returncode}[/]")
    return done.returncode


def _edit(command: str) -> str:
    """Let the user edit ``command`` on the line (readline when available)."""
    try:
        import readline

        readline.set_startup_hook(lambda: readline.insert_text(command))
        try:
            return input("edit> ").strip()
        finally:
            readline.set_startup_hook(None)
    except (ImportError, EOFError):
        return click.prompt("command", default=command, err=True).strip()


@click.command("explain", context_settings=CONTEXT_SETTINGS)
@click.option("--id", "event_id", type=int, help="Explain this failure (see `aiw history`).")
@click.option(
    "--again", is_flag=True, help="Ask the model again instead of using the stored analysis."
)
@click.option("--no-menu", is_flag=True, help="Print the analysis and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as JSON.")
@click.pass_context
def explain(
    ctx: click.Context, event_id: int | None, again: bool, no_menu: bool, as_json: bool
) -> None:
    """Explain the latest failed command and offer its fixes.

    The explanation streams, then a menu: a number runs that fix in the failed command's
    directory after you confirm (dangerous ones need you to type yes), `e N` edits a fix
    first, `a` asks a follow-up question, `q` quits. Nothing runs unless you choose it.
    """
    import json

    from rich.markup import escape

    from ai_workbench.shell.events import ShellEventStore

    loaded = load_settings(ctx)
    console = _console()
    streamed: list[str] = []

    async def fetch() -> Any:
        store = await open_store()
        try:
            events = ShellEventStore(store)
            stored = await events.get(event_id) if event_id else await events.latest()
            if stored is None:
                return None
            if stored.status == "done" and not again:
                return stored
            from ai_workbench.core.sanitize import StreamSanitizer
            from ai_workbench.shell.analysis import ExplanationStream
            from ai_workbench.shell.service import analyse

            extractor = ExplanationStream()
            clean = StreamSanitizer()  # the extractor decodes \u001b escapes into real ESCs

            def on_text(delta: str) -> None:
                piece = clean.feed(extractor.feed(delta))
                if piece and not as_json:
                    streamed.append(piece)
                    console.print(piece, end="", markup=False, highlight=False, soft_wrap=True)

            if not as_json:
                console.print(f"[dim]analysing `{escape(stored.command)}` …[/]")
            return await analyse(
                store, loaded, stored, on_text=on_text, queue=stored.suggestion_id is None
            )
        finally:
            await store.close()

    stored = run_async(fetch)
    if stored is None:
        from ai_workbench.core.errors import EXIT_INPUT

        fail(
            "nothing recorded yet: no failed command has been captured; install the hook with "
            "`aiw shell install` (`aiw shell status` shows whether it is on)",
            EXIT_INPUT,
        )
        return
    from ai_workbench.shell.service import fixes_of

    fixes = fixes_of(stored)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "id": stored.id,
                    "command": stored.command,
                    "exit_code": stored.exit_code,
                    "cwd": stored.cwd,
                    "output": stored.stderr,
                    "explanation": stored.explanation,
                    "suggestions": [f.to_json() for f in fixes],
                    "model": stored.model,
                },
                indent=2,
            )
        )
        return
    from rich.markdown import Markdown

    if streamed:
        console.print()
    else:
        where = f"exit {stored.exit_code}, {escape(stored.cwd)}"
        console.print(f"[bold]$ {escape(stored.command)}[/]  [dim]({where})[/]")
        from ai_workbench.core.sanitize import strip_controls

        console.print(Markdown(strip_controls(stored.explanation or "(no explanation)")))
    _print_fixes(console, fixes)
    if no_menu or not sys.stdin.isatty():
        return
    _menu(console, loaded, stored, fixes)


def _menu(console: Any, loaded: Any, stored: Any, fixes: list[Any]) -> None:
    choices = f"1-{len(fixes)} run, e N edit, " if fixes else ""
    while True:
        try:
            answer = click.prompt(
                f"\n[{choices}a ask, q quit]", default="q", show_default=False, err=True
            )
        except (click.Abort, EOFError):
            return
        answer = answer.strip().lower()
        if answer in ("q", "quit", "exit", ""):
            return
        if answer in ("a", "ask"):
            question = click.prompt("question", err=True).strip()
            if question:
                _follow_up(console, loaded, stored, question)
            continue
        edit = answer.startswith("e")
        number = answer[1:].strip() if edit else answer
        if not number.isdigit() or not 1 <= int(number) <= len(fixes):
            console.print(f"choose {choices}a or q")
            continue
        fix = fixes[int(number) - 1]
        command, claimed = fix.command, fix.risk_level
        if edit:
            command = _edit(command)
            if not command:
                continue
            if command != fix.command:
                claimed = fix.model_risk  # aiw rates the new text; the model's word still counts
        _confirm_and_run(console, command, stored.cwd, stored.shell or "sh", claimed)


def _follow_up(console: Any, loaded: Any, stored: Any, question: str) -> None:
    from ai_workbench.core.redact import redact_text
    from ai_workbench.shell.analysis import ask_model, build_messages

    context = stored.context or {
        "command": stored.command,
        "exit_code": stored.exit_code,
        "cwd": stored.cwd,
        "output": stored.stderr,
    }
    messages = build_messages(context)
    messages[0] = {
        "role": "system",
        "content": "You are aiw's shell assistant. Answer the user's follow-up about the failed "
        "command in concise Markdown. Secrets appear as [REDACTED:...].",
    }
    messages += [
        {"role": "assistant", "content": stored.explanation or ""},
        {"role": "user", "content": redact_text(question)},
    ]

    async def go() -> None:
        await ask_model(
            loaded, messages, lambda t: console.print(t, end="", markup=False, highlight=False)
        )

    run_async(go)
    console.print()
