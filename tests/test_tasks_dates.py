"""Natural dates with the real dateparser, a fixed "now" and explicit timezones."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ai_workbench.tasks.dates import (
    AmbiguousDate,
    DateError,
    format_due,
    parse_duration,
    parse_task_text,
)
from ai_workbench.tasks.intake import TaskInput
from ai_workbench.tasks.recur import next_occurrence

BERLIN = ZoneInfo("Europe/Berlin")
# Wednesday 2026-12-02 15:00 in Berlin
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=BERLIN)


def at(*args: int, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime(*args, tzinfo=zone)


@pytest.mark.parametrize(
    ("text", "title", "due"),
    [
        ("renew the TLS cert next friday 9am", "renew the TLS cert", at(2026, 12, 4, 9, 0)),
        (
            "remind me to rotate the staging keys next Tuesday at 10",
            "rotate the staging keys",
            at(2026, 12, 8, 10, 0),
        ),
        ("call mom tomorrow at 9am", "call mom", at(2026, 12, 3, 9, 0)),
        ("call mom tomorrow at 9am about taxes", "call mom about taxes", at(2026, 12, 3, 9, 0)),
        ("standup 18:00", "standup", at(2026, 12, 2, 18, 0)),
        ("deploy in 2 days", "deploy", at(2026, 12, 4, 9, 0)),  # a day alone: default 09:00
        ("in 2 hours check the build", "check the build", at(2026, 12, 2, 17, 0)),
        ("ship it on 2026-12-10 14:00", "ship it", at(2026, 12, 10, 14, 0)),
        ("renew cert by dec 10", "renew cert", at(2026, 12, 10, 9, 0)),
        ("review PR 13/04", "review PR", at(2027, 4, 13, 9, 0)),  # 13 cannot be a month
        ("I may call bob tomorrow", "I may call bob", at(2026, 12, 3, 9, 0)),  # "may" is no date
        ("завтра в 10:00 позвонить врачу", "позвонить врачу", at(2026, 12, 3, 10, 0)),
        ("купить хлеб через 3 дня", "купить хлеб", at(2026, 12, 5, 9, 0)),
        ("отчёт в пятницу", "отчёт", at(2026, 12, 4, 9, 0)),
        ("в следующую пятницу в 10:00 релиз", "релиз", at(2026, 12, 4, 10, 0)),
        ("send report 5 декабря в 12:00", "send report", at(2026, 12, 5, 12, 0)),
        ("напомни мне завтра в 9 купить молоко", "купить молоко", at(2026, 12, 3, 9, 0)),
    ],
)
def test_english_and_russian_phrases(text: str, title: str, due: datetime) -> None:
    parsed = parse_task_text(text, NOW)
    assert (parsed.title, parsed.due) == (title, due)
    assert parsed.due is not None and parsed.due.tzinfo is BERLIN


def test_text_without_a_date_keeps_its_words() -> None:
    for text in ("buy milk", "fix bug #12", "read chapter 10"):
        parsed = parse_task_text(text, NOW)
        assert (parsed.title, parsed.due) == (text, None)


def test_ambiguous_dates_are_refused_with_their_readings() -> None:
    with pytest.raises(AmbiguousDate) as numeric:
        parse_task_text("pay rent 03/04", NOW)
    assert "day/month or month/day" in str(numeric.value)
    assert {d.date() for d in numeric.value.choices} == {
        datetime(2027, 3, 4).date(),
        datetime(2027, 4, 3).date(),
    }
    with pytest.raises(AmbiguousDate) as past_time:
        parse_task_text("standup 9am", NOW)  # 9am has passed at 15:00
    assert "already passed today" in str(past_time.value)
    assert past_time.value.choices == [at(2026, 12, 3, 9, 0)]
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=BERLIN)
    with pytest.raises(AmbiguousDate) as next_friday:
        parse_task_text("renew next friday 9am", friday)
    assert "said on a Friday" in str(next_friday.value)
    assert [d.date().isoformat() for d in next_friday.value.choices] == [
        "2026-12-11",
        "2026-12-18",
    ]


def test_a_configured_date_order_settles_numeric_dates() -> None:
    dmy = parse_task_text("pay rent 03/04", NOW, date_order="DMY")
    mdy = parse_task_text("pay rent 03/04", NOW, date_order="MDY")
    assert dmy.due == at(2027, 4, 3, 9, 0)
    assert mdy.due == at(2027, 3, 4, 9, 0)


def test_past_dates_and_two_dates_are_refused() -> None:
    with pytest.raises(DateError, match="in the past"):
        parse_task_text("backup yesterday", NOW)
    with pytest.raises(DateError, match="two dates"):
        parse_task_text("move the meeting from tomorrow to next friday", NOW)


def test_the_same_words_mean_the_same_time_in_another_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    now = NOW.astimezone(tokyo)  # 23:00 in Tokyo
    parsed = parse_task_text("call mom tomorrow at 9am", now)
    assert parsed.due == datetime(2026, 12, 3, 9, 0, tzinfo=tokyo)
    assert format_due(parsed.due) == "Thu 2026-12-03 09:00 Asia/Tokyo"


def test_recurrence_in_english_and_russian() -> None:
    weekly = parse_task_text("every monday 10:00 standup", NOW)
    assert (weekly.title, weekly.rrule, weekly.due) == (
        "standup",
        "FREQ=WEEKLY;BYDAY=MO",
        at(2026, 12, 7, 10, 0),
    )
    russian = parse_task_text("каждый понедельник в 10:00 планёрка", NOW)
    assert (russian.title, russian.rrule, russian.due) == (
        "планёрка",
        "FREQ=WEEKLY;BYDAY=MO",
        at(2026, 12, 7, 10, 0),
    )
    weekdays = parse_task_text("standup every weekday at 9:30", NOW)
    assert weekdays.rrule == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    assert weekdays.due == at(2026, 12, 3, 9, 30)


def test_a_weekly_time_stays_local_across_dst() -> None:
    # Berlin leaves summer time on Sunday 2026-10-25: Monday 10:00 stays 10:00 local
    start = datetime(2026, 10, 19, 10, 0, tzinfo=BERLIN)
    nxt = next_occurrence("FREQ=WEEKLY;BYDAY=MO", start, start)
    assert nxt == datetime(2026, 10, 26, 10, 0, tzinfo=BERLIN)
    assert nxt.utcoffset() == timedelta(hours=1) and start.utcoffset() == timedelta(hours=2)


def test_durations() -> None:
    assert parse_duration("1d") == timedelta(days=1)
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("2 часа") == timedelta(hours=2)
    with pytest.raises(DateError.__mro__[1]):  # InputError
        parse_duration("soon")


def test_a_draft_echoes_its_reading_and_the_command_that_saves_it() -> None:
    reader = TaskInput(clock=NOW.timestamp)
    reader.zone = BERLIN
    draft = reader.read("renew the TLS cert next friday 9am", remind="1d", tags=["ops"])
    assert draft.echo() == (
        '"renew the TLS cert" due Fri 2026-12-04 09:00 Europe/Berlin, remind 1d before, tags ops'
    )
    assert draft.command() == (
        "aiw task add 'renew the TLS cert' --due '2026-12-04 09:00' --remind 1d --tag ops"
    )


def test_plus_words_in_the_text_are_tags() -> None:
    reader = TaskInput(clock=NOW.timestamp)
    reader.zone = BERLIN
    draft = reader.read("send the ADR review tomorrow 9am +arch +ops about C++", tags=["ops"])
    assert draft.title == "send the ADR review about C++"
    assert draft.tags == ["ops", "arch"]
    assert draft.due == at(2026, 12, 3, 9, 0)
