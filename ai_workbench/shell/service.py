"""Shell events end to end: record a failure, analyse it (or reuse a cached analysis), store
the result and queue a ``shell`` suggestion for the workbench. Used by the detached worker
and by ``aiw explain``."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ai_workbench.core.db import Database
from ai_workbench.core.redact import redact_text
from ai_workbench.shell.analysis import (
    Fix,
    ask_model,
    build_context,
    build_messages,
    cache_key,
    parse_reply,
    rate_fixes,
)
from ai_workbench.shell.capture import Capture
from ai_workbench.shell.events import ShellEventStore, StoredEvent
from ai_workbench.shell.spool import ShellEvent

__all__ = ["analyse", "fixes_of", "record", "suggestion_body"]

RISK_MARK = {"safe": "safe", "moderate": "moderate", "dangerous": "DANGEROUS"}


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


async def record(
    store: Database,
    event: ShellEvent,
    capture: Capture,
    *,
    ignored: str | None = None,
    history: Sequence[str] = (),
) -> StoredEvent:
    """Store the event (redacted); ``history``: the session's commands before it, kept (redacted)
    in its context so a later analysis (`aiw explain`) still has them."""
    events = ShellEventStore(store)
    stored = await events.record(
        event,
        user=_user(),
        stderr=capture.text,
        capture=capture.source if capture.text is not None else f"none:{capture.source}",
        status="ignored" if ignored else "new",
        error=ignored or (capture.note or None),
    )
    if history and stored.context is None:
        await events.update(stored.id, context={"history": [redact_text(h) for h in history]})
        stored = await events.get(stored.id)
    return stored


def fixes_of(stored: StoredEvent) -> list[Fix]:
    out = []
    for item in stored.suggestions:
        out.append(
            Fix(
                description=str(item.get("description", "")),
                command=str(item.get("command", "")),
                risk_level=str(item.get("risk_level", "moderate")),
                model_risk=item.get("model_risk"),
                reasons=list(item.get("reasons") or []),
            )
        )
    return out


def suggestion_body(stored: StoredEvent, fixes: list[Fix]) -> str:
    lines = [stored.explanation or "(no explanation)", ""]
    if fixes:
        lines.append("**Fixes**")
        lines.append("")
        for number, fix in enumerate(fixes, 1):
            why = f" ({'; '.join(fix.reasons)})" if fix.reasons else ""
            mark = RISK_MARK.get(fix.risk_level, fix.risk_level)
            lines.append(f"{number}. [{mark}]{why} {fix.description}")
            lines.append("")
            lines.append(f"   ```sh\n   {fix.command}\n   ```")
    lines.append("")
    lines.append(
        f"`{stored.command}` exited {stored.exit_code} in `{stored.cwd}`"
        f" · `aiw explain --id {stored.id}`"
    )
    return "\n".join(lines)


async def _queue(store: Database, stored: StoredEvent, fixes: list[Fix]) -> int | None:
    from ai_workbench.suggestions.service import (
        ACTION_ASK,
        ACTION_COPY,
        ACTION_DISMISS,
        ACTION_RUN,
        ACTION_VIEW,
        SuggestionQueue,
    )

    actions: list[tuple[str, str]] = []
    first = fixes[0] if fixes else None
    if first is not None:
        actions.append((ACTION_RUN, "Run a fix…"))
        actions.append((ACTION_COPY, f"Copy fix ({first.risk_level})"))
    actions += [(ACTION_ASK, "Explain further"), (ACTION_VIEW, "View"), (ACTION_DISMISS, "Dismiss")]
    payload: dict[str, Any] = {
        "event_id": stored.id,
        "cwd": stored.cwd,
        "exit_code": stored.exit_code,
        "failed_command": stored.command,
        "commands": [
            {"description": f.description, "command": f.command, "risk_level": f.risk_level}
            for f in fixes
        ],
        "prompt": (
            f"My command `{stored.command}` failed with exit code {stored.exit_code} in "
            f"{stored.cwd}.\n\nOutput:\n```\n{stored.stderr or '(unavailable)'}\n```\n\n"
            f"aiw explained: {stored.explanation}\n\nPlease explain further."
        ),
    }
    if first is not None:
        payload["command"] = first.command
        payload["risk_level"] = first.risk_level
    item = await SuggestionQueue(store).add(
        "shell",
        f"`{stored.command[:80]}` failed (exit {stored.exit_code})",
        suggestion_body(stored, fixes),
        actions=actions,
        payload=payload,
        source=stored.command,
        fingerprint=f"shell:{stored.cache_key or stored.uid}",
    )
    return None if item is None else item.id


async def analyse(
    store: Database,
    loaded: Any,
    stored: StoredEvent,
    *,
    on_text: Callable[[str], None] | None = None,
    env: Mapping[str, str] | None = None,
    queue: bool = True,
) -> StoredEvent:
    """Analyse ``stored`` (cached when the same error was analysed before) and save it.

    Raises ProviderError when no provider answers; the event is then marked ``error``.
    """
    from ai_workbench.core.errors import ProviderError

    events = ShellEventStore(store)
    key = cache_key(stored.command, stored.exit_code, stored.stderr)
    context = build_context(
        command=stored.command,
        exit_code=stored.exit_code,
        output=stored.stderr,
        cwd=stored.cwd,
        level=loaded.settings.shell.context_level,
        shell=stored.shell,
        history=(stored.context or {}).get("history") or (),
        env=env,
        duration_ms=stored.duration_ms,
        capture_note=stored.error or "",
    )
    hit = await events.cached(key, exclude=stored.id)
    if hit is not None and hit.explanation is not None:
        await events.update(
            stored.id,
            context=context,
            explanation=hit.explanation,
            suggestions=hit.suggestions,
            model=hit.model,
            status="done",
            error=None,
            cache_key=key,
        )
        if on_text is not None:
            on_text(hit.explanation)
    else:
        try:
            text, model = await ask_model(loaded, build_messages(context), on_text, structured=True)
        except ProviderError as exc:
            await events.update(stored.id, status="error", error=str(exc), cache_key=key)
            raise
        explanation, raw = parse_reply(text)
        fixes = rate_fixes(raw, failed=stored.command, history=context.get("history") or ())
        await events.update(
            stored.id,
            context=context,
            explanation=explanation,
            suggestions=[f.to_json() for f in fixes],
            model=model,
            status="done",
            error=None,
            cache_key=key,
        )
    done = await events.get(stored.id)
    if queue:
        suggestion_id = await _queue(store, done, fixes_of(done))
        if suggestion_id is not None:
            await events.update(done.id, suggestion_id=suggestion_id)
            done = await events.get(done.id)
    return done
