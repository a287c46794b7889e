"""The workbench's "run a fix" flow for shell suggestions: pick, see, confirm, run, read.

Nothing runs without the user choosing the command and confirming it on screen; a dangerous one
(by the model's label or aiw's own classifier, whichever is stricter) needs ``yes`` typed. The
command runs in the failed command's directory through :mod:`ai_workbench.core.safety.runner`, in a
worker, and its exit code and output are shown.
"""

from __future__ import annotations

from typing import Any

RISK_MARK = {"safe": "✓ safe", "moderate": "! moderate", "dangerous": "✗ DANGEROUS"}


def fixes_of(payload: dict[str, Any]) -> list[dict[str, str]]:
    fixes = []
    for raw in payload.get("commands") or []:
        if isinstance(raw, dict) and str(raw.get("command") or "").strip():
            fixes.append(
                {
                    "command": str(raw["command"]),
                    "description": str(raw.get("description") or ""),
                    "risk_level": str(raw.get("risk_level") or ""),
                }
            )
    if not fixes and payload.get("command"):
        fixes.append(
            {
                "command": str(payload["command"]),
                "description": "",
                "risk_level": str(payload.get("risk_level") or ""),
            }
        )
    return fixes


async def run_fix_flow(app: Any, item: Any, cwd: Any = None) -> bool:
    """Walk the user through running one of ``item``'s fixes (in the failed command's
    directory, else ``cwd``); True when one ran."""
    from ai_workbench.core.safety.runner import RunError, confirmation_for, rate, run_command
    from ai_workbench.tui.screens.confirm import ConfirmScreen, MessageScreen, TextPromptScreen
    from ai_workbench.tui.screens.pickers import PickerScreen, PickItem

    payload = item.payload or {}
    fixes = fixes_of(payload)
    if not fixes:
        app.notify("This suggestion has no command to run.", severity="warning")
        return False
    rated = [rate(fix["command"], fix["risk_level"]) for fix in fixes]
    cwd = str(payload.get("cwd") or cwd or app.cwd)
    items = [
        PickItem(
            value=str(index),
            label=fix["command"],
            detail=f"{RISK_MARK[r.level]} · {fix['description']}".rstrip(" ·"),
        )
        for index, (fix, r) in enumerate(zip(fixes, rated, strict=True))
    ]
    chosen = await app.push_screen_wait(PickerScreen(f"Run a fix in {cwd}", items))
    if chosen is None:
        return False
    choice = rated[int(chosen)]
    reasons = f"\n\nWhy it is {choice.level}: {'; '.join(choice.reasons)}" if choice.reasons else ""
    word = confirmation_for(choice)
    if word is not None:
        typed = await app.push_screen_wait(
            TextPromptScreen(
                f"DANGEROUS: type {word} to run: {choice.command}{reasons}",
                placeholder=f"type {word} to run it in {cwd}",
            )
        )
        if (typed or "").strip().lower() != word:
            app.notify("Not run.", timeout=4)
            return False
    elif not await app.push_screen_wait(
        ConfirmScreen(
            f"Run this {choice.level} command?",
            f"{choice.command}\n\nin {cwd}{reasons}",
            yes="Run",
            danger=choice.level != "safe",
        )
    ):
        app.notify("Not run.", timeout=4)
        return False
    app.notify(f"Running: {choice.command}", timeout=4)
    try:
        done = await run_command(choice.command, cwd)
    except RunError as exc:
        app.notify(str(exc), title="Not run", severity="error", timeout=10)
        return False
    status = "stopped (timeout)" if done.exit_code is None else f"exit {done.exit_code}"
    tail = done.output.strip().splitlines()[-40:]
    body = "\n".join(tail) if tail else "(no output)"
    if done.truncated or len(done.output.strip().splitlines()) > 40:
        body = "…\n" + body
    app.push_screen(
        MessageScreen(
            f"{choice.command} · {status} · {done.seconds:.1f}s",
            body,
            severity="info" if done.exit_code == 0 else "error",
        )
    )
    return True
