"""A command line split into the simple commands it would run, for judging rule by rule.

Deny rules were bypassed in other agents by wrapping the command: ``find … | xargs rm``,
``bash -c "…"``, ``$(…)``, ``env X=1 rm``, ``git -C dir push``, ``rm -fr`` for ``rm -rf``. So
:func:`split` parses the line with bashlex (:mod:`ai_workbench.core.safety.parse`) and returns every
simple command in it as a :class:`Part`, with wrappers peeled (``env``, ``timeout``, ``nice``,
``nohup``…), code given to a shell (``bash -c``, ``sh -c``, ``eval``) split in turn, the command
``xargs`` and ``find -exec`` run added as parts, ``find -delete`` shown as ``rm``, and git's global
options (``-C dir``, ``-c k=v``, ``--git-dir``) dropped so ``git -C x push`` is ``git push``.

What cannot be known before the line runs (a program named by ``$var`` or ``$(…)``, ``bash -c``
with computed text, text bashlex cannot read) makes :attr:`Split.problem` say why: such a command
is *not understood*, and the policy asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Part", "Split", "flags_of", "split"]

_MAX_DEPTH = 4
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish"})
# Wrappers that run the rest of the line unchanged (their own options skipped).
_WRAPPERS: dict[str, frozenset[str]] = {
    "env": frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}),
    "timeout": frozenset({"-s", "--signal", "-k", "--kill-after"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "ionice": frozenset({"-c", "-n", "-p"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "nohup": frozenset(),
    "time": frozenset({"-f", "-o"}),
    "command": frozenset(),
    "exec": frozenset({"-a"}),
    "builtin": frozenset(),
    "setsid": frozenset(),
    "chronic": frozenset(),
    "unbuffer": frozenset(),
}
# Wrappers that change who runs it: peeled for deny rules, kept for allow rules.
_AS_ROOT = {"sudo": frozenset({"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U"}),
            "doas": frozenset({"-u", "-C"})}  # fmt: skip
_XARGS_VALUE = frozenset({"-I", "-i", "-n", "-P", "-L", "-l", "-d", "-E", "-e", "-s", "-a",
                          "--max-args", "--max-procs", "--delimiter", "--arg-file",
                          "--replace"})  # fmt: skip
_GIT_VALUE = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path",
                        "--config-env", "--super-prefix"})  # fmt: skip
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_FLAG_ALIASES = {"--recursive": "r", "-R": "r", "--force": "f", "--dir": "d", "--verbose": "v"}


@dataclass(frozen=True)
class Part:
    """One simple command as it would run: program first, wrappers peeled."""

    words: tuple[str, ...]
    note: str = ""  # how it was found: "inside $(…)", "run by xargs", "as root (sudo)"...
    as_root: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def program(self) -> str:
        return self.words[0].rsplit("/", 1)[-1] if self.words else ""


@dataclass
class Split:
    parts: list[Part] = field(default_factory=list)
    problem: str | None = None  # set: the line is not understood (why)
    writes: list[str] = field(default_factory=list)  # files redirects write (`> x`, `>> x`)

    def fail(self, why: str) -> None:
        if self.problem is None:
            self.problem = why


def split(command: str) -> Split:
    """Every simple command ``command`` would run (see the module doc)."""
    out = Split()
    _line(command, out, 0, "")
    return out


def _line(text: str, out: Split, depth: int, note: str) -> None:
    from ai_workbench.core.safety.parse import Unparsable, parse

    if depth > _MAX_DEPTH:
        out.fail("code nested in code too deeply to follow")
        return
    joined = text.strip().replace("\\\r\n", " ").replace("\\\n", " ")
    if not joined:
        return
    try:
        parsed = parse(joined)
    except Unparsable as exc:
        out.fail(f"aiw cannot parse this command ({str(exc).split(':')[0]})")
        return
    if parsed.functions:
        out.fail(f"it defines a shell function ({parsed.functions[0]})")
    for command in parsed.commands:
        where = note or ("inside $(…) or backticks" if command.nested else "")
        _simple(command.words, out, depth, where)
        for redirect in command.redirects:
            target = redirect.target
            if redirect.writes and target is not None and target.literal:
                out.writes.append(target.text)


def _simple(words: list, out: Split, depth: int, note: str) -> None:
    """Peel wrappers off one simple command and record it (and what it runs)."""
    i = 0
    as_root = False
    while i < len(words):
        word = words[i]
        if word.literal and _ASSIGN.match(word.text):
            i += 1
            continue
        base = word.text.rsplit("/", 1)[-1]
        if not word.literal:
            break
        takes = _WRAPPERS.get(base)
        root_takes = _AS_ROOT.get(base)
        if takes is None and root_takes is None:
            break
        if root_takes is not None:
            as_root = True
            takes = root_takes
        i += 1
        while i < len(words) and words[i].text.startswith("-") and words[i].text != "-":
            if words[i].text == "--":
                i += 1
                break
            i += 2 if words[i].text in takes else 1
        if base == "env":
            while i < len(words) and _ASSIGN.match(words[i].text):
                i += 1
        if base == "timeout" and i < len(words):
            i += 1  # the duration
    rest = words[i:]
    if not rest:
        return
    name = rest[0]
    if not name.literal:
        out.fail(f"the command name is only known at run time ({name.text})")
        return
    texts = [w.text for w in rest]
    prog = texts[0].rsplit("/", 1)[-1]
    if as_root:
        out.parts.append(Part(("sudo", *texts), note or "as root", as_root=True))
    if prog in _SHELLS:
        _shell(rest, out, depth, note, texts)
        return
    if prog == "eval":
        if not all(w.literal for w in rest[1:]):
            out.fail("eval runs text built at run time")
            return
        _line(" ".join(texts[1:]), out, depth + 1, note or "run by eval")
        return
    if prog == "xargs":
        _xargs(rest, out, depth, note)
        return
    if prog == "git":
        texts = _git_words(texts)
    if prog == "find":
        _find(rest, out, depth, note)
    if not all(w.literal for w in rest):
        note = note or "some arguments are only known at run time"
    out.parts.append(Part(tuple(texts), note, as_root=as_root))


def _shell(rest: list, out: Split, depth: int, note: str, texts: list[str]) -> None:
    for index, word in enumerate(rest[1:], start=1):
        if word.text == "--":
            break
        if re.fullmatch(r"-[A-Za-z]*c[A-Za-z]*", word.text):
            if index + 1 >= len(rest):
                out.fail(f"{texts[0]} {word.text} without code")
                return
            code = rest[index + 1]
            if not code.literal:
                out.fail(f"{texts[0]} -c runs text built at run time ({code.text})")
                return
            _line(code.text, out, depth + 1, note or f"run by {texts[0]} -c")
            return
        if not word.text.startswith("-"):
            break
    out.parts.append(Part(tuple(texts), note))  # a script, or code read from stdin


def _xargs(rest: list, out: Split, depth: int, note: str) -> None:
    from ai_workbench.core.safety.parse import Word

    i = 1
    while i < len(rest) and rest[i].text.startswith("-"):
        i += 2 if rest[i].text in _XARGS_VALUE else 1
    inner = rest[i:] or [Word("echo")]
    _simple(inner, out, depth + 1, note or "run by xargs (input as more arguments)")


def _find(rest: list, out: Split, depth: int, note: str) -> None:
    texts = [w.text for w in rest]
    for i, text in enumerate(texts):
        if text in ("-exec", "-execdir", "-ok", "-okdir"):
            run = []
            for word in rest[i + 1 :]:
                if word.text in (";", "\\;", "+"):
                    break
                run.append(word)
            if run:
                _simple(run, out, depth + 1, note or f"run by find {text}")
        elif text == "-delete":
            out.parts.append(Part(("rm", "<what find finds>"), "find -delete deletes"))


def _git_words(texts: list[str]) -> list[str]:
    """``git -C dir -c k=v --no-pager push`` -> ``git push`` (global options dropped)."""
    out = [texts[0]]
    i = 1
    while i < len(texts) and texts[i].startswith("-"):
        option = texts[i]
        if option == "--":
            i += 1
            break
        i += 2 if option in _GIT_VALUE else 1
    return out + texts[i:]


def flags_of(words: tuple[str, ...]) -> tuple[list[str], set[str]]:
    """(the words that are not options, the options with short clusters split: ``-fr`` ->
    {f, r}; ``--recursive``/``-R`` count as ``r``, ``--force`` as ``f``)."""
    plain: list[str] = []
    flags: set[str] = set()
    ended = False
    for word in words:
        if ended or not word.startswith("-") or word == "-":
            plain.append(word)
        elif word == "--":
            ended = True
        elif word in _FLAG_ALIASES:
            flags.add(_FLAG_ALIASES[word])
        elif word.startswith("--"):
            flags.add(word.split("=", 1)[0])
        else:
            flags.update("r" if c == "R" else c for c in word[1:])
    return plain, flags
