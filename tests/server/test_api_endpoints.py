"""Each endpoint as a team uses it, on the real app under uvicorn, real SQLite and the loopback
model: what it returns, and that one user never reads or changes another's data."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IsolatedEnv
from tests.fake_llm import FakeLLM
from tests.server.conftest import Api
from tests.server.test_api_basics import assert_problem
from tests.test_review_core import BUG, findings_reply

CALC_DIFF = """\
diff --git a/calc.py b/calc.py
--- a/calc.py
+++ b/calc.py
@@ -1,4 +1,5 @@
 def total(items):
     s = 0
-    for i in range(len(items)):
+    for i in range(len(items) + 1):
         s += items[i]
+    return s
"""


@pytest.fixture
def api_config() -> str:
    return '[knowledge]\nembedding_model = "none"\n'


def sse_events(lines: Any) -> list[tuple[str, Any]]:
    """(event, data) pairs of a Server-Sent Events body."""
    events: list[tuple[str, Any]] = []
    name, data = "message", ""
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            events.append((name, json.loads(data)))
            name, data = "message", ""
    return events


def ask(client: httpx.Client, prompt: str, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/ask", json={"prompt": prompt, **body})
    assert response.status_code == 200, response.text
    return response.json()


# --- /v1/ask and /v1/sessions -------------------------------------------------------------


def test_ask_answers_in_json_and_continues_only_your_session(api: Api) -> None:
    ana, bob = api.client(api.user("ana")), api.client(api.user("bob"))

    first = ask(ana, "hello there")
    assert first["status"] == "complete"
    assert first["text"] == "You said: hello there"
    assert first["created_session"] is True
    again = ask(ana, "and again", session=first["session_id"][:8])
    assert again["session_id"] == first["session_id"] and not again["created_session"]

    stolen = bob.post("/v1/ask", json={"prompt": "mine now", "session": first["session_id"]})
    assert_problem(stolen, 404)
    ana_view = ana.get(f"/v1/sessions/{first['session_id']}").json()
    assert [m["content"] for m in ana_view["messages"] if m["role"] == "user"] == [
        "hello there",
        "and again",
    ]


def test_ask_streams_server_sent_events(api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.reply = "one two three four five six seven eight nine ten"
    fake_llm.words_per_chunk = 1
    client = api.client(api.user("ana"))

    with client.stream("POST", "/v1/ask", json={"prompt": "count", "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.iter_lines())

    kinds = [name for name, _ in events]
    assert kinds[0] == "session" and kinds[-1] == "done"
    tokens = [data["text"] for name, data in events if name == "token"]
    assert len(tokens) >= 5
    assert "".join(tokens) == fake_llm.reply
    done = events[-1][1]
    assert done["status"] == "complete" and done["message_id"]
    saved = client.get(f"/v1/sessions/{events[0][1]['session_id']}").json()
    assert saved["messages"][-1]["content"] == fake_llm.reply


def test_sessions_list_get_export_and_delete_are_yours_only(api: Api) -> None:
    ana, bob = api.client(api.user("ana")), api.client(api.user("bob"))
    mine = ask(ana, "ana's question")["session_id"]
    ask(bob, "bob's question")

    listed = ana.get("/v1/sessions").json()["sessions"]
    assert [s["title"] for s in listed] == ["ana's question"]
    assert [s["title"] for s in bob.get("/v1/sessions").json()["sessions"]] == ["bob's question"]

    exported = ana.get(f"/v1/sessions/{mine}/export", params={"format": "md"})
    assert exported.status_code == 200 and "ana's question" in exported.text
    as_json = ana.get(f"/v1/sessions/{mine}/export", params={"format": "json"}).json()
    assert as_json["id"] == mine

    assert_problem(bob.get(f"/v1/sessions/{mine}"), 404)
    assert_problem(bob.get(f"/v1/sessions/{mine}/export"), 404)
    assert_problem(bob.delete(f"/v1/sessions/{mine}"), 404)
    assert ana.get(f"/v1/sessions/{mine}").status_code == 200

    assert ana.delete(f"/v1/sessions/{mine}").status_code == 204
    assert_problem(ana.get(f"/v1/sessions/{mine}"), 404)


def test_the_workbench_sessions_stay_the_local_users(api: Api) -> None:
    from ai_workbench.store import Store

    async def local_session() -> str:
        async with Store(api.db_path) as store:
            return (await store.create_session(title="workbench only")).id

    sid = asyncio.run(local_session())
    ana = api.client(api.user("ana"))

    assert ana.get("/v1/sessions").json()["sessions"] == []
    assert_problem(ana.get(f"/v1/sessions/{sid}"), 404)


def test_model_provider_down_is_a_502_problem(api: Api, fake_llm: FakeLLM) -> None:
    api.state.loaded.settings.providers["fake"].model = "openai/fail-500"
    client = api.client(api.user("ana"))

    body = assert_problem(client.post("/v1/ask", json={"prompt": "hi"}), 502)
    assert "500" in body["detail"] or "server" in body["detail"].lower()


def test_unknown_provider_names_the_field(api: Api) -> None:
    client = api.client(api.user("ana"))
    body = assert_problem(client.post("/v1/ask", json={"prompt": "x", "provider": "nope"}), 422)
    assert body["errors"][0]["field"] == "provider"


# --- /v1/feedback -------------------------------------------------------------------------


def test_feedback_rates_your_answers_never_anothers(api: Api) -> None:
    ana, bob = api.client(api.user("ana")), api.client(api.user("bob"))
    answer = ask(ana, "rate me")["message_id"]

    rated = ana.post(
        "/v1/feedback",
        json={"target_kind": "message", "target_id": str(answer), "rating": 1, "comment": "good"},
    )
    assert rated.status_code == 200, rated.text
    assert rated.json()["rating"] == 1

    body = {"target_kind": "message", "target_id": str(answer), "rating": -1}
    assert_problem(bob.post("/v1/feedback", json=body), 404)
    assert bob.get("/v1/feedback").json()["feedback"] == []
    (mine,) = ana.get("/v1/feedback").json()["feedback"]
    assert mine["rating"] == 1 and mine["comment"] == "good"

    bad = ana.post("/v1/feedback", json={**body, "rating": 5})
    assert assert_problem(bad, 422)["errors"][0]["field"] == "rating"


# --- /v1/review ---------------------------------------------------------------------------


def test_review_of_a_diff_gives_findings_or_sarif(api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.reply = findings_reply(BUG)
    ana, bob = api.client(api.user("ana")), api.client(api.user("bob"))

    found = ana.post("/v1/review", json={"diff": CALC_DIFF})
    assert found.status_code == 200, found.text
    (finding,) = found.json()["findings"]
    assert finding["path"] == "calc.py" and finding["severity"] == "error"

    sarif = ana.post("/v1/review", json={"diff": CALC_DIFF, "format": "sarif"})
    assert sarif.headers["content-type"].startswith("application/sarif+json")
    assert sarif.json()["version"] == "2.1.0"
    assert sarif.json()["runs"][0]["results"]

    rating = {"target_kind": "finding", "target_id": str(finding["id"]), "rating": -1}
    assert_problem(bob.post("/v1/feedback", json=rating), 404)
    assert ana.post("/v1/feedback", json=rating).status_code == 200


def test_review_refuses_a_path_outside_the_diff_root(api: Api) -> None:
    client = api.client(api.user("ana"))
    evil = CALC_DIFF.replace("calc.py", "../../etc/passwd")

    body = assert_problem(client.post("/v1/review", json={"diff": evil}), 400)
    assert "relative" in body["detail"]
    assert (
        "no file changes"
        in assert_problem(client.post("/v1/review", json={"diff": "not a diff"}), 400)["detail"]
    )


# --- /v1/search ---------------------------------------------------------------------------


def test_search_finds_the_project_text(api: Api, isolated_env: IsolatedEnv) -> None:
    project = api.state.project_root
    (project / "billing.py").write_text(
        "def invoice_total(lines, vat_rate):\n    return sum(lines) * (1 + vat_rate)\n"
    )
    api.state.knowledge().index()
    client = api.client(api.user("ana"))

    found = client.post("/v1/search", json={"query": "invoice total vat", "k": 3})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["hits"][0]["path"] == "billing.py"
    assert body["hits"][0]["location"].startswith("billing.py:1-")

    uid = body["hits"][0]["uid"]
    rating = {"target_kind": "chunk", "target_id": uid, "rating": 1}
    assert client.post("/v1/feedback", json=rating).status_code == 200
    bob = api.client(api.user("bob"))
    assert bob.get("/v1/feedback", params={"target_kind": "chunk"}).json()["feedback"] == []


def test_search_of_an_empty_index_says_what_to_do(api: Api) -> None:
    body = api.client(api.user("ana")).post("/v1/search", json={"query": "anything"}).json()
    assert body["hits"] == []
    assert any("aiw index" in n for n in body["notices"])


# --- /v1/settings -------------------------------------------------------------------------


def test_settings_members_read_admins_write(api: Api, isolated_env: IsolatedEnv) -> None:
    member = api.client(api.user("bob"))
    admin = api.client(api.user("lead", admin=True))

    read = member.get("/v1/settings").json()
    assert read["settings"]["knowledge"]["top_k"] == 8
    assert "knowledge.top_k" in read["mutable"]

    change = {"changes": {"knowledge.top_k": 3}}
    body = assert_problem(member.patch("/v1/settings", json=change), 403)
    assert "admin" in body["detail"]
    assert "top_k = 3" not in (isolated_env.aiw_config / "config.toml").read_text()

    changed = admin.patch("/v1/settings", json=change)
    assert changed.status_code == 200, changed.text
    assert changed.json()["settings"]["knowledge"]["top_k"] == 3
    assert "top_k = 3" in (isolated_env.aiw_config / "config.toml").read_text()
    assert member.get("/v1/settings").json()["settings"]["knowledge"]["top_k"] == 3

    refused = admin.patch("/v1/settings", json={"changes": {"providers.fake.api_base": "x"}})
    assert assert_problem(refused, 422)["errors"][0]["field"] == "changes.providers.fake.api_base"
    invalid = admin.patch("/v1/settings", json={"changes": {"knowledge.top_k": 0}})
    assert assert_problem(invalid, 422)["errors"][0]["field"] == "changes.knowledge.top_k"

    # one bad value among good ones changes nothing, and the error does not show server paths
    mixed = {"changes": {"review.min_confidence": 0.9, "knowledge.top_k": "many"}}
    body = assert_problem(admin.patch("/v1/settings", json=mixed), 422)
    assert body["errors"][0]["field"] == "changes.knowledge.top_k"
    assert str(isolated_env.aiw_config) not in body["detail"]
    assert "config.toml" not in body["detail"]
    assert "'many'" in body["detail"]
    after = member.get("/v1/settings").json()["settings"]
    assert after["review"]["min_confidence"] != 0.9 and after["knowledge"]["top_k"] == 3
    both = {"changes": {"review.min_confidence": 0.9, "knowledge.top_k": 4}}
    assert admin.patch("/v1/settings", json=both).status_code == 200
    after = member.get("/v1/settings").json()["settings"]
    assert after["review"]["min_confidence"] == 0.9 and after["knowledge"]["top_k"] == 4


def test_settings_never_show_secrets(api: Api, isolated_env: IsolatedEnv) -> None:
    api.state.loaded.settings.chat.persona = "sk-proj-" + "a1B2c3D4e5" * 5
    body = api.client(api.user("bob")).get("/v1/settings").text
    assert "a1B2c3D4e5a1B2c3D4e5" not in body


# --- writes are audited -------------------------------------------------------------------


def test_every_write_is_in_the_audit_log_with_its_user(api: Api) -> None:
    ana = api.client(api.user("ana"))
    sid = ask(ana, "audit me")["session_id"]
    ana.delete(f"/v1/sessions/{sid}")

    entries = asyncio.run(api.state.store.recent_audit(owner="ana"))
    actions = [e.action for e in entries]
    assert "api.ask" in actions and "api.sessions.delete" in actions
    assert all(e.owner == "ana" for e in entries)


# --- /v1/events ---------------------------------------------------------------------------


def test_events_stream_delivers_an_index_run(api: Api) -> None:
    project: Path = api.state.project_root
    (project / "notes.md").write_text("# Notes\nthe deploy runs on fridays\n")
    client = api.client(api.user("ana"))
    got: list[tuple[str, Any]] = []

    def listen() -> None:
        with client.stream("GET", "/v1/events", timeout=20) as response:
            assert response.status_code == 200
            lines: list[str] = []
            for line in response.iter_lines():
                lines.append(line)
                found = sse_events(lines)
                if found:
                    got.extend(found)
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    feed = api.state.feeds.feeds["index-runs"]
    deadline = time.monotonic() + 10
    # subscribed, and the index feed's first look done (what exists at start is not news)
    while (api.state.bus.subscriber_count == 0 or feed.seen is None) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.02)
    api.state.knowledge().index()
    listener.join(timeout=15)

    assert got, "no event arrived"
    name, data = got[0]
    assert name == "index.finished"
    assert data["project_root"] == str(project)


def test_ask_with_kb_grounds_the_answer_or_asks_back(api: Api, fake_llm: FakeLLM) -> None:
    project = api.state.project_root
    (project / "billing.py").write_text(
        "def invoice_total(lines, vat_rate):\n    return sum(lines) * (1 + vat_rate)\n"
    )
    api.state.knowledge().index()
    fake_llm.reply = "It multiplies by 1 + vat_rate (billing.py:1-2)."
    client = api.client(api.user("ana"))

    grounded = ask(client, "invoice total vat rate", kb=True)
    assert grounded["status"] == "complete"
    chats = [r for r in fake_llm.requests if r["path"].endswith("/chat/completions")]
    sent = chats[0]["json"]["messages"][0]["content"]
    assert "invoice_total" in sent and "billing.py" in sent

    vague = ask(client, "what about the weather on mars", kb=True)
    assert vague["status"] == "clarify" and vague["message_id"] is None
    assert vague["text"]
