"""Split a file into retrievable chunks, each with the lines (or pages) it came from.

- Python: along definitions (``ast``): each top-level function and class, methods of large
  classes on their own, decorators included; code between definitions in line windows.
- Other code (C-like, Go, Rust, JS/TS, Java, Ruby, shell...): top-level definition lines found by
  a language-neutral pattern start a chunk; small neighbours are merged, long ones windowed.
- Markdown and reStructuredText: one chunk per section, titled with its heading path.
- PDF (pypdf): one chunk per page, cited by page number; DOCX (python-docx): sections by heading
  styles, cited by paragraph number.
- Anything else: line windows with overlap.

Every chunk is at most ``max_lines`` lines and ``MAX_CHARS`` characters, so one chunk fits any
model's context and an embedding sees all of it.
"""

from __future__ import annotations

import ast
import contextlib
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

MAX_CHARS = 6000

CODE_SUFFIXES = frozenset(
    {
        ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".go", ".rs", ".java", ".kt", ".scala",
        ".swift", ".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".rb", ".php", ".lua", ".sh",
        ".bash", ".zsh", ".pl", ".r", ".jl", ".ex", ".exs", ".erl", ".hs", ".ml", ".dart",
        ".m", ".sql", ".vue", ".svelte", ".pyx", ".pyi", ".zig", ".nim", ".tf",
    }
)  # fmt: skip
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdx"})
RST_SUFFIXES = frozenset({".rst", ".rest"})

_DEF_LINE = re.compile(
    r"^(?:export\s+|default\s+|pub(?:\([^)]*\))?\s+|public\s+|private\s+|protected\s+|internal\s+"
    r"|static\s+|abstract\s+|final\s+|async\s+|unsafe\s+|extern\s+|inline\s+|virtual\s+)*"
    r"(?:function\*?|func|fn|def|class|struct|enum|interface|trait|impl|type|module|mod|object"
    r"|record|union|namespace|macro_rules!|local\s+function|sub|proc|CREATE\s+\w+|resource)\b"
    r"|^[A-Za-z_][\w:<>,\s\*&]*\s+\**[A-Za-z_][\w:]*\s*\([^;]*$"  # C/Java-style signature
    r"|^(?:const|let|var)\s+\w+\s*=\s*(?:async\s*)?(?:\([^)]*\)|\w+)\s*=>",
    re.IGNORECASE,
)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_MD_FENCE = re.compile(r"^\s*(```|~~~)")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+.:_])\1{2,}\s*$")


@dataclass(frozen=True)
class Chunk:
    """A piece of a file. ``start``/``end`` are 1-based lines (pages for PDF, paragraphs for
    DOCX), inclusive; ``title`` names the definition or section when there is one."""

    rel: str
    start: int
    end: int
    kind: str  # code | markdown | rst | text | pdf | docx
    title: str
    text: str

    @property
    def location(self) -> str:
        return f"{self.rel}:{self.start}-{self.end}"


class ChunkError(Exception):
    """A file that cannot be read as what its name says (a broken PDF, a bad encoding)."""


def chunk_file(rel: str, data: bytes, *, window: int = 60, overlap: int = 10) -> list[Chunk]:
    """Chunks of one file's bytes, chosen by its suffix."""
    suffix = ("." + rel.rsplit(".", 1)[-1].lower()) if "." in rel.rsplit("/", 1)[-1] else ""
    if suffix == ".pdf":
        return _pdf_chunks(rel, data)
    if suffix == ".docx":
        return _docx_chunks(rel, data, window)
    text = _decode(rel, data)
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        return []
    if suffix in (".py", ".pyw"):
        try:
            return _python_chunks(rel, text, lines, window, overlap)
        except (SyntaxError, ValueError, RecursionError):
            return _code_chunks(rel, lines, window, overlap)
    if suffix in CODE_SUFFIXES:
        return _code_chunks(rel, lines, window, overlap)
    if suffix in MARKDOWN_SUFFIXES:
        return _section_chunks(rel, lines, _markdown_sections(lines), "markdown", window, overlap)
    if suffix in RST_SUFFIXES:
        return _section_chunks(rel, lines, _rst_sections(lines), "rst", window, overlap)
    return _windows(rel, lines, 1, len(lines), "text", "", window, overlap)


def _decode(rel: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ChunkError(f"not UTF-8 or cp1252 text ({exc.reason} at byte {exc.start})") from None
    return text


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS]


def _windows(
    rel: str,
    lines: list[str],
    first: int,
    last: int,
    kind: str,
    title: str,
    window: int,
    overlap: int,
) -> list[Chunk]:
    """Chunks of lines ``first..last`` (1-based, inclusive), ``window`` long, overlapping."""
    chunks: list[Chunk] = []
    step = max(1, window - min(overlap, window - 1))
    start = first
    while start <= last:
        end = min(last, start + window - 1)
        body = "\n".join(lines[start - 1 : end])
        if body.strip():
            chunks.append(Chunk(rel, start, end, kind, title, _clip(body)))
        if end >= last:
            break
        start += step
    return chunks


# --- Python ----------------------------------------------------------------------------------


def _python_chunks(rel: str, text: str, lines: list[str], window: int, overlap: int) -> list[Chunk]:
    tree = ast.parse(text)
    spans: list[tuple[int, int, str]] = []  # (start, end, title)

    def node_span(node: ast.AST) -> tuple[int, int]:
        decorators = getattr(node, "decorator_list", [])
        start = min([node.lineno, *(d.lineno for d in decorators)])  # type: ignore[attr-defined]
        return start, node.end_lineno or node.lineno  # type: ignore[attr-defined]

    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    for node in tree.body:
        if not isinstance(node, defs):
            continue
        start, end = node_span(node)
        if isinstance(node, ast.ClassDef) and end - start + 1 > window:
            methods = [n for n in node.body if isinstance(n, defs)]
            cursor = start
            for method in methods:
                m_start, m_end = node_span(method)
                if m_start > cursor:
                    spans.append((cursor, m_start - 1, f"class {node.name}"))
                spans.append((m_start, m_end, f"{node.name}.{method.name}"))
                cursor = m_end + 1
            if cursor <= end:
                spans.append((cursor, end, f"class {node.name}"))
        else:
            prefix = "class " if isinstance(node, ast.ClassDef) else "def "
            spans.append((start, end, prefix + node.name))

    chunks: list[Chunk] = []
    cursor = 1
    for start, end, title in spans:
        if start > cursor:
            chunks.extend(_windows(rel, lines, cursor, start - 1, "code", "", window, overlap))
        limit = window * 2
        if end - start + 1 > limit:
            chunks.extend(_windows(rel, lines, start, end, "code", title, limit, overlap))
        else:
            body = "\n".join(lines[start - 1 : end])
            if body.strip():
                chunks.append(Chunk(rel, start, end, "code", title, _clip(body)))
        cursor = end + 1
    if cursor <= len(lines):
        chunks.extend(_windows(rel, lines, cursor, len(lines), "code", "", window, overlap))
    return chunks


# --- other code ------------------------------------------------------------------------------


def _code_chunks(rel: str, lines: list[str], window: int, overlap: int) -> list[Chunk]:
    """Top-level definitions start chunks; small neighbours merge up to ``window`` lines."""
    starts = [1]
    titles = {1: ""}
    for number, line in enumerate(lines, 1):
        if number == 1 or not line or line[0] in " \t}/*#)]":
            continue
        if _DEF_LINE.match(line):
            starts.append(number)
            titles[number] = line.strip()[:80]
    starts.append(len(lines) + 1)
    # Merge small segments so a file of one-line declarations is not a thousand chunks.
    segments: list[tuple[int, int, str]] = []
    for begin, nxt in itertools.pairwise(starts):
        end = nxt - 1
        if end < begin:
            continue
        if segments and (end - segments[-1][0] + 1) <= window // 2:
            first, _, title = segments[-1]
            segments[-1] = (first, end, title or titles[begin])
        else:
            segments.append((begin, end, titles[begin]))
    chunks: list[Chunk] = []
    for begin, end, title in segments:
        chunks.extend(_windows(rel, lines, begin, end, "code", title, window * 2, overlap))
    return chunks


# --- Markdown and reStructuredText ---------------------------------------------------------


def _markdown_sections(lines: list[str]) -> list[tuple[int, int, str]]:
    heads: list[tuple[int, int, str]] = []  # (line, level, title)
    in_fence = False
    for number, line in enumerate(lines, 1):
        if _MD_FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        match = _MD_HEADING.match(line)
        if match:
            heads.append((number, len(match.group(1)), match.group(2).strip()))
    return _nest(heads, len(lines))


def _rst_sections(lines: list[str]) -> list[tuple[int, int, str]]:
    heads: list[tuple[int, int, str]] = []
    levels: list[str] = []
    for index in range(1, len(lines)):
        under = lines[index]
        title = lines[index - 1].strip()
        match = _RST_UNDERLINE.match(under)
        if not match or not title or len(under.strip()) < len(title) or _RST_UNDERLINE.match(title):
            continue
        char = match.group(1)
        if char not in levels:
            levels.append(char)
        heads.append((index, levels.index(char) + 1, title))  # heading's own line (1-based)
    return _nest(heads, len(lines))


def _nest(heads: list[tuple[int, int, str]], total: int) -> list[tuple[int, int, str]]:
    """(start, end, "A > B") for each section, with a preamble before the first heading."""
    sections: list[tuple[int, int, str]] = []
    if not heads or heads[0][0] > 1:
        sections.append((1, (heads[0][0] - 1) if heads else total, ""))
    trail: list[tuple[int, str]] = []
    for index, (line, level, title) in enumerate(heads):
        while trail and trail[-1][0] >= level:
            trail.pop()
        trail.append((level, title))
        end = heads[index + 1][0] - 1 if index + 1 < len(heads) else total
        sections.append((line, end, " > ".join(t for _, t in trail)))
    return sections


def _section_chunks(
    rel: str,
    lines: list[str],
    sections: list[tuple[int, int, str]],
    kind: str,
    window: int,
    overlap: int,
) -> list[Chunk]:
    chunks: list[Chunk] = []
    for start, end, title in sections:
        if end < start:
            continue
        chunks.extend(_windows(rel, lines, start, end, kind, title, window * 2, overlap))
    return chunks


# --- documents -------------------------------------------------------------------------------


def _pdf_chunks(rel: str, data: bytes) -> list[Chunk]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    with _quiet_pypdf() as notes:
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                raise ChunkError("encrypted PDF")
            chunks = []
            for number, page in enumerate(reader.pages, 1):
                text = (page.extract_text() or "").strip()
                if text:
                    chunks.append(Chunk(rel, number, number, "pdf", f"page {number}", _clip(text)))
        except ChunkError:
            raise
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
            detail = f" ({'; '.join(dict.fromkeys(notes))})" if notes else ""
            raise ChunkError(f"unreadable PDF: {exc}{detail}") from None
    return chunks


@contextlib.contextmanager
def _quiet_pypdf() -> Iterator[list[str]]:
    """Collect what pypdf logs and warns ("EOF marker not found"...) instead of letting it reach
    the terminal: Python prints unhandled WARNING records to stderr, once per broken PDF per
    run. A file that then fails is reported once, with these notes in its reason."""
    import logging
    import warnings

    notes: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            notes.append(record.getMessage().strip())

    logger = logging.getLogger("pypdf")
    handler = Collect(logging.WARNING)
    saved = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with warnings.catch_warnings():  # restores showwarning and the filters
            warnings.simplefilter("always")
            warnings.showwarning = lambda message, *_args, **_kw: notes.append(str(message))
            yield notes
    finally:
        logger.removeHandler(handler)
        logger.propagate = saved


def _docx_chunks(rel: str, data: bytes, window: int) -> list[Chunk]:
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ChunkError(f"unreadable DOCX: {exc}") from None
    paragraphs = [(p.text, (p.style.name if p.style is not None else "") or "") for p in
                  document.paragraphs]  # fmt: skip
    heads = []
    for number, (text, style) in enumerate(paragraphs, 1):
        if style.lower().startswith("heading") and text.strip():
            digits = "".join(ch for ch in style if ch.isdigit())
            heads.append((number, int(digits) if digits else 1, text.strip()))
        elif style.lower() == "title" and text.strip():
            heads.append((number, 1, text.strip()))
    texts = [text for text, _ in paragraphs]
    chunks = []
    for start, end, title in _nest(heads, len(texts)):
        for chunk in _windows(rel, texts, start, end, "docx", title, window, 0):
            chunks.append(chunk)
    return chunks
