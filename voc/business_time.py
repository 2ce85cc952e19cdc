"""A working calendar: working hours, weekends, Chinese public holidays and 调休 workdays.

Public holidays and the make-up working days (调休, a Saturday or Sunday worked to bridge a
holiday) come from the maintained ``chinesecalendar`` package (import ``chinese_calendar``),
which knows a fixed range of years. A year it does not know can be given in the config
(``extra_holidays`` / ``extra_workdays``); otherwise any arithmetic that reaches into that
year raises `CalendarYearError`, and `parse_calendar` raises it at config load for the
years a configuration needs.

Business minutes are counted in the calendar's time zone over the working windows of the
working days; a 调休 workday has the same working hours as any other working day.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chinese_calendar import constants as _cn

#: Holiday sources: ``cn`` (chinesecalendar) or ``none`` (weekends and extras only).
HOLIDAY_SOURCES = ("cn", "none")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAYS = {n: i for i, name in enumerate(_DAY_NAMES, 1) for n in (name, name[:3])}
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DAY_RANGE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*$")
#: A calendar with no working time in this many days in a row is refused, not looped on.
_MAX_IDLE_DAYS = 400


class CalendarYearError(ValueError):
    """A date in a year whose holidays are unknown (to the package and to the config)."""


def known_package_years() -> range:
    """The years ``chinesecalendar`` has holiday data for (2004–2026 for 1.11.0)."""
    years = [d.year for d in _cn.holidays]
    return range(min(years), max(years) + 1)


def _package_version() -> str:
    try:
        return version("chinesecalendar")
    except PackageNotFoundError:  # pragma: no cover - installed as a dependency
        return "?"


@dataclass(frozen=True)
class WorkingCalendar:
    """When the business clock runs.

    Attributes:
        timezone: IANA zone the working hours are read in.
        windows: Working windows of a working day, (start, end) local times in order,
            not overlapping; an end of ``24:00`` is given as ``time.max``.
        weekend: ISO weekdays (1 = Monday … 7 = Sunday) that are not working days
            unless a 调休 or `extra_workdays` entry says so.
        holidays: ``cn``: public holidays and 调休 workdays from ``chinesecalendar``;
            ``none``: only `weekend` and the extras.
        extra_holidays: Days off besides the package's (a company day off, or a year the
            package does not know yet). Listing a day of a year counts that year as given.
        extra_workdays: Working days besides the package's (a year's 调休 workdays when the
            package does not know the year yet); they win over every other rule.
    """

    timezone: str = "Asia/Shanghai"
    windows: tuple[tuple[time, time], ...] = ((time(9), time(18)),)
    weekend: frozenset[int] = frozenset({6, 7})
    holidays: str = "cn"
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    _workday_cache: dict[date, bool] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )
    _prefix_cache: dict[int, list[int]] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )

    @cached_property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.timezone)

    @cached_property
    def minutes_per_day(self) -> float:
        """Working minutes of one working day (what a business ``1d`` means)."""
        return sum(_window_minutes(start, end) for start, end in self.windows)

    def given_years(self) -> frozenset[int]:
        """Years whose holidays the config lists itself (in the extras)."""
        return frozenset(d.year for d in self.extra_holidays | self.extra_workdays)

    def knows_year(self, year: int) -> bool:
        """Whether days of `year` can be classified (package data or config extras)."""
        return (
            self.holidays == "none" or year in known_package_years() or year in self.given_years()
        )

    def check_year(self, year: int) -> None:
        """Raise `CalendarYearError` unless `year` is known.

        Raises:
            CalendarYearError: naming the year, the package's range and the fix.
        """
        if self.knows_year(year):
            return
        years = known_package_years()
        raise CalendarYearError(
            f"节假日日历不含 {year} 年（chinesecalendar {_package_version()} 只有 "
            f"{years[0]}–{years[-1]} 年）：请升级 chinesecalendar，或在 extra_holidays / "
            f"extra_workdays 中写明 {year} 年的假日与调休上班日 / the holiday calendar has no "
            f"data for {year} (chinesecalendar {_package_version()} covers {years[0]}–"
            f"{years[-1]}): upgrade chinesecalendar, or list that year's holidays in "
            f"extra_holidays and its make-up workdays in extra_workdays"
        )

    def is_workday(self, day: date) -> bool:
        """Whether `day` is a working day.

        Raises:
            CalendarYearError: `day` is in a year whose holidays are unknown.
        """
        cached = self._workday_cache.get(day)
        if cached is not None:
            return cached
        if day in self.extra_workdays:
            result = True
        elif day in self.extra_holidays:
            result = False
        else:
            self.check_year(day.year)
            if self.holidays == "cn" and day in _cn.workdays:
                result = True  # 调休: a weekend day worked to bridge a holiday
            elif self.holidays == "cn" and day in _cn.holidays:
                result = False
            else:
                result = day.isoweekday() not in self.weekend
        self._workday_cache[day] = result
        return result

    def next_workday(self, day: date) -> date:
        """The first working day after `day`."""
        for _ in range(_MAX_IDLE_DAYS):
            day += timedelta(days=1)
            if self.is_workday(day):
                return day
        raise ValueError(f"no working day within {_MAX_IDLE_DAYS} days after {day}")

    @cached_property
    def _spans(self) -> tuple[tuple[float, float], ...]:
        # Working windows as minutes after local midnight (24:00 = 1440).
        return tuple(
            (_clock_minutes(start), 1440.0 if end == time.max else _clock_minutes(end))
            for start, end in self.windows
        )

    def _local(self, moment: datetime) -> datetime:
        # Working hours are wall-clock hours: arithmetic is on local wall time.
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def _within(self, day: date, lo: float, hi: float) -> float:
        """Working minutes of `day` between `lo` and `hi` minutes after midnight."""
        if not self.is_workday(day):
            return 0.0
        return sum(max(0.0, min(end, hi) - max(start, lo)) for start, end in self._spans)

    def _year_prefix(self, year: int) -> list[int]:
        prefix = self._prefix_cache.get(year)
        if prefix is None:
            first, count, prefix = date(year, 1, 1), 0, [0]
            for n in range((date(year + 1, 1, 1) - first).days):
                count += self.is_workday(first + timedelta(days=n))
                prefix.append(count)
            self._prefix_cache[year] = prefix
        return prefix

    def workdays_between(self, first: date, last: date) -> int:
        """How many working days there are from `first` to `last`, both included."""
        total = 0
        for year in range(first.year, last.year + 1):
            prefix = self._year_prefix(year)
            lo = (first - date(year, 1, 1)).days if year == first.year else 0
            hi = (last - date(year, 1, 1)).days + 1 if year == last.year else len(prefix) - 1
            total += prefix[hi] - prefix[lo] if hi > lo else 0
        return total

    def business_minutes(self, start: datetime, end: datetime) -> float:
        """Working minutes between two aware moments (0 when `end` is not after `start`).

        Raises:
            ValueError: a naive datetime.
            CalendarYearError: a day in between is in an unknown year.
        """
        _aware(start, end)
        if end <= start:
            return 0.0
        s, e = self._local(start), self._local(end)
        lo, hi = _day_minutes(s), _day_minutes(e)
        if s.date() == e.date():
            return self._within(s.date(), lo, hi)
        total = self._within(s.date(), lo, 1440.0) + self._within(e.date(), 0.0, hi)
        inner_first, inner_last = s.date() + timedelta(days=1), e.date() - timedelta(days=1)
        if inner_first <= inner_last:
            total += self.workdays_between(inner_first, inner_last) * self.minutes_per_day
        return total

    def add_business_minutes(self, start: datetime, minutes: float) -> datetime:
        """The moment `minutes` working minutes after `start`.

        A due time that uses up a window exactly is that window's end (18:00), not the
        next window's start. Zero minutes is `start` itself.

        Raises:
            ValueError: a naive datetime or negative minutes.
            CalendarYearError: the count runs into a year whose holidays are unknown.
        """
        _aware(start)
        if minutes < 0:
            raise ValueError(f"minutes must not be negative, got {minutes}")
        if minutes == 0:
            return start
        remaining = float(minutes)
        local = self._local(start)
        day, lo = local.date(), _day_minutes(local)
        idle = 0
        while True:
            if self.is_workday(day):
                idle = 0
                for begin, finish in self._spans:
                    begin = max(begin, lo)
                    if finish <= begin:
                        continue
                    if remaining <= finish - begin:
                        wall = datetime.combine(day, time(0)) + timedelta(minutes=begin + remaining)
                        return wall.replace(tzinfo=self.zone).astimezone(start.tzinfo)
                    remaining -= finish - begin
            else:
                idle += 1
                if idle > _MAX_IDLE_DAYS:
                    raise ValueError(f"no working time within {_MAX_IDLE_DAYS} days after {day}")
            day, lo = day + timedelta(days=1), 0.0


def _aware(*moments: datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None:
            raise ValueError(f"datetime must be timezone-aware, got {moment!r}")


def _window_minutes(start: time, end: time) -> float:
    return (1440.0 if end == time.max else _clock_minutes(end)) - _clock_minutes(start)


def _clock_minutes(moment: time) -> float:
    return moment.hour * 60 + moment.minute + moment.second / 60


def _day_minutes(moment: datetime) -> float:
    return _clock_minutes(moment.time()) + moment.microsecond / 60_000_000


# --- config ------------------------------------------------------------------------------

CALENDAR_KEYS = {"timezone", "working_hours", "weekend", "holidays", "extra_holidays",
                 "extra_workdays"}  # fmt: skip


def parse_calendar(
    table: Mapping[str, Any], origin: str, need: Iterable[int] = ()
) -> WorkingCalendar:
    """Build a `WorkingCalendar` from a calendar table (``[cases.calendar]``).

    Keys (all optional): ``timezone`` (default ``Asia/Shanghai``), ``working_hours``
    (``["09:00-12:00", "13:30-18:00"]``; default ``["09:00-18:00"]``; ``24:00`` ends a day),
    ``weekend`` (``["sat", "sun"]`` or ISO numbers 6, 7), ``holidays`` (``cn`` or ``none``),
    ``extra_holidays`` / ``extra_workdays`` (dates: TOML dates, ``"2027-01-01"`` or a range
    ``"2027-02-06..2027-02-12"``).

    Args:
        table: The table's contents (``tomllib`` output).
        origin: Where it came from, for messages (``voc.toml: [cases.calendar]``).
        need: Years the configuration must know (the current one, and any a due time
            computed now can reach); an unknown one is an error.

    Raises:
        ValueError: naming `origin` and the key (`CalendarYearError` for an unknown year).
    """
    if not isinstance(table, Mapping):
        raise ValueError(f"{origin}: 应为表 / must be a table")
    unknown = sorted(set(table) - CALENDAR_KEYS)
    if unknown:
        raise ValueError(f"{origin}: 未知键 / unknown key(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    if "timezone" in table:
        zone = table["timezone"]
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"{origin}: timezone: 未知时区 / unknown zone {zone!r}") from None
        values["timezone"] = zone
    if "working_hours" in table:
        values["windows"] = _windows(table["working_hours"], f"{origin}: working_hours")
    if "weekend" in table:
        values["weekend"] = _weekend(table["weekend"], f"{origin}: weekend")
    if "holidays" in table:
        if table["holidays"] not in HOLIDAY_SOURCES:
            raise ValueError(
                f"{origin}: holidays: 应为 cn 或 none / must be cn or none, "
                f"got {table['holidays']!r}"
            )
        values["holidays"] = table["holidays"]
    for key in ("extra_holidays", "extra_workdays"):
        if key in table:
            values[key] = _days(table[key], f"{origin}: {key}")
    both = values.get("extra_holidays", frozenset()) & values.get("extra_workdays", frozenset())
    if both:
        raise ValueError(
            f"{origin}: {min(both)} 同时列为假日和上班日 / is both in extra_holidays and "
            "extra_workdays"
        )
    calendar = WorkingCalendar(**values)
    if len(calendar.weekend) == 7 and not calendar.extra_workdays:
        raise ValueError(f"{origin}: weekend: 一周没有工作日 / leaves no working day in a week")
    for year in sorted(set(need)):
        try:
            calendar.check_year(year)
        except CalendarYearError as exc:
            raise CalendarYearError(f"{origin}: {exc}") from None
    return calendar


def parse_calendar_config(
    table: Mapping[str, Any] | None, origin: str, now: datetime | None = None
) -> WorkingCalendar:
    """Build the working calendar from the ``[cases.calendar]`` table (see `parse_calendar`
    for its keys); it must know the current year.

    Args:
        table: The table (None or empty = the defaults: 09:00–18:00, Sat/Sun, ``cn``).
        origin: The file name, for messages.
        now: The moment config load happens (default: the current time).

    Raises:
        ValueError: naming `origin`, the table and the key (`CalendarYearError` when the
            current year is unknown).
    """
    where = f"{origin}: [cases.calendar]"
    calendar = parse_calendar(table or {}, where)
    year = (now or datetime.now(UTC)).astimezone(calendar.zone).year
    try:
        calendar.check_year(year)
    except CalendarYearError as exc:
        raise CalendarYearError(f"{where}: {exc}") from None
    return calendar


def _windows(value: Any, where: str) -> tuple[tuple[time, time], ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValueError(f'{where}: 应为时段列表 / must be a list like ["09:00-18:00"]')
    windows = []
    for item in items:
        match = _WINDOW.match(item) if isinstance(item, str) else None
        if not match:
            raise ValueError(f'{where}: 时段格式应为 "09:00-18:00" / bad window {item!r}')
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(f"{where}: 不存在的时刻 / impossible time in {item!r}")
        start, end = time(h1, m1), time.max if h2 == 24 else time(h2, m2)
        if end != time.max and end <= start:
            raise ValueError(
                f"{where}: 时段须在一天之内且结束晚于开始 / {item!r} must end after it starts "
                "on the same day"
            )
        windows.append((start, end))
    windows.sort()
    for (_, end), (start, _) in itertools.pairwise(windows):
        if end == time.max or start < end:
            raise ValueError(f"{where}: 时段重叠 / windows overlap")
    return tuple(windows)


def _weekend(value: Any, where: str) -> frozenset[int]:
    if not isinstance(value, list):
        raise ValueError(f'{where}: 应为列表 / must be a list like ["sat", "sun"]')
    days = set()
    for item in value:
        if isinstance(item, str) and item.strip().lower() in _WEEKDAYS:
            days.add(_WEEKDAYS[item.strip().lower()])
        elif isinstance(item, int) and not isinstance(item, bool) and 1 <= item <= 7:
            days.add(item)
        else:
            raise ValueError(
                f"{where}: 未知星期 / unknown weekday {item!r} (mon…sun or 1…7, 1 = Monday)"
            )
    return frozenset(days)


def _days(value: Any, where: str) -> frozenset[date]:
    if not isinstance(value, list):
        raise ValueError(f'{where}: 应为日期列表 / must be a list of dates like ["2027-01-01"]')
    days: set[date] = set()
    for item in value:
        if isinstance(item, date) and not isinstance(item, datetime):
            days.add(item)
            continue
        if isinstance(item, str):
            match = _DAY_RANGE.match(item)
            try:
                if match:
                    first, last = (date.fromisoformat(g) for g in match.groups())
                    if last < first:
                        raise ValueError
                    days.update(first + timedelta(n) for n in range((last - first).days + 1))
                    continue
                days.add(date.fromisoformat(item.strip()))
                continue
            except ValueError:
                pass
        raise ValueError(
            f'{where}: 无法识别的日期 / bad date {item!r} (use 2027-01-01 or "2027-01-01" or '
            '"2027-02-06..2027-02-12")'
        )
    return frozenset(days)
