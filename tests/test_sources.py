"""`aiw sources`: Confluence, GitLab and GitHub against fake servers on 127.0.0.1 with the real
APIs' shapes, a local web site for the crawler, and a folder of PDF/DOCX/Markdown/SRT/VTT
files; real SQLite store and index, the built-in embedder (embedding calls counted)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IsolatedEnv, RunAiw
from tests.sources_fakes import TOKEN, FakeApis, github_issue, gitlab_issue
from tests.test_knowledge_index import make_docx, make_pdf


@pytest.fixture
def project(isolated_env: IsolatedEnv) -> Path:
    root = isolated_env.work / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "README.md").write_text("# Project\n\nNothing about the wiki here.\n")
    return root


@pytest.fixture
def apis() -> Iterator[FakeApis]:
    with FakeApis(page_size=2) as fake:
        yield fake


@pytest.fixture
async def store() -> AsyncIterator[Any]:
    from ai_workbench.store import Store

    opened = await Store.open()
    yield opened
    await opened.close()


class Kit:
    """The services a sync needs, for one project."""

    def __init__(self, store: Any, root: Path) -> None:
        from ai_workbench.core.settings import KnowledgeSettings
        from ai_workbench.knowledge.service import KnowledgeService
        from ai_workbench.sources.service import SourcesService

        self.store = store
        self.root = root
        self.sources = SourcesService(store)
        self.knowledge = KnowledgeService(KnowledgeSettings(), root)

    async def sync(self, name: str, **kw: Any) -> Any:
        source = await self.sources.get(name)
        return await self.sources.sync(source, self.knowledge, **kw)

    def search(self, query: str, k: int = 5) -> Any:
        return self.knowledge.search_sync(query, k)


@pytest.fixture
async def kit(store: Any, project: Path) -> AsyncIterator[Kit]:
    made = Kit(store, project)
    yield made
    made.knowledge.close()


def wiki(apis: FakeApis) -> None:
    apis.add_page(
        "101",
        "Release process",
        "<h1>Release</h1><p>Releases ship on Tuesdays "
        "after the canary bake.</p><h2>Rollback</h2><p>Use the flamingo switch.</p>",
    )
    apis.add_page("102", "Oncall", "<p>The oncall rota rotates weekly; pager escalates to "
                  "the zeppelin channel.</p>")  # fmt: skip
    apis.add_page("103", "Old design", "<p>The obsolete quokka service was retired.</p>")
    apis.add_page("104", "Glossary", "<ul><li>SLO: service level objective</li></ul>")
    apis.add_page("105", "Storage", "<p>Backups run nightly to the walrus bucket.</p>")


async def test_confluence_incremental_deletions_report_and_urls(
    kit: Kit, apis: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIKI_TOKEN", TOKEN)
    wiki(apis)
    await kit.sources.add("confluence", f"{apis.url}/wiki", kit.root, name="wiki",
                          options={"space": "ENG", "token_env": "WIKI_TOKEN"})  # fmt: skip
    first = await kit.sync("wiki")
    assert first.status == "ok", first.error
    assert len(first.added) == 5 and first.embedding_calls >= 1 and first.chunks_embedded > 0
    # five pages, two per listing page: three requests following _links.next
    listed = [p for p in apis.paths() if p.startswith("/wiki/rest/api/content")]
    assert len(listed) == 3 and "start=4" in listed[-1]

    hit = kit.search("flamingo switch rollback").hits[0]
    assert hit.rel == "wiki/101" and hit.url == f"{apis.url}/wiki/spaces/ENG/pages/101"

    again = await kit.sync("wiki")
    assert (again.unchanged, again.added, again.updated, again.deleted) == (5, [], [], [])
    assert again.embedding_calls == 0 and again.chunks_embedded == 0

    apis.add_page("102", "Oncall", "<p>The oncall rota rotates daily now; pager escalates to "
                  "the albatross channel.</p>", version=2)  # fmt: skip
    del apis.pages["103"]
    third = await kit.sync("wiki")
    assert [e["id"] for e in third.updated] == ["102"]
    assert [e["id"] for e in third.deleted] == ["103"] and third.unchanged == 3
    assert third.embedding_calls == 1
    assert not any(h.rel == "wiki/103" for h in kit.search("obsolete quokka").hits)
    assert kit.search("albatross channel").hits[0].rel == "wiki/102"
    assert not any("zeppelin" in h.text for h in kit.search("zeppelin").hits)

    saved = await kit.sources.run(str(third.run))
    for key in ("added", "updated", "deleted", "skipped", "failed", "duration_s",
                "embedding_s", "notes"):  # fmt: skip
        assert key in saved
    assert saved["deleted"][0]["url"].endswith("/pages/103")


async def test_grounding_cites_the_page_url_and_the_answer_note_lists_it(
    kit: Kit, apis: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ai_workbench.knowledge.service import check_citations, sent_sources

    monkeypatch.setenv("WIKI_TOKEN", TOKEN)
    wiki(apis)
    await kit.sources.add("confluence", f"{apis.url}/wiki", kit.root, name="wiki",
                          options={"space": "ENG", "token_env": "WIKI_TOKEN"})  # fmt: skip
    await kit.sync("wiki")
    grounding = await kit.knowledge.ground("where do backups run nightly walrus bucket")
    assert grounding.section is not None
    url = f"{apis.url}/wiki/spaces/ENG/pages/105"
    assert f"<{url}>" in grounding.section
    sent = sent_sources(grounding.section)
    assert sent[0].path == "wiki/105" and sent[0].url == url
    check = check_citations(f"Backups go to the walrus bucket ({sent[0].label}).", sent)
    assert check.ok and url in check.note()


async def test_a_failing_page_does_not_stop_the_run_and_429_is_waited_out(
    kit: Kit, apis: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIKI_TOKEN", TOKEN)
    wiki(apis)
    apis.pages["104"]["body"] = None  # a page the API returns without a usable body
    apis.throttle = 1  # the first request: 429 Retry-After: 1
    await kit.sources.add("confluence", f"{apis.url}/wiki", kit.root, name="wiki",
                          options={"space": "ENG", "token_env": "WIKI_TOKEN"})  # fmt: skip
    clock = time.monotonic()
    report = await kit.sync("wiki")
    assert time.monotonic() - clock >= 1.0
    assert report.status == "partial" and len(report.added) == 4
    assert report.failed[0]["id"] == "104" and report.failed[0]["source"] == "wiki"
    assert report.failed[0]["reason"]
    assert any("429" in note and "waited 1.0 s" in note for note in report.notes)
    assert apis.requests[0][2] == 429


async def test_confluence_cloud_basic_auth(
    kit: Kit, apis: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATLASSIAN_TOKEN", TOKEN)
    wiki(apis)
    options = {"space": "ENG", "token_env": "ATLASSIAN_TOKEN", "user": "me@example.com"}
    await kit.sources.add("confluence", f"{apis.url}/wiki", kit.root, name="cloud",
                          options=options)  # fmt: skip
    report = await kit.sync("cloud")
    assert report.status == "ok" and len(report.added) == 5
    assert apis.requests[0][1]["Authorization"].startswith("Basic ")


async def test_a_listing_that_fails_deletes_nothing(
    kit: Kit, apis: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIKI_TOKEN", TOKEN)
    wiki(apis)
    await kit.sources.add("confluence", f"{apis.url}/wiki", kit.root, name="wiki",
                          options={"space": "ENG", "token_env": "WIKI_TOKEN"})  # fmt: skip
    await kit.sync("wiki")
    monkeypatch.setenv("WIKI_TOKEN", "revoked")
    report = await kit.sync("wiki")
    assert report.status == "failed" and "401" in (report.error or "")
    assert "WIKI_TOKEN" in (report.error or "") and report.deleted == []
    assert kit.search("walrus bucket").hits[0].rel == "wiki/105"


def test_a_pasted_token_or_a_bad_name_is_refused_and_never_stored(
    run_aiw: RunAiw, apis: FakeApis, project: Path
) -> None:
    token = "glpat-Zq3xW9vK2mT7rB4nY8hD"  # a GitLab token pasted where its variable goes
    pasted = run_aiw("sources", "add", "gitlab", apis.url, "--project", "team/app",
                     "--token-env", token, cwd=project)  # fmt: skip
    assert pasted.returncode != 0
    assert "looks like the token itself" in pasted.stderr and token not in pasted.stderr
    random = "ATATT3xFfGF0kq8Lm2Pz7Rt5Wv1Yb"  # an Atlassian API token, same mistake
    assert run_aiw("sources", "add", "confluence", f"{apis.url}/wiki", "--space", "ENG",
                   "--token-env", random, cwd=project).returncode != 0  # fmt: skip
    spaced = run_aiw("sources", "add", "confluence", f"{apis.url}/wiki", "--space", "ENG",
                     "--token-env", "WIKI TOKEN", cwd=project)  # fmt: skip
    assert spaced.returncode != 0 and "not an environment variable name" in spaced.stderr
    assert json.loads(run_aiw("sources", "list", "--json", cwd=project).stdout) == []
    db = (Path(os.environ["XDG_DATA_HOME"]) / "aiw").rglob("*.db*")
    assert not any(token.encode() in path.read_bytes() for path in db)


def test_cli_token_errors_name_the_variable(run_aiw: RunAiw, apis: FakeApis, project: Path) -> None:
    added = run_aiw("sources", "add", "confluence", f"{apis.url}/wiki", "--space", "ENG",
                    "--token-env", "WIKI_TOKEN", cwd=project)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added confluence source 'confluence-eng'" in added.stderr
    unset = run_aiw("sources", "sync", "confluence-eng", cwd=project)
    assert unset.returncode == 4
    assert "environment variable WIKI_TOKEN is not set" in unset.stderr
    wrong = run_aiw("sources", "sync", "--all", env={"WIKI_TOKEN": "nope"}, cwd=project)
    assert wrong.returncode == 4 and "401" in wrong.stderr and "$WIKI_TOKEN" in wrong.stderr
    listing = run_aiw("sources", "list", "--json", cwd=project)
    data = json.loads(listing.stdout)
    assert data[0]["options"]["token_env"] == "WIKI_TOKEN"
    assert "nope" not in listing.stdout  # a token is never stored
    db = (Path(os.environ["XDG_DATA_HOME"]) / "aiw").rglob("*.db")
    assert not any(b"nope" in path.read_bytes() for path in db)


async def test_gitlab_issues_merge_requests_and_wiki(
    kit: Kit, apis: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GL_TOKEN", TOKEN)
    base = apis.url
    apis.issues = [
        gitlab_issue(1, "Login fails with SSO", "The pelican provider rejects tokens.",
                     "2026-01-01T00:00:00Z", base),
        gitlab_issue(2, "Slow export", "CSV export of the hippo table is slow.",
                     "2026-01-02T00:00:00Z", base),
        gitlab_issue(3, "Typo", "Fix the typo in the lemur page.", "2026-01-03T00:00:00Z",
                     base),
    ]  # fmt: skip
    apis.mrs = [
        {**gitlab_issue(7, "Faster export", "Streams the hippo rows.", "2026-01-04T00:00:00Z",
                        base), "web_url": f"{base}/team/app/-/merge_requests/7"},
        {**gitlab_issue(8, "Docs", "Documents the narwhal flag.", "2026-01-04T00:00:00Z", base),
         "web_url": f"{base}/team/app/-/merge_requests/8"},
        {**gitlab_issue(9, "CI", "Caches the yak layers.", "2026-01-04T00:00:00Z", base),
         "web_url": f"{base}/team/app/-/merge_requests/9"},
    ]  # fmt: skip
    apis.wikis = [{"slug": "setup", "title": "Setup", "format": "markdown",
                   "content": "## Install\n\nRun the axolotl installer."}]  # fmt: skip
    await kit.sources.add("gitlab", base, kit.root, name="app",
                          options={"project": "team/app", "token_env": "GL_TOKEN"})  # fmt: skip
    report = await kit.sync("app")
    assert report.status == "ok", report.error
    assert sorted(e["id"] for e in report.added) == [
        "issue/1", "issue/2", "issue/3", "mr/7", "mr/8", "mr/9", "wiki/setup",
    ]  # fmt: skip
    pages = [p for p in apis.paths() if "/issues" in p or "/merge_requests" in p]
    assert any("page=2" in p for p in pages if "/issues" in p)  # X-Next-Page followed
    assert any("page=2" in p for p in pages if "/merge_requests" in p)  # Link followed
    assert kit.search("pelican provider").hits[0].url == f"{base}/team/app/-/issues/1"
    assert kit.search("narwhal flag").hits[0].url == f"{base}/team/app/-/merge_requests/8"
    assert kit.search("axolotl installer").hits[0].url == f"{base}/team/app/-/wikis/setup"

    apis.issues[1] = gitlab_issue(2, "Slow export", "Now about the giraffe table.",
                                  "2026-02-01T00:00:00Z", base)  # fmt: skip
    apis.wikis = []
    again = await kit.sync("app")
    assert [e["id"] for e in again.updated] == ["issue/2"]
    assert [e["id"] for e in again.deleted] == ["wiki/setup"] and again.unchanged == 5


async def test_github_etags_make_an_unchanged_sync_free(
    kit: Kit, apis: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    apis.gh_issues = [
        github_issue(5, "Crash on start", "Segfault in the wombat parser.", "2026-01-01T00:00Z"),
        github_issue(4, "Add retries", "Retries for the okapi client.", "2026-01-01T00:00Z",
                     pr=True),
        github_issue(3, "Docs", "The tapir guide is outdated.", "2026-01-01T00:00Z"),
    ]  # fmt: skip
    await kit.sources.add("github", "o/r", kit.root, name="gh",
                          options={"token_env": "GH_TOKEN", "api_url": apis.url})  # fmt: skip
    first = await kit.sync("gh")
    assert sorted(e["id"] for e in first.added) == ["issue/3", "issue/5", "pull/4"]
    assert kit.search("okapi client retries").hits[0].url == "https://github.example/o/r/pull/4"

    before = len(apis.requests)
    second = await kit.sync("gh")
    calls = apis.requests[before:]
    assert [status for _, _, status in calls] == [304, 304]
    assert all("If-None-Match" in headers for _, headers, _ in calls)
    assert second.unchanged == 3 and second.embedding_calls == 0
    assert any("304" in note for note in second.notes)

    apis.gh_issues.pop(0)  # issue 5 deleted (or transferred)
    third = await kit.sync("gh")
    assert [e["id"] for e in third.deleted] == ["issue/5"]


# --- the web crawler ---

SITE = {
    "robots.txt": "User-agent: *\nDisallow: /private/\n",
    "index.html": (
        "<html><head><title>Docs home</title></head><body><nav>menu</nav>"
        "<h1>Welcome</h1><p>Start with the <a href='guide.html'>guide</a>, the "
        "<a href='faq.html#top'>FAQ</a> and the <a href='private/secret.html'>secret</a>."
        "<a href='http://localhost:{port}/other.html'>elsewhere</a>"
        "<a href='hidden.html'>hidden</a> <a href='data.bin'>data</a></p></body></html>"
    ),
    "guide.html": "<html><title>Guide</title><h1>Guide</h1><p>Configure the marmot cache."
    "</p><a href='deep.html'>deeper</a></html>",
    "faq.html": "<html><title>FAQ</title><h2>Why</h2><p>Because of the ibex rule.</p></html>",
    "deep.html": "<html><title>Deep</title><p>The capybara detail.</p></html>",
    "private/secret.html": "<html><p>The secret okapi password.</p></html>",
    "other.html": "<html><p>The other-site gecko page.</p></html>",
    "hidden.html": "<html><head><meta name='robots' content='noindex'></head>"
    "<p>The hidden yak page.</p></html>",
    "data.bin": "\x00\x01",
}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "site"
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = server.server_address[1]
    for name, text in SITE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text.replace("{port}", str(port)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", root
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


async def test_web_crawl_depth_same_site_robots_and_deletions(
    kit: Kit, site: tuple[str, Path]
) -> None:
    url, root = site
    await kit.sources.add("web", f"{url}/index.html", kit.root, name="site",
                          options={"depth": 1, "same_site": True})  # fmt: skip
    first = await kit.sync("site")
    assert first.status == "ok", first.error
    got = sorted(e["id"].rsplit("/", 1)[-1] for e in first.added)
    assert got == ["faq.html", "guide.html", "index.html"]  # not deep (depth 2), not other site
    assert any("robots.txt disallows" in n and "secret" in n for n in first.notes)
    reasons = {e["id"].rsplit("/", 1)[-1]: e["reason"] for e in first.skipped}
    assert reasons == {
        "hidden.html": "the page asks not to be indexed (robots noindex)",
        "data.bin": "not a text page (application/octet-stream)",
    }
    assert first.status == "ok"
    assert not any("yak" in h.text for h in kit.search("hidden yak page").hits)
    assert kit.search("marmot cache").hits[0].url == f"{url}/guide.html"
    assert not kit.search("okapi password").hits or all(
        "secret" not in (h.url or "") for h in kit.search("okapi password").hits
    )

    second = await kit.sync("site")
    assert second.unchanged == 3 and second.embedding_calls == 0  # Last-Modified → 304

    (root / "faq.html").unlink()
    later = time.time() + 5
    index = root / "index.html"
    index.write_text(index.read_text().replace("the <a href='faq.html#top'>FAQ</a> and", ""))
    os.utime(index, (later, later))
    third = await kit.sync("site")
    assert [e["id"].rsplit("/", 1)[-1] for e in third.deleted] == ["faq.html"]
    assert [e["id"].rsplit("/", 1)[-1] for e in third.updated] == ["index.html"]
    assert not any("ibex" in h.text for h in kit.search("ibex rule").hits)


# --- a folder of documents and transcripts ---

SRT = """1
00:00:01,000 --> 00:00:04,000
Welcome to the planning meeting.

2
00:12:34,500 --> 00:12:39,000
We agreed to migrate the <i>heron</i> database in March.
"""

VTT = """WEBVTT

NOTE recorded on a Tuesday

00:00:05.000 --> 00:00:09.000
Intro to the talk.

01:02:03.250 --> 01:02:07.000
The pangolin protocol handles retries.
"""


async def test_folder_pdf_docx_markdown_and_transcripts(kit: Kit, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "talks").mkdir(parents=True)
    (docs / "talks" / "planning.srt").write_text(SRT)
    (docs / "talks" / "keynote.vtt").write_text(VTT)
    make_pdf(docs / "manual.pdf", ["Chapter one about the osprey pump.", "Chapter two."])
    make_docx(docs / "deploy.docx")
    (docs / "notes.md").write_text("# Notes\n\n## Cache\n\nThe cache uses lynx keys.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (docs / "image.png").write_bytes(b"\x89PNG")
    await kit.sources.add("dir", str(docs), kit.root, name="docs")
    report = await kit.sync("docs")
    assert report.status == "partial"
    assert sorted(e["id"] for e in report.added) == [
        "deploy.docx", "manual.pdf", "notes.md", "talks/keynote.vtt", "talks/planning.srt",
    ]  # fmt: skip
    assert [f["id"] for f in report.failed] == ["broken.pdf"]
    assert any("other types" in n for n in report.notes)

    planning = (docs / "talks" / "planning.srt").resolve().as_uri()
    hit = kit.search("migrate heron database").hits[0]
    assert hit.url == f"{planning}#t=00:12:34" and "[00:12:34]" in hit.text
    assert "<i>" not in hit.text
    keynote = kit.search("pangolin protocol").hits[0]
    assert keynote.url and keynote.url.endswith("keynote.vtt#t=01:02:03")
    assert kit.search("osprey pump").hits[0].rel == "docs/manual.pdf"
    assert kit.search("blue-green strategy").hits[0].rel == "docs/deploy.docx"

    again = await kit.sync("docs")
    assert again.embedding_calls == 0 and again.unchanged == 5 and len(again.failed) == 1

    (docs / "notes.md").unlink()
    third = await kit.sync("docs")
    assert [e["id"] for e in third.deleted] == ["notes.md"]
    assert not kit.search("lynx keys").hits or kit.search("lynx keys").hits[0].rel != (
        "docs/notes.md"
    )


async def test_ratings_raise_priority_in_sync_order_and_ranking(
    kit: Kit, apis: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ai_workbench.knowledge.service import PRIORITY_WEIGHT

    monkeypatch.setenv("WIKI_TOKEN", TOKEN)
    for n in range(1, 5):
        apis.add_page(str(n), f"Cache page {n}", f"<p>The cache eviction policy, variant {n}.</p>")
    await kit.sources.add("confluence", f"{apis.url}/wiki", kit.root, name="wiki",
                          options={"space": "ENG", "token_env": "WIKI_TOKEN"})  # fmt: skip
    await kit.sync("wiki")
    last = kit.search("cache eviction policy").hits[-1]
    # liked for questions unlike the one searched below (so only the priority can move it)
    for question in ("what is flushed first", "memory pressure", "dropped entries"):
        await kit.knowledge.rate(kit.store, last.uid, +1, query=question)
    # every page changes; with --limit 1 only the highest-priority one is re-indexed now
    for n in range(1, 5):
        apis.add_page(str(n), f"Cache page {n}", f"<p>The cache eviction policy, v{n}b.</p>",
                      version=2)  # fmt: skip
    report = await kit.sync("wiki", limit=1)
    assert [e["id"] for e in report.updated] == [last.rel.split("/")[-1]]
    assert any("over --limit 1" in n for n in report.notes)
    ranked = kit.search("cache eviction policy")
    assert ranked.hits[0].rel == last.rel  # its new chunk kept the document's priority
    assert 0 < ranked.hits[0].feedback <= PRIORITY_WEIGHT  # a small, bounded boost
    assert all(h.feedback == 0 for h in ranked.hits[1:])
    rest = await kit.sync("wiki")
    assert len(rest.updated) == 3


async def test_remove_a_source_removes_its_documents(
    kit: Kit, apis: FakeApis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIKI_TOKEN", TOKEN)
    wiki(apis)
    await kit.sources.add("confluence", f"{apis.url}/wiki", kit.root, name="wiki",
                          options={"space": "ENG", "token_env": "WIKI_TOKEN"})  # fmt: skip
    await kit.sync("wiki")
    assert await kit.sources.remove("wiki", kit.knowledge) == 5
    assert not kit.knowledge.documents("wiki")
    assert not any(h.rel.startswith("wiki/") for h in kit.search("walrus bucket").hits)
    assert await kit.sources.list() == []


async def test_names_are_checked(kit: Kit, tmp_path: Path) -> None:
    from ai_workbench.sources.models import SourceInputError

    (kit.root / "docs").mkdir()
    with pytest.raises(SourceInputError, match="has a 'docs' entry"):
        await kit.sources.add("dir", str(tmp_path), kit.root, name="docs")
    with pytest.raises(SourceInputError, match="source name 'Bad Name'"):
        await kit.sources.add("dir", str(tmp_path), kit.root, name="Bad Name")
    await kit.sources.add("dir", str(tmp_path), kit.root, name="notes")
    with pytest.raises(SourceInputError, match="exists already"):
        await kit.sources.add("dir", str(tmp_path), kit.root, name="notes")


def test_cli_sync_report_and_progress_free_output(
    run_aiw: RunAiw, project: Path, tmp_path: Path
) -> None:
    docs = tmp_path / "meetings"
    docs.mkdir()
    (docs / "standup.vtt").write_text(VTT)
    assert run_aiw("sources", "add", "dir", str(docs), cwd=project).returncode == 0
    first = run_aiw("sources", "sync", "meetings", "--json", cwd=project)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)[0]
    assert data["source"] == "meetings" and data["added"][0]["id"] == "standup.vtt"
    shown = run_aiw("sources", "report", "--json", cwd=project)
    assert json.loads(shown.stdout)["run"] == data["run"]
    text = run_aiw("sources", "report", str(data["run"]), cwd=project)
    assert "meetings: 1 added" in text.stderr and "standup.vtt" in text.stderr
    found = run_aiw("search", "pangolin", "protocol", cwd=project)
    assert "standup.vtt#t=01:02:03" in found.stdout
    missing = run_aiw("sources", "report", "999", cwd=project)
    assert missing.returncode == 3 and "no run '999'" in missing.stderr


def test_document_names_are_citable() -> None:
    from ai_workbench.knowledge.citations import citations
    from ai_workbench.sources.sync import document_rel

    assert document_rel("site", "https://docs.example.com/guide/intro.html") == (
        "site/docs.example.com/guide/intro.html"
    )
    assert document_rel("wiki", "12345") == "wiki/12345"
    assert document_rel("app", "issue/42") == "app/issue/42"
    odd = document_rel("site", "https://x.example/a b?page=2")
    assert odd.startswith("site/x.example/a-b-page-2-") and " " not in odd
    for rel in (odd, document_rel("docs", "talks/plan (final).vtt")):
        assert [c.path for c in citations(f"see `{rel}:3-9`")] == [rel]
