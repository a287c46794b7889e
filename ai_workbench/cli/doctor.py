"""`aiw doctor`: what is in force and what is broken, each with the fix.

Config files, providers and keys (present or absent, never a value), the current project's
index, the sandbox the agent's commands run in (and why), the shell hook (and whether its rc
block runs a program that still exists), the data dir and database. Exit 0 when nothing is
broken (warnings allowed), else the exit code the first broken thing has elsewhere in aiw
(2 config, 4 a missing key, 9 no local server, 13 the database, ...).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from ai_workbench.cli.common import CONTEXT_SETTINGS, probe_options, run_async

MARKS = {"ok": "ok  ", "info": "--  ", "warn": "warn", "fail": "FAIL"}


@click.command("doctor", context_settings=CONTEXT_SETTINGS)
@probe_options
@click.pass_context
def doctor(ctx: click.Context, as_json: bool, timeout: float) -> None:
    """Check config, providers and keys, the project index, the agent's sandbox, the shell hook
    and the data dir.

    Exits non-zero when something is broken: with the exit code that problem has elsewhere
    (2 broken config or rc block, 4 the default provider's key is not set, 9 no provider in
    the default chain answers, 13 the database); warnings alone exit 0.
    """
    from ai_workbench.core.diagnose import Check

    checks: list[Check] = []
    loaded = _config_checks(ctx, checks)
    report = None
    if loaded is not None:
        report = _provider_checks(loaded, checks, timeout)
        _index_checks(loaded, checks)
        _agent_checks(loaded, checks)
    _shell_checks(checks)
    _data_checks(checks)

    failed = [c for c in checks if c.status == "fail"]
    code = failed[0].code if failed else 0
    if as_json:
        payload = {
            "ok": not failed,
            "exit_code": code,
            "checks": [c.to_json() for c in checks],
            "ways_forward": [
                {"title": w.title, "detail": w.detail, "commands": w.commands}
                for w in (report.ways if report is not None and not report.chain_usable else [])
            ],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        sys.exit(code)
    area = ""
    for check in checks:
        if check.area != area:
            area = check.area
            click.echo(f"{area}:")
        click.echo(f"  [{MARKS[check.status]}] {check.name}: {check.detail}")
        if check.fix and check.status in ("fail", "warn"):
            click.echo(f"         fix: {check.fix}")
    if report is not None and not report.chain_usable:
        from ai_workbench.cli.models import print_ways

        click.echo("")
        print_ways(report)
    click.echo("")
    if failed:
        click.echo(f"{len(failed)} problem(s); exit {code}", err=True)
    else:
        warned = sum(c.status == "warn" for c in checks)
        click.echo("no problems" + (f" ({warned} warning(s))" if warned else ""), err=True)
    sys.exit(code)


def _config_checks(ctx: click.Context, checks: list[Any]) -> Any:
    from ai_workbench.core import paths
    from ai_workbench.core.diagnose import Check
    from ai_workbench.core.errors import EXIT_USAGE
    from ai_workbench.core.settings import DEFAULTS_FILE, ConfigError, load_config, user_config_path

    checks.append(Check("config", "bundled defaults", "info", str(DEFAULTS_FILE)))
    user = user_config_path()
    where = "AIW_CONFIG" if os.environ.get("AIW_CONFIG") else "user config"
    checks.append(
        Check("config", where, "ok" if user.exists() else "info",
              str(user) if user.exists() else f"{user} (absent: bundled defaults apply)")
    )  # fmt: skip
    project = paths.find_project_config()
    checks.append(
        Check("config", "project config", "ok" if project else "info",
              str(project) if project else "none (.aiw.toml in the repo root)")
    )  # fmt: skip
    env = sorted(name for name in os.environ if name.startswith("AIW_"))
    if env:
        checks.append(Check("config", "environment", "info", ", ".join(env)))
    root = ctx.find_root()
    overrides = dict(root.obj or {}) if root else {}
    try:
        return load_config(overrides)
    except ConfigError as exc:
        checks.append(
            Check("config", "settings", "fail", str(exc),
                  "fix that key (`aiw config set KEY VALUE` validates before writing)",
                  EXIT_USAGE)
        )  # fmt: skip
        return None


def _provider_checks(loaded: Any, checks: list[Any], timeout: float) -> Any:
    from ai_workbench.core.diagnose import Check
    from ai_workbench.core.errors import EXIT_CONNECTION, PROVIDER_EXIT_CODES
    from ai_workbench.core.llm.probe import probe

    report = run_async(lambda: probe(loaded.settings, timeout=timeout))
    chain = [p for p in report.profiles if p.role]
    for profile in chain:
        status = "ok" if profile.usable else "warn"
        checks.append(
            Check("providers", f"{profile.name} ({profile.role})", status,
                  f"{profile.model} at {profile.endpoint}: {profile.reason}")
        )  # fmt: skip
    if not report.chain_usable and chain:
        first = chain[0]
        code = PROVIDER_EXIT_CODES.get(first.kind or "connection", EXIT_CONNECTION)
        names = ", ".join(p.name for p in chain)
        checks.append(
            Check("providers", "default chain", "fail",
                  f"no provider of the default chain ({names}) can answer",
                  "see the ways forward below, or `aiw models`", code)
        )  # fmt: skip
    for key in report.keys:
        checks.append(
            Check("providers", f"key for {key.provider}", "ok" if key.present else "info",
                  f"${key.env} is {'set' if key.present else 'not set'}")
        )  # fmt: skip
    for server in report.servers:
        if server.reachable:
            checks.append(
                Check("providers", f"local server {server.name}", "ok",
                      f"{server.api_base}: {server.reason}")
            )  # fmt: skip
    return report


def _index_checks(loaded: Any, checks: list[Any]) -> None:
    from ai_workbench.core import paths
    from ai_workbench.core.diagnose import Check
    from ai_workbench.knowledge.service import KnowledgeService, latest_report, project_key

    root = loaded.project_root
    index_db = paths.data_dir() / "knowledge" / project_key(root) / "index.db"
    if not index_db.exists():
        checks.append(
            Check("index", str(root), "info", "not indexed (`aiw index` builds it; `aiw ask "
                  "--kb` and `aiw search` need it)")
        )  # fmt: skip
        return
    try:
        service = KnowledgeService.for_project(loaded.settings.knowledge, root)
        try:
            status = service.status()
        finally:
            service.close()
    except Exception as exc:
        checks.append(
            Check("index", str(root), "warn", f"{index_db} cannot be read: {exc}",
                  "rebuild it with `aiw index`")
        )  # fmt: skip
        return
    report = latest_report(root)
    when = ""
    if report is not None:
        age = time.time() - report.stat().st_mtime
        when = f", last run {_age(age)} ago"
    pending = f", {status['unembedded']} chunk(s) without vectors" if status["unembedded"] else ""
    checks.append(
        Check("index", str(root), "ok",
              f"{status['files']} files, {status['chunks']} chunks{pending}{when}")
    )  # fmt: skip


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)}s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    if seconds < 172_800:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86_400)} days"


def _agent_checks(loaded: Any, checks: list[Any]) -> None:
    """Which sandbox the agent's commands run in here, and why (or what to install)."""
    from ai_workbench.agent.policy import effective_sandbox
    from ai_workbench.agent.sandbox import detect
    from ai_workbench.core.diagnose import Check
    from ai_workbench.core.trust import is_trusted

    agent = loaded.settings.agent
    trusted = is_trusted(loaded.project_root)
    sandbox = detect(loaded.project_root, effective_sandbox(loaded.settings, trusted=trusted))
    if sandbox.kind == "none":
        checks.append(
            Check("agent", "sandbox", "warn", sandbox.reason,
                  "install bubblewrap (apt install bubblewrap), or allow unprivileged user "
                  "namespaces; until then every agent command asks")
        )  # fmt: skip
    else:
        checks.append(Check("agent", "sandbox", "ok", f"{sandbox.kind}: {sandbox.reason}"))
    rules = agent.permissions
    checks.append(
        Check("agent", "policy", "info",
              f"mode {agent.mode}; {len(rules.allow)} allow, {len(rules.ask)} ask, "
              f"{len(rules.deny)} deny rule(s); network {'on' if agent.network else 'off'}")
    )  # fmt: skip


def _shell_checks(checks: list[Any]) -> None:
    from ai_workbench.core.diagnose import Check
    from ai_workbench.core.errors import EXIT_USAGE
    from ai_workbench.shell.integration import is_off, rc_status

    any_installed = False
    for name in ("bash", "zsh"):
        rc = rc_status(name)  # type: ignore[arg-type]
        if not rc.installed:
            continue
        any_installed = True
        if rc.broken:
            checks.append(
                Check("shell", f"{name} hook", "fail",
                      f"the block in {rc.path} runs {rc.program}, which does not exist",
                      f"run `aiw shell install --shell {name}` with the aiw you use now",
                      EXIT_USAGE)
            )  # fmt: skip
        else:
            state = " (paused: `aiw on` resumes)" if is_off() else ""
            checks.append(
                Check("shell", f"{name} hook", "ok",
                      f"installed in {rc.path}, runs {rc.program_found or rc.program}{state}")
            )  # fmt: skip
    if not any_installed:
        checks.append(
            Check("shell", "hook", "info",
                  "not installed (`aiw shell install` explains failed commands)")
        )  # fmt: skip


def _data_checks(checks: list[Any]) -> None:
    from ai_workbench.core import paths
    from ai_workbench.core.diagnose import data_dir_checks
    from ai_workbench.schema import SCHEMA_VERSION

    data = paths.data_dir()
    checks.extend(data_dir_checks(Path(data), Path(data) / "aiw.db", SCHEMA_VERSION))
