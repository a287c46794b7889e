"""What the agent may do without asking: the mode, the user's rules, and floors nothing lifts.

:meth:`Policy.check` answers ``allow``, ``ask`` or ``deny`` for one tool call, in this order:

1. **Floors** that no mode or rule changes: a path outside the project or inside ``.git`` is
   denied to file tools; plan mode denies every tool that changes something.
2. **Deny rules**: a command is denied when *any* of its simple commands matches one
   (:mod:`ai_workbench.agent.commands` splits ``;``, ``&&``, pipes, ``$(…)``, ``bash -c``,
   ``xargs``, ``find -exec``, ``env X=…``, ``git -C dir``). Deny rules match leniently: options in
   any order and spelling (``rm -fr`` and ``rm -r --force`` match ``Bash(rm -rf:*)``).
3. **Always asks**: the shell hook's risk classifier rating a command dangerous
   (:mod:`ai_workbench.core.safety.risk`), a command aiw does not understand (unparsable, a program
   named at run time), ``git push``, any command when no OS sandbox works, reading a
   secret-looking file, writing aiw's own project config.
4. What the user allowed for this run ("always this run").
5. **Ask rules**, then **allow rules**: a command runs without asking only when *every* simple
   command in it matches an allow rule (strictly: the exact words, as written).
6. The **mode**: ``plan`` reads only; ``ask`` asks for every write and command; ``auto-edit`` runs
   edits inside the project and asks for commands; ``full-auto`` also runs commands the classifier
   does not rate dangerous, inside the sandbox.

Rules come from settings (``[agent.permissions]``). A project's ``.aiw.toml`` may add ``ask`` and
``deny`` rules (tighten); its ``allow`` rules, a looser ``mode`` and ``network = true`` count only
when the project is trusted (``aiw plugins trust``).
"""

from __future__ import annotations

import fnmatch
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from ai_workbench.agent import confine
from ai_workbench.agent.commands import Part, flags_of, split

__all__ = [
    "MODES",
    "READ_TOOLS",
    "Decision",
    "Mode",
    "Policy",
    "Rule",
    "effective_mode",
    "effective_network",
    "effective_sandbox",
    "git_words",
    "parse_rule",
    "project_loosened",
    "rules_of",
    "uses_diff",
]

Mode = Literal["plan", "ask", "auto-edit", "full-auto"]
MODES: tuple[Mode, ...] = ("plan", "ask", "auto-edit", "full-auto")
READ_TOOLS = frozenset({"read_file", "list_dir", "grep", "search_index", "ask_user"})
EDIT_TOOLS = frozenset({"edit_file", "write_file"})
GIT_READ = frozenset({"status", "diff", "log", "show", "branches"})
GIT_WRITE = frozenset({"add", "commit", "branch", "checkout_new_branch"})
GIT_ACTIONS = GIT_READ | GIT_WRITE | {"push"}
# Programs whose first plain argument names what they do (rule_for keeps it: `git commit:*`).
_SUBCOMMANDS = frozenset(
    {"git", "npm", "pnpm", "yarn", "cargo", "go", "docker", "podman", "kubectl", "pip", "pip3",
     "uv", "poetry", "make", "just", "dotnet", "mvn", "gradle", "bundle", "rake", "hatch", "tox",
     "nox", "conda", "brew", "apt", "apt-get", "systemctl", "terraform", "helm", "gh", "pdm"}
)  # fmt: skip


@dataclass(frozen=True)
class Decision:
    action: Literal["allow", "ask", "deny"]
    reason: str  # one line for the user
    rule: str | None = None  # the matching rule text, e.g. "Bash(pytest:*)"

    def label(self) -> str:
        """The audit label: ``auto``, ``rule:<rule>`` or ``refused``."""
        if self.action == "deny":
            return "refused"
        return f"rule:{self.rule}" if self.rule else "auto"


@dataclass(frozen=True)
class Rule:
    """``Tool(spec)``: ``tool`` is ``Bash``, ``Read``, ``Edit``, ``Write``, ``Git`` or an MCP name
    (``mcp__git__*``, glob), ``spec`` the pattern inside the parentheses (None: any)."""

    text: str
    tool: str
    spec: str | None


def parse_rule(text: str) -> Rule:
    text = text.strip()
    if text.endswith(")") and "(" in text:
        tool, _, rest = text.partition("(")
        spec = rest[:-1].strip()
        return Rule(text, tool.strip(), None if spec in ("", "*") else spec)
    return Rule(text, text, None)


def rules_of(texts: Iterable[str]) -> list[Rule]:
    return [parse_rule(text) for text in texts if text and text.strip()]


# ---------------------------------------------------------------------------- matching


def _bash_words(spec: str) -> tuple[list[str], bool] | None:
    """The words of a Bash rule and whether it is a prefix (``x y:*``); None: a glob rule."""
    prefix = spec.endswith(":*")
    body = spec[:-2] if prefix else spec
    if not prefix and any(c in body for c in "*?["):
        return None
    try:
        return shlex.split(body), prefix
    except ValueError:
        return body.split(), prefix


def bash_rule_matches(rule: Rule, part: Part, *, lenient: bool) -> bool:
    """Whether ``part`` is what the Bash rule names. Strict (allow): the rule's words, exactly,
    at the start (prefix rule) or as the whole command. Lenient (deny/ask): the same program,
    the rule's plain words leading the command's, the rule's options among the command's in any
    order or spelling."""
    if rule.tool != "Bash":
        return False
    if rule.spec is None:
        return True
    parsed = _bash_words(rule.spec)
    if parsed is None:  # a glob over the whole text: Bash(pytest *)
        return fnmatch.fnmatchcase(part.text, rule.spec)
    words, prefix = parsed
    if not words:
        return True
    have = list(part.words)
    if not lenient:
        return have[: len(words)] == words if prefix else have == words
    if part.program != words[0].rsplit("/", 1)[-1]:
        return False
    want_plain, want_flags = flags_of(tuple(words[1:]))
    have_plain, have_flags = flags_of(tuple(have[1:]))
    if not want_flags <= have_flags:
        return False
    if prefix:
        return have_plain[: len(want_plain)] == want_plain
    return have_plain == want_plain and (have_flags == want_flags)


def path_rule_matches(rule: Rule, kind: str, rel: str) -> bool:
    """``Read(pattern)`` for reads; ``Edit(pattern)`` and ``Write(pattern)`` for every file
    change. Patterns are relative to the project (``./`` optional); ``**`` spans directories,
    ``*`` stays inside one; a pattern without ``/`` matches the file name at any depth."""
    tools = {"read": ("Read",), "write": ("Edit", "Write")}[kind]
    if rule.tool not in tools:
        return False
    if rule.spec is None:
        return True
    pattern = rule.spec.removeprefix("./").rstrip("/") or "."
    if pattern in (".", "**"):
        return True
    return (
        _glob(pattern, rel)
        or ("/" not in pattern and _glob(pattern, PurePosixPath(rel).name))
        or _glob(pattern + "/**", rel)
    )


def _glob(pattern: str, name: str) -> bool:
    import re

    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.fullmatch("".join(out), name) is not None


def mcp_rule_matches(rule: Rule, name: str) -> bool:
    """``mcp__git__*`` (glob), ``mcp__git`` (the whole server) or the exact tool name."""
    if not rule.tool.startswith("mcp__"):
        return False
    pattern = rule.tool
    if pattern.count("__") == 1 and not pattern.endswith("*"):
        pattern += "__*"
    return fnmatch.fnmatchcase(name, pattern)


# ---------------------------------------------------------------------------- the policy


@dataclass
class Policy:
    project_root: Path
    mode: Mode = "ask"
    allow: list[Rule] = field(default_factory=list)
    ask: list[Rule] = field(default_factory=list)
    deny: list[Rule] = field(default_factory=list)
    trusted: bool = False
    sandboxed: bool = True
    run_allow: list[Rule] = field(default_factory=list)

    @classmethod
    def from_settings(
        cls, settings: Any, project_root: Path, mode: Mode, *, trusted: bool, sandboxed: bool
    ) -> Policy:
        """The policy of ``settings`` (a :class:`~ai_workbench.core.settings.Settings`); a
        project's own allow rules count only when ``trusted``."""
        allow, ask, deny = _layered_rules(settings, trusted)
        return cls(
            project_root=Path(project_root).resolve(),
            mode=mode,
            allow=rules_of(allow),
            ask=rules_of(ask),
            deny=rules_of(deny),
            trusted=trusted,
            sandboxed=sandboxed,
        )

    # --- public ----------------------------------------------------------------------------

    def check(self, tool: str, args: dict[str, Any]) -> Decision:
        args = args if isinstance(args, dict) else {}
        if tool in ("read_file", "list_dir", "grep"):
            return self._read(tool, args)
        if tool in ("search_index", "ask_user"):
            return Decision("allow", "reads the project index" if tool == "search_index" else "")
        if tool in EDIT_TOOLS:
            return self._write(tool, args)
        if tool == "run_command":
            return self._command(str(args.get("command") or ""))
        if tool == "git":
            return self._git(args)
        if tool.startswith("mcp__"):
            return self._mcp(tool)
        return Decision("deny", f"there is no tool named {tool}")

    def allow_for_run(self, tool: str, args: dict[str, Any]) -> None:
        """ "Always this run": calls like this one run without asking until the run ends
        (floors still apply: dangerous and not-understood commands and push keep asking)."""
        for text in self.rules_for(tool, args):
            rule = parse_rule(text)
            if rule not in self.run_allow:
                self.run_allow.append(rule)

    def rule_for(self, tool: str, args: dict[str, Any]) -> str:
        """The rule "always" writes for a call like this (several joined by ", ")."""
        return ", ".join(self.rules_for(tool, args))

    def rules_for(self, tool: str, args: dict[str, Any]) -> list[str]:
        """The rules that would allow calls like this one; none when no rule can (the floors:
        ``git push``, a dangerous or not understood command, a secret-looking file named)."""
        args = args if isinstance(args, dict) else {}
        if self._always_asks(tool, args):
            return []
        if tool.startswith("mcp__"):
            return [tool]
        if tool in ("read_file", "list_dir", "grep"):
            return [f"Read({self._rel_or_raw(args.get('path') or '.')})"]
        if tool in EDIT_TOOLS:
            return [f"Edit({name})" for name in self._edit_paths(args)]
        if tool == "git":
            words = git_words(args)
            return [f"Bash({' '.join(words[:2])}:*)"]
        if tool == "run_command":
            found = split(str(args.get("command") or ""))
            out: list[str] = []
            for part in found.parts:
                if self._allowed_by(part, self.allow) is not None:
                    continue
                rule = _command_rule(part)
                if rule not in out:
                    out.append(rule)
            return out or [f"Bash({str(args.get('command') or '').strip()})"]
        return [tool]

    def _always_asks(self, tool: str, args: dict[str, Any]) -> bool:
        if tool == "git":
            return str(args.get("action") or "") == "push"
        if tool != "run_command":
            return False
        command = str(args.get("command") or "")
        found = split(command)
        if found.problem is not None or not found.parts:
            return True
        if any(part.program == "git" and "push" in part.words[1:2] for part in found.parts):
            return True
        from ai_workbench.core.safety.risk import classify

        return classify(command).level == "dangerous" or _secret_word(found.parts) is not None

    # --- reads -----------------------------------------------------------------------------

    def searchable(self, rel: str) -> bool:
        """Whether ``grep`` may look inside ``rel`` (a project-relative path): not a file whose
        reading would ask or be refused (a secret-looking file, a Read deny or ask rule)."""
        if any(path_rule_matches(rule, "read", rel) for rule in self.deny + self.ask):
            return False
        if confine.is_secret_file(rel):
            return any(
                rule.spec is not None and path_rule_matches(rule, "read", rel)
                for rule in self.allow + self.run_allow
            )
        return True

    def _read(self, tool: str, args: dict[str, Any]) -> Decision:
        name = str(args.get("path") or ".")
        try:
            _, rel = confine.resolve(self.project_root, name)
        except confine.OutsideProject as exc:
            return Decision("deny", str(exc))
        for rule in self.deny:
            if path_rule_matches(rule, "read", rel):
                return Decision("deny", f"a deny rule covers {rel}", rule.text)
        if tool == "read_file" and confine.is_secret_file(rel):
            for rule in self.allow + self.run_allow:
                if rule.spec is not None and path_rule_matches(rule, "read", rel):
                    return Decision("allow", f"an allow rule covers {rel}", rule.text)
            return Decision("ask", f"{rel} looks like it holds secrets (keys, passwords)")
        for rule in self.ask:
            if path_rule_matches(rule, "read", rel):
                return Decision("ask", f"an ask rule covers {rel}", rule.text)
        return Decision("allow", f"reads {rel or '.'} (reading is always allowed)")

    # --- writes ----------------------------------------------------------------------------

    def _edit_paths(self, args: dict[str, Any]) -> list[str]:
        if uses_diff(args):  # every file the diff touches, whatever ``path`` says
            from ai_workbench.core.patches import patch_paths

            try:
                return [self._rel_or_raw(p) for p in patch_paths(str(args["diff"]))]
            except Exception:  # an unreadable diff names nothing
                return []
        return [self._rel_or_raw(args.get("path") or "")]

    def _rel_or_raw(self, name: Any) -> str:
        try:
            return confine.resolve(self.project_root, str(name))[1] or "."
        except confine.OutsideProject:
            return str(name)

    def _write(self, tool: str, args: dict[str, Any]) -> Decision:
        if self.mode == "plan":
            return Decision("deny", "plan mode only reads; switch mode to change files")
        names = [name for name in self._edit_paths(args) if name.strip()]
        if not names:
            return Decision("deny", "the edit names no file")
        rels: list[str] = []
        for name in names:
            try:
                _, rel = confine.resolve(self.project_root, name)
            except confine.OutsideProject as exc:
                return Decision("deny", str(exc))
            if not rel or rel == ".":
                return Decision("deny", "the project directory itself is not a file")
            if confine.is_git_path(rel):
                return Decision("deny", f"{rel} is inside .git: git's own files are never written")
            rels.append(rel)
        for rel in rels:
            for rule in self.deny:
                if path_rule_matches(rule, "write", rel):
                    return Decision("deny", f"a deny rule covers {rel}", rule.text)
        for rel in rels:
            if confine.is_project_config(rel):
                return Decision("ask", f"{rel} holds aiw's project settings (the agent's rules)")
            if confine.is_secret_file(rel):
                return Decision("ask", f"{rel} looks like it holds secrets")
        if all(any(path_rule_matches(r, "write", rel) for r in self.run_allow) for rel in rels):
            return Decision("allow", "you allowed this for the run", self.run_allow[0].text)
        for rel in rels:
            for rule in self.ask:
                if path_rule_matches(rule, "write", rel):
                    return Decision("ask", f"an ask rule covers {rel}", rule.text)
        matched = [
            next((r for r in self.allow if path_rule_matches(r, "write", rel)), None)
            for rel in rels
        ]
        if all(matched):
            return Decision("allow", f"allowed by {matched[0].text}", matched[0].text)  # type: ignore[union-attr]
        if self.mode in ("auto-edit", "full-auto"):
            return Decision("allow", f"{self.mode} mode edits inside the project")
        what = "creates" if tool == "write_file" else "changes"
        return Decision("ask", f"{what} {', '.join(rels)} (ask mode confirms every change)")

    # --- commands --------------------------------------------------------------------------

    def _allowed_by(self, part: Part, rules: list[Rule]) -> Rule | None:
        return next((r for r in rules if bash_rule_matches(r, part, lenient=False)), None)

    def _command(self, command: str) -> Decision:
        if not command.strip():
            return Decision("deny", "the command is empty")
        if self.mode == "plan":
            return Decision("deny", "plan mode only reads; commands do not run")
        found = split(command)
        for part in found.parts:
            for rule in self.deny:
                if bash_rule_matches(rule, part, lenient=True):
                    where = f" ({part.note})" if part.note else ""
                    return Decision("deny", f"{part.text}{where} matches a deny rule", rule.text)
        for target in found.writes:
            try:
                _, rel = confine.resolve(self.project_root, target)
            except confine.OutsideProject:
                continue  # outside the project: the sandbox refuses it
            if confine.is_git_path(rel):
                return Decision("deny", f"it writes {rel}: git's own files are never written")
            if confine.is_project_config(rel):
                return Decision("ask", f"it writes {rel}, aiw's project settings")
        if found.problem is not None:
            return Decision("ask", f"not understood: {found.problem}")
        if not found.parts:
            return Decision("ask", "not understood: no command found in it")
        from ai_workbench.core.safety.risk import classify

        risk = classify(command)
        if risk.level == "dangerous":
            return Decision("ask", f"dangerous: {risk.reasons[0]}")
        secret = _secret_word(found.parts)
        if secret is not None:
            return Decision("ask", f"it names a secret-looking file ({secret})")
        if any(part.program == "git" and "push" in part.words[1:2] for part in found.parts):
            return Decision("ask", "git push sends commits to another machine: it always asks")
        if not self.sandboxed:
            return Decision("ask", "no OS sandbox works here, so every command asks")
        if all(self._allowed_by(part, self.run_allow) for part in found.parts):
            return Decision("allow", "you allowed this for the run", self.run_allow[0].text)
        for part in found.parts:
            for rule in self.ask:
                if bash_rule_matches(rule, part, lenient=True):
                    return Decision("ask", f"{part.text} matches an ask rule", rule.text)
        rules = [self._allowed_by(part, self.allow + self.run_allow) for part in found.parts]
        if all(rules):
            first = rules[0]
            return Decision("allow", f"allowed by {first.text}", first.text)  # type: ignore[union-attr]
        if self.mode == "full-auto":
            return Decision("allow", f"full-auto runs it in the sandbox ({risk.level})")
        missing = next(p.text for p, r in zip(found.parts, rules, strict=True) if r is None)
        return Decision("ask", f"{missing} is not allowed by a rule ({self.mode} mode asks)")

    # --- git -------------------------------------------------------------------------------

    def _git(self, args: dict[str, Any]) -> Decision:
        action = str(args.get("action") or "")
        if action not in GIT_ACTIONS:
            return Decision("deny", f"git {action or '(no action)'} is not one of the git tool's "
                            f"actions: {', '.join(sorted(GIT_ACTIONS))}")  # fmt: skip
        part = Part(tuple(git_words(args)))
        for rule in self.deny:
            if bash_rule_matches(rule, part, lenient=True):
                return Decision("deny", f"{part.text} matches a deny rule", rule.text)
        if action in GIT_READ:
            return Decision("allow", f"git {action} only reads")
        if self.mode == "plan":
            return Decision("deny", "plan mode only reads; git changes are not made")
        if action == "push":
            return Decision("ask", "git push sends commits to another machine: it always asks")
        if self._allowed_by(part, self.run_allow):
            return Decision("allow", "you allowed this for the run", self.run_allow[0].text)
        for rule in self.ask:
            if bash_rule_matches(rule, part, lenient=True):
                return Decision("ask", f"{part.text} matches an ask rule", rule.text)
        rule = self._allowed_by(part, self.allow)
        if rule is not None:
            return Decision("allow", f"allowed by {rule.text}", rule.text)
        if self.mode in ("auto-edit", "full-auto"):
            return Decision("allow", f"{self.mode} mode makes local git changes")
        return Decision("ask", f"git {action} changes the repository (ask mode confirms it)")

    # --- MCP -------------------------------------------------------------------------------

    def _mcp(self, name: str) -> Decision:
        if self.mode == "plan":
            return Decision("deny", "plan mode offers no MCP tools (they may change things)")
        for rule in self.deny:
            if mcp_rule_matches(rule, name):
                return Decision("deny", f"{name} matches a deny rule", rule.text)
        if any(mcp_rule_matches(r, name) for r in self.run_allow):
            return Decision("allow", "you allowed this for the run", name)
        for rule in self.ask:
            if mcp_rule_matches(rule, name):
                return Decision("ask", f"{name} matches an ask rule", rule.text)
        for rule in self.allow:
            if mcp_rule_matches(rule, name):
                return Decision("allow", f"allowed by {rule.text}", rule.text)
        return Decision("ask", f"{name} is an MCP tool not allowed by a rule")


def _secret_word(parts: list[Part]) -> str | None:
    """The first argument that names a credential file (``~/.ssh/id_rsa``, ``.env``, ``*.pem``,
    ``/etc/shadow``...), as the shell hook's classifier and the file tools know them."""
    from ai_workbench.core.safety.checks import CREDENTIAL

    for part in parts:
        for word in part.words[1:]:
            if word.startswith("-") and "=" not in word:
                continue
            value = word.split("=", 1)[1] if word.startswith("-") else word
            if CREDENTIAL.search(value) or confine.is_secret_file(value.strip("'\"")):
                return value
    return None


def uses_diff(args: dict[str, Any]) -> bool:
    """Whether an ``edit_file`` call is a unified diff (else an exact replacement in ``path``)."""
    return bool(args.get("diff")) and args.get("old_text") is None


def git_words(args: dict[str, Any]) -> list[str]:
    """The git command line the git tool runs for ``args`` (what rules are matched against)."""
    action = str(args.get("action") or "")
    paths = [str(p) for p in (args.get("paths") or []) if str(p)]
    if action == "status":
        return ["git", "status", "--short", "--branch"]
    if action == "diff":
        return ["git", "diff", *(["--staged"] if args.get("staged") else []), "--", *paths]
    if action == "log":
        count = max(1, min(int(args.get("max_count") or 20), 200))
        return ["git", "log", f"--max-count={count}", "--oneline", "--", *paths]
    if action == "show":
        return ["git", "show", "--stat", "--patch", str(args.get("ref") or "HEAD")]
    if action == "branches":
        return ["git", "branch", "--list"]
    if action == "add":
        return ["git", "add", "--", *(paths or ["."])]
    if action == "commit":
        return ["git", "commit", "-m", str(args.get("message") or "")]
    if action == "branch":
        return ["git", "branch", str(args.get("name") or "")]
    if action == "checkout_new_branch":
        return ["git", "checkout", "-b", str(args.get("name") or "")]
    if action == "push":
        words = ["git", "push", str(args.get("remote") or "origin")]
        return words + ([str(args["branch"])] if args.get("branch") else [])
    return ["git", action]


def _command_rule(part: Part) -> str:
    words = list(part.words)
    if part.as_root or part.program in ("rm", "sudo", "doas", "dd", "mkfs", "chmod", "chown"):
        return f"Bash({part.text})"  # never a blanket rule for these
    if part.program in _RUNS_CODE and words[1:2] != ["-m"]:
        return f"Bash({part.text})"  # a script or code: only this one
    keep = 1
    if part.program in _SUBCOMMANDS and len(words) > 1 and not words[1].startswith("-"):
        keep = 2
    if part.program.startswith("python") and words[1:2] == ["-m"] and len(words) > 2:
        keep = 3
    return f"Bash({' '.join(words[:keep])}:*)"


_RUNS_CODE = frozenset(
    {"sh", "bash", "zsh", "dash", "ksh", "fish", "python", "python3", "node", "perl", "ruby",
     "php", "lua", "deno", "bun", "eval", "source", ".", "xargs", "find", "env", "sudo"}
)  # fmt: skip
_LOOSER = {"plan": 0, "ask": 1, "auto-edit": 2, "full-auto": 3}


def _project_layer(settings: Any) -> tuple[dict[str, Any], dict[str, Any], Any] | None:
    """(the project layer's ``agent`` table, the user's own merged one, provenance), when a
    project ``.aiw.toml`` set anything."""
    inputs = getattr(settings, "_project_inputs", None)
    if not inputs:
        return None
    project, below, provenance = inputs
    agent = (getattr(project, "data", {}) or {}).get("agent") or {}
    return agent, (below.get("agent") or {}), (provenance, project)


def _layered_rules(settings: Any, trusted: bool) -> tuple[list[str], list[str], list[str]]:
    perms = settings.agent.permissions
    allow, ask, deny = list(perms.allow), list(perms.ask), list(perms.deny)
    layered = _project_layer(settings)
    if layered is None:
        return allow, ask, deny
    _agent, below, (provenance, project) = layered
    mine = below.get("permissions") or {}
    # A list set in .aiw.toml replaces the user's in the merge: the user's entries come back.
    ask = list(dict.fromkeys([*ask, *(mine.get("ask") or [])]))
    deny = list(dict.fromkeys([*deny, *(mine.get("deny") or [])]))
    if provenance.get(("agent", "permissions", "allow")) is project:
        allow = list(dict.fromkeys([*(mine.get("allow") or []), *(allow if trusted else [])]))
    return allow, ask, deny


def effective_mode(settings: Any, requested: str | None, *, trusted: bool) -> Mode:
    """The mode a run uses: ``requested`` (a flag) if given, else ``[agent] mode``; a mode set
    by an untrusted project's ``.aiw.toml`` counts only when it is stricter than the user's."""
    if requested:
        return requested  # type: ignore[return-value]
    mode: Mode = settings.agent.mode
    layered = _project_layer(settings)
    if layered is None or trusted:
        return mode
    _agent, below, (provenance, project) = layered
    if provenance.get(("agent", "mode")) is project:
        user_mode = below.get("mode") or "ask"
        if _LOOSER.get(mode, 1) > _LOOSER.get(user_mode, 1):
            return user_mode  # type: ignore[return-value]
    return mode


def effective_network(settings: Any, *, trusted: bool) -> bool:
    """``[agent] network``, ignoring ``true`` from an untrusted project's ``.aiw.toml``."""
    layered = _project_layer(settings)
    if settings.agent.network and layered is not None and not trusted:
        _agent, below, (provenance, project) = layered
        if provenance.get(("agent", "network")) is project:
            return bool(below.get("network", False))
    return bool(settings.agent.network)


# How much a sandbox setting lets commands do unasked: "none" makes every command ask; bwrap
# keeps .git read-only; "auto" may fall back to Landlock, which cannot.
_SANDBOX_LOOSENESS = {"none": 0, "bwrap": 1, "auto": 2, "landlock": 3}


def effective_sandbox(settings: Any, *, trusted: bool) -> str:
    """``[agent] sandbox``, where a looser one set by an untrusted project's ``.aiw.toml``
    (``landlock`` leaves ``.git`` writable; a sandbox where the user chose none) does not count."""
    chosen = str(settings.agent.sandbox)
    layered = _project_layer(settings)
    if layered is None or trusted:
        return chosen
    _agent, below, (provenance, project) = layered
    if provenance.get(("agent", "sandbox")) is project:
        user = str(below.get("sandbox") or "auto")
        if _SANDBOX_LOOSENESS.get(chosen, 3) > _SANDBOX_LOOSENESS.get(user, 2):
            return user
    return chosen


def project_loosened(settings: Any, key: str, *, trusted: bool) -> Any:
    """The user's own ``[agent] key`` when an untrusted project's ``.aiw.toml`` set a looser
    one (a larger limit, MCP servers the user did not list); ``None``: the merged value stands.
    For limits (numbers), ``mcp_servers`` (a list) and ``check_command`` (a command)."""
    layered = _project_layer(settings)
    if layered is None or trusted:
        return None
    _agent, below, (provenance, project) = layered
    if provenance.get(("agent", key)) is not project:
        return None
    from ai_workbench.core.settings import AgentSettings

    default = AgentSettings.model_fields[key].get_default(call_default_factory=True)
    mine = below.get(key, default)
    theirs = getattr(settings.agent, key)
    if isinstance(theirs, list):
        looser = bool(set(theirs) - set(mine or []))
    elif isinstance(theirs, str):  # a command the project chose (check_command)
        looser = theirs != mine and theirs.strip().lower() not in ("off", "none", "")
    elif theirs is None:
        looser = mine is not None
    else:
        looser = mine is not None and theirs > mine
    return (list(mine or []) if isinstance(theirs, list) else mine) if looser else None
