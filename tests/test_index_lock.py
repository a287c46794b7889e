"""One writer at a time on the local index, across real processes: `aiw index`, the workbench's
indexer, the watcher's re-index and `aiw sources sync` started at once leave a consistent
index; a second writer waits naming the holder, or fails fast with --no-wait."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, IsolatedEnv, RunAiw

HOLD = """
import sys, time, pathlib
from ai_workbench.core.settings import load_config
from ai_workbench.knowledge.service import KnowledgeService
service = KnowledgeService.for_project(load_config({}).settings.knowledge, pathlib.Path.cwd())
with service.write_lock():
    pathlib.Path(sys.argv[1]).write_text("held")
    while not pathlib.Path(sys.argv[2]).exists():
        time.sleep(0.05)
"""

WORKBENCH = """
from ai_workbench.core.settings import load_config
from ai_workbench.tui.knowledge import index_project
report = index_project(load_config({}))
print("workbench", len(report.added), len(report.updated), len(report.failed))
"""

WATCHER = """
import pathlib
from ai_workbench.core.settings import load_config
from ai_workbench.knowledge.service import KnowledgeService
# what the watcher's re-index does after saves (watch/service.py: lexical part, no vectors)
service = KnowledgeService(load_config({}).settings.knowledge, pathlib.Path.cwd())
report = service.index(embed=False)
print("watcher", len(report.added), len(report.updated), len(report.failed))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{REPO_ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}".rstrip(os.pathsep)
    return env


def _python(code: str, *args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _aiw(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ai_workbench", *args],
        cwd=cwd,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def project(isolated_env: IsolatedEnv) -> Path:
    root = isolated_env.work / "proj"
    (root / ".git").mkdir(parents=True)
    for n in range(120):
        folder = root / f"pkg{n % 6}"
        folder.mkdir(exist_ok=True)
        (folder / f"mod{n}.py").write_text(
            "\n\n".join(
                f"def handler_{n}_{k}(request):\n    return 'answer {n} {k}' * {k}\n"
                for k in range(8)
            )
        )
    (root / "README.md").write_text("# Project\n\n## Setup\n\nRun the installer.\n")
    return root


def _index_db(isolated_env: IsolatedEnv) -> Path:
    found = list((isolated_env.aiw_data / "knowledge").glob("*/index.db"))
    assert len(found) == 1
    return found[0]


def _consistent(path: Path) -> tuple[int, int]:
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        fts = db.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
        assert chunks == fts  # every chunk searchable, no orphan FTS rows
        orphans = db.execute(
            "SELECT COUNT(*) FROM chunks_fts WHERE rowid NOT IN (SELECT id FROM chunks)"
        ).fetchone()[0]
        assert orphans == 0
        # each file's manifest row counts exactly its chunks
        bad = db.execute(
            "SELECT f.rel FROM files f LEFT JOIN (SELECT rel, COUNT(*) n FROM chunks GROUP BY "
            "rel) c ON c.rel = f.rel WHERE f.chunks != COALESCE(c.n, 0)"
        ).fetchall()
        assert bad == []
        files = db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        return files, chunks
    finally:
        db.close()


def test_a_second_writer_waits_naming_the_holder_or_fails_fast(
    run_aiw: RunAiw, project: Path, tmp_path: Path
) -> None:
    assert run_aiw("index", "--no-embed", cwd=project).returncode == 0
    held, done = tmp_path / "held", tmp_path / "done"
    holder = _python(HOLD, str(held), str(done), cwd=project)
    try:
        deadline = time.monotonic() + 30
        while not held.exists():
            assert holder.poll() is None, holder.stderr.read() if holder.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        fast = run_aiw("index", "--no-wait", cwd=project)
        assert fast.returncode == 13
        assert f"being written by pid {holder.pid}" in fast.stderr
        assert "-c" in fast.stderr or "aiw" in fast.stderr  # the holder's command line

        waiter = _aiw("index", "--no-embed", cwd=project)
        time.sleep(1.5)
        assert waiter.poll() is None  # still waiting for the lock
        done.write_text("go")
        _out, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, err
        assert f"waiting for the index of {project}" in err and f"pid {holder.pid}" in err
    finally:
        done.write_text("go")
        holder.wait(timeout=30)


def test_workbench_watcher_index_and_sources_sync_at_once(
    run_aiw: RunAiw, project: Path, tmp_path: Path, isolated_env: IsolatedEnv
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(30):
        (docs / f"note{n}.md").write_text(f"# Note {n}\n\n## Body\n\nThe okapi fact number {n}.\n")
    added = run_aiw("sources", "add", "dir", str(docs), "--name", "notes", cwd=project)
    assert added.returncode == 0, added.stderr

    procs = [
        _aiw("index", cwd=project),
        _python(WORKBENCH, cwd=project),
        _python(WATCHER, cwd=project),
        _aiw("sources", "sync", "notes", cwd=project),
    ]
    for n in range(0, 120, 7):  # files change while they run
        path = project / f"pkg{n % 6}" / f"mod{n}.py"
        path.write_text(path.read_text() + f"\n\ndef late_{n}():\n    return {n}\n")
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    files, chunks = _consistent(_index_db(isolated_env))
    assert files == 121 and chunks > 121 * 4

    final = run_aiw("index", "--json", cwd=project)
    assert final.returncode == 0, final.stderr
    assert '"failed": []' in final.stdout
    _, chunks = _consistent(_index_db(isolated_env))
    from ai_workbench.core.settings import KnowledgeSettings
    from ai_workbench.knowledge.service import KnowledgeService

    service = KnowledgeService(KnowledgeSettings(), project)
    try:  # one vector per chunk: none missing, none left from removed chunks
        vectors = service.vectors()
        assert vectors is not None and vectors.count() == chunks
    finally:
        service.close()
    found = run_aiw("search", "--json", "late_14", cwd=project)
    assert '"rel": "pkg2/mod14.py"' in found.stdout
    notes = run_aiw("search", "okapi fact number 7", cwd=project)
    assert "notes/note7.md" in notes.stdout
    status = run_aiw("kb", "status", "--json", cwd=project)
    assert '"unembedded": 0' in status.stdout  # vectors caught up with every chunk
