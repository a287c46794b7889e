"""``python -m ai_workbench.agent.landlock_run --root DIR --tmp DIR [--network] -- CMD…``

Restricts itself with Landlock (py-landlock), then ``exec``s CMD, which inherits the rules: read
and execute everywhere, write only under ``--root`` and ``--tmp`` (and to ``/dev/null``, the
terminal devices), and, unless ``--network``, no TCP connect or bind (Landlock ABI ≥ 4).
Exit 126 with one line on stderr when Landlock cannot be applied.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/random", "/dev/urandom")


def _grant_reads(rules: Any, base: Path, hidden: list[Path], access: Any) -> None:
    """Read and execute everywhere under ``base`` but in ``hidden``. Landlock rules only add
    rights to whole hierarchies, so a directory above a hidden path gets listing rights alone
    and each of its other entries gets full rights, recursively."""
    full_dir = access.READ_FILE | access.READ_DIR | access.EXECUTE
    full_file = access.READ_FILE | access.EXECUTE
    if base in hidden:
        return
    if not any(base in h.parents for h in hidden):
        rules.add_path_rule(base, access=full_dir if base.is_dir() else full_file)
        return
    rules.add_path_rule(base, access=access.READ_DIR)
    try:
        children = list(base.iterdir())
    except OSError:
        return
    for child in children:
        if not child.is_symlink():  # a link's target is granted (or not) where it lives
            _grant_reads(rules, child, hidden, access)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aiw-landlock")
    parser.add_argument("--root", required=True)
    parser.add_argument("--tmp", required=True)
    parser.add_argument("--network", action="store_true")
    parser.add_argument("--hide", action="append", default=[], help="a path not to be read")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    command = list(options.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print("aiw-landlock: no command given", file=sys.stderr)
        return 2
    try:
        from py_landlock import AccessFs, Landlock

        rules = Landlock(strict=False)
        hidden = [Path(h) for h in options.hide if os.path.lexists(h)]
        _grant_reads(rules, Path("/"), hidden, AccessFs)
        rules.allow_read_write(options.root, options.tmp)
        file_rights = AccessFs.READ_FILE | AccessFs.WRITE_FILE
        devices = [d for d in _DEVICES if os.path.exists(d)]
        if devices:
            rules.add_path_rule(*devices, access=file_rights)
        if options.network:
            rules.allow_all_network()
        rules.apply()
    except Exception as exc:  # any failure means: no Landlock here
        print(f"aiw-landlock: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 126
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"aiw-landlock: cannot run {command[0]}: {exc}", file=sys.stderr)
        return 127
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
