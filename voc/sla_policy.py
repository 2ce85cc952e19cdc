"""SLA policies and the ``[cases.sla]`` config: which targets apply to which case.

The clocks themselves are computed in `voc.sla` (which re-exports everything here).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from voc.business_time import CalendarYearError, WorkingCalendar, parse_calendar_config
from voc.records import CHANNELS

CLOCKS = ("first_response", "resolution")
TIME_BASES = ("business", "calendar")
#: The states an alert is sent for, once per case, clock and state.
ALERT_STATES = ("due_soon", "breached")
PRIORITIES = ("P1", "P2", "P3", "P4")
#: Statuses during which a clock runs, is paused, or has stopped (`resolution`).
COUNTING = frozenset({"new", "acknowledged", "in_progress"})
PAUSED = frozenset({"waiting_customer"})
RESOLVED = frozenset({"follow_up", "resolved", "closed"})
DEFAULT_DUE_SOON = "25%"

_DURATION = re.compile(r"^\s*(-)?\s*((?:\d+(?:\.\d+)?\s*[dhm]\s*)+)$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhm])")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class CaseLike(Protocol):
    """What the clocks read of a case (`voc.cases.Case` has it all)."""

    case_id: str
    status: str
    priority: str
    channel: str | None
    source: str | None
    opened_at: datetime
    first_response_at: datetime | None


@dataclass(frozen=True)
class Duration:
    """A configured duration: whole days (a business day is one working day's minutes)
    plus minutes."""

    days: float = 0.0
    minutes: float = 0.0

    def total(self, minutes_per_day: float) -> float:
        """Minutes, a day counted as `minutes_per_day`."""
        return self.days * minutes_per_day + self.minutes


@dataclass(frozen=True)
class DueSoon:
    """How early a clock counts as due soon: a fixed number of minutes before its due
    time, or a share of its target (``0.25`` = the last quarter)."""

    minutes: float | None = None
    share: float | None = None

    def window(self, limit: float) -> float:
        """The due-soon window, in minutes, of a clock whose target is `limit` minutes."""
        return self.minutes if self.minutes is not None else limit * (self.share or 0.0)


@dataclass(frozen=True)
class SlaPolicy:
    """One ``[[cases.sla.policies]]`` entry; the first that matches a case applies.

    Attributes:
        name: Shown with the clocks (default ``第 N 条``).
        channels: Channels it applies to (``ticket``, ``social``...); empty = any.
        priorities: Priorities it applies to; empty = any.
        sources: Source-name globs (``complaints_*``); empty = any.
        first_response: Target minutes to the first response; None = no such clock.
        resolution: Target minutes to resolution; None = no such clock.
        time: ``business`` (working minutes of the calendar) or ``calendar``.
        due_soon: When a running clock counts as due soon.
    """

    name: str
    first_response: float | None
    resolution: float | None
    time: str = "business"
    channels: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    due_soon: DueSoon = DueSoon(share=0.25)

    def matches(self, case: CaseLike) -> bool:
        """Whether every criterion given matches the case."""
        if self.channels and case.channel not in self.channels:
            return False
        if self.priorities and case.priority not in self.priorities:
            return False
        return not self.sources or any(
            fnmatch.fnmatchcase(case.source or "", p) for p in self.sources
        )

    def target(self, clock: str) -> float | None:
        """The target minutes of `clock` (``first_response`` or ``resolution``)."""
        return self.first_response if clock == "first_response" else self.resolution


@dataclass(frozen=True)
class SlaConfig:
    """The parsed ``[cases.sla]`` table: the working calendar and the policies."""

    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    policies: tuple[SlaPolicy, ...] = ()

    def policy_for(self, case: CaseLike) -> SlaPolicy | None:
        """The first policy matching `case`, or None (the case has no SLA)."""
        return next((p for p in self.policies if p.matches(case)), None)


# --- config ------------------------------------------------------------------------------

_SLA_KEYS = {"policies", "due_soon"}
_POLICY_KEYS = {"name", "channel", "priority", "source", "first_response", "resolution", "time",
                "due_soon"}  # fmt: skip


def parse_duration(value: Any, where: str) -> Duration:
    """``"90m"``, ``"4h"``, ``"1h30m"``, ``"2d"`` or whole minutes (an integer).

    Raises:
        ValueError: naming `where`: not a duration, negative, or zero.
    """
    if isinstance(value, bool):
        raise ValueError(f'{where}: 应为时长 / must be a duration like "4h", got {value!r}')
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{where}: 时长不能为负 / must not be negative")
        duration = Duration(minutes=float(value))
    else:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if not match:
            raise ValueError(
                f'{where}: 时长格式应为 "30m"、"4h"、"1h30m" 或 "2d" / must be a duration like '
                f'"30m", "4h", "1h30m" or "2d", got {value!r}'
            )
        if match[1]:
            raise ValueError(f"{where}: 时长不能为负 / must not be negative")
        days = minutes = 0.0
        for number, unit in _PART.findall(match[2]):
            if unit == "d":
                days += float(number)
            else:
                minutes += float(number) * (60 if unit == "h" else 1)
        duration = Duration(days, minutes)
    if duration.days == 0 and duration.minutes == 0:
        raise ValueError(f"{where}: 时长必须大于 0 / must be more than 0")
    return duration


def _due_soon(value: Any, where: str, minutes_per_day: float) -> DueSoon:
    match = _PERCENT.match(value) if isinstance(value, str) else None
    if match:
        share = float(match[1]) / 100
        if share > 1:
            raise ValueError(f"{where}: 比例不能超过 100% / must be at most 100%")
        return DueSoon(share=share)
    return DueSoon(minutes=parse_duration(value, where).total(minutes_per_day))


def _names(value: Any, where: str, allowed: Sequence[str] | None = None) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
        raise ValueError(f"{where}: 应为字符串或字符串列表 / must be a string or a list of strings")
    if allowed is not None:
        for item in items:
            if item not in allowed:
                raise ValueError(
                    f"{where}: 未知取值 / unknown value {item!r}; 可选 / allowed: "
                    f"{', '.join(allowed)}"
                )
    return tuple(items)


def parse_sla_config(
    table: Mapping[str, Any] | None,
    origin: str,
    *,
    calendar: WorkingCalendar | None = None,
    now: datetime | None = None,
) -> SlaConfig:
    """Build an `SlaConfig` from the ``[cases.sla]`` table (see docs/sla.md).

    Every day a due time computed `now` can reach must be known to `calendar`: a
    ten-working-day target loaded on 2026-12-24 needs 2027, else a `CalendarYearError`
    names the year and the policy.

    Args:
        table: The ``[cases.sla]`` table (``tomllib`` output); None or empty = no policies.
        origin: The file name, for messages.
        calendar: The working calendar (``[cases.calendar]``, `parse_calendar_config`);
            None = the default one (09:00–18:00, Sat/Sun off, Chinese holidays).
        now: The moment config load happens (default: the current time).

    Raises:
        ValueError: naming `origin`, the table and the key.
    """
    where = f"{origin}: [cases.sla]"
    table = {} if table is None else table
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: 应为表 / must be a table")
    unknown = sorted(set(table) - _SLA_KEYS)
    if unknown:
        raise ValueError(f"{where}: 未知键 / unknown key(s): {', '.join(unknown)}")
    now = now or datetime.now(UTC)
    calendar = calendar or parse_calendar_config({}, origin, now)
    per_day = calendar.minutes_per_day
    default_due_soon = _due_soon(
        table.get("due_soon", DEFAULT_DUE_SOON), f"{where} due_soon", per_day
    )
    raw = table.get("policies", [])
    if not isinstance(raw, list):
        raise ValueError(f"{where}: policies 应为 [[cases.sla.policies]] 表数组 / must be an array")
    policies = []
    for i, spec in enumerate(raw, 1):
        at = f"{origin}: [[cases.sla.policies]] 第 {i} 条"
        policy = _policy(spec, at, calendar, default_due_soon, i)
        _check_reach(policy, calendar, now, at)
        policies.append(policy)
    return SlaConfig(calendar=calendar, policies=tuple(policies))


def _policy(
    spec: Any, at: str, calendar: WorkingCalendar, due_soon: DueSoon, index: int
) -> SlaPolicy:
    if not isinstance(spec, Mapping):
        raise ValueError(f"{at}: 应为表 / must be a table")
    unknown = sorted(set(spec) - _POLICY_KEYS)
    if unknown:
        raise ValueError(f"{at}: 未知键 / unknown key(s): {', '.join(unknown)}")
    time_basis = spec.get("time", "business")
    if time_basis not in TIME_BASES:
        raise ValueError(
            f"{at} time: 应为 business 或 calendar / must be business or calendar, "
            f"got {time_basis!r}"
        )
    per_day = calendar.minutes_per_day if time_basis == "business" else 24 * 60
    targets = {}
    for key in CLOCKS:
        if key in spec:
            targets[key] = parse_duration(spec[key], f"{at} {key}").total(per_day)
    if not targets:
        raise ValueError(
            f"{at}: 至少需要 first_response 或 resolution / needs first_response or resolution"
        )
    name = spec.get("name", f"第 {index} 条")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{at} name: 应为非空字符串 / must be a non-empty string")
    return SlaPolicy(
        name=name.strip(),
        first_response=targets.get("first_response"),
        resolution=targets.get("resolution"),
        time=time_basis,
        channels=_names(spec["channel"], f"{at} channel", CHANNELS) if "channel" in spec else (),
        priorities=(
            _names(spec["priority"], f"{at} priority", PRIORITIES) if "priority" in spec else ()
        ),
        sources=_names(spec["source"], f"{at} source") if "source" in spec else (),
        due_soon=_due_soon(spec["due_soon"], f"{at} due_soon", per_day)
        if "due_soon" in spec
        else due_soon,
    )


def _check_reach(policy: SlaPolicy, calendar: WorkingCalendar, now: datetime, at: str) -> None:
    """A case opened `now` must get a due time: the calendar must know the days it needs."""
    if policy.time != "business":
        return
    for key in CLOCKS:
        limit = policy.target(key)
        if limit is None:
            continue
        try:
            calendar.add_business_minutes(now, limit)
        except CalendarYearError as exc:
            raise CalendarYearError(f"{at} {key}: {exc}") from None
