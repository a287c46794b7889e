"""Find ``AI!`` / ``AI?`` comments in source files of common languages, and remove them again.

A comment *asks for a change* when its text ends (or starts) with the change marker (``AI!`` by
default) and *asks a question* with the question marker (``AI?``). Only real comments count:
the scanner knows each language's line comments (``#``, ``//``, ``--``, ``;``, ``%``) and block
comments (``/* */``, ``<!-- -->``, ``{- -}``, ``--[[ ]]``), and skips string literals, so
``print("# do it AI!")`` is not a request.

Consecutive whole-line comments form one comment, so a request can span lines::

    # make this retry on timeouts,
    # with exponential backoff AI!

The request is the marker's line plus the comment lines before it (up to an empty comment
line), so a file header right above it is not swallowed. :func:`remove_comments` deletes
exactly those lines (or, for a comment after code, the comment and the spaces before it): that
is how applying a patch also removes the comment that asked for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

__all__ = [
    "AiComment",
    "CommentSyntax",
    "find_ai_comments",
    "has_marker",
    "remove_comments",
    "syntax_for",
]

Kind = Literal["change", "question"]


@dataclass(frozen=True, slots=True)
class CommentSyntax:
    """How one language writes comments and strings."""

    line: tuple[str, ...] = ()
    block: tuple[tuple[str, str], ...] = ()
    quotes: tuple[str, ...] = ('"', "'")
    #: Multi-line string delimiters (Python's triple quotes): their insides are not comments.
    long_strings: tuple[str, ...] = ()


_HASH = CommentSyntax(line=("#",))
_PY = CommentSyntax(line=("#",), long_strings=('"""', "'''"))
_C = CommentSyntax(line=("//",), block=(("/*", "*/"),), quotes=('"', "'", "`"))
_RUSTISH = CommentSyntax(line=("//",), block=(("/*", "*/"),), quotes=('"',))
_CSS = CommentSyntax(block=(("/*", "*/"),))
_SCSS = CommentSyntax(line=("//",), block=(("/*", "*/"),))
_SQL = CommentSyntax(line=("--",), block=(("/*", "*/"),))
_LUA = CommentSyntax(line=("--",), block=(("--[[", "]]"),))
_HASKELL = CommentSyntax(line=("--",), block=(("{-", "-}"),), quotes=('"',))
_DASH = CommentSyntax(line=("--",))
_MARKUP = CommentSyntax(block=(("<!--", "-->"),), quotes=())
_WEB_COMPONENT = CommentSyntax(line=("//",), block=(("<!--", "-->"), ("/*", "*/")), quotes=())
_LISP = CommentSyntax(line=(";",), quotes=('"',))
_INI = CommentSyntax(line=(";", "#"), quotes=())
_PERCENT = CommentSyntax(line=("%",), quotes=())
_MATLAB_OBJC = CommentSyntax(line=("%", "//"), block=(("/*", "*/"),), quotes=('"',))
_PHP = CommentSyntax(line=("//", "#"), block=(("/*", "*/"),))
_GENERIC = CommentSyntax(line=("#", "//"), block=(("/*", "*/"),))

_BY_SUFFIX: dict[str, CommentSyntax] = {}
for _syntax, _suffixes in (
    (_PY, "py pyi pyw pyx"),
    (
        _HASH,
        "sh bash zsh fish ksh rb pl pm r yaml yml toml cfg conf properties mk cmake nim ex exs "
        "jl ps1 psm1 tf tfvars hcl nix awk tcl cr coffee gd dockerfile gitignore env",
    ),
    (
        _C,
        "c h cc cpp cxx hpp hh hxx cs java js mjs cjs jsx ts mts cts tsx go swift kt kts scala "
        "dart groovy gradle proto json5 jsonc sol d v zig cu glsl hlsl",
    ),
    (_RUSTISH, "rs"),
    (_CSS, "css"),
    (_SCSS, "scss sass less styl"),
    (_SQL, "sql psql plsql"),
    (_LUA, "lua"),
    (_HASKELL, "hs lhs elm purs"),
    (_DASH, "ada adb ads vhd vhdl"),
    (_MARKUP, "html htm xhtml xml md markdown svg xsl xslt plist rst"),
    (_WEB_COMPONENT, "vue svelte astro"),
    (_LISP, "lisp lsp cl el clj cljs cljc edn scm ss rkt asm s"),
    (_INI, "ini"),
    (_PERCENT, "tex sty cls bib erl hrl"),
    (_MATLAB_OBJC, "m"),
    (_PHP, "php"),
):
    for _suffix in _suffixes.split():
        _BY_SUFFIX[_suffix] = _syntax

_BY_NAME: dict[str, CommentSyntax] = {
    "makefile": _HASH,
    "gnumakefile": _HASH,
    "dockerfile": _HASH,
    "containerfile": _HASH,
    "rakefile": _HASH,
    "gemfile": _HASH,
    "vagrantfile": _HASH,
    "justfile": _HASH,
    "procfile": _HASH,
    "cmakelists.txt": _HASH,
    ".bashrc": _HASH,
    ".zshrc": _HASH,
    ".profile": _HASH,
}


def syntax_for(path: str | PurePath) -> CommentSyntax:
    """The comment syntax of a file, from its name or extension (``#`` and ``//`` if unknown)."""
    name = PurePath(path).name.lower()
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.startswith("dockerfile") or name.endswith(".dockerfile"):
        return _HASH
    if name.startswith(".env"):
        return _HASH
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    return _BY_SUFFIX.get(suffix, _GENERIC)


@dataclass(frozen=True, slots=True)
class AiComment:
    """One request found in a file (line numbers are 1-based and inclusive)."""

    kind: Kind
    #: What the user asks, without the marker and the comment delimiters ("" for a bare marker).
    request: str
    #: The comment as written (its lines, delimiters included).
    raw: str
    start_line: int
    end_line: int
    #: What to delete to remove the comment: (0-based line, start column, end column or -1 for
    #: the whole line).
    spans: tuple[tuple[int, int, int], ...]

    @property
    def location(self) -> str:
        if self.start_line == self.end_line:
            return f"line {self.start_line}"
        return f"lines {self.start_line}-{self.end_line}"


@dataclass(slots=True)
class _Piece:
    """One comment as the scanner saw it."""

    line: int  # 0-based
    start: int  # column of the opening delimiter
    end: int  # column after the closing delimiter (line comments: end of line)
    body: str  # text between the delimiters
    opener: str
    end_line: int  # 0-based line of the end (block comments can span lines)
    alone: bool  # nothing but whitespace around it on its line(s)


def _scan(lines: Sequence[str], syntax: CommentSyntax) -> list[_Piece]:
    """Every comment in ``lines`` (string literals skipped)."""
    pieces: list[_Piece] = []
    starters = sorted(
        [(s, None) for s in syntax.line] + [(o, c) for o, c in syntax.block],
        key=lambda pair: -len(pair[0]),
    )
    long_strings = syntax.long_strings
    in_long: str | None = None
    block: tuple[int, int, str, str, list[str]] | None = None  # line, col, opener, closer, body
    for index, line in enumerate(lines):
        col = 0
        length = len(line)
        while col < length:
            if block is not None:
                start_line, start_col, opener, closer, body = block
                found = line.find(closer, col)
                if found < 0:
                    body.append(line[col:])
                    break
                body.append(line[col:found])
                end_col = found + len(closer)
                before = lines[start_line][:start_col]
                alone = not before.strip() and not line[end_col:].strip()
                pieces.append(
                    _Piece(start_line, start_col, end_col, "\n".join(body), opener, index, alone)
                )
                block = None
                col = end_col
                continue
            if in_long is not None:
                found = line.find(in_long, col)
                if found < 0:
                    break
                col = found + len(in_long)
                in_long = None
                continue
            ch = line[col]
            long_hit = next((q for q in long_strings if line.startswith(q, col)), None)
            if long_hit is not None:
                in_long = long_hit
                col += len(long_hit)
                continue
            if ch in syntax.quotes:
                col = _skip_string(line, col, ch)
                continue
            hit = next((pair for pair in starters if line.startswith(pair[0], col)), None)
            if hit is None:
                col += 1
                continue
            opener, closer = hit
            if closer is None:
                alone = not line[:col].strip()
                pieces.append(
                    _Piece(index, col, length, line[col + len(opener) :], opener, index, alone)
                )
                break
            block = (index, col, opener, closer, [])
            col += len(opener)
    if block is not None:  # unterminated block comment: it runs to the end of the file
        start_line, start_col, opener, _closer, body = block
        alone = not lines[start_line][:start_col].strip()
        last = len(lines) - 1
        pieces.append(
            _Piece(start_line, start_col, len(lines[last]), "\n".join(body), opener, last, alone)
        )
    return pieces


def _skip_string(line: str, col: int, quote: str) -> int:
    """Column after the string literal opening at ``col`` (end of line if unterminated)."""
    i = col + 1
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == quote:
            return i + 1
        i += 1
    return len(line)


def _marker_re(marker: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    escaped = re.escape(marker)
    ends = re.compile(rf"(?:^|(?<=[^\w]))({escaped})\s*$", re.IGNORECASE)
    starts = re.compile(rf"^\s*({escaped})(?:$|(?=[^\w]))", re.IGNORECASE)
    return ends, starts


def _clean(body: str) -> str:
    """Comment body text without decoration (leading ``*`` of block lines, extra spaces)."""
    out = []
    for line in body.splitlines() or [""]:
        stripped = line.strip()
        if stripped.startswith("*") and not stripped.startswith("*/"):
            stripped = stripped[1:].strip()
        out.append(stripped)
    return "\n".join(out).strip()


def has_marker(text: str, markers: Iterable[str]) -> bool:
    """Cheap pre-check: could ``text`` hold an AI comment at all (case-insensitive)?"""
    lowered = text.lower()
    return any(marker.lower() in lowered for marker in markers)


def find_ai_comments(
    text: str,
    path: str | PurePath,
    *,
    change_marker: str = "AI!",
    question_marker: str = "AI?",
) -> list[AiComment]:
    """Every AI comment in ``text`` (the content of ``path``), in file order."""
    if not has_marker(text, (change_marker, question_marker)):
        return []
    lines = text.splitlines()
    syntax = syntax_for(path)
    pieces = _scan(lines, syntax)
    patterns: list[tuple[Kind, re.Pattern[str], re.Pattern[str]]] = [
        ("change", *_marker_re(change_marker)),
        ("question", *_marker_re(question_marker)),
    ]
    hits: dict[int, tuple[Kind, re.Match[str], bool]] = {}
    for number, piece in enumerate(pieces):
        body = _clean(piece.body)
        for kind, ends, starts in patterns:
            match = ends.search(body)
            from_end = match is not None
            match = match or starts.search(body)
            if match is not None:
                hits[number] = (kind, match, from_end)
                break
    found: list[AiComment] = []
    for number, (kind, match, from_end) in hits.items():
        piece = pieces[number]
        body = match.string
        request = (body[: match.start(1)] + body[match.end(1) :]).strip()
        group = [piece]
        if piece.opener in syntax.line and piece.alone:
            group = _line_group(pieces, number, from_end=from_end, stop=set(hits))
        found.append(_comment(kind, group, lines, request, from_end))
    return found


def _line_group(
    pieces: list[_Piece], index: int, *, from_end: bool, stop: set[int]
) -> list[_Piece]:
    """The whole-line comments joined with ``pieces[index]``: before it when the marker ends
    the comment, after it when the marker starts it; an empty comment line stops the run."""
    anchor = pieces[index]
    group = [anchor]
    step = -1 if from_end else 1
    i = index + step
    expected = anchor.line + step
    while 0 <= i < len(pieces):
        piece = pieces[i]
        if (
            piece.line != expected
            or piece.end_line != piece.line
            or not piece.alone
            or piece.opener != anchor.opener
            or not piece.body.strip()
            or i in stop
        ):
            break
        group.append(piece)
        i += step
        expected += step
    group.sort(key=lambda p: p.line)
    return group


def _comment(
    kind: Kind, group: list[_Piece], lines: Sequence[str], request: str, from_end: bool
) -> AiComment:
    first, last = group[0], group[-1]
    if len(group) > 1:
        others = [_clean(p.body) for p in group if p is not (last if from_end else first)]
        request = "\n".join([*others, request] if from_end else [request, *others]).strip()
    spans: list[tuple[int, int, int]] = []
    for piece in group:
        if piece.alone:
            spans.extend((n, 0, -1) for n in range(piece.line, piece.end_line + 1))
        elif piece.line == piece.end_line:
            start = len(lines[piece.line][: piece.start].rstrip())
            spans.append((piece.line, start, piece.end))
        else:  # a block comment after code that runs over several lines
            start = len(lines[piece.line][: piece.start].rstrip())
            spans.append((piece.line, start, len(lines[piece.line])))
            spans.extend((n, 0, -1) for n in range(piece.line + 1, piece.end_line))
            spans.append((piece.end_line, 0, piece.end))
    raw = "\n".join(lines[first.line : last.end_line + 1])
    return AiComment(
        kind=kind,
        request=" ".join(request.split()) if "\n" not in request else request,
        raw=raw,
        start_line=first.line + 1,
        end_line=last.end_line + 1,
        spans=tuple(spans),
    )


def remove_comments(text: str, comments: Iterable[AiComment]) -> str:
    """``text`` without ``comments`` (whole lines when a comment stands alone on them)."""
    lines = text.splitlines(keepends=True)
    drop: set[int] = set()
    cuts: dict[int, list[tuple[int, int]]] = {}
    for comment in comments:
        for line, start, end in comment.spans:
            if line >= len(lines):
                continue
            if end < 0:
                drop.add(line)
            else:
                cuts.setdefault(line, []).append((start, end))
    out: list[str] = []
    for index, line in enumerate(lines):
        if index in drop:
            continue
        if index in cuts:
            body = line.rstrip("\r\n")
            ending = line[len(body) :]
            for start, end in sorted(cuts[index], reverse=True):
                body = body[:start] + body[end:]
            if not body.strip():
                continue  # the line held only the comment (a block comment's last line)
            line = body.rstrip() + ending
        out.append(line)
    return "".join(out)
