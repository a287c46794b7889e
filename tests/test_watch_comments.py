"""AI comments in many languages: found only in real comments, removed exactly."""

from __future__ import annotations

import pytest

from ai_workbench.watch.comments import find_ai_comments, remove_comments
from ai_workbench.watch.diffs import DiffError, apply_hunks, make_diff, parse_diff


@pytest.mark.parametrize(
    ("name", "source", "kind", "request_text"),
    [
        ("app.py", "x = 1\n# make this retry AI!\n", "change", "make this retry"),
        ("main.go", "func f() {}\n// why a pointer here? AI?\n", "question", "why a pointer here?"),
        ("q.sql", "-- add an index AI!\nselect 1;\n", "change", "add an index"),
        ("x.lua", "--[[ speed this up AI! ]]\nlocal x = 1\n", "change", "speed this up"),
        ("page.html", "<p>hi</p>\n<!-- add a footer AI! -->\n", "change", "add a footer"),
        ("a.css", "a { color: red; } /* use a variable AI! */\n", "change", "use a variable"),
        (
            "init.el",
            "; what does this hook do? AI?\n(add-hook 'x)\n",
            "question",
            "what does this hook do?",
        ),
        ("paper.tex", "% fix this table AI!\n\\begin{table}\n", "change", "fix this table"),
        ("lib.rs", "fn f<'a>(x: &'a str) {} // borrow less AI!\n", "change", "borrow less"),
        ("Dockerfile", "FROM python\n# AI! pin the version\n", "change", "pin the version"),
        (
            "app.ts",
            "/*\n * rename to fetchAll\n * AI!\n */\nexport const f = 1;\n",
            "change",
            "rename to fetchAll",
        ),
    ],
)
def test_ai_comments_in_common_languages(name, source, kind, request_text) -> None:
    (comment,) = find_ai_comments(source, name)
    assert comment.kind == kind
    assert comment.request == request_text


def test_markers_in_strings_and_words_are_not_requests() -> None:
    source = (
        'msg = "# do this AI!"\nname = "x"  # the HAI! greeting\n'
        '"""\n# inside a docstring AI!\n"""\n'
    )
    assert find_ai_comments(source, "m.py") == []


def test_custom_markers_are_case_insensitive() -> None:
    source = "# tidy up @ai-do\n# explain please @ai-ask\n# old style AI!\n"
    found = find_ai_comments(source, "m.py", change_marker="@AI-DO", question_marker="@ai-ask")
    assert [(c.kind, c.request) for c in found] == [
        ("change", "tidy up"),
        ("question", "explain please"),
    ]


def test_consecutive_comment_lines_form_one_request_but_not_the_header() -> None:
    source = (
        "# Module header.\n#\n# make fetch retry on timeouts,\n# with backoff AI!\n"
        "def fetch(): ...\n"
    )
    (comment,) = find_ai_comments(source, "m.py")
    assert comment.request == "make fetch retry on timeouts,\nwith backoff"
    assert (comment.start_line, comment.end_line) == (3, 4)
    assert remove_comments(source, [comment]) == "# Module header.\n#\ndef fetch(): ...\n"


def test_removing_a_trailing_comment_keeps_the_code() -> None:
    source = "def f():\n    return g(x)  # why g? AI?\n"
    comments = find_ai_comments(source, "m.py")
    assert remove_comments(source, comments) == "def f():\n    return g(x)\n"


def test_a_loose_model_diff_becomes_an_exact_patch() -> None:
    text = "a\nb\nc\nd\ne\n"
    # wrong line numbers and counts, no file headers, context without its leading space
    model = "@@ -40,9 +40,9 @@\n b\n-c\n+C\n\n"
    (item,) = parse_diff(model)
    new = apply_hunks(text.splitlines(), item.hunks, "x.txt")
    assert new == ["a", "b", "C", "d", "e"]
    patch = make_diff("x.txt", text, "\n".join(new) + "\n")
    assert patch.startswith("--- a/x.txt\n+++ b/x.txt\n@@ -1,5 +1,5 @@\n")
    with pytest.raises(DiffError, match="hunk 1"):
        apply_hunks(text.splitlines(), parse_diff("@@ -1 +1 @@\n-zzz\n+y\n")[0].hunks, "x.txt")


def test_a_file_without_final_newline_keeps_that() -> None:
    patch = make_diff("x.txt", "a\nb", "a\nB")
    assert patch.endswith("-b\n\\ No newline at end of file\n+B\n\\ No newline at end of file\n")
