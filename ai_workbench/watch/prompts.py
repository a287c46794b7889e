"""What the watcher sends a model: the AI comment, the code around it, related files.

For a change (``AI!``) the model is asked for SEARCH/REPLACE blocks (core/edits.py: small
models write unified diffs badly, but copy lines well; aiw builds the exact diff itself, and
still accepts a unified diff); for a question (``AI?``) for a short Markdown answer. The file
is sent whole when it is small (SEARCH needs exact lines), else the lines around each comment.
Related files are the local modules the file imports (Python, JS/TS, C includes) and, when the
knowledge index offers a search, its best hits; each is cut to a few kilobytes. Everything
goes through :func:`redact_text` before it is sent.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ai_workbench.core.context import fence_language
from ai_workbench.core.redact import redact_text
from ai_workbench.watch.comments import AiComment

__all__ = [
    "RelatedFile",
    "change_messages",
    "question_messages",
    "related_files",
]

#: Files up to this many characters are sent whole.
WHOLE_FILE_CHARS = 48_000
RELATED_FILE_CHARS = 6_000

CHANGE_SYSTEM = """\
You are a careful senior engineer editing a project on the user's behalf. The user wrote a \
comment ending with {marker} in their code: it is an instruction for a change. Make exactly \
the change asked for, in the style of the surrounding code, and nothing else.

Reply with one or more SEARCH/REPLACE blocks. Each starts with the file's project-relative \
path on its own line:

path/to/file.py
<<<<<<< SEARCH
lines copied exactly from the file, indentation included
=======
the new lines that replace them
>>>>>>> REPLACE

SEARCH must match the file exactly and only once: copy the lines that change plus a line or \
two around them, not the whole file. To create a file, give its path and an empty SEARCH. You \
may change several files. Do not reformat unrelated code. The {marker} comment may stay in \
SEARCH and REPLACE: aiw removes it itself. After the blocks, at most two sentences saying \
what changed."""

QUESTION_SYSTEM = """\
You are a senior engineer answering a question the user wrote as a comment (ending with \
{marker}) in their code. Answer in concise Markdown: lead with the answer, then the reason; \
quote code only where it helps. Do not propose a patch unless asked."""


@dataclass(frozen=True, slots=True)
class RelatedFile:
    path: str  # project-relative POSIX path
    text: str
    why: str


def _fence(text: str, name: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{fence_language(name)}\n{text.rstrip()}\n{ticks}"


def _excerpt(text: str, comments: Sequence[AiComment], context_lines: int) -> str:
    """The file whole when small, else numbered windows around the comments."""
    if len(text) <= WHOLE_FILE_CHARS:
        return text
    lines = text.splitlines()
    keep: set[int] = set()
    for comment in comments:
        lo = max(0, comment.start_line - 1 - context_lines)
        hi = min(len(lines), comment.end_line + context_lines)
        keep.update(range(lo, hi))
    out: list[str] = []
    previous = -2
    for index in sorted(keep):
        if index != previous + 1:
            out.append(f"… (lines {index + 1}- of {len(lines)}; the rest of the file is left out)")
        out.append(lines[index])
        previous = index
    return "\n".join(out)


def _related_block(related: Sequence[RelatedFile]) -> str:
    if not related:
        return ""
    parts = ["\n\nRelated files, for reference:"]
    for item in related:
        text = item.text
        if len(text) > RELATED_FILE_CHARS:
            text = text[:RELATED_FILE_CHARS] + "\n… (cut)"
        parts.append(f"\n`{item.path}` ({item.why}):\n{_fence(redact_text(text), item.path)}")
    return "\n".join(parts)


def change_messages(
    relpath: str,
    text: str,
    comments: Sequence[AiComment],
    related: Sequence[RelatedFile],
    *,
    marker: str,
    context_lines: int,
) -> list[dict[str, str]]:
    """Chat messages asking for SEARCH/REPLACE edits that do what the ``comments`` ask."""
    asks = "\n".join(
        f"- {relpath} {c.location}: "
        f"{redact_text(c.request) or '(no text: follow the comments around it)'}"
        for c in comments
    )
    body = (
        f"Instructions from {marker} comments in `{relpath}`:\n{asks}\n\n"
        f"{_file_block(relpath, text, comments, context_lines, related)}\n\nReply with the "
        f"SEARCH/REPLACE blocks; the path line for this file is `{relpath}`."
    )
    return _messages(CHANGE_SYSTEM.format(marker=marker), body)


def question_messages(
    relpath: str,
    text: str,
    comment: AiComment,
    related: Sequence[RelatedFile],
    *,
    marker: str,
    context_lines: int,
) -> list[dict[str, str]]:
    """Chat messages asking the question of one ``AI?`` comment."""
    body = (
        f"Question in `{relpath}` at {comment.location}: "
        f"{redact_text(comment.request) or '(see the comment and the code around it)'}\n\n"
        f"{_file_block(relpath, text, [comment], context_lines, related)}"
    )
    return _messages(QUESTION_SYSTEM.format(marker=marker), body)


def _file_block(
    relpath: str,
    text: str,
    comments: Sequence[AiComment],
    context_lines: int,
    related: Sequence[RelatedFile],
) -> str:
    """The file around the ``comments`` (redacted, fenced), then the related files."""
    excerpt = redact_text(_excerpt(text, comments, context_lines))
    return f"`{relpath}`:\n{_fence(excerpt, relpath)}{_related_block(related)}"


def _messages(system: str, user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# ---------------------------------------------------------------------------- related files

_PY_IMPORT = re.compile(r"^\s*(?:from\s+(\.*[\w.]*)\s+import\s+([\w., ]+)|import\s+([\w.]+))", re.M)
_JS_IMPORT = re.compile(
    r"""(?:import\s[^'"]*?from\s*|import\s*\(?\s*|require\(\s*)['"](\.{1,2}/[^'"]+)['"]"""
)
_C_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
_JS_EXTS = ("", ".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", "/index.ts", "/index.js")


def _python_candidates(relpath: str, text: str) -> list[str]:
    here = PurePosixPath(relpath).parent
    out: list[str] = []
    for match in _PY_IMPORT.finditer(text):
        module, names, plain = match.group(1), match.group(2), match.group(3)
        spec = module if module is not None else plain
        if spec is None:
            continue
        dots = len(spec) - len(spec.lstrip("."))
        parts = [p for p in spec.lstrip(".").split(".") if p]
        base = here
        for _ in range(max(0, dots - 1)):
            base = base.parent
        roots = [base] if dots else [PurePosixPath(""), PurePosixPath("src")]
        for root in roots:
            stem = root.joinpath(*parts) if parts else root
            out += [f"{stem}.py", f"{stem}/__init__.py"]
            if names:
                out += [f"{stem}/{n.strip()}.py" for n in names.split(",") if n.strip()]
    return out


def _js_candidates(relpath: str, text: str) -> list[str]:
    here = PurePosixPath(relpath).parent
    out: list[str] = []
    for match in _JS_IMPORT.finditer(text):
        target = here / match.group(1)
        out += [f"{target}{ext}" for ext in _JS_EXTS]
    return out


def _c_candidates(relpath: str, text: str) -> list[str]:
    here = PurePosixPath(relpath).parent
    return [str(here / m.group(1)) for m in _C_INCLUDE.finditer(text)]


def _normal(path: str) -> str | None:
    parts: list[str] = []
    for part in PurePosixPath(path).parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) or None


def related_files(
    root: Path,
    relpath: str,
    text: str,
    *,
    limit: int,
    ignored: Callable[[str], bool],
    max_bytes: int,
    search: Callable[[str, int], Sequence[str]] | None = None,
    query: str = "",
) -> list[RelatedFile]:
    """Up to ``limit`` files the one being edited depends on (imports first, then search hits)."""
    if limit <= 0:
        return []
    candidates: list[tuple[str, str]] = []
    for make in (_python_candidates, _js_candidates, _c_candidates):
        candidates += [(c, "imported") for c in make(relpath, text)]
    if search is not None and query:
        # the index is a bonus: a broken one must not stop the watcher
        with contextlib.suppress(Exception):
            candidates += [(c, "found by the knowledge index") for c in search(query, limit * 2)]
    seen = {relpath}
    found: list[RelatedFile] = []
    for candidate, why in candidates:
        name = _normal(candidate)
        if name is None or name in seen:
            continue
        seen.add(name)
        path = root / name
        try:
            if not path.is_file() or path.stat().st_size > max_bytes or ignored(name):
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:4096]:
            continue
        found.append(RelatedFile(name, data.decode("utf-8", "replace"), why))
        if len(found) >= limit:
            break
    return found
