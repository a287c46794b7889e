"""`aiw sources schedule`: strict cron parsing, systemd timer units and a crontab line shown
before they are written, installed after asking, removed with --remove."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import IsolatedEnv, RunAiw


@pytest.mark.parametrize(
    ("text", "calendar"),
    [
        ("0 3 * * *", "*-*-* 03:00:00"),
        ("*/15 8-18 * * mon-fri", "Mon,Tue,Wed,Thu,Fri *-*-* 08,09,10,11,12,13,14,15,16,17,18:"
         "00,15,30,45:00"),
        ("30 2 1,15 * *", "*-*-01,15 02:30:00"),
        ("0 0 * jan,jul 7", "Sun *-01,07-* 00:00:00"),
    ],
)  # fmt: skip
def test_cron_to_systemd_calendar(text: str, calendar: str) -> None:
    from ai_workbench.sources.schedule import parse_cron

    assert parse_cron(text).on_calendar() == calendar


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 3 * *", "needs 5 fields"),
        ("60 3 * * *", "cron minute field '60': 60 is outside 0-59"),
        ("0 25 * * *", "hour field '25'"),
        ("0 3 * * funday", "day of week field 'funday': 'funday' is not a number"),
        ("*/0 * * * *", "the step '0' is not a positive number"),
        ("0 5-2 * * *", "the range 5-2 runs backwards"),
    ],
)
def test_bad_cron_expressions_say_which_field(text: str, message: str) -> None:
    from ai_workbench.sources.models import SourceInputError
    from ai_workbench.sources.schedule import parse_cron

    with pytest.raises(SourceInputError, match=message.replace("*", r"\*")):
        parse_cron(text)


def test_both_day_fields_need_cron() -> None:
    from ai_workbench.sources.models import SourceInputError
    from ai_workbench.sources.schedule import parse_cron

    with pytest.raises(SourceInputError, match="use --via cron"):
        parse_cron("0 3 1 * mon").on_calendar()


def test_print_shows_both_and_writes_nothing(run_aiw: RunAiw, isolated_env: IsolatedEnv) -> None:
    shown = run_aiw("sources", "schedule", "0 3 * * *", "--print")
    assert shown.returncode == 0, shown.stderr
    assert "OnCalendar=*-*-* 03:00:00" in shown.stdout
    assert "sources sync --all --quiet" in shown.stdout and "# aiw-sources-sync" in shown.stdout
    assert "EnvironmentFile=-" in shown.stdout and "sources.env" in shown.stdout
    assert not (isolated_env.config / "systemd").exists()
    bad = run_aiw("sources", "schedule", "0 3 * *", "--print")
    assert bad.returncode == 3 and "needs 5 fields" in bad.stderr


def _fake_crontab(folder: Path, table: Path) -> None:
    """A crontab(1) stand-in (the image has no cron): -l prints the table, - replaces it."""
    script = folder / "crontab"
    script.write_text(
        "#!/bin/sh\n"
        f'TABLE="{table}"\n'
        'if [ "$1" = "-l" ]; then [ -f "$TABLE" ] || { echo "no crontab for you" >&2; '
        'exit 1; }; cat "$TABLE"; exit 0; fi\n'
        'if [ "$1" = "-" ]; then cat > "$TABLE"; exit 0; fi\n'
        "exit 2\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_crontab_line_installed_after_asking_and_removed(run_aiw: RunAiw, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    table = tmp_path / "table"
    table.write_text("MAILTO=me\n5 * * * * echo keep-me\n")
    _fake_crontab(bin_dir, table)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}

    refused = run_aiw("sources", "schedule", "0 3 * * *", "--via", "cron", env=env)
    assert refused.returncode == 2 and "add --yes" in refused.stderr
    assert "aiw-sources" not in table.read_text()

    done = run_aiw("sources", "schedule", "0 3 * * *", "--via", "cron", "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert "# crontab line\n0 3 * * * " in done.stdout  # shown before it is written
    lines = table.read_text().splitlines()
    assert lines[:2] == ["MAILTO=me", "5 * * * * echo keep-me"]
    assert lines[2].startswith("0 3 * * * set -a;") and lines[2].endswith("# aiw-sources-sync")

    again = run_aiw("sources", "schedule", "30 4 * * 1", "--via", "cron", "--yes", env=env)
    assert again.returncode == 0
    ours = [line for line in table.read_text().splitlines() if "aiw-sources" in line]
    assert len(ours) == 1 and ours[0].startswith("30 4 * * 1 ")  # replaced, not added twice

    removed = run_aiw("sources", "schedule", "--remove", "--via", "cron", env=env)
    assert removed.returncode == 0 and "removed the crontab line" in removed.stderr
    assert table.read_text().splitlines() == ["MAILTO=me", "5 * * * * echo keep-me"]
