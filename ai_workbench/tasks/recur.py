"""Recurrence: "every monday 10:00", "every day 9am", "every 2 weeks", "каждый понедельник в
10:00", "ежедневно в 9:00" -> an RFC 5545 RRULE and the first occurrence.

The rule is stored without DTSTART; occurrences are computed in the user's zone on naive local
times (so 10:00 stays 10:00 across a DST change) with python-dateutil's rrule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final

__all__ = ["Recurrence", "describe", "find_recurrence", "next_occurrence"]

_DAYS: Final = {
    "monday": "MO", "tuesday": "TU", "wednesday": "WE", "thursday": "TH", "friday": "FR",
    "saturday": "SA", "sunday": "SU",
    "понедельник": "MO", "вторник": "TU", "среду": "WE", "среда": "WE", "четверг": "TH",
    "пятницу": "FR", "пятница": "FR", "субботу": "SA", "суббота": "SA", "воскресенье": "SU",
}  # fmt: skip
_UNITS: Final = {
    "day": "DAILY", "days": "DAILY", "week": "WEEKLY", "weeks": "WEEKLY", "month": "MONTHLY",
    "months": "MONTHLY", "year": "YEARLY", "years": "YEARLY", "weekday": "WEEKDAYS",
    "weekdays": "WEEKDAYS", "день": "DAILY", "дня": "DAILY", "дней": "DAILY", "неделю": "WEEKLY",
    "недели": "WEEKLY", "недель": "WEEKLY", "месяц": "MONTHLY", "месяца": "MONTHLY",
    "месяцев": "MONTHLY", "год": "YEARLY", "года": "YEARLY", "лет": "YEARLY",
}  # fmt: skip
_ADVERBS: Final = {
    "daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY", "yearly": "YEARLY",
    "ежедневно": "DAILY", "еженедельно": "WEEKLY", "ежемесячно": "MONTHLY", "ежегодно": "YEARLY",
}  # fmt: skip
_WORD = "|".join(sorted([*_DAYS, *_UNITS], key=len, reverse=True))
_RULE_RE: Final = re.compile(
    rf"\b(?:(?:every|each|кажд\w+)\s+(?:(\d+)\s+)?({_WORD})\b"
    rf"|({'|'.join(_ADVERBS)})\b)"
    r"(?:\s*(?:at|в|,)?\s*(\d{1,2}(?::\d{2})?\s*(?:am|pm)?))?",
    re.IGNORECASE,
)
_HOUR_RE: Final = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$", re.IGNORECASE)


@dataclass
class Recurrence:
    rrule: str
    first: datetime  # aware, in the user's zone
    start: int
    end: int


def _clock(text: str | None, default: time) -> time:
    if not text:
        return default
    match = _HOUR_RE.match(text.strip())
    if not match:
        return default
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if half and half.lower() == "pm" and hour < 12:
        hour += 12
    if half and half.lower() == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return default
    return time(hour, minute)


def find_recurrence(text: str, now: datetime, *, default_time: time) -> Recurrence | None:
    """The recurrence phrase in ``text`` (with its time of day), or None."""
    match = _RULE_RE.search(text)
    if match is None:
        return None
    interval = int(match.group(1) or 1)
    word = (match.group(2) or "").lower()
    adverb = (match.group(3) or "").lower()
    at = _clock(match.group(4), default_time)
    if adverb:
        freq, byday = _ADVERBS[adverb], ""
    elif word in _DAYS:
        freq, byday = "WEEKLY", _DAYS[word]
    else:
        freq, byday = _UNITS[word], ""
    if freq == "WEEKDAYS":
        freq, byday = "WEEKLY", "MO,TU,WE,TH,FR"
    parts = [f"FREQ={freq}"]
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    if byday:
        parts.append(f"BYDAY={byday}")
    rule = ";".join(parts)
    start = datetime.combine(now.date(), at, tzinfo=now.tzinfo)
    if start <= now:
        start = datetime.combine(now.date() + timedelta(days=1), at, tzinfo=now.tzinfo)
    first = next_occurrence(rule, start, start - timedelta(seconds=1))
    if first is None:  # pragma: no cover - every rule built here repeats forever
        return None
    return Recurrence(rule, first, match.start(), match.end())


def next_occurrence(rule: str, dtstart: datetime, after: datetime) -> datetime | None:
    """The first occurrence of ``rule`` (from ``dtstart``, aware) strictly after ``after``."""
    from dateutil.rrule import rrulestr

    zone = dtstart.tzinfo
    naive_start = dtstart.replace(tzinfo=None)
    naive_after = after.astimezone(zone).replace(tzinfo=None)
    recurrence = rrulestr(rule, dtstart=naive_start)
    nxt = recurrence.after(naive_after, inc=False)
    if nxt is None:
        return None
    return nxt.replace(tzinfo=zone)


def describe(rule: str) -> str:
    """``every week on MO`` for a list line."""
    fields = dict(part.split("=", 1) for part in rule.split(";") if "=" in part)
    unit = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}.get(
        fields.get("FREQ", ""), fields.get("FREQ", "?").lower()
    )
    interval = fields.get("INTERVAL")
    text = f"every {interval} {unit}s" if interval and interval != "1" else f"every {unit}"
    if "BYDAY" in fields:
        text += " on " + fields["BYDAY"].replace(",", ", ")
    return text
