"""`aiw serve` with ``server.sources_schedule``: the app starts the scheduled sync of the served
project (the sync itself: tests/test_sources_serve_schedule.py)."""

from __future__ import annotations

import pytest

from tests.server.conftest import Api


@pytest.fixture
def api_config() -> str:
    return '[server]\nsources_schedule = "30 2 * * mon-fri"\n'


def test_serve_runs_the_sources_schedule(api: Api) -> None:
    scheduled = api.state.sources_sync
    assert scheduled is not None and scheduled.cron.text == "30 2 * * mon-fri"
    assert scheduled.cwd == api.state.project_root
    assert scheduled.command[-4:] == ["sources", "sync", "--all", "--quiet"]
    assert scheduled._task is not None and not scheduled._task.done()  # waiting for 02:30
    assert api.client().get("/v1/health").status_code == 200
