"""``/v1/tasks`` and reminders through ``aiw serve``: the real app under uvicorn, real SQLite,
real dateparser. Natural dates read and echoed, ambiguity refused with the readings, filters,
done/snooze/delete, each user seeing only their own tasks and their own reminder events."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.server.conftest import Api
from tests.server.test_api_basics import assert_problem
from tests.server.test_api_endpoints import sse_events


def problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """The problem document; with ``field``, one of its errors names that field."""
    body = assert_problem(response, status)
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body


@pytest.fixture
def api_config() -> str:
    return '[knowledge]\nembedding_model = "none"\n[tasks]\ntimezone = "UTC"\nrecheck_seconds = 1\n'


def test_tasks_crud_natural_dates_and_filters(api: Api) -> None:
    ann = api.client(api.user("ann"))
    made = ann.post("/v1/tasks", json={"text": "renew the TLS cert tomorrow 9am +ops"})
    assert made.status_code == 201, made.text
    body = made.json()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert body["task"]["title"] == "renew the TLS cert"
    assert body["task"]["due"] == f"{tomorrow}T09:00:00+00:00"
    assert body["task"]["tags"] == ["ops"]
    assert f"{tomorrow} 09:00" in body["read_as"]
    cert = body["task"]["id"]

    soon = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    explicit = ann.post(
        "/v1/tasks",
        json={"text": "deploy", "due": soon.isoformat(), "links": ["https://ci.example/1"]},
    )
    assert explicit.status_code == 201, explicit.text
    assert explicit.json()["task"]["due"] == soon.isoformat()
    assert explicit.json()["task"]["links"] == [{"kind": "url", "target": "https://ci.example/1"}]
    assert ann.post("/v1/tasks", json={"text": "read the RFC"}).status_code == 201

    assert [t["title"] for t in ann.get("/v1/tasks").json()["tasks"]] == [
        "deploy", "renew the TLS cert", "read the RFC",
    ]  # fmt: skip
    today = [t["title"] for t in ann.get("/v1/tasks?due=today").json()["tasks"]]
    assert today == (["deploy"] if soon.date() == datetime.now(UTC).date() else [])
    week = [t["title"] for t in ann.get("/v1/tasks?due=week").json()["tasks"]]
    assert week == ["deploy", "renew the TLS cert"]
    assert [t["title"] for t in ann.get("/v1/tasks?tag=ops").json()["tasks"]] == [
        "renew the TLS cert"
    ]
    assert ann.get("/v1/tasks?due=overdue").json()["tasks"] == []
    problem(ann.get("/v1/tasks?due=someday"), 422, "due")

    assert ann.get(f"/v1/tasks/{cert}").json()["title"] == "renew the TLS cert"
    snoozed = ann.patch(f"/v1/tasks/{cert}", json={"snooze": "2h"})
    assert snoozed.status_code == 200, snoozed.text
    reminder = datetime.fromisoformat(snoozed.json()["next_reminder"])
    assert abs(reminder - (datetime.now(UTC) + timedelta(hours=2))) < timedelta(minutes=1)
    problem(ann.patch(f"/v1/tasks/{cert}", json={"snooze": "soonish"}), 422, "snooze")

    done = ann.patch(f"/v1/tasks/{cert}", json={"done": True})
    assert done.json()["status"] == "done"
    assert cert not in [t["id"] for t in ann.get("/v1/tasks").json()["tasks"]]
    assert cert in [t["id"] for t in ann.get("/v1/tasks?status=done").json()["tasks"]]

    deleted = ann.delete(f"/v1/tasks/{cert}")
    assert deleted.status_code == 200 and deleted.json()["id"] == cert
    assert_problem(ann.get(f"/v1/tasks/{cert}"), 404)


def test_an_ambiguous_date_saves_nothing_and_names_the_field(api: Api) -> None:
    ann = api.client(api.user("ann"))
    refused = ann.post("/v1/tasks", json={"text": "pay rent 03/04"})
    refusal = problem(refused, 422, "text")
    assert refusal["errors"][0]["field"] == "text"
    readings = refusal["readings"]
    assert len(readings) == 2 and any("-03-04T" in r for r in readings)
    assert any("-04-03T" in r for r in readings)
    assert ann.get("/v1/tasks").json()["tasks"] == []

    # One of the readings sent back as `due` is taken as it is.
    chosen = ann.post("/v1/tasks", json={"text": "pay rent", "due": readings[0]})
    assert chosen.status_code == 201, chosen.text
    assert chosen.json()["task"]["due"] == readings[0]

    in_due = ann.post("/v1/tasks", json={"text": "pay rent", "due": "03/04"})
    assert problem(in_due, 422, "due")["errors"][0]["field"] == "due"
    problem(ann.post("/v1/tasks", json={"text": "x", "timezone": "Mars/Base"}), 422, "timezone")


def test_one_user_never_sees_anothers_tasks(api: Api) -> None:
    ann = api.client(api.user("ann"))
    bob = api.client(api.user("bob"))
    task = ann.post("/v1/tasks", json={"text": "ann's secret errand friday"}).json()["task"]
    assert bob.get("/v1/tasks").json()["tasks"] == []
    assert_problem(bob.get(f"/v1/tasks/{task['id']}"), 404)
    assert_problem(bob.patch(f"/v1/tasks/{task['id']}", json={"done": True}), 404)
    assert_problem(bob.delete(f"/v1/tasks/{task['id']}"), 404)
    assert ann.get(f"/v1/tasks/{task['id']}").json()["status"] == "open"
    assert_problem(api.client().get("/v1/tasks"), 401)


def test_reminders_reach_their_owner_as_events(api: Api) -> None:
    tokens = {name: api.user(name) for name in ("ann", "bob")}
    got: dict[str, list[tuple[str, Any]]] = {"ann": [], "bob": []}

    def listen(name: str) -> None:
        client = api.client(tokens[name])
        with client.stream("GET", "/v1/events", timeout=30) as response:
            assert response.status_code == 200
            lines: list[str] = []
            for line in response.iter_lines():
                lines.append(line)
                found = [e for e in sse_events(lines) if e[0] == "task.reminder"]
                if found:
                    got[name].extend(found)
                    return

    listeners = [threading.Thread(target=listen, args=(n,), daemon=True) for n in tokens]
    for thread in listeners:
        thread.start()
    feed = api.state.feeds.feeds["reminders"]
    deadline = time.monotonic() + 10
    while (api.state.bus.subscriber_count < 2 or feed.since is None) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.02)
    due = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    for name in tokens:
        made = api.client(tokens[name]).post(
            "/v1/tasks", json={"text": f"{name}'s standup", "due": due}
        )
        assert made.status_code == 201, made.text
    for thread in listeners:
        thread.join(timeout=20)

    for name in tokens:
        assert len(got[name]) == 1, got
        data = got[name][0][1]
        assert data["owner"] == name and data["title"] == f"{name}'s standup"
        assert data["missed"] is False
    # Delivered once: one claim per reminder.
    claims = api.state.reminders.delivered
    assert sorted(r.title for r in claims) == ["ann's standup", "bob's standup"]
