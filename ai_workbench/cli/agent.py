"""`aiw agent`: carry out a goal with tools, watch it work, approve what it asks; its log; rate it.

``aiw agent "GOAL"`` runs :class:`ai_workbench.agent.service.AgentService` and prints its events:
the model's text as it streams, one line per step (tool, target, decision, result), approvals and
questions asked at the terminal, and the summary. ``aiw agent log`` and ``aiw agent rate`` look
back. ``aiw ask --autonomous`` calls :func:`run_agent` too.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from ai_workbench.agent.exits import EXIT_AGENT_HELP
from ai_workbench.cli.common import CONTEXT_SETTINGS, fail, load_settings, open_store, run_async
from ai_workbench.core.errors import EXIT_INTERRUPTED, EXIT_USAGE

MODES = ("plan", "ask", "auto-edit", "full-auto")
_CHOICES = {
    "o": "once",
    "once": "once",
    "y": "once",
    "yes": "once",
    "r": "run",
    "run": "run",
    "a": "always",
    "always": "always",
    "d": "deny",
    "deny": "deny",
    "n": "deny",
    "no": "deny",
}
_RUN_EPILOG = (
    "\b\nExamples:\n"
    '  aiw agent "make the failing test in tests/test_calc.py pass"\n'
    '  aiw agent --mode plan "how would you split cli.py into modules?"\n'
    '  aiw agent --mode full-auto --max-steps 30 "upgrade the Dockerfile to python 3.12"\n'
    '  aiw agent --model openai/NAME --api-base http://127.0.0.1:8080/v1 "fix the lint errors"\n'
    '  aiw agent --mcp git "summarise the last three commits in CHANGES.md"\n'
    "  aiw agent log            # the latest run, step by step\n"
    "  aiw agent rate 12 + -m 'clean fix'\n\n"
    "\b\nModes: plan (read only), ask (default: every write and command asks), auto-edit\n"
    "(edits run, commands ask), full-auto (edits and allowed commands run in the sandbox).\n"
    "Without a terminal, anything that must ask is refused and reported.\n\n"
    "\b\n" + EXIT_AGENT_HELP
)


class _AgentGroup(click.Group):
    """``aiw agent GOAL`` runs a goal; ``aiw agent log|rate|run`` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("agent", cls=_AgentGroup, context_settings=CONTEXT_SETTINGS, epilog=_RUN_EPILOG)
def agent() -> None:
    """Carry out a goal with tools, under the permission policy, with an audit log.

    `aiw agent "GOAL" [options]` is `aiw agent run "GOAL" [options]` (see `aiw agent run -h`).
    """


def run_options(command: Any) -> Any:
    options = [
        click.option(
            "--mode",
            type=click.Choice(MODES),
            help="What runs without asking (default: [agent] mode, else ask).",
        ),
        click.option("--max-steps", type=click.IntRange(1, 1000), help="Tool calls at most."),
        click.option(
            "--max-seconds", type=click.FloatRange(1), help="Wall-clock limit of the run."
        ),
        click.option("--max-tokens", type=click.IntRange(100), help="Token budget of the run."),
        click.option(
            "--max-cost",
            type=click.FloatRange(0, min_open=True),
            metavar="USD",
            help="Cost budget of the run (providers with prices; default: [agent] max_cost).",
        ),
        click.option("-m", "--model", help="Model (litellm name) or provider profile."),
        click.option("--api-base", metavar="URL", help="Endpoint for --model (OpenAI-compatible)."),
        click.option("-P", "--provider", help="Provider profile from config ([providers.NAME])."),
        click.option("-p", "--persona", help="Persona, e.g. core/SA-1 (aiw personas list)."),
        click.option(
            "-f",
            "--file",
            "files",
            multiple=True,
            metavar="PATH",
            help="Attach a file or glob to the goal (repeatable).",
        ),
        click.option(
            "--mcp",
            "mcp_servers",
            multiple=True,
            metavar="NAME",
            help="Offer this MCP server's tools, as mcp__NAME__TOOL (repeatable; aiw mcp list; "
            "default: [agent] mcp_servers). Each call passes the policy.",
        ),
        click.option(
            "--offline", is_flag=True, default=None, help="Refuse providers off this machine."
        ),
        click.option("--json", "as_json", is_flag=True, help="Print the events as JSON lines."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@agent.command("run", context_settings=CONTEXT_SETTINGS, epilog=_RUN_EPILOG)
@click.argument("goal", nargs=-1, required=True)
@run_options
@click.pass_context
def agent_run(ctx: click.Context, goal: tuple[str, ...], **options: Any) -> None:
    """Carry out GOAL: the model works with tools, you approve what the policy asks."""
    sys.exit(run_agent(ctx, " ".join(goal), **options))


def run_agent(
    ctx: click.Context,
    goal: str,
    *,
    mode: str | None = None,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    max_tokens: int | None = None,
    max_cost: float | None = None,
    model: str | None = None,
    api_base: str | None = None,
    provider: str | None = None,
    persona: str | None = None,
    files: Sequence[str] = (),
    mcp_servers: Sequence[str] = (),
    offline: bool | None = None,
    as_json: bool = False,
) -> int:
    """Run one goal headless; the exit code (see EXIT_AGENT_HELP)."""
    if not goal.strip():
        fail('give a goal, e.g. aiw agent "make the tests pass"', EXIT_USAGE)
    if api_base and not model and not provider:
        fail("--api-base needs --model (the model's name on that server)", EXIT_USAGE)
    loaded = load_settings(ctx, offline=offline or None)

    async def go() -> int:
        from ai_workbench.agent.service import AgentRequest, AgentService, interactive_terminal

        store = await open_store()
        try:
            service = AgentService(loaded, store)
            request = AgentRequest(
                goal=goal,
                mode=mode,
                model=model,
                api_base=api_base,
                provider=provider,
                persona=persona,
                files=files,
                max_steps=max_steps,
                wall_clock_s=max_seconds,
                token_budget=max_tokens,
                cost_budget=max_cost,
                mcp_servers=list(mcp_servers) if mcp_servers else None,
                interactive=interactive_terminal(),
            )
            run = await service.start(request)
            view = RunView(as_json)
            try:
                async for event in run.events():
                    await view.show(event)
            except asyncio.CancelledError:
                summary = await run.stop()
                view.line(f"stopped run {run.id}; `aiw agent log {run.id}` shows its steps")
                view.finish(summary)
                return EXIT_INTERRUPTED
            return run.exit_code
        finally:
            await store.close()

    return run_async(go)


class RunView:
    """Prints a run's events: text as it streams, one line per step, prompts, the summary."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.at_line_start = True

    def out(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()
        if text:
            self.at_line_start = text.endswith("\n")

    def line(self, text: str) -> None:
        from ai_workbench.core.sanitize import strip_controls

        if self.as_json:
            sys.stderr.write(f"aiw: {strip_controls(text)}\n")
            return
        if not self.at_line_start:
            self.out("\n")
        self.out(strip_controls(text) + "\n")

    async def show(self, event: Any) -> None:
        from ai_workbench.agent import events as ev

        if self.as_json:
            self.out(json.dumps(event.to_dict(), ensure_ascii=False, default=str) + "\n")
        if isinstance(event, (ev.ApprovalNeeded, ev.QuestionAsked)) and event.reply is not None:
            await self.prompt(event)
            return
        if self.as_json:
            return
        if isinstance(event, ev.RunStarted):
            sandbox = f" · sandbox {event.sandbox}" if event.sandbox else ""
            self.line(f"agent run {event.run_id} · mode {event.mode} · {event.model}{sandbox}")
        elif isinstance(event, ev.TextDelta):
            self.out(event.text)
        elif isinstance(event, ev.StepFinished):
            self.line(step_line(event.step))
        elif isinstance(event, ev.Notice):
            from ai_workbench.core.sanitize import strip_controls

            sys.stderr.write(f"aiw: {strip_controls(event.text)}\n")
        elif isinstance(event, ev.QuestionAsked):
            self.line(f"? {event.question}")
        elif isinstance(event, ev.RunFinished):
            self.finish(event.summary)

    def finish(self, summary: Any) -> None:
        if self.as_json:
            return
        self.line("")
        self.out(summary.text() + "\n")

    async def prompt(self, event: Any) -> None:
        from ai_workbench.agent import events as ev
        from ai_workbench.core.sanitize import strip_controls

        err = sys.stderr
        if not self.at_line_start:
            self.out("\n")
        if isinstance(event, ev.QuestionAsked):
            err.write(f"\n? {strip_controls(event.question)}\n")
            answer = await read_line("your answer (empty: none): ")
            event.reply.set_result(answer)
            return
        request = event.request
        detail = strip_controls(str(getattr(request, "detail", "") or ""))
        err.write(f"\n⚠ {strip_controls(str(getattr(request, 'summary', '')))}\n")
        reason = getattr(request, "reason", "")
        if reason:
            err.write(f"  why it asks: {strip_controls(str(reason))}\n")
        if detail:
            err.write("  ┌───\n")
            for text in detail.splitlines() or [""]:
                err.write(f"  │ {text}\n")
            err.write("  └───\n")
        rule = strip_controls(str(getattr(request, "rule", "") or ""))
        always = f"[a]lways (adds {rule} to your settings) / " if rule else ""
        while True:
            answer = await read_line(
                f"allow? [o]nce / [r]un: always in this run / {always}[d]eny: "
            )
            choice = _CHOICES.get(answer.lower()) if answer else "deny"
            if choice == "always" and not rule:
                choice = None
            if choice is not None:
                break
            err.write("  type o, r, a or d\n")
        event.reply.set_result(choice)


async def read_line(prompt: str) -> str:
    """One line from the terminal without blocking the event loop (EOF: empty)."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[str] = loop.create_future()
    fd = sys.stdin.fileno()

    def ready() -> None:
        if not fut.done():
            fut.set_result(sys.stdin.readline())

    loop.add_reader(fd, ready)
    try:
        return (await fut).strip()
    finally:
        loop.remove_reader(fd)


def step_line(step: Any) -> str:
    """``▸ 3 run_command  pytest -q  [auto] → exit 0``: tool, target, decision, result."""
    result = step.summary or ""
    if step.exit_code is not None:
        result = f"exit {step.exit_code}" + (f" · {result}" if result and not
                                             result.startswith("exit") else "")  # fmt: skip
    if step.changed_files:
        result = f"changed {', '.join(step.changed_files)}" + (f" · {result}" if result else "")
    mark = "✗" if step.refused or step.is_error else "▸"
    target = f"  {step.target}" if step.target else ""
    return f"{mark} {step.n} {step.tool}{target}  [{step.decision}] → {result or 'ok'}"


# --- looking back ---------------------------------------------------------------------------


@agent.command("log", context_settings=CONTEXT_SETTINGS)
@click.argument("run", required=False)
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("-d", "--diffs", is_flag=True, help="Show each step's diff.")
@click.option("--list", "as_list", is_flag=True, help="List recent runs (the default without RUN).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agent_log(
    ctx: click.Context, run: str | None, limit: int, diffs: bool, as_list: bool, as_json: bool
) -> None:
    """Show run RUN step by step, or list the recent runs."""
    loaded = load_settings(ctx)

    async def go() -> None:
        from ai_workbench.agent.service import AgentService

        store = await open_store()
        try:
            service = AgentService(loaded, store)
            if run is None or as_list:
                records = await service.list_runs(limit)
                if as_json:
                    click.echo(json.dumps([r.to_dict() for r in records], default=str, indent=2))
                    return
                if not records:
                    click.echo('no agent runs yet; start one with aiw agent "GOAL"')
                    return
                for record in records:
                    click.echo(_run_row(record))
                return
            record = await service.show(run)
            if as_json:
                click.echo(json.dumps(record.to_dict(), default=str, indent=2))
                return
            click.echo(_run_detail(record, diffs))
        finally:
            await store.close()

    run_async(go)


def _when(stamp: float | None) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "-"


def _run_row(record: Any) -> str:
    from ai_workbench.core.sanitize import strip_controls

    goal = " ".join(record.goal.split())
    goal = goal if len(goal) <= 60 else goal[:59] + "…"
    rating = {1: " 👍", -1: " 👎"}.get(record.rating or 0, "")
    return strip_controls(
        f"{record.id:>4}  {_when(record.started)}  {record.status:<9} {record.steps:>3} steps  "
        f"{record.mode:<9} {goal}{rating}"
    )


def _run_detail(record: Any, diffs: bool) -> str:
    from ai_workbench.core.sanitize import strip_controls

    lines = [
        f"run {record.id}: {record.goal}",
        f"  mode {record.mode} · {record.model} · {record.protocol or '?'} protocol"
        + (f" · sandbox {record.sandbox}" if record.sandbox else ""),
        f"  started {_when(record.started)} · ended {_when(record.ended)} · {record.status}"
        + (f": {record.exit_reason}" if record.exit_reason else ""),
        f"  project {record.project}"
        + (f" · session {record.session_id[:8]}" if record.session_id else ""),
    ]
    if record.rating:
        comment = f" — {record.comment}" if record.comment else ""
        lines.append(f"  rated {'+1' if record.rating > 0 else '-1'}{comment}")
    lines.append("steps:")
    if not record.step_rows:
        lines.append("  (none)")
    for step in record.step_rows:
        code = f" exit {step.exit_code}" if step.exit_code is not None else ""
        args = json.dumps(step.args, ensure_ascii=False)
        args = args if len(args) <= 200 else args[:199] + "…"
        lines.append(
            f"  {step.n:>3} {step.tool:<12} [{step.decision}]{code} {step.duration_ms or 0:.0f}ms"
            f"  {args}"
        )
        if step.summary:
            lines.append(f"      → {step.summary}")
        if diffs and step.diff:
            lines.extend(f"      {line}" for line in step.diff.splitlines())
    summary = record.summary or {}
    if summary:
        lines.append("summary:")
        files = summary.get("files") or []
        lines.append(
            "  files changed: "
            + (", ".join(f"{f['path']} (+{f['added']} -{f['removed']})" for f in files) or "none")
        )
        tests = summary.get("tests") or []
        if tests:
            last = tests[-1]
            verdict = "passed" if last.get("passed") else "failed"
            lines.append(f"  tests: {last['command']} {verdict} {last.get('counts') or ''}")
        if summary.get("question"):
            lines.append(f"  question: {summary['question']}")
        if summary.get("left"):
            lines.append(f"  left to do: {summary['left']}")
        if summary.get("final_text"):
            lines.append(f"  model's summary: {summary['final_text']}")
    tokens = (record.tokens_in or 0) + (record.tokens_out or 0)
    lines.append(f"  {record.steps} step(s), {tokens} tokens")
    return strip_controls("\n".join(lines))


@agent.command("rate", context_settings=CONTEXT_SETTINGS)
@click.argument("run")
@click.argument("rating")
@click.option("-m", "--comment", help="Why (redacted before it is stored).")
@click.pass_context
def agent_rate(ctx: click.Context, run: str, rating: str, comment: str | None) -> None:
    """Rate run RUN: + (like) or - (dislike), with an optional comment."""
    value = {"+": 1, "like": 1, "up": 1, "1": 1, "-": -1, "dislike": -1, "down": -1}.get(
        rating.lower()
    )
    if value is None:
        fail(f"rating '{rating}': use + (like) or - (dislike)", EXIT_USAGE)
    loaded = load_settings(ctx)

    async def go() -> None:
        from ai_workbench.agent.service import AgentService

        store = await open_store()
        try:
            record = await AgentService(loaded, store).rate(run, value, comment)
        finally:
            await store.close()
        word = "liked" if value > 0 else "disliked"
        click.echo(f"{word} run {record.id}" + (f": {record.comment}" if record.comment else ""))

    run_async(go)
