"""`aiw shell init|install|uninstall` and `aiw on|off`: the integration script and the rc block.

``init`` prints a few settings (the Python that runs the worker, the spool, the off switch,
sensitive dirs and ignore globs from the user config) followed by the bundled ``hook.bash`` or
``hook.zsh``. It reads the user config's ``[shell]`` table with tomllib instead of loading the
full settings model, so ``eval "$(aiw shell init bash)"`` adds little to shell start-up; the
worker re-checks everything against the full, current config.

``install`` appends a marked block that evals ``init`` to ``~/.bashrc`` or ``~/.zshrc`` (the
real file behind a symlink, written atomically); ``uninstall`` removes exactly that block.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

__all__ = [
    "BEGIN_MARK",
    "CAPTURE_MODES",
    "END_MARK",
    "SHELLS",
    "RcChange",
    "RcStatus",
    "block_command",
    "capture_mode",
    "detect_shell",
    "hook_source",
    "install",
    "is_off",
    "off_flag",
    "rc_block",
    "rc_path",
    "rc_status",
    "render_init",
    "set_enabled",
    "uninstall",
]

Shell = Literal["bash", "zsh"]
SHELLS: tuple[str, ...] = ("bash", "zsh")
BEGIN_MARK = "# >>> aiw shell integration >>>"
END_MARK = "# <<< aiw shell integration <<<"
DEFAULT_SENSITIVE = ("~/.ssh", "~/.gnupg", "~/.aws")
CAPTURE_MODES = ("scrollback", "tee", "pty", "none")


def hook_source(shell: Shell) -> str:
    """The bundled hook script for ``shell`` (package data ``ai_workbench/shell/hook.*``)."""
    return (resources.files("ai_workbench.shell") / f"hook.{shell}").read_text(encoding="utf-8")


def off_flag() -> Path:
    """The file whose presence pauses the hook in every shell (`aiw off`)."""
    from ai_workbench.core import paths

    return paths.config_dir() / "shell.off"


def is_off() -> bool:
    return off_flag().exists()


def set_enabled(enabled: bool) -> bool:
    """Switch the hook on or off for every shell at once; return whether anything changed."""
    flag = off_flag()
    if enabled:
        if not flag.exists():
            return False
        flag.unlink()
        return True
    if flag.exists():
        return False
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.write_text("aiw shell hook paused by `aiw off`; `aiw on` resumes it\n", encoding="utf-8")
    return True


def _user_shell_table() -> dict[str, object]:
    """``[shell]`` of the user config file, or {} (a broken file is reported by the worker)."""
    from ai_workbench.core import paths

    override = os.environ.get("AIW_CONFIG")  # as config.user_config_path, without pydantic
    path = Path(override).expanduser() if override else paths.user_config_file()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    table = data.get("shell")
    return table if isinstance(table, dict) else {}


def sensitive_dirs(configured: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """Absolute sensitive dirs: the configured (or default) ones plus aiw's config dir."""
    from ai_workbench.core import paths

    dirs = list(DEFAULT_SENSITIVE if configured is None else configured)
    result: list[str] = []
    for raw in [*dirs, str(paths.config_dir())]:
        path = os.path.normpath(os.path.expanduser(str(raw)))
        if path not in result and path != "/":
            result.append(path)
    return result


def capture_mode(table: dict[str, object] | None = None) -> str:
    """``shell.capture`` as the hook sees it: ``AIW_SHELL__CAPTURE``, else the user config."""
    value = os.environ.get("AIW_SHELL__CAPTURE") or (
        (_user_shell_table() if table is None else table).get("capture")
    )
    return value if value in CAPTURE_MODES else "scrollback"


def render_init(shell: Shell) -> str:
    """The text `aiw shell init SHELL` prints: settings, then the hook script."""
    from ai_workbench.shell.spool import ensure_private, spool_file

    if shell not in SHELLS:
        raise ValueError(f"unsupported shell {shell!r}; use one of {', '.join(SHELLS)}")
    from ai_workbench.core.defaults import DEFAULT_TEE_SKIP

    table = _user_shell_table()
    sens = table.get("sensitive_dirs")
    ignore = table.get("ignore")
    skip = table.get("tee_skip")
    skip_list = [str(p) for p in skip] if isinstance(skip, list) else list(DEFAULT_TEE_SKIP)
    spool = spool_file()
    # Without the dir the hook's append fails quietly and the worker creates it.
    with contextlib.suppress(OSError):
        ensure_private(spool)
    settings = [
        f"_aiw_py={shlex.quote(sys.executable)}",
        f"_aiw_spool={shlex.quote(str(spool))}",
        f"_aiw_off={shlex.quote(str(off_flag()))}",
        "_aiw_sensitive=("
        + " ".join(shlex.quote(d) for d in sensitive_dirs(sens if isinstance(sens, list) else None))
        + ")",
        "_aiw_ignore=("
        + " ".join(shlex.quote(str(p)) for p in (ignore if isinstance(ignore, list) else []))
        + ")",
        f"_aiw_capture={shlex.quote(capture_mode(table))}",
        f"_aiw_dir={shlex.quote(str(spool.parent))}",
        f"_aiw_tee_py={shlex.quote(str(Path(__file__).with_name('tee.py')))}",
        # always quoted: zsh would expand an unquoted `=python` to python's path
        "_aiw_tee_skip=(" + " ".join("'" + p.replace("'", "'\\''") + "'" for p in skip_list) + ")",
    ]
    return "\n".join(settings) + "\n" + hook_source(shell)


# ---------------------------------------------------------------------------- rc files


def detect_shell(explicit: str | None = None) -> Shell:
    """``explicit``, else the login shell from ``$SHELL``; raise ValueError for others."""
    name = explicit or os.path.basename(os.environ.get("SHELL", ""))
    if name not in SHELLS:
        raise ValueError(
            f"cannot tell which shell to set up (SHELL={os.environ.get('SHELL', '')!r}); "
            "pass --shell bash or --shell zsh"
        )
    return name  # type: ignore[return-value]


def rc_path(shell: Shell) -> Path:
    home = Path.home()
    if shell == "zsh":
        return Path(os.environ.get("ZDOTDIR") or home) / ".zshrc"
    return home / ".bashrc"


def _init_command(shell: Shell) -> str:
    """How the rc block runs `aiw shell init`: the absolute path of the `aiw` this runs from.

    A new terminal has no virtualenv activated, so a bare `aiw` found on PATH now may not be
    there then; the script's absolute path (not resolved: a pipx or ~/.local/bin symlink keeps
    working across upgrades) runs with its own Python. Run as `python -m ai_workbench`, the
    block runs this Python the same way.
    """
    here = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if here is not None and here.name.startswith("aiw") and here.suffix != ".py":
        script = Path(os.path.abspath(here))
        if script.is_file() and os.access(script, os.X_OK):
            return f"{shlex.quote(str(script))} shell init {shell}"
    found = shutil.which("aiw")
    if found and here is None:
        return f"{shlex.quote(os.path.abspath(found))} shell init {shell}"
    return f"{shlex.quote(sys.executable)} -m ai_workbench shell init {shell}"


@dataclass(frozen=True, slots=True)
class RcStatus:
    """What the aiw block in one rc file runs, and whether that program still exists."""

    shell: str
    path: Path
    installed: bool
    command: str | None = None  # the command line inside eval "$(...)"
    program: str | None = None  # its first word (an absolute path, or a name on PATH)
    program_found: str | None = None  # where that program is now, None when missing

    @property
    def broken(self) -> bool:
        return self.installed and self.program_found is None


def block_command(text: str) -> str | None:
    """The command the marked block evals (``aiw shell init bash``), or None."""
    span = _block_span(text)
    if span is None:
        return None
    for line in text[span[0] : span[1]].splitlines():
        line = line.strip()
        if line.startswith('eval "$(') and line.endswith(')"'):
            inner = line[len('eval "$(') : -len(')"')]
            return inner.removesuffix("2>/dev/null").strip()
    return None


def rc_status(shell: Shell, path: Path | None = None) -> RcStatus:
    """Whether ``shell``'s rc file has the block and whether the program it runs exists."""
    target = path or rc_path(shell)
    try:
        text = _read(target)
    except OSError:
        text = ""
    command = block_command(text)
    if command is None:
        return RcStatus(shell, target, installed=BEGIN_MARK in text)
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    program = words[0] if words else ""
    if os.path.isabs(program):
        found = program if os.path.isfile(program) and os.access(program, os.X_OK) else None
    else:
        found = shutil.which(program) if program else None
    return RcStatus(shell, target, True, command, program, found)


_NOTE = "# Added by `aiw shell install`; `aiw shell uninstall` removes this block.\n"
# When the rc file did not end with a newline, install adds one before the block; this note
# says so, and uninstall removes that newline with the block (the file comes back byte for byte).
_NOTE_JOINED = (
    "# Added by `aiw shell install` with the newline before it;"
    " `aiw shell uninstall` removes both.\n"
)


def rc_block(shell: Shell, command: str | None = None, *, joined: bool = False) -> str:
    """The marked block; ``joined``: it follows a line that had no newline (added by us)."""
    init = command or _init_command(shell)
    return (
        f"{BEGIN_MARK}\n" + (_NOTE_JOINED if joined else _NOTE) + f'eval "$({init} 2>/dev/null)"\n'
        f"{END_MARK}\n"
    )


@dataclass(frozen=True, slots=True)
class RcChange:
    path: Path
    action: Literal["added", "updated", "unchanged", "removed", "absent"]


def _block_span(text: str) -> tuple[int, int] | None:
    """Start and end offsets of the first marked block (end includes its newline; start
    includes the newline install added before it, when its note says so and the block
    is still last)."""
    start = text.find(BEGIN_MARK + "\n")
    if start < 0 or (start > 0 and text[start - 1] != "\n"):
        return None
    end_at = text.find(END_MARK, start)
    if end_at < 0:
        return None
    end = end_at + len(END_MARK)
    if text[end : end + 1] == "\n":
        end += 1
    note_at = start + len(BEGIN_MARK) + 1
    if start > 0 and end == len(text) and text.startswith(_NOTE_JOINED, note_at):
        start -= 1  # (with lines after the block the newline stays: it now ends a line)
    return start, end


def _write_atomic(path: Path, text: str) -> None:
    real = path.resolve()  # keep a dotfiles symlink a symlink
    real.parent.mkdir(parents=True, exist_ok=True)
    mode = real.stat().st_mode & 0o7777 if real.exists() else 0o644
    tmp = real.with_name(f".{real.name}.aiw-{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, real)


def _read(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return ""


def install(shell: Shell, path: Path | None = None, command: str | None = None) -> RcChange:
    """Add (or refresh) the marked block at the end of the rc file; idempotent."""
    target = path or rc_path(shell)
    text = _read(target)
    span = _block_span(text)
    before, after = (text, "") if span is None else (text[: span[0]], text[span[1] :])
    joined = bool(before) and not before.endswith("\n")
    block = ("\n" if joined else "") + rc_block(shell, command, joined=joined)
    if span is not None:
        if text[span[0] : span[1]] in (block, block.rstrip("\n")):
            return RcChange(target, "unchanged")
        _write_atomic(target, before + block + after)
        return RcChange(target, "updated")
    _write_atomic(target, before + block)
    return RcChange(target, "added")


def uninstall(shell: Shell, path: Path | None = None) -> RcChange:
    """Remove exactly the marked block (every copy of it); the rest stays byte for byte."""
    target = path or rc_path(shell)
    text = _read(target)
    span = _block_span(text)
    if span is None:
        return RcChange(target, "absent")
    while span is not None:
        text = text[: span[0]] + text[span[1] :]
        span = _block_span(text)
    _write_atomic(target, text)
    return RcChange(target, "removed")
