"""Edits as search/replace blocks: the format models write reliably (aider found it the most
robust), applied here so aiw builds the exact diff itself.

A block names its file on the line before it (bare, in backticks or bold), optionally inside
a code fence::

    src/app.py
    ```python
    <<<<<<< SEARCH
    def total(items):
        return sum(items) + 1
    =======
    def total(items):
        return sum(items)
    >>>>>>> REPLACE
    ```

Further blocks without a path line edit the same file. An empty SEARCH creates a file (or
fills an empty one). A fenced block without markers right after a path line is the file's
whole new text (:attr:`EditBlock.whole`), which callers accept only for small files.

:func:`apply_edit` finds the SEARCH text exactly, else line by line ignoring trailing
whitespace, else ignoring indentation (re-indenting the replacement by the same amount), else
as the same words with other whitespace between them (a small model quoting two lines as one). It
refuses a SEARCH that is not found, and one that matches more than once at the first level
that matches at all (which place was meant is then a guess). The watcher's ``AI!`` requests use
this; the agent's edit tool will too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["EditBlock", "EditError", "apply_edit", "apply_edits", "parse_edits"]

_SEARCH = re.compile(r"^\s*<{5,9} ?SEARCH\b.*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9} ?REPLACE\b.*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_PATHLIKE = re.compile(r"^[\w./\\@+-]+$")


class EditError(ValueError):
    """An edit that cannot be applied; ``str()`` says which and why."""


@dataclass(frozen=True)
class EditBlock:
    path: str | None  # None: the caller's default file
    search: str  # "" for a new file (or with ``whole``)
    replace: str
    whole: bool = False  # ``replace`` is the file's whole new text


def _path_of(line: str) -> str | None:
    """The path a line names, if it looks like one (``**a.py**``, ```a.py```, ``File: a.py``)."""
    text = line.strip()
    for prefix in ("file:", "path:", "filename:"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :].strip()
    text = text.strip("*`'\"#: ").rstrip(":")
    if not text or " " in text or not _PATHLIKE.match(text):
        return None
    if "." not in text and "/" not in text:
        return None
    return text


def parse_edits(text: str) -> list[EditBlock]:
    """Every search/replace (or whole-file) block in a model's answer, in order."""
    lines = text.splitlines()
    blocks: list[EditBlock] = []
    path: str | None = None
    recent: str | None = None  # a path named on a line just before (skipping a fence line)
    i = 0
    while i < len(lines):
        line = lines[i]
        if _SEARCH.match(line):
            if recent is not None:
                path = recent
            search: list[str] = []
            i += 1
            while i < len(lines) and not _DIVIDER.match(lines[i]):
                search.append(lines[i])
                i += 1
            replace: list[str] = []
            i += 1
            while i < len(lines) and not _REPLACE.match(lines[i]):
                replace.append(lines[i])
                i += 1
            if i >= len(lines):
                raise EditError("a SEARCH/REPLACE block is not closed by >>>>>>> REPLACE")
            blocks.append(EditBlock(path, _joined(search), _joined(replace)))
            recent = None
            i += 1
            continue
        fence = _FENCE.match(line)
        if fence and recent is not None:
            # A path, then a fence: search/replace blocks inside, or the whole file.
            end = next(
                (j for j in range(i + 1, len(lines)) if lines[j].strip() == fence.group(1)), None
            )
            body = lines[i + 1 : end] if end is not None else []
            if end is not None and not any(_SEARCH.match(x) for x in body):
                blocks.append(EditBlock(recent, "", _joined(body), whole=True))
                path, recent = recent, None
                i = end + 1
                continue
            i += 1  # the markers inside are handled line by line
            continue
        if line.strip() and not fence:
            recent = _path_of(line)
        i += 1
    return blocks


def _joined(lines: Sequence[str]) -> str:
    return "".join(x + "\n" for x in lines)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _matches(hay: list[str], want: list[str], norm: Callable[[str], str]) -> list[int]:
    size = len(want)
    target = [norm(x) for x in want]
    normed = [norm(x) for x in hay]
    return [i for i in range(len(hay) - size + 1) if normed[i : i + size] == target]


def apply_edit(text: str, search: str, replace: str, *, path: str = "the file") -> str:
    """``text`` with the one place matching ``search`` replaced (see the module doc)."""
    if not search.strip():
        if text.strip():
            raise EditError(f"{path}: an empty SEARCH only creates a file; this one has content")
        return replace
    count = text.count(search)
    if count == 1:
        return text.replace(search, replace, 1)
    if count > 1:
        raise EditError(f"{path}: the SEARCH text occurs {count} times; quote more lines")
    eol = "\r\n" if "\r\n" in text else "\n"
    hay = text.splitlines()
    want = search.splitlines()
    while want and not want[-1].strip():
        want.pop()
    while want and not want[0].strip():
        want.pop(0)
    if not want:
        raise EditError(f"{path}: the SEARCH text is only blank lines")
    new = replace.splitlines()
    for norm, reindent in ((str.rstrip, False), (str.strip, True)):
        hits = _matches(hay, want, norm)
        if len(hits) > 1:
            where = ", ".join(str(h + 1) for h in hits[:5])
            raise EditError(f"{path}: the SEARCH text matches at lines {where}; quote more lines")
        if hits:
            at = hits[0]
            if reindent:
                new = _reindent(new, want, hay[at : at + len(want)])
            out = hay[:at] + new + hay[at + len(want) :]
            result = eol.join(out)
            if out and text.endswith(("\n", "\r")):
                result += eol
            return result
    spans = _spans_ignoring_whitespace(text, search)
    if len(spans) > 1:
        raise EditError(f"{path}: the SEARCH text occurs {len(spans)} times; quote more lines")
    if spans:  # the same words, other line breaks ("def f(a): return a" for two lines)
        start, end = spans[0]
        if replace.split() == search.split():
            raise EditError(f"{path}: the replacement differs only in whitespace; nothing changes")
        return text[:start] + replace.strip("\n") + text[end:]
    first = want[0].strip()
    raise EditError(f"{path}: the SEARCH text was not found (it starts with {first[:60]!r})")


def _spans_ignoring_whitespace(text: str, search: str) -> list[tuple[int, int]]:
    """Where ``search`` occurs in ``text`` when every run of whitespace may be any other run
    (at least one space stays one); at most two spans are looked for."""
    words = search.split()
    if len(words) < 2:
        return []
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
    spans = []
    for match in pattern.finditer(text):
        spans.append(match.span())
        if len(spans) > 1:
            break
    return spans


def _reindent(new: list[str], want: list[str], found: list[str]) -> list[str]:
    """Give each replacement line the file's indentation of the SEARCH line it stands for.

    Replacement lines are aligned with SEARCH lines (difflib on the stripped text); a line
    keeps its extra indentation relative to its SEARCH line, on top of the file's."""
    import difflib

    matcher = difflib.SequenceMatcher(
        a=[x.strip() for x in want], b=[x.strip() for x in new], autojunk=False
    )
    pair = [0] * len(new)
    for _op, i1, i2, j1, j2 in matcher.get_opcodes():
        for j in range(j1, j2):
            if i2 > i1:
                pair[j] = min(i1 + (j - j1), i2 - 1)
            else:  # an insertion: like the SEARCH line before it
                pair[j] = max(0, i1 - 1)
    out: list[str] = []
    for j, line in enumerate(new):
        if not line.strip():
            out.append(line)
            continue
        k = min(pair[j], len(want) - 1)
        have, need, own = _indent(want[k]), _indent(found[k]), _indent(line)
        extra = own[len(have) :] if own.startswith(have) else ""
        out.append(need + extra + line.lstrip())
    return out


def apply_edits(
    files: dict[str, str | None],
    blocks: Sequence[EditBlock],
    default_path: str,
    *,
    max_whole_lines: int = 400,
) -> dict[str, str]:
    """The new text of every file the blocks touch. ``files`` maps a path to its current
    text (None: the file does not exist yet); missing paths must be added by the caller
    before (it decides which paths are allowed). A whole-file block is refused for a file
    longer than ``max_whole_lines`` (a model rewriting a large file drops lines)."""
    out: dict[str, str] = {}
    for block in blocks:
        path = block.path or default_path
        if path not in files:
            raise EditError(f"the edit names {path}, which is not available to edit")
        current = out.get(path, files[path])
        if block.whole:
            if current is not None and len(current.splitlines()) > max_whole_lines:
                raise EditError(
                    f"{path}: a whole-file rewrite of {len(current.splitlines())} lines is "
                    "refused; use SEARCH/REPLACE blocks"
                )
            out[path] = block.replace
            continue
        out[path] = apply_edit(current or "", block.search, block.replace, path=path)
    return out
