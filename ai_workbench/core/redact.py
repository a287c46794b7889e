"""Secret redaction: the last step before anything leaves the machine or is stored.

aiw runs every chat prompt, attached file, piece of stdin, shell command output and history
entry through :func:`redact` first.  Secrets are replaced by ``[REDACTED:<kind>]``; for
assignment-style secrets the key (and any quotes) is kept and only the value replaced::

    >>> redact_text("password=hunter2 id=AKIAIOSFODNN7EXAMPLE")
    'password=[REDACTED:password] id=[REDACTED:aws-access-key-id]'

Detection is pattern based (see docs/redaction.md): known token formats, PEM private-key
blocks, JWTs, bearer/basic credentials, passwords in URLs, ``password=``-style assignments of
literal values (not of code such as ``password = request.form["pw"]``), and every value of a
``.env`` file.  Redacting already redacted text changes nothing.

Speed: every pattern is compiled once and starts with a literal, so a scan costs about as
much as a ``str.find`` (case-insensitive ones run over an ASCII-lower-cased copy).  Non-ASCII
text is scanned as its UTF-8 bytes seen through Latin-1 (one character per byte); all
patterns are ASCII, so no match can start or end inside a multi-byte character.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

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


# --- helpers -------------------------------------------------------------------------------

_A = re.ASCII
_PLACEHOLDER_MARK = "[REDACTED:"
_PLACEHOLDER_RE = re.compile(r"(?:\[REDACTED:[a-z0-9-]+\])+", _A)
_WS = " \t\r\n\f\v"  # ASCII only: U+0085 and U+00A0 are UTF-8 continuation bytes here

# Values that stand for a secret rather than being one: references, templates, elisions.
_STAND_IN_RE = re.compile(
    r"""
    \$\{\{.*\}\} | \{\{.*\}\}                      # ${{ secrets.X }}, {{ token }}
    | \$\{[^}]*\} | \$\(.*\) | \$\w+                # ${X}, $(cmd), $X, $1
    | <[^<>]*> | \{\w*\}                            # <your-token>, {pw}
    | \*+ | [xX]{3,} | \.{3,} | \xe2\x80\xa6        # ****, xxxx, ..., an ellipsis (UTF-8)
    """,
    re.VERBOSE | _A,
)
# printf/format placeholders: '%s:%s' % (user, pw), "{}:{}".format(...)
_FORMAT_RE = re.compile(r"%(?:\(\w+\))?[-#0 +]?\d*(?:\.\d+)?[sdrif]|\{[\w.\[\]]*(?:![rsa])?\}", _A)


def _is_stand_in(value: str) -> bool:
    if _PLACEHOLDER_MARK in value or _STAND_IN_RE.fullmatch(value):
        return True
    if "%" in value or "{" in value:
        rest = _FORMAT_RE.sub("", value)
        return rest != value and not any(c.isalnum() for c in rest)
    return False


class _Counter:
    """Replacement counts, by kind."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, kind: str, n: int = 1) -> None:
        if n:
            self.counts[kind] = self.counts.get(kind, 0) + n


def _ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only; the length and every other character are kept."""
    return text.encode("latin-1").lower().decode("latin-1")


# --- token formats -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    """One token pattern.

    With a group named ``v`` only that group is replaced, else the whole match plus ``back``
    characters before it (for secrets whose literal anchor is not their first character).
    Every pattern starts with a literal, which ``re`` finds about as fast as ``str.find``;
    with ``lower`` the (lower-case) pattern runs over the ASCII-lower-cased text, which is
    how a case-insensitive match keeps that speed.  ``check``: an extra test of the value
    (taken from the original text); a match it refuses is left alone.  ``where``: a test of
    the (lower-cased) text around the match's start.
    """

    kind: str
    pattern: re.Pattern[str]
    lower: bool = False
    check: Callable[[str], bool] | None = None
    back: int = 0
    where: Callable[[str, int], bool] | None = None


_T = "A-Za-z0-9_-"  # token characters
# A PEM body without its END line (cut short): base64, headers, literal \n escapes in JSON.
_BODY = r"[A-Za-z0-9+/=\s\\:,._-]"


_KEY_MATERIAL_RE = re.compile(r"[A-Za-z0-9+/]{40}")
_COOKIE_VALUE_RE = re.compile(r"=\"?([A-Za-z0-9%._~+/-]{16,})")


def _has_key_material(match: str) -> bool:
    """A PEM block with a base64 body, not just a BEGIN marker mentioned in code or prose."""
    return _KEY_MATERIAL_RE.search(match) is not None


def _looks_random(value: str) -> bool:
    """Opaque tokens switch between digits, lower and upper case; words and IDs do not."""
    kinds = [0 if c.isdigit() else 1 if c.islower() else 2 for c in value if c.isalnum()]
    return sum(a != b for a, b in pairwise(kinds)) >= 3


def _not_stand_in(value: str) -> bool:
    return not _is_stand_in(value)


def _has_session_value(value: str) -> bool:
    """A cookie header carrying some long random value (not ``lang=en; path=/``)."""
    return any(_looks_random(v) for v in _COOKIE_VALUE_RE.findall(value))


_CURL_RE = re.compile(r"(?<![\w-])curl\b", re.A)


def _in_curl_command(lowered: str, pos: int) -> bool:
    """Whether ``pos`` is on a line that runs curl (``-u user:password``)."""
    lo = max(0, pos - 1024)
    line_start = lowered.rfind("\n", lo, pos) + 1 or lo
    return _CURL_RE.search(lowered, line_start, pos) is not None


# MySQL/MariaDB clients take the password glued to -p (`mysql -uroot -phunter2`; a bare -p
# prompts for it). Only on a line that runs one of them: elsewhere -pVALUE means other things.
_MYSQL_RE = re.compile(
    r"(?<![\w.-])(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlpump"
    r"|mysqlsh|mysqlslap|mysqlbinlog|mariadb|mariadb-dump|mariadb-admin|mariadb-import"
    r"|mariadb-check|mariadb-show|mariadb-slap|mariadb-binlog)(?![\w.-])",
    re.A,
)


def _in_mysql_command(lowered: str, pos: int) -> bool:
    """Whether ``pos`` is in the arguments of a MySQL/MariaDB client (same line, no ``;``,
    ``&`` or ``|`` in between)."""
    lo = max(0, pos - 1024)
    start = max(lowered.rfind(c, lo, pos) for c in "\n;&|") + 1 or lo
    return _MYSQL_RE.search(lowered, start, pos) is not None


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _A)


_RULES: tuple[_Rule, ...] = (
    _Rule(
        "private-key",
        _rx(
            r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[^\"'`]{0,65536}?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
            rf"|{_BODY}*)"
        ),
        check=_has_key_material,
    ),
    _Rule(
        "aws-access-key-id",
        _rx(r"A(?<![A-Za-z0-9]A)(?:KIA|SIA|BIA|CCA|3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])"),
    ),
    _Rule("gcp-api-key", _rx(rf"AIza(?<![{_T}]AIza)[{_T}]{{35}}(?![{_T}])")),
    _Rule("gcp-private-key-id", _rx(r"\"private_key_id\"\s*:\s*\"(?P<v>[0-9a-f]{40})\"")),
    _Rule(
        "azure-storage-key",
        _rx(r"accountkey=(?<![a-z]accountkey=)(?P<v>[a-z0-9+/]{20,}={0,2})"),
        lower=True,
    ),
    _Rule(
        "azure-shared-access-key",
        _rx(r"sharedaccesskey=(?<![a-z]sharedaccesskey=)(?P<v>[a-z0-9+/]{20,}={0,2})"),
        lower=True,
    ),
    _Rule("azure-sas-signature", _rx(r"sig=(?<=[?&;]sig=)(?P<v>[A-Za-z0-9%+/=_-]{16,})")),
    _Rule(
        "azure-client-secret",
        _rx(
            r"Q~(?<=(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.]{3}\dQ~)"
            r"[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])"
        ),
        back=4,
    ),
    _Rule(
        "github-token",
        _rx(r"gh[pousr]_(?<![A-Za-z0-9_]gh[pousr]_)[A-Za-z0-9]{36,251}(?![A-Za-z0-9_])"),
    ),
    _Rule(
        "github-token",
        _rx(r"github_pat_(?<![A-Za-z0-9_]github_pat_)[A-Za-z0-9_]{40,255}(?![A-Za-z0-9_])"),
    ),
    _Rule(
        "gitlab-token",
        _rx(rf"gl(?<![{_T}]gl)(?:pat|dt|rt|ptt|ft|ffct|cbt|oas|soat|imt|agent)-[{_T}]{{20,}}"),
    ),
    _Rule("slack-token", _rx(rf"x(?<![{_T}]x)(?:ox[abeoprs]|app)-\d[A-Za-z0-9-]{{9,}}")),
    _Rule(
        "slack-webhook",
        _rx(r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<v>[A-Za-z0-9_/-]{20,})"),
    ),
    _Rule(  # one scan for every sk- key; the group that matched names the kind
        "openai-api-key",
        _rx(
            rf"sk-(?<![{_T}]sk-)(?:(?P<k_anthropic_api_key>ant-[{_T}]{{20,}})"
            rf"|(?P<k_openrouter_api_key>or-v1-[0-9a-f]{{64}})(?![{_T}])"
            rf"|(?:proj|svcacct|admin|None)-[{_T}]{{20,}}"
            rf"|[{_T}]*T3BlbkFJ[{_T}]*|[A-Za-z0-9]{{32,}}(?![{_T}]))"
        ),
    ),
    _Rule("huggingface-token", _rx(r"hf_(?<![A-Za-z0-9_]hf_)[A-Za-z0-9]{34,}(?![A-Za-z0-9_])")),
    _Rule("groq-api-key", _rx(r"gsk_(?<![A-Za-z0-9_]gsk_)[A-Za-z0-9]{48,}(?![A-Za-z0-9_])")),
    _Rule("npm-token", _rx(r"npm_(?<![A-Za-z0-9_]npm_)[A-Za-z0-9]{36}(?![A-Za-z0-9_])")),
    _Rule("pypi-token", _rx(rf"pypi-(?<![{_T}]pypi-)AgE[{_T}]{{50,}}")),
    _Rule(
        "stripe-key",
        _rx(r"k_(?<=(?<![A-Za-z0-9_])[sr]k_)(?:live|test|prod)_[A-Za-z0-9]{16,}(?![A-Za-z0-9_])"),
        back=1,
    ),
    _Rule("google-oauth-client-secret", _rx(rf"GOCSPX-(?<![{_T}]GOCSPX-)[{_T}]{{20,}}")),
    _Rule("jwt", _rx(rf"eyJ(?<![{_T}]eyJ)[{_T}]{{5,}}\.eyJ[{_T}]{{5,}}\.[{_T}]*")),
    _Rule(
        "bearer-token",
        _rx(r"bearer(?<!\wbearer)[ \t]+(?P<v>[a-z0-9._~+/-]{16,}=*)"),
        lower=True,
        check=_looks_random,
    ),
    _Rule(
        "basic-auth",
        _rx(
            r"authorization[\"']?[ \t]*[:=][ \t]*[\"']?[ \t]*"
            r"basic[ \t]+(?P<v>[a-z0-9+/]{6,}={0,2})"
        ),
        lower=True,
    ),
    _Rule(
        "basic-auth",
        _rx(r"-(?<=[ \t]-)(?:u|-user=?)[ \t]*[\"']?[^\s:\"']*:(?P<v>[^\s\"']+)"),
        lower=True,
        where=_in_curl_command,
        check=_not_stand_in,
    ),
    _Rule(
        "aws-secret-access-key",
        _rx(
            r"aws_secret_access_key(?<![\w-]aws_secret_access_key)[ \t]+"
            r"(?P<v>[a-z0-9/+=]{40})(?![a-z0-9/+=])"
        ),
        lower=True,
    ),
    _Rule(  # SQL: CREATE USER .. PASSWORD '..'
        "password",
        _rx(r"password(?<![\w-]password)[ \t]+'(?P<v>[^'\n]{1,256})'"),
        lower=True,
        check=_not_stand_in,
    ),
    _Rule(  # SQL: .. IDENTIFIED BY '..'
        "password",
        _rx(r"identified(?<![\w-]identified)[ \t]+by[ \t]+'(?P<v>[^'\n]{1,256})'"),
        lower=True,
        check=_not_stand_in,
    ),
    _Rule(  # .netrc: machine host login bob password hunter2
        "password",
        _rx(r"login(?<![\w-]login)[ \t]+[^\s]+[ \t]+password[ \t]+(?P<v>[^\s]+)"),
        lower=True,
        check=_not_stand_in,
    ),
    _Rule(  # mysql -uroot -phunter2 / -p'two words' (a bare -p prompts: no value, no match)
        "password",
        _rx(r"-(?<=[ \t]-)p(?P<v>'[^'\n]+'|\"[^\"\n]+\"|[^\s'\"]+)"),
        where=_in_mysql_command,
        check=_not_stand_in,
    ),
    _Rule(
        "url-password",
        _rx(r"://[^\s:/?#@'\"<>\[\]]{0,256}:(?P<v>[^\s/?#'\"<>]{1,256})@(?=[\w\[])"),
        check=_not_stand_in,
    ),
    _Rule(
        "cookie",
        _rx(
            r"cookie:(?:(?<=set-cookie:)|(?<![\w-]cookie:))"
            r"[ \t]*(?P<v>[^\r\n=;\"']{1,256}+=[^\r\n\"']*)"
        ),
        lower=True,
        check=_has_session_value,
    ),
)


# Provider token families, after the shapes secret scanners know (gitleaks' default rules):
# each a distinctive literal prefix, a body of the provider's alphabet and length, and a
# boundary on both sides, so a scan costs about one ``str.find`` per family.
_B64 = "A-Za-z0-9+/="


def _token(
    kind: str,
    prefix: str,
    body: str,
    *,
    end: str = _T,
    check: Callable[[str], bool] | None = None,
) -> _Rule:
    """``prefix`` (a literal) + ``body`` (a regex), not inside a longer token."""
    lit = re.escape(prefix)
    rule = _Rule(kind, _rx(f"{lit}(?<![{_T}]{lit}){body}(?![{end}])"), check=check)
    _NEEDLES[id(rule)] = prefix
    return rule


_NEEDLES: dict[int, str] = {}  # provider rule -> a literal every match contains


def _needle(rule: _Rule, needle: str) -> _Rule:
    _NEEDLES[id(rule)] = needle
    return rule


def _body_has_digit_and_letter(prefix: str) -> Callable[[str], bool]:
    """A random body mixes digits and letters (``API-DOCUMENTATION…`` is prose, not a key)."""

    def check(value: str) -> bool:
        body = value[len(prefix) :]
        return any(c.isdigit() for c in body) and any(c.isalpha() for c in body)

    return check


_PROVIDER_RULES: tuple[_Rule, ...] = (
    _token("sendgrid-api-key", "SG.", r"[\w-]{16,32}\.[\w-]{16,64}", end=f".{_T}"),
    _token("digitalocean-token", "dop_v1_", r"[a-f0-9]{64}"),
    _token("digitalocean-token", "doo_v1_", r"[a-f0-9]{64}"),
    _token("digitalocean-token", "dor_v1_", r"[a-f0-9]{64}"),
    _token("artifactory-token", "AKCp", r"[A-Za-z0-9]{69}"),
    _token("artifactory-token", "cmVmd", r"[A-Za-z0-9]{59}"),
    _token(
        "1password-secret-key",
        "A3-",
        r"[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}",
    ),
    _token("1password-token", "ops_eyJ", r"[A-Za-z0-9+/]{250,}={0,3}", end=_B64),
    _token("adobe-client-secret", "p8e-", r"[A-Za-z0-9]{32}"),
    _token("age-secret-key", "AGE-SECRET-KEY-1", r"[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
    _token("alibaba-access-key-id", "LTAI", r"[A-Za-z0-9]{20}"),
    _token("atlassian-api-token", "ATATT3", r"[A-Za-z0-9_=-]{186}"),
    _token("clickhouse-api-key", "4b1d", r"[A-Za-z0-9]{38}", check=_looks_random),
    _token("clojars-token", "CLOJARS_", r"[A-Za-z0-9]{60}"),
    _token("cloudflare-origin-ca-key", "v1.0-", r"[a-f0-9]{24}-[a-f0-9]{146}"),
    _token("databricks-token", "dapi", r"[a-f0-9]{32}(?:-\d)?"),
    _token("doppler-token", "dp.", r"(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}"),
    _token("duffel-token", "duffel_", r"(?:test|live)_[A-Za-z0-9_=-]{43}"),
    _token("dynatrace-token", "dt0c01.", r"[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}"),
    _token("easypost-token", "EZAK", r"[A-Za-z0-9]{54}"),
    _token("easypost-token", "EZTK", r"[A-Za-z0-9]{54}"),
    _token("facebook-token", "EAA", r"[MC][A-Za-z0-9]{100,}"),
    _token("square-token", "EAAA", r"[\w-]{22,60}"),
    _token("square-token", "sq0", r"(?:atp|csp)-[\w-]{22,60}"),
    _token("flutterwave-key", "FLW", r"(?:SECK|PUBK)(?:_TEST)?-[a-h0-9]{12,32}(?:-X)?"),
    _token("flyio-token", "fo1_", r"[\w-]{43}"),
    _token("flyio-token", "fm", r"(?:1[ar]|2)_[A-Za-z0-9+/]{100,}={0,3}", end=_B64),
    _token("frameio-token", "fio-u-", r"[A-Za-z0-9_=-]{64}"),
    _token("gitlab-token", "GR1348941", r"[\w-]{20}"),
    _token("gitlab-session-cookie", "_gitlab_session=", r"[0-9a-z]{32}"),
    _token("grafana-token", "eyJrIjoi", r"[A-Za-z0-9]{70,400}={0,3}", end=_B64),
    _token("grafana-token", "glc_", r"[A-Za-z0-9+/]{32,400}={0,3}", end=_B64),
    _token("grafana-token", "glsa_", r"[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
    _token("harness-token", "pat.", r"[\w-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}"),
    _token("harness-token", "sat.", r"[\w-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}"),
    _needle(
        _Rule(
            "terraform-token",
            _rx(
                r"\.atlasv1\.(?<=(?<![A-Za-z0-9])[A-Za-z0-9]{14}\.atlasv1\.)[\w=-]{60,70}(?![\w=-])"
            ),
            back=14,
        ),
        ".atlasv1.",
    ),
    _token("heroku-api-key", "HRKU-AA", r"[\w-]{58}"),
    _token("huggingface-token", "api_org_", r"[A-Za-z]{34}"),
    _token("infracost-token", "ico-", r"[A-Za-z0-9]{32}"),
    _token("intra42-secret", "s-s4t2", r"(?:ud|af)-[a-f0-9]{64}"),
    _token("linear-api-key", "lin_api_", r"[A-Za-z0-9]{40}"),
    _needle(
        _Rule(
            "maxmind-license-key",
            _rx(r"_mmk(?<=(?<![\w-])[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk)(?![\w-])"),
            back=36,
        ),
        "_mmk",
    ),
    _token("notion-token", "ntn_", r"[0-9]{11}[A-Za-z0-9]{35}"),
    _token("octopus-api-key", "API-", r"[A-Z0-9]{26}", check=_body_has_digit_and_letter("API-")),
    _token("openshift-token", "sha256~", r"[\w-]{43}"),
    _token("perplexity-api-key", "pplx-", r"[A-Za-z0-9]{48}"),
    _token("planetscale-token", "pscale_", r"(?:tkn|oauth|pw)_[\w=.-]{32,64}", end=f".={_T}"),
    _token("postman-api-key", "PMAK-", r"[a-fA-F0-9]{24}-[a-fA-F0-9]{34}"),
    _token("prefect-api-key", "pnu_", r"[A-Za-z0-9]{36}"),
    _token("pulumi-token", "pul-", r"[a-f0-9]{40}"),
    _token("readme-api-key", "rdme_", r"[a-z0-9]{70}"),
    _token("rubygems-api-key", "rubygems_", r"[a-f0-9]{48}"),
    _token("scalingo-token", "tk-us-", r"[\w-]{48}"),
    _token("brevo-api-key", "xkeysib-", r"[a-f0-9]{64}-[A-Za-z0-9]{16}"),
    _token("brevo-api-key", "xsmtpsib-", r"[a-f0-9]{64}-[A-Za-z0-9]{16}"),
    _token("sentry-token", "sntryu_", r"[a-f0-9]{64}"),
    _token("sentry-token", "sntrys_", r"eyJ[A-Za-z0-9+/=_]{50,}", end=_B64),
    _token("settlemint-token", "sm_", r"(?:aat|pat|sat)_[A-Za-z0-9]{16}"),
    _token("shippo-api-key", "shippo_", r"(?:live|test)_[a-fA-F0-9]{40}"),
    _token("shopify-token", "shp", r"(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
    _token("slack-token", "xoxe.", r"xox[bp]-\d-[A-Za-z0-9]{100,}"),
    _token("sourcegraph-token", "sgp_", r"(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}"),
    _token("stripe-webhook-secret", "whsec_", r"[A-Za-z0-9+/]{32,}={0,2}", end=_B64),
    _needle(
        _Rule(  # <bot id>:<secret>: the id stays
            "telegram-bot-token", _rx(r":A(?<=\d{8}:A)(?P<v>[\w-]{34})(?![\w-])")
        ),
        ":A",
    ),
    _token("twilio-api-key", "SK", r"[0-9a-fA-F]{32}", check=_body_has_digit_and_letter("SK")),
    _token("vault-token", "hvs.", r"[\w-]{90,120}"),
    _token("vault-token", "hvb.", r"[\w-]{138,300}"),
    _token("yandex-api-key", "AQVN", r"[\w-]{35,38}"),
    _token("yandex-token", "t1.", r"[\w-]{1,64}={0,2}\.[\w-]{86}={0,2}", end=_B64),
    _token("mailgun-api-key", "key-", r"[a-f0-9]{32}", check=_body_has_digit_and_letter("key-")),
    _needle(
        _Rule(
            "mailchimp-api-key",
            _rx(r"-us(?<=(?<![A-Za-z0-9])[a-f0-9]{32}-us)\d{1,2}(?![A-Za-z0-9])"),
            back=32,
        ),
        "-us",
    ),
    _token("new-relic-key", "NRAK-", r"[A-Z0-9]{27}"),
    _token("new-relic-key", "NRII-", r"[\w-]{32}"),
    _token("new-relic-key", "NRJS-", r"[a-f0-9]{19}"),
    _needle(
        _Rule(
            "teams-webhook",
            _rx(r"webhook\.office\.com/webhookb2/(?P<v>[A-Za-z0-9@/-]{40,})"),
        ),
        "webhook.office.com/webhookb2/",
    ),
    _needle(
        _Rule(
            "discord-webhook",
            _rx(r"discord(?:app)?\.com/api/webhooks/\d+/(?P<v>[\w-]{60,})"),
        ),
        "/api/webhooks/",
    ),
    # twitter before dropbox: a bearer token's run of A's would look like a dropbox token
    _token("twitter-bearer-token", "AAAAAAAAAAAAAAAAAAAAA", r"A[A-Za-z0-9%]{80,100}"),
    _token("dropbox-token", "sl.", r"[\w=-]{130,}", end=f"={_T}"),
    _needle(
        _Rule(
            "dropbox-token",
            _rx(r"AAAAAAAAAA(?<=(?<![A-Za-z0-9])[A-Za-z0-9]{11}AAAAAAAAAA)[\w=-]{43}(?![\w=-])"),
            back=11,
        ),
        "AAAAAAAAAA",
    ),
)
_PROVIDER_NEEDLES = tuple(_NEEDLES[id(rule)] for rule in _PROVIDER_RULES)

# Every provider token is one run of at least this many token characters.
_RUN = 20
_RUN_TABLE = bytes(
    0x61 if chr(i).isascii() and (chr(i).isalnum() or chr(i) in "_-.+/=~:%@") else 0x20
    for i in range(256)
)


def _long_runs(work: str) -> str:
    """The runs of ``_RUN``+ token characters in ``work`` (one character per byte), joined.

    Ordinary text has few, so checking 70-odd provider prefixes against them costs far less
    than 70-odd scans of the whole text; ``bytes.translate`` and ``bytes.find`` of a long
    needle skip through the rest at memory speed.
    """
    mapped = work.encode("latin-1").translate(_RUN_TABLE)
    needle = b"a" * _RUN
    runs: list[str] = []
    pos = 0
    while (hit := mapped.find(needle, pos)) >= 0:
        start = mapped.rfind(b" ", pos, hit) + 1 or pos
        stop = mapped.find(b" ", hit + _RUN)
        stop = len(mapped) if stop < 0 else stop
        runs.append(work[start:stop])
        pos = stop
    return "\n".join(runs)


def _group_kinds(pattern: re.Pattern[str]) -> dict[str, str]:
    """Groups named ``k_<kind>`` give their match a more specific kind than the rule's."""
    return {g: g[2:].replace("_", "-") for g in pattern.groupindex if g.startswith("k_")}


def _apply_rule(rule: _Rule, text: str, lowered: str, counter: _Counter) -> str:
    has_value = "v" in rule.pattern.groupindex
    group_kinds = _group_kinds(rule.pattern)
    pieces: list[str] = []
    done = 0
    for m in rule.pattern.finditer(lowered if rule.lower else text):
        if has_value:
            start, end = m.span("v")
            value = text[start:end]
        else:
            start, end = m.start() - rule.back, m.end()
            value = text[start:end]
        if start < done or (rule.check is not None and not rule.check(value)):
            continue
        if rule.where is not None and not rule.where(lowered, m.start()):
            continue
        kind = rule.kind
        for group, specific in group_kinds.items():
            if m.group(group) is not None:
                kind = specific
                break
        pieces.append(text[done:start])
        pieces.append(placeholder(kind))
        done = end
        counter.add(kind)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


# --- secret names --------------------------------------------------------------------------

_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", _A)
_WORD_SPLIT_RE = re.compile(r"[^a-z0-9]+", _A)


def _words(name: str) -> list[str]:
    """``AWS_SECRET_ACCESS_KEY`` / ``x-api-key`` / ``apiKey`` → lower-case words."""
    return [w for w in _WORD_SPLIT_RE.split(_CAMEL_RE.sub("_", name).lower()) if w]


_ENV_SECRET_RE = re.compile(
    r"_(?:[A-Z0-9]*(?:PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|CREDENTIAL|APIKEY|ACCESSKEY"
    r"|PRIVATEKEY|SECRETKEY)S?|KEYS?|PWD|PASS|AUTH(?:ORIZATION|TOKEN)?|PRIVATE|SESSION|COOKIES?"
    r"|DSN|SAS|CONN_?STR(?:ING)?|CONNECTION_?STR(?:ING)?)(?=_)",
    _A,
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
    }
)


def is_secret_name(name: str) -> bool:
    """Whether an environment variable (or config key) name looks like it holds a secret.

    Whole words, any case: ``GITHUB_TOKEN``, ``AWS_SECRET_ACCESS_KEY``, ``DB_PASSWORD``,
    ``apiKey``, ``SENTRY_DSN``, ``AZURE_STORAGE_CONNECTION_STRING`` are; ``PWD``, ``OLDPWD``,
    ``SSH_AUTH_SOCK``, ``KEYBOARD_LAYOUT`` and ``TOKENIZERS_PARALLELISM`` are not.  ``*_URL``
    names are not secret by name: :func:`redact_env` masks credentials inside their values.
    """
    if name.upper() in _ENV_NOT_SECRET:
        return False
    normal = "_" + "_".join(_words(name)).upper() + "_"
    return _ENV_SECRET_RE.search(normal) is not None


# --- assignments: password=..., "api_key": "...", --token ..., <password>...</password> ----

# Each scan (over the ASCII-lower-cased text) finds a secret word ending a key, followed by
# a separator; the key, its kind and the value are then worked out in Python.
_ASSIGN_TAIL = (
    r"\d*(?![\w-])"
    r"(?P<kq>[\"'`](?P<br>\])?)?"
    r"(?P<sp>[ \t]*)(?:(?P<sep>=>|:=|=(?!=)|:(?![:/\\])|>)[ \t]*|(?<=[ \t]))"
)
_ASSIGN_RES = tuple(
    _rx(word + _ASSIGN_TAIL)
    for word in (r"pass(?:word|wd|phrase)?", "pwd", "secret", "token", "key", r"credentials?")
)
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
# Bounded, so that a long minified line costs no more than a short one.
_QUOTED_RES = {q: _rx(rf"{q}((?:[^{q}\\\n]|\\.){{0,2048}}+){q}") for q in ("'", '"', "`")}
_BARE_RE = _rx(r"[^\s\"'`,;&)\]}]{1,2048}+(?![^\s\"'`,;&)\]}])")
_IDENT_RE = _rx(r"[A-Za-z_]\w*")
_DOTTED_RE = _rx(r"[A-Za-z_]\w*(?:(?:\.|::|->)[A-Za-z_]\w*)+")
# `password: str = "..."`, `token: str | None = None`: an annotation, then the value.
_ANNOTATION_RE = _rx(
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
        "admin",
        "consumer",
        "ingest",
        "insert",
        "write",
        "management",
        "server",
        "webhook",
        "personal",
        "deploy",
        "oauth",
        "bot",
    }
)
# `<provider>_key`, `<provider>_admin_key`: a key named after a service is that service's key
# (the providers secret scanners know by keyword rather than by token shape).
_PROVIDER_WORDS = frozenset(
    """adafruit adobe airtable algolia alibaba amplitude anthropic asana atlassian auth0 aws
    azure beamer binance bitbucket bitly bittrex brevo circleci clickup cloudflare codecov
    cohere coinbase confluence confluent contentful databricks datadog deepseek digitalocean
    discord docker dockerhub doppler dropbox dynatrace etsy facebook fastly finicity finnhub
    firebase flickr freshbooks freshdesk gemini github gitlab gitter gocardless google
    grafana groq heroku hubspot huggingface intercom jfrog jira kraken kucoin launchdarkly
    linear linkedin mailchimp mailgun mandrill mapbox mattermost messagebird mistral mixpanel
    netlify newrelic notion npm nuget nytimes okta openai openrouter pagerduty paypal
    perplexity plaid postmark pusher pypi rapidapi replicate rubygems segment sendbird
    sendgrid sendinblue sentry shopify slack snyk sonar sparkpost square squarespace stripe
    sumologic supabase telegram travis twilio twitch twitter typeform vercel yandex
    zendesk""".split()  # noqa: SIM905
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


@lru_cache(maxsize=4096)
def _key_kind(key: str) -> str | None:
    """The kind of secret assigned to ``key``, or None when the name is not secret."""
    words = _words(key)
    if not words:
        return None
    last = words[-1].rstrip("0123456789") or words[-1]
    single = len(words) == 1
    if single and last in ("pwd", "oldpwd"):
        return None  # the shell's working directory
    if last == "pass":
        secret = not single or key.startswith("-")  # db_pass, --pass; not "First pass:"
    elif last in ("credential", "credentials"):
        secret = True
    elif last == "key":
        secret = not single and (
            words[-2] in _KEY_QUALIFIERS or any(w in _PROVIDER_WORDS for w in words[:-1])
        )
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
    if not value or value.lower() in _NOT_VALUES or _is_stand_in(value):
        return False
    if kind == "password":
        return True
    # Tokens and keys are long and have no spaces; "string", "Bearer", "max 5" are not ones.
    return len(value) >= 8 and not any(c in _WS for c in value) and not value.isdigit()


def _bare_is_code(key: str, value: str, sep: str, spaced: bool, after: str, rest: str) -> bool:
    """Whether an unquoted value is code (a call, a variable, a type) or prose, not a literal.

    ``after``: the character right after the value; ``rest``: the rest of its line.
    """
    if value[0] in "$%{<-(" or (spaced and value[0] in "@&*!"):
        return True  # $VAR, %(x)s, {x}, <x>, -flag; `= *ptr`, `= @password`, `= !x`
    if "(" in value or "[" in value or _DOTTED_RE.fullmatch(value):
        return True  # get_token(), os.environ["X"], self.password, settings.KEY
    lower = value.lower()
    if lower in _TYPE_NAMES or lower in _NOT_VALUES:
        return True
    if after and after in "\"'`":
        return True  # a string prefix: f"...", b'...'
    if spaced and sep != " " and rest and not rest.startswith(("#", "//", ";")):
        return True  # `token = a + b`, `password: The password to use.`
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


def _xml_value(text: str, key: str, pos: int) -> tuple[int, int] | None:
    """The span of ``value`` in ``<key>value</key>`` (pos is just after ``<key>``)."""
    end = text.find("<", pos, pos + 4096)
    if end < 0 or text[end : end + len(key) + 3].lower() != f"</{key.lower()}>":
        return None
    vs, ve = pos, end
    while vs < ve and text[vs] in _WS:
        vs += 1
    while ve > vs and text[ve - 1] in _WS:
        ve -= 1
    return (vs, ve) if "\n" not in text[vs:ve] else None


class _Candidate(NamedTuple):
    """A secret-named key and where its value starts."""

    key: str
    kind: str
    sep: str  # "=", ":", ":=", "=>", ">" (XML) or " " (command-line flag)
    quoted_key: bool
    spaced: bool  # blanks around the separator
    pos: int  # the value's first character


def _keyword_candidate(text: str, m: re.Match[str]) -> _Candidate | None:
    sep = m.group("sep")
    kq = m.group("kq")
    if sep is None:
        if kq:
            return None
        sep = " "
    # the whole key: walk back over key characters
    ks = m.start()
    while ks > 0 and text[ks - 1] in _KEY_CHARS:
        ks -= 1
    key = text[ks : m.start("kq") if kq else m.start("sp")]
    quote = kq[0] if kq else ""
    if quote and (ks == 0 or text[ks - 1] != quote):
        return None
    if sep == " " and not key.startswith("--"):
        return None  # only command-line flags take their value after a space
    if sep == ">" and (quote or m.group("sp") or ks == 0 or text[ks - 1] != "<"):
        return None  # not <key>
    kind = _key_kind(key)
    if kind is None:
        return None
    pos = m.end("sep") if sep == ">" else m.end()
    spaced = bool(m.group("sp")) or (sep != " " and m.end() > m.end("sep"))
    return _Candidate(key, kind, sep, bool(quote), spaced, pos)


# {"name": "DB_PASSWORD", "value": "..."}, `- name: X_TOKEN` + `value: ...` (Kubernetes,
# ECS), <add key="ApiKey" value="..."/> (.NET): the name comes before the value.
_NAMED_VALUE_RE = _rx(r"value(?<![\w-]value)(?P<q>[\"']?)(?P<sp>[ \t]*)(?P<sep>[:=])[ \t]*")
_VALUE_NAME_RE = _rx(
    r"(?<![\w-])(?:name|key)[\"']?[ \t]*[:=][ \t]*[\"']?(?P<name>[\w.-]{1,100})[\"']?"
    r"[ \t]*,?[ \t]*(?:\r?\n[ \t]*)?[\"']?$"
)


def _name_before(text: str, lowered: str, start: int) -> re.Match[str] | None:
    """The ``name: X``/``key="X"`` right before a ``value`` at ``start``, if any."""
    lo = max(0, start - 160)
    for word in ("name", "key"):
        end = start
        while (at := lowered.rfind(word, lo, end)) >= 0:
            named = _VALUE_NAME_RE.match(text, at, start)
            if named is not None:
                return named
            end = at
    return None


def _named_value_candidate(text: str, m: re.Match[str]) -> _Candidate | None:
    start = m.start()
    quote = m.group("q")
    if quote and (start == 0 or text[start - 1] != quote):
        return None
    named = _name_before(text, m.string, start)
    if named is None:
        return None
    kind = _key_kind(named.group("name"))
    if kind is None:
        return None
    spaced = bool(m.group("sp")) or m.end() > m.end("sep")
    return _Candidate(named.group("name"), kind, m.group("sep"), bool(quote), spaced, m.end())


def _value_span(text: str, c: _Candidate) -> tuple[int, int] | None:
    """Where the literal value of a candidate is, or None when it is code or no secret."""
    n = len(text)
    pos = c.pos
    if c.sep == ">":
        span = _xml_value(text, c.key, pos)
        if span is None or not _literal_ok(c.kind, text[span[0] : span[1]]):
            return None
        return span
    if c.sep == ":" and not c.quoted_key:
        ann = _ANNOTATION_RE.match(text, pos)
        if ann is not None:  # `password: str = ...`: only a quoted literal counts
            pos = ann.end()
            if pos >= n or text[pos] not in "\"'`":
                return None
    if pos >= n:
        return None
    first = text[pos]
    if first in "\"'`":
        qm = _QUOTED_RES[first].match(text, pos)
        if qm is None or not _literal_ok(c.kind, qm.group(1)):
            return None
        return qm.span(1)
    if c.quoted_key:
        return None  # {"password": password} is code; JSON would quote the value
    bm = _BARE_RE.match(text, pos)
    if bm is None:
        return None
    vs, ve = bm.span()
    value = bm.group()
    eol = text.find("\n", ve, ve + 200)
    rest = text[ve : ve + 200 if eol < 0 else eol].strip(_WS)
    after = text[ve] if ve < n else ""
    if _bare_is_code(c.key, value, c.sep, c.spaced, after, rest):
        return None
    if not _literal_ok(c.kind, value):
        return None
    return vs, ve


def _assignment_pass(text: str, lowered: str, counter: _Counter) -> str:
    candidates = [
        c for rx in _ASSIGN_RES for m in rx.finditer(lowered) if (c := _keyword_candidate(text, m))
    ]
    candidates += [
        c for m in _NAMED_VALUE_RE.finditer(lowered) if (c := _named_value_candidate(text, m))
    ]
    if not candidates:
        return text
    candidates.sort(key=lambda c: c.pos)
    pieces: list[str] = []
    done = 0  # text[:done] is already in pieces
    for c in candidates:
        if c.pos < done:
            continue  # inside a value replaced already
        span = _value_span(text, c)
        if span is None:
            continue
        pieces.append(text[done : span[0]])
        pieces.append(placeholder(c.kind))
        done = span[1]
        counter.add(c.kind)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


# --- .env files ----------------------------------------------------------------------------

_ENV_FILE_RE = re.compile(r"(?:^|[/\\])(?:\.env(?:\.[^/\\]*)?|[^/\\]+\.env|\.envrc)$", re.I)
_ENV_LINE_RE = re.compile(r"^[ \t]*(?:export[ \t]+)?[A-Za-z_][\w.-]*[ \t]*=[ \t]*", re.M | _A)
_ENV_QUOTED_RES = {
    q: re.compile(rf"{q}((?:[^{q}\\]|\\.){{0,65536}}+){q}", re.S) for q in ("'", '"', "`")
}
_ENV_COMMENT_RE = _rx(r"[ \t]+#")
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
            line = text[pos : n if eol < 0 else eol]
            comment = _ENV_COMMENT_RE.search(line)
            if comment is not None:
                line = line[: comment.start()]
            vs, ve = pos, pos + len(line.rstrip(_WS))
        if vs == ve or _PLACEHOLDER_RE.fullmatch(text, vs, ve):
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

    ``filename`` (a path or a bare name) says what the text is: every value of a ``.env``,
    ``.env.*``, ``*.env`` or ``.envrc`` file is redacted.  Files attached to a prompt as
    ``File `path`:`` + a fenced block are recognised too.  Idempotent.
    """
    counter = _Counter()
    if not text:
        return Redaction(text, counter.counts)
    ascii_only = text.isascii()
    # One character per UTF-8 byte: str.lower() and the scans stay on the fast 1-byte path.
    work = text if ascii_only else text.encode("utf-8", "surrogatepass").decode("latin-1")
    if filename is not None and is_env_filename(filename):
        work = _env_pass(work, counter)
    elif "File `" in work and ".env" in work:
        work = _env_blocks_pass(work, counter)
    lowered = _ascii_lower(work)
    runs = _long_runs(work)
    rules = _RULES + tuple(
        rule
        for rule, needle in zip(_PROVIDER_RULES, _PROVIDER_NEEDLES, strict=True)
        if needle in runs
    )
    for rule in rules:
        redacted = _apply_rule(rule, work, lowered, counter)
        if redacted is not work:
            work, lowered = redacted, _ascii_lower(redacted)
    work = _assignment_pass(work, lowered, counter)
    if not counter.counts:
        return Redaction(text, counter.counts)
    if not ascii_only:
        work = work.encode("latin-1").decode("utf-8", "surrogatepass")
    return Redaction(work, counter.counts)


def redact_text(text: str, *, filename: str | None = None) -> str:
    """:func:`redact`, the text only."""
    return redact(text, filename=filename).text


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of an environment with secret-named values masked and the rest redacted.

    Values of secret-looking names (:func:`is_secret_name`) become ``[REDACTED:env-value]``;
    every other value goes through :func:`redact_text`, so ``DATABASE_URL`` keeps its host
    but loses its password, and a token in an innocently named variable is still caught.
    """
    masked: dict[str, str] = {}
    ph = placeholder(_ENV_KIND)
    for name, value in env.items():
        if value and is_secret_name(name) and not _PLACEHOLDER_RE.fullmatch(value):
            masked[name] = ph
        else:
            masked[name] = redact_text(value) if value else value
    return masked
