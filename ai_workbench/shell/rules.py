"""Which failures are not worth reporting. The hook applies the same rules in shell (cheaply,
before it writes anything); the worker applies them again with the current config, so a
change to ``shell.ignore`` or ``shell.sensitive_dirs`` counts without re-sourcing the hook.

Not reported: signals (129 SIGHUP, 130 SIGINT, 131 SIGQUIT, 137 SIGKILL, 141 SIGPIPE,
143 SIGTERM, 146/148 SIGTSTP); exit codes that are answers (``grep``/``rg``/``diff``/``cmp``/
``which``/``type``/``pgrep`` 1, ``test``/``[``/``[[``/``false``, ``git diff --quiet`` 1,
``command -v``, ``systemctl is-*``) when that program alone gave the status (a single
command, or the only failed stage of a pipeline; never in a list such as ``a && diff x y``);
command lines matching a ``shell.ignore`` glob; anything
run in a sensitive directory. 126, 127 and 2 always count.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable

__all__ = ["ALWAYS_REPORTED", "SIGNAL_STATUSES", "ignore_reason", "is_answer"]

SIGNAL_STATUSES = frozenset({129, 130, 131, 137, 141, 143, 146, 148})
ALWAYS_REPORTED = frozenset({126, 127, 2})
_ANSWER_ANY = frozenset({"test", "[", "[[", "false", "!"})
_ANSWER_ONE = frozenset(
    {"grep", "egrep", "fgrep", "zgrep", "rg", "ag", "ack", "diff", "cmp", "colordiff", "which",
     "type", "whence", "where", "pgrep", "pidof", "hash"}
)  # fmt: skip
_PREFIXES = ("sudo ", "time ", "! ", "nice ", "env ")


def _first_word(segment: str) -> str | None:
    word = segment.lstrip()
    while True:
        if re.match(r"command\s+-[vV]", word):
            return "command -v"
        if not word.startswith((*_PREFIXES, "command -v", "command -V")):
            break
        word = word.split(" ", 1)[1].lstrip() if " " in word else ""
    first = word.split(None, 1)[0] if word.split() else ""
    return first.rsplit("/", 1)[-1]


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _stages(line: str) -> list[str] | None:
    """The stages of ``line`` when it is one pipeline (quotes and ``2>&1``-style redirections
    do not count), else None (``&&``, ``||``, ``;``, ``&``, a newline: a list)."""
    text = _QUOTED.sub(" _ ", line).replace("&>", " ").replace(">&", " ")
    if re.search(r"[;&\n]|\|\|", text):
        return None
    return text.split("|")


def is_answer(status: int, line: str, pipestatus: str = "") -> bool:
    """Whether ``status`` from ``line`` is an answer (no match, files differ), not a failure.

    Only the program whose status it is counts: a single command, or the one failed stage of a
    pipeline (by ``pipestatus``; 141, SIGPIPE, in other stages is fine). In a list
    (``npm test && diff a b``) the status may come from any part, so it is never an answer.
    """
    if status in ALWAYS_REPORTED:
        return False
    stages = _stages(line)
    if stages is None:
        return False
    statuses = pipestatus.split() or [str(status)]
    if len(statuses) != len(stages):
        return False
    failed = [i for i, code in enumerate(statuses) if code not in ("0", "141")]
    if len(failed) != 1:
        return False
    segment = stages[failed[0]]
    if re.search(r"git diff.*--(?:quiet|exit-code)|git .*diff-index.*--quiet", segment):
        return status == 1
    if "systemctl is-" in segment:
        return True
    first = _first_word(segment)
    if first == "command -v" or first in _ANSWER_ANY:
        return True
    return first in _ANSWER_ONE and status == 1


def _inside(cwd: str, directory: str) -> bool:
    cwd = os.path.normpath(cwd)
    directory = os.path.normpath(os.path.expanduser(directory))
    return cwd == directory or cwd.startswith(directory.rstrip("/") + "/")


def ignore_reason(
    status: int,
    line: str,
    cwd: str,
    *,
    ignore: Iterable[str] = (),
    sensitive: Iterable[str] = (),
    pipestatus: str = "",
) -> str | None:
    """Why this failure is not reported, or None when it is."""
    if status == 0:
        return "success"
    if status in SIGNAL_STATUSES:
        return f"signal (exit {status})"
    if not line.strip():
        return "empty command line"
    for directory in sensitive:
        if _inside(cwd, directory):
            return f"sensitive directory {directory}"
    if is_answer(status, line, pipestatus):
        return f"exit {status} is an answer here, not a failure"
    for pattern in ignore:
        if fnmatch.fnmatchcase(line, pattern):
            return f"matches shell.ignore pattern {pattern!r}"
    return None
