"""A command line as bash reads it (via bashlex): simple commands, pipelines, redirects.

:func:`parse` turns a command line into a :class:`Parsed`: every simple command, including the
ones inside ``$(…)``, backticks, ``<(…)``, subshells, ``{ …; }``, loops and ``if``; which of
them form a pipeline; every redirect; every function defined. Each word keeps its value after
quote removal (``r""m`` is ``rm``) and whether it is *literal*: known before the line runs, with
no ``$var``, ``$(…)`` or backticks in it. bashlex cannot read some bash (``case``, ``[[ ]]``,
``$((…))``, arrays, the ``time`` keyword); :func:`parse` raises :class:`Unparsable` for those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Command", "Parsed", "Redirect", "Unparsable", "Word", "parse"]

_EXPANSIONS = {"parameter", "commandsubstitution", "processsubstitution"}


class Unparsable(ValueError):
    """bashlex could not read the command line."""


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    literal: bool = True  # no $var, $(…), `…` or <(…) in it
    substituted: bool = False  # contains $(…), `…` or <(…)


@dataclass(frozen=True, slots=True)
class Redirect:
    op: str  # >, >>, <, <<<, >&, &>, <>, <<, >|
    target: Word | None  # None: a file descriptor (2>&1)
    heredoc: str | None = None

    @property
    def writes(self) -> bool:
        return self.op in (">", ">>", ">|", "&>", ">&", "<>", "&>>")

    @property
    def reads(self) -> bool:
        return self.op in ("<", "<>")


@dataclass(slots=True)
class Command:
    """One simple command: assignments, words (program first) and redirects."""

    words: list[Word]
    assignments: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    piped_in: bool = False  # a pipe feeds its stdin
    nested: bool = False  # inside $(…), `…` or <(…)


@dataclass(slots=True)
class Parsed:
    commands: list[Command] = field(default_factory=list)
    pipelines: list[list[Command]] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)

    def all_words(self) -> list[Word]:
        out: list[Word] = []
        for command in self.commands:
            out += command.words + command.assignments
            out += [r.target for r in command.redirects if r.target is not None]
        return out


def _word(node: Any) -> Word:
    kinds = {part.kind for part in _descendants(node)}
    return Word(
        text=str(getattr(node, "word", "")),
        literal=not (kinds & _EXPANSIONS),
        substituted=bool(kinds & {"commandsubstitution", "processsubstitution"}),
    )


def _descendants(node: Any) -> list[Any]:
    out = []
    for part in getattr(node, "parts", None) or []:
        out.append(part)
        if part.kind not in ("commandsubstitution", "processsubstitution"):
            out += _descendants(part)
    return out


class _Walker:
    def __init__(self) -> None:
        self.parsed = Parsed()

    def substitutions(self, node: Any) -> None:
        """Walk the code inside $(…), `…` and <(…) found anywhere below ``node``."""
        for part in getattr(node, "parts", None) or []:
            if part.kind in ("commandsubstitution", "processsubstitution"):
                self.walk(part.command, nested=True)
            else:
                self.substitutions(part)

    def walk(self, node: Any, nested: bool = False) -> list[Command]:
        """Record every command below ``node``; return the ones at its top level."""
        kind = node.kind
        if kind == "command":
            return [self.command(node, nested)]
        if kind == "pipeline":
            members = [p for p in node.parts if p.kind != "pipe"]
            line: list[Command] = []
            for index, member in enumerate(members):
                top = self.walk(member, nested)
                if index:
                    for command in top:
                        command.piped_in = True
                line += top
            self.parsed.pipelines.append(line)
            return line
        if kind == "function":
            name = next((p.word for p in node.parts if p.kind == "word"), "?")
            self.parsed.functions.append(str(name))
        if kind == "compound":
            top: list[Command] = []
            for part in node.list:
                top += self.walk(part, nested)
            for redirect in getattr(node, "redirects", None) or []:
                for command in top:
                    command.redirects.append(self.redirect(redirect))
            return top
        top = []
        for part in getattr(node, "parts", None) or []:
            if part.kind in ("reservedword", "operator", "pipe"):
                continue
            if part.kind == "word":  # for-loop lists, if-conditions' words
                self.substitutions(part)
                continue
            top += self.walk(part, nested)
        return top

    def redirect(self, node: Any) -> Redirect:
        target = node.output if not isinstance(node.output, int) else None
        if target is not None:
            self.substitutions(target)
        heredoc = getattr(node, "heredoc", None)
        return Redirect(
            op=str(node.type),
            target=_word(target) if target is not None else None,
            heredoc=str(heredoc.value) if heredoc is not None else None,
        )

    def command(self, node: Any, nested: bool) -> Command:
        command = Command(words=[], nested=nested)
        for part in node.parts:
            if part.kind == "word":
                command.words.append(_word(part))
                self.substitutions(part)
            elif part.kind == "assignment":
                command.assignments.append(_word(part))
                self.substitutions(part)
            elif part.kind == "redirect":
                command.redirects.append(self.redirect(part))
        self.parsed.commands.append(command)
        return command


def parse(text: str) -> Parsed:
    """``text`` as bash would read it; :class:`Unparsable` when bashlex cannot."""
    import bashlex  # lazy: only rating a command needs the parser

    try:
        nodes = bashlex.parse(text)
    except Exception as exc:  # bashlex raises ParsingError, NotImplementedError, others
        raise Unparsable(f"{type(exc).__name__}: {exc}") from exc
    walker = _Walker()
    for node in nodes:
        walker.walk(node)
    return walker.parsed
