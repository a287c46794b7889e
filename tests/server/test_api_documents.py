"""``/v1/documents`` through ``aiw serve``: the real app under uvicorn on 127.0.0.1, real SQLite,
the loopback model, the real renderers and exporters. The dialogue over stateless calls (rounds
of questions, then the document), every export format with its content type, ratings that teach,
each user seeing only their own documents, the model-call cap and the progress stream."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import threading
import zipfile
from typing import Any

import httpx
import pytest

from tests.documents import replies
from tests.fake_llm import FakeLLM
from tests.server.conftest import Api
from tests.server.test_api_basics import assert_problem
from tests.server.test_api_endpoints import sse_events

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def api_config() -> str:
    return (
        "[server]\nmax_model_calls = 1\n[documents]\nquestions_per_round = 3\n"
        '[knowledge]\nembedding_model = "none"\n'
    )


def problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    body = assert_problem(response, status)
    if field is not None:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body


def messages(fake_llm: FakeLLM, n: int = -1) -> list[dict[str, Any]]:
    """The messages of the model's ``n``-th chat request."""
    request = fake_llm.chat_requests[n]
    return request.get("json", request)["messages"]  # type: ignore[no-any-return]


def adr(client: httpx.Client, **extra: Any) -> dict[str, Any]:
    """A stored ADR (every suggestion taken), as the API returns it."""
    made = client.post(
        "/v1/documents",
        json={"type": "adr", "title": "Move sessions to PostgreSQL", "no_questions": True, **extra},
    )
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


def test_questions_come_in_rounds_then_the_document(api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.reply = replies.ADR
    ann = api.client(api.user("ann"))
    ask = {"type": "adr", "title": "Move sessions to PostgreSQL"}

    first = ann.post("/v1/documents", json=ask)
    assert first.status_code == 200, first.text
    round1 = first.json()
    assert round1["status"] == "questions" and round1["template"] == "adr"
    assert len(round1["questions"]) == 3 and round1["remaining"] >= 1
    keys = [q["key"] for q in round1["questions"]]
    assert keys[:2] == ["status", "decision_makers"]
    assert round1["questions"][0]["suggestion"] == "proposed"
    assert fake_llm.chat_requests == []  # no model call while questions are left
    assert ann.get("/v1/documents").json()["documents"] == []  # and nothing stored

    # Round 2: answers so far sent back; a blank one takes the suggestion.
    answers = {"status": "accepted", "decision_makers": "", keys[2]: "writers block each other"}
    second = ann.post("/v1/documents", json={**ask, "answers": answers})
    assert second.status_code == 200, second.text
    round2 = second.json()
    assert round2["remaining"] == 0 and round2["questions"]
    assert not {q["key"] for q in round2["questions"]} & set(answers)
    assert {"key": "status", "value": "accepted", "how": "given"} in round2["answered"]

    answers |= {q["key"]: "" for q in round2["questions"]}
    done = ann.post("/v1/documents", json={**ask, "answers": answers})
    assert done.status_code == 201, done.text
    doc = done.json()
    assert doc["type"] == "adr" and doc["title"] == "Move sessions to PostgreSQL"
    assert doc["markdown"].startswith("---\nstatus: accepted\n")
    assert "decision-makers: the architecture team" in doc["markdown"]
    assert doc["checks_passed"] is True and doc["warnings"] == []
    assert all(c["passed"] for c in doc["checks"])
    assert "Decision Outcome" in doc["sections"]
    assert doc["diagrams"][0]["ok"] is True
    assumed = {a["key"] for a in doc["assumptions"]}
    assert "decision_makers" in assumed and "status" not in assumed
    assert "writers block each other" in json.dumps(messages(fake_llm, 0))

    listed = ann.get("/v1/documents").json()["documents"]
    assert [d["id"] for d in listed] == [doc["id"]]
    assert ann.get("/v1/documents?type=nfr").json()["documents"] == []
    got = ann.get(f"/v1/documents/{doc['id']}")
    assert got.status_code == 200 and got.json()["markdown"] == doc["markdown"]
    entries = asyncio.run(api.state.store.recent_audit(owner="ann"))
    added = [e for e in entries if e.action == "api.document.add"]
    assert len(added) == 1 and json.loads(added[0].detail)["document"] == doc["id"]


def test_bad_fields_are_named(api: Api, fake_llm: FakeLLM) -> None:
    ann = api.client(api.user("ann"))
    problem(ann.post("/v1/documents", json={"type": "memo"}), 422, "type")
    problem(ann.post("/v1/documents", json={"type": "adr", "template": "nfr"}), 422, "template")
    bad_key = ann.post("/v1/documents", json={"type": "adr", "answers": {"colour": "red"}})
    assert "status" in problem(bad_key, 422, "answers.colour")["detail"]
    problem(ann.post("/v1/documents", json={"type": "adr", "kb": True}), 422, "kb")
    problem(ann.post("/v1/documents", json={"type": "adr", "session": "nope"}), 422, "session")
    problem(ann.post("/v1/documents", json={"type": "adr", "provider": "gpt"}), 422, "provider")
    problem(ann.post("/v1/documents", json={"type": "adr", "diagram": "visio"}), 422, "diagram")
    binary = {"type": "adr", "attachments": [{"name": "a.bin", "text": "x\u0000y"}]}
    problem(ann.post("/v1/documents", json=binary), 422, "attachments.0.text")
    problem(ann.get("/v1/documents/abc"), 422, "doc_id")
    assert fake_llm.chat_requests == []

    fake_llm.reply = "Sorry, I cannot write that."  # none of the template's sections, twice
    failed = ann.post("/v1/documents", json={"type": "adr", "no_questions": True})
    assert "nothing was saved" in problem(failed, 502)["detail"]
    assert ann.get("/v1/documents").json()["documents"] == []


def test_attachments_and_your_session_ground_it(api: Api, fake_llm: FakeLLM) -> None:
    from tests.server.test_api_endpoints import ask

    ann = api.client(api.user("ann"))
    bob = api.client(api.user("bob"))
    fake_llm.reply = "We keep sessions in SQLite today."
    sid = ask(ann, "where do sessions live?")["session_id"]
    bobs = ask(bob, "bob's private notes")["session_id"]
    fake_llm.reply = replies.ADR
    notes = "Sessions: one SQLite file per user.\nBackups are nightly copies."
    body = {"attachments": [{"name": "notes/storage.md", "text": notes}], "session": sid}
    doc = adr(ann, **body)
    prompt = json.dumps(messages(fake_llm))
    assert "Backups are nightly copies." in prompt and "We keep sessions in SQLite" in prompt
    locations = [s["location"] for s in doc["sources"]]
    assert any(loc.startswith("notes/storage.md") for loc in locations)
    assert any(loc.startswith(f"session {sid[:8]}") for loc in locations)

    # Someone else's session is not yours to ground a document in.
    refused = ann.post("/v1/documents", json={"type": "adr", "session": bobs})
    problem(refused, 422, "session")


def test_grounded_in_the_served_projects_index(api: Api, fake_llm: FakeLLM) -> None:
    (api.state.project_root / "storage.md").write_text(
        "# Storage\n\nSessions move to PostgreSQL because writers block each other in SQLite.\n"
    )
    api.state.knowledge().index()
    fake_llm.reply = replies.ADR
    ann = api.client(api.user("ann"))
    asked = ann.post("/v1/documents", json={"type": "adr", "title": "Sessions in PostgreSQL",
                                             "kb": True})  # fmt: skip
    assert asked.status_code == 200, asked.text
    assert any(a["how"] == "source" for a in asked.json()["answered"])  # the index answered one
    doc = adr(ann, kb=True)
    assert [s["origin"] for s in doc["sources"]] == ["kb"] * len(doc["sources"]) != []
    assert doc["sources"][0]["location"].startswith("storage.md:")
    assert "writers block each other in SQLite" in json.dumps(messages(fake_llm))


def test_export_in_every_format(api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.reply = replies.ADR
    ann = api.client(api.user("ann"))
    doc_id = adr(ann)["id"]
    url = f"/v1/documents/{doc_id}/export"

    md = ann.get(url)  # md: one file, its diagram inside as a data: image
    assert md.status_code == 200, md.text
    assert md.headers["content-type"].startswith("text/markdown")
    assert ".md" in md.headers["content-disposition"]
    data = re.search(r"\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", md.text)
    assert data and b"<svg" in base64.b64decode(data.group(1))
    assert "## Decision Outcome" in md.text

    bundle = ann.get(f"/v1/documents/{doc_id}/export", params={"format": "md", "zip": True})
    assert bundle.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(bundle.content))
    names = archive.namelist()
    main = next(n for n in names if n.endswith(".md"))
    svg = next(n for n in names if n.endswith("-1.svg"))
    assert f"]({svg})" in archive.read(main).decode() and b"<svg" in archive.read(svg)

    docx = ann.get(url, params={"format": "docx"})
    assert docx.headers["content-type"] == DOCX
    import docx as python_docx

    parsed = python_docx.Document(io.BytesIO(docx.content))
    headings = [p.text for p in parsed.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert "Decision Outcome" in headings and len(parsed.inline_shapes) == 1

    pdf = ann.get(url, params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf"
    import pypdf

    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Decision Outcome" in text

    page = ann.get(url, params={"format": "confluence"})  # the page and its attachment
    assert page.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(page.content))
    xhtml = next(n for n in archive.namelist() if n.endswith(".xhtml"))
    attached = next(n for n in archive.namelist() if n.endswith(".svg"))
    assert f'ri:filename="{attached}"' in archive.read(xhtml).decode()

    drawing = ann.get(url, params={"format": "svg"})
    assert drawing.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in drawing.content
    problem(ann.get(url, params={"format": "odt"}), 422, "format")

    fake_llm.reply = replies.NFR_GOOD
    nfr = ann.post("/v1/documents", json={"type": "nfr", "title": "Shop", "no_questions": True})
    assert nfr.status_code == 201, nfr.text
    no_diagram = ann.get(f"/v1/documents/{nfr.json()['id']}/export", params={"format": "svg"})
    assert "no diagram" in problem(no_diagram, 422, "format")["detail"]
    plain = ann.get(f"/v1/documents/{nfr.json()['id']}/export", params={"format": "confluence"})
    assert plain.headers["content-type"].startswith("application/xhtml+xml")


def test_ratings_teach_later_documents(api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.reply = replies.ADR
    ann = api.client(api.user("ann"))
    doc_id = adr(ann)["id"]

    disliked = ann.post(
        f"/v1/documents/{doc_id}/ratings",
        json={"rating": "-", "comment": "name the migration's downtime"},
    )
    assert disliked.status_code == 200, disliked.text
    body = disliked.json()
    assert body["rating"]["rating"] == -1 and body["rating"]["section"] == ""
    assert body["learning"]["kind"] == "guidance"
    assert body["learning"]["rule"] == "name the migration's downtime"

    liked = ann.post(
        f"/v1/documents/{doc_id}/ratings", json={"rating": 1, "section": "decision outcome"}
    )
    assert liked.json()["rating"]["section"] == "Decision Outcome"
    assert liked.json()["learning"]["kind"] == "example"
    problem(
        ann.post(f"/v1/documents/{doc_id}/ratings", json={"rating": "+", "section": "Budget"}),
        422,
        "section",
    )
    problem(ann.post(f"/v1/documents/{doc_id}/ratings", json={"rating": "meh"}), 422, "rating")

    ratings = ann.get(f"/v1/documents/{doc_id}").json()["ratings"]
    assert sorted((r["section"], r["rating"]) for r in ratings) == [
        ("", -1), ("Decision Outcome", 1),
    ]  # fmt: skip
    adr(ann)  # the next ADR is written with the reader's guidance
    assert "name the migration's downtime" in messages(fake_llm)[0]["content"]
    entries = asyncio.run(api.state.store.recent_audit(owner="ann"))
    assert sum(e.action == "api.document.rate" for e in entries) == 2


def test_rewrite_one_section(api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.reply = replies.ADR
    ann = api.client(api.user("ann"))
    doc_id = adr(ann)["id"]
    fake_llm.reply = "- operators already run PostgreSQL 16 elsewhere\n- backups every hour"
    rewritten = ann.post(
        f"/v1/documents/{doc_id}/rewrite", json={"section": "decision drivers", "note": "ops"}
    )
    assert rewritten.status_code == 200, rewritten.text
    markdown = rewritten.json()["markdown"]
    assert "- backups every hour\n\n## Considered Options" in markdown
    assert "concurrent writes from several users" not in markdown
    assert "Chosen option" in markdown  # the other sections are untouched
    prompt = messages(fake_llm)[-1]["content"]
    assert "Rewrite only the section '## Decision Drivers'" in prompt and "ops" in prompt
    assert ann.get(f"/v1/documents/{doc_id}").json()["markdown"] == markdown
    calls = len(fake_llm.chat_requests)
    missing = ann.post(f"/v1/documents/{doc_id}/rewrite", json={"section": "Budget"})
    assert "no section 'Budget'" in problem(missing, 422, "section")["detail"]
    assert len(fake_llm.chat_requests) == calls
    bob = api.client(api.user("bob"))
    assert_problem(bob.post(f"/v1/documents/{doc_id}/rewrite", json={"section": "Context"}), 404)
    entries = asyncio.run(api.state.store.recent_audit(owner="ann"))
    assert any(e.action == "api.document.rewrite" for e in entries)


def test_one_user_never_sees_anothers_documents(api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.reply = replies.ADR
    ann = api.client(api.user("ann"))
    bob = api.client(api.user("bob"))
    doc_id = adr(ann)["id"]
    ann.post(f"/v1/documents/{doc_id}/ratings", json={"rating": "-", "comment": "too long"})

    assert bob.get("/v1/documents").json()["documents"] == []
    assert_problem(bob.get(f"/v1/documents/{doc_id}"), 404)
    assert_problem(bob.get(f"/v1/documents/{doc_id}/export"), 404)
    assert_problem(bob.post(f"/v1/documents/{doc_id}/ratings", json={"rating": "+"}), 404)
    assert_problem(bob.delete(f"/v1/documents/{doc_id}"), 404)
    assert_problem(api.client().get("/v1/documents"), 401)
    # ann's guidance is hers: bob's ADR is written without it
    adr(bob)
    assert "too long" not in messages(fake_llm)[0]["content"]

    assert ann.get(f"/v1/documents/{doc_id}").status_code == 200
    assert ann.delete(f"/v1/documents/{doc_id}").status_code == 204
    assert_problem(ann.get(f"/v1/documents/{doc_id}"), 404)
    entries = asyncio.run(api.state.store.recent_audit(owner="ann"))
    assert any(e.action == "api.document.delete" for e in entries)


def test_progress_stream_and_the_model_call_cap(api: Api, fake_llm: FakeLLM) -> None:
    fake_llm.reply = replies.ADR
    fake_llm.chunk_delay = 0.05
    ann = api.client(api.user("ann"))
    started = threading.Event()
    events: list[tuple[str, Any]] = []

    def write() -> None:
        request = {"type": "adr", "title": "Slow", "no_questions": True, "provider": "slow"}
        with ann.stream("POST", "/v1/documents", json={**request, "stream": True}) as response:
            assert response.status_code == 201
            assert response.headers["content-type"].startswith("text/event-stream")
            lines: list[str] = []
            for line in response.iter_lines():
                lines.append(line)
                started.set()
            events.extend(sse_events(lines))

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    assert started.wait(20)

    capped = ann.post("/v1/documents", json={"type": "adr", "no_questions": True})
    assert "server.max_model_calls" in problem(capped, 429)["detail"]
    assert capped.headers["retry-after"] == "1"
    # a round of questions calls no model: not capped (here as a stream of one event)
    asked = ann.post("/v1/documents", json={"type": "adr", "stream": True})
    assert asked.status_code == 200
    [(kind, data)] = sse_events(asked.text.splitlines())
    assert kind == "questions" and data["questions"][0]["key"] == "status"
    bob = api.client(api.user("bob"))
    assert bob.post(
        "/v1/documents", json={"type": "adr", "no_questions": True}
    ).status_code == 201  # fmt: skip

    thread.join(60)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "progress" and kinds[-1] == "document", kinds
    assert any("writing the ADR" in data["text"] for kind, data in events if kind == "progress")
    written = events[-1][1]
    assert written["title"] == "Slow" and written["checks_passed"] is True
    assert ann.get(f"/v1/documents/{written['id']}").status_code == 200
    # the slot is free again
    assert ann.post("/v1/documents", json={"type": "adr", "no_questions": True}).status_code == 201
