"""回访 rules (follow-up plans): the pure planners that turn a resolved case, an order or a
customer's tier into dated follow-ups, by the ``[cases.followups]`` settings
(`voc.followup_config`, re-exported here with its parse functions).

A planned follow-up carries a **plan key** that says why it exists; the store keeps one
follow-up per key, so planning the same day again plans nothing new:

- ``case_resolved:<case_id>:<event seq>`` — the case entered 待回访/已解决 (event `seq`); a
  reopened case that is resolved again gets a new one. Due `after_case_days` working days
  after that day.
- ``order_day<N>:<customer_id>:<order day>`` — day N after an order (default days 5 and
  15), from the customer file's first/last order dates or an order export.
- ``periodic:<customer_id>:<day>`` — every `every_days` days for the tiers of a periodic
  rule. Each customer's cycle is offset by a hash of its id, so 3,000 高价值 customers on a
  30-day cycle are ~100 calls a day, not 3,000 on one day.
- ``second:<followup_id>`` — a second 回访 asked for when an outcome was recorded.

Only what falls due from `grace_days` ago up to `lookahead_days` ahead is planned: the first
run over years of orders plans the recent ones, not every order since 2019.

Working days: `china_workday` (the `chinese_calendar` package: weekends, public holidays,
调休 make-up days; Monday–Friday for a year the package does not know yet) unless the caller
passes another calendar (the SLA's business calendar).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from voc.followup_config import (
    CASE_STATUSES,
    FollowupsConfig,
    PeriodicRule,
    RecoveryConfig,
    parse_followups,
    parse_recovery,
)

#: Follow-up statuses (stored) → shown.
FOLLOWUP_STATUSES = {"planned": "待回访", "done": "已回访", "cancelled": "已取消"}
#: Reasons (stored; ``order_day<N>`` for any configured day) → shown.
REASON_LABELS = {
    "case_resolved": "工单解决后回访",
    "periodic": "定期回访",
    "second": "二次回访",
}

IsWorkday = Callable[[date], bool]


def reason_label(reason: str) -> str:
    """The Chinese label of a reason code (``order_day5`` → ``下单后第 5 天回访``)."""
    if reason.startswith("order_day") and reason[9:].isdigit():
        return f"下单后第 {reason[9:]} 天回访"
    return REASON_LABELS.get(reason, reason)


@functools.lru_cache(maxsize=4096)
def china_workday(day: date) -> bool:
    """Whether `day` is a working day in mainland China (holidays and 调休 included);
    Monday–Friday for a year the `chinese_calendar` package does not cover yet. Cached:
    the package scans its whole table on every call, and a planning run asks ~100,000
    times about a few dozen days."""
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def add_workdays(day: date, n: int, is_workday: IsWorkday = china_workday) -> date:
    """The `n`-th working day after `day` (n ≥ 1); n = 0 gives `day` itself, or the next
    working day when `day` is not one."""
    if n < 0:
        raise ValueError("n must not be negative")
    out = day
    if n == 0:
        while not is_workday(out):
            out += timedelta(days=1)
        return out
    while n:
        out += timedelta(days=1)
        if is_workday(out):
            n -= 1
    return out


@dataclass(frozen=True, slots=True)
class PlannedFollowup:
    """A follow-up a rule asks for (the store keeps one per `plan_key`)."""

    plan_key: str
    reason: str
    due_on: date
    owner: str | None
    team: str | None = None
    case_id: int | None = None
    customer_id: str | None = None
    parent_id: int | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """The due days a planning run covers: ``first <= due_on <= last``."""

    first: date
    last: date

    @classmethod
    def around(cls, today: date, rules: FollowupsConfig) -> Window:
        """From `grace_days` before `today` to `lookahead_days` after it."""
        return cls(
            today - timedelta(days=rules.grace_days), today + timedelta(days=rules.lookahead_days)
        )

    def holds(self, day: date) -> bool:
        """Whether `day` is in the window."""
        return self.first <= day <= self.last


def _due(day: date, rules: FollowupsConfig, is_workday: IsWorkday) -> date:
    return add_workdays(day, 0, is_workday) if rules.shift_to_workday else day


def plan_after_case(
    case_id: int,
    seq: int,
    day: date,
    owner: str | None,
    team: str | None,
    customer_id: str | None,
    rules: FollowupsConfig,
    is_workday: IsWorkday = china_workday,
) -> PlannedFollowup:
    """The 回访 of a case that entered 待回访/已解决 on local `day` (event `seq`)."""
    return PlannedFollowup(
        plan_key=f"case_resolved:{case_id}:{seq}",
        reason="case_resolved",
        due_on=add_workdays(day, rules.after_case_days, is_workday),
        owner=owner or rules.default_owner,
        team=team or rules.default_team,
        case_id=case_id,
        customer_id=customer_id,
    )


def plan_after_order(
    customer_id: str,
    order_day: date,
    owner: str | None,
    rules: FollowupsConfig,
    window: Window,
    is_workday: IsWorkday = china_workday,
) -> list[PlannedFollowup]:
    """The day-N 回访 of one order that fall due in `window` (before the workday shift)."""
    out = []
    for n in rules.order_days:
        day = order_day + timedelta(days=n)
        if window.holds(day):
            out.append(
                PlannedFollowup(
                    plan_key=f"order_day{n}:{customer_id}:{order_day.isoformat()}",
                    reason=f"order_day{n}",
                    due_on=_due(day, rules, is_workday),
                    owner=owner or rules.default_owner,
                    team=rules.default_team,
                    customer_id=customer_id,
                )
            )
    return out


def cycle_offset(customer_id: str, every_days: int) -> int:
    """A customer's fixed place in an `every_days` cycle (from a hash of its id)."""
    digest = hashlib.sha256(customer_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % every_days


def plan_periodic(
    customer_id: str,
    segment: str | None,
    owner: str | None,
    rules: FollowupsConfig,
    window: Window,
    is_workday: IsWorkday = china_workday,
) -> list[PlannedFollowup]:
    """The periodic 回访 of one customer (by its current tier) that fall due in `window`;
    the first matching rule of its tier applies."""
    rule = next((r for r in rules.periodic if segment in r.segments), None)
    if rule is None:
        return []
    offset = cycle_offset(customer_id, rule.every_days)
    # The first cycle day on or after the window's start: day.toordinal() ≡ offset.
    start = window.first.toordinal()
    first = start + (offset - start) % rule.every_days
    out = []
    for ordinal in range(first, window.last.toordinal() + 1, rule.every_days):
        day = date.fromordinal(ordinal)
        out.append(
            PlannedFollowup(
                plan_key=f"periodic:{customer_id}:{day.isoformat()}",
                reason="periodic",
                due_on=_due(day, rules, is_workday),
                owner=rule.owner or owner or rules.default_owner,
                team=rule.team or rules.default_team,
                customer_id=customer_id,
            )
        )
    return out


def plan_second(
    parent_id: int,
    day: date,
    owner: str | None,
    team: str | None,
    case_id: int | None,
    customer_id: str | None,
    rules: FollowupsConfig,
    due_on: date | None = None,
    is_workday: IsWorkday = china_workday,
) -> PlannedFollowup:
    """The second 回访 asked for by an outcome recorded on local `day` (on `due_on` when
    the caller chose one)."""
    return PlannedFollowup(
        plan_key=f"second:{parent_id}",
        reason="second",
        due_on=due_on or add_workdays(day, rules.second_after_days, is_workday),
        owner=owner or rules.default_owner,
        team=team,
        case_id=case_id,
        customer_id=customer_id,
        parent_id=parent_id,
    )


__all__ = [
    "CASE_STATUSES",
    "FOLLOWUP_STATUSES",
    "FollowupsConfig",
    "PeriodicRule",
    "PlannedFollowup",
    "RecoveryConfig",
    "Window",
    "add_workdays",
    "china_workday",
    "cycle_offset",
    "parse_followups",
    "parse_recovery",
    "plan_after_case",
    "plan_after_order",
    "plan_periodic",
    "plan_second",
    "reason_label",
]
