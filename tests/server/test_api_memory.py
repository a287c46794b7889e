"""``/v1/memory``: the caller's profile facts and session summaries through ``aiw serve`` (the
real app under uvicorn, real SQLite, the loopback model): add, list, edit, forget, clear by
tier; facts redacted; a fact goes into the caller's own prompts only; one user never sees or
removes another's memories."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fake_llm import FakeLLM
from tests.server.conftest import Api
from tests.server.test_api_basics import assert_problem


@pytest.fixture
def api_config() -> str:
    return '[knowledge]\nembedding_model = "none"\n[memory]\noffer_tool = false\n'


def system_prompt(request: dict[str, Any]) -> str:
    body = request["json"]
    return str(body["messages"][0]["content"])


def test_profile_facts_add_list_edit_forget_clear(api: Api, fake_llm: FakeLLM) -> None:
    ann = api.client(api.user("ann"))
    bob = api.client(api.user("bob"))
    made = ann.post("/v1/memory", json={"content": "I deploy with Ansible on Debian 12"})
    assert made.status_code == 201, made.text
    fact = made.json()["memory"]
    assert fact["tier"] == "long" and fact["pinned"] is True
    again = ann.post("/v1/memory", json={"content": "I deploy with Ansible on Debian 12"})
    assert again.json()["duplicate"] is True and again.json()["memory"]["id"] == fact["id"]

    secret = ann.post(
        "/v1/memory", json={"content": "my token is ghp_abcdefghijklmnopqrstuvwxyz0123456789"}
    )
    assert secret.status_code == 201
    assert "ghp_abcdef" not in secret.json()["memory"]["content"]
    assert secret.json()["redacted"]

    listed = ann.get("/v1/memory").json()
    assert {m["id"] for m in listed["memories"]} == {fact["id"], secret.json()["memory"]["id"]}
    assert listed["counts"] == {"short": 0, "medium": 0, "long": 2}
    assert ann.get("/v1/memory?tier=medium").json()["memories"] == []
    assert bob.get("/v1/memory").json()["memories"] == []

    # The fact is in Ann's prompts, not in Bob's.
    assert ann.post("/v1/ask", json={"prompt": "how do I ship?"}).status_code == 200
    assert "Ansible on Debian 12" in system_prompt(fake_llm.chat_requests[-1])
    assert bob.post("/v1/ask", json={"prompt": "how do I ship?"}).status_code == 200
    assert "Ansible" not in system_prompt(fake_llm.chat_requests[-1])

    # Bob can neither change nor remove Ann's fact.
    assert_problem(bob.patch(f"/v1/memory/{fact['id']}", json={"content": "x"}), 404)
    assert_problem(bob.delete(f"/v1/memory/{fact['id']}"), 404)
    assert bob.delete("/v1/memory?tier=all").json()["removed"]["long"] == 0

    edited = ann.patch(f"/v1/memory/{fact['id']}", json={"content": "I deploy with Nomad"})
    assert edited.status_code == 200 and edited.json()["content"] == "I deploy with Nomad"
    unpinned = ann.patch(f"/v1/memory/{fact['id']}", json={"pinned": False})
    assert (
        unpinned.json()["pinned"] is False and unpinned.json()["content"] == "I deploy with Nomad"
    )

    forgotten = ann.delete(f"/v1/memory/{secret.json()['memory']['id']}")
    assert forgotten.status_code == 200
    assert [m["id"] for m in ann.get("/v1/memory").json()["memories"]] == [fact["id"]]

    invalid = assert_problem(ann.delete("/v1/memory?tier=everything"), 422)
    assert invalid["errors"][0]["field"] == "tier"
    assert_problem(ann.delete("/v1/memory"), 422)  # no tier: nothing cleared by accident
    cleared = ann.delete("/v1/memory?tier=long")
    assert cleared.json()["removed"] == {"long": 1}
    assert ann.get("/v1/memory").json()["memories"] == []
