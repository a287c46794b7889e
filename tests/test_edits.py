"""core/edits.py: parsing search/replace blocks and applying them (fuzzy, never ambiguous)."""

from __future__ import annotations

import pytest

from ai_workbench.core.edits import EditBlock, EditError, apply_edit, apply_edits, parse_edits

SOURCE = "def total(items):\n    s = 0\n    for i in items:\n        s += i\n    return s\n"


def test_parse_aider_style_block_with_path_and_fence() -> None:
    answer = (
        "Here is the change.\n\n"
        "calc.py\n"
        "```python\n"
        "<<<<<<< SEARCH\n"
        "    s = 0\n"
        "=======\n"
        "    s = 0.0\n"
        ">>>>>>> REPLACE\n"
        "```\n"
        "It now returns a float.\n"
    )
    assert parse_edits(answer) == [EditBlock("calc.py", "    s = 0\n", "    s = 0.0\n")]


def test_parse_several_blocks_path_forms_and_inheritance() -> None:
    answer = (
        "**src/a.py**\n"
        "<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"
        "<<<<<<< SEARCH\ny = 1\n=======\ny = 2\n>>>>>>> REPLACE\n"
        "File: `b.py`\n"
        "```\n<<<<<<< SEARCH\n=======\nprint('new')\n>>>>>>> REPLACE\n```\n"
    )
    blocks = parse_edits(answer)
    assert [(b.path, b.search, b.replace) for b in blocks] == [
        ("src/a.py", "x = 1\n", "x = 2\n"),
        ("src/a.py", "y = 1\n", "y = 2\n"),
        ("b.py", "", "print('new')\n"),
    ]


def test_parse_block_without_path_uses_the_default() -> None:
    blocks = parse_edits("<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n")
    assert blocks == [EditBlock(None, "a\n", "b\n")]
    assert apply_edits({"x.txt": "a\n"}, blocks, "x.txt") == {"x.txt": "b\n"}


def test_parse_whole_file_block() -> None:
    blocks = parse_edits("small.py\n```python\nprint('hi')\nprint('there')\n```\n")
    assert blocks == [EditBlock("small.py", "", "print('hi')\nprint('there')\n", whole=True)]


def test_prose_and_diffs_are_no_blocks() -> None:
    assert parse_edits("I would change the loop.\n```diff\n--- a/x\n+++ b/x\n```") == []


def test_unclosed_block_is_an_error() -> None:
    with pytest.raises(EditError, match="not closed"):
        parse_edits("<<<<<<< SEARCH\na\n=======\nb\n")


def test_exact_match() -> None:
    assert apply_edit(SOURCE, "    s = 0\n", "    s = 0.0\n").splitlines()[1] == "    s = 0.0"


def test_trailing_whitespace_and_crlf_are_tolerated() -> None:
    text = SOURCE.replace("\n", "\r\n").replace("s = 0", "s = 0   ")
    out = apply_edit(text, "    s = 0\n", "    s = 1\n")
    assert out.split("\r\n")[1] == "    s = 1"
    assert out.endswith("\r\n") and "\r\n" in out


def test_lost_indentation_is_matched_and_restored() -> None:
    search = "for i in items:\n    s += i\n"
    replace = "for i in items:\n    s += i * 2\n"
    out = apply_edit(SOURCE, search, replace)
    assert "    for i in items:\n        s += i * 2\n" in out


def test_ambiguous_search_is_refused() -> None:
    text = "x = 1\ny = 2\nx = 1\n"
    with pytest.raises(EditError, match="occurs 2 times"):
        apply_edit(text, "x = 1\n", "x = 3\n")
    with pytest.raises(EditError, match="lines 1, 3"):
        apply_edit("  x = 1\ny\n    x = 1\n", "x = 1  ", "x = 3")


def test_the_same_words_on_other_lines_are_matched_once() -> None:
    text = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
    out = apply_edit(text, "def add(a, b): return a - b", "def add(a, b): return a + b")
    assert out == "def add(a, b): return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
    with pytest.raises(EditError, match="occurs 2 times"):
        apply_edit(text, "return   a - b", "return a + b")
    with pytest.raises(EditError, match="differs only in whitespace"):
        apply_edit(text, "def add(a, b): return a - b", "def add(a, b):  return a - b")


def test_missing_search_is_refused_with_its_start() -> None:
    with pytest.raises(EditError, match=r"not found.*'return total"):
        apply_edit(SOURCE, "return total\n", "x\n", path="calc.py")


def test_empty_search_only_creates() -> None:
    assert apply_edit("", "", "new\n") == "new\n"
    with pytest.raises(EditError, match="only creates a file"):
        apply_edit(SOURCE, "", "x\n")


def test_apply_edits_refuses_unknown_paths_and_large_whole_files() -> None:
    with pytest.raises(EditError, match=r"other\.py"):
        apply_edits({"a.py": "x\n"}, [EditBlock("other.py", "x\n", "y\n")], "a.py")
    big = "x\n" * 500
    with pytest.raises(EditError, match="whole-file rewrite of 500 lines"):
        apply_edits({"a.py": big}, [EditBlock("a.py", "", "y\n", whole=True)], "a.py")


def test_sequential_blocks_see_earlier_edits() -> None:
    blocks = [EditBlock(None, "a\n", "b\n"), EditBlock(None, "b\n", "c\n")]
    assert apply_edits({"f": "a\n"}, blocks, "f") == {"f": "c\n"}
