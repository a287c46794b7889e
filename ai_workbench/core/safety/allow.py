"""The allowlist: commands known to be harmless, and with which arguments.

:func:`not_harmless` answers ``None`` when a simple command only reads, prints, navigates or
creates (``ls``, ``cat``, ``grep``, ``git status``, ``docker ps``, ``kubectl get``,
``mkdir``…), and otherwise one line saying why it is not (``sort -o`` writes a file, ``git
commit`` changes the repository, ``foo`` is not a command aiw knows). Anything not listed here
is at least moderate: the allowlist is what makes a rating *safe*, not the absence of a rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["not_harmless"]

#: Read-only (or create-only) with any arguments.
READ_ONLY = frozenset(
    """
    ls ll la dir vdir cat bat batcat head tail less more wc grep egrep fgrep rg ag ack echo
    printf pwd whoami id groups date cal uname uptime df du free ps pgrep pstree which whereis
    type file stat tree diff diff3 cmp comm cut tr nl column fold fmt paste join rev tac
    basename dirname realpath readlink printenv true false test [ sleep seq jq xxd hexdump od
    strings md5sum sha1sum sha224sum sha256sum sha384sum sha512sum shasum b2sum cksum sum base32
    base64 lsof netstat ss dig nslookup host ping ping6 traceroute tracepath mtr whois man info
    help apropos whatis tldr clear reset cd pushd popd dirs mkdir touch locate mlocate plocate
    nproc lscpu lsblk lsusb lspci lsmod lsns lsattr locale tty w who last lastlog users arch
    getconf env export unset cd vmstat iostat mpstat pidstat sar htop top btop glances nvidia-smi
    sw_vers system_profiler ioreg expr factor numfmt look fd fdfind fzf zcat zless zgrep
    bzcat xzcat zstdcat tput column wdiff colordiff delta icdiff cloc tokei scc shellcheck
    hadolint yamllint jsonlint
    """.split()  # noqa: SIM905
)

_VERSION_FLAGS = {"--version", "-V", "-v", "version", "--help", "-h", "help"}

#: Programs whose ``--version``/``--help`` alone is harmless (anything else: not known).
_TOOLS = frozenset(
    """
    python python2 python3 pip pip3 pipx uv poetry node npm npx pnpm yarn bun deno go cargo
    rustc rustup java javac mvn gradle ruby gem bundle perl php composer dotnet gcc g++ clang
    make cmake ninja terraform tofu pulumi helm aws gcloud az gh docker podman kubectl ansible
    ansible-playbook vagrant brew apt apt-get dnf yum pacman conda mamba sqlite3 psql mysql
    redis-cli mongosh tmux screen zsh bash sh fish vim nvim emacs nano code git ruff black mypy
    pytest tox nox pre-commit eslint prettier tsc webpack vite rg fd jq yq openssl ssh curl wget
    rsync
    """.split()  # noqa: SIM905
)


def _options(args: list[str]) -> list[str]:
    return [a for a in args if a.startswith("-")]


def _operands(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-")]


def _sort(args: list[str]) -> str | None:
    if any(a == "-o" or a.startswith(("-o", "--output")) for a in args):
        return "sort -o writes a file"
    return None


def _uniq(args: list[str]) -> str | None:
    return "uniq with two file names writes the second" if len(_operands(args)) > 1 else None


def _sed(args: list[str]) -> str | None:
    if any(a.startswith(("-i", "--in-place")) or re.fullmatch(r"-[A-Za-z]*i\S*", a) for a in args):
        return "sed -i edits files in place"
    script = " ".join(_operands(args)[:1] + [a for a in args if not a.startswith("-")][:1])
    if re.search(r"(?:^|[;}\s/])[ewW]\s|/[gpIi0-9]*[ew]\b", script):
        return "the sed script writes files or runs commands (w, e)"
    return None


def _awk(args: list[str]) -> str | None:
    code = " ".join(args)
    if re.search(r"\bsystem\s*\(|\|\s*getline|getline\s*<|\bprint[f]?\b[^;}]*[>|]", code):
        return "the awk program runs commands or writes files"
    return None


def _find(args: list[str]) -> str | None:
    acts = {"-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf"}
    acts |= {"-fls"}
    hit = next((a for a in args if a in acts), None)
    return f"find {hit} changes or runs something" if hit else None


def _tee(args: list[str]) -> str | None:
    files = [a for a in _operands(args) if a not in ("/dev/null", "/dev/stdout", "/dev/stderr")]
    return "tee writes a file" if files else None


def _history(args: list[str]) -> str | None:
    return "history with options changes the history" if _options(args) else None


def _hostname(args: list[str]) -> str | None:
    return "hostname NAME changes the host name" if _operands(args) else None


def _alias(args: list[str]) -> str | None:
    return "defines an alias" if any("=" in a for a in args) else None


def _set(args: list[str]) -> str | None:
    return None if not args or args in (["-x"], ["+x"], ["-e"], ["-o"]) else "changes shell options"


def _xxd(args: list[str]) -> str | None:
    return "xxd -r writes binary data" if "-r" in args and len(_operands(args)) > 1 else None


def _yq(args: list[str]) -> str | None:
    in_place = any(a in ("-i", "--inplace") or a.startswith("--in-place") for a in args)
    return "yq -i edits files in place" if in_place else None


def _ip(args: list[str]) -> str | None:
    words = _operands(args)
    writes = {"add", "del", "delete", "set", "change", "replace", "flush", "append", "up", "down"}
    return "ip changes network settings" if any(w in writes for w in words) else None


def _ifconfig(args: list[str]) -> str | None:
    return "ifconfig with settings changes an interface" if len(_operands(args)) > 1 else None


def _mount(args: list[str]) -> str | None:
    return "mount with arguments mounts something" if args else None


def _journalctl(args: list[str]) -> str | None:
    bad = ("--vacuum", "--rotate", "--flush", "--sync", "--relinquish", "--setup-keys")
    return "journalctl changes the journal" if any(a.startswith(bad) for a in args) else None


def _gzip_read(args: list[str]) -> str | None:
    read = {"-l", "--list", "-t", "--test", "-c", "--stdout"}
    return None if read & set(args) else "compresses or decompresses files in place"


def _tar(args: list[str]) -> str | None:
    first = args[0] if args else ""
    if first.startswith("--list") or re.fullmatch(r"-?[A-Za-z]*t[A-Za-z]*", first or "x"):
        return None
    return "tar creates or extracts files"


def _subcommand(args: list[str], takes_value: frozenset[str] = frozenset()) -> list[str]:
    """The operands after global options (skipping the values of ``takes_value`` options)."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg.startswith("-"):
            skip = arg in takes_value
            continue
        out.append(arg)
    return out


_GIT_READ = frozenset(
    """
    status log diff show blame annotate shortlog ls-files ls-tree ls-remote cat-file grep
    rev-parse rev-list describe name-rev merge-base for-each-ref show-ref show-branch
    check-ignore check-attr count-objects fsck var version help whatchanged cherry range-diff
    diff-tree diff-files diff-index verify-commit verify-tag fetch reflog
    """.split()  # noqa: SIM905
)
_GIT_GLOBAL_VALUE = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace"})


def _git(args: list[str]) -> str | None:
    words = _subcommand(args, _GIT_GLOBAL_VALUE)
    if not words:
        return None if set(args) <= _VERSION_FLAGS | {"--no-pager"} else "git with options only"
    sub, rest = words[0], args[args.index(words[0]) + 1 :]
    if sub in ("log", "diff", "show") and any(a.startswith("--output") for a in rest):
        return f"git {sub} --output writes a file"
    if sub == "reflog" and _operands(rest)[:1] not in ([], ["show"]):
        return "git reflog changes the reflog"
    if sub in _GIT_READ:
        return None
    if sub == "reset" and "--soft" in rest:
        return None  # moves HEAD only; the index and the files stay
    lists = {
        "branch": ("-l", "--list", "-a", "-r", "-v", "-vv", "--show-current", "--all"),
        "tag": ("-l", "--list", "-n"),
        "stash": ("list", "show"),
        "remote": ("-v", "show", "get-url"),
        "worktree": ("list",),
        "submodule": ("status", "summary"),
        "config": ("--get", "--list", "-l", "--get-all", "--get-regexp", "--show-origin"),
        "notes": ("list", "show"),
    }
    if sub in lists:
        if not _operands(rest) and sub not in ("config", "stash", "worktree", "submodule"):
            return None  # `git branch`, `git tag`, `git remote`: lists
        if sub in ("stash", "worktree", "submodule", "notes"):
            if _operands(rest)[:1] and _operands(rest)[0] in lists[sub]:
                return None
        elif (any(a in lists[sub] for a in rest) and (sub != "branch" or not _operands(rest))) or (
            sub == "remote" and _operands(rest)[:1] in (["show"], ["get-url"])
        ):
            return None
    return f"git {sub} changes the repository or its settings"


def _simple_sub(name: str, reads: set[str], takes_value: frozenset[str] = frozenset()):
    def check(args: list[str]) -> str | None:
        words = _subcommand(args, takes_value)
        if not words:
            return None if set(args) <= _VERSION_FLAGS else f"{name} with these options"
        if words[0] in reads:
            return None
        return f"{name} {words[0]} changes something"

    return check


_DOCKER = _simple_sub(
    "docker",
    {"ps", "images", "logs", "inspect", "version", "info", "stats", "top", "port", "history",
     "events", "search", "diff"},
    frozenset({"-H", "--host", "--context", "-c", "--config", "--log-level"}),
)  # fmt: skip
_KUBECTL = _simple_sub(
    "kubectl",
    {"get", "describe", "logs", "top", "explain", "version", "api-resources", "api-versions",
     "cluster-info", "events"},
    frozenset({"-n", "--namespace", "--context", "--cluster", "--kubeconfig", "-o", "--output",
               "-l", "--selector", "--user"}),
)  # fmt: skip


def _docker(args: list[str]) -> str | None:
    words = _subcommand(args, frozenset({"-H", "--host", "--context", "-c", "--config"}))
    if len(words) >= 2 and words[0] in ("compose", "image", "container", "volume", "network"):
        if words[1] in ("ps", "ls", "logs", "config", "inspect", "top", "images", "version"):
            return None
        return f"docker {words[0]} {words[1]} changes something"
    return _DOCKER(args)


def _kubectl(args: list[str]) -> str | None:
    words = _subcommand(args, frozenset({"-n", "--namespace", "--context", "-o", "-l"}))
    if len(words) >= 2 and words[0] == "config":
        reads = ("view", "get-contexts", "current-context", "get-clusters", "get-users")
        return None if words[1] in reads else "kubectl config changes the kubeconfig"
    if len(words) >= 2 and words[0] == "auth" and words[1] in ("can-i", "whoami"):
        return None
    if len(words) >= 2 and words[0] == "rollout" and words[1] in ("status", "history"):
        return None
    return _KUBECTL(args)


_GH = {"status", "auth", "pr", "issue", "repo", "run", "release", "workflow", "search", "api"}


def _gh(args: list[str]) -> str | None:
    words = _operands(args)
    if words[:1] == ["status"] or words[:2] == ["auth", "status"]:
        return None
    if len(words) >= 2 and words[0] in _GH and words[1] in ("list", "view", "status", "diff"):
        return None
    return "gh " + " ".join(words[:2]) + " may change something on GitHub"


def _systemctl(args: list[str]) -> str | None:
    words = _operands(args)
    reads = {"status", "show", "cat", "list-units", "list-unit-files", "list-timers",
             "is-active", "is-enabled", "is-failed", "list-dependencies",
             "list-sockets"}  # fmt: skip
    return None if not words or words[0] in reads else f"systemctl {words[0]} changes services"


def _package_query(name: str, reads: set[str]) -> Callable[[list[str]], str | None]:
    def check(args: list[str]) -> str | None:
        words = _operands(args)
        if (not words and set(args) <= _VERSION_FLAGS) or (words and words[0] in reads):
            return None
        return f"{name} {' '.join(words[:1])} changes packages or projects".replace("  ", " ")

    return check


def _python(args: list[str]) -> str | None:
    if args and set(args) <= _VERSION_FLAGS:
        return None
    for i, arg in enumerate(args):
        if arg == "-m" and i + 1 < len(args):
            harmless = {"json.tool", "platform", "sysconfig", "this", "pydoc", "tokenize"}
            if args[i + 1] in harmless or (args[i + 1] == "pip" and _pip(args[i + 2 :]) is None):
                return None
            return f"python -m {args[i + 1]} runs a module"
    return "runs a Python script"


def _pip(args: list[str]) -> str | None:
    reads = {"list", "show", "freeze", "check", "search", "index", "inspect", "config", "debug"}
    words = _operands(args)
    if words[:1] == ["config"] and words[1:2] not in (["list"], ["get"], ["debug"]):
        return "pip config changes settings"
    return _package_query("pip", reads)(args)


def _npm(args: list[str]) -> str | None:
    reads = {"ls", "list", "la", "ll", "view", "info", "show", "outdated", "search", "audit",
             "config", "whoami", "root", "prefix", "bin", "doctor", "explain", "why",
             "help"}  # fmt: skip
    words = _operands(args)
    if words[:1] == ["audit"] and "fix" in words:
        return "npm audit fix changes packages"
    if words[:1] == ["config"] and words[1:2] not in (["list"], ["get"], ["ls"]):
        return "npm config changes settings"
    return _package_query("npm", reads)(args)


def _brew(args: list[str]) -> str | None:
    reads = {"list", "ls", "info", "search", "deps", "uses", "outdated", "config", "doctor",
             "leaves", "desc", "home", "--prefix", "--cellar", "--cache"}  # fmt: skip
    return _package_query("brew", reads)(args)


def _apt(args: list[str]) -> str | None:
    return _package_query("apt", {"list", "show", "search", "policy", "depends", "rdepends"})(args)


def _cargo(args: list[str]) -> str | None:
    reads = {"tree", "metadata", "search", "version", "--list", "locate-project", "pkgid"}
    return _package_query("cargo", reads)(args)


def _go(args: list[str]) -> str | None:
    words = _operands(args)
    if words[:1] in (["version"], ["env"], ["list"], ["doc"]) and "-w" not in args:
        return None
    if words[:2] == ["mod", "graph"] or words[:2] == ["mod", "why"]:
        return None
    return _package_query("go", set())(args)


def _terraform(args: list[str]) -> str | None:
    reads = {"version", "validate", "show", "output", "providers", "graph", "state list"}
    words = _operands(args)
    if words[:1] == ["fmt"] and ("-check" in args or "--check" in args):
        return None
    if words[:2] == ["state", "list"] or words[:2] == ["state", "show"]:
        return None
    return _package_query("terraform", reads)(args)


def _aws(args: list[str]) -> str | None:
    words = _subcommand(args, frozenset({"--profile", "--region", "--output", "--query"}))
    if words[:2] == ["sts", "get-caller-identity"] or words[:1] == ["--version"]:
        return None
    secret_reads = ("get-secret-value", "get-parameter", "get-parameters")
    if len(words) >= 2 and re.match(r"(?:describe|list|get)-", words[1]):
        return None if words[1] not in secret_reads else "reads a secret from the cloud"
    if words[:2] == ["s3", "ls"]:
        return None
    return "aws " + " ".join(words[:2]) + " may change cloud resources"


def _journal_or_service(args: list[str]) -> str | None:
    return None if args == ["--status-all"] or args[-1:] == ["status"] else "changes services"


def _dmesg(args: list[str]) -> str | None:
    return "dmesg -c clears the kernel log" if any("-c" in a or "C" in a for a in args) else None


def _date(args: list[str]) -> str | None:
    return "date -s sets the clock" if any(a in ("-s", "--set") for a in args) else None


_CHECKS: dict[str, Callable[[list[str]], str | None]] = {
    "sort": _sort,
    "uniq": _uniq,
    "sed": _sed,
    "gsed": _sed,
    "awk": _awk,
    "gawk": _awk,
    "mawk": _awk,
    "find": _find,
    "tee": _tee,
    "history": _history,
    "hostname": _hostname,
    "alias": _alias,
    "set": _set,
    "xxd": _xxd,
    "yq": _yq,
    "ip": _ip,
    "ifconfig": _ifconfig,
    "mount": _mount,
    "journalctl": _journalctl,
    "gzip": _gzip_read,
    "gunzip": _gzip_read,
    "bzip2": _gzip_read,
    "xz": _gzip_read,
    "zstd": _gzip_read,
    "tar": _tar,
    "git": _git,
    "docker": _docker,
    "podman": _docker,
    "kubectl": _kubectl,
    "gh": _gh,
    "systemctl": _systemctl,
    "service": _journal_or_service,
    "python": _python,
    "python3": _python,
    "pip": _pip,
    "pip3": _pip,
    "npm": _npm,
    "pnpm": _npm,
    "yarn": _npm,
    "brew": _brew,
    "apt": _apt,
    "apt-cache": lambda args: None,
    "dpkg": lambda args: None if args[:1] in (["-l"], ["-L"], ["-s"], ["-S"]) else "dpkg change",
    "rpm": lambda args: None if args[:1] and args[0].startswith("-q") else "rpm changes packages",
    "cargo": _cargo,
    "go": _go,
    "terraform": _terraform,
    "tofu": _terraform,
    "aws": _aws,
    "dmesg": _dmesg,
    "date": _date,
    "tmux": lambda args: None if args[:1] in (["ls"], ["list-sessions"]) else "tmux command",
    "make": lambda args: None if any(a in ("-n", "--dry-run", "-q") for a in args) else "runs make",
    "helm": lambda args: (
        None if args[:1] in (["list"], ["ls"], ["status"], ["version"]) else "helm"
    ),
}


#: Known programs that change something (or reach the network): moderate, with this reason.
KNOWN_CHANGES = {
    **dict.fromkeys(("curl", "wget", "http", "https", "xh", "aria2c"), "downloads or sends data"),
    **dict.fromkeys(("scp", "sftp", "rsync", "rclone", "ftp"), "copies files to or from a host"),
    **dict.fromkeys(("nc", "ncat", "netcat", "socat", "telnet"), "opens a network connection"),
    **dict.fromkeys(("cp", "install", "ln", "mkfifo", "mktemp"), "creates or overwrites files"),
    **dict.fromkeys(("unzip", "7z", "unrar", "zip"), "creates or extracts files"),
    **dict.fromkeys(("vi", "vim", "nvim", "nano", "emacs", "code", "subl"), "opens an editor"),
    **dict.fromkeys(
        ("pytest", "tox", "nox", "jest", "vitest", "mocha"), "runs the project's tests"
    ),
    **dict.fromkeys(("ssh-keygen", "gpg", "openssl", "ssh-add"), "works with keys"),
    **dict.fromkeys(("crontab", "at", "batch"), "schedules commands"),
}


def not_harmless(prog: str, args: list[str]) -> str | None:
    """``None`` when ``prog args`` is known to be harmless; else why it is not (one line)."""
    if prog in _CHECKS:
        return _CHECKS[prog](args)
    if prog in READ_ONLY:
        return None
    if prog in _TOOLS and args and set(args) <= _VERSION_FLAGS:
        return None
    if prog in KNOWN_CHANGES:
        return f"{KNOWN_CHANGES[prog]} ({prog})"
    return f"`{prog}` is not a command aiw knows to be harmless"
