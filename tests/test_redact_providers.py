"""Provider token families (issue 13, item 8): every family in every channel.

The samples are GENERATED at test time: a family's prefix plus a random body in its alphabet
and length, so no real-looking live secret is ever committed. Each is checked in the prompt
(what the fake LLM receives from `aiw ask`), an attached file, shell output (the shell
analysis prompt), an indexed document (the grounding section `aiw ask --kb` sends) and an AI!
comment (the watch prompt). Ordinary code with look-alikes (UUIDs, git SHAs, base64 of plain
data, CSS colours) stays untouched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
import uuid
from collections.abc import Callable

import pytest

from ai_workbench.core.redact import redact, redact_text
from tests.conftest import IsolatedEnv, RunAiw
from tests.fake_llm import FakeLLM

ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
LOWER = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


def rnd(n: int, alphabet: str = ALNUM) -> str:
    """``n`` random characters; with letters and digits both present when the alphabet has
    both (so a sample always looks like the random token it stands for)."""
    mixed = any(c.isdigit() for c in alphabet) and any(c.isalpha() for c in alphabet)
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(n))
        if (
            not mixed
            or n < 8
            or (any(c.isdigit() for c in value) and any(c.isalpha() for c in value))
        ):
            return value


def uid() -> str:
    return str(uuid.uuid4())


# kind -> () -> (text to plant, the secret part that must not survive)
Sample = Callable[[], tuple[str, str]]


def whole(make: Callable[[], str]) -> Sample:
    def sample() -> tuple[str, str]:
        value = make()
        return value, value

    return sample


def telegram() -> tuple[str, str]:
    secret = "A" + rnd(34, ALNUM + "_-")
    return f"{secrets.randbelow(10**9) + 10**9}:{secret}", secret


def teams() -> tuple[str, str]:
    path = f"{uid()}@{uid()}/IncomingWebhook/{rnd(32, HEX)}/{uid()}"
    return f"https://acme.webhook.office.com/webhookb2/{path}", path


def discord() -> tuple[str, str]:
    secret = rnd(68, ALNUM + "_-")
    return f"https://discord.com/api/webhooks/{secrets.randbelow(10**17) + 10**17}/{secret}", secret


FAMILIES: dict[str, list[Sample]] = {
    "sendgrid-api-key": [whole(lambda: f"SG.{rnd(22, ALNUM + '_-')}.{rnd(43, ALNUM + '_-')}")],
    "digitalocean-token": [
        whole(lambda: f"dop_v1_{rnd(64, HEX)}"),
        whole(lambda: f"doo_v1_{rnd(64, HEX)}"),
        whole(lambda: f"dor_v1_{rnd(64, HEX)}"),
    ],
    "artifactory-token": [whole(lambda: f"AKCp{rnd(69)}"), whole(lambda: f"cmVmd{rnd(59)}")],
    "1password-secret-key": [
        whole(
            lambda: (
                f"A3-{rnd(6, UPPER)}-{rnd(11, UPPER)}-{rnd(5, UPPER)}-{rnd(5, UPPER)}-"
                f"{rnd(5, UPPER)}"
            )
        )
    ],
    "1password-token": [whole(lambda: f"ops_eyJ{rnd(260, B64)}")],
    "adobe-client-secret": [whole(lambda: f"p8e-{rnd(32)}")],
    "age-secret-key": [whole(lambda: f"AGE-SECRET-KEY-1{rnd(58, BECH32)}")],
    "alibaba-access-key-id": [whole(lambda: f"LTAI{rnd(20)}")],
    "atlassian-api-token": [whole(lambda: f"ATATT3{rnd(186)}")],
    "aws-access-key-id": [
        whole(lambda: f"ABIA{rnd(16, UPPER)}"),
        whole(lambda: f"ACCA{rnd(16, UPPER)}"),
        whole(lambda: f"A3TX{rnd(16, UPPER)}"),
    ],
    "clickhouse-api-key": [whole(lambda: f"4b1d{rnd(38)}")],
    "clojars-token": [whole(lambda: f"CLOJARS_{rnd(60, LOWER)}")],
    "cloudflare-origin-ca-key": [whole(lambda: f"v1.0-{rnd(24, HEX)}-{rnd(146, HEX)}")],
    "databricks-token": [whole(lambda: f"dapi{rnd(32, HEX)}")],
    "doppler-token": [whole(lambda: f"dp.pt.{rnd(43)}")],
    "duffel-token": [whole(lambda: f"duffel_live_{rnd(43)}")],
    "dynatrace-token": [whole(lambda: f"dt0c01.{rnd(24)}.{rnd(64)}")],
    "easypost-token": [whole(lambda: f"EZAK{rnd(54)}"), whole(lambda: f"EZTK{rnd(54)}")],
    "facebook-token": [whole(lambda: f"EAAC{rnd(120)}")],
    "square-token": [whole(lambda: f"EAAA{rnd(40)}"), whole(lambda: f"sq0atp-{rnd(22)}")],
    "flutterwave-key": [whole(lambda: f"FLWSECK_TEST-{rnd(32, 'abcdefgh0123456789')}-X")],
    "flyio-token": [whole(lambda: f"fo1_{rnd(43)}"), whole(lambda: f"fm2_{rnd(120, B64)}")],
    "frameio-token": [whole(lambda: f"fio-u-{rnd(64)}")],
    "gitlab-token": [
        whole(lambda: f"GR1348941{rnd(20)}"),
        whole(lambda: f"glffct-{rnd(20)}"),
    ],
    "gitlab-session-cookie": [whole(lambda: f"_gitlab_session={rnd(32, LOWER)}")],
    "grafana-token": [
        whole(lambda: f"eyJrIjoi{rnd(80)}"),
        whole(lambda: f"glc_{rnd(40)}"),
        whole(lambda: f"glsa_{rnd(32)}_{rnd(8, HEX)}"),
    ],
    "harness-token": [whole(lambda: f"pat.{rnd(22)}.{rnd(24)}.{rnd(20)}")],
    "terraform-token": [whole(lambda: f"{rnd(14, LOWER)}.atlasv1.{rnd(64)}")],
    "heroku-api-key": [whole(lambda: f"HRKU-AA{rnd(58)}")],
    "huggingface-token": [whole(lambda: f"api_org_{rnd(34, string.ascii_letters)}")],
    "infracost-token": [whole(lambda: f"ico-{rnd(32)}")],
    "intra42-secret": [whole(lambda: f"s-s4t2ud-{rnd(64, HEX)}")],
    "linear-api-key": [whole(lambda: f"lin_api_{rnd(40)}")],
    "maxmind-license-key": [whole(lambda: f"{rnd(6)}_{rnd(29)}_mmk")],
    "notion-token": [whole(lambda: f"ntn_{rnd(11, string.digits)}{rnd(35)}")],
    "octopus-api-key": [whole(lambda: f"API-{rnd(26, UPPER)}")],
    "openshift-token": [whole(lambda: f"sha256~{rnd(43)}")],
    "perplexity-api-key": [whole(lambda: f"pplx-{rnd(48)}")],
    "planetscale-token": [whole(lambda: f"pscale_tkn_{rnd(40)}")],
    "postman-api-key": [whole(lambda: f"PMAK-{rnd(24, HEX)}-{rnd(34, HEX)}")],
    "prefect-api-key": [whole(lambda: f"pnu_{rnd(36)}")],
    "pulumi-token": [whole(lambda: f"pul-{rnd(40, HEX)}")],
    "readme-api-key": [whole(lambda: f"rdme_{rnd(70, LOWER)}")],
    "rubygems-api-key": [whole(lambda: f"rubygems_{rnd(48, HEX)}")],
    "scalingo-token": [whole(lambda: f"tk-us-{rnd(48)}")],
    "brevo-api-key": [whole(lambda: f"xkeysib-{rnd(64, HEX)}-{rnd(16)}")],
    "sentry-token": [
        whole(lambda: f"sntryu_{rnd(64, HEX)}"),
        whole(lambda: f"sntrys_eyJ{rnd(80, B64)}"),
    ],
    "settlemint-token": [whole(lambda: f"sm_pat_{rnd(16)}")],
    "shippo-api-key": [whole(lambda: f"shippo_live_{rnd(40, HEX)}")],
    "shopify-token": [
        whole(lambda: f"shpat_{rnd(32, HEX)}"),
        whole(lambda: f"shpss_{rnd(32, HEX)}"),
    ],
    "slack-token": [whole(lambda: f"xoxe.xoxp-1-{rnd(150)}")],
    "sourcegraph-token": [whole(lambda: f"sgp_{rnd(16, HEX)}_{rnd(40, HEX)}")],
    "stripe-key": [whole(lambda: f"sk_prod_{rnd(24)}")],
    "stripe-webhook-secret": [whole(lambda: f"whsec_{rnd(32)}")],
    "telegram-bot-token": [telegram],
    "twilio-api-key": [whole(lambda: f"SK{rnd(32, HEX)}")],
    "vault-token": [whole(lambda: f"hvs.{rnd(100)}"), whole(lambda: f"hvb.{rnd(150)}")],
    "yandex-api-key": [whole(lambda: f"AQVN{rnd(36)}")],
    "yandex-token": [whole(lambda: f"t1.{rnd(20)}.{rnd(86)}")],
    "mailgun-api-key": [whole(lambda: f"key-{rnd(32, HEX)}")],
    "mailchimp-api-key": [whole(lambda: f"{rnd(32, HEX)}-us{secrets.randbelow(20) + 1}")],
    "new-relic-key": [
        whole(lambda: f"NRAK-{rnd(27, UPPER)}"),
        whole(lambda: f"NRII-{rnd(32)}"),
        whole(lambda: f"NRJS-{rnd(19, HEX)}"),
    ],
    "teams-webhook": [teams],
    "discord-webhook": [discord],
    "twitter-bearer-token": [whole(lambda: "A" * 22 + rnd(90))],
    "dropbox-token": [
        whole(lambda: f"sl.{rnd(140)}"),
        whole(lambda: f"{rnd(11)}AAAAAAAAAA{rnd(43)}"),
    ],
}
CASES = [(kind, make) for kind, makes in FAMILIES.items() for make in makes]
IDS = [f"{kind}-{i}" for kind, makes in FAMILIES.items() for i in range(len(makes))]


def planted() -> tuple[str, list[tuple[str, str]]]:
    """Prose with one fresh sample of every family on its own line; (text, [(kind, secret)])."""
    lines, expected = [], []
    for kind, make in CASES:
        text, secret = make()
        lines.append(f"the {kind.split('-')[0]} value we found is {text} (from the logs)")
        expected.append((kind, secret))
    return "\n".join(lines) + "\n", expected


def assert_clean(sent: str, expected: list[tuple[str, str]], where: str) -> None:
    leaked = [kind for kind, secret in expected if secret in sent]
    assert not leaked, f"{where}: {leaked} went out"
    missing = {kind for kind, _ in expected if f"[REDACTED:{kind}]" not in sent}
    assert not missing, f"{where}: no placeholder for {sorted(missing)}"


# --- the function ----------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "make"), CASES, ids=IDS)
def test_each_family_is_redacted_with_its_kind(kind: str, make: Sample) -> None:
    text, secret = make()
    for context in (f"{text}", f"x = '{text}'", f'"{text}",', f"see ({text}).", f"`{text}`"):
        result = redact(context)
        assert secret not in result.text, (kind, context, result.text)
        assert result.counts.get(kind) == 1, (kind, context, result.counts)
        assert redact_text(result.text) == result.text  # idempotent


def test_provider_named_keys_are_secret() -> None:
    value = rnd(24)
    for line in (
        f"SENDGRID_KEY={value}",
        f"algolia_admin_key: '{value}'",
        f'"stripeKey": "{value}"',
    ):
        assert value not in redact_text(line), line
    for line in (
        'sort_key = "created_at_desc"',
        'primary_key="user_id_and_name"',
        "keys = 12345678",
    ):
        assert redact_text(line) == line


def test_ordinary_code_is_not_redacted() -> None:
    blob = base64.b64encode(b"just some ordinary configuration text, nothing secret").decode()
    code = "\n".join(
        [
            f'request_id = "{uuid.uuid4()}"',
            f"commit {hashlib.sha1(b'x').hexdigest()} merged into main",
            f"sha256: {hashlib.sha256(b'y').hexdigest()}",
            f'ICON = "data:image/png;base64,{blob}"',
            ".button { color: #1a2b3c; background: #FFF; border-color: #a1b2c3d4; }",
            "def do_thing(skip_first=True, api_version='2024-01-01'): return do_v1_thing()",
            "SKIP_ALL_THE_TESTS = False  # NRAK is a word here, so is API-DOCS",
            "path = '/usr/share/doc/python3/examples/sl.txt'  # key-value store",
            "url = 'https://example.com/api/v1/users?page=2&sort=created_at'",
            "version = 'v1.0-rc1'; dapi = DataApi(); pat = re.compile(r'[a-z]+')",
            f"message_key = 'welcome_banner_title'; tag = 'sha256~{'a' * 10}'",
            "AAAAAAAAAA is how the test fixture pads its output",
            "time: 12345678:Abc is not a bot token",
        ]
    )
    assert redact_text(code) == code


# --- every channel ---------------------------------------------------------------------------


def _ask_sent(fake: FakeLLM) -> str:
    request = fake.chat_requests[-1]["json"]
    return "\n".join(str(m["content"]) for m in request["messages"])


def test_prompt_channel(run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv) -> None:
    text, expected = planted()
    fake_llm.reply = "ok"
    done = run_aiw("ask", "--model", "openai/echo", "--api-base", fake_llm.base_url, text)
    assert done.returncode == 0, done.stderr
    assert_clean(_ask_sent(fake_llm), expected, "prompt")
    stored = (isolated_env.aiw_data / "aiw.db").read_bytes()
    assert not [k for k, s in expected if s.encode() in stored], "stored in the database"


def test_attached_file_channel(
    run_aiw: RunAiw, fake_llm: FakeLLM, isolated_env: IsolatedEnv
) -> None:
    text, expected = planted()
    (isolated_env.work / "notes.txt").write_text(text)
    fake_llm.reply = "ok"
    done = run_aiw(
        "ask", "--model", "openai/echo", "--api-base", fake_llm.base_url, "-f", "notes.txt",
        "what is in this file?",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert_clean(_ask_sent(fake_llm), expected, "attached file")


def test_shell_output_channel(isolated_env: IsolatedEnv) -> None:
    from ai_workbench.shell.analysis import build_context, build_messages

    text, expected = planted()
    context = build_context(
        command="./deploy.sh", exit_code=1, output=text, cwd=str(isolated_env.work),
        level="minimal", history=[text.splitlines()[0]],
    )  # fmt: skip
    sent = "\n".join(m["content"] for m in build_messages(context))
    assert_clean(json.loads(json.dumps(sent)), expected, "shell analysis prompt")


def test_indexed_document_channel() -> None:
    from ai_workbench.knowledge.service import SearchHit, SearchResult, grounding_section

    text, expected = planted()
    hit = SearchHit(
        uid="u1", rel="docs/runbook.md", start=1, end=text.count("\n"), kind="text",
        title="Runbook", text=text, score=1.0, normalized=1.0,
    )  # fmt: skip
    section = grounding_section(SearchResult("runbook", [hit], 0.5, "lexical"), max_chars=10**6)
    assert section is not None
    assert_clean(section, expected, "knowledge grounding")


def test_ai_comment_channel() -> None:
    from ai_workbench.watch.comments import find_ai_comments
    from ai_workbench.watch.prompts import change_messages

    text, expected = planted()
    source = "".join(f"# {line}\n" for line in text.splitlines())
    source += f"def deploy():\n    pass  # use {expected[0][1]} here AI!\n"
    comments = find_ai_comments(source, "deploy.py")
    assert comments
    messages = change_messages(
        "deploy.py", source, comments, [], marker="AI!", context_lines=len(CASES) + 10
    )
    sent = "\n".join(m["content"] for m in messages)
    assert_clean(sent, expected, "watch prompt")
