"""The pattern rules behind :mod:`ai_workbench.core.safety.risk`.

``DANGEROUS`` and ``MODERATE`` match one simple command (a :class:`Simple`: the program after
wrappers such as ``sudo``/``env``/``timeout`` and its arguments); :func:`whole_line` matches
shapes that span a pipeline (``curl … | sh``, a fork bomb, ``> /dev/sda``). The shlex-based
splitting (:func:`pipelines`) is only the fallback for text the bash parser cannot read.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

RiskLevel = Literal["safe", "moderate", "dangerous"]
Finding = tuple[RiskLevel, str]

# ------------------------------------------------------------------------------ splitting

_WRAPPERS = {"sudo", "doas", "nohup", "time", "nice", "ionice", "command", "exec", "builtin"}
_WRAPPER_ARGS = {  # options of a wrapper that take a value
    "sudo": {"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U"},
    "doas": {"-u", "-C"},
    "nice": {"-n"},
    "ionice": {"-c", "-n", "-p"},
}
_SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "fish", "ash"}
_OPS = {";", "&&", "||", "|", "&", "|&", ";;", "(", ")", "{", "}", "\n"}
_SUBST = re.compile(r"\$\(([^()]*(?:\([^()]*\)[^()]*)*)\)|`([^`]*)`")


@dataclass(slots=True)
class Simple:
    """One simple command after wrappers: the program and its arguments."""

    prog: str
    args: list[str]
    sudo: bool = False

    @property
    def text(self) -> str:
        return " ".join([self.prog, *self.args])


def _tokens(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:  # unbalanced quotes: fall back to whitespace
        return command.replace(";", " ; ").replace("|", " | ").split()


def peel(words: list[str]) -> Simple | None:
    sudo = False
    i = 0
    while i < len(words):
        word = words[i]
        base = word.rsplit("/", 1)[-1]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", word):
            i += 1
            continue
        if base == "env":
            i += 1
            while i < len(words) and (words[i].startswith("-") or "=" in words[i]):
                i += 1
            continue
        if base == "timeout":
            i += 1
            while i < len(words) and words[i].startswith("-"):
                i += 1
            i += 1  # the duration
            continue
        if base in _WRAPPERS:
            sudo = sudo or base in ("sudo", "doas")
            takes = _WRAPPER_ARGS.get(base, set())
            i += 1
            while i < len(words) and words[i].startswith("-"):
                if words[i] == "--":
                    i += 1
                    break
                if words[i] in takes:
                    i += 1
                i += 1
            continue
        break
    if i >= len(words):
        return None
    return Simple(prog=words[i].rsplit("/", 1)[-1], args=words[i + 1 :], sudo=sudo)


def pipelines(command: str, depth: int = 0) -> Iterable[list[Simple]]:
    """Every pipeline (a list of simple commands) in ``command``, nested code included."""
    if depth > 4:
        return
    for match in _SUBST.finditer(command):
        inner = match.group(1) if match.group(1) is not None else match.group(2)
        yield from pipelines(inner, depth + 1)
    tokens = _tokens(command)
    pipeline: list[Simple] = []
    words: list[str] = []

    def flush_words() -> None:
        nonlocal words
        words = [w for w in words if w not in ("<", ">", ">>", "<<", "<<<")]
        if words:
            simple = peel(words)
            if simple is not None:
                pipeline.append(simple)
        words = []

    for token in [*tokens, ";"]:
        if token in ("|", "|&"):
            flush_words()
        elif token in _OPS or set(token) <= set(";&|()"):
            flush_words()
            if pipeline:
                yield pipeline
            pipeline = []
        else:
            words.append(token)
    # nested code given as a string: bash -c '…', eval '…', xargs CMD
    for line in list(_collect(tokens)):
        yield from pipelines(line, depth + 1)


def _collect(tokens: list[str]) -> Iterable[str]:
    for i, token in enumerate(tokens):
        base = token.rsplit("/", 1)[-1]
        if base in _SHELLS:
            for j in range(i + 1, min(i + 4, len(tokens) - 1)):
                if tokens[j].startswith("-") and "c" in tokens[j][1:]:
                    yield tokens[j + 1]
                    break
        elif base == "eval" and i + 1 < len(tokens):
            yield " ".join(tokens[i + 1 :])
        elif base == "find":
            for j, arg in enumerate(tokens[i + 1 :], i + 1):
                if arg in _OPS:
                    break
                if arg in ("-exec", "-execdir", "-ok", "-okdir"):
                    run = []
                    for word in tokens[j + 1 :]:
                        if word in (";", "\\;", "+") or word in _OPS:
                            break
                        run.append(word)
                    if run:
                        yield shlex.join(w for w in run if w != "{}")
        elif base == "xargs":
            rest = tokens[i + 1 :]
            while rest and rest[0].startswith("-"):
                rest = rest[1:]
            if rest:
                yield shlex.join(rest)
        elif base in ("watch", "ssh", "su") and i + 1 < len(tokens):
            tail = [t for t in tokens[i + 1 :] if not t.startswith("-")]
            if base == "ssh" and tail:
                tail = tail[1:]  # the host
            if tail:
                yield " ".join(tail)


# ---------------------------------------------------------------------------------- rules

_SYSTEM = r"(?:/|/\*|/(?:bin|boot|dev|etc|home|lib|lib32|lib64|opt|proc|root|run|sbin|srv|sys|usr|var|System|Library|Applications|Users)(?:/\*?)?)"  # noqa: E501
_HOME = (
    r"(?:~|~/|~/\*|\$HOME|\$HOME/|\$HOME/\*|\$\{HOME\}/?\*?|/home/[^/\s]+/?\*?|/Users/[^/\s]+/?\*?)"
)
_DEVICE = r"/dev/(?:sd[a-z]\d*|hd[a-z]\d*|vd[a-z]\d*|xvd[a-z]\d*|nvme\d+n\d+(?:p\d+)?|mmcblk\d+(?:p\d+)?|disk\d+(?:s\d+)?|rdisk\d+|md\d+|dm-\d+|mapper/\S+|loop\d+)"  # noqa: E501
_PROTECTED_BRANCH = r"(?:main|master|trunk|develop|production|prod|release(?:/\S*)?)"

# A dotfile or dot-directory in a home (~/.bashrc, $HOME/.ssh/config) and files in system
# directories: truncating them with > breaks a login or the system.
_DOTFILE = r"(?:~|\$HOME|\$\{HOME\}|/home/[^/\s]+|/root|/Users/[^/\s]+)/\.[^\s/]+"
_SYSFILE = r"/(?:etc|boot|usr|bin|sbin|lib|lib32|lib64|var/lib|sys|proc)/[^\s;&|]+"

Rule = tuple[RiskLevel, str, Callable[[Simple], bool]]


def _has_flag(args: list[str], long: Iterable[str] = (), short: str = "") -> bool:
    for arg in args:
        if arg == "--":
            return False
        if arg in long:
            return True
        if short and re.fullmatch(r"-[A-Za-z]+", arg) and any(c in arg[1:] for c in short):
            return True
    return False


def _operands(args: list[str]) -> list[str]:
    out: list[str] = []
    after = False
    for arg in args:
        if arg == "--" and not after:
            after = True
            continue
        if after or not arg.startswith("-"):
            out.append(arg)
    return out


def _re(pattern: str) -> Callable[[Simple], bool]:
    compiled = re.compile(pattern, re.IGNORECASE)
    return lambda s: compiled.search(s.text) is not None


def _prog(*names: str, sub: str | None = None) -> Callable[[Simple], bool]:
    compiled = re.compile(sub, re.IGNORECASE) if sub else None

    def check(s: Simple) -> bool:
        if s.prog not in names:
            return False
        return compiled is None or compiled.search(" ".join(s.args)) is not None

    return check


def _rm_recursive_on(target: str) -> Callable[[Simple], bool]:
    compiled = re.compile(rf"^{target}$")

    def check(s: Simple) -> bool:
        if s.prog != "rm" or not _has_flag(s.args, ("--recursive",), "rR"):
            return False
        return any(compiled.match(op.rstrip("/") or "/") for op in _operands(s.args))

    return check


def _recursive_on_system(prog: str) -> Callable[[Simple], bool]:
    compiled = re.compile(rf"^(?:{_SYSTEM}|{_HOME})$")

    def check(s: Simple) -> bool:
        if s.prog != prog or not _has_flag(s.args, ("--recursive",), "R"):
            return False
        return any(compiled.match(op) for op in _operands(s.args))

    return check


def _find_delete_wide(s: Simple) -> bool:
    if s.prog != "find" or not s.args:
        return False
    wide = re.fullmatch(rf"{_SYSTEM}|{_HOME}", s.args[0]) is not None
    deletes = "-delete" in s.args or any(
        a in ("-exec", "-execdir") and i + 1 < len(s.args) and s.args[i + 1] in ("rm", "shred")
        for i, a in enumerate(s.args)
    )
    return wide and deletes


def _git_force_push_protected(s: Simple) -> bool:
    if s.prog != "git" or "push" not in s.args:
        return False
    force = _has_flag(s.args, ("--force",), "f") or any(a.startswith("+") for a in s.args)
    if not force or ("--force-with-lease" in s.args and "--force" not in s.args):
        return False
    refs = [a.lstrip("+").split(":")[-1] for a in _operands(s.args[s.args.index("push") + 1 :])]
    named = refs[1:] if len(refs) > 1 else []
    # No branch named: the current branch is pushed, which may well be main.
    return not named or any(re.fullmatch(_PROTECTED_BRANCH, r) for r in named)


def _git_force_push(s: Simple) -> bool:
    return (
        s.prog == "git"
        and "push" in s.args
        and (_has_flag(s.args, ("--force", "--force-with-lease"), "f") or "--mirror" in s.args)
    )


_FIND_DELETERS = {"rm", "shred", "unlink", "rmdir", "srm"}
# find tests that narrow what is matched (-type alone does not: every file is still one)
_FIND_FILTERS = {
    "-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex", "-iregex",
    "-newer", "-newermt", "-anewer", "-cnewer", "-mtime", "-mmin", "-atime", "-amin", "-ctime",
    "-cmin", "-size", "-empty", "-user", "-group", "-nouser", "-nogroup", "-perm", "-links",
    "-inum", "-samefile", "-lname", "-ilname", "-used", "-fstype", "-xtype", "-context",
}  # fmt: skip


def _find_deletes(s: Simple) -> bool:
    if s.prog != "find":
        return False
    return "-delete" in s.args or any(
        a in ("-exec", "-execdir", "-ok", "-okdir")
        and i + 1 < len(s.args)
        and s.args[i + 1].rsplit("/", 1)[-1] in _FIND_DELETERS
        for i, a in enumerate(s.args)
    )


def _find_deletes_everything(s: Simple) -> bool:
    """``find . -delete``: deleting everything here, with no test that narrows the match
    (``find build -delete`` is ``rm -rf build``: moderate)."""
    if not _find_deletes(s) or any(a in _FIND_FILTERS for a in s.args):
        return False
    first_test = next(
        (i for i, a in enumerate(s.args) if a.startswith(("-", "(", "!"))), len(s.args)
    )
    starts = s.args[:first_test]  # find's starting points (none: `.`)
    everything = ("", ".", "..", "*", "./*", "~", "$HOME")
    return not starts or any(a.rstrip("/") in everything for a in starts)


_INTERPRETERS = {"python", "python2", "python3", "perl", "ruby", "node", "nodejs", "php", "deno"}
_CODE_FLAGS = {"-c", "-e", "-E", "-r", "--eval", "-m"}
_DELETE_API = re.compile(
    r"\b(?:shutil\.)?rmtree\b|\bos\.(?:remove|unlink|rmdir|removedirs)\b|\.unlink\s*\("
    r"|\.rmdir\s*\(|\bsend2trash\b|\bFileUtils\.(?:rm\w*|remove\w*)\b|\bunlink\b"
    r"|\b(?:rmSync|rmdirSync|unlinkSync|rimraf)\b|\bfs\.(?:rm|rmdir|unlink)\b|\bFile\.delete\b",
)
_DELETE_WIDE = re.compile(
    r"(?:rmtree|rm_rf|rm_r|rmSync|rimraf|removedirs)\s*\(\s*(?:"
    r"[\"'](?:/|/\*|~|~/|\.|\./|\.\.|\*|/(?:bin|boot|etc|home|lib\w*|opt|root|sbin|srv|usr|var)/?)[\"']"
    r"|os\.path\.expanduser\(\s*[\"']~/?[\"']\s*\)|(?:pathlib\.)?Path\.home\(\)|os\.getcwd\(\)"
    r"|os\.environ\[\s*[\"']HOME[\"']\s*\]|process\.env\.HOME|ENV\[[\"']HOME[\"']\])"
)


def inline_code(s: Simple) -> str:
    """The code of ``python -c CODE`` / ``perl -e CODE`` / ``node -e CODE`` (else "")."""
    if s.prog.rstrip("0123456789.") not in _INTERPRETERS and s.prog not in _INTERPRETERS:
        return ""
    for i, arg in enumerate(s.args[:-1]):
        if arg in ("-c", "-e", "-E", "-r", "--eval", "-p") or (
            re.fullmatch(r"-[A-Za-z]*[ceE]", arg) is not None
        ):
            return s.args[i + 1]
    return ""


def _code_deletes(s: Simple) -> bool:
    return _DELETE_API.search(inline_code(s)) is not None


def _code_deletes_wide(s: Simple) -> bool:
    return _DELETE_WIDE.search(inline_code(s)) is not None


def runs_stdin(s: Simple) -> bool:
    """A shell or interpreter with no script operand: it runs what it reads on stdin."""
    name = s.prog.rstrip("0123456789.") if s.prog not in _SHELLS else s.prog
    if name not in _SHELLS and name not in _INTERPRETERS:
        return False
    args = s.args
    if name in _SHELLS and any(re.fullmatch(r"-[A-Za-z]*s[A-Za-z]*", a) for a in args):
        return True
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-":
            return True
        if arg == "--":
            return i + 1 >= len(args) or args[i + 1] == "-"
        if arg in _CODE_FLAGS or re.fullmatch(r"-[A-Za-z]*c", arg):
            return False  # code or a module given on the line (rated on its own)
        if not arg.startswith("-"):
            return False  # a script file
        if arg in ("-W", "-X", "-o", "-O", "--rcfile", "--init-file", "-I", "-r") and name != "sh":
            i += 1
        i += 1
    return True


_LOG_FILE = re.compile(r"(?:\.log(?:\.\d+)?|\.out|\.err)$|^/var/log/")


def _truncate_empties_data(s: Simple) -> bool:
    """``truncate -s 0 FILE`` on anything but log files: the contents are gone."""
    if s.prog != "truncate":
        return False
    args = s.args
    zero = False
    for i, arg in enumerate(args):
        value = None
        if arg in ("-s", "--size") and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--size="):
            value = arg.split("=", 1)[1]
        elif arg.startswith("-s") and len(arg) > 2:
            value = arg[2:]
        if value is not None and re.fullmatch(r"0+[KMGTPEZY]?i?B?", value):
            zero = True
    if not zero:
        return False
    files = [
        a
        for i, a in enumerate(args)
        if not a.startswith("-") and not (i > 0 and args[i - 1] in ("-s", "--size", "-r"))
    ]
    return any(not _LOG_FILE.search(f) for f in files)


DANGEROUS: list[tuple[str, Callable[[Simple], bool]]] = [
    ("recursive delete of /", _rm_recursive_on(r"(?:/|/\*)")),
    ("recursive delete of the home directory", _rm_recursive_on(_HOME.replace("/?", "/?"))),
    ("recursive delete of a system directory", _rm_recursive_on(_SYSTEM)),
    ("recursive delete of everything here", _rm_recursive_on(r"(?:\*|\.|\.\.|\./\*|\.\*)")),
    ("recursive delete of a repository's .git", _rm_recursive_on(r"(?:\S*/)?\.git")),
    ("rm --no-preserve-root", _re(r"^rm\b.*--no-preserve-root")),
    ("dd writing to a device", _re(rf"^dd\b.*\bof={_DEVICE}")),
    ("dd writing to a system path", _re(r"^dd\b.*\bof=/(?:etc|boot|bin|usr|lib)/")),
    ("making a filesystem", _re(r"^mkfs(?:\.\w+)?\b|^mke2fs\b|^newfs(?:_\w+)?\b")),
    ("mkswap on a device", _re(rf"^mkswap\b.*{_DEVICE}")),
    ("wiping filesystem signatures", _prog("wipefs", sub=r"(?:-a|--all)\b")),
    ("repartitioning a disk", _re(r"^(?:fdisk|sfdisk|gdisk|sgdisk|cfdisk|parted)\b(?!.*\s-l\b)")),
    ("shredding data", _prog("shred")),
    ("erasing a disk", _re(r"^diskutil\b.*\b(?:erase\w*|partitionDisk|zeroDisk)\b")),
    ("blkdiscard on a device", _prog("blkdiscard")),
    ("encrypting/formatting a device", _re(r"^cryptsetup\b.*\b(?:luksFormat|erase)\b")),
    ("destroying a volume", _re(r"^(?:lvremove|vgremove|pvremove)\b")),
    ("destroying a ZFS pool or dataset", _re(r"^(?:zpool\s+destroy|zfs\s+destroy)\b")),
    ("deleting a btrfs subvolume", _re(r"^btrfs\s+subvolume\s+delete\b")),
    ("chmod -R on a system path", _recursive_on_system("chmod")),
    ("chown -R on a system path", _recursive_on_system("chown")),
    ("chgrp -R on a system path", _recursive_on_system("chgrp")),
    (
        "chmod -R 777",
        _re(r"^chmod\b.*(?:-R|--recursive)\b.*\b[0-7]?777\b|^chmod\b.*\b[0-7]?777\b.*-R"),
    ),
    ("removing every permission from /", _re(rf"^chmod\b.*\b0*00?0\s+{_SYSTEM}$")),
    ("moving a system or home directory", _re(rf"^mv\s+(?:-\S+\s+)*(?:{_SYSTEM}|{_HOME})\s")),
    ("moving files to /dev/null", _re(r"^mv\b.*\s/dev/null$")),
    ("find deleting across / or ~", _find_delete_wide),
    ("find deleting everything it finds (no -name/-path test)", _find_deletes_everything),
    ("a one-liner deleting /, ~ or everything here", _code_deletes_wide),
    ("emptying a data file (truncate -s 0)", _truncate_empties_data),
    (
        "discarding uncommitted work (git reset --hard)",
        _re(r"^git\s+(?:-\S+\s+(?:\S+\s+)?)*reset\s+(?:\S+\s+)*--hard\b"),
    ),
    ("force-push to a protected branch", _git_force_push_protected),
    ("pushing a mirror (overwrites every remote ref)", _re(r"^git\s+push\b.*--mirror\b")),
    (
        "deleting a protected remote branch",
        _re(
            rf"^git\s+push\b.*(?:--delete|\s-d)\b.*\s{_PROTECTED_BRANCH}$"
            rf"|^git\s+push\s+\S+\s+:{_PROTECTED_BRANCH}$"
        ),
    ),
    (
        "rewriting history (filter-branch/filter-repo)",
        _re(r"^git\s+(?:filter-branch|filter-repo)\b|^bfg\b"),
    ),
    ("expiring the reflog", _re(r"^git\s+reflog\s+expire\b.*--expire=(?:now|all)")),
    ("pruning unreachable objects now", _re(r"^git\s+gc\b.*--prune=now")),
    ("deleting refs", _re(r"^git\s+update-ref\s+-d\b")),
    ("deleting untracked and ignored files", _re(r"^git\s+clean\b.*-\w*x")),
    ("deleting a GitHub repository", _re(r"^gh\s+repo\s+delete\b")),
    (
        "DROP DATABASE/SCHEMA/TABLE",
        _re(r"\bdrop\s+(?:database|schema|table|keyspace|collection)\b"),
    ),
    ("TRUNCATE TABLE", _re(r"\btruncate\s+(?:table\s+)?[\w.\"`]+\s*;?\s*$|\btruncate\s+table\b")),
    ("DELETE without WHERE", _re(r"\bdelete\s+from\s+[\w.\"`]+\s*(?:;|$|['\"])(?!.*\bwhere\b)")),
    ("dropping a database", _re(r"^dropdb\b|^mysqladmin\b.*\bdrop\b")),
    ("flushing every Redis key", _re(r"^redis-cli\b.*\bflush(?:all|db)\b")),
    ("dropping a Mongo database", _re(r"dropDatabase\s*\(")),
    ("kubectl delete namespace", _re(r"^kubectl\s+delete\s+(?:namespaces?|ns)\b")),
    ("kubectl delete --all", _re(r"^kubectl\s+delete\b.*(?:--all\b|\ball\s+--all)")),
    (
        "kubectl delete persistent volumes",
        _re(r"^kubectl\s+delete\s+(?:pvc?|persistentvolume\w*)\b"),
    ),
    (
        "terraform destroy",
        _re(
            r"^(?:terraform|tofu|terragrunt)\s+(?:\S+\s+)*destroy\b|^(?:terraform|tofu)\s+apply\b.*-destroy\b"
        ),
    ),
    ("pulumi destroy", _re(r"^pulumi\s+destroy\b")),
    ("deleting an S3 bucket's contents", _re(r"^aws\s+s3\s+(?:rm\b.*--recursive|rb\b.*--force)")),
    (
        "terminating cloud instances or databases",
        _re(
            r"^aws\s+\S+\s+(?:terminate-instances|delete-db-instance|delete-db-cluster|delete-stack|delete-bucket|delete-table)\b"
        ),
    ),
    ("deleting IAM identities", _re(r"^aws\s+iam\s+delete-")),
    (
        "deleting a cloud project or resource group",
        _re(
            r"^gcloud\s+projects\s+delete\b|^az\s+group\s+delete\b|^gcloud\s+sql\s+instances\s+delete\b"
        ),
    ),
    (
        "disabling the firewall",
        _re(
            r"^ufw\s+(?:disable|reset)\b|^(?:systemctl|service)\s+(?:stop|disable|mask)\s+(?:firewalld|ufw|iptables|nftables)\b|^(?:systemctl|service)\s+(?:firewalld|ufw|iptables)\s+stop\b"
        ),
    ),
    (
        "flushing firewall rules",
        _re(
            r"^(?:iptables|ip6tables)\b.*(?:\s-F\b|--flush|-P\s+\w+\s+ACCEPT)|^nft\s+flush\s+ruleset\b"
        ),
    ),
    ("disabling SELinux", _re(r"^setenforce\s+0\b")),
    (
        "stopping SSH (remote lock-out)",
        _re(r"^(?:systemctl|service)\s+(?:stop|disable|mask)\s+sshd?\b"),
    ),
    (
        "shutting down or rebooting",
        _re(
            r"^(?:shutdown|reboot|halt|poweroff)\b|^init\s+[06]\b|^systemctl\s+(?:poweroff|reboot|halt)\b"
        ),
    ),
    ("killing every process", _re(r"^kill\s+(?:-\S+\s+)*-1$|^killall5\b|^kill\s+(?:-\S+\s+)*1$")),
    ("removing every cron job", _re(r"^crontab\b.*\s-r\b|^crontab\s+-r")),
    ("deleting a user with their home", _re(r"^userdel\b.*-r\b|^deluser\b.*--remove-home")),
    ("removing the root password", _re(r"^passwd\s+-d\s+root\b")),
    ("pruning Docker volumes", _re(r"^docker\s+(?:volume\s+prune|system\s+prune\b.*--volumes)")),
    ("rsync --delete into / or ~", _re(rf"^rsync\b.*--delete\S*\b.*\s(?:{_SYSTEM}|{_HOME})$")),
]

MODERATE: list[tuple[str, Callable[[Simple], bool]]] = [
    ("deletes files", _prog("rm", "rmdir", "unlink", "trash", "trash-put")),
    ("moves or overwrites files", _prog("mv")),
    ("changes permissions or owners", _prog("chmod", "chown", "chgrp", "chattr", "setfacl")),
    ("truncates a file", _prog("truncate")),
    ("find deletes files", _find_deletes),
    ("a one-liner that deletes files", _code_deletes),
    ("kills processes", _prog("kill", "pkill", "killall", "xkill")),
    (
        "discards local git changes",
        _re(
            r"^git\s+(?:checkout\s+(?:--\s+)?\.$|checkout\s+--\s|restore\s|clean\b|stash\s+(?:drop|clear)\b|branch\s+-D\b|rebase\b|commit\s+--amend\b|cherry-pick\b|revert\b|merge\b|pull\b)"
        ),
    ),
    ("force-pushes", _git_force_push),
    ("pushes to a remote", _re(r"^git\s+push\b")),
    (
        "installs or removes packages",
        _re(
            r"^(?:apt|apt-get|aptitude|dnf|yum|zypper|pacman|apk|brew|port|snap|flatpak|nix-env)\s+(?:\S+\s+)*(?:install|remove|purge|uninstall|upgrade|dist-upgrade|autoremove|-S\w*|-R\w*|-U\w*)\b|^(?:pip|pip3|pipx|uv|poetry|npm|pnpm|yarn|gem|cargo|go|conda|mamba)\s+(?:\S+\s+)*(?:install|uninstall|remove|add|update|upgrade|publish)\b|^dpkg\s+(?:-i|-r|-P|--purge|--remove|--install)\b"
        ),
    ),
    (
        "changes services",
        _re(
            r"^(?:systemctl|service|launchctl|rc-service)\s+(?:\S+\s+)*(?:start|stop|restart|reload|enable|disable|mask|kill|load|unload)\b"
        ),
    ),
    (
        "changes containers or clusters",
        _re(
            r"^(?:docker|podman)\s+(?:rm|rmi|kill|stop|prune|system|volume|network|image\s+prune|container\s+prune|compose\s+down)\b|^kubectl\s+(?:delete|apply|replace|patch|scale|drain|cordon|rollout|edit|set)\b|^helm\s+(?:uninstall|delete|upgrade|install|rollback)\b"
        ),
    ),
    (
        "changes infrastructure",
        _re(
            r"^(?:terraform|tofu|pulumi|cdk|serverless|sls)\s+(?:apply|up|deploy|import|state|taint)\b|^aws\s+\S+\s+(?:delete|remove|put|update|create|terminate|stop)-"
        ),
    ),
    (
        "changes disks or mounts",
        _re(r"^(?:mount|umount|swapoff|swapon|losetup|fsck\S*|tune2fs|resize2fs|e2fsck)\b"),
    ),
    (
        "changes users or groups",
        _re(r"^(?:useradd|usermod|userdel|groupadd|groupdel|passwd|chpasswd|visudo)\b"),
    ),
    (
        "changes kernel or system settings",
        _re(
            r"^(?:sysctl\s+-w|modprobe|rmmod|insmod|update-grub|grub-install|timedatectl\s+set|hostnamectl\s+set)"
        ),
    ),
    (
        "changes firewall rules",
        _re(r"^(?:iptables|ip6tables|nft|ufw|firewall-cmd)\b(?!.*\s(?:-L|--list|status)\b)"),
    ),
    ("edits the crontab", _re(r"^crontab\s+(?!-l)")),
    (
        "changes the database",
        _re(
            r"\b(?:insert\s+into|update\s+\w+\s+set|alter\s+table|delete\s+from|create\s+(?:table|database|index)|grant|revoke)\b"
        ),
    ),
    ("overwrites a file with dd", _prog("dd")),
    ("runs code fetched from a URL", _re(r"^(?:source|\.)\s+<\(")),
    ("changes history", _re(r"^history\s+-c\b")),
]


def whole_line(command: str) -> list[Finding]:
    """Shapes matched on the whole text (quoted text included: strict on purpose)."""
    found: list[Finding] = []
    flat = " ".join(command.split())
    fetch = r"(?:curl|wget|fetch|iwr|invoke-webrequest)\b[^|;&]*"
    runner = r"(?:sudo\s+(?:-\S+\s+)*)?(?:\S*/)?(?:sh|bash|zsh|dash|ksh|fish|python\d?(?:\.\d+)?|perl|ruby|node|php)\b"  # noqa: E501
    if re.search(rf"{fetch}\|\s*{runner}", flat, re.IGNORECASE):
        found.append(("dangerous", "pipes a download into a shell or interpreter"))
    if re.search(rf"{runner}\s+(?:-\S+\s+)*<\(\s*{fetch}\)", flat, re.IGNORECASE):
        found.append(("dangerous", "runs a download with process substitution"))
    if re.search(rf"(?:{runner}|eval)\s+(?:-c\s+)?[\"']?\$\(\s*{fetch}\)", flat, re.IGNORECASE):
        found.append(("dangerous", "runs a download with command substitution"))
    if re.search(r"(\w+|:)\s*\(\)\s*\{\s*\1\s*\|\s*\1\s*&\s*\}\s*;\s*\1", flat) or re.search(
        r":\(\)\{\s*:\|:&\s*\};:", flat
    ):
        found.append(("dangerous", "fork bomb"))
    if re.search(rf">\s*{_DEVICE}", flat):
        found.append(("dangerous", "writes straight to a disk device"))
    if re.search(r">\s*/etc/(?:passwd|shadow|group|sudoers|fstab|hosts)\b", flat):
        found.append(("dangerous", "overwrites a system file"))
    if re.search(rf"(?<![<>&])(?:\d|&)?>[|!]?(?!>)(?!&)\s*[\"']?(?:{_DOTFILE}|{_SYSFILE})", flat):
        found.append(("dangerous", "truncates a dotfile or system file with >"))
    if re.search(
        rf"\btee\s+(?!(?:\S+\s+)*?(?:-a|--append)\b)(?:-\S+\s+)*[\"']?(?:{_DOTFILE}|{_SYSFILE})",
        flat,
    ):
        found.append(("dangerous", "overwrites a dotfile or system file with tee"))
    if re.search(
        r"\bxargs\b[^|;&]*?\brm\s+(?:[^|;&]*\s)?(?:-[A-Za-z]*[rR][A-Za-z]*|--recursive)\b", flat
    ):
        found.append(("dangerous", "recursive delete of a list read from input (xargs rm -r)"))
    if re.search(r"(?<![<>&\d])>(?!>)(?!&)\s*(?!/dev/null)\S", flat):
        found.append(("moderate", "overwrites a file with >"))
    if re.search(r"\btee\s+(?:-a\s+)?/etc/", flat):
        found.append(("moderate", "writes a file under /etc"))
    return found
