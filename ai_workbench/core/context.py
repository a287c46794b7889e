"""Context assembly: attached files, stdin, history fitted to the model's context window."""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ai_workbench.core.errors import InputError

# Extensions to language names for fenced blocks.
FENCE_LANG = {
    ".py": "python", ".js": "javascript", ".ts": "typescript", ".tsx": "tsx", ".jsx": "jsx",
    ".go": "go", ".rs": "rust", ".java": "java", ".kt": "kotlin", ".rb": "ruby", ".php": "php",
    ".c": "c", ".h": "c", ".cpp": "cpp", ".hpp": "cpp", ".cs": "csharp", ".swift": "swift",
    ".sh": "bash", ".bash": "bash", ".zsh": "zsh", ".sql": "sql", ".html": "html", ".css": "css",
    ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".md": "markdown",
    ".xml": "xml", ".tf": "hcl", ".lua": "lua", ".scala": "scala", ".r": "r",
}  # fmt: skip
SPECIAL_NAMES = {"dockerfile": "dockerfile", "makefile": "makefile"}
CHARS_PER_TOKEN = 4
OUTPUT_RESERVE_MAX = 4_096


@dataclass(frozen=True)
class AttachedFile:
    path: Path
    display: str  # as the user named it, relative where possible
    text: str
    sha256: str
    size: int


def estimate_tokens(text: str) -> int:
    """A fast, dependency-free estimate (~4 characters a token for English and code)."""
    return len(text) // CHARS_PER_TOKEN + 1


def _looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters: binary. Text in another encoding (Latin-1,
    cp1252) is not binary; :func:`_decode` reads it."""
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > max(8, len(sample) // 100)


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else cp1252, else Latin-1 (which decodes any bytes)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def collect_files(
    patterns: Sequence[str], cwd: Path, *, max_files: int, max_bytes: int
) -> list[AttachedFile]:
    """Expand paths and globs; refuse missing, binary and oversized files with a clear message."""
    found: list[Path] = []
    for pattern in patterns:
        expanded = Path(pattern).expanduser()
        target = expanded if expanded.is_absolute() else cwd / expanded
        if glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(str(target), recursive=True))
            matches = [m for m in matches if m.is_file()]
            if not matches:
                raise InputError(f"-f {pattern}: no file matches this pattern")
            found.extend(matches)
        elif target.is_dir():
            raise InputError(
                f"-f {pattern}: is a directory; attach files or use a glob like {pattern}/*.py"
            )
        elif not target.is_file():
            raise InputError(f"-f {pattern}: no such file")
        else:
            found.append(target)
    _refuse_links_out(found, patterns, cwd)
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if len(unique) > max_files:
        raise InputError(
            f"{len(unique)} files attached but chat.max_context_files is {max_files}; "
            "attach fewer files or raise the limit (aiw config set chat.max_context_files N)"
        )
    return [_read_file(path, cwd, max_bytes) for path in unique]


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _refuse_links_out(found: list[Path], patterns: Sequence[str], cwd: Path) -> None:
    """A file reached through the project (``notes.md``, ``docs/*.md``) must stay in it: a
    symlink planted in a cloned repository (``notes.md -> ~/.ssh/config``) is refused. A path
    the user typed outside the project (``-f ~/notes.txt``) is theirs to attach."""
    from ai_workbench.core.paths import find_project_root

    root = find_project_root(cwd)
    for path in found:
        lexical = Path(os.path.normpath(path.absolute()))
        real = path.resolve()
        if _inside(real, root) or not _inside(_lexical_root(lexical, root), root):
            continue
        shown = _display(lexical, cwd)
        raise InputError(
            f"-f {shown}: is a symlink to {real}, outside the project ({root}); "
            f"name {real} itself to attach it"
        )


def _lexical_root(path: Path, root: Path) -> Path:
    """``path`` as typed, with symlinks above the project root resolved (``/tmp`` on macOS)."""
    for parent in [path, *path.parents]:
        if parent.resolve() == root:
            return root / path.relative_to(parent)
    return path


def _display(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd.resolve()).as_posix()
    except ValueError:
        return str(path)


def _read_file(path: Path, cwd: Path, max_bytes: int) -> AttachedFile:
    display = _display(path, cwd)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(
                f"-f {display}: {size:,} bytes is over chat.max_file_bytes ({max_bytes:,}); "
                "attach a smaller part of it or raise the limit"
            )
        data = path.read_bytes()
    except PermissionError:
        raise InputError(f"-f {display}: permission denied") from None
    except OSError as exc:
        raise InputError(f"-f {display}: cannot read: {exc.strerror or exc}") from None
    if _looks_binary(data):
        raise InputError(f"-f {display}: looks like a binary file; only text can be attached")
    text = _decode(data)
    return AttachedFile(path, display, text, hashlib.sha256(data).hexdigest(), size)


def fence_language(name: str) -> str:
    lower = Path(name).name.lower()
    if lower in SPECIAL_NAMES:
        return SPECIAL_NAMES[lower]
    return FENCE_LANG.get(Path(name).suffix.lower(), "")


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks in the text."""
    longest = 0
    run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def build_user_content(prompt: str, files: Sequence[AttachedFile], stdin_text: str | None) -> str:
    """The user's turn as sent: the prompt, then each attached file and stdin fenced."""
    parts = [prompt.strip()] if prompt.strip() else []
    for item in files:
        fence = _fence(item.text)
        body = item.text if item.text.endswith("\n") else item.text + "\n"
        parts.append(
            f"File `{item.display}`:\n{fence}{fence_language(item.display)}\n{body}{fence}"
        )
    if stdin_text and stdin_text.strip():
        fence = _fence(stdin_text)
        body = stdin_text if stdin_text.endswith("\n") else stdin_text + "\n"
        parts.append(f"Standard input:\n{fence}\n{body}{fence}")
    return "\n\n".join(parts)


@dataclass
class FittedMessages:
    messages: list[dict[str, str]]
    dropped: int  # history messages left out, oldest first
    tokens: int  # estimated prompt tokens


def fit_messages(
    system: str,
    history: Sequence[dict[str, str]],
    user: str,
    *,
    context_window: int,
    model: str,
) -> FittedMessages:
    """System + as much recent history as fits + the user's turn.

    Oldest history goes first; the system prompt and the new turn are never cut (if they do
    not fit on their own, the user is told to attach less).
    """
    reserve = min(OUTPUT_RESERVE_MAX, context_window // 4)
    budget = context_window - reserve
    fixed = estimate_tokens(user) + (estimate_tokens(system) if system else 0)
    if fixed > budget:
        raise InputError(
            f"the prompt and attached files need about {fixed:,} tokens but {model} accepts "
            f"about {budget:,} (after reserving {reserve:,} for the answer); attach fewer or "
            "smaller files, or choose a model with a larger context window"
        )
    kept: list[dict[str, str]] = []
    used = fixed
    for message in reversed(history):
        cost = estimate_tokens(message["content"])
        if used + cost > budget:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    # Never start the history with an orphaned assistant reply.
    while kept and kept[0]["role"] == "assistant":
        used -= estimate_tokens(kept.pop(0)["content"])
    messages = [{"role": "system", "content": system}] if system else []
    messages.extend(kept)
    messages.append({"role": "user", "content": user})
    return FittedMessages(messages, len(history) - len(kept), used)
