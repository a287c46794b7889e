"""The Telegram channel's parts on their own: message splitting, Markdown as Telegram HTML
(checked by the fake Bot API's Telegram-like parser), token buckets, pairing codes in SQLite."""

from __future__ import annotations

import random
import re

import pytest

from ai_workbench.telegram.limits import RateLimiter
from ai_workbench.telegram.links import CODE_ALPHABET, TelegramLinks, normalize_code
from ai_workbench.telegram.markdown import to_telegram_html
from ai_workbench.telegram.split import split_message, utf16_len
from tests.fake_telegram import check_html

# --- splitting --------------------------------------------------------------------------------


def _fences_balance(piece: str) -> bool:
    opened = None
    for line in piece.split("\n"):
        match = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if match is None:
            continue
        if opened is None:
            opened = match[1]
        elif line.strip() and set(line.strip()) == {opened[0]} and len(line.strip()) >= len(opened):
            opened = None
    return opened is None


def _answer(seed: int) -> str:
    rng = random.Random(seed)
    parts = []
    for _ in range(rng.randint(5, 40)):
        if rng.random() < 0.35:
            body = "\n".join(f"value_{n} = {n} ** 2  # 🚀 step" for n in range(rng.randint(1, 250)))
            parts.append(f"```python\n{body}\n```")
        else:
            parts.append(" ".join(f"word{n}" for n in range(rng.randint(1, 400))))
    return "\n\n".join(parts)


@pytest.mark.parametrize("seed", range(25))
def test_pieces_fit_keep_fences_whole_and_lose_nothing(seed: int) -> None:
    text = _answer(seed)
    pieces = split_message(text, 4096)
    assert pieces
    for piece in pieces:
        assert utf16_len(piece) <= 4096  # the emoji counts twice, as Telegram counts it
        assert _fences_balance(piece), piece[:200]
    fence_lines = {"```python", "```"}
    original = [line for line in text.split("\n") if line.strip() and line not in fence_lines]
    kept = [line for p in pieces for line in p.split("\n") if line.strip()]
    kept = [line for line in kept if line not in fence_lines]
    assert "".join(kept).replace(" ", "") == "".join(original).replace(" ", "")


def test_a_cut_code_block_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"print({n})" for n in range(600))
    pieces = split_message(f"Intro.\n\n```python\n{code}\n```\n\nOutro.", 4096)
    assert len(pieces) >= 2
    assert pieces[0].endswith("```") and "```python" in pieces[0]
    assert pieces[1].startswith("```python\n")
    assert pieces[-1].endswith("Outro.")


def test_short_text_is_one_piece_and_a_huge_line_is_cut_at_spaces() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("   ") == []
    line = " ".join(["abcdefghi"] * 1000)  # 10 000 characters, no newline
    pieces = split_message(line, 4096)
    assert len(pieces) == 3
    assert all(utf16_len(p) <= 4096 for p in pieces)
    assert all(not p.startswith("bcdefghi") for p in pieces)  # cut between words


def test_pieces_of_a_growing_answer_stay_put() -> None:
    """A streamed answer is split again as it grows: finished pieces must not move."""
    text = _answer(3) + "\n\n" + _answer(4)
    settled: list[str] = []
    for end in range(2000, len(text), 997):
        pieces = split_message(text[:end], 4096)
        for index, piece in enumerate(settled[:-1]):
            assert pieces[index] == piece
        settled = pieces


# --- Markdown as Telegram HTML -----------------------------------------------------------------

MARKDOWN_SAMPLES = [
    "**bold** *it* ~~gone~~ `a<b>&c` [x](https://e.org/?a=1&b=2)",
    "# Heading <1>\n\nText & more\n\n## Sub",
    "- one\n- two **2**\n  - nested `n`\n1. first\n2. second",
    "> quoted *text*\n>\n> more",
    "```js\nif (a < b && c > d) { return '<tag>'; }\n```",
    "    indented code <x>\n\nafter",
    "| a | b |\n|---|---|\n| <1> | & |",
    "<script>alert(1)</script> and <b>raw</b> html",
    "[bad](javascript:alert(1)) ![img](https://e.org/i.png) auto https://e.org",
    "unclosed **bold and `code",
    "***\n\nline  \nbreak",
]


@pytest.mark.parametrize("markdown", MARKDOWN_SAMPLES)
def test_html_is_what_telegram_accepts(markdown: str) -> None:
    rendered = to_telegram_html(markdown)
    check_html(rendered)  # raises like Telegram's "can't parse entities"
    assert "<script" not in rendered


def test_html_formats_what_models_write() -> None:
    html = to_telegram_html(
        "## Plan\n\n1. **Read** the `config`\n2. Fix it\n\n```python\nx = 1 < 2\n```"
    )
    assert html == (
        "<b>Plan</b>\n\n1. <b>Read</b> the <code>config</code>\n2. Fix it\n\n"
        '<pre><code class="language-python">x = 1 &lt; 2</code></pre>'
    )
    link = to_telegram_html("[docs](https://e.org/a?b=1&c=2) [js](javascript:alert(1))")
    assert '<a href="https://e.org/a?b=1&amp;c=2">docs</a>' in link
    assert "<a" not in link.split("</a>", 1)[1]  # no link for a javascript: address


# --- token buckets ------------------------------------------------------------------------------


def test_bucket_allows_a_burst_then_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=6, burst=2, clock=lambda: now[0])
    assert limiter.take(1).allowed and limiter.take(1).allowed
    refused = limiter.take(1)
    assert not refused.allowed and refused.warn and refused.retry_after == pytest.approx(10)
    again = limiter.take(1)
    assert not again.allowed and not again.warn  # told once
    assert limiter.take(2).allowed  # another user has their own bucket
    now[0] = 10.0
    assert limiter.take(1).allowed
    now[0] = 11.0
    assert limiter.take(1).warn  # a new flood is told again


# --- pairing codes --------------------------------------------------------------------------------


async def test_codes_expire_are_one_time_and_only_hashed(store) -> None:
    now = [1000.0]
    links = TelegramLinks(store, clock=lambda: now[0])
    issued = await links.request_code(5, "@ann", max_pending=5, ttl=3600)
    assert issued.code and len(issued.code) == 8 and set(issued.code) <= set(CODE_ALPHABET)
    async with store._read() as conn:
        rows = await store._all(conn, "SELECT * FROM telegram_pending")
    assert issued.code not in str([dict(r) for r in rows])  # only its hash is stored

    now[0] += 3601
    with pytest.raises(Exception, match="no pending pairing code"):
        await links.approve(issued.code)

    second = await links.request_code(5, "@ann", max_pending=5, ttl=3600)
    third = await links.request_code(5, "@ann", max_pending=5, ttl=3600)  # replaces the second
    assert len(await links.pending()) == 1
    with pytest.raises(Exception, match="no pending pairing code"):
        await links.approve(second.code)  # type: ignore[arg-type]
    typed = "-".join([third.code[:4].lower(), third.code[4:]])  # type: ignore[index]
    assert normalize_code(typed) == third.code
    link = await links.approve(typed, "ann")
    assert (link.telegram_id, link.owner, link.username) == (5, "ann", "@ann")
    assert await links.pending() == []
    audit = await store.recent_audit()
    assert audit[0].action == "telegram.pair" and '"owner": "ann"' in (audit[0].detail or "")


async def test_at_most_max_pending_codes_wait(store) -> None:
    links = TelegramLinks(store)
    issued = [await links.request_code(n, "", max_pending=3, ttl=60) for n in range(4)]
    assert [i.code is not None for i in issued] == [True, True, True, False]
    link = await links.approve(issued[0].code)  # type: ignore[arg-type]
    assert link.owner == "tg-0"
    assert (await links.request_code(9, "", max_pending=3, ttl=60)).code is not None


def test_quiet_users_buckets_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    from ai_workbench.telegram import limits

    monkeypatch.setattr(limits, "MAX_USERS", 3)
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=1, clock=lambda: now[0])
    for user in range(3):
        assert limiter.take(user).allowed
    now[0] = 0.5
    assert limiter.take(3).allowed  # none is full yet: nothing forgotten
    assert len(limiter._buckets) == 4
    now[0] = 5.0
    assert limiter.take(4).allowed
    assert set(limiter._buckets) == {4}


def test_no_piece_is_an_empty_code_block() -> None:
    """A code block whose first line is longer than a message starts in the next piece with
    its code, not as an empty block at the end of this one."""
    text = "Here is the fixture:\n\n```python\nDATA = '" + "😀" * 3000 + "'\nok = True\n```\nDone."
    pieces = split_message(text)
    assert all(utf16_len(p) <= 4096 for p in pieces)
    for piece in pieces:
        assert not re.search(r"```\w*\n```", piece), piece[:60]
        check_html(to_telegram_html(piece))
    assert "".join(pieces).count("😀") == 3000 and pieces[-1].endswith("Done.")
