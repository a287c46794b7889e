"""Analyse a failed command: context tiers, redaction, the model's JSON, risk, cache, delivery.

The model is asked for ``{"explanation": markdown, "suggestions": [{"description", "command",
"risk_level"}]}``, through the server's structured output when it has one (``SCHEMA``,
core/llm/structured.py). :func:`parse_reply` accepts that JSON, JSON inside a code fence, JSON
with text around it, or JSON that json-repair can mend (stray quotes, ``//`` comments, a
missing brace), and otherwise keeps the whole text as the explanation with no fixes.
:func:`rate_fixes` drops fixes that only repeat the failed command or a line of the shell
history (small models copy them from the prompt), merges duplicates, and rates every command
again with :func:`ai_workbench.core.safety.risk.classify`; the stricter rating wins. Analyses
are cached by the normalised command + output.

Context tiers (``shell.context_level``): ``minimal`` (command, exit code, output, cwd),
``standard`` (+ the shell session's last 10 commands before the failed one, which the hook
sends with the event, file names in cwd, git status), ``detailed``
(+ ``uname -a``, environment variables that matter for failures, ``ls -la``). All of it goes
through :func:`ai_workbench.core.redact.redact_text`; variables with secret-looking names are
never read, whatever their value.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import stat
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ai_workbench.core.redact import is_secret_name, redact_text
from ai_workbench.core.safety.risk import classify, normalise_level, stricter
from ai_workbench.core.sanitize import strip_controls_deep

__all__ = [
    "Analysis",
    "ExplanationStream",
    "Fix",
    "build_context",
    "build_messages",
    "cache_key",
    "parse_reply",
    "rate_fixes",
]

SYSTEM_PROMPT = """You are aiw's shell assistant. A command failed in the user's terminal.
Explain briefly why it failed and how to fix it, for this user's situation.
Answer with one JSON object and nothing else:
{"explanation": "<Markdown, a few sentences>",
 "suggestions": [{"description": "<what it does>", "command": "<one shell command line>",
                  "risk_level": "safe" | "moderate" | "dangerous"}]}
Give at most 3 suggestions, the most likely fix first; an empty list when no command helps.
risk_level: "safe" changes nothing important or is easily undone; "moderate" changes files,
packages, services or remote state; "dangerous" can destroy data or lock the user out.
Parts of the input may read [REDACTED:...]: secrets were removed; never ask for them."""

ENV_NAMES = (
    "SHELL", "TERM", "LANG", "LC_ALL", "PATH", "VIRTUAL_ENV", "CONDA_DEFAULT_ENV",
    "PYENV_VERSION", "NODE_ENV", "GOPATH", "GOROOT", "JAVA_HOME", "CARGO_HOME", "RUSTUP_TOOLCHAIN",
    "KUBECONFIG", "DOCKER_HOST", "EDITOR", "PYTHONPATH", "LD_LIBRARY_PATH", "PKG_CONFIG_PATH",
    "HOME", "USER",
)  # fmt: skip
HISTORY_LINES = 10
MAX_FILES_LISTED = 60

#: The answer's JSON schema, sent as ``response_format`` where the server takes one.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "explanation": {"type": "string"},
        "suggestions": {
            "type": "array",
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "command": {"type": "string"},
                    "risk_level": {"type": "string", "enum": ["safe", "moderate", "dangerous"]},
                },
                "required": ["description", "command", "risk_level"],
            },
        },
    },
    "required": ["explanation", "suggestions"],
}


@dataclass(slots=True)
class Fix:
    description: str
    command: str
    risk_level: str
    model_risk: str | None = None
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "command": self.command,
            "risk_level": self.risk_level,
            "model_risk": self.model_risk,
            "reasons": list(self.reasons),
        }


@dataclass(slots=True)
class Analysis:
    explanation: str
    fixes: list[Fix]
    model: str | None = None
    cached: bool = False


# ------------------------------------------------------------------------------- context


def _git_status(cwd: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain=v1", "--branch", "--untracked-files=normal"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=3,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    lines = done.stdout.splitlines()
    return "\n".join(lines[:40] + ([f"... {len(lines) - 40} more"] if len(lines) > 40 else []))


def _names(cwd: str) -> list[str]:
    try:
        entries = sorted(os.scandir(cwd), key=lambda e: e.name)
    except OSError:
        return []
    names = [e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in entries]
    if len(names) > MAX_FILES_LISTED:
        names = [*names[:MAX_FILES_LISTED], f"... {len(names) - MAX_FILES_LISTED} more"]
    return names


def _ls_la(cwd: str) -> list[str]:
    rows: list[str] = []
    try:
        entries = sorted(os.scandir(cwd), key=lambda e: e.name)
    except OSError:
        return rows
    for entry in entries[:MAX_FILES_LISTED]:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(st.st_mtime))
        rows.append(f"{stat.filemode(st.st_mode)} {st.st_size:>10} {when} {entry.name}")
    return rows


def relevant_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment variables that explain failures; secret-looking names never."""
    out: dict[str, str] = {}
    for name in ENV_NAMES:
        if name in env and not is_secret_name(name):
            out[name] = redact_text(env[name])[:500]
    return out


def build_context(
    *,
    command: str,
    exit_code: int,
    output: str | None,
    cwd: str,
    level: str,
    shell: str = "",
    history: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    duration_ms: int | None = None,
    capture_note: str = "",
) -> dict[str, Any]:
    """What the model sees about a failure, redacted, for ``level``."""
    env = os.environ if env is None else env
    context: dict[str, Any] = {
        "command": redact_text(command),
        "exit_code": exit_code,
        "cwd": cwd,
        "output": redact_text(output) if output is not None else None,
    }
    if output is None:
        context["output_note"] = "output unavailable" + (
            f" ({capture_note})" if capture_note else ""
        )
    if shell:
        context["shell"] = shell
    if duration_ms is not None:
        context["duration_ms"] = duration_ms
    if level in ("standard", "detailed"):
        recent = [redact_text(str(line)) for line in history if str(line).strip()]
        if recent:
            context["history"] = recent[-HISTORY_LINES:]
        context["files"] = _names(cwd)
        git = _git_status(cwd)
        if git is not None:
            context["git_status"] = redact_text(git)
    if level == "detailed":
        uname = platform.uname()
        context["uname"] = " ".join(
            [uname.system, uname.node, uname.release, uname.version, uname.machine]
        )
        context["env"] = relevant_env(env)
        context["ls_la"] = _ls_la(cwd)
    return context


def build_messages(context: Mapping[str, Any]) -> list[dict[str, str]]:
    parts = [
        f"Command (exit code {context['exit_code']}, shell {context.get('shell') or 'unknown'}):",
        f"```\n{context['command']}\n```",
        f"Working directory: {context['cwd']}",
    ]
    if context.get("output") is not None:
        parts.append(
            f"Output (last part, stdout and stderr merged):\n```\n{context['output']}\n```"
        )
    else:
        parts.append(f"Output: {context.get('output_note', 'unavailable')}")
    for key, title in (
        ("history", "Recent shell history"),
        ("files", "Files in the working directory"),
        ("git_status", "git status"),
        ("uname", "uname -a"),
        ("env", "Environment"),
        ("ls_la", "ls -la"),
    ):
        value = context.get(key)
        if not value:
            continue
        if isinstance(value, dict):
            text = "\n".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            text = "\n".join(str(v) for v in value)
        else:
            text = str(value)
        parts.append(f"{title}:\n```\n{text}\n```")
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": redact_text("\n\n".join(parts))},
    ]


_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def cache_key(command: str, exit_code: int, output: str | None) -> str:
    """Same error, same key: whitespace collapsed, numbers (pids, times, ports) masked."""
    norm_cmd = _SPACE.sub(" ", command.strip())
    tail = (output or "")[-2000:]
    norm_out = _DIGITS.sub("0", _SPACE.sub(" ", tail.strip()))
    return hashlib.sha256(f"{norm_cmd}\0{exit_code}\0{norm_out}".encode()).hexdigest()


# ------------------------------------------------------------------------------- parsing

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)\n?```", re.DOTALL)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _first_object(text: str) -> Any:
    start = text.find("{")
    while start >= 0:
        try:
            value, _ = json.JSONDecoder().raw_decode(text[start:])
            return value
        except ValueError:
            start = text.find("{", start + 1)
    return None


def _repaired(text: str) -> Any:
    """json-repair's reading of the first JSON-looking part of ``text`` (None without one)."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        import json_repair

        return json_repair.loads(text[start:])
    except Exception:  # a repair that fails is just no candidate
        return None


def _reading(value: Any) -> tuple[str, list[dict[str, Any]]] | None:
    if not (isinstance(value, dict) and ("explanation" in value or "suggestions" in value)):
        return None
    explanation = str(value.get("explanation") or "").strip()
    raw = value.get("suggestions") or []
    items = [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []
    return explanation, items


def parse_reply(text: str) -> tuple[str, list[dict[str, Any]]]:
    """(explanation, raw suggestions) from the model's answer, with the fallbacks above."""
    fences = [m.group(1).strip() for m in _FENCE.finditer(text)]
    candidates = [_loads(text.strip())]
    candidates += [_loads(fenced) for fenced in fences]
    candidates.append(_first_object(text))
    for value in map(strip_controls_deep, candidates):  # decoded \u001b escapes are real ESCs
        reading = _reading(value)
        if reading is not None:
            return reading
    for source in [*fences, text]:
        reading = _reading(strip_controls_deep(_repaired(source)))
        if reading is not None:
            return reading
    return text.strip(), []


def _same_command(text: str) -> str:
    """A command line for comparison: whitespace collapsed, a leading ``$ `` prompt dropped."""
    line = _SPACE.sub(" ", text.strip())
    return line[2:] if line.startswith("$ ") else line


def rate_fixes(
    raw: Sequence[Mapping[str, Any]],
    *,
    failed: str | None = None,
    history: Sequence[str] = (),
) -> list[Fix]:
    """Suggestions with a command, each rated by the model and by aiw; the stricter wins.

    A suggestion that is the failed command itself or a line of the session's history, word
    for word, is dropped: it is the prompt copied back, not a fix. The same command suggested
    twice becomes one fix with the stricter of its ratings."""
    copied = {_same_command(line) for line in history if str(line).strip()}
    if failed:
        copied.add(_same_command(failed))
    fixes: list[Fix] = []
    by_command: dict[str, Fix] = {}
    for item in raw:
        command = str(item.get("command") or "").strip()
        if not command or _same_command(command) in copied:
            continue
        model_level = normalise_level(item.get("risk_level"))
        seen = by_command.get(_same_command(command))
        if seen is not None:
            if model_level is not None:
                seen.model_risk = stricter(seen.model_risk or model_level, model_level)
                seen.risk_level = stricter(seen.risk_level, model_level)
            continue
        ours = classify(command)
        level = stricter(model_level or "moderate", ours.level)
        fix = Fix(
            description=str(item.get("description") or "").strip(),
            command=command,
            risk_level=level,
            model_risk=model_level,
            reasons=ours.reasons,
        )
        by_command[_same_command(command)] = fix
        fixes.append(fix)
    return fixes


class ExplanationStream:
    """Pull the ``explanation`` string out of a JSON answer while it streams.

    ``feed(delta)`` returns the newly decoded explanation text (empty while the answer is
    still before it, or when it is not JSON at all; the caller prints the parsed result then).
    """

    _START = re.compile(r'"explanation"\s*:\s*"')

    def __init__(self) -> None:
        self.buffer = ""
        self._pos: int | None = None
        self.done = False

    def feed(self, delta: str) -> str:
        self.buffer += delta
        if self.done:
            return ""
        if self._pos is None:
            match = self._START.search(self.buffer)
            if match is None:
                return ""
            self._pos = match.end()
        out: list[str] = []
        i = self._pos
        buf = self.buffer
        while i < len(buf):
            ch = buf[i]
            if ch == '"':
                self.done = True
                i += 1
                break
            if ch == "\\":
                if i + 1 >= len(buf):
                    break
                esc = buf[i + 1]
                if esc == "u":
                    if i + 6 > len(buf):
                        break
                    with contextlib.suppress(ValueError):
                        out.append(chr(int(buf[i + 2 : i + 6], 16)))
                    i += 6
                    continue
                out.append({"n": "\n", "t": "\t", "r": "", "b": "", "f": ""}.get(esc, esc))
                i += 2
                continue
            out.append(ch)
            i += 1
        self._pos = i
        return "".join(out)


# ------------------------------------------------------------------------------ running


async def ask_model(
    loaded: Any,
    messages: list[dict[str, str]],
    on_text: Callable[[str], None] | None = None,
    *,
    structured: bool = False,
) -> tuple[str, str]:
    """Stream the analysis from the shell model (``shell.model``/``provider``, else the
    default chain); return (text, model). ``structured``: ask for :data:`SCHEMA` through the
    server's structured output. Raises ProviderError when every provider fails."""
    from ai_workbench.core.errors import ProviderError
    from ai_workbench.core.llm.engines import StreamResult, connection_options, stream_chat
    from ai_workbench.core.llm.profiles import check_allowed, resolve_chain
    from ai_workbench.core.llm.structured import OutputSchema

    settings = loaded.settings
    shell = settings.shell
    chain = resolve_chain(
        settings,
        model=shell.model or None,
        api_base=shell.api_base or None,
        provider=shell.provider or None,
    )
    last: ProviderError | None = None
    for provider in chain:
        result = StreamResult()
        try:
            check_allowed(provider, settings)
            async for text in stream_chat(
                provider,
                messages,
                result,
                **connection_options(settings, provider),
                temperature=0.2,
                schema=OutputSchema("shell_analysis", SCHEMA) if structured else None,
            ):
                if on_text is not None:
                    on_text(text)
            return result.text, provider.model
        except ProviderError as exc:
            last = exc
            if result.text:
                break
    assert last is not None
    raise last
