"""The knowledge index: chunking real files, incremental runs, reports, bad files.

Real SQLite, a real Chroma persistent store in the test's data dir, the built-in embedding
model, small files written (PDF/DOCX generated with pypdf/python-docx) in a temp project.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ai_workbench.core.settings import KnowledgeSettings
from ai_workbench.knowledge.chunkers import chunk_file
from ai_workbench.knowledge.service import KnowledgeService
from ai_workbench.knowledge.walker import walk_files

PY = '''"""Network helpers."""

import time

RETRIES = 3


@cache
def retry_delay(attempt: int) -> float:
    """Exponential backoff between retries."""
    return 0.5 * 2 ** attempt


class Client:
    def get(self, url):
        return url
'''

MD = """# Guide

Intro text.

## Installation

Run pip install.

```
# not a heading
```

## Configuration

Set the timeout in config.toml.
"""


def make_pdf(path: Path, pages: list[str]) -> None:
    """A tiny real PDF with one text line per page (pypdf only writes, so build the stream)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    for text in pages:
        page = writer.add_blank_page(width=300, height=200)
        font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
    with path.open("wb") as handle:
        writer.write(handle)


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Deployment", level=1)
    document.add_paragraph("Deploy with the blue-green strategy.")
    document.add_heading("Rollback", level=2)
    document.add_paragraph("Rollback restores the previous release.")
    document.save(str(path))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "src").mkdir()
    (root / "docs").mkdir()
    (root / "src" / "net.py").write_text(PY)
    (root / "docs" / "guide.md").write_text(MD)
    (root / "notes.txt").write_text("\n".join(f"note line {i}" for i in range(1, 131)))
    (root / "main.go").write_text(
        'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hi")\n}\n\n'
        "func helper(x int) int {\n\treturn x * 2\n}\n"
    )
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / "build").mkdir()
    (root / "build" / "out.py").write_text("x = 1\n")
    (root / "debug.log").write_text("noise\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    (root / "data.bin2").write_bytes(b"abc\0def" * 10)
    (root / "big.txt").write_text("x" * 5000)
    (root / ".env").write_text("API_TOKEN=supersecretvalue\n")
    make_pdf(root / "docs" / "manual.pdf", ["Power supply voltage is 12V", "Fuse rating 5A"])
    make_docx(root / "docs" / "runbook.docx")
    return root


def settings(**kw: object) -> KnowledgeSettings:
    return KnowledgeSettings(max_file_bytes=4096, window_lines=40, window_overlap=5, **kw)


def test_python_chunks_follow_definitions() -> None:
    chunks = chunk_file("src/net.py", PY.encode())
    titles = [c.title for c in chunks]
    assert "def retry_delay" in titles and "class Client" in titles
    delay = next(c for c in chunks if c.title == "def retry_delay")
    assert delay.text.startswith("@cache")  # decorator kept with its function
    assert (delay.start, delay.end) == (8, 11)
    assert PY.splitlines()[delay.start - 1] == "@cache"


def test_markdown_sections_and_windows() -> None:
    chunks = chunk_file("docs/guide.md", MD.encode())
    titles = [c.title for c in chunks]
    assert titles == ["Guide", "Guide > Installation", "Guide > Configuration"]
    config = chunks[-1]
    assert "timeout" in config.text and MD.splitlines()[config.start - 1] == "## Configuration"

    text = "\n".join(f"line {i}" for i in range(1, 101)).encode()
    windows = chunk_file("a.txt", text, window=40, overlap=10)
    assert [(c.start, c.end) for c in windows] == [(1, 40), (31, 70), (61, 100)]


def test_rst_and_other_languages() -> None:
    rst = "Title\n=====\n\nIntro.\n\nUsage\n-----\n\nCall it.\n"
    assert [c.title for c in chunk_file("r.rst", rst.encode())] == ["Title", "Title > Usage"]
    go = b"package main\n\nfunc a() {\n}\n" + b"\n" * 40 + b"func b() {\n\treturn\n}\n"
    titles = [c.title for c in chunk_file("m.go", go, window=20)]
    assert any(t.startswith("func b") for t in titles)


def test_walk_respects_gitignore_limits_and_binaries(project: Path) -> None:
    result = walk_files(project, max_file_bytes=4096, exclude=["notes.txt"])
    kept = {f.rel for f in result.files}
    assert "src/net.py" in kept and "docs/manual.pdf" in kept and "docs/runbook.docx" in kept
    assert not kept & {"build/out.py", "debug.log", "notes.txt", "logo.png", "big.txt"}
    reasons = {s.rel: s.reason for s in result.skipped}
    assert reasons["logo.png"] == "binary file"
    assert ".env" in reasons and ".env" not in kept
    assert reasons["big.txt"].startswith("larger than 4096 bytes")


def test_first_index_covers_every_kind_and_writes_a_report(project: Path, tmp_path: Path) -> None:
    service = KnowledgeService(settings(), project, data_dir=tmp_path / "data")
    report = service.index()
    assert sorted(report.added) == [
        ".gitignore", "docs/guide.md", "docs/manual.pdf", "docs/runbook.docx", "main.go",
        "notes.txt", "src/net.py",
    ]  # fmt: skip
    assert {"path": "data.bin2", "reason": "binary file"} in report.skipped
    assert report.failed == []
    assert report.embedding_model and report.chunks_embedded == report.chunks_total
    saved = json.loads(Path(report.report_path or "").read_text())
    assert saved["added"] == report.added and saved["duration_s"] >= 0
    assert "embedding_s" in saved

    pdf = service.search_sync("fuse rating", 3, mode="lexical").hits[0]
    assert (pdf.rel, pdf.start, pdf.end) == ("docs/manual.pdf", 2, 2)
    docx = service.search_sync("rollback previous release", 3, mode="lexical").hits[0]
    assert docx.rel == "docs/runbook.docx" and docx.title == "Deployment > Rollback"
    service.close()


def test_incremental_reindex_add_change_delete(project: Path, tmp_path: Path) -> None:
    service = KnowledgeService(settings(), project, data_dir=tmp_path / "data")
    first = service.index()
    again = service.index()
    assert (again.added, again.updated, again.deleted) == ([], [], [])
    assert again.unchanged == len(first.added) and again.chunks_embedded == 0

    net = project / "src" / "net.py"
    net.write_text(PY.replace("Exponential backoff", "Jittered backoff"))
    os.utime(net, (1, 1))  # a new mtime, whatever the clock's resolution
    (project / "notes.txt").unlink()
    (project / "src" / "auth.py").write_text("def login(user):\n    return token_for(user)\n")
    touched = project / "docs" / "guide.md"
    os.utime(touched, (2, 2))  # mtime changed, bytes did not: no re-chunk

    third = service.index()
    assert third.added == ["src/auth.py"]
    assert third.updated == ["src/net.py"]
    assert third.deleted == ["notes.txt"]
    # Only the edited function's chunk is new; the unchanged ones keep their vectors.
    assert third.chunks_added == 2 and third.chunks_embedded == 2
    hits = service.search_sync("jittered backoff", 3).hits
    assert hits[0].rel == "src/net.py" and "Jittered" in hits[0].text
    assert not service.search_sync("note line", 5, mode="lexical").hits
    assert service.vectors() is not None and service.vectors().count() == third.chunks_total
    service.close()


def test_a_bad_file_never_stops_the_run(
    project: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (project / "docs" / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    (project / "latin.txt").write_bytes("caf\xe9 menu".encode("latin-1"))
    service = KnowledgeService(settings(), project, data_dir=tmp_path / "data")
    report = service.index()
    failed = {f["path"]: f["reason"] for f in report.failed}
    assert "docs/broken.pdf" in failed and "PDF" in failed["docs/broken.pdf"]
    # pypdf's own warning goes into the reason, not to the log (= the terminal).
    assert "EOF marker not found" in failed["docs/broken.pdf"]
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]
    assert "src/net.py" in report.added and "latin.txt" in report.added  # cp1252 fallback
    # A failed file is retried on the next run, not recorded as indexed.
    assert "docs/broken.pdf" in {f["path"] for f in service.index().failed}
    service.close()


def test_worker_processes_build_the_same_index(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big runs parse in worker processes; the result must equal a serial run's."""
    from ai_workbench.knowledge import service as service_module

    serial = KnowledgeService(settings(), project, data_dir=tmp_path / "serial")
    serial.index(embed=False)
    monkeypatch.setattr(service_module, "POOL_MIN_FILES", 1)
    pooled = KnowledgeService(settings(), project, data_dir=tmp_path / "pooled")
    report = pooled.index(embed=False)
    assert report.failed == [] and len(report.added) == 7

    def rows(svc: KnowledgeService) -> list[tuple[object, ...]]:
        return svc.lexical.db.execute(
            "SELECT uid, rel, start, end, title FROM chunks ORDER BY uid"
        ).fetchall()

    assert [tuple(r) for r in rows(pooled)] == [tuple(r) for r in rows(serial)]
    serial.close()
    pooled.close()
