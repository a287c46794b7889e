"""The clarifying-question gate on natural questions, and tighter excerpts (issue 14 §4)."""

from __future__ import annotations

from pathlib import Path

from ai_workbench.core.settings import KnowledgeSettings
from ai_workbench.knowledge.service import (
    MAX_EXCERPTS,
    KnowledgeService,
    SearchHit,
    SearchResult,
    grounding_section,
)


def _service(root: Path, files: dict[str, str]) -> KnowledgeService:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    service = KnowledgeService(KnowledgeSettings(), root, root.parent / "data")
    service.index(embed=False)
    return service


def test_times_out_matches_the_timeout_section(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    service = _service(
        root,
        {
            "providers.md": "# Providers\n\n## Timeout\n\nA request that gets no answer within "
            "request_timeout fails with exit code 8 (timeout).\n",
            "shell.md": "# Shell\n\nThe hook explains failed commands.\n",
            "review.md": "# Review\n\nFindings carry a severity.\n",
        },
    )
    try:
        result = service.search_sync("what happens when a request times out", 5, mode="lexical")
    finally:
        service.close()
    assert result.hits[0].rel == "providers.md"
    assert result.hits[0].coverage == 1.0  # "times out" is covered by "timeout"
    assert result.confident


def test_a_vague_question_matching_many_files_is_not_confident(tmp_path: Path) -> None:
    # one long file fills every BM25 candidate slot; five others mention errors too
    big = "".join(f"## Part {i}\n\nErrors in part {i} are logged.\n\n" for i in range(70))
    files = {"big.md": "# Big\n\n" + big}
    files |= {f"other{i}.md": f"# Other {i}\n\nErrors are shown in red.\n" for i in range(5)}
    service = _service(tmp_path / "proj", files)
    try:
        result = service.search_sync("what about errors?", 8, mode="lexical")
    finally:
        service.close()
    assert result.hits and not result.confident
    assert result.hits[0].alternatives >= 5
    assert result.clarifying_question is not None


def test_words_the_index_never_uses_do_not_count_against_a_match(tmp_path: Path) -> None:
    service = _service(
        tmp_path / "proj",
        {
            "workbench.md": "# Workbench\n\n## Themes\n\nChoose a theme with ctrl+t.\n",
            "other.md": "# Other\n\nNothing about looks.\n",
        },
    )
    try:
        result = service.search_sync("how do I switch the workbench theme", 5, mode="lexical")
    finally:
        service.close()
    assert result.hits[0].rel == "workbench.md" and result.confident


def _hit(rel: str, start: int, end: int, match: float, text: str = "x") -> SearchHit:
    return SearchHit(
        uid=f"{rel}:{start}",
        rel=rel,
        start=start,
        end=end,
        kind="text",
        title="",
        text=text,
        score=1.0,
        normalized=match,
    )


def test_grounding_sends_fewer_tighter_excerpts() -> None:
    hits = [
        _hit("a.md", 1, 60, 0.9, "first"),
        _hit("a.md", 50, 110, 0.9, "overlaps the first"),
        _hit("b.md", 1, 20, 0.8, "second"),
        _hit("c.md", 1, 20, 0.2, "weak"),
        *[_hit(f"d{i}.md", 1, 5, 0.85, f"more {i}") for i in range(8)],
    ]
    section = grounding_section(SearchResult("q", hits, 0.7, "lexical", []))
    assert section is not None
    assert "overlaps the first" not in section and "weak" not in section
    assert section.count("### ") == MAX_EXCERPTS


def test_the_budget_bounds_the_section(tmp_path: Path) -> None:
    hits = [_hit(f"f{i}.md", 1, 40, 0.9, "word " * 400) for i in range(4)]
    result = SearchResult("q", hits, 0.7, "lexical", [])
    small = grounding_section(result, max_chars=600 * 4)
    large = grounding_section(result, max_chars=24_000)
    assert small is not None and large is not None
    assert small.count("### ") == 1 and large.count("### ") == 4


def test_a_file_named_after_the_question_answers_it(tmp_path: Path) -> None:
    """Issue 20's case: "assertion rewriting" in pytest's tree, where every top hit is in
    assertion/rewrite.py, was asked back because a dozen other files mention both words."""
    files = {
        "src/assertion/rewrite.py": "class AssertionRewriter:\n"
        '    """Rewrite assert statements so failures show the values."""\n\n'
        "    def rewrite_module(self, mod):\n        return mod\n",
    }
    files |= {
        f"src/mod{i}.py": f'"""Module {i}: hooks that see the assertion rewriting of modules."""\n'
        f"def hook{i}(config):\n    return config  # assertion rewriting may be off\n"
        for i in range(10)
    }
    service = _service(tmp_path / "proj", files)
    try:
        named = service.search_sync("assertion rewriting", 5, mode="lexical")
        one_word = service.search_sync("assertion", 5, mode="lexical")
    finally:
        service.close()
    assert named.hits[0].rel == "src/assertion/rewrite.py"
    assert named.confident and named.clarifying_question is None
    assert not one_word.confident  # one word naming a file is still vague
