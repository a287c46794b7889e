"""The headless CLI: `aiw ask`, `aiw sessions`, `aiw personas`, `aiw plugins`, `aiw config`.

Only click and the standard library are imported at module level; rich, httpx and the core
services load when a command needs them, and litellm only when a provider needs it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ai_workbench import __version__
from ai_workbench.core.errors import EXIT_CODES_HELP, EXIT_INTERNAL, EXIT_INTERRUPTED, AiwError

T = TypeVar("T")
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _fail(message: str, code: int) -> None:
    click.echo(f"aiw: error: {message}", err=True)
    sys.exit(code)


def _guard(func: Callable[[], T]) -> T:
    """Run a command body, turning known errors into one line and an exit code."""
    try:
        return func()
    except AiwError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        click.echo("aiw: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        # ConfigError can only come from an imported ai_workbench.core.settings; importing it here
        # up front would load pydantic (~0.1 s) before the workbench's first frame.
        config = sys.modules.get("ai_workbench.core.settings")
        if config is not None and isinstance(exc, config.ConfigError):
            _fail(str(exc), exc.exit_code)
        if os.environ.get("AIW_DEBUG"):
            raise
        _fail(
            f"internal error: {type(exc).__name__}: {exc} (a bug; run with AIW_DEBUG=1 for "
            "the traceback and please report it)",
            EXIT_INTERNAL,
        )
    raise AssertionError("unreachable")


def _run_async(factory: Callable[[], Awaitable[T]]) -> T:
    return _guard(lambda: asyncio.run(factory()))


def _load(ctx: click.Context | None = None, **cli: Any) -> Any:
    from ai_workbench.core.settings import load_config

    root = ctx.find_root() if ctx else None
    overrides = dict(root.obj or {}) if root else {}
    overrides.update({k: v for k, v in cli.items() if v is not None})
    return _guard(lambda: load_config(overrides))


async def _open_store() -> Any:
    from ai_workbench.core.store import Store

    return await Store.open()


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
    from ai_workbench.tui import STARTED_AT  # noqa: F401  (start the first-frame clock)
    from ai_workbench.tui.app import run_app

    _guard(
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


# --- ask ------------------------------------------------------------------------------------


@main.command(
    context_settings=CONTEXT_SETTINGS,
    epilog="\b\nExamples:\n"
    '  aiw ask "why does my Dockerfile rebuild every layer?" -f Dockerfile\n'
    '  git diff | aiw ask "write a commit message for this"\n'
    '  aiw ask --new-session --persona core/SA-1 "design an auth service"\n'
    '  aiw ask --session 3f2a "now add rate limiting"\n'
    '  aiw ask --model openai/NAME --api-base http://127.0.0.1:8080/v1 "hello"\n\n'
    + "\b\n"
    + EXIT_CODES_HELP,
)
@click.argument("prompt", nargs=-1)
@click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    metavar="PATH",
    help="Attach a file or glob (repeatable).",
)
@click.option("-p", "--persona", help="Persona, e.g. core/SA-1 or SA-1 (aiw personas list).")
@click.option(
    "-x",
    "--context",
    "contexts",
    multiple=True,
    metavar="PLUGIN",
    help="Context plugin to apply, e.g. Trading (repeatable; aiw plugins list).",
)
@click.option("-s", "--session", metavar="ID", help="Continue a session (id or unique prefix).")
@click.option(
    "-c", "--continue", "continue_last", is_flag=True, help="Continue the most recent session."
)
@click.option("-n", "--new-session", is_flag=True, help="Start a new session and print its id.")
@click.option("-m", "--model", help="Model (litellm name, e.g. openai/gpt-4o-mini) or profile.")
@click.option("--api-base", metavar="URL", help="Endpoint for --model (OpenAI-compatible URL).")
@click.option("-P", "--provider", help="Provider profile from config ([providers.NAME]).")
@click.option("-t", "--temperature", type=click.FloatRange(0, 2), help="Sampling temperature.")
@click.option(
    "--engine",
    type=click.Choice(["auto", "direct", "litellm"]),
    help="Provider client (default: config `engine`).",
)
@click.option("--offline", is_flag=True, default=None, help="Refuse providers off this machine.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print session id, answer, model and usage as JSON."
)
@click.option(
    "--code",
    "code_only",
    is_flag=True,
    help="Print only the code of the answer's fenced code blocks.",
)
@click.option("--no-stdin", is_flag=True, help="Do not read standard input even when piped.")
@click.option(
    "--kb", is_flag=True, help="Ground the answer in the project index (aiw index), with citations."
)
@click.pass_context
def ask(
    ctx: click.Context,
    prompt: tuple[str, ...],
    files: tuple[str, ...],
    persona: str | None,
    contexts: tuple[str, ...],
    session: str | None,
    continue_last: bool,
    new_session: bool,
    model: str | None,
    api_base: str | None,
    provider: str | None,
    temperature: float | None,
    engine: str | None,
    offline: bool | None,
    as_json: bool,
    code_only: bool,
    no_stdin: bool,
    kb: bool,
) -> None:
    """Ask a model; the answer streams to the terminal and is saved in a session.

    Piped output is plain text (only the answer), so `aiw ask "..." > file` works.
    Text piped to stdin is attached to the prompt.
    """
    if sum(bool(x) for x in (session, continue_last, new_session)) > 1:
        _fail("use only one of --session, --continue and --new-session", 2)
    if as_json and code_only:
        _fail("use either --json or --code", 2)
    if api_base and not model and not provider:
        _fail("--api-base needs --model (the model's name on that server)", 2)
    loaded = _load(ctx, offline=offline or None, engine=engine)
    text = " ".join(prompt)
    stdin_text = None
    if text == "-":
        text, stdin_text = "", sys.stdin.read()
    elif not no_stdin and not sys.stdin.isatty():
        stdin_text = sys.stdin.read()

    from ai_workbench.chat.service import AskOptions
    from ai_workbench.cli.output import AnswerPrinter

    opts = AskOptions(
        prompt=text,
        files=files,
        stdin_text=stdin_text,
        persona=persona,
        contexts=contexts,
        session=session,
        continue_last=continue_last,
        model=model,
        api_base=api_base,
        provider=provider,
        temperature=temperature,
    )
    printer = AnswerPrinter(mode="json" if as_json else "code" if code_only else "stream")

    async def go() -> int:
        from ai_workbench.chat.service import ChatService

        store = await _open_store()
        try:
            service = ChatService(loaded, store)
            if kb:
                from ai_workbench.cli.knowledge import grounding_for_ask

                section, question = await grounding_for_ask(
                    loaded,
                    text or stdin_text or "",
                    store,
                    model=model,
                    api_base=api_base,
                    provider=provider,
                )
                if question:  # weak retrieval: ask instead of guessing
                    import json

                    asked = {"clarifying_question": question}
                    click.echo(json.dumps(asked) if as_json else question)
                    return 0
                opts.extra_context = [section] if section else []
            turn = await service.prepare(opts, notice=printer.notice)
            if turn.created_session and new_session:
                printer.notice(f"new session {turn.session.id[:8]} (full id {turn.session.id})")
            printer.waiting_for = f"{turn.chain[0].model} at {turn.chain[0].endpoint}"
            try:
                with printer:
                    result = await service.run(turn, printer.write, notice=printer.notice)
            except asyncio.CancelledError:
                kept = "; the partial answer is kept" if printer.text else ""
                printer.notice(f"interrupted{kept} in session {turn.session.id[:8]}")
                return EXIT_INTERRUPTED  # said once here; re-raising would say it again
            return printer.finish(result)
        finally:
            await store.close()

    code = _run_async(go)
    sys.exit(code)


# --- sessions -------------------------------------------------------------------------------


@main.group(context_settings=CONTEXT_SETTINGS)
def sessions() -> None:
    """List, show, export and delete chat sessions (ids accept unique prefixes)."""


async def _message_feedback(store: Any, messages: list[Any]) -> dict[str, Any]:
    from ai_workbench.core.feedback import FeedbackService

    return await FeedbackService(store).for_targets("message", [m.id for m in messages])


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
        store = await _open_store()
        try:
            listed, failed = await SessionService(store).listing(limit, include_failed=show_all)
            print_sessions(listed, as_json=as_json, failed=failed, hidden=not show_all)
        finally:
            await store.close()

    _run_async(go)


@sessions.command("show", context_settings=CONTEXT_SETTINGS)
@click.argument("session_id", metavar="ID")
def sessions_show(session_id: str) -> None:
    """Print a session's conversation (Markdown on a terminal, plain when piped)."""
    from ai_workbench.cli.output import print_markdown, session_markdown

    async def go() -> None:
        store = await _open_store()
        try:
            found = await store.get_session(session_id)
            messages = await store.get_messages(found.id)
            feedback = await _message_feedback(store, messages)
            print_markdown(session_markdown(found, messages, feedback))
        finally:
            await store.close()

    _run_async(go)


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
    from ai_workbench.cli.output import session_json, session_markdown

    async def go() -> None:
        store = await _open_store()
        try:
            found = await store.get_session(session_id)
            messages = await store.get_messages(found.id)
            feedback = await _message_feedback(store, messages)
            render = session_markdown if fmt == "md" else session_json
            text = render(found, messages, feedback)
        finally:
            await store.close()
        if output:
            output.write_text(text, encoding="utf-8")
            click.echo(f"wrote {output}", err=True)
        else:
            click.echo(text, nl=not text.endswith("\n"))

    _run_async(go)


@sessions.command("rm", context_settings=CONTEXT_SETTINGS)
@click.argument("session_ids", metavar="ID...", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def sessions_rm(session_ids: tuple[str, ...], yes: bool) -> None:
    """Delete sessions and their messages."""

    async def go() -> None:
        store = await _open_store()
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

    _run_async(go)


# --- personas and plugins -------------------------------------------------------------------


@main.group(context_settings=CONTEXT_SETTINGS)
def personas() -> None:
    """Expert system prompts: bundled, in your config dir, and in the project's .aiw/personas."""


@personas.command("list", context_settings=CONTEXT_SETTINGS)
def personas_list() -> None:
    """Every persona with its origin and description."""
    from ai_workbench.chat.personas import load_personas
    from ai_workbench.cli.output import print_table

    loaded = _load()
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

    loaded = _load()
    catalog = load_personas(loaded.project_root)
    try:
        persona = catalog.get(name)
    except Exception as exc:
        _fail(str(exc).strip("'\""), 3)
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


@main.group(context_settings=CONTEXT_SETTINGS)
def plugins() -> None:
    """Context plugins that add domain knowledge to prompts (--context NAME)."""


@plugins.command("list", context_settings=CONTEXT_SETTINGS)
def plugins_list() -> None:
    """Every context plugin with its origin; load failures are reported."""
    from ai_workbench.chat.plugins import discover_plugins
    from ai_workbench.cli.output import print_table

    loaded = _load()
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


# --- config ---------------------------------------------------------------------------------


@main.group(context_settings=CONTEXT_SETTINGS)
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

    loaded = _load(ctx)
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
    from ai_workbench.core.settings import user_config_path
    from ai_workbench.core.store import default_db_path

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

    path, parsed = _guard(lambda: set_user_value(key, value))
    click.echo(f"{key} = {parsed!r} written to {path}", err=True)


# --- command groups defined in ai_workbench/commands/ -------------------------------------
# Imported when used (or listed by --help), so `aiw` opening the workbench pays nothing for them.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
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
}


def run() -> None:  # pragma: no cover - console entry point alias
    main()
