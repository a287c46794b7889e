"""Render a review for people and tools: table (default), JSON, Markdown and CodeClimate.

SARIF lives in :mod:`ai_workbench.review.sarif`. Every format states the held-back and
re-anchored counts, so a quiet report never hides what was filtered.
"""

from __future__ import annotations

import json
from typing import Any

from ai_workbench.review.models import Finding, ReviewResult


def escape(text: str) -> str:
    """Rich markup escaping (a title like ``list[int]`` must print as written)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


FORMATS = ("table", "json", "md", "sarif", "codeclimate")
_CC_SEVERITY = {"error": "critical", "warning": "major", "info": "minor"}
_MARK = {"error": "✖", "warning": "▲", "info": "·"}


def summary_line(result: ReviewResult) -> str:
    """One line: shown by severity, held back by reason, moved/discarded, calls."""
    shown = result.shown
    counts = {s: sum(1 for f in shown if f.severity == s) for s in ("error", "warning", "info")}
    parts = [f"{len(shown)} finding(s)"]
    by = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    if by:
        parts[0] += f" ({by})"
    held = result.stats.held
    if result.stats.held_total:
        reasons = ", ".join(f"{n} {k}" for k, n in held.items() if n)
        parts.append(f"{result.stats.held_total} held back ({reasons}; --show-held lists them)")
    if result.stats.reanchored or result.stats.discarded:
        parts.append(f"{result.stats.reanchored} re-anchored, {result.stats.discarded} discarded")
    parts.append(f"{result.stats.calls} model call(s)")
    if not result.learning:
        parts.append("learning off")
    return "; ".join(parts)


def empty_message(result: ReviewResult) -> str:
    """What to say when no finding is shown: failed, nothing to review, or clean.

    "No findings" must only ever mean the model looked and found nothing.
    """
    stats = result.stats
    if stats.units and stats.failed_units >= stats.units:
        return (
            f"Review failed: none of the {stats.units} part(s) could be reviewed "
            "(see the problems reported); this is not a clean result."
        )
    if not stats.units:
        return "No changes to review."
    if stats.failed_units:
        return (
            f"No findings on the reviewed lines, but {stats.failed_units} of {stats.units} "
            "part(s) could not be reviewed (see the problems reported)."
        )
    return "No findings on the changed lines."


def render_json(result: ReviewResult, *, include_held: bool = False) -> str:
    data: dict[str, Any] = {
        "run_id": result.run_id,
        "root": result.root,
        "mode": result.mode,
        "target": result.target,
        "model": result.model,
        "status": result.status,
        "learning": result.learning,
        "findings": [f.to_dict() for f in result.shown],
        "stats": result.stats.to_dict(),
        "errors": list(result.errors),
        "notices": list(result.notices),
    }
    if include_held:
        data["held"] = [f.to_dict() for f in result.held]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _md_finding(f: Finding) -> list[str]:
    where = f"{f.path}:{f.line_start}" + (f"-{f.line_end}" if f.line_end != f.line_start else "")
    out = [
        f"### {_MARK[f.severity]} {f.title}",
        "",
        f"`{where}` · **{f.severity}** · `{f.rule_id}` · confidence {f.confidence:.2f}",
        "",
        f.explanation or "",
    ]
    if f.learning_note:
        out += ["", f"_{f.learning_note}_"]
    if f.patch:
        out += ["", "```diff", f.patch.rstrip(), "```"]
    out.append("")
    return out


def render_md(result: ReviewResult, *, include_held: bool = False) -> str:
    lines = [f"# aiw review: {result.target}", "", summary_line(result), ""]
    if not result.shown:
        lines += [empty_message(result), ""]
    current = None
    for f in result.shown:
        if f.path != current:
            current = f.path
            lines += [f"## {f.path}", ""]
        lines += _md_finding(f)
    if include_held and result.held:
        lines += ["## Held back", ""]
        for f in result.held:
            lines.append(f"- `{f.path}:{f.line_start}` {f.title} ({f.held_reason})")
        lines.append("")
    if result.errors:
        lines += ["## Problems", ""] + [f"- {e}" for e in result.errors] + [""]
    return "\n".join(lines)


def to_codeclimate(result: ReviewResult) -> list[dict[str, Any]]:
    """GitLab Code Quality: unique fingerprints, relative paths, begin/end lines."""
    issues = []
    for f in result.shown:
        issues.append(
            {
                "type": "issue",
                "check_name": f.rule_id,
                "description": f.title,
                "content": {"body": f.explanation},
                "categories": ["Bug Risk" if f.category in ("bug", "security") else "Style"]
                if f.category != "performance"
                else ["Performance"],
                "location": {"path": f.path, "lines": {"begin": f.line_start, "end": f.line_end}},
                "severity": _CC_SEVERITY[f.severity],
                "fingerprint": f.fingerprint,
            }
        )
    return issues


def render_codeclimate(result: ReviewResult) -> str:
    return json.dumps(to_codeclimate(result), indent=2, ensure_ascii=False) + "\n"


def table_rows(result: ReviewResult, *, include_held: bool = False) -> list[tuple[str, ...]]:
    findings = result.findings if include_held else result.shown
    rows = []
    for f in findings:
        where = f"{f.path}:{f.line_start}"
        state = f.held_reason or ""
        rows.append((where, f.severity, f.category, f.title, f"{f.confidence:.2f}", state))
    return rows


def print_table(
    result: ReviewResult,
    *,
    include_held: bool = False,
    verbose: bool = False,
    console: Any = None,
) -> None:
    """A readable table on a terminal (plain aligned text when piped)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(soft_wrap=False)
    findings = result.findings if include_held else result.shown
    if findings:
        table = Table(show_lines=False, pad_edge=False, box=None, header_style="bold")
        for column in ("where", "severity", "category", "finding", "conf"):
            table.add_column(column, overflow="fold")
        if include_held:
            table.add_column("held")
        style = {"error": "bold red", "warning": "yellow", "info": "cyan"}
        for f in findings:
            row = [
                f"{f.path}:{f.line_start}",
                f"[{style[f.severity]}]{f.severity}[/]",
                f.category,
                escape(f.title) + (" [dim](fix)[/]" if f.patch else ""),
                f"{f.confidence:.2f}",
            ]
            if include_held:
                row.append(f.held_reason or "")
            table.add_row(*row)
        console.print(table)
        if verbose:
            for f in findings:
                console.print(f"\n[bold]{escape(f.path)}:{f.line_start}[/] {escape(f.title)}")
                console.print(f.explanation, markup=False)
    else:
        console.print(empty_message(result), markup=False, highlight=False)
    console.print(f"[dim]{escape(summary_line(result))}[/]", highlight=False)


def render_table(result: ReviewResult, *, include_held: bool = False, verbose: bool = False) -> str:
    """The table as plain text (no colour codes), for ``--format table -o FILE``."""
    import io

    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer, width=160, color_system=None, force_terminal=False, soft_wrap=False
    )
    print_table(result, include_held=include_held, verbose=verbose, console=console)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def render(result: ReviewResult, fmt: str, *, include_held: bool = False) -> str:
    """Text of a format; ``table`` is the plain (uncoloured) table."""
    if fmt == "table":
        return render_table(result, include_held=include_held)
    if fmt == "json":
        return render_json(result, include_held=include_held)
    if fmt == "md":
        return render_md(result, include_held=include_held)
    if fmt == "codeclimate":
        return render_codeclimate(result)
    if fmt == "sarif":
        from ai_workbench.review.sarif import render_sarif

        return render_sarif(result, include_held=include_held)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
