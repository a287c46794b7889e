"""The one retry rewrites only what failed; checks accept the headings and shapes a small model
writes, and still fail what is really missing. The loopback model answers by request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ai_workbench.documents.checks import check_srs_requirements, failing_sections, run_checks
from ai_workbench.documents.markdown import parse
from ai_workbench.documents.templates import BUNDLED, TemplateError, parse_template
from tests.documents import replies
from tests.documents.conftest import doc_cli


def _user(request: dict[str, Any]) -> str:
    return str(request.get("json", request)["messages"][-1]["content"])


def test_retry_rewrites_only_the_failing_section_and_asks_for_the_missing_diagram(
    run_aiw, fake_llm, project: Path
) -> None:
    def reply(body: dict[str, Any]) -> str:
        ask = _user(body)
        if "Reply with only the diagram" in ask:
            return replies.SRS_DIAGRAM
        if "'## Functional Requirements' of your document fails" in ask:
            return replies.SRS_FR_FIX
        return replies.SRS_NO_IDS

    fake_llm.reply_fn = reply
    made = doc_cli(run_aiw, fake_llm, project, "new", "srs", "Shop API", "--no-questions", "--json")
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    checks = data["meta"]["checks"]
    assert set(checks["first_try"]) == {"srs_requirements", "diagram"}
    assert checks["retried"] and checks["failed"] == []
    assert data["meta"]["calls"] == 3  # the document, the section, the diagram
    asks = [_user(r) for r in fake_llm.chat_requests[1:]]
    fix = next(a for a in asks if "Functional Requirements' of your document fails" in a)
    # the retry names what is missing and shows the section's shape
    assert "no FR-n identifiers" in fix and "- FR-1: The system shall <one capability>." in fix
    assert "Reply with the body of that section only" in fix
    # the model sees its own document in the retry
    assert "Users shall be able to list items." in str(fake_llm.chat_requests[1]["json"])
    body = parse(data["body"])
    assert "FR-3: The system shall create an order" in body.sections["Functional Requirements"]
    assert "Users shall be able to list items" not in data["body"]
    scope = body.sections["Purpose and Scope"]
    assert scope.startswith("The shop API lets shoppers") and "```mermaid" in scope
    assert body.sections["Stakeholders"].startswith("- **Shoppers**")  # untouched
    assert data["meta"]["diagrams"][0]["ok"]


def test_a_fix_that_does_not_help_is_reported_not_hidden(run_aiw, fake_llm, project) -> None:
    fake_llm.reply = replies.SRS_NO_IDS  # every answer: the same document again
    made = doc_cli(run_aiw, fake_llm, project, "new", "srs", "Shop API", "--no-questions", "--json")
    assert made.returncode == 0, made.stderr
    meta = json.loads(made.stdout)["meta"]
    assert set(meta["checks"]["failed"]) == {"srs_requirements", "diagram"}
    assert meta["calls"] == 3  # one retry per failing part, never more
    assert any("no FR-n identifiers" in w for w in meta["warnings"])


def test_short_headings_are_taken_for_the_template_sections(run_aiw, fake_llm, project) -> None:
    fake_llm.reply = replies.ADR_SHORT_HEADINGS
    made = doc_cli(run_aiw, fake_llm, project, "new", "adr", "Use PostgreSQL", "--no-questions",
                   "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    assert data["meta"]["checks"]["failed"] == [] and data["meta"]["calls"] == 1
    sections = list(parse(data["body"]).sections)
    assert sections[:5] == [
        "Context and Problem Statement",
        "Decision Drivers",
        "Considered Options",
        "Decision Outcome",
        "Pros and Cons of the Options",
    ]


def test_an_unfixable_failure_retries_the_whole_document(run_aiw, fake_llm, project) -> None:
    """A failure in no section the model writes (a status that is not MADR's) is not sent as a
    section fix: the whole document goes back once."""
    fake_llm.reply = replies.ADR
    made = doc_cli(run_aiw, fake_llm, project, "new", "adr", "Use PostgreSQL", "--no-questions",
                   "--answer", "status=maybe", "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    meta = json.loads(made.stdout)["meta"]
    assert meta["checks"]["failed"] == ["madr"] and meta["calls"] == 2
    assert "Write the whole document again" in _user(fake_llm.chat_requests[-1])


def _srs() -> Any:
    return parse_template(BUNDLED / "srs.toml")


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("- FR-1: The system shall list items.\n- FR-2: The system shall order.", True),
        ("1. **FR1** The system shall list items.\n2. **FR2** The system shall order.", True),
        ("| ID | Requirement |\n|---|---|\n| FR-01 | shall list |\n| FR-02 | shall order |", True),
        ("- REQ-1: The system shall list items.\n- REQ-2: The system shall order.", True),
        ("1. The system shall list items.\n2. The system shall order.", False),  # no ids
        ("- FR-1: List items.\n- FR-2: Order.", False),  # no 'shall'
        ("- FR-1: The system shall list items.", False),  # one is not a specification
    ],
)
def test_srs_requirements_accepts_variants_but_needs_ids_and_shall(text: str, ok: bool) -> None:
    doc = parse(f"## Functional Requirements\n\n{text}\n")
    assert (check_srs_requirements(doc, _srs()) == []) is ok


def test_failures_are_mapped_to_their_sections() -> None:
    template = _srs()
    doc = parse(replies.SRS_NO_IDS)
    targets = failing_sections(run_checks(doc, template), template)
    assert list(targets or {}) == ["Purpose and Scope", "Functional Requirements"]
    adr = parse_template(BUNDLED / "adr.toml")
    bad_status = parse("---\nstatus: maybe\n---\n\n" + replies.ADR)
    assert failing_sections(run_checks(bad_status, adr), adr) is None


def test_template_aliases_and_diagram_section_are_validated(tmp_path: Path) -> None:
    text = (BUNDLED / "rfc.toml").read_text()
    bad = tmp_path / "rfc.toml"
    bad.write_text(text.replace('diagram_section = "Detailed Design"', 'diagram_section = "Nope"'))
    with pytest.raises(TemplateError, match=r"rfc.toml: diagram_section: 'Nope' is not one"):
        parse_template(bad)
    bad.write_text(text.replace('aliases = ["Abstract", "Overview"]', 'aliases = "Abstract"'))
    with pytest.raises(TemplateError, match=r"sections\[1\]: aliases: expected a list"):
        parse_template(bad)


NFR_SUBSECTIONS = """## Requirements

### NFR-1: Response time
- **Target:** 95th percentile under 300 ms at 20 requests per second
- **Verification:** load test in CI

### NFR-2: Availability
- **Target:** 99.5 % per month
- **Verification:** uptime monitor with alerts
"""


def test_nfr_needs_a_number_and_a_method_in_any_shape() -> None:
    from ai_workbench.documents.checks import check_nfr_measurable

    template = parse_template(BUNDLED / "nfr.toml")
    assert check_nfr_measurable(parse(NFR_SUBSECTIONS), template) == []
    vague = NFR_SUBSECTIONS.replace("99.5 % per month", "high availability")
    assert check_nfr_measurable(parse(vague), template) == [
        "requirement NFR-2: Availability has no measurable target: give a number with a unit "
        "that fits it, e.g. '95th percentile under 300 ms', '99.5 % per month'"
    ]
    # a table's Verification column is read alone: a method named elsewhere in the row does
    # not count, and the message quotes what the cell says
    table = (
        "## Requirements\n\n| ID | Characteristic | Requirement | Target | Verification |\n"
        "|---|---|---|---|---|\n"
        "| NFR-1 | Performance efficiency | Checkout is tested fast | under 300 ms | n/a |\n"
    )
    failures = check_nfr_measurable(parse(table), template)
    assert failures == [
        "requirement NFR-1 does not say how it is verified (its verification says 'n/a'): "
        "name a test, benchmark, monitor, review or audit"
    ]
    ok = table.replace("| n/a |", "| k6 load test in CI |")
    assert check_nfr_measurable(parse(ok), template) == []


def test_api_endpoints_are_written_in_a_call_of_their_own(run_aiw, fake_llm, project) -> None:
    endpoints = replies.API.split("## Endpoints\n", 1)[1].split("## Errors", 1)[0]
    rest = replies.API.replace("## Endpoints\n" + endpoints, "")

    def reply(body: dict[str, Any]) -> str:
        return endpoints if "Now write the section '## Endpoints'" in _user(body) else rest

    fake_llm.reply_fn = reply
    made = doc_cli(run_aiw, fake_llm, project, "new", "api", "Shop API", "--no-questions", "--json")
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    first, second = (_user(r) for r in fake_llm.chat_requests)
    assert "## Errors" in first and "## Endpoints" not in first.split("level-2 headings")[1]
    # the routes found in the code are the skeleton: the model writes what each does
    assert "### GET /items/{item_id}\n\n<one sentence: what it does>" in second
    assert "### POST /items\n\n<one sentence: what it does>" in second
    assert data["meta"]["calls"] == 2 and data["meta"]["checks"]["failed"] == []
    sections = list(parse(data["body"]).sections)
    assert sections[:4] == ["Overview", "Authentication", "Endpoints", "Errors"]
    assert "Returns one item" in parse(data["body"]).sections["Endpoints"]


def test_api_routes_needs_each_path_not_a_longer_one() -> None:
    from ai_workbench.documents.checks import check_api_routes

    template = parse_template(BUNDLED / "api.toml")
    spec = "## OpenAPI\n\n```yaml\npaths:\n  /items:\n    get: {}\n  /items/{item_id}:\n```\n"
    only_long = parse("## Endpoints\n\n### GET /items/{item_id}\n\nOne item.\n\n" + spec)
    assert check_api_routes(only_long, template) == [
        "'## Endpoints' does not describe /items: give each path a '### METHOD /path' heading "
        "and a sentence"
    ]
    both = parse("## Endpoints\n\n### GET /items\n\nAll.\n\n### GET /items/{item_id}\n\n" + spec)
    assert check_api_routes(both, template) == []


def test_a_placeholder_copied_from_the_shape_fails_the_sections_check() -> None:
    from ai_workbench.documents.checks import check_sections

    template = parse_template(BUNDLED / "adr.toml")
    copied = replies.ADR.replace("- PostgreSQL 16\n- keep SQLite", "- <option A>\n- keep SQLite")
    assert check_sections(parse(copied), template) == [
        "'## Considered Options' still has the placeholder '<option A>' from its shape: write the "
        "real content there"
    ]
    assert check_sections(parse(replies.ADR), template) == []


def test_citations_of_excerpts_that_do_not_exist_are_dropped(run_aiw, fake_llm, project) -> None:
    fake_llm.reply = replies.ADR.replace("- PostgreSQL 16\n", "- PostgreSQL 16 [S4]\n")
    made = doc_cli(run_aiw, fake_llm, project, "new", "adr", "Use PostgreSQL", "--no-questions",
                   "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    assert "[S1]" not in data["body"] and "[S4]" not in data["body"]
    assert "- PostgreSQL 16\n" in data["body"]
    assert data["meta"]["dropped_citations"] == ["S1", "S4"]
    system = fake_llm.chat_requests[0]["json"]["messages"][0]["content"]
    assert "no excerpts to cite" in system


def test_a_diagram_line_copied_from_the_shape_fails_the_sections_check() -> None:
    from ai_workbench.documents.checks import check_sections

    template = _srs()
    copied = replies.SRS_NO_IDS.replace(
        "Payment is outside its scope.\n",
        "Payment is outside its scope.\n\n```mermaid\nflowchart LR\n  Shopper[Shopper] --> "
        "S[Shop API]\n  S --> B[(<store or outside system>)]\n```\n",
    )
    assert check_sections(parse(copied), template) == [
        "'## Purpose and Scope' still has the placeholder '<store or outside system>' from its "
        "shape: write the real content there"
    ]
    # a labelled line of a sample diagram copied whole counts too, placeholders or not
    from ai_workbench.documents.checks import _shape_placeholders

    sample = "```mermaid\nclassDiagram\n  A --> B : uses\n```"
    assert "A --> B : uses" in _shape_placeholders(sample)
    own = parse(replies.SRS_NO_IDS + "\n" + replies.SRS_DIAGRAM)
    assert check_sections(own, template) == []


def test_a_diagram_label_left_as_a_placeholder_fails_the_sections_check() -> None:
    """What the 1.5B model wrote: the labels filled in but still in <...>."""
    from ai_workbench.documents.checks import check_sections

    template = parse_template(BUNDLED / "adr.toml")
    left = replies.ADR.replace("CLI[aiw CLI]", "CLI[<aiw CLI>]")
    assert check_sections(parse(left), template) == [
        "'## Decision Outcome' still has the placeholder '<aiw CLI>' from its shape: write the "
        "real content there"
    ]


def test_a_stray_fence_in_the_reply_does_not_swallow_the_endpoints(run_aiw, fake_llm, project):
    """What the 1.5B model wrote: 'Diagram: ```mermaid block' then the diagram and a closing
    fence, which opened a block that swallowed the Endpoints and the OpenAPI after it."""
    endpoints = replies.API.split("## Endpoints\n", 1)[1].split("## Errors", 1)[0]
    rest = replies.API.replace("## Endpoints\n" + endpoints, "") + (
        "\nDiagram: ```mermaid block\nsequenceDiagram\n  Client->>Server: GET /items\n```"
    )

    def reply(body: dict[str, Any]) -> str:
        return endpoints if "Now write the section '## Endpoints'" in _user(body) else rest

    fake_llm.reply_fn = reply
    made = doc_cli(run_aiw, fake_llm, project, "new", "api", "Shop API", "--no-questions", "--json")
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    assert data["meta"]["checks"]["failed"] == []
    sections = parse(data["body"]).sections
    assert "Returns one item" in sections["Endpoints"] and "openapi: 3.1.0" in sections["OpenAPI"]


def test_confluence_export_of_an_api_with_its_openapi_code_block(run_aiw, fake_llm, project):
    """A code block (the OpenAPI YAML) in Confluence storage format: the export crashed on
    it ('fence() takes 4 positional arguments but 5 were given')."""
    fake_llm.reply = replies.API
    made = doc_cli(run_aiw, fake_llm, project, "new", "api", "Shop API", "--no-questions")
    assert made.returncode == 0, made.stderr
    out = doc_cli(run_aiw, fake_llm, project, "export", "1", "--format", "confluence",
                  "-o", "api.xhtml")  # fmt: skip
    assert out.returncode == 0, out.stderr
    xml = (project / "api.xhtml").read_text()
    assert '<ac:parameter ac:name="language">yaml</ac:parameter>' in xml
    assert "openapi: 3.1.0" in xml
