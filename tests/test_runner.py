"""core.runner: a proposed command is re-rated, and runs bounded in its directory."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ai_workbench.core.safety.runner import RunError, confirmation_for, rate, run_command


def test_the_stricter_rating_wins() -> None:
    assert rate("rm -rf ~", "safe").level == "dangerous"
    assert confirmation_for(rate("rm -rf ~", "safe")) == "yes"
    assert rate("ls -la", "moderate").level == "moderate"  # the model may be stricter
    assert confirmation_for(rate("ls -la", "safe")) is None


async def test_runs_in_the_directory_and_reports_the_exit_code(tmp_path: Path) -> None:
    done = await run_command("pwd; echo oops >&2; exit 3", tmp_path)
    assert done.exit_code == 3
    assert str(tmp_path) in done.output and "oops" in done.output


async def test_a_command_that_hangs_is_stopped(tmp_path: Path) -> None:
    started = time.monotonic()
    done = await run_command("sleep 30 & sleep 30", tmp_path, timeout=0.5)
    assert done.exit_code is None and "stopped after" in done.output
    assert time.monotonic() - started < 10


async def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="no longer exists"):
        await run_command("true", tmp_path / "gone")
