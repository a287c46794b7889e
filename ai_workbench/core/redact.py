"""Secret redaction: the last step before anything leaves the machine or is stored.

aiw runs every chat prompt, attached file, piece of stdin, shell command output and history
entry through :func:`redact` first.  Secrets are replaced by ``[REDACTED:<kind>]``; for
assignment-style secrets the key (and any quotes) is kept and only the value replaced::

    >>> redact_text("password=hunter2 key=AKIAQWERTYUIOPASDFGH")
    'password=[REDACTED:password] key=[REDACTED:aws-access-key-id]'

Detection is pattern based (see docs/redaction.md): known token formats, PEM private-key
blocks, JWTs, bearer/basic credentials, passwords in URLs, ``password=``-style assignments of
literal values, and every value of a ``.env`` file.  All patterns are compiled once at import,
each is skipped unless a cheap literal trigger occurs in the text, and redacting already
redacted text changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "Redaction",
    "is_env_filename",
    "is_secret_name",
    "placeholder",
    "redact",
    "redact_env",
    "redact_text",
]


def placeholder(kind: str) -> str:
    """The text a secret of ``kind`` is replaced with: ``[REDACTED:<kind>]``."""
    return f"[REDACTED:{kind}]"


@dataclass
class Redaction:
    """The redacted text and how many secrets of each kind were replaced."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


# --- helpers -----------------------------------------------------------------------------

_PLACEHOLDER_MARK = "[REDACTED:"
_PLACEHOLDER_RE = re.compile(r"\[REDACTED:[a-z0-9-]+\]")

# Values that stand for a secret rather than being one: template references, elisions.
_STAND_IN_RE = re.compile(
    r"""
    \$\{\{.*\}\} | \{\{.*\}\}                      # ${{ secrets.X }}, {{ token }}
    | \$\{[^}]*\} | \$\(.*\) | \$[A-Za-z_]\w*        # ${X}, $(cmd), $X
    | <[^<>]*> | %\(\w+\)[sr] | %s | \{\w*\}          # <your-token>, %(pw)s, {pw}
    | \*+ | [xX]{3,} | \.{3,} | …                   # ****, xxxx, ...
    | (?:\[REDACTED:[a-z0-9-]+\])+
    """,
    re.VERBOSE,
)


def _is_stand_in(value: str) -> bool:
    return _PLACEHOLDER_MARK in value or _STAND_IN_RE.fullmatch(value) is not None


class _Counter:
    """Replacement counts, by kind."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, kind: str, n: int = 1) -> None:
        if n:
            self.counts[kind] = self.counts.get(kind, 0) + n


# --- token formats -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    """One pattern.  With a group named ``v`` only that group is replaced, else the match.

    ``triggers``: literal substrings of which at least one must occur for the (comparatively
    slow) regex to run; looked up in the lower-cased text when ``lower`` is true.
    ``check``: an extra test of the value; a match it refuses is left alone.
    """

    kind: str
    pattern: re.Pattern[str]
    triggers: tuple[str, ...]
    lower: bool = False
    check: Callable[[str], bool] | None = None


_B = r"(?<![A-Za-z0-9_-])"  # no token character before
_E = r"(?![A-Za-z0-9_-])"  # no token character after
_BODY = r"[A-Za-z0-9+/=\s\\:,._-]"  # PEM body: base64, headers, literal \n escapes in JSON


def _has_key_material(match: str) -> bool:
    """A PEM block with a base64 body, not just a BEGIN marker mentioned in code or prose."""
    return re.search(r"[A-Za-z0-9+/]{40}", match) is not None


def _looks_random(value: str) -> bool:
    """Opaque tokens mix digits or cases; prose words after "Bearer" do not."""
    return any(c.isdigit() for c in value) or (value.lower() != value and value.upper() != value)


def _not_stand_in(value: str) -> bool:
    return not _is_stand_in(value)


_RULES: tuple[_Rule, ...] = (
    _Rule(
        "private-key",
        re.compile(
            r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
            rf"(?:{_BODY}*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|{_BODY}*)"
        ),
        ("PRIVATE KEY",),
        check=_has_key_material,
    ),
    _Rule(
        "aws-access-key-id",
        re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
        ("AKIA", "ASIA"),
    ),
    _Rule("gcp-api-key", re.compile(rf"{_B}AIza[0-9A-Za-z_-]{{35}}{_E}"), ("AIza",)),
    _Rule(
        "gcp-private-key-id",
        re.compile(r"\"private_key_id\"\s*:\s*\"(?P<v>[0-9a-f]{40})\""),
        ("private_key_id",),
    ),
    _Rule(
        "azure-storage-key",
        re.compile(r"(?i)(?<![a-z])accountkey=(?P<v>[a-z0-9+/]{20,}={0,2})"),
        ("accountkey=",),
        lower=True,
    ),
    _Rule(
        "azure-shared-access-key",
        re.compile(r"(?i)(?<![a-z])sharedaccesskey=(?P<v>[a-z0-9+/]{20,}={0,2})"),
        ("sharedaccesskey=",),
        lower=True,
    ),
    _Rule("azure-sas-signature", re.compile(r"[?&;]sig=(?P<v>[A-Za-z0-9%+/=_-]{16,})"), ("sig=",)),
    _Rule(
        "github-token",
        re.compile(
            r"(?<![A-Za-z0-9_])"
            r"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{40,255})"
            r"(?![A-Za-z0-9_])"
        ),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    _Rule(
        "gitlab-token",
        re.compile(rf"{_B}gl(?:pat|dt|rt|ptt|ft|cbt|oas|soat|imt|agent)-[A-Za-z0-9_-]{{20,}}"),
        ("glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glcbt-", "gloas-", "glsoat-", "glimt-"),
    ),
    _Rule(
        "slack-token",
        re.compile(rf"{_B}(?:xox[abeoprs]|xapp)-[A-Za-z0-9-]{{10,}}"),
        ("xox", "xapp-"),
    ),
    _Rule(
        "slack-webhook",
        re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<v>[A-Za-z0-9_/-]{20,})"),
        ("hooks.slack.com/",),
    ),
    _Rule("anthropic-api-key", re.compile(rf"{_B}sk-ant-[A-Za-z0-9_-]{{20,}}"), ("sk-ant-",)),
    _Rule(
        "openai-api-key",
        re.compile(
            rf"{_B}sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{{20,}}"
            rf"|[A-Za-z0-9_-]*T3BlbkFJ[A-Za-z0-9_-]*|[A-Za-z0-9]{{32,}}{_E})"
        ),
        ("sk-",),
    ),
    _Rule(
        "stripe-key",
        re.compile(r"(?<![A-Za-z0-9_])[sr]k_(?:live|test)_[A-Za-z0-9]{16,}(?![A-Za-z0-9_])"),
        ("k_live_", "k_test_"),
    ),
    _Rule(
        "google-oauth-client-secret",
        re.compile(rf"{_B}GOCSPX-[A-Za-z0-9_-]{{20,}}"),
        ("GOCSPX-",),
    ),
    _Rule(
        "azure-client-secret",
        re.compile(
            r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])"
        ),
        ("Q~",),
    ),
    _Rule(
        "jwt",
        re.compile(rf"{_B}eyJ[A-Za-z0-9_-]{{5,}}\.eyJ[A-Za-z0-9_-]{{5,}}\.[A-Za-z0-9_-]*"),
        ("eyJ",),
    ),
    _Rule(
        "bearer-token",
        re.compile(r"(?i)\bbearer[ \t]+(?P<v>[a-z0-9._~+/-]{16,}=*)"),
        ("bearer",),
        lower=True,
        check=_looks_random,
    ),
    _Rule(
        "basic-auth",
        re.compile(
            r"(?i)authorization[\"']?[ \t]*[:=][ \t]*[\"']?[ \t]*"
            r"basic[ \t]+(?P<v>[a-z0-9+/]{6,}={0,2})"
        ),
        ("basic",),
        lower=True,
    ),
    _Rule(
        "basic-auth",
        re.compile(
            r"(?i)\bcurl\b[^\n|;&]*?[ \t](?:-u|--user)[ \t]*[\"']?[^\s:\"']*:(?P<v>[^\s\"']+)"
        ),
        ("curl",),
        lower=True,
        check=_not_stand_in,
    ),
    _Rule(
        "url-password",
        re.compile(r"://[^\s:/?#@'\"<>\[\]]{0,256}:(?P<v>[^\s/?#'\"<>]{1,256})@(?=[\w\[])"),
        ("://",),
        check=_not_stand_in,
    ),
    _Rule(
        "cookie",
        re.compile(r"(?i)(?<![\w-])(?:set-)?cookie:[ \t]*(?P<v>[^\r\n=;\"']+=[^\r\n\"']*)"),
        ("cookie:",),
        lower=True,
    ),
)


def _apply_rule(rule: _Rule, text: str, counter: _Counter) -> str:
    ph = placeholder(rule.kind)
    if "v" not in rule.pattern.groupindex and rule.check is None:
        text, n = rule.pattern.subn(ph, text)
        counter.add(rule.kind, n)
        return text
    has_value = "v" in rule.pattern.groupindex
    check = rule.check
    replaced = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal replaced
        if has_value:
            value = m.group("v")
            if check is not None and not check(value):
                return m.group(0)
            replaced += 1
            start, end = m.start(), m.end()
            return m.string[start : m.start("v")] + ph + m.string[m.end("v") : end]
        if check is not None and not check(m.group(0)):
            return m.group(0)
        replaced += 1
        return ph

    text = rule.pattern.sub(repl, text)
    counter.add(rule.kind, replaced)
    return text


# --- secret names --------------------------------------------------------------------------

_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD_SPLIT_RE = re.compile(r"[^a-z0-9]+")


def _words(name: str) -> list[str]:
    """``AWS_SECRET_ACCESS_KEY`` / ``x-api-key`` / ``apiKey`` → lower-case words."""
    return [w for w in _WORD_SPLIT_RE.split(_CAMEL_RE.sub("_", name).lower()) if w]


_ENV_SECRET_RE = re.compile(
    r"_(?:[A-Z0-9]*(?:PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|CREDENTIAL|APIKEY|ACCESSKEY"
    r"|PRIVATEKEY|SECRETKEY)S?|KEYS?|PWD|PASS|AUTH(?:ORIZATION|TOKEN)?|PRIVATE|SESSION|COOKIES?"
    r"|DSN|SAS|CONN_?STR(?:ING)?|CONNECTION_?STR(?:ING)?)(?=_)"
)

# Names that match the words above but hold nothing secret.
_ENV_NOT_SECRET = frozenset(
    {
        "PWD",
        "OLDPWD",
        "SSH_AUTH_SOCK",
        "DBUS_SESSION_BUS_ADDRESS",
        "DESKTOP_SESSION",
        "SESSION_MANAGER",
        "XDG_SESSION_CLASS",
        "XDG_SESSION_DESKTOP",
        "XDG_SESSION_ID",
        "XDG_SESSION_TYPE",
        "GNOME_KEYRING_CONTROL",
    }
)


def is_secret_name(name: str) -> bool:
    """Whether an environment variable (or config key) name looks like it holds a secret.

    Whole-word, case-insensitive: ``GITHUB_TOKEN``, ``AWS_SECRET_ACCESS_KEY``, ``DB_PASSWORD``,
    ``apiKey``, ``SENTRY_DSN``, ``AZURE_STORAGE_CONNECTION_STRING`` are; ``PWD``, ``OLDPWD``,
    ``KEYBOARD``, ``MAX_TOKENS_LIMIT`` and ``TOKENIZERS_PARALLELISM`` are not.  ``*_URL`` names
    are not secret by name; :func:`redact_env` masks credentials inside their values.
    """
    if name.upper() in _ENV_NOT_SECRET:
        return False
    normal = "_" + "_".join(_words(name)).upper() + "_"
    return _ENV_SECRET_RE.search(normal) is not None


# --- assignments: password=..., "api_key": "...", --token ... -----------------------------

# A key ending in a secret word, the separator, then the value is parsed in Python.
_ASSIGN_RE = re.compile(
    r"(?i)(?:pass(?:word|wd|phrase)?|pwd|secret|token|key|credentials?)\d*(?![\w-])"
    r"(?P<kq>[\"'`](?P<br>\])?)?"
    r"(?P<sp>[ \t]*)(?P<sep>=>|:=|=(?!=)|:(?![:/\\]))?[ \t]*"
)
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_QUOTED_RES = {
    q: re.compile(rf"{q}((?:[^{q}\\\n]|\\.)*){q}") for q in ("'", '"', "`")
}  # one-line string literal
_BARE_RE = re.compile(r"[^\s\"'`,;&)\]}]+")
_IDENT_RE = re.compile(r"[A-Za-z_]\w*")
_DOTTED_RE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
# `password: str = "..."`, `token: str | None = None`: a type annotation, then the value.
_ANNOTATION_RE = re.compile(
    r"[A-Za-z_][\w.]*(?:\[[\w., |\[\]]*\])?(?:[ \t]*\|[ \t]*[A-Za-z_][\w.]*(?:\[[\w., |\[\]]*\])?)*"
    r"[ \t]+=(?!=)[ \t]*"
)
_NOT_VALUES = frozenset(
    {"none", "null", "nil", "true", "false", "undefined", "nan", "yes", "no", "on", "off"}
)
_TYPE_NAMES = frozenset(
    {
        "str",
        "bytes",
        "int",
        "float",
        "bool",
        "any",
        "string",
        "number",
        "boolean",
        "object",
        "secretstr",
        "secretbytes",
        "optional",
        "text",
        "varchar",
        "char",
    }
)
_KEY_QUALIFIERS = frozenset(
    {
        "api",
        "access",
        "secret",
        "private",
        "encryption",
        "signing",
        "master",
        "auth",
        "subscription",
        "shared",
        "account",
        "client",
        "hmac",
        "license",
        "service",
        "app",
    }
)
_PASSWORD_WORDS = ("password", "passwd", "pwd")
_SECRET_ENDINGS = (
    *_PASSWORD_WORDS,
    "passphrase",
    "secret",
    "token",
    "apikey",
    "secretkey",
    "accesskey",
    "privatekey",
    "masterkey",
    "signingkey",
    "encryptionkey",
)


def _key_kind(key: str) -> str | None:
    """The kind of secret assigned to ``key``, or None when the name is not secret."""
    words = _words(key)
    if not words:
        return None
    last = words[-1].rstrip("0123456789") or words[-1]
    if len(words) == 1 and last in ("pwd", "oldpwd"):
        return None  # the shell's working directory
    if last in ("pass", "credential", "credentials"):
        secret = True
    elif last == "key":
        secret = len(words) > 1 and words[-2] in _KEY_QUALIFIERS
    else:
        secret = last.endswith(_SECRET_ENDINGS)
    if not secret:
        return None
    joined = "".join(words)
    if "secretaccesskey" in joined or ("aws" in words and "secret" in words):
        return "aws-secret-access-key"
    if "clientsecret" in joined and ("azure" in words or "arm" in words or "az" in words):
        return "azure-client-secret"
    if last.endswith(_PASSWORD_WORDS) or last in ("pass", "passphrase"):
        return "password"
    return "secret-assignment"


def _literal_ok(kind: str, value: str) -> bool:
    """Whether a literal value is worth redacting (not empty, a stand-in or a tiny word)."""
    if not value or _is_stand_in(value) or value.lower() in _NOT_VALUES:
        return False
    if kind == "password":
        return True
    # Tokens and keys are long and have no spaces; "string", "Bearer", "max 5" are not ones.
    return len(value) >= 8 and not any(c.isspace() for c in value)


def _bare_is_code(key: str, value: str, sep: str, spaced: bool, after: str) -> bool:
    """Whether an unquoted value is code (a call, a variable, a type) rather than a literal."""
    if value[0] in "$%{<@&*!-(":
        return True  # $VAR, %(x)s, {x}, <x>, *ptr, -flag
    if "(" in value or "[" in value or _DOTTED_RE.fullmatch(value):
        return True  # get_token(), os.environ["X"], self.password, settings.KEY
    lower = value.lower()
    if lower in _TYPE_NAMES or lower in _NOT_VALUES:
        return True
    if after and after in "\"'`":
        return True  # a string prefix: f"...", b'...'
    if _IDENT_RE.fullmatch(value):
        words = _words(key)
        if lower == "".join(words) or lower in words or lower == key.lower().lstrip("-$"):
            return True  # password=password (passing it on)
        if after and after in ",)}" and sep != " ":
            return True  # a keyword argument or object member: f(password=pw, ...)
        if "_" in value and not any(c.isdigit() for c in value):
            return True  # user_password, DEFAULT_TOKEN
        if spaced and value.islower() and value.isalpha() and sep in ("=", ":="):
            return True  # x = y style assignment of a lower-case variable
    return False


def _assignment_pass(text: str, counter: _Counter) -> str:
    pieces: list[str] = []
    done = 0  # text[:done] is already in pieces
    n = len(text)
    for m in _ASSIGN_RE.finditer(text):
        if m.start() < done:
            continue  # inside a value replaced already
        sep = m.group("sep")
        kq = m.group("kq")
        if sep is None:
            if not m.group("sp") or kq:
                continue
            sep = " "
        # the whole key: walk back over key characters
        ks = m.start()
        while ks > 0 and text[ks - 1] in _KEY_CHARS:
            ks -= 1
        key = text[ks : m.start("kq") if kq else m.start("sp")]
        quote = kq[0] if kq else ""
        if quote and (ks == 0 or text[ks - 1] != quote):
            continue
        if sep == " " and not key.startswith("--"):
            continue  # only command-line flags take their value after a space
        kind = _key_kind(key)
        if kind is None:
            continue
        pos = m.end()
        spaced = bool(m.group("sp")) or (pos > m.end("sep") if m.group("sep") else False)
        if sep == ":" and not quote:
            ann = _ANNOTATION_RE.match(text, pos)
            if ann is not None:  # `password: str = ...`: only a quoted literal counts
                pos = ann.end()
                if pos >= n or text[pos] not in "\"'`":
                    continue
        if pos >= n:
            continue
        first = text[pos]
        if first in "\"'`":
            qm = _QUOTED_RES[first].match(text, pos)
            if qm is None:
                continue
            vs, ve = qm.span(1)
            if not _literal_ok(kind, qm.group(1)):
                continue
        else:
            if quote:
                continue  # {"password": password} is code; JSON would quote the value
            bm = _BARE_RE.match(text, pos)
            if bm is None:
                continue
            vs, ve = bm.span()
            value = bm.group()
            after = text[ve] if ve < n else ""
            if _bare_is_code(key, value, sep, spaced, after):
                continue
            if not _literal_ok(kind, value):
                continue
            if kind != "password" and value.isdigit():
                continue
        pieces.append(text[done:vs])
        pieces.append(placeholder(kind))
        done = ve
        counter.add(kind)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


_XML_RE = re.compile(
    r"(?i)<(?P<tag>[\w.:-]*(?:password|passwd|passphrase|secret|token|key|credentials?))>"
    r"(?P<v>[^<\n]{1,1024})</(?P=tag)>"
)


def _xml_pass(text: str, counter: _Counter) -> str:
    def repl(m: re.Match[str]) -> str:
        kind = _key_kind(m.group("tag"))
        value = m.group("v").strip()
        if kind is None or not _literal_ok(kind, value):
            return m.group(0)
        counter.add(kind)
        return f"<{m.group('tag')}>{placeholder(kind)}</{m.group('tag')}>"

    return _XML_RE.sub(repl, text)


# --- .env files ----------------------------------------------------------------------------

_ENV_FILE_RE = re.compile(r"(?:^|[/\\])(?:\.env(?:\.[^/\\]*)?|[^/\\]+\.env|\.envrc)$", re.I)
_ENV_LINE_RE = re.compile(r"^[ \t]*(?:export[ \t]+)?[A-Za-z_][\w.-]*[ \t]*=[ \t]*", re.M)
_ENV_QUOTED_RES = {q: re.compile(rf"{q}((?:[^{q}\\]|\\.)*){q}", re.S) for q in ("'", '"', "`")}
_ENV_COMMENT_RE = re.compile(r"[ \t]+#")
_ENV_KIND = "env-value"


def is_env_filename(filename: str) -> bool:
    """``.env``, ``.env.*``, ``*.env`` and ``.envrc``, in any directory."""
    return _ENV_FILE_RE.search(filename) is not None


def _env_pass(text: str, counter: _Counter) -> str:
    """Replace the value of every ``KEY=value`` line; keys, quotes and comments stay."""
    ph = placeholder(_ENV_KIND)
    pieces: list[str] = []
    done = 0
    n = len(text)
    for m in _ENV_LINE_RE.finditer(text):
        if m.start() < done:
            continue  # inside a multi-line quoted value
        pos = m.end()
        if pos >= n or text[pos] in "\r\n":
            continue  # KEY=
        first = text[pos]
        qm = _ENV_QUOTED_RES[first].match(text, pos) if first in _ENV_QUOTED_RES else None
        if qm is not None:
            vs, ve = qm.span(1)
        else:
            eol = text.find("\n", pos)
            eol = n if eol < 0 else eol
            line = text[pos:eol].rstrip("\r")
            comment = _ENV_COMMENT_RE.search(line)
            if comment is not None:
                line = line[: comment.start()]
            vs, ve = pos, pos + len(line.rstrip())
        value = text[vs:ve]
        if not value or _PLACEHOLDER_RE.fullmatch(value):
            continue
        pieces.append(text[done:vs])
        pieces.append(ph)
        done = ve
        counter.add(_ENV_KIND)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


# Files as aiw attaches them to a prompt: File `path`:\n```lang\n...\n```
_FILE_BLOCK_RE = re.compile(
    r"^File `(?P<name>[^`\n]+)`:\n(?P<fence>`{3,}|~{3,})[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$",
    re.M | re.S,
)


def _env_blocks_pass(text: str, counter: _Counter) -> str:
    def repl(m: re.Match[str]) -> str:
        if not is_env_filename(m.group("name")):
            return m.group(0)
        body = _env_pass(m.group("body"), counter)
        return m.string[m.start() : m.start("body")] + body + m.string[m.end("body") : m.end()]

    return _FILE_BLOCK_RE.sub(repl, text)


# --- entry points --------------------------------------------------------------------------


def redact(text: str, *, filename: str | None = None) -> Redaction:
    """Replace every secret found in ``text`` by ``[REDACTED:<kind>]``.

    ``filename`` (a path or a bare name) tells which kind of file the text is: every value of
    a ``.env``/``.env.*``/``*.env``/``.envrc`` file is redacted.  Idempotent.
    """
    counter = _Counter()
    if not text:
        return Redaction(text, counter.counts)
    if filename is not None and is_env_filename(filename):
        text = _env_pass(text, counter)
    elif "File `" in text and ".env" in text:
        text = _env_blocks_pass(text, counter)
    lowered = text.lower()
    for rule in _RULES:
        haystack = lowered if rule.lower else text
        if any(trigger in haystack for trigger in rule.triggers):
            text = _apply_rule(rule, text, counter)
    text = _assignment_pass(text, counter)
    if "</" in text:
        text = _xml_pass(text, counter)
    return Redaction(text, counter.counts)


def redact_text(text: str, *, filename: str | None = None) -> str:
    """:func:`redact`, the text only."""
    return redact(text, filename=filename).text


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of an environment with secret-named values masked and the rest redacted.

    Values of secret-looking names (:func:`is_secret_name`) become ``[REDACTED:env-value]``;
    every other value goes through :func:`redact_text`, so ``DATABASE_URL`` keeps its host
    but loses the password, and a token in an innocently named variable is still caught.
    """
    masked: dict[str, str] = {}
    ph = placeholder(_ENV_KIND)
    for name, value in env.items():
        if value and is_secret_name(name) and not _PLACEHOLDER_RE.fullmatch(value):
            masked[name] = ph
        else:
            masked[name] = redact_text(value) if value else value
    return masked
