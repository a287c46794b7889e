"""`aiw memory add|list|edit|forget|clear|search|profile|summarize`: what aiw remembers about you.

Also the terminal side of the model's ``remember_fact`` proposals (:func:`memory_tools`): asked
at a terminal, printed with the exact ``aiw memory add`` command when there is none.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, fail, load_settings, open_store, run_async
from ai_workbench.core.errors import EXIT_INPUT
from ai_workbench.core.sanitize import strip_controls

TIER_CHOICES = ("short", "medium", "long", "all")
_USER_HELP = "Whose memory (the server's users; default: the local user)."


def _service(store: Any, loaded: Any) -> Any:
    from ai_workbench.memory.service import MemoryService

    return MemoryService(store, loaded.settings.memory, loaded.settings.knowledge)


def _can_ask() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def _age(when: float) -> str:
    seconds = max(0.0, time.time() - when)
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return "just now"


def _redacted_notice(counts: dict[str, int]) -> None:
    if counts:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        click.echo(f"redacted {sum(counts.values())} secret(s) before storing: {kinds}", err=True)


@click.group(context_settings=CONTEXT_SETTINGS)
def memory() -> None:
    """What aiw remembers about you: profile facts (in every prompt), session summaries.

    \b
    Tiers:
      long    facts you added or confirmed; pinned ones form your profile block
      medium  a summary of each finished session (kept [memory] medium_days)
      short   the rolling summary of a long session's older turns
    """


@memory.command("add", context_settings=CONTEXT_SETTINGS)
@click.argument("text", nargs=-1, required=True)
@click.option(
    "--recall-only",
    is_flag=True,
    help="Not in every prompt: offered to the model only when a prompt is about it.",
)
@click.option("--user", "owner", default="local", show_default=True, help=_USER_HELP)
def memory_add(text: tuple[str, ...], recall_only: bool, owner: str) -> None:
    """Remember a fact about you (secrets are redacted first).

    \b
    aiw memory add "My timezone is Europe/Berlin"
    aiw memory add "I deploy with Helm on k3s" --recall-only
    """
    loaded = load_settings()

    async def go() -> None:
        store = await open_store()
        try:
            added = await _service(store, loaded).add(
                " ".join(text), owner=owner, pinned=not recall_only
            )
        finally:
            await store.close()
        _redacted_notice(added.redacted)
        fact = added.memory
        if added.duplicate:
            click.echo(f"already remembered as #{fact.id}: {strip_controls(fact.content)}")
        else:
            where = "recalled when relevant" if recall_only else "in your profile"
            click.echo(f"remembered #{fact.id} ({where}): {strip_controls(fact.content)}")

    run_async(go)


@memory.command("list", context_settings=CONTEXT_SETTINGS)
@click.option("--tier", type=click.Choice(["short", "medium", "long"]), help="Only this tier.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--user", "owner", default="local", show_default=True, help=_USER_HELP)
def memory_list(tier: str | None, as_json: bool, owner: str) -> None:
    """Everything remembered, facts first (* = pinned: in every prompt)."""
    loaded = load_settings()

    async def go() -> None:
        store = await open_store()
        try:
            service = _service(store, loaded)
            items = await service.list(tier, owner=owner)
            _, outside = await service.profile(owner=owner)
        finally:
            await store.close()
        if as_json:
            click.echo(json.dumps([m.to_json() for m in items], indent=2, ensure_ascii=False))
            return
        if not items:
            click.echo('nothing remembered yet; add a fact: aiw memory add "I use Python 3.12"')
            return
        left_out = {m.id for m in outside}
        current = None
        for item in items:
            if item.tier != current:
                current = item.tier
                click.echo(click.style(_TIER_TITLES[item.tier], bold=True))
            mark = "*" if item.pinned else " "
            extra = f"  [session {item.session_id[:8]}]" if item.session_id else ""
            if item.id in left_out:
                extra += "  (over the profile budget: recalled when relevant)"
            if item.source == "model":
                extra += "  (proposed by the model, confirmed)"
            text = strip_controls(item.content)
            if item.tier != "long":
                text = " ".join(text.split())
                text = text if len(text) <= 160 else text[:159] + "…"
            click.echo(f"  #{item.id:<5}{mark} {text}  ({_age(item.updated)}){extra}")

    run_async(go)


_TIER_TITLES = {
    "long": "Facts (long-term; * in every prompt)",
    "medium": "Session summaries (medium-term)",
    "short": "Long-session summaries (short-term)",
}


@memory.command("edit", context_settings=CONTEXT_SETTINGS)
@click.argument("memory_id", metavar="ID", type=int)
@click.argument("text", nargs=-1, required=True)
@click.option("--pin/--recall-only", default=None, help="In every prompt, or only when relevant.")
@click.option("--user", "owner", default="local", show_default=True, help=_USER_HELP)
def memory_edit(memory_id: int, text: tuple[str, ...], pin: bool | None, owner: str) -> None:
    """Replace a remembered fact's text."""
    loaded = load_settings()

    async def go() -> None:
        store = await open_store()
        try:
            edited = await _service(store, loaded).edit(
                memory_id, " ".join(text), owner=owner, pinned=pin
            )
        finally:
            await store.close()
        _redacted_notice(edited.redacted)
        click.echo(f"#{edited.memory.id}: {strip_controls(edited.memory.content)}")

    run_async(go)


@memory.command("forget", context_settings=CONTEXT_SETTINGS)
@click.argument("memory_ids", metavar="ID...", type=int, nargs=-1, required=True)
@click.option("--user", "owner", default="local", show_default=True, help=_USER_HELP)
def memory_forget(memory_ids: tuple[int, ...], owner: str) -> None:
    """Forget memories by id (aiw memory list shows them)."""
    loaded = load_settings()

    async def go() -> None:
        store = await open_store()
        try:
            service = _service(store, loaded)
            for memory_id in memory_ids:
                gone = await service.forget(memory_id, owner=owner)
                click.echo(f"forgot #{gone.id}: {strip_controls(gone.content)[:120]}")
        finally:
            await store.close()

    run_async(go)


@memory.command("clear", context_settings=CONTEXT_SETTINGS)
@click.option("--tier", type=click.Choice(TIER_CHOICES), required=True, help="Which tier.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--user", "owner", default="local", show_default=True, help=_USER_HELP)
def memory_clear(tier: str, yes: bool, owner: str) -> None:
    """Delete every memory of a tier (or all of them)."""
    loaded = load_settings()

    async def go() -> None:
        store = await open_store()
        try:
            service = _service(store, loaded)
            counts = await service.counts(owner=owner)
            tiers = ("short", "medium", "long") if tier == "all" else (tier,)
            total = sum(counts[t] for t in tiers)
            what = ", ".join(f"{counts[t]} {t}" for t in tiers)
            if total == 0:
                click.echo(f"nothing to clear ({what})")
                return
            if not yes:
                if not _can_ask():
                    fail(f"not clearing {what} without --yes (no terminal to ask on)", EXIT_INPUT)
                asked = f"delete {total} memor{'y' if total == 1 else 'ies'} ({what})?"
                if not click.confirm(asked, default=False, err=True):
                    click.echo("kept", err=True)
                    return
            removed = await service.clear(tier, owner=owner)
        finally:
            await store.close()
        click.echo("cleared " + ", ".join(f"{n} {t}" for t, n in removed.items()))

    run_async(go)


@memory.command("search", context_settings=CONTEXT_SETTINGS)
@click.argument("query", nargs=-1, required=True)
@click.option("-l", "--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--user", "owner", default="local", show_default=True, help=_USER_HELP)
def memory_search(query: tuple[str, ...], limit: int, as_json: bool, owner: str) -> None:
    """Search remembered facts and session summaries."""
    loaded = load_settings()

    async def go() -> None:
        store = await open_store()
        try:
            hits = await _service(store, loaded).search(" ".join(query), owner=owner, limit=limit)
        finally:
            await store.close()
        if as_json:
            rows = [{**m.to_json(), "snippet": snip} for m, snip in hits]
            click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
            return
        if not hits:
            click.echo("no memory matches", err=True)
            sys.exit(1)
        for item, snip in hits:
            where = f" session {item.session_id[:8]}" if item.session_id else ""
            click.echo(f"#{item.id} {item.tier}{where}: {strip_controls(' '.join(snip.split()))}")

    run_async(go)


@memory.command("profile", context_settings=CONTEXT_SETTINGS)
@click.option("--user", "owner", default="local", show_default=True, help=_USER_HELP)
def memory_profile(owner: str) -> None:
    """Print the profile block exactly as it goes into every system prompt."""
    loaded = load_settings()

    async def go() -> None:
        from ai_workbench.core.context import estimate_tokens

        store = await open_store()
        try:
            block = await _service(store, loaded).profile_block(owner=owner)
        finally:
            await store.close()
        if not block:
            click.echo('the profile is empty (aiw memory add "...")', err=True)
            return
        click.echo(strip_controls(block))
        budget = loaded.settings.memory.profile_tokens
        click.echo(f"~{estimate_tokens(block)} tokens (budget {budget})", err=True)

    run_async(go)


@memory.command("summarize", context_settings=CONTEXT_SETTINGS)
@click.option("-s", "--session", "session_id", metavar="ID", help="This session, now.")
@click.option("-l", "--limit", type=int, default=5, show_default=True, help="At most this many.")
@click.option("--user", "owner", default="local", show_default=True, help=_USER_HELP)
def memory_summarize(session_id: str | None, limit: int, owner: str) -> None:
    """Write the medium-term summaries of finished sessions (idle [memory]
    finished_after_minutes, not summarised yet), each with the session's model."""
    loaded = load_settings()

    async def go() -> None:
        from ai_workbench.chat.service import ChatService

        store = await open_store()
        try:
            service = ChatService(loaded, store)
            say = lambda text: click.echo(f"aiw: {strip_controls(text)}", err=True)  # noqa: E731
            written = await service.summarize_sessions(
                owner=owner, session_id=session_id, limit=limit, notice=say
            )
        finally:
            await store.close()
        if not written:
            click.echo("no finished session to summarise", err=True)
        for session, text in written:
            title = strip_controls(session.title) or "Untitled"
            click.echo(f"{session.id[:8]} {title}: {strip_controls(' '.join(text.split()))}")

    run_async(go)


# ---- the model's proposals during `aiw ask`


def memory_tools(loaded: Any, store: Any, printer: Any, owner: str = "local") -> Any:
    """The ``remember_fact`` tool for `aiw ask` (None when ``[memory] offer_tool`` is off):
    confirmed at a terminal; without one, the proposal and its command are printed instead."""
    settings = loaded.settings.memory
    if not (settings.enabled and settings.offer_tool):
        return None
    from ai_workbench.memory.tools import MemoryTools, Proposal

    async def confirm(proposal: Proposal) -> bool:
        if not _can_ask():
            printer.notice(
                f"the model proposes remembering: {proposal.fact}\n"
                f"     not saved (no terminal to confirm on); to save it: {proposal.command}"
            )
            return False
        with printer.paused():
            click.echo(f"aiw: the model proposes remembering: {proposal.fact}", err=True)
            return bool(
                await asyncio.to_thread(
                    click.confirm, "     remember this?", default=False, err=True
                )
            )

    return MemoryTools(
        _service(store, loaded), confirm, owner=owner, report=lambda line: printer.notice(line)
    )
