"""The parts of aiw doc with real tools: renderers, the dialogue at a terminal, grounding in
attached files and the project index."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from ai_workbench.documents.render import RenderError, render_svg
from tests.conftest import REPO_ROOT
from tests.documents import replies
from tests.documents.conftest import doc_cli

C4_PUML = """@startuml
!include <C4/C4_Container>
Person(user, "Architect")
Container(cli, "CLI", "Python click", "commands")
ContainerDb(db, "Store", "SQLite", "sessions")
Rel(user, cli, "uses")
Rel(cli, db, "reads/writes")
@enduml"""


def _texts(svg: str) -> str:
    root = ET.fromstring(svg)
    return " ".join(t.strip() for t in root.itertext() if t.strip())


@pytest.mark.skipif(not any(
    os.access(os.path.join(p, "java"), os.X_OK) for p in os.environ.get("PATH", "").split(":")
), reason="PlantUML needs Java (.ci/run installs default-jre-headless)")  # fmt: skip
def test_c4_plantuml_renders_offline(isolated_env: Any) -> None:
    rendered = render_svg("plantuml", C4_PUML, cache=False)
    text = _texts(rendered.svg)
    assert rendered.renderer == "plantuml"
    assert "Architect" in text and "[Python click]" in text and "SQLite" in text


def test_d2_renders_and_reports_the_line_of_an_error(isolated_env: Any) -> None:
    ok = render_svg(
        "d2", "cli: CLI\ndb: SQLite {shape: cylinder}\ncli -> db: writes\n", cache=False
    )
    assert ok.renderer == "d2" and "SQLite" in ok.svg and ok.seconds < 5
    ET.fromstring(ok.svg)
    with pytest.raises(RenderError, match=r"d2: .*1:\d+: maps must be terminated"):
        render_svg("d2", "x -> y: {\n", cache=False)


def test_mermaid_renders_fast_and_is_cached(isolated_env: Any) -> None:
    src = "sequenceDiagram\n  participant U as User\n  U->>U: hello\n"
    first = render_svg("mermaid", src)
    assert first.renderer == "mmdr" and "User" in _texts(first.svg)
    again = render_svg("mermaid", src)
    assert again.cached and again.svg == first.svg


def test_missing_java_is_one_clear_error(isolated_env: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("PATH", str(isolated_env.root))  # no java on it
    with pytest.raises(RenderError, match="PlantUML needs Java"):
        render_svg("plantuml", C4_PUML, cache=False)


def test_questions_at_a_terminal(fake_llm: Any, project: Path, isolated_env: Any) -> None:
    """At a TTY the unanswered inputs are asked, three at a time, each with its suggestion:
    a typed answer reaches the model, Enter keeps the suggestion (not an assumption)."""
    fake_llm.reply = replies.ADR
    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), COLUMNS="200")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai_workbench", "doc", "new", "adr", "Use PostgreSQL",
         "--model", "openai/echo", "--api-base", fake_llm.base_url],
        stdin=slave, stdout=subprocess.PIPE, stderr=slave, cwd=project, env=env,
    )  # fmt: skip
    os.close(slave)
    seen = b""

    def read_until(text: bytes, timeout: float = 30) -> None:
        nonlocal seen
        end = time.monotonic() + timeout
        while text not in seen and time.monotonic() < end:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
        assert text in seen, seen.decode(errors="replace")

    read_until(b"Status of the decision")
    assert b"[proposed]" in seen
    os.write(master, b"accepted\n")
    read_until(b"Who makes this decision")
    os.write(master, b"\n")  # keep the suggestion
    read_until(b"What problem or need")
    os.write(master, b"SQLite locks under concurrent writers\n")
    read_until(b"Which options")
    os.write(master, b"\n")
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    assert proc.returncode == 0, seen.decode(errors="replace")
    prompt = fake_llm.chat_requests[0]["json"]["messages"][1]["content"]
    assert "status: accepted" in prompt
    assert "problem: SQLite locks under concurrent writers" in prompt
    assert "0 assumption(s)" in out.decode()


def test_attached_file_answers_inputs_and_is_cited(run_aiw, fake_llm, project: Path) -> None:
    notes = project / "notes.md"
    notes.write_text(
        "# Shop notes\n\nExpected load: 200 concurrent users and 50 requests per second at peak.\n"
        "Availability must be 99.9 % uptime per month.\n"
    )
    fake_llm.reply = replies.NFR_GOOD.replace("load test in CI", "load test in CI [S1]")
    made = doc_cli(run_aiw, fake_llm, project, "new", "nfr", "Shop API", "-f", "notes.md",
                   "--no-questions", "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    asked = {a["key"] for a in data["meta"]["assumptions"]}
    assert "load" not in asked and "availability" not in asked  # answered by the file
    assert "system" in asked
    prompt = fake_llm.chat_requests[0]["json"]["messages"][1]["content"]
    assert "[S1] notes.md:1-5" in prompt and "200 concurrent users" in prompt
    assert "- **[S1]** `notes.md:1-5` — file" in data["body"]


def test_grounded_in_the_project_index(run_aiw, fake_llm, project: Path) -> None:
    (project / "README.md").write_text(
        "# Shop\n\n## Sessions\n\nSessions are stored in SQLite; concurrent writers block each "
        "other, which hurts the team server.\n"
    )
    indexed = run_aiw("index", cwd=project, timeout=120)
    assert indexed.returncode == 0, indexed.stderr
    fake_llm.reply = replies.ADR
    made = doc_cli(run_aiw, fake_llm, project, "new", "adr", "Move sessions to PostgreSQL",
                   "--kb", "--no-questions", "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    sources = json.loads(made.stdout)["meta"]["sources"]
    kb = [s for s in sources if s["origin"] == "kb"]
    assert any(s["location"].startswith("README.md:") for s in kb)
    assert (
        "Sessions are stored in SQLite"
        in fake_llm.chat_requests[0]["json"]["messages"][1]["content"]
    )


def test_svg_export_of_the_diagrams(run_aiw, fake_llm, project: Path) -> None:
    fake_llm.reply = replies.BROKEN_MERMAID.replace(
        replies.BROKEN_MERMAID[replies.BROKEN_MERMAID.index("```mermaid\nclassDiagram"):
                               replies.BROKEN_MERMAID.index("One class")],
        replies.FIXED_CLASS + "\n",
    )  # fmt: skip
    made = doc_cli(run_aiw, fake_llm, project, "new", "uml", "Invoices", "--no-questions")
    assert made.returncode == 0, made.stderr
    out = doc_cli(run_aiw, fake_llm, project, "export", "1", "--format", "svg", "-o", "uml.svg")
    assert out.returncode == 0, out.stderr
    files = sorted(p.name for p in project.glob("uml-*.svg"))
    assert files == ["uml-1.svg", "uml-2.svg"]
    assert "Invoice" in _texts((project / "uml-1.svg").read_text())
