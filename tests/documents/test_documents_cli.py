"""`aiw doc` as a user runs it: real processes, the loopback model, real renderers/exporters."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.documents import replies
from tests.documents.conftest import doc_cli


def _user(request: dict[str, Any]) -> str:
    """The last user message of a request body (or of a recorded request)."""
    return str(request.get("json", request)["messages"][-1]["content"])


def _system(request: dict[str, Any]) -> str:
    return str(request.get("json", request)["messages"][0]["content"])


def _embedded_fonts(reader: Any) -> list[str]:
    """The names of the fonts whose program is inside the PDF (FontFile2/3)."""
    names = []
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            for f in [font, *[d.get_object() for d in font.get("/DescendantFonts", [])]]:
                desc = f.get("/FontDescriptor")
                if desc is not None and {"/FontFile2", "/FontFile3"} & set(desc.get_object()):
                    names.append(str(f.get("/BaseFont")))
    return names


def test_adr_to_docx_pdf_md_confluence(run_aiw, fake_llm, project: Path) -> None:
    fake_llm.reply = replies.ADR
    made = doc_cli(run_aiw, fake_llm, project, "new", "adr", "Move sessions to PostgreSQL",
                   "--no-questions", "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    body = data["body"]
    assert body.startswith("---\nstatus: proposed\n")
    assert data["meta"]["checks"]["failed"] == [] and not data["meta"]["checks"]["retried"]
    assert data["meta"]["diagrams"][0]["ok"] and data["meta"]["diagrams"][0]["renderer"] == "mmdr"
    # every default taken is listed as an assumption
    assert "## Assumptions" in body and "*assumed:* proposed" in body
    doc_id = str(data["id"])

    docx_path = project / "out" / "adr.docx"
    out = doc_cli(
        run_aiw, fake_llm, project, "export", doc_id, "--format", "docx", "-o", str(docx_path)
    )
    assert out.returncode == 0, out.stderr
    import docx

    d = docx.Document(str(docx_path))
    headings = [p.text for p in d.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert "Move sessions to PostgreSQL" in headings[0]
    assert {"Context and Problem Statement", "Decision Outcome", "Consequences"} <= set(headings)
    assert len(d.inline_shapes) == 1  # the flowchart, as a picture
    assert d.tables and d.tables[0].cell(0, 0).text == "status"

    pdf_path = project / "adr.pdf"
    out = doc_cli(
        run_aiw, fake_llm, project, "export", doc_id, "--format", "pdf", "-o", str(pdf_path)
    )
    assert out.returncode == 0, out.stderr
    import pypdf

    reader = pypdf.PdfReader(str(pdf_path))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Decision Outcome" in text and "PostgreSQL" in text
    assert _embedded_fonts(reader)

    md_path = project / "md" / "adr.md"
    out = doc_cli(
        run_aiw, fake_llm, project, "export", doc_id, "--format", "md", "-o", str(md_path)
    )
    assert out.returncode == 0, out.stderr
    md = md_path.read_text()
    assert "![Diagram 1](adr-1.svg)" in md
    svg = ET.parse(md_path.with_name("adr-1.svg")).getroot()
    assert svg.tag.endswith("svg")
    assert "PostgreSQL" in md_path.with_name("adr-1.svg").read_text()

    conf = project / "adr.xhtml"
    out = doc_cli(
        run_aiw, fake_llm, project, "export", doc_id, "--format", "confluence", "-o", str(conf)
    )
    assert out.returncode == 0, out.stderr
    xml = conf.read_text()
    root = ET.fromstring(
        '<root xmlns:ac="http://atlassian.com/content" '
        f'xmlns:ri="http://atlassian.com/resource/identifier">{xml}</root>'
    )
    assert root.find(".//{http://atlassian.com/resource/identifier}attachment") is not None
    assert "<h2>Decision Outcome</h2>" in xml


def test_existing_export_path_needs_force(run_aiw, fake_llm, project: Path) -> None:
    fake_llm.reply = replies.ADR
    made = doc_cli(run_aiw, fake_llm, project, "new", "adr", "Use PostgreSQL", "--no-questions")
    assert made.returncode == 0, made.stderr
    target = project / "adr.md"
    target.write_text("my notes\n")
    refused = doc_cli(
        run_aiw, fake_llm, project, "export", "1", "--format", "md", "-o", str(target)
    )
    assert refused.returncode == 3
    assert "exists: use --force" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert target.read_text() == "my notes\n"
    assert not list(project.glob(".adr.md.*.part"))
    forced = doc_cli(
        run_aiw, fake_llm, project, "export", "1", "--format", "md", "-o", str(target), "--force"
    )
    assert forced.returncode == 0, forced.stderr
    assert target.read_text().startswith("---\nstatus:")


def test_failed_check_gets_one_retry_with_the_failures(run_aiw, fake_llm, project: Path) -> None:
    def reply(body: dict[str, Any]) -> str:
        return replies.NFR_GOOD if "fails these checks" in _user(body) else replies.NFR_BAD

    fake_llm.reply_fn = reply
    made = doc_cli(run_aiw, fake_llm, project, "new", "nfr", "Shop API", "--no-questions", "--json")
    assert made.returncode == 0, made.stderr
    meta = json.loads(made.stdout)["meta"]
    assert meta["checks"]["first_try"] == ["nfr_measurable"]
    assert meta["checks"]["retried"] and meta["checks"]["failed"] == []
    retry = _user(fake_llm.chat_requests[-1])
    assert "[nfr_measurable] requirement NFR-1 has no measurable target" in retry


def test_still_failing_check_is_reported(run_aiw, fake_llm, project: Path) -> None:
    fake_llm.reply = replies.NFR_BAD
    made = doc_cli(run_aiw, fake_llm, project, "new", "nfr", "Shop API", "--no-questions")
    assert made.returncode == 0, made.stderr
    assert "checks FAILED: nfr_measurable" in made.stdout
    assert "⚠ check [nfr_measurable] requirement NFR-1 has no measurable target" in made.stdout
    assert len(fake_llm.chat_requests) == 2  # one retry, not more


def test_broken_diagram_goes_back_once_then_is_kept_with_a_warning(
    run_aiw, fake_llm, project
) -> None:
    fake_llm.reply = replies.BROKEN_MERMAID  # the "fix" is broken too
    made = doc_cli(run_aiw, fake_llm, project, "new", "uml", "Invoices", "--no-questions", "--json")
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    fixes = [b for b in fake_llm.chat_requests if "does not render" in _user(b)]
    assert len(fixes) == 1 and "mmdr" in _user(fixes[0])
    first, second = data["meta"]["diagrams"]
    assert not first["ok"] and first["retried"] and second["ok"]
    assert "> ⚠ **This diagram did not render**" in data["body"]
    assert "classDiagram" in data["body"]  # the source is kept, never dropped
    shown = doc_cli(run_aiw, fake_llm, project, "show", str(data["id"]))
    assert "did not render" in shown.stdout
    assert "│" in shown.stdout  # the sequence diagram drawn as text


def test_broken_diagram_fixed_by_the_model(run_aiw, fake_llm, project: Path) -> None:
    def reply(body: dict[str, Any]) -> str:
        return replies.FIXED_CLASS if "does not render" in _user(body) else replies.BROKEN_MERMAID

    fake_llm.reply_fn = reply
    made = doc_cli(run_aiw, fake_llm, project, "new", "uml", "Invoices", "--no-questions", "--json")
    data = json.loads(made.stdout)
    assert all(d["ok"] for d in data["meta"]["diagrams"])
    assert '"1" --> "*" Line' in data["body"] and "did not render" not in data["body"]


def test_disliked_comment_guides_the_next_document(run_aiw, fake_llm, project: Path) -> None:
    fake_llm.reply = replies.ADR
    assert (
        doc_cli(
            run_aiw, fake_llm, project, "new", "adr", "Use PostgreSQL", "--no-questions"
        ).returncode
        == 0
    )
    rated = doc_cli(run_aiw, fake_llm, project, "rate", "1", "-", "-m",
                    "Quantify every consequence with a number", "--section", "Decision Outcome")  # fmt: skip  # noqa: E501
    assert rated.returncode == 0, rated.stderr
    assert "guidance" in rated.stdout
    liked = doc_cli(run_aiw, fake_llm, project, "rate", "1", "+", "--section", "Decision Drivers")
    assert "example" in liked.stdout
    fake_llm.reset()
    fake_llm.reply = replies.ADR
    assert (
        doc_cli(run_aiw, fake_llm, project, "new", "adr", "Use Redis", "--no-questions").returncode
        == 0
    )
    system = _system(fake_llm.chat_requests[0])
    assert "Quantify every consequence with a number (section 'Decision Outcome')" in system
    assert "concurrent writes from several users" in system  # the liked section, as an example
    # a document of another type does not get the ADR's guidance
    fake_llm.reset()
    fake_llm.reply = replies.NFR_GOOD
    assert (
        doc_cli(run_aiw, fake_llm, project, "new", "nfr", "Shop", "--no-questions").returncode == 0
    )
    assert "Quantify" not in _system(fake_llm.chat_requests[0])
    learnings = doc_cli(run_aiw, fake_llm, project, "learnings")
    assert re.search(r"guidance\s+adr · Decision Outcome ×1: Quantify", learnings.stdout)
    off = doc_cli(run_aiw, fake_llm, project, "learnings", "edit", "1", "--off")
    assert off.returncode == 0 and "off" in off.stdout
    stats = doc_cli(run_aiw, fake_llm, project, "stats", "--json")
    rows = {r["type"]: r for r in json.loads(stats.stdout)}
    assert (
        rows["adr"]["likes"] == 1 and rows["adr"]["dislikes"] == 1 and rows["adr"]["documents"] == 2
    )


def test_api_spec_starts_from_the_routes_in_the_code(run_aiw, fake_llm, project: Path) -> None:
    fake_llm.reply = replies.API
    made = doc_cli(run_aiw, fake_llm, project, "new", "api", "Shop API", "--no-questions", "--json")
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    prompt = _user(fake_llm.chat_requests[0])
    assert "GET /items/{item_id} (read_item, app.py:6-9)" in prompt
    from ai_workbench.documents.markdown import blocks, parse
    from ai_workbench.documents.openapi import validate_text

    spec_text = next(
        b.text for b in blocks(parse(data["body"]).sections["OpenAPI"]) if b.lang == "yaml"
    )
    assert validate_text(spec_text) is None
    import yaml

    spec = yaml.safe_load(spec_text)
    assert spec["openapi"] == "3.1.0"
    assert set(spec["paths"]) == {"/items/{item_id}", "/items"}
    assert spec["paths"]["/items/{item_id}"]["get"]["parameters"][0]["name"] == "item_id"
    assert "`app.py:6-9` — code" in data["body"]  # the sources appendix cites path:lines
    assert data["meta"]["checks"]["failed"] == []


def test_c4_starts_from_compose_and_dependencies(run_aiw, fake_llm, project: Path) -> None:
    fake_llm.reply = replies.C4
    made = doc_cli(run_aiw, fake_llm, project, "new", "c4", "Shop", "--no-questions", "--json")
    assert made.returncode == 0, made.stderr
    prompt = _user(fake_llm.chat_requests[0])
    assert 'ContainerDb(db, "db", "PostgreSQL 16"' in prompt
    assert "compose.yaml:" in prompt and "Python, FastAPI" in prompt
    meta = json.loads(made.stdout)["meta"]
    assert meta["checks"]["failed"] == [] and meta["diagrams"][0]["ok"]


def test_c4_container_without_technology_fails_its_check(run_aiw, fake_llm, project) -> None:
    fake_llm.reply = replies.C4.replace('"web", "Python, FastAPI"', '"web", ""')
    made = doc_cli(run_aiw, fake_llm, project, "new", "c4", "Shop", "--no-questions", "--json")
    meta = json.loads(made.stdout)["meta"]
    assert "c4_technology" in meta["checks"]["failed"]
    assert any("container 'web' names no technology" in f for f in meta["checks"]["failures"])


def test_bad_input_one_line_and_exit_code(run_aiw, fake_llm, project: Path) -> None:
    unknown = doc_cli(run_aiw, fake_llm, project, "new", "memo", "x", "--no-questions")
    assert unknown.returncode == 3 and "unknown document type 'memo'" in unknown.stderr
    template = doc_cli(
        run_aiw, fake_llm, project, "new", "adr", "x", "-t", "nope", "--no-questions"
    )
    assert template.returncode == 3 and "unknown template 'nope' for type adr" in template.stderr
    empty_kb = doc_cli(run_aiw, fake_llm, project, "new", "adr", "x", "--kb", "--no-questions")
    assert (
        empty_kb.returncode == 3 and "index" in empty_kb.stderr and "aiw index" in empty_kb.stderr
    )
    missing = doc_cli(
        run_aiw, fake_llm, project, "new", "adr", "x", "-f", "nope.md", "--no-questions"
    )
    assert missing.returncode == 3 and "-f nope.md: no such file" in missing.stderr
    fake_llm.reply = "Sure! Here is what I think about that."
    junk = doc_cli(run_aiw, fake_llm, project, "new", "adr", "x", "--no-questions")
    assert junk.returncode == 15 and "no usable ADR" in junk.stderr
    assert [ln for ln in junk.stderr.splitlines() if "error" in ln] == [
        junk.stderr.strip().splitlines()[-1]
    ]
    listed = doc_cli(run_aiw, fake_llm, project, "list")
    assert "no documents yet" in listed.stdout  # nothing half-written was saved
    for line in (unknown, template, empty_kb, missing):
        assert len(line.stderr.strip().splitlines()) == 1, line.stderr


def test_templates_override_per_project(run_aiw, fake_llm, project: Path) -> None:
    from ai_workbench.documents.templates import BUNDLED

    own = project / ".aiw" / "templates"
    own.mkdir(parents=True)
    text = (BUNDLED / "adr.toml").read_text()
    version = int(re.search(r"^version = (\d+)", text, re.M).group(1))  # type: ignore[union-attr]
    own_text = text.replace(f"version = {version}", f"version = {version + 1}", 1)
    (own / "adr.toml").write_text(own_text)
    listed = doc_cli(run_aiw, fake_llm, project, "templates")
    assert re.search(rf"adr\s+adr\s+v{version + 1} .*\[project\]", listed.stdout)
    (own / "rfc.toml").write_text('type = "rfc"\nname = "x"\n')
    broken = doc_cli(run_aiw, fake_llm, project, "templates")
    assert broken.returncode == 3 and "rfc.toml: sections:" in broken.stderr


def test_regenerate_one_section(run_aiw, fake_llm, project: Path) -> None:
    fake_llm.reply = replies.ADR
    assert (
        doc_cli(
            run_aiw, fake_llm, project, "new", "adr", "Use PostgreSQL", "--no-questions"
        ).returncode
        == 0
    )
    fake_llm.reply = "- operators already run PostgreSQL 16 elsewhere\n- backups every hour"
    out = doc_cli(run_aiw, fake_llm, project, "regen", "1", "decision drivers", "-n", "mention ops")
    assert out.returncode == 0, out.stderr
    request = _user(fake_llm.chat_requests[-1])
    assert "Rewrite only the section '## Decision Drivers'" in request and "mention ops" in request
    body = json.loads(doc_cli(run_aiw, fake_llm, project, "show", "1", "--json").stdout)["body"]
    assert "- backups every hour\n\n## Considered Options" in body
    assert "concurrent writes from several users" not in body
    assert "Chosen option" in body  # the other sections are untouched
    missing = doc_cli(run_aiw, fake_llm, project, "regen", "1", "Budget")
    assert missing.returncode == 3 and "has no section 'Budget'" in missing.stderr


def test_new_with_output_exports_at_once(run_aiw, fake_llm, project: Path) -> None:
    fake_llm.reply = replies.ADR
    made = doc_cli(run_aiw, fake_llm, project, "new", "adr", "Use PostgreSQL", "-o", "adr.pdf")
    assert made.returncode == 0, made.stderr
    assert "no terminal to ask on: taking the suggested answers" in made.stderr
    assert f"wrote {project / 'adr.pdf'}" in made.stdout
    import pypdf

    assert "Decision Outcome" in pypdf.PdfReader(str(project / "adr.pdf")).pages[0].extract_text()
    bad = doc_cli(run_aiw, fake_llm, project, "new", "adr", "x", "-o", "adr.odt")
    assert bad.returncode == 2 and "name a .md, .docx, .pdf, .xhtml or .svg file" in bad.stderr
