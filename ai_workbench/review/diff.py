"""Collect the changes to review from git and parse them into files, hunks and added lines.

Four sources, one shape:

* working tree: everything not committed, ``git diff HEAD`` plus untracked (not ignored) files;
* ``--staged``: ``git diff --cached`` (what a pre-commit hook sees);
* ``--range A..B`` (or ``A...B``): what ``B`` adds since it forked from ``A``, that is
  ``git diff A...B`` (from their merge base), the way a pull request shows it. A two-tip
  ``git diff A B`` would show every line ``A`` changed since the fork as removed-and-added,
  and the review would blame the PR for them;
* ``--files PATHS``: the working-tree changes of those paths; a path without changes is
  reviewed whole (every line counts as added), which is what "review this file" means
  (``whole_files=False`` reviews only its changes: what a file watcher wants).

Each :class:`FileDiff` also carries the new side of the file (working tree, index or ``B``),
so the prompt can show the code around each hunk, not just the changed lines, and findings
can be checked against the real line numbers.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ai_workbench.core.errors import AiwError, InputError

GIT_TIMEOUT = 60.0
MAX_FILE_BYTES = 1_000_000
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")


class GitError(AiwError):
    """git failed or this is not a repository; the message says what to do."""

    exit_code = 2


@dataclass
class Hunk:
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    header: str = ""
    # (kind, old_no, new_no, text): kind is " ", "+" or "-"; numbers are None where n/a
    lines: list[tuple[str, int | None, int | None, str]] = field(default_factory=list)

    @property
    def added(self) -> list[int]:
        return [n for kind, _, n, _ in self.lines if kind == "+" and n is not None]

    @property
    def removed_text(self) -> list[str]:
        return [text for kind, _, _, text in self.lines if kind == "-"]

    @property
    def new_end(self) -> int:
        return self.new_start + max(self.new_count, 1) - 1

    def text(self) -> str:
        """The hunk as unified-diff text (header and body)."""
        head = f"@@ -{self.old_start},{self.old_count} +{self.new_start},{self.new_count} @@"
        body = [f"{kind}{text}" for kind, _, _, text in self.lines]
        return "\n".join([head + (f" {self.header}" if self.header else ""), *body])


@dataclass
class FileDiff:
    path: str  # repo-relative, forward slashes (the new path for a rename)
    old_path: str | None
    hunks: list[Hunk] = field(default_factory=list)
    new_text: str | None = None  # None: deleted, binary or unreadable
    binary: bool = False
    deleted: bool = False
    whole_file: bool = False  # --files on an unchanged file: every line is "added"

    @property
    def added_lines(self) -> set[int]:
        return {n for hunk in self.hunks for n in hunk.added}

    @property
    def new_lines(self) -> list[str]:
        return (self.new_text or "").splitlines()

    def hunk_for(self, line: int) -> Hunk | None:
        for hunk in self.hunks:
            if hunk.new_start <= line <= hunk.new_end:
                return hunk
        return None


@dataclass
class ChangeSet:
    root: Path
    mode: str
    target: str
    files: list[FileDiff]

    def by_path(self) -> dict[str, FileDiff]:
        return {f.path: f for f in self.files}


# --------------------------------------------------------------------------- git plumbing


def git(root: Path, *args: str, check: bool = True, input: str | None = None) -> str:
    cmd = ["git", "-c", "core.quotePath=false", *args]
    try:
        proc = subprocess.run(
            cmd,
            cwd=root,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=GIT_TIMEOUT,
            input=input,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed; aiw review reads changes with git") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"`git {' '.join(args)}` took longer than {GIT_TIMEOUT:.0f}s") from None
    if check and proc.returncode != 0:
        message = proc.stderr.strip().splitlines()
        detail = message[-1] if message else f"exit {proc.returncode}"
        raise GitError(f"`git {' '.join(args)}` failed in {root}: {detail}")
    return proc.stdout


def repo_root(start: Path) -> Path:
    """The top of the git work tree containing ``start``."""
    try:
        out = git(start, "rev-parse", "--show-toplevel")
    except GitError:
        raise GitError(
            f"{start} is not inside a git repository; aiw review compares git revisions "
            "(run `git init` or cd into a repository)"
        ) from None
    return Path(out.strip()).resolve()


def _has_head(root: Path) -> bool:
    return bool(git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).strip())


DIFF_ARGS = (
    "diff",
    "--no-color",
    "--no-ext-diff",
    "-M",
    "-U3",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)


# --------------------------------------------------------------------------- parsing


def _unquote(name: str) -> str:
    name = name.strip()
    if name.startswith('"') and name.endswith('"'):
        name = name[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        name = name.encode("latin-1", "replace").decode("utf-8", "replace")
    return name


def _strip(name: str) -> str | None:
    name = _unquote(name.split("\t", 1)[0])
    if name == "/dev/null":
        return None
    return name[2:] if name.startswith(("a/", "b/")) else name


def parse_diff(text: str) -> list[FileDiff]:
    """Parse ``git diff`` output into files and hunks with old/new line numbers."""
    files: list[FileDiff] = []
    current: FileDiff | None = None
    hunk: Hunk | None = None
    old_no = new_no = 0
    old_path: str | None = None
    pending_git: tuple[str | None, str | None] | None = None
    for line in text.split("\n"):
        if line.startswith("diff --git "):
            hunk = None
            parts = line[len("diff --git ") :]
            match = re.match(r'^("(?:[^"\\]|\\.)*"|\S+) ("(?:[^"\\]|\\.)*"|\S+)$', parts)
            a, b = (match.group(1), match.group(2)) if match else (None, None)
            pending_git = (_strip(a) if a else None, _strip(b) if b else None)
            current = FileDiff(path=pending_git[1] or pending_git[0] or "", old_path=pending_git[0])
            files.append(current)
            old_path = None
            continue
        if current is None:
            continue
        if hunk is None:
            if line.startswith("--- "):
                old_path = _strip(line[4:])
                current.old_path = old_path
                continue
            if line.startswith("+++ "):
                new = _strip(line[4:])
                if new is None:
                    current.deleted = True
                    current.path = old_path or current.path
                else:
                    current.path = new
                continue
            if line.startswith("Binary files ") or line.startswith("GIT binary patch"):
                current.binary = True
                continue
            if line.startswith("deleted file mode"):
                current.deleted = True
                continue
            if line.startswith("rename to "):
                current.path = _unquote(line[len("rename to ") :])
                continue
        match = _HUNK.match(line)
        if match:
            hunk = Hunk(
                old_start=int(match.group(1)),
                old_count=int(match.group(2)) if match.group(2) is not None else 1,
                new_start=int(match.group(3)),
                new_count=int(match.group(4)) if match.group(4) is not None else 1,
                header=match.group(5).strip(),
            )
            current.hunks.append(hunk)
            old_no, new_no = hunk.old_start, hunk.new_start
            continue
        if hunk is None or not line:
            continue
        kind = line[0]
        if kind == "+":
            hunk.lines.append(("+", None, new_no, line[1:]))
            new_no += 1
        elif kind == "-":
            hunk.lines.append(("-", old_no, None, line[1:]))
            old_no += 1
        elif kind == " ":
            hunk.lines.append((" ", old_no, new_no, line[1:]))
            old_no += 1
            new_no += 1
        elif kind == "\\":
            continue
        else:
            hunk = None
    return files


def whole_file_diff(path: str, text: str) -> FileDiff:
    """A file seen as entirely added (new untracked file, or ``--files`` on an unchanged one)."""
    lines = text.splitlines()
    hunk = Hunk(0, 0, 1, len(lines))
    hunk.lines = [("+", None, i, line) for i, line in enumerate(lines, start=1)]
    return FileDiff(path=path, old_path=None, hunks=[hunk] if lines else [], new_text=text)


# --------------------------------------------------------------------------- collection


def _as_it_is(root: Path, path: str) -> tuple[FileDiff, bool]:
    """The file in the working tree as all-added lines, and whether it could be read as text
    (else an entry with no lines: binary, or unreadable)."""
    content, binary = _read_worktree(root, path)
    if content is None:
        return FileDiff(path=path, old_path=None, binary=binary), False
    return whole_file_diff(path, content), True


def _read_worktree(root: Path, path: str) -> tuple[str | None, bool]:
    """(text, binary) of a working-tree file; None when unreadable or too large."""
    file = root / path
    try:
        data = file.read_bytes()
    except OSError:
        return None, False
    if len(data) > MAX_FILE_BYTES or b"\x00" in data[:8192]:
        return None, True
    return data.decode("utf-8", "replace"), False


def _read_rev(root: Path, rev: str, path: str) -> str | None:
    out = subprocess.run(
        ["git", "show", f"{rev}:{path}"],
        cwd=root,
        capture_output=True,
        timeout=GIT_TIMEOUT,
        check=False,
    )
    if out.returncode != 0 or b"\x00" in out.stdout[:8192]:
        return None
    return out.stdout.decode("utf-8", "replace")


def _untracked(root: Path, paths: list[str] | None = None) -> list[str]:
    args = ["ls-files", "--others", "--exclude-standard", "-z"]
    if paths:
        args += ["--", *paths]
    return [p for p in git(root, *args).split("\0") if p]


def _range_parts(spec: str) -> tuple[str, str, str]:
    """``A..B`` / ``A...B`` / ``A`` → (base, head, separator); head defaults to HEAD.

    Both separators review from the merge base (see the module docstring)."""
    for sep in ("...", ".."):
        if sep in spec:
            base, head = spec.split(sep, 1)
            return base or "HEAD", head or "HEAD", sep
    return spec, "HEAD", ".."


def collect_changes(
    start: Path,
    *,
    staged: bool = False,
    rev_range: str | None = None,
    files: list[str] | None = None,
    whole_files: bool = True,
) -> ChangeSet:
    """Read the changes to review from git (see the module docstring for the four modes)."""
    root = repo_root(start)
    if sum(bool(x) for x in (staged, rev_range, files)) > 1:
        raise InputError("use only one of --staged, --range and --files")
    if rev_range is not None:
        base, head, _sep = _range_parts(rev_range)
        for rev in (base, head):
            if not git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False):
                raise InputError(
                    f"--range {rev_range}: '{rev}' is not a commit in {root}; in CI the clone "
                    "is often shallow or single-branch: fetch full history (GitHub Actions: "
                    "actions/checkout with `fetch-depth: 0`; elsewhere `git fetch --unshallow "
                    "origin` and fetch the base branch)"
                )
        merge_base = git(root, "merge-base", base, head, check=False).strip()
        if not merge_base:
            raise InputError(
                f"--range {rev_range}: '{base}' and '{head}' have no common commit in {root}; "
                "the clone is probably shallow: fetch full history (GitHub Actions: "
                "actions/checkout with `fetch-depth: 0`; elsewhere `git fetch --unshallow origin`)"
            )
        text = git(root, *DIFF_ARGS, merge_base.split()[0], head)
        changes = parse_diff(text)
        for item in changes:
            if not item.deleted and not item.binary:
                item.new_text = _read_rev(root, head, item.path)
        return ChangeSet(root, "range", rev_range, changes)
    if staged:
        text = git(root, *DIFF_ARGS, "--cached")
        changes = parse_diff(text)
        for item in changes:
            if not item.deleted and not item.binary:
                item.new_text = _read_rev(root, "", item.path)  # ":path" is the index
        return ChangeSet(root, "staged", "index", changes)

    rel: list[str] | None = None
    if files:
        rel = []
        for name in files:
            path = (Path(start) / name).resolve()
            if not path.exists():
                raise InputError(f"--files: {name} does not exist")
            if path != root and root not in path.parents:
                raise InputError(f"--files: {name} is outside the repository {root}")
            if path.is_dir():
                raise InputError(f"--files: {name} is a directory; name the files to review")
            rel.append(path.relative_to(root).as_posix())
    base_args = [*DIFF_ARGS, "HEAD"] if _has_head(root) else [*DIFF_ARGS, "--cached"]
    text = git(root, *base_args, *(["--", *rel] if rel else []))
    changes = parse_diff(text)
    for item in changes:
        if not item.deleted and not item.binary:
            item.new_text, item.binary = _read_worktree(root, item.path)
    seen = {c.path for c in changes}
    for path in _untracked(root, rel):
        if path in seen:
            continue
        item, readable = _as_it_is(root, path)
        changes.append(item)
        if readable:
            seen.add(path)
    for path in rel if whole_files and rel else []:
        if path in seen:
            continue
        item, readable = _as_it_is(root, path)
        item.whole_file = readable
        changes.append(item)
    target = " ".join(rel) if rel else "working tree"
    return ChangeSet(root, "files" if rel else "worktree", target, changes)
