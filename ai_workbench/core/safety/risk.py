"""Risk rating of shell commands: ``safe``, ``moderate`` or ``dangerous``.

*Safe only when provably safe.* :func:`classify` parses the command the way bash reads it
(bashlex, :mod:`ai_workbench.core.safety.parse`) and rates it:

- **safe** only when every simple command in it (``$(…)``, subshells and loops included) is on
  the allowlist of harmless commands with those arguments (:mod:`.allow`: ``ls``, ``cat``,
  ``grep``, ``git status``, ``docker ps``, ``kubectl get``…) and nothing writes a file;
- **dangerous** for the pattern rules (:mod:`.rules`: ``rm -rf ~``, ``mkfs``, ``curl … | sh``,
  force-push to main…) and for what hides or reaches further (:mod:`.checks`): ``eval``, a
  command name computed at run time (``$x``, ``$(…)``, ``$'\\x72\\x6d'``), text piped or fed
  into a shell or interpreter, ``bash -c`` with non-literal text, one-liners that run commands,
  several lines, hidden characters, credential files sent over the network, reverse shells
  (``/dev/tcp``, ``nc -e``, ``socat exec:``), persistence (rc files, ``authorized_keys``,
  crontab, ``at``, sudoers, systemd/launchd units, aliases, functions, git hooks), erasing
  shell history;
- **moderate** for everything else: commands that change state (``git push``, ``pip install``,
  ``make test``) and whatever aiw does not understand (an unknown program, text bashlex cannot
  parse).

A model's own label can only make a rating stricter (:func:`stricter`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Final

from ai_workbench.core.safety.rules import DANGEROUS, MODERATE, RiskLevel, Simple

__all__ = [
    "DANGEROUS",
    "LEVELS",
    "MODERATE",
    "Risk",
    "RiskLevel",
    "classify",
    "normalise_level",
    "stricter",
]

LEVELS: Final[tuple[RiskLevel, ...]] = ("safe", "moderate", "dangerous")
_RANK = {level: i for i, level in enumerate(LEVELS)}
_MAX_DEPTH = 4


@dataclass(slots=True)
class Risk:
    level: RiskLevel = "safe"
    reasons: list[str] = field(default_factory=list)

    def raise_to(self, level: RiskLevel, reason: str) -> None:
        if _RANK[level] > _RANK[self.level]:
            self.level = level
        if level != "safe" and reason not in self.reasons:
            self.reasons.append(reason)

    def to_json(self) -> dict[str, object]:
        return {"level": self.level, "reasons": list(self.reasons)}


def normalise_level(value: object) -> RiskLevel | None:
    """A model's risk label as one of LEVELS (``low``/``high``… mapped), else None."""
    text = str(value or "").strip().lower()
    aliases = {
        "safe": "safe",
        "low": "safe",
        "none": "safe",
        "moderate": "moderate",
        "medium": "moderate",
        "caution": "moderate",
        "dangerous": "dangerous",
        "danger": "dangerous",
        "high": "dangerous",
        "critical": "dangerous",
        "destructive": "dangerous",
    }
    return aliases.get(text)  # type: ignore[return-value]


def stricter(*levels: RiskLevel | None) -> RiskLevel:
    """The strictest of ``levels`` (missing ones ignored; none at all: moderate)."""
    known = [level for level in levels if level in _RANK]
    if not known:
        return "moderate"
    return max(known, key=lambda level: _RANK[level])


def classify(command: str) -> Risk:
    """Rate ``command``; ``reasons`` says why (for a safe one: which harmless commands)."""
    risk = Risk()
    if not command or not command.strip():
        return risk
    rater = _Rater(risk)
    rater.line(command, depth=0)
    if risk.level == "safe":
        names = list(dict.fromkeys(rater.harmless))
        risk.reasons = [f"only known harmless commands: {', '.join(names) or 'none'}"]
    return risk


# ------------------------------------------------------------------------------------ rater

_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "fish", "ash", "csh", "tcsh"})
_INTERPRETERS = {
    "python": "python",
    "pypy": "python",
    "perl": "perl",
    "ruby": "ruby",
    "node": "node",
    "nodejs": "node",
    "deno": "deno",
    "bun": "bun",
    "php": "php",
    "lua": "lua",
    "luajit": "lua",
    "Rscript": "R",
    "osascript": "AppleScript",
    "pwsh": "PowerShell",
    "powershell": "PowerShell",
    "tclsh": "tcl",
    "jshell": "java",
    "irb": "ruby",
}
_CODE_FLAGS = re.compile(r"^(?:-c|-e|-E|-r|--eval|-p|--print|-[A-Za-z]*[ceE])$")
_WRAPPERS = {
    "sudo", "doas", "nohup", "time", "nice", "ionice", "command", "exec", "builtin", "setsid",
    "stdbuf", "unbuffer", "caffeinate", "xvfb-run", "proxychains", "proxychains4", "torsocks",
    "noglob", "nocorrect", "chronic", "catchsegv", "env", "timeout", "gtimeout", "then", "do",
}  # fmt: skip
_WRAPPER_VALUE_OPTS = {
    "sudo": {"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-R", "-T"},
    "doas": {"-u", "-C"},
    "nice": {"-n"},
    "ionice": {"-c", "-n", "-p"},
    "env": {"-u", "-C", "-S", "--unset", "--chdir", "--split-string"},
    "timeout": {"-s", "-k", "--signal", "--kill-after"},
    "gtimeout": {"-s", "-k", "--signal", "--kill-after"},
}
_SYSTEM_BIN = (
    "/bin/",
    "/usr/bin/",
    "/usr/local/bin/",
    "/sbin/",
    "/usr/sbin/",
    "/opt/homebrew/bin/",
)
_EDITORS = frozenset({"vi", "vim", "nvim", "nano", "emacs", "code", "subl", "micro", "hx", "ed"})
_READERS = frozenset(
    {"cat", "less", "more", "head", "tail", "grep", "rg", "ls", "stat", "file", "wc", "diff",
     "bat", "cmp", "md5sum", "sha256sum", "shasum", "test", "[", "readlink", "realpath", "du",
     "tree", "strings", "xxd", "hexdump", "od", "find", "echo", "printf", "source", "."}
)  # fmt: skip
_HIDDEN = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_NAME = re.compile(r"^[\w.+@%:,/-]+$|^\[$|^\.$")
_DEV_NET = re.compile(r"/dev/(?:tcp|udp)/")
_HARMLESS_TARGETS = re.compile(r"^(?:/dev/(?:null|stdout|stderr|tty|fd/\d+)|&?\d|-)$")


class _Rater:
    def __init__(self, risk: Risk) -> None:
        self.risk = risk
        self.harmless: list[str] = []

    def flag(self, level: RiskLevel, reason: str) -> None:
        self.risk.raise_to(level, reason)

    # --- whole lines ------------------------------------------------------------------------

    def line(self, text: str, depth: int) -> None:
        from ai_workbench.core.safety.checks import CREDENTIAL, NETWORK_PROGRAMS
        from ai_workbench.core.safety.parse import Unparsable, parse
        from ai_workbench.core.safety.rules import whole_line

        if depth > _MAX_DEPTH:
            self.flag("dangerous", "code nested in code too deeply to follow")
            return
        joined = text.strip().replace("\\\r\n", " ").replace("\\\n", " ")
        if "\n" in joined or "\r" in joined:
            self.flag("dangerous", "several lines: a terminal shows only part of what would run")
        if _HIDDEN.search(text) or any(
            unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in text
        ):
            self.flag("dangerous", "hidden or control characters in the command")
        if _DEV_NET.search(text):
            self.flag("dangerous", "opens a network connection through /dev/tcp (reverse shell)")
        for level, reason in whole_line(text):
            if level == "dangerous":
                self.flag(level, reason)
        try:
            parsed = parse(joined)
        except Unparsable as exc:
            self.unparsable(joined, str(exc))
            return
        for name in parsed.functions:
            self.flag("dangerous", f"defines a shell function ({name}) that can shadow a command")
        for command in parsed.commands:
            self.command(command.words, command, depth)
        secrets = sorted({w.text for w in _sent_words(parsed) if CREDENTIAL.search(w.text)})
        heredocs = " ".join(r.heredoc or "" for c in parsed.commands for r in c.redirects)
        if CREDENTIAL.search(heredocs):
            secrets.append("(a here-document)")
        programs = {self.program_of(c.words) for c in parsed.commands}
        network = bool(programs & NETWORK_PROGRAMS) or self.code_networks
        if secrets and network:
            self.flag(
                "dangerous",
                f"sends a credential file over the network ({', '.join(secrets[:3])})",
            )
        elif secrets and self.risk.level != "dangerous":
            self.flag("moderate", f"reads a credential file ({', '.join(secrets[:3])})")
        for pipeline in parsed.pipelines:
            names = [self.program_of(c.words) for c in pipeline]
            dumps = {"env", "printenv", "set", "export", "declare"} & set(names)
            if dumps and (set(names) & NETWORK_PROGRAMS):
                self.flag("dangerous", "sends the environment (API keys) over the network")

    code_networks = False

    def unparsable(self, text: str, why: str) -> None:
        """bashlex cannot read it: the old splitting still finds dangerous shapes."""
        from ai_workbench.core.safety.rules import pipelines, runs_stdin, whole_line

        self.flag("moderate", f"aiw could not parse this command ({why.split(':')[0]})")
        for level, reason in whole_line(text):
            self.flag(level, reason)
        for line in pipelines(text):
            if any(runs_stdin(simple) for simple in line[1:]):
                self.flag("dangerous", "pipes data into a shell or interpreter, which runs it")
            for simple in line:
                self.simple_rules(simple)
                if simple.prog == "eval":
                    self.flag("dangerous", "eval runs text built at run time")
                if simple.prog in _SHELLS or simple.prog.rstrip("0123456789.") in _INTERPRETERS:
                    self.flag("moderate", f"runs {simple.prog}")

    # --- one simple command -----------------------------------------------------------------

    @staticmethod
    def program_of(words: list) -> str:
        index, _ = _peel(words)
        if index is None:  # only wrappers: `env` alone prints the environment
            return words[0].text.rsplit("/", 1)[-1] if words else ""
        return words[index].text.rsplit("/", 1)[-1]

    def simple_rules(self, simple: Simple) -> bool:
        """The pattern rules; True when one rated it dangerous."""
        hit = False
        for reason, check in DANGEROUS:
            if check(simple):
                self.flag("dangerous", reason)
                hit = True
        return hit

    def moderate_reason(self, simple: Simple) -> str | None:
        return next((reason for reason, check in MODERATE if check(simple)), None)

    def command(self, words: list, command, depth: int) -> None:
        """Rate one simple command (``command`` gives its redirects, assignments, pipe)."""
        from ai_workbench.core.safety.checks import dangerous_variable

        before = (self.risk.level, len(self.risk.reasons))
        for assignment in command.assignments if command is not None else []:
            found = dangerous_variable(assignment.text)
            if found:
                self.flag(*found)
        redirects = command.redirects if command is not None else []
        for redirect in redirects:
            self.redirect(redirect)
        index, sudo = _peel(words)
        for word in words[: index if index is not None else len(words)]:
            if "=" in word.text and not word.text.startswith("-"):
                found = dangerous_variable(word.text)
                if found:
                    self.flag(*found)
        if index is None:
            if sudo:
                self.flag("moderate", "runs as root (sudo)")
            return
        name_word = words[index]
        if not name_word.literal:
            self.flag(
                "dangerous",
                f"the command name is only known at run time ({name_word.text})",
            )
            return
        if not _NAME.match(name_word.text):
            self.flag("dangerous", f"the command name is disguised ({name_word.text!r})")
            return
        path = name_word.text
        prog = path.rsplit("/", 1)[-1] if path not in ("/", ".") else path
        arg_words = words[index + 1 :]
        args = [w.text for w in arg_words]
        simple = Simple(prog=prog, args=args, sudo=sudo)
        piped_in = command.piped_in if command is not None else False
        self.simple_rules(simple)
        special = self.special(prog, arg_words, command, depth, piped_in)
        self.non_literal_targets(simple, arg_words)
        self.persistence(prog, args, arg_words)
        if sudo:
            self.flag("moderate", "runs as root (sudo)")
        if (self.risk.level, len(self.risk.reasons)) != before or special:
            return
        from ai_workbench.core.safety.allow import not_harmless

        if "/" in path and not path.startswith(_SYSTEM_BIN):
            self.flag("moderate", f"runs a program by its path ({path})")
            return
        why = not_harmless(prog, args)
        if why is None:
            self.harmless.append(prog)
            return
        reason = self.moderate_reason(simple) or why or f"{prog} with arguments read from input"
        self.flag("moderate", reason)
        if why is not None and why.endswith("aiw knows to be harmless"):
            self.suffixes(arg_words, depth)

    def suffixes(self, arg_words: list, depth: int) -> None:
        """An unknown program may run its arguments (``setsid rm -rf ~``): rate each tail."""
        for start, word in enumerate(arg_words):
            if word.literal and not word.text.startswith("-") and _NAME.match(word.text):
                sub = _Rater(Risk())
                sub.command(arg_words[start:], None, depth + 1)
                if sub.risk.level == "dangerous":
                    for reason in sub.risk.reasons:
                        self.flag("dangerous", f"{reason} (in the arguments of another program)")
                    return

    def redirect(self, redirect) -> None:
        from ai_workbench.core.safety.checks import PERSISTENCE

        target = redirect.target
        if redirect.op in ("<<<", "<<") or target is None:
            return
        text = target.text
        if _DEV_NET.search(text):
            self.flag("dangerous", "redirects to a network connection (/dev/tcp)")
            return
        if not redirect.writes:
            return
        if _HARMLESS_TARGETS.match(text):
            return
        if PERSISTENCE.search(text):
            self.flag("dangerous", f"writes {text}, which runs code at login or grants access")
        elif not target.literal:
            self.flag("moderate", f"writes a file named at run time ({text})")
        else:
            verb = "appends to" if ">>" in redirect.op else "overwrites"
            self.flag("moderate", f"{verb} {text}")

    def persistence(self, prog: str, args: list[str], arg_words: list) -> None:
        from ai_workbench.core.safety.checks import PERSISTENCE

        if prog in _READERS:
            return
        hits = [
            a if len(a) <= 60 else a[:57] + "..."
            for a in args
            if PERSISTENCE.search(a) and not re.match(r"^(?:\w+=)?@", a)  # curl -d @file reads
        ]
        if not hits:
            return
        if prog in _EDITORS:
            self.flag("moderate", f"edits {hits[0]}, which runs code at login or grants access")
        else:
            self.flag(
                "dangerous",
                f"changes {hits[0]}, which runs code at login or grants access (persistence)",
            )

    def non_literal_targets(self, simple: Simple, arg_words: list) -> None:
        computed = [w.text for w in arg_words if not w.literal and not w.text.startswith("-")]
        if not computed:
            return
        recursive = any(
            re.fullmatch(r"-[A-Za-z]*[rR][A-Za-z]*|--recursive", a) for a in simple.args
        )
        if simple.prog in ("rm", "shred", "srm") and recursive:
            self.flag(
                "dangerous", f"recursive delete of a path known only at run time ({computed[0]})"
            )
        elif simple.prog == "dd" and any(a.startswith("of=") for a in computed):
            self.flag("dangerous", "dd writes to a target known only at run time")
        elif simple.prog == "find" and "-delete" in simple.args:
            self.flag("dangerous", "find deletes under a path known only at run time")

    # --- programs that run other code -------------------------------------------------------

    def special(self, prog: str, arg_words: list, command, depth: int, piped_in: bool) -> bool:
        """Programs whose danger is in what they run; True when handled here."""
        from ai_workbench.core.safety.checks import git_option_runs_code

        args = [w.text for w in arg_words]
        base = re.sub(r"[\d.]+$", "", prog)
        if prog == "eval":
            self.flag("dangerous", "eval runs text built at run time")
            return True
        if prog in ("source", "."):
            if not all(w.literal for w in arg_words[:1]):
                self.flag("dangerous", "sources code produced at run time")
            else:
                self.flag("moderate", f"runs {' '.join(args[:1]) or 'a file'} in the shell")
            return True
        if prog in _SHELLS or base in _INTERPRETERS:
            self.interpreter(prog, base, arg_words, command, depth, piped_in)
            return True
        if prog == "trap" and arg_words:
            self.nested(arg_words[0], depth, "trap")
            return True
        if prog in ("watch", "su", "runuser", "script", "parallel"):
            code = [w for w in arg_words if not w.text.startswith("-")]
            if prog in ("su", "runuser", "script"):
                code = [
                    w
                    for i, w in enumerate(arg_words)
                    if i and arg_words[i - 1].text in ("-c", "--command")
                ]
            if code:
                self.nested_words(code, depth, prog)
            self.flag("moderate", f"{prog} runs another command")
            return True
        if prog == "ssh":
            self.ssh(arg_words, depth)
            return True
        if prog == "xargs":
            self.xargs(arg_words, depth)
            return True
        if prog == "find":
            self.find_exec(arg_words, depth)
            return False
        if prog in ("nc", "ncat", "netcat", "busybox") and any(
            re.fullmatch(r"-[A-Za-z]*[ec][A-Za-z]*|--exec|--sh-exec|--lua-exec", a) for a in args
        ):
            self.flag("dangerous", f"{prog} -e hands a shell to the network (reverse shell)")
            return True
        if prog == "socat" and any(re.search(r"(?i)\b(?:exec|system):", a) for a in args):
            self.flag("dangerous", "socat runs a program for the network (reverse shell)")
            return True
        if prog in ("crontab",) and args[:1] != ["-l"]:
            self.flag("dangerous", "installs or replaces cron jobs (runs commands on a schedule)")
            return True
        if prog in ("at", "batch") and not set(args) & {"-l", "-q", "-V"}:
            self.flag("dangerous", f"{prog} schedules a command to run later (persistence)")
            return True
        if prog == "alias" and any("=" in a for a in args):
            self.flag("dangerous", "defines an alias, which can make a command do something else")
            return True
        if prog in ("visudo", "sudoedit") or (
            prog == "launchctl" and set(args) & {"load", "bootstrap", "submit", "enable"}
        ):
            self.flag(
                "dangerous", f"{prog} changes who may run what as root, or what starts at login"
            )
            return True
        if prog == "history" and set(args) & {"-c", "-w", "-d", "-r", "-a", "-n", "-p", "-s"}:
            self.flag("dangerous", "erases or rewrites the shell history (hides what ran)")
            return True
        if prog in ("unset", "export", "declare", "typeset", "local", "readonly"):
            from ai_workbench.core.safety.checks import dangerous_variable

            for arg in args:
                if prog == "unset" and arg.startswith("HIST"):
                    self.flag("dangerous", f"unsets {arg} (hides what ran)")
                found = dangerous_variable(arg) if "=" in arg else None
                if found:
                    self.flag(*found)
            return False
        if prog == "git":
            key = git_option_runs_code(args)
            if key:
                self.flag("dangerous", f"sets git option {key}, which makes git run a command")
                return True
            return False
        if prog in ("chmod",) and any(
            re.fullmatch(r"[ugoa]*[+=][rwxXt]*s[rwxXt]*|0?[2467][0-7]{3}", a) for a in args
        ):
            self.flag("dangerous", "sets the setuid/setgid bit (runs as the file's owner)")
            return True
        if prog in ("docker", "podman") and ("run" in args or "exec" in args or "create" in args):
            text = " ".join(args)
            if re.search(
                r"--privileged|(?:-v|--volume|--mount)[ =](?:type=bind,\S*source=)?/(?::|\s|$|,)"
                r"|docker\.sock|--pid[ =]host|--cap-add[ =](?:ALL|SYS_ADMIN)",
                text,
            ):
                self.flag("dangerous", "gives a container root access to the host")
                return True
            return False
        if prog in ("curl", "wget"):
            uploads = re.compile(
                r"^(?:-d|--data\S*|-F|--form\S*|-T|--upload-file|--post-file|--body-file)(?:=|$)"
            )
            if (
                (
                    any(uploads.match(a) for a in args)
                    and any(a.startswith("@") or "=@" in a or "<" in a for a in args)
                )
                or "-T" in args
                or "--upload-file" in args
                or any(a.startswith(("--post-file", "--body-file")) for a in args)
            ):
                self.flag("moderate", f"{prog} uploads a local file")
            return False
        return False

    def interpreter(
        self, prog: str, base: str, arg_words: list, command, depth: int, piped_in: bool
    ) -> None:
        from ai_workbench.core.safety.allow import not_harmless
        from ai_workbench.core.safety.checks import code_finding, code_uses_network

        args = [w.text for w in arg_words]
        language = _INTERPRETERS.get(base, "shell")
        is_shell = prog in _SHELLS
        if args and set(args) <= {"--version", "-V", "--help", "-h", "version"}:
            self.harmless.append(prog)
            return
        for i, word in enumerate(arg_words):
            flag = word.text
            if flag == "--":
                break
            if (is_shell and re.fullmatch(r"-[A-Za-z]*c[A-Za-z]*", flag)) or (
                not is_shell and _CODE_FLAGS.match(flag)
            ):
                if i + 1 >= len(arg_words):
                    self.flag("moderate", f"{prog} {flag} without code")
                    return
                code = arg_words[i + 1]
                if not code.literal:
                    self.flag(
                        "dangerous", f"{prog} {flag} runs text built at run time ({code.text})"
                    )
                    return
                if is_shell:
                    self.nested(code, depth, prog)
                    return
                found = code_finding(language, code.text)
                if code_uses_network(code.text):
                    self.code_networks = True
                if found:
                    self.flag(*found)
                else:
                    self.harmless.append(f"{prog} {flag}")
                return
            if not is_shell and flag == "-m":
                why = not_harmless("python", args) if language == "python" else f"{prog} -m"
                if why is None:
                    self.harmless.append(f"{prog} -m")
                else:
                    self.flag("moderate", why)
                return
            if not flag.startswith("-") or flag == "-":
                if flag == "-":
                    break
                if not word.literal:
                    self.flag("dangerous", f"{prog} runs a script named at run time ({flag})")
                elif word.substituted:
                    self.flag("dangerous", f"{prog} runs code produced at run time ({flag})")
                else:
                    self.flag("moderate", f"runs the {language} script {flag}")
                return
            if is_shell and flag in ("-i", "-l", "--login") and not piped_in:
                continue
        # no script and no code: the program reads what to run from stdin
        feeds = [
            r
            for r in (command.redirects if command is not None else [])
            if r.op in ("<<<", "<<", "<")
        ]
        if piped_in:
            self.flag("dangerous", "pipes data into a shell or interpreter, which runs it")
        elif feeds:
            feed = feeds[-1]
            if feed.op == "<":
                self.flag("moderate", f"runs the script {feed.target.text if feed.target else ''}")
            elif feed.op == "<<<" and feed.target is not None:
                if not feed.target.literal:
                    self.flag("dangerous", f"feeds text built at run time into {prog}")
                elif is_shell:
                    self.nested(feed.target, depth, prog)
                else:
                    found = code_finding(language, feed.target.text)
                    self.flag(*(found or ("moderate", f"runs {language} code")))
            else:
                self.flag("moderate", f"runs a here-document with {prog}")
        else:
            self.flag("moderate", f"starts an interactive {prog}")

    def nested(self, word, depth: int, where: str) -> None:
        if not word.literal:
            self.flag("dangerous", f"{where} runs text built at run time ({word.text})")
            return
        self.line(word.text, depth + 1)

    def nested_words(self, words: list, depth: int, where: str) -> None:
        from ai_workbench.core.safety.parse import Word

        if not all(w.literal for w in words):
            self.flag("dangerous", f"{where} runs text built at run time")
            return
        text = " ".join(w.text for w in words)
        self.nested(Word(text), depth, where)

    def ssh(self, arg_words: list, depth: int) -> None:
        takes = set("bcDEeFIiJLlmOopQRSWw")
        i = 0
        host_seen = False
        while i < len(arg_words):
            text = arg_words[i].text
            if text.startswith("-") and not host_seen:
                if re.search(r"(?i)(?:ProxyCommand|LocalCommand|KnownHostsCommand)=", text) or (
                    text == "-o"
                    and i + 1 < len(arg_words)
                    and re.match(
                        r"(?i)(?:ProxyCommand|LocalCommand|KnownHostsCommand)",
                        arg_words[i + 1].text,
                    )
                ):
                    self.flag("dangerous", "ssh runs a local command (ProxyCommand/LocalCommand)")
                if len(text) == 2 and text[1] in takes:
                    i += 1
                i += 1
                continue
            if not host_seen:
                host_seen = True
                i += 1
                continue
            self.nested_words(arg_words[i:], depth, "ssh")
            break
        self.flag("moderate", "connects to another machine (ssh)")

    def xargs(self, arg_words: list, depth: int) -> None:
        from ai_workbench.core.safety.parse import Word

        takes = {"-I", "-i", "-n", "-P", "-L", "-l", "-d", "-E", "-e", "-s", "-a", "--max-args",
                 "--max-procs", "--delimiter", "--arg-file", "--replace"}  # fmt: skip
        i = 0
        while i < len(arg_words) and arg_words[i].text.startswith("-"):
            i += 2 if arg_words[i].text in takes else 1
        inner = arg_words[i:] or [Word("echo")]
        self.command([*inner, Word("$ARGS", literal=False)], None, depth + 1)

    def find_exec(self, arg_words: list, depth: int) -> None:
        from ai_workbench.core.safety.parse import Word

        texts = [w.text for w in arg_words]
        for i, text in enumerate(texts):
            if text in ("-exec", "-execdir", "-ok", "-okdir"):
                run = []
                for word in arg_words[i + 1 :]:
                    if word.text in (";", "\\;", "+"):
                        break
                    run.append(Word("$FOUND", literal=False) if word.text == "{}" else word)
                if run:
                    self.command(run, None, depth + 1)


_SSH_FAMILY = frozenset({"ssh", "scp", "sftp", "ssh-add", "ssh-keygen", "ssh-copy-id", "autossh"})


def _sent_words(parsed) -> list:
    """Every word and redirect target, except the key an ssh-family program logs in with
    (``ssh -i ~/.ssh/id_ed25519 host`` uses the key, it does not send it)."""
    out = []
    for command in parsed.commands:
        index, _ = _peel(command.words)
        prog = command.words[index].text.rsplit("/", 1)[-1] if index is not None else ""
        skip = False
        for word in command.words + command.assignments:
            if skip:
                skip = False
                continue
            if prog in _SSH_FAMILY and word.text in ("-i", "-o"):
                skip = True
                continue
            if prog in _SSH_FAMILY and re.match(r"(?i)-?o?IdentityFile=", word.text):
                continue
            out.append(word)
        out += [r.target for r in command.redirects if r.target is not None]
    return out


def _peel(words: list) -> tuple[int | None, bool]:
    """The index of the program after assignments and wrappers (``sudo``, ``env X=1``,
    ``timeout 5``, ``nice -n 5``…), and whether ``sudo``/``doas`` was one of them."""
    sudo = False
    i = 0
    while i < len(words):
        text = words[i].text
        base = text.rsplit("/", 1)[-1]
        if words[i].literal and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", text):
            i += 1
            continue
        if not words[i].literal or base not in _WRAPPERS:
            break
        if base == "command" and i + 1 < len(words) and words[i + 1].text in ("-v", "-V"):
            return None, sudo  # `command -v x` only looks x up
        sudo = sudo or base in ("sudo", "doas")
        takes = _WRAPPER_VALUE_OPTS.get(base, set())
        i += 1
        while i < len(words) and words[i].text.startswith("-"):
            if words[i].text == "--":
                i += 1
                break
            if words[i].text in takes:
                i += 1
            i += 1
        if base in ("env",):
            while i < len(words) and "=" in words[i].text:
                i += 1
        if base in ("timeout", "gtimeout") and i < len(words):
            i += 1  # the duration
    if i >= len(words):
        return None, sudo
    return i, sudo
