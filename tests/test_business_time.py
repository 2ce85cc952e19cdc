"""Business-hours arithmetic against hand-computed values around 国庆/中秋 2025.

Working hours 09:00–12:00 and 13:00–18:00 (480 minutes a day), Asia/Shanghai. The days that
matter, as the State Council set them for 2025:

    Fri 09-19 work   Sat 09-20 off   Sun 09-21 off   Mon 09-22 work
    Fri 09-26 work   Sat 09-27 off   Sun 09-28 WORK (调休)   Mon 09-29, Tue 09-30 work
    Wed 10-01 … Wed 10-08 holiday (国庆 + 中秋)
    Thu 10-09, Fri 10-10 work   Sat 10-11 WORK (调休)   Sun 10-12 off   Mon 10-13 work
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta, timezone

import chinese_calendar
import pytest

from voc.business_time import (
    CalendarYearError,
    WorkingCalendar,
    known_package_years,
    parse_calendar,
    parse_calendar_config,
)

CST = timezone(timedelta(hours=8))
HOURS = {"working_hours": ["09:00-12:00", "13:00-18:00"]}


def at(day: str, hm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}:00").replace(tzinfo=CST)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return parse_calendar(HOURS, "test.toml: [cases.calendar]")


def test_the_package_agrees_with_the_days_these_tests_assume(cal: WorkingCalendar) -> None:
    workdays = ["2025-09-26", "2025-09-28", "2025-09-30", "2025-10-09", "2025-10-11"]
    days_off = ["2025-09-27", "2025-10-01", "2025-10-06", "2025-10-08", "2025-10-12"]
    for day in map(date.fromisoformat, workdays):
        assert cal.is_workday(day) and chinese_calendar.is_workday(day), day
    for day in map(date.fromisoformat, days_off):
        assert not cal.is_workday(day) and not chinese_calendar.is_workday(day), day
    assert cal.minutes_per_day == 480


def test_minutes_across_an_ordinary_weekend(cal: WorkingCalendar) -> None:
    # Fri 16:00–18:00 = 120, Sat and Sun off, Mon 09:00–10:30 = 90.
    assert cal.business_minutes(at("2025-09-19", "16:00"), at("2025-09-22", "10:30")) == 210


def test_minutes_count_a_make_up_sunday(cal: WorkingCalendar) -> None:
    # Fri 17:00–18:00 = 60, Sat 09-27 off, Sun 09-28 调休 a full 480, Mon 09:00–09:30 = 30.
    assert cal.business_minutes(at("2025-09-26", "17:00"), at("2025-09-29", "09:30")) == 570


def test_minutes_skip_the_whole_national_day_holiday(cal: WorkingCalendar) -> None:
    # Only Tue 09-30 counts between Tue 09:00 and Thu 10-09 09:00: eight holiday days are off.
    assert cal.business_minutes(at("2025-09-30", "09:00"), at("2025-10-09", "09:00")) == 480
    # Moments inside the holiday, lunch and the night count nothing.
    assert cal.business_minutes(at("2025-10-03", "10:00"), at("2025-10-07", "16:00")) == 0
    assert cal.business_minutes(at("2025-10-09", "12:05"), at("2025-10-09", "12:55")) == 0
    assert cal.business_minutes(at("2025-10-09", "19:00"), at("2025-10-09", "08:00")) == 0


def test_adding_minutes_over_the_holiday_lands_after_it(cal: WorkingCalendar) -> None:
    # Tue 09-30 17:00 + 600: Tue 17–18 uses 60 (540 left), Oct 1–8 off, Thu 10-09 uses 480
    # (60 left), Fri 10-10 09:00 + 60 = 10:00.
    assert cal.add_business_minutes(at("2025-09-30", "17:00"), 600) == at("2025-10-10", "10:00")


def test_adding_minutes_into_a_make_up_saturday(cal: WorkingCalendar) -> None:
    # Fri 10-10 16:30 + 240: Fri 16:30–18:00 uses 90 (150 left); Sat 10-11 is a 调休 workday:
    # 09:00 + 150 = 11:30.
    assert cal.add_business_minutes(at("2025-10-10", "16:30"), 240) == at("2025-10-11", "11:30")
    # A calendar that ignores 调休 says Monday instead.
    plain = parse_calendar({**HOURS, "holidays": "none"}, "x")
    assert plain.add_business_minutes(at("2025-10-10", "16:30"), 240) == at("2025-10-13", "11:30")


def test_lunch_break_window_end_and_outside_hours(cal: WorkingCalendar) -> None:
    # 11:00 + 90: 60 before lunch, 30 after 13:00.
    assert cal.add_business_minutes(at("2025-10-09", "11:00"), 90) == at("2025-10-09", "13:30")
    # Using up a window exactly is due at its end, not at the next morning's start.
    assert cal.add_business_minutes(at("2025-09-29", "17:00"), 60) == at("2025-09-29", "18:00")
    # Starting in the night: the clock starts at the next working morning.
    assert cal.add_business_minutes(at("2025-09-26", "22:00"), 30) == at("2025-09-28", "09:30")
    assert cal.add_business_minutes(at("2025-09-26", "22:00"), 0) == at("2025-09-26", "22:00")


def test_round_trip_and_utc_inputs(cal: WorkingCalendar) -> None:
    start = datetime(2025, 9, 30, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai
    due = cal.add_business_minutes(start, 600)
    assert due == datetime(2025, 10, 10, 2, 0, tzinfo=UTC) and due.tzinfo is UTC
    assert cal.business_minutes(start, due) == 600


def test_next_workday_skips_holiday_and_weekend(cal: WorkingCalendar) -> None:
    assert cal.next_workday(date(2025, 9, 30)) == date(2025, 10, 9)
    assert cal.next_workday(date(2025, 10, 10)) == date(2025, 10, 11)  # 调休 Saturday
    assert cal.next_workday(date(2025, 10, 11)) == date(2025, 10, 13)


def test_naive_and_negative_inputs_are_refused(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.business_minutes(datetime(2025, 10, 9, 9), at("2025-10-09", "10:00"))
    with pytest.raises(ValueError, match="negative"):
        cal.add_business_minutes(at("2025-10-09", "10:00"), -5)


def test_a_year_the_package_does_not_know_is_an_error_at_load_and_in_use() -> None:
    years = known_package_years()
    assert (years[0], years[-1]) == (2004, 2026)
    with pytest.raises(CalendarYearError) as err:
        parse_calendar(HOURS, "voc.toml: [cases.calendar]", need=[2026, 2027])
    message = str(err.value)
    assert message.startswith("voc.toml: [cases.calendar]: ")
    assert "2027" in message and "2004–2026" in message
    assert "extra_holidays" in message and "extra_workdays" in message
    loaded = parse_calendar(HOURS, "x", need=[2026])
    with pytest.raises(CalendarYearError, match="2027"):
        loaded.business_minutes(at("2026-12-31", "17:00"), at("2027-01-04", "10:00"))


def test_a_year_given_in_the_config_is_used() -> None:
    # 2027 typed in by hand: 元旦 Fri 01-01 off, a made-up 调休 Saturday 01-09 worked.
    table = {
        **HOURS,
        "extra_holidays": [date(2027, 1, 1), "2027-02-06..2027-02-08"],
        "extra_workdays": ["2027-01-09"],
    }
    cal = parse_calendar(table, "x", need=[2026, 2027])
    assert cal.given_years() == {2027}
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.is_workday(date(2027, 1, 9)) and not cal.is_workday(date(2027, 1, 10))
    assert not cal.is_workday(date(2027, 2, 8)) and cal.is_workday(date(2027, 2, 9))
    # Thu 2026-12-31 17:00–18:00 = 60, Fri 01-01 off, Mon 01-04 09:00–10:00 = 60.
    assert cal.business_minutes(at("2026-12-31", "17:00"), at("2027-01-04", "10:00")) == 120


def test_weekend_and_holiday_options() -> None:
    # A six-day week without public holidays: Saturday counts, the 国庆 Wednesday too.
    cal = parse_calendar(
        {"working_hours": "09:00-17:00", "weekend": ["sun"], "holidays": "none"}, "x"
    )
    assert cal.is_workday(date(2025, 9, 27)) and cal.is_workday(date(2025, 10, 1))
    assert not cal.is_workday(date(2025, 9, 28))
    assert cal.knows_year(2035)
    around_the_clock = parse_calendar({"working_hours": ["00:00-24:00"], "weekend": []}, "x")
    assert around_the_clock.windows == ((time(0), time.max),)
    # 国庆 still off, so 24 hours of 10-09 only.
    assert (
        around_the_clock.business_minutes(at("2025-10-01", "00:00"), at("2025-10-10", "00:00"))
        == 1440
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"working_hours": ["18:00-09:00"]}, "working_hours: 时段须在一天之内"),
        ({"working_hours": ["09:00-12:00", "11:00-18:00"]}, "working_hours: 时段重叠"),
        ({"working_hours": ["9-18"]}, 'working_hours: 时段格式应为 "09:00-18:00"'),
        ({"weekend": ["saturnday"]}, "weekend: 未知星期"),
        ({"weekend": [1, 2, 3, 4, 5, 6, 7]}, "weekend: 一周没有工作日"),
        ({"holidays": "us"}, "holidays: 应为 cn 或 none"),
        ({"extra_holidays": ["2027-13-01"]}, "extra_holidays: 无法识别的日期"),
        ({"extra_holidays": ["2027-01-01"], "extra_workdays": ["2027-01-01"]}, "同时列为"),
        ({"timezone": "Mars/Olympus"}, "timezone: 未知时区"),
        ({"hours": ["09:00-18:00"]}, "未知键 / unknown key(s): hours"),
    ],
)
def test_bad_calendar_tables_are_named(table: dict, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_calendar(table, "voc.toml: [cases.calendar]")
    assert str(err.value).startswith("voc.toml: [cases.calendar]: ")
    assert message in str(err.value)


def _reference_minutes(start: datetime, end: datetime) -> float:
    """Day by day with the package's own is_workday: slow and obviously right."""
    total, day = 0.0, start.date()
    while day <= end.date():
        if chinese_calendar.is_workday(day):
            for lo, hi in (("09:00", "12:00"), ("13:00", "18:00")):
                a = max(start, at(day.isoformat(), lo))
                b = min(end, at(day.isoformat(), hi))
                total += max(0.0, (b - a).total_seconds() / 60)
        day += timedelta(days=1)
    return total


def test_fast_counting_matches_day_by_day_counting(cal: WorkingCalendar) -> None:
    rng = random.Random(16)
    base = at("2025-09-15", "00:00")
    for _ in range(300):
        start = base + timedelta(minutes=rng.randrange(0, 60 * 24 * 40))
        end = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 25))
        expected = _reference_minutes(start, end)
        assert cal.business_minutes(start, end) == pytest.approx(expected), (start, end)
        if expected > 0:
            due = cal.add_business_minutes(start, expected)
            assert due <= end and cal.business_minutes(start, due) == pytest.approx(expected)


def test_calendar_config_needs_the_current_year() -> None:
    default = parse_calendar_config(None, "voc.toml", datetime(2025, 9, 29, tzinfo=CST))
    assert default.windows == ((time(9), time(18)),) and default.minutes_per_day == 540
    assert default.weekend == {6, 7} and default.holidays == "cn"
    with pytest.raises(CalendarYearError) as err:
        parse_calendar_config(HOURS, "voc.toml", datetime(2027, 1, 4, tzinfo=CST))
    assert str(err.value).startswith("voc.toml: [cases.calendar]: 节假日日历不含 2027 年")
    # New Year's Eve 2026 at 23:00 UTC is already 2027 in Shanghai.
    with pytest.raises(CalendarYearError, match="2027"):
        parse_calendar_config({}, "voc.toml", datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    given = {"extra_holidays": ["2027-01-01"]}
    assert parse_calendar_config(given, "voc.toml", datetime(2027, 1, 4, tzinfo=CST)).knows_year(
        2027
    )
