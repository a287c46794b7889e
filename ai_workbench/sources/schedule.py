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
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

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

    def next_after(self, when: datetime) -> datetime:
        """The first minute strictly after ``when`` that the schedule matches, with cron's rule
        that a day of month and a day of week both given match on either. Naive times are
        wall-clock times; an aware ``when`` is read in the machine's local zone (as cron does)
        and the answer is aware, with that day's offset (DST). :class:`SourceInputError` when
        none comes within 5 years (``0 0 31 2 *``)."""
        if when.tzinfo is not None:
            return self.next_after(when.astimezone().replace(tzinfo=None)).astimezone()
        minute, hour = self.fields[0], self.fields[1]
        start = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        for _ in range(366 * 5):
            if self._day_matches(day):
                first = (start.hour, start.minute) if day == start.date() else (0, 0)
                for h in hour if hour is not None else range(24):
                    for m in minute if minute is not None else range(60):
                        if (h, m) >= first:
                            return start.replace(
                                year=day.year, month=day.month, day=day.day, hour=h, minute=m
                            )
            day += timedelta(days=1)
        raise SourceInputError(f'"{self.text}" never matches a date; check the day and month')

    def _day_matches(self, day: date) -> bool:
        _, _, dom, month, dow = self.fields
        if month is not None and day.month not in month:
            return False
        weekday = (day.weekday() + 1) % 7  # cron: Sunday is 0
        if dom is not None and dow is not None:
            return day.day in dom or weekday in dow
        if dom is not None:
            return day.day in dom
        return dow is None or weekday in dow


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


# --- run by `aiw serve` ---


def claim_slot(slot: float, path: Path | None = None) -> bool:
    """True for exactly one caller per scheduled ``slot`` (epoch seconds), across processes
    (``aiw serve --workers N``: each worker's timer fires, one sync runs): the last slot taken
    is kept in ``<data dir>/sources-schedule.claim`` under an exclusive lock."""
    import fcntl

    from ai_workbench.core import paths

    path = path or paths.data_dir() / "sources-schedule.claim"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        text = handle.read().strip()
        last = float(text) if text.replace(".", "", 1).isdigit() else 0.0
        if last >= slot:
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{slot}\n")
        handle.flush()
    return True


class ScheduledSync:
    """``aiw sources sync --all --quiet`` at the times of a cron schedule, in the background of
    a long-running process (``aiw serve`` with ``server.sources_schedule``): it sleeps until the
    next match, claims that slot (one sync per slot with several workers), and runs the sync as
    a child process in ``cwd`` (the served project) with the process's environment, its output
    appended to ``<data dir>/sources-sync.log``. A sync still running when the next slot comes
    makes that slot skip."""

    def __init__(
        self,
        cron: Cron,
        cwd: Path,
        *,
        command: list[str] | None = None,
        claim_path: Path | None = None,
        log_path: Path | None = None,
        now: Any = None,
    ) -> None:
        self.cron = cron
        self.cwd = cwd
        self.command = command or sync_command()
        self.claim_path = claim_path
        self.log_path = log_path
        self.now = now or (lambda: datetime.now().astimezone())
        self.runs: list[tuple[datetime, int | None]] = []  # (slot, exit code; None: skipped)
        self._task: Any = None

    def start(self) -> Any:
        import asyncio

        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="sources-schedule")
        return self._task

    async def stop(self) -> None:
        import asyncio
        import contextlib

        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def run(self) -> None:
        import asyncio

        while True:
            slot = self.cron.next_after(self.now())
            while (wait := (slot - self.now()).total_seconds()) > 0:
                await asyncio.sleep(min(wait, 60.0))  # re-read the clock: suspend, DST
            await self.run_slot(slot)

    async def run_slot(self, slot: datetime) -> int | None:
        """Run the sync for ``slot`` unless another process claimed it; its exit code."""
        import asyncio

        if not await asyncio.to_thread(claim_slot, slot.timestamp(), self.claim_path):
            self.runs.append((slot, None))
            return None
        log = self.log_path or log_file()
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            out.write(f"--- {slot.isoformat()} aiw serve: {shlex.join(self.command)}\n".encode())
            out.flush()
            proc = await asyncio.create_subprocess_exec(
                *self.command, cwd=self.cwd, stdin=asyncio.subprocess.DEVNULL,
                stdout=out, stderr=out,
            )  # fmt: skip
            code = await proc.wait()
        self.runs.append((slot, code))
        return code
