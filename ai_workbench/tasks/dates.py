"""Natural dates in a task's text: "renew the TLS cert next friday 9am" -> title + due time.

dateparser (imported lazily: it costs ~0.1-2 s on first use) reads the date phrase in English and
Russian, always with *explicit* languages (automatic detection read the "me" of "remind me" as a
date) and ``RELATIVE_BASE`` = now in the user's timezone. Recurrence ("every monday 10:00",
"каждый понедельник в 10:00") is read here and becomes an RFC 5545 RRULE (python-dateutil).

A date that could mean two things is never guessed (docs/tasks.md, "Ambiguous dates"):

- ``next <weekday>`` means the first such weekday after today; said on that weekday it is
  ambiguous (a week or two from today?);
- a numeric day and month that could be either way round ("03/04") is ambiguous unless
  ``[tasks] date_order`` says DMY or MDY (ISO dates, "2026-04-03", are never ambiguous);
- a bare time already past today ("9am" said at 15:00) is ambiguous (today has passed:
  tomorrow?); a bare time still ahead today is today;
- a time in the past ("yesterday", a date that has gone) is refused;
- two separate date phrases in one text are refused.

:class:`AmbiguousDate` carries the readings (``choices``) so an interface at a TTY can ask; a
headless one prints the message (it says what to write instead). A phrase without a time of day
("tomorrow", "next friday", "in 2 days") is due at ``default_time`` (09:00 unless configured);
"in 2 hours" keeps its time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ai_workbench.core.errors import InputError

__all__ = [
    "AmbiguousDate",
    "DateError",
    "Parsed",
    "clean_title",
    "format_due",
    "local_zone",
    "parse_duration",
    "parse_task_text",
    "parse_when",
    "resolve_zone",
]

LANGUAGES: Final = ["en", "ru"]

_WEEKDAYS_EN: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAYS_RU: Final = (
    "понедельник", "вторник", "сред", "четверг", "пятниц", "суббот", "воскресень",
)  # fmt: skip
_TIME_RE: Final = re.compile(
    r"\d{1,2}[:.]\d{2}|\d{1,2}\s*(am|pm|a\.m\.|p\.m\.)\b|\bnoon\b|\bmidnight\b|\bполдень\b"
    r"|\bполночь\b|\b(hours?|minutes?|mins?|hrs?|час\w*|минут\w*)\b",
    re.IGNORECASE,
)
_BARE_TIME_RE: Final = re.compile(
    r"^\s*(at|в|by|до)?\s*(\d{1,2}([:.]\d{2})?\s*(am|pm)?|noon|midnight|полдень|полночь)\s*$",
    re.IGNORECASE,
)
_AT_HOUR_RE: Final = re.compile(r"\b(at|в)\s+(\d{1,2})(?![\d:./])(?!\s*(am|pm|час))", re.I)
_NUMERIC_DATE_RE: Final = re.compile(r"(?<![\d-])(\d{1,2})[./](\d{1,2})(?:[./](\d{2,4}))?(?![\d-])")
_NEXT_RE: Final = re.compile(
    r"\b(next|следующ\w*)\s+(" + "|".join(_WEEKDAYS_EN + _WEEKDAYS_RU) + r")\w*", re.IGNORECASE
)
_LEAD_WORDS: Final = {"next", "this", "on", "at", "by", "в", "во", "до", "на", "к", "coming"}
_LEAD_RE: Final = re.compile(r"^(следующ\w*|эт\w+|ближайш\w*)$", re.IGNORECASE)
_TITLE_PREFIX_RE: Final = re.compile(
    r"^\s*(please\s+)?(remind\s+me\s+(to\s+|about\s+|that\s+)?|напомни(те)?\s+(мне\s+)?"
    r"(о\s+|про\s+|что\s+)?|todo:?\s+)",
    re.IGNORECASE,
)
_TRAILING_RE: Final = re.compile(r"[\s,;:–—-]+(on|at|by|due|в|во|до|на|к)?[\s,;:–—-]*$", re.I)
_DURATION_RE: Final = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?"
    r"|w|wk|weeks?|с|сек|м|мин|ч|час\w*|д|дн\w*|день|нед\w*)\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class DateError(InputError):
    """The text's date cannot be used (in the past, two dates, unreadable)."""


class AmbiguousDate(DateError):
    """The date could mean several things; ``choices`` are the readings, earliest first."""

    def __init__(self, message: str, choices: list[datetime], phrase: str) -> None:
        super().__init__(message)
        self.choices = choices
        self.phrase = phrase


@dataclass
class Parsed:
    """A task's text read: the title without the date phrase, the due time (aware, in the
    user's zone) and the recurrence rule, if any."""

    title: str
    due: datetime | None = None
    rrule: str | None = None
    phrase: str = ""
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------- timezones


def local_zone() -> str:
    """The system's IANA zone name (tzlocal reads TZ, /etc/timezone, /etc/localtime), or UTC."""
    try:
        from tzlocal import get_localzone_name

        name = get_localzone_name()
    except Exception:
        name = None
    return name or "UTC"


def resolve_zone(name: str | None) -> ZoneInfo:
    """The zone ``name`` (``[tasks] timezone``), or the system's when empty."""
    name = (name or "").strip() or local_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown timezone {name!r} in [tasks] timezone; use an IANA name such as "
            "Europe/Berlin or America/New_York"
        ) from None


def format_due(when: datetime, zone: ZoneInfo | None = None) -> str:
    """``Fri 2026-12-04 09:00 Europe/Berlin`` (in ``zone``, else the time's own)."""
    local = when.astimezone(zone) if zone is not None else when
    key = getattr(local.tzinfo, "key", None) or local.strftime("%Z")
    return f"{local:%a %Y-%m-%d %H:%M} {key}".strip()


# ------------------------------------------------------------------------------- durations


def parse_duration(text: str) -> timedelta:
    """``30m``, ``2h``, ``1d``, ``1w``, ``90s`` (and ``2 hours``, ``3 дня``) as a timedelta."""
    match = _DURATION_RE.match(text or "")
    if not match:
        raise InputError(
            f"cannot read the duration {text!r}; write a number and a unit: 30m, 2h, 1d or 1w"
        )
    amount, unit = float(match.group(1)), match.group(2).lower()
    key = _duration_unit(unit)
    return timedelta(seconds=amount * _UNIT_SECONDS[key])


def _duration_unit(unit: str) -> str:
    if unit.startswith(("мин", "min")) or unit in ("m", "м"):
        return "m"
    if unit.startswith(("s", "с")):
        return "s"
    if unit.startswith(("h", "ч")):
        return "h"
    if unit.startswith(("w", "нед")):
        return "w"
    return "d"


# ------------------------------------------------------------------------------- parsing


def parse_task_text(
    text: str,
    now: datetime,
    *,
    date_order: str = "",
    default_time: time = time(9, 0),
) -> Parsed:
    """Read ``text`` ("renew the cert next friday 9am", "every monday 10:00 standup").

    ``now`` is aware, in the user's zone. No date phrase: ``due`` is None and the title is the
    text. Raises :class:`AmbiguousDate` or :class:`DateError` (see the module's rules)."""
    from ai_workbench.tasks.recur import find_recurrence

    text = " ".join(text.split())
    recurrence = find_recurrence(text, now, default_time=default_time)
    if recurrence is not None:
        rest = (text[: recurrence.start] + " " + text[recurrence.end :]).strip()
        return Parsed(
            title=clean_title(rest) or rest,
            due=recurrence.first,
            rrule=recurrence.rrule,
            phrase=text[recurrence.start : recurrence.end],
        )
    found = _find_phrase(text, now, date_order=date_order, default_time=default_time)
    if found is None:
        return Parsed(title=clean_title(text) or text)
    start, end, due = found
    rest = (text[:start] + " " + text[end:]).strip()
    title = clean_title(rest)
    if not title:
        raise DateError(f"{text!r} is only a date; say what the task is, e.g. 'renew cert {text}'")
    return Parsed(title=title, due=due, phrase=text[start:end])


def parse_when(
    phrase: str,
    now: datetime,
    *,
    date_order: str = "",
    default_time: time = time(9, 0),
) -> datetime:
    """A date phrase alone (``--due "tomorrow 9am"``, ``edit --due``), as an aware time."""
    phrase = " ".join(phrase.split())
    if _is_iso(phrase):
        due = datetime.fromisoformat(phrase)
        if len(phrase) == 10:
            due = datetime.combine(due.date(), default_time)
        due = due.replace(tzinfo=now.tzinfo)
        if due <= now - timedelta(minutes=1):
            raise DateError(f"{phrase!r} is in the past; give a time still ahead")
        return due
    return _resolve(phrase, now, date_order=date_order, default_time=default_time)


def _is_iso(phrase: str) -> bool:
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?", phrase))


def clean_title(text: str) -> str:
    text = _TITLE_PREFIX_RE.sub("", " ".join(text.split()))
    previous = None
    while previous != text:
        previous = text
        text = _TRAILING_RE.sub("", text).strip()
        text = re.sub(r"^(on|at|by|в|во|до|на)\s+", "", text, flags=re.I).strip() or text
    return text.strip(" ,;:-")


def _settings(now: datetime, *, date_order: str = "", prefer: str = "future") -> dict[str, Any]:
    settings: dict[str, Any] = {
        "RELATIVE_BASE": now.replace(tzinfo=None),
        "PREFER_DATES_FROM": prefer,
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    if date_order:
        settings["DATE_ORDER"] = date_order
    return settings


_RU_NEXT_RE: Final = re.compile(r"^(?:(?:в|во)\s+)?следующ\w*\s+", re.IGNORECASE)


def _parse(phrase: str, now: datetime, **kw: Any) -> datetime | None:
    import dateparser

    # "в следующую пятницу": dateparser reads "в пятницу" (the first Friday after today), which
    # is what "next <weekday>" means here (see the module's rules)
    phrase = _RU_NEXT_RE.sub("в ", phrase.strip())
    return dateparser.parse(phrase, languages=LANGUAGES, settings=_settings(now, **kw))


def _noise(phrase: str) -> bool:
    """A false hit: a bare number, '#12', a lone month name ("I may call")."""
    bare = phrase.strip(" ,.;:()[]")
    if not bare or bare.startswith("#") or bare.isdigit():
        return True
    return " " not in bare and not any(c.isdigit() for c in bare) and bare.lower() in (
        "may", "march", "june", "july", "august", "май", "март", "sat", "sun", "mon", "wed",
    )  # fmt: skip


def _find_phrase(
    text: str, now: datetime, *, date_order: str, default_time: time
) -> tuple[int, int, datetime] | None:
    """The date phrase's span in ``text`` and the due time it means."""
    from dateparser.search import search_dates

    normalized = _AT_HOUR_RE.sub(lambda m: f"{m.group(1)} {m.group(2)}:00", text)
    text_for_spans = normalized  # spans are mapped back onto the user's words at the end
    hits = (
        search_dates(
            normalized, languages=LANGUAGES, settings=_settings(now, date_order=date_order)
        )
        or []
    )
    spans: list[tuple[int, int]] = []
    cursor = 0
    for phrase, _ in hits:
        if _noise(phrase):
            continue
        index = text_for_spans.find(phrase, cursor)
        if index < 0:
            continue
        spans.append((index, index + len(phrase)))
        cursor = index + len(phrase)
    if not spans:
        return None
    start, end = spans[0]
    for other_start, other_end in spans[1:]:
        between = text_for_spans[end:other_start].strip().lower()
        if between in ("", "at", "в", "on", ","):
            end = other_end
            continue
        first, second = text_for_spans[start:end], text_for_spans[other_start:other_end]
        raise DateError(
            f"two dates in {text!r}: {first!r} and {second!r}; keep one, or give the due time "
            "with --due"
        )
    start, end = _widen(text_for_spans, start, end, now, date_order)
    phrase = text_for_spans[start:end]
    due = _resolve(phrase, now, date_order=date_order, default_time=default_time)
    if normalized != text:  # map the span back onto the user's words
        original = _map_span(text, text_for_spans, start, end)
        start, end = original
    return start, end, due


def _map_span(text: str, normalized: str, start: int, end: int) -> tuple[int, int]:
    """The span in ``text`` covering the same words as ``normalized[start:end]``."""
    words_before = len(normalized[:start].split())
    words_in = len(normalized[start:end].split())
    tokens = list(re.finditer(r"\S+", text))
    first = tokens[min(words_before, len(tokens) - 1)]
    last = tokens[min(words_before + words_in - 1, len(tokens) - 1)]
    return first.start(), last.end()


def _widen(text: str, start: int, end: int, now: datetime, date_order: str) -> tuple[int, int]:
    """Take in the words dateparser's search left beside its hit: "5 декабря" before "в 12:00",
    "next"/"в следующую" before a weekday, a "by"/"on" before the phrase."""
    tokens = list(re.finditer(r"\S+", text))
    index = next(i for i, t in enumerate(tokens) if t.end() > start)
    last = max(i for i, t in enumerate(tokens) if t.start() < end)
    base = _parse(text[start:end], now, date_order=date_order)
    # leftwards: lead words, or more date words that still parse (and change the date)
    while index > 0:
        word = tokens[index - 1].group().lower().strip(",")
        candidate = text[tokens[index - 1].start() : end]
        if word in _LEAD_WORDS or _LEAD_RE.match(word):
            index -= 1
            continue
        parsed = _parse(candidate, now, date_order=date_order)
        if (
            parsed is not None
            and parsed != base
            and (any(c.isdigit() for c in word) or _looks_like_date_word(word))
        ):
            index -= 1
            base = parsed
            continue
        break
    # rightwards: a time after a date ("friday" + "at 9am" when search split them)
    while last + 1 < len(tokens):
        candidate = text[tokens[index].start() : tokens[last + 1].end()]
        word = tokens[last + 1].group().lower()
        if word in ("at", "в") and last + 2 < len(tokens):
            candidate = text[tokens[index].start() : tokens[last + 2].end()]
            parsed = _parse(candidate, now, date_order=date_order)
            if parsed is not None and parsed != base and _TIME_RE.search(tokens[last + 2].group()):
                last += 2
                base = parsed
                continue
            break
        parsed = _parse(candidate, now, date_order=date_order)
        if parsed is not None and parsed != base and _TIME_RE.search(word):
            last += 1
            base = parsed
            continue
        break
    # and give back the words dateparser took in that mean nothing ("tomorrow 9am about")
    while last > index:
        shorter = _parse(text[tokens[index].start() : tokens[last - 1].end()], now,
                         date_order=date_order)  # fmt: skip
        if shorter != base or _TIME_RE.search(tokens[last].group()):
            break
        last -= 1
    return tokens[index].start(), tokens[last].end()


def _looks_like_date_word(word: str) -> bool:
    import dateparser

    return dateparser.parse(word, languages=LANGUAGES) is not None


def _resolve(phrase: str, now: datetime, *, date_order: str, default_time: time) -> datetime:
    """The aware due time of a date phrase, or why it is ambiguous or unusable."""
    zone = now.tzinfo
    numeric = _NUMERIC_DATE_RE.search(phrase)
    if numeric and not date_order:
        first, second = int(numeric.group(1)), int(numeric.group(2))
        if first != second and first <= 12 and second <= 12:
            choices = [
                _parse(phrase, now, date_order="DMY"),
                _parse(phrase, now, date_order="MDY"),
            ]
            readings = sorted({_aware(c, zone, phrase, default_time) for c in choices if c})
            raise AmbiguousDate(
                f"{numeric.group(0)!r} could be day/month or month/day "
                f"({' or '.join(f'{d:%d %B}' for d in readings)}); write the date as "
                'YYYY-MM-DD or set [tasks] date_order = "DMY" (or "MDY")',
                readings,
                phrase,
            )
    parsed = _parse(phrase, now, date_order=date_order)
    if parsed is None:
        raise DateError(
            f"cannot read the date {phrase!r}; try 'tomorrow 9am', 'next friday 14:00', "
            "'in 2 hours', '2026-12-10 09:00' or 'завтра в 10:00'"
        )
    due = _aware(parsed, zone, phrase, default_time)
    nxt = _NEXT_RE.search(phrase)
    if nxt and due.date() - now.date() == timedelta(days=7):
        one, two = due, due + timedelta(days=7)
        raise AmbiguousDate(
            f"{nxt.group(0)!r} said on a {now:%A} could be {one:%a %Y-%m-%d} or "
            f"{two:%a %Y-%m-%d}; write 'in 7 days' or the date (YYYY-MM-DD)",
            [one, two],
            phrase,
        )
    if _BARE_TIME_RE.match(phrase):
        today = _parse(phrase, now, prefer="past")
        if today is not None:
            at_today = _aware(datetime.combine(now.date(), today.time()), zone, phrase, None)
            if at_today > now:
                return at_today
            tomorrow = at_today + timedelta(days=1)
            raise AmbiguousDate(
                f"{phrase!r} has already passed today ({now:%H:%M} now); write 'tomorrow "
                f"{phrase}' or 'today {phrase}'",
                [tomorrow],
                phrase,
            )
    if due <= now - timedelta(minutes=1):
        raise DateError(f"{phrase!r} is in the past ({format_due(due)}); give a time still ahead")
    return due


def _aware(parsed: datetime, zone: Any, phrase: str, default_time: time | None) -> datetime:
    """``parsed`` (naive, in the user's zone) made aware, at ``default_time`` when the phrase
    names a day but no time of day."""
    if default_time is not None and not _TIME_RE.search(phrase):
        parsed = datetime.combine(parsed.date(), default_time)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=zone)
    return parsed.astimezone(zone)


def today_range(now: datetime) -> tuple[datetime, datetime]:
    """Midnight today and tomorrow in ``now``'s zone."""
    start = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    return start, datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=now.tzinfo)


def week_end(now: datetime) -> datetime:
    """Midnight after the 7 days starting today."""
    return datetime.combine(now.date() + timedelta(days=7), time(0), tzinfo=now.tzinfo)


def as_date(value: datetime) -> date:
    return value.date()
