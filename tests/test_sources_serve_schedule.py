"""`aiw serve` running the sources sync schedule (server.sources_schedule): the next time of a
cron expression, one run per time across workers (a real lock file), the sync as a real child
process in the served project, and a bad schedule refused with one line naming the key."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from ai_workbench.sources.models import SourceInputError
from ai_workbench.sources.schedule import ScheduledSync, claim_slot, parse_cron
from tests.conftest import IsolatedEnv


def test_next_time_of_a_cron_schedule() -> None:
    wed = datetime(2026, 12, 2, 22, 50, 30)  # a Wednesday
    assert parse_cron("0 3 * * *").next_after(wed) == datetime(2026, 12, 3, 3, 0)
    assert parse_cron("50 22 * * *").next_after(wed) == datetime(2026, 12, 3, 22, 50)
    friday_evening = datetime(2026, 12, 4, 18, 50)
    weekdays = parse_cron("*/15 8-18 * * mon-fri")
    assert weekdays.next_after(friday_evening) == datetime(2026, 12, 7, 8, 0)  # Monday
    assert weekdays.next_after(datetime(2026, 12, 7, 8, 7)) == datetime(2026, 12, 7, 8, 15)
    # a day of month and a day of week: either matches, as in cron
    assert parse_cron("0 0 13 * fri").next_after(wed) == datetime(2026, 12, 4, 0, 0)
    assert parse_cron("0 0 1 1 *").next_after(wed) == datetime(2027, 1, 1, 0, 0)
    with pytest.raises(SourceInputError, match="never matches"):
        parse_cron("0 0 31 2 *").next_after(wed)


def test_one_run_per_time_across_workers(tmp_path: Path) -> None:
    claim = tmp_path / "claim"
    assert claim_slot(1000.0, claim) is True
    assert claim_slot(1000.0, claim) is False  # the other worker's timer, same time
    assert claim_slot(1060.0, claim) is True


async def test_the_sync_runs_as_a_child_in_the_project_once(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    script = "import pathlib; p = pathlib.Path('synced'); p.write_text(p.read_text() + 'x' if p.exists() else 'x')"  # noqa: E501
    command = [sys.executable, "-c", script]
    now = [datetime(2026, 12, 3, 2, 59, 59, 950000).astimezone()]
    workers = [
        ScheduledSync(
            parse_cron("0 3 * * *"), project, command=command, claim_path=tmp_path / "claim",
            log_path=tmp_path / "sync.log", now=lambda: now[0],
        )
        for _ in range(2)
    ]  # fmt: skip
    for worker in workers:
        worker.start()
    try:
        for _ in range(200):
            if all(worker.runs for worker in workers):
                break
            await asyncio.sleep(0.02)
            now[0] = now[0].replace(hour=3, minute=0, second=0, microsecond=0)
    finally:
        for worker in workers:
            await worker.stop()
    codes = sorted((w.runs[0][1] for w in workers), key=lambda c: c is None)
    assert codes == [0, None]  # one ran, the other skipped the claimed time
    assert (project / "synced").read_text() == "x"
    assert "aiw serve:" in (tmp_path / "sync.log").read_text()


def test_serve_refuses_a_bad_schedule(isolated_env: IsolatedEnv) -> None:
    from ai_workbench.cli.main import main

    isolated_env.write_user_config('[server]\nsources_schedule = "0 25 * * *"\n')
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code != 0
    assert "server.sources_schedule: cron hour field '25': 25 is outside 0-23" in result.output
