"""What makes a command dangerous beyond the pattern rules: the paths, programs and code
shapes :mod:`ai_workbench.core.safety.risk` looks for.

- **credential paths** (``~/.ssh``, ``~/.aws``, ``.env``, ``id_rsa``, ``.netrc``, kube config…):
  dangerous when the same command line also talks to the network (exfiltration);
- **persistence paths** (shell rc files, ``authorized_keys``, cron, sudoers, systemd units,
  launchd agents, git hooks, shell history): dangerous to write, link, copy or move onto;
- **network programs** (curl, wget, nc, scp, rsync…) and **reverse shells** (``/dev/tcp``,
  ``nc -e``, ``socat exec:``);
- **inline code** (``python -c``, ``perl -e``, ``node -e``…): dangerous when it runs commands or
  code built at run time, or deletes a path that is not a plain relative name; Python that only
  computes and prints (checked with :mod:`ast`) is harmless, anything else is moderate.
"""

from __future__ import annotations

import ast
import re

from ai_workbench.core.safety.rules import Finding

__all__ = [
    "CREDENTIAL",
    "NETWORK_PROGRAMS",
    "PERSISTENCE",
    "code_finding",
    "dangerous_variable",
    "git_option_runs_code",
]

_HOME = r"(?:~[^/\s]*|\$HOME|\$\{HOME\}|/home/[^/\s]+|/Users/[^/\s]+|/root)"

CREDENTIAL = re.compile(
    r"(?:^|[/@=:\s'\"])(?:"
    r"\.ssh(?:/|$)|id_(?:rsa|dsa|ecdsa|ed25519)\b|\.aws(?:/|$)|\.config/gcloud|\.azure(?:/|$)"
    r"|\.kube(?:/|$)|kubeconfig|\.netrc\b|\.pgpass\b|\.npmrc\b|\.pypirc\b|\.git-credentials\b"
    r"|\.docker/config\.json|\.gnupg(?:/|$)|\.password-store|\.vault-token|\.terraformrc"
    r"|\.config/gh/hosts|credentials(?:\.json|\.db)?\b|\.env(?:\.[\w-]+)?$|\.env(?:\.[\w-]+)?[\s'\"]"
    r"|/etc/(?:shadow|gshadow|sudoers)|secrets?\.(?:ya?ml|json|toml)"
    r"|\.mozilla/firefox|Library/Keychains|Cookies\b|Login Data\b"
    r")|\w\.(?:pem|p12|pfx|key|keystore|jks|ovpn)\b",
    re.IGNORECASE,
)

PERSISTENCE = re.compile(
    r"(?:^|/|~)\.(?:bashrc|bash_profile|bash_login|bash_logout|profile|zshrc|zshenv|zprofile"
    r"|zlogin|zlogout|cshrc|tcshrc|kshrc|mkshrc|inputrc|xinitrc|xprofile|xsession\w*|vimrc"
    r"|exrc|gvimrc|tmux\.conf|screenrc|pythonrc\w*|curlrc|wgetrc|gitconfig|pam_environment"
    r"|config/fish/|config/autostart|config/systemd|local/share/systemd"
    r"|ssh/(?:config|rc|environment)\b"
    r"|bash_history|zsh_history|histfile|python_history)"
    r"|authorized_keys|/etc/(?:cron|crontab|anacrontab|sudoers|profile|bash\.bashrc|zsh/"
    r"|environment|ld\.so\.preload|ld\.so\.conf|rc\.local|rc\d?\.d|systemd/|init\.d|init/"
    r"|pam\.d|passwd|shadow|group|gshadow|hosts\b|resolv\.conf|ssh/|security/|update-motd\.d"
    r"|xdg/autostart|apt/sources|yum\.repos\.d|modules|modprobe\.d)"
    r"|/var/spool/cron|/(?:usr/)?lib/systemd/|LaunchAgents|LaunchDaemons|StartupItems"
    r"|\.git/hooks(?:/|$)|/etc/paths",
    re.IGNORECASE,
)

NETWORK_PROGRAMS = frozenset(
    """
    curl wget nc ncat netcat socat telnet scp sftp ftp tftp rsync ssh http https xh aria2c mail
    mailx sendmail mutt aws gsutil gcloud az rclone s3cmd lftp smbclient
    """.split()  # noqa: SIM905
)

# Variables that make later programs run other code, hide what ran, or redirect keys.
_RUNS_CODE_VARS = re.compile(
    r"^(?:LD_PRELOAD|LD_AUDIT|LD_LIBRARY_PATH|DYLD_\w+|PROMPT_COMMAND|BASH_ENV|ENV|PS0|PS1|PS4"
    r"|GIT_SSH|GIT_SSH_COMMAND|GIT_EXTERNAL_DIFF|GIT_PAGER|GIT_EDITOR|GIT_ASKPASS|SSH_ASKPASS"
    r"|PAGER|EDITOR|VISUAL|PYTHONSTARTUP|PYTHONPATH|PERL5OPT|PERL5LIB|NODE_OPTIONS|RUBYOPT"
    r"|HISTFILE|HISTSIZE|HISTFILESIZE|HISTCONTROL|IFS|BROWSER)$"
)


def dangerous_variable(assignment: str) -> Finding | None:
    """``NAME=value`` that makes programs run other code, or hides history; PATH is moderate."""
    name, _, value = assignment.partition("=")
    name = name.rstrip("+")
    if name in ("PS1", "PS0", "PS4") and not re.search(r"\$\(|`", value):
        return None  # a prompt without command substitution
    if name in ("PAGER", "EDITOR", "VISUAL", "GIT_PAGER", "GIT_EDITOR", "BROWSER") and re.fullmatch(
        r"(?:less|more|cat|vim?|nvim|nano|emacs|code(?: --wait)?|most|bat|delta)(?: -\w+)*", value
    ):
        return None
    if _RUNS_CODE_VARS.match(name):
        return ("dangerous", f"sets {name}, which makes programs run other code or hides history")
    if name == "PATH":
        return ("moderate", "changes PATH (which programs run)")
    return None


_GIT_CODE_KEYS = re.compile(
    r"^(?:core\.(?:pager|sshcommand|editor|fsmonitor|hookspath|askpass|gitproxy)|pager\.\S+"
    r"|alias\.\S+|diff\.\S+\.(?:textconv|command)|diff\.external|filter\.\S+|credential\.\S*"
    r"|sequence\.editor|gpg\.\S*program|uploadpack\.packobjectshook|merge\.\S+\.driver"
    r"|protocol\.\S+\.allow|include\.path|includeif\.\S+)",
    re.IGNORECASE,
)


def git_option_runs_code(args: list[str]) -> str | None:
    """The key of a ``git -c k=v`` / ``git config k v`` that makes git run a command."""
    for i, arg in enumerate(args):
        if arg == "-c" and i + 1 < len(args) and _GIT_CODE_KEYS.match(args[i + 1]):
            return args[i + 1].split("=", 1)[0]
        if arg.startswith("--config-env") or (
            arg.startswith("-c") and _GIT_CODE_KEYS.match(arg[2:])
        ):
            return arg
    if "config" in args:
        rest = [a for a in args[args.index("config") + 1 :] if not a.startswith("-")]
        if len(rest) >= 2 and _GIT_CODE_KEYS.match(rest[0]):
            return rest[0]
    return None


# ------------------------------------------------------------------------------ inline code

_EXEC_API = re.compile(
    r"\b(?:os\.(?:system|popen|exec\w*|spawn\w*|fork\w*|dup2|posix_spawn\w*)|subprocess|pty"
    r"|commands\.getoutput|__import__|importlib|exec|eval|(?<!\.)compile|execfile|getattr|globals"
    r"|__builtins__|system|popen|spawn\w*|execSync|execFileSync|spawnSync|child_process"
    r"|shell_exec|passthru|proc_open|pcntl_exec|IO\.popen|Open3|Kernel|fork|qx"
    r"|Function|vm\.run\w*|ctypes|marshal|pickle|dlopen|syscall|fsockopen|TCPSocket"
    r"|base64|b64decode|codecs|decode|fromCharCode|unpack|chr\s*\()\b"
    r"|`|%x[\(\{\[]|/bin/(?:ba|z|da|k)?sh\b",
)
_NETWORK_API = re.compile(
    r"\b(?:socket|urllib\w*|requests|http\.client|httpx|aiohttp|fetch|https?\.(?:get|request)"
    r"|net\.|Net::|LWP|IO::Socket|open-uri|URI\.open|curl_\w+|file_get_contents\s*\(\s*['\"]https?"
    r"|smtplib|ftplib|paramiko|websocket)",
)
_DELETE_CALL = re.compile(
    r"\b(?:rmtree|remove|unlink|rmdir|removedirs|rmSync|rmdirSync|unlinkSync|rimraf|rm_rf|rm_r"
    r"|remove_tree|rm|delete|send2trash|truncate)\b\s*\(?",
)
_LITERAL_ARG = re.compile(r"\(\s*(['\"])([^'\"]*)\1\s*[,)]")
_WRITE_API = re.compile(
    r"\bopen\s*\([^)]*,\s*['\"][wax+]|\.write\w*\s*\(|writeFile\w*|File\.write|>\s*\$|"
    r"\b(?:rename|replace|move|copy\w*|chmod|chown|symlink|link|mkdir|makedirs|touch)\s*\(",
)

_PY_SAFE_MODULES = frozenset(
    """
    sys json math cmath platform datetime re string statistics textwrap decimal fractions
    itertools collections functools operator unicodedata struct hashlib random time calendar
    pprint uuid keyword locale sysconfig zlib binascii
    """.split()  # noqa: SIM905
)
_PY_SAFE_BUILTINS = frozenset(
    """
    print len str repr int float bool list dict set tuple sorted sum min max range enumerate zip
    abs round hex oct bin ord format isinstance any all map filter reversed type divmod pow
    bytes bytearray frozenset hash iter next slice ascii complex
    """.split()  # noqa: SIM905
)
_PY_BAD_ATTRS = frozenset(
    """
    system popen remove unlink rmdir rmtree write write_text write_bytes exec_module load_module
    spawn call run check_call check_output Popen kill chmod chown rename replace symlink link
    mkdir makedirs truncate putenv setattr connect send sendall open urlopen modules
    """.split()  # noqa: SIM905
)


def _python_is_harmless(code: str) -> bool:
    """True when ``code`` parses and only imports known-harmless modules and calls known-
    harmless functions (print, len, json.dumps, math.sqrt, str methods…)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(a.name.split(".")[0] not in _PY_SAFE_MODULES for a in node.names):
                return False
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] not in _PY_SAFE_MODULES or node.level:
                return False
        elif (isinstance(node, ast.Name) and node.id.startswith("__")) or (
            isinstance(node, ast.Attribute)
            and (node.attr.startswith("__") or node.attr in _PY_BAD_ATTRS)
        ):
            return False
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id not in _PY_SAFE_BUILTINS:
                return False
            if not isinstance(func, (ast.Name, ast.Attribute)):
                return False
    return True


def _deletes_narrowly(code: str) -> bool:
    """Every delete call in ``code`` names a plain relative path literally ('build', 'a.txt')."""
    for match in _DELETE_CALL.finditer(code):
        literal = (
            _LITERAL_ARG.match(code, match.end() - 1) if code[match.end() - 1] == "(" else None
        )
        if literal is None:
            return False
        path = literal.group(2).strip()
        if (
            not path
            or path.rstrip("/") in (".", "..", "*", "~")
            or path.startswith(("/", "~", "$"))
        ):
            return False
        if ".." in path.split("/") or "*" in path:
            return False
    return True


def code_finding(language: str, code: str) -> Finding | None:
    """How risky the inline ``code`` of ``python -c``/``perl -e``/… is; None: harmless."""
    if _EXEC_API.search(code):
        return ("dangerous", f"a {language} one-liner that runs commands or code built at run time")
    if _DELETE_CALL.search(code) and re.search(
        r"rmtree|remove|unlink|rmdir|rmSync|rimraf|rm_r|delete|send2trash|truncate", code
    ):
        if not _deletes_narrowly(code):
            return ("dangerous", f"a {language} one-liner deleting a path it computes")
        return ("moderate", f"a {language} one-liner that deletes files")
    if _NETWORK_API.search(code):
        return ("moderate", f"a {language} one-liner that reaches the network")
    if _WRITE_API.search(code):
        return ("moderate", f"a {language} one-liner that writes files")
    if language == "python" and _python_is_harmless(code):
        return None
    return ("moderate", f"a {language} one-liner aiw cannot prove harmless")


def code_uses_network(code: str) -> bool:
    return _NETWORK_API.search(code) is not None
