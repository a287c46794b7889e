"""``aiw sources schedule "0 3 * * *"``: a systemd user timer or a crontab line that runs
``aiw sources sync --all``; no daemon of aiw's own.

The cron expression is checked strictly here (five fields; numbers, ``*``, ranges, steps,
lists, month and weekday names) so a typo is one clear line, not a timer that never fires.
Tokens: the job reads ``~/.config/aiw/sources.env`` (``VAR=value`` lines, yours to write,
mode 0600) when it exists, since neither cron nor systemd passes your shell's environment.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ai_workbench.sources.models import SourceInputError

MARK = "# aiw-sources-sync"
UNIT = "aiw-sources"
_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {n: i for i, n in enumerate(
        "jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}),  # noqa: SIM905
    ("day of week", 0, 7, {n: i for i, n in enumerate(
        "sun mon tue wed thu fri sat".split())}),  # noqa: SIM905
)  # fmt: skip
_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


@dataclass(frozen=True)
class Cron:
    text: str
    fields: tuple[tuple[int, ...] | None, ...]  # None = "*"

    def on_calendar(self) -> str:
        """The systemd ``OnCalendar=`` equivalent."""
        minute, hour, dom, month, dow = self.fields
        if dom is not None and dow is not None:
            raise SourceInputError(
                f'"{self.text}": with both a day of month and a day of week cron runs on '
                "either, which a systemd timer cannot say; use --via cron"
            )

        def part(values: tuple[int, ...] | None, width: int = 2) -> str:
            return "*" if values is None else ",".join(f"{v:0{width}d}" for v in values)

        days = "" if dow is None else ",".join(_DAYS[d % 7] for d in sorted(set(dow))) + " "
        return f"{days}*-{part(month)}-{part(dom)} {part(hour)}:{part(minute)}:00"


def parse_cron(text: str) -> Cron:
    """Five cron fields; :class:`SourceInputError` naming the field and value otherwise."""
    parts = text.split()
    if len(parts) != 5:
        raise SourceInputError(
            f'"{text}" is not a cron schedule: it needs 5 fields (minute hour day-of-month '
            f'month day-of-week), e.g. "0 3 * * *" for 03:00 every day; it has {len(parts)}'
        )
    fields = tuple(_field(p, spec) for p, spec in zip(parts, _FIELDS, strict=True))
    return Cron(" ".join(parts), fields)


def _field(value: str, spec: tuple[str, int, int, dict[str, int]]) -> tuple[int, ...] | None:
    name, low, high, names = spec
    if value == "*":
        return None
    out: set[int] = set()
    for item in value.split(","):
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise _bad(name, value, f"the step '{step_text}' is not a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        else:
            first, dash, last = base.partition("-")
            start = _number(first, name, value, names, low, high)
            end = _number(last, name, value, names, low, high) if dash else start
            if dash == "" and step_text:
                end = high
            if end < start:
                raise _bad(name, value, f"the range {base} runs backwards")
        out.update(range(start, end + 1, step))
    if name == "day of week" and 7 in out:
        out = (out - {7}) | {0}
    return tuple(sorted(out))


def _number(text: str, name: str, value: str, names: dict[str, int], low: int, high: int) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise _bad(name, value, f"'{text}' is not a number")
    number = int(text)
    if not low <= number <= high:
        raise _bad(name, value, f"{number} is outside {low}-{high}")
    return number


def _bad(name: str, value: str, why: str) -> SourceInputError:
    return SourceInputError(f"cron {name} field '{value}': {why}")


# --- what gets installed ---


def sync_command() -> list[str]:
    """The command the job runs: this aiw, with this Python."""
    aiw = shutil.which("aiw")
    if aiw and Path(aiw).resolve().parent == Path(sys.executable).resolve().parent:
        return [aiw, "sources", "sync", "--all", "--quiet"]
    return [sys.executable, "-m", "ai_workbench", "sources", "sync", "--all", "--quiet"]


def env_file() -> Path:
    from ai_workbench.core import paths

    return paths.config_dir() / "sources.env"


def log_file() -> Path:
    from ai_workbench.core import paths

    return paths.data_dir() / "sources-sync.log"


def crontab_line(cron: Cron) -> str:
    env = shlex.quote(str(env_file()))
    command = " ".join(shlex.quote(a) for a in sync_command())
    log = shlex.quote(str(log_file()))
    return f"{cron.text} set -a; [ -f {env} ] && . {env}; set +a; {command} >> {log} 2>&1 {MARK}"


def systemd_units(cron: Cron) -> dict[str, str]:
    command = " ".join(shlex.quote(a) for a in sync_command())
    service = (
        "[Unit]\nDescription=aiw: sync knowledge sources (aiw sources sync --all)\n\n"
        "[Service]\nType=oneshot\n"
        f"EnvironmentFile=-{env_file()}\n"
        f"ExecStart={command}\n"
    )
    timer = (
        f"[Unit]\nDescription=aiw: sync knowledge sources ({cron.text})\n\n"
        f"[Timer]\nOnCalendar={cron.on_calendar()}\nPersistent=true\n\n"
        "[Install]\nWantedBy=timers.target\n"
    )
    return {f"{UNIT}.service": service, f"{UNIT}.timer": timer}


def systemd_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def systemd_available() -> bool:
    if not shutil.which("systemctl"):
        return False
    try:
        probe = subprocess.run(["systemctl", "--user", "show-environment"], capture_output=True,
                               timeout=5, check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def choose_via(via: str | None) -> str:
    if via:
        return via
    if systemd_available():
        return "systemd"
    if shutil.which("crontab"):
        return "cron"
    raise SourceInputError(
        "neither a systemd user session nor crontab is available here: use --print and add "
        "the line to whatever runs your scheduled jobs"
    )


def _crontab_read() -> list[str]:
    result = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return []  # "no crontab for user"
    return result.stdout.splitlines()


def _crontab_write(lines: list[str]) -> None:
    text = "\n".join(lines) + ("\n" if lines else "")
    result = subprocess.run(["crontab", "-"], input=text, capture_output=True, text=True,
                            check=False)  # fmt: skip
    if result.returncode != 0:
        raise SourceInputError(f"crontab refused the new table: {result.stderr.strip()}")


def install_cron(cron: Cron) -> str:
    lines = [line for line in _crontab_read() if MARK not in line]
    lines.append(crontab_line(cron))
    _crontab_write(lines)
    return "crontab"


def remove_cron() -> bool:
    lines = _crontab_read()
    kept = [line for line in lines if MARK not in line]
    if kept == lines:
        return False
    _crontab_write(kept)
    return True


def install_systemd(cron: Cron) -> str:
    folder = systemd_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in systemd_units(cron).items():
        (folder / name).write_text(text, encoding="utf-8")
    for args in (["daemon-reload"], ["enable", "--now", f"{UNIT}.timer"]):
        result = subprocess.run(["systemctl", "--user", *args], capture_output=True, text=True,
                                check=False)  # fmt: skip
        if result.returncode != 0:
            raise SourceInputError(
                f"systemctl --user {' '.join(args)} failed: {result.stderr.strip()}"
            )
    return str(folder / f"{UNIT}.timer")


def remove_systemd() -> bool:
    folder = systemd_dir()
    timer = folder / f"{UNIT}.timer"
    if not timer.exists():
        return False
    subprocess.run(["systemctl", "--user", "disable", "--now", f"{UNIT}.timer"],
                   capture_output=True, check=False)  # fmt: skip
    for name in (f"{UNIT}.timer", f"{UNIT}.service"):
        (folder / name).unlink(missing_ok=True)
    subprocess.run(["systemctl", "--user", "daemon-reload"], capture_output=True, check=False)
    return True
