"""Default values that both the settings model and stdlib-only fast paths read.

`aiw shell init` and the tee reader must not load pydantic, so defaults they share with
:mod:`ai_workbench.core.settings` live here, in a module that imports nothing.
"""

from __future__ import annotations

#: Interactive programs whose stderr tee mode leaves alone: a word is that program with any
#: arguments, ``=word`` that line exactly (a REPL without arguments), anything else a glob over
#: the command, optionally followed by `` !GLOB`` (unless the command also matches GLOB).
DEFAULT_TEE_SKIP: tuple[str, ...] = (
    "vi", "vim", "nvim", "gvim", "view", "vimdiff", "nano", "emacs", "emacsclient", "micro",
    "hx", "kak", "less", "more", "most", "man", "info", "ssh", "mosh", "telnet", "ftp", "sftp",
    "sudo", "su", "doas", "passwd", "top", "htop", "btop", "atop", "watch", "tmux", "screen",
    "fzf", "tig", "lazygit", "ranger", "nnn", "lf", "mc", "ncdu", "mutt", "neomutt", "psql",
    "mysql", "sqlite3", "redis-cli", "mongosh", "crontab", "visudo", "ipython", "bpython",
    "ptpython", "=python", "=python3", "=node", "=irb", "=ghci", "=lua", "=R", "=bash", "=zsh",
    "=sh", "python -i*", "python3 -i*", "git commit* !*-*m *", "git rebase -i*",
    "git rebase --interactive*", "git add -p*", "git add -i*", "git add --patch*",
    "git add --interactive*", "git mergetool*", "git difftool*",
)  # fmt: skip
