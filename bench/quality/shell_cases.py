"""Shell failures: real commands, run for real (harmless ones, in a temp dir with a temp HOME),
whose real stderr aiw analyses. Written before any tuning.

The top fix is right when its command matches one of the case's patterns. Setup commands make
the situation (a repo, a file); the failing command is the one aiw sees. Nothing here deletes,
overwrites or sends anything: every command fails before it could.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShellCase:
    name: str
    setup: str  # bash, run first in the case dir (may be empty)
    command: str  # the failing command, as typed
    right_fix: tuple[str, ...]  # regexes; the top fix's command must match one


CASES: tuple[ShellCase, ...] = (
    ShellCase("not_a_repo", "", "git status", (r"^git init\b",)),
    ShellCase(
        "missing_module",
        "",
        'python3 -c "import tomli_w"',
        (r"pip3? install .*tomli[-_]w", r"python3? -m pip install .*tomli[-_]w"),
    ),
    ShellCase(
        "no_such_branch",
        "git init -q -b main && git commit -q --allow-empty -m start",
        "git checkout feature-login",
        (r"git (checkout -b|switch -c|switch --create) feature-login", r"git branch feature-login"),
    ),
    ShellCase(
        "script_typo",
        "printf 'print(1)\\n' > scripts.py",
        "python3 script.py",
        (r"python3? scripts\.py",),
    ),
    ShellCase(
        "nothing_staged",
        "git init -q -b main && printf 'a\\n' > a.txt && git add a.txt"
        " && git -c user.name=b -c user.email=b@e.invalid commit -q -m start"
        " && printf 'b\\n' >> a.txt",
        "git -c user.name=b -c user.email=b@e.invalid commit -m 'update a'",
        (r"git add", r"git commit -a", r"git commit -am", r"git commit --all"),
    ),
    ShellCase("mkdir_parents", "", "mkdir build/out/logs", (r"mkdir -p",)),
    ShellCase(
        "copy_dir",
        "mkdir -p assets && printf 'x' > assets/logo.svg",
        "cp assets public",
        (r"cp -[a-zA-Z]*[rRa]", r"cp --recursive"),
    ),
    ShellCase(
        "no_upstream",
        "git init -q -b main && git -c user.name=b -c user.email=b@e.invalid commit -q"
        " --allow-empty -m start",
        "git push",
        (r"git remote add", r"git push (-u|--set-upstream)"),
    ),
    ShellCase(
        "not_executable",
        "printf '#!/bin/sh\\necho hi\\n' > run.sh",
        "./run.sh",
        (r"chmod \+?[0-7ux+]* *\.?/?run\.sh", r"^(ba)?sh \.?/?run\.sh"),
    ),
    ShellCase(
        "pip_typo",
        "",
        "python3 -m pip instal requests",
        (r"pip3? install requests",),
    ),
    ShellCase(
        "unknown_git_command",
        "git init -q -b main",
        "git stauts",
        (r"^git status\b",),
    ),
)
