"""Citations in grounded answers are checked against the excerpts aiw sent (unit level)."""

from __future__ import annotations

from pathlib import Path

from ai_workbench.knowledge.citations import Citation, check_citations, sent_sources

SECTION = (
    "## Project knowledge (retrieved excerpts)\n\nAnswer from the excerpts below.\n\n"
    "### docs/providers.md:10-40 (Timeouts)\n```\n...\n```\n\n"
    "### docs/providers.md:41-60\n```\n...\n```\n\n"
    "### src/app.py:1-12 (def main)\n```\n...\n```"
)
SENT = [
    Citation("docs/providers.md", 10, 40),
    Citation("docs/providers.md", 41, 60),
    Citation("src/app.py", 1, 12),
]


def test_the_sent_excerpts_are_read_from_the_grounding_section() -> None:
    assert sent_sources(SECTION) == SENT
    assert sent_sources("## Context from the Web plugin\n\n### a.py:1-2") == []


def test_right_and_wrong_citations_are_told_apart(tmp_path: Path) -> None:
    answer = (
        "Raise `request_timeout` (docs/providers.md:12-20); adjacent excerpts count as one "
        "(docs/providers.md:35-50). Not `docs/providers.md:200-210`, nor src/other.py:3, "
        "and example.com:443 is no citation."
    )
    check = check_citations(answer, SENT, tmp_path)
    assert [c.label for c in check.right] == ["docs/providers.md:12-20", "docs/providers.md:35-50"]
    assert [(c.label, why) for c, why in check.wrong] == [
        (
            "docs/providers.md:200-210",
            "lines outside the excerpt(s) sent (docs/providers.md:10-40, 41-60)",
        ),
        ("src/other.py:3", "no excerpt of this file was sent"),
    ]
    note = check.note()
    assert "wrong citation** `docs/providers.md:200-210`" in note
    assert "2 of 4 citation(s) right" in note and "`src/app.py:1-12`" in note  # names the sent


def test_an_answer_without_citations_is_flagged() -> None:
    check = check_citations("Just raise the timeout.", SENT)
    assert check.cited == 0 and not check.ok
    assert "citations missing" in check.note() and "3 excerpt(s)" in check.note()
    check.asked = True
    assert "asked once more, it named none" in check.note()


def test_rating_an_answer_rates_what_it_cites_not_what_the_note_lists() -> None:
    from ai_workbench.knowledge.citations import NOTE_SEPARATOR, citations, strip_note

    answer = "See docs/providers.md:12-20."
    noted = answer + NOTE_SEPARATOR + check_citations("x", SENT).note()
    assert len(citations(noted)) == 4  # the note names every excerpt sent
    assert strip_note(noted) == answer


def test_a_copied_placeholder_is_flagged_with_the_excerpt_it_may_mean() -> None:
    check = check_citations("The exit code is 10 (path:41-60).", SENT)
    assert [(c.label, why) for c, why in check.wrong] == [
        (
            "path:41-60",
            "it names no file; the excerpt with these lines is `docs/providers.md:41-60`",
        )
    ]
    assert "wrong citation** `path:41-60`" in check.note()


def test_a_failed_follow_up_is_not_reported_as_naming_none() -> None:
    check = check_citations("No citation here.", SENT)
    check.asked, check.ask_error = True, "interrupted"
    assert "asking which it used failed: interrupted" in check.note()
    assert "it named none" not in check.note()
