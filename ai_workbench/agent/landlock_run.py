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

_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/random", "/dev/urandom")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aiw-landlock")
    parser.add_argument("--root", required=True)
    parser.add_argument("--tmp", required=True)
    parser.add_argument("--network", action="store_true")
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
        rules.allow_read("/").allow_execute("/")
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
