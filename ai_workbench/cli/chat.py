"""`aiw ask`: one chat turn from the terminal, streamed and saved in a session.

:class:`ai_workbench.chat.service.ChatService` does the turn; this module reads the flags and
stdin and prints (:class:`ai_workbench.cli.output.AnswerPrinter`).
"""

from __future__ import annotations

import asyncio
import sys

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, fail, load_settings, open_store, run_async
from ai_workbench.core.errors import EXIT_CODES_HELP, EXIT_INTERRUPTED


@click.command(
    context_settings=CONTEXT_SETTINGS,
    epilog="\b\nExamples:\n"
    '  aiw ask "why does my Dockerfile rebuild every layer?" -f Dockerfile\n'
    '  git diff | aiw ask "write a commit message for this"\n'
    '  aiw ask --new-session --persona core/SA-1 "design an auth service"\n'
    '  aiw ask --session 3f2a "now add rate limiting"\n'
    '  aiw ask --model openai/NAME --api-base http://127.0.0.1:8080/v1 "hello"\n'
    '  aiw ask --mcp git "what changed in the last three commits?"\n'
    '  aiw ask --autonomous "make the failing test pass"   # = aiw agent GOAL\n\n'
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
@click.option(
    "--autonomous",
    is_flag=True,
    help="Carry out PROMPT as a goal with tools: the same as aiw agent PROMPT (see aiw agent -h).",
)
@click.option(
    "--mode",
    "agent_mode",
    type=click.Choice(["plan", "ask", "auto-edit", "full-auto"]),
    help="With --autonomous: the agent's mode (default: config [agent] mode).",
)
@click.option(
    "--max-steps",
    type=click.IntRange(1, 1000),
    help="With --autonomous: tool calls the run may make (default: [agent] max_steps).",
)
@click.option(
    "--mcp",
    "mcp_servers",
    multiple=True,
    metavar="NAME",
    help="Offer this MCP server's tools to the model (repeatable; aiw mcp list).",
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
    autonomous: bool,
    agent_mode: str | None,
    max_steps: int | None,
    mcp_servers: tuple[str, ...],
) -> None:
    """Ask a model; the answer streams to the terminal and is saved in a session.

    Piped output is plain text (only the answer), so `aiw ask "..." > file` works.
    Text piped to stdin is attached to the prompt.
    """
    if sum(bool(x) for x in (session, continue_last, new_session)) > 1:
        fail("use only one of --session, --continue and --new-session", 2)
    if as_json and code_only:
        fail("use either --json or --code", 2)
    if api_base and not model and not provider:
        fail("--api-base needs --model (the model's name on that server)", 2)
    if (agent_mode or max_steps) and not autonomous:
        fail("--mode and --max-steps go with --autonomous (or use aiw agent)", 2)
    if autonomous:  # `ai --autonomous "GOAL"` users: the agent, with its policy and log
        from ai_workbench.cli.agent import run_agent

        sys.exit(
            run_agent(
                ctx, " ".join(prompt), model=model, api_base=api_base, provider=provider,
                persona=persona, files=files, mcp_servers=mcp_servers, offline=offline,
                as_json=as_json, mode=agent_mode, max_steps=max_steps,
            )
        )  # fmt: skip
    loaded = load_settings(ctx, offline=offline or None, engine=engine)
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

        store = await open_store()
        hub = toolbox = None
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
            if mcp_servers:
                from ai_workbench.cli.mcp import open_tools

                hub, toolbox = await open_tools(loaded, mcp_servers, printer)
            from ai_workbench.cli.task import chat_task_tools

            task_tools = chat_task_tools(loaded, text)
            if task_tools is not None:
                from ai_workbench.core.llm.tools import Toolboxes

                toolbox = Toolboxes(toolbox, task_tools)
            if loaded.settings.memory.offer_tool and loaded.settings.memory.enabled:
                from ai_workbench.cli.memory import memory_tools
                from ai_workbench.memory.tools import with_memory_tools

                toolbox = with_memory_tools(toolbox, memory_tools(loaded, store, printer))
            if turn.created_session and new_session:
                printer.notice(f"new session {turn.session.id[:8]} (full id {turn.session.id})")
            printer.waiting_for = f"{turn.chain[0].model} at {turn.chain[0].endpoint}"
            try:
                with printer:
                    result = await service.run(
                        turn, printer.write, notice=printer.notice, tools=toolbox
                    )
            except asyncio.CancelledError:
                kept = "; the partial answer is kept" if printer.text else ""
                printer.notice(f"interrupted{kept} in session {turn.session.id[:8]}")
                return EXIT_INTERRUPTED  # said once here; re-raising would say it again
            code = printer.finish(result)
            if task_tools is not None and task_tools.proposals:
                from ai_workbench.cli.task import confirm_proposals, tty_ask

                interactive = sys.stdin.isatty() and sys.stderr.isatty() and not as_json
                await confirm_proposals(
                    task_tools.proposals, store, ask=tty_ask if interactive else None,
                    say=printer.notice,
                )  # fmt: skip
            return code
        finally:
            if hub is not None:
                await hub.close()
            await store.close()

    code = run_async(go)
    sys.exit(code)
