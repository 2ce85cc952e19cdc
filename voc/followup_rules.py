"""回访 rules (follow-up plans) and the recovery settings: the ``[cases.followups]`` and
``[cases.recovery]`` tables, and the pure planners that turn a resolved case, an order or a
customer's tier into dated follow-ups.

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

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

#: Follow-up statuses (stored) → shown.
FOLLOWUP_STATUSES = {"planned": "待回访", "done": "已回访", "cancelled": "已取消"}
#: Reasons (stored; ``order_day<N>`` for any configured day) → shown.
REASON_LABELS = {
    "case_resolved": "工单解决后回访",
    "periodic": "定期回访",
    "second": "二次回访",
}
#: The case statuses whose entry plans a 回访 by default.
CASE_STATUSES = ("follow_up", "resolved")

IsWorkday = Callable[[date], bool]


def reason_label(reason: str) -> str:
    """The Chinese label of a reason code (``order_day5`` → ``下单后第 5 天回访``)."""
    if reason.startswith("order_day") and reason[9:].isdigit():
        return f"下单后第 {reason[9:]} 天回访"
    return REASON_LABELS.get(reason, reason)


def china_workday(day: date) -> bool:
    """Whether `day` is a working day in mainland China (holidays and 调休 included);
    Monday–Friday for a year the `chinese_calendar` package does not cover yet."""
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
class PeriodicRule:
    """Call the customers of some tiers every `every_days` days.

    Attributes:
        segments: Tiers (客户分层, the customer file's current segment), e.g. ``高价值``.
        every_days: Days between calls (30, 90 …).
        owner: Who calls; None = the customer's account manager, else the default owner.
        team: The team; None = the default team.
    """

    segments: tuple[str, ...]
    every_days: int
    owner: str | None = None
    team: str | None = None


@dataclass(frozen=True, slots=True)
class FollowupsConfig:
    """The ``[cases.followups]`` table.

    Attributes:
        default_owner: Owner of a follow-up whose case or customer has none.
        default_team: Team of a follow-up whose case has none.
        case_statuses: Entering one of these case statuses plans a 回访.
        after_case_days: Working days after that (1 = the next working day).
        order_days: Days after an order (calendar days; 5 and 15).
        order_dates: Which customer-file dates count as orders: ``last_order``,
            ``first_order``.
        order_export: An order export file (CSV or XLSX) to read orders from, or None.
        order_key_column: Its customer key header (会员号/手机/邮箱, hashed like the customer
            file's keys).
        order_date_column: Its order date header.
        shift_to_workday: Move a due day that is not a working day to the next one.
        periodic: Periodic rules.
        second_after_days: Working days after an outcome for a second 回访.
        grace_days: Plan what fell due up to this many days ago.
        lookahead_days: Plan what falls due up to this many days ahead.
    """

    default_owner: str = "未分配"
    default_team: str | None = None
    case_statuses: tuple[str, ...] = CASE_STATUSES
    after_case_days: int = 1
    order_days: tuple[int, ...] = (5, 15)
    order_dates: tuple[str, ...] = ("last_order",)
    order_export: str | None = None
    order_key_column: str = "会员号"
    order_date_column: str = "下单日期"
    shift_to_workday: bool = True
    periodic: tuple[PeriodicRule, ...] = ()
    second_after_days: int = 2
    grace_days: int = 7
    lookahead_days: int = 0


@dataclass(frozen=True, slots=True)
class RecoveryConfig:
    """The ``[cases.recovery]`` table (see `warehouse.recovery` for the method).

    Attributes:
        windows: Days after resolution in which later voices and answers count (30, 90).
        satisfied_from: A 回访 satisfaction (1–5) or survey CSAT at least this is recovered.
        nps_from: A later NPS answer at least this (0–10) is recovered.
        silent_days: A customer with no voice nor answer for this many days after an
            unresolved or unrecovered case is a churn risk.
        dormant_segments: Tiers that mean the customer went dormant (休眠).
        min_n: Fewest measured cases before a recovery rate is shown as a number.
    """

    windows: tuple[int, ...] = (30, 90)
    satisfied_from: int = 4
    nps_from: int = 7
    silent_days: int = 30
    dormant_segments: tuple[str, ...] = ("休眠",)
    min_n: int = 10


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


# --- config parsing ---------------------------------------------------------------------


def _no_unknown(table: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ValueError(
            f"{where}: 未知设置 {', '.join(unknown)} / unknown key(s): {', '.join(unknown)}"
        )


def _int(table: Mapping[str, Any], key: str, where: str, low: int, high: int) -> int:
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where} {key}: 必须是整数 / must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(
            f"{where} {key}: 必须在 {low} 到 {high} 之间 / must be between {low} and {high}, "
            f"got {value}"
        )
    return value


def _ints(table: Mapping[str, Any], key: str, where: str, low: int, high: int) -> tuple[int, ...]:
    value = table[key]
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(
            f"{where} {key}: 必须是非空整数列表 / must be a non-empty list of integers"
        )
    return tuple(_int({key: v}, key, where, low, high) for v in value)


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where} {key}: 必须是非空文本 / must be non-empty text")
    return value.strip()


def _texts(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table[key]
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"{where} {key}: 必须是非空文本列表 / must be a non-empty list of text")
    return tuple(_text({key: v}, key, where) for v in value)


_ORDER_DATES = ("first_order", "last_order")


def _periodic(raw: Any, where: str) -> tuple[PeriodicRule, ...]:
    if not isinstance(raw, list | tuple):
        raise ValueError(
            f"{where} periodic: 必须是 [[cases.followups.periodic]] 表的列表 / must be an "
            "array of tables"
        )
    rules = []
    for i, item in enumerate(raw, 1):
        at = f"{where} 第 {i} 条 periodic"
        if not isinstance(item, Mapping):
            raise ValueError(f"{at}: 必须是表 / must be a table")
        _no_unknown(item, ("segments", "every_days", "owner", "team"), at)
        for key in ("segments", "every_days"):
            if key not in item:
                raise ValueError(f"{at}: 缺少 {key} / {key} is required")
        rules.append(
            PeriodicRule(
                segments=_texts(item, "segments", at),
                every_days=_int(item, "every_days", at, 1, 3660),
                owner=_text(item, "owner", at) if item.get("owner") is not None else None,
                team=_text(item, "team", at) if item.get("team") is not None else None,
            )
        )
    return tuple(rules)


def parse_followups(value: Mapping[str, Any] | None, origin: str) -> FollowupsConfig:
    """Build the `FollowupsConfig` of a ``[cases.followups]`` table.

    Raises:
        ValueError: naming `origin`, the table and the key, in Chinese and English.
    """
    if value is None:
        return FollowupsConfig()
    where = f"{origin}: [cases.followups]"
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: 必须是表 / must be a table")
    _no_unknown(value, FollowupsConfig.__dataclass_fields__, where)
    out: dict[str, Any] = {}
    for key in ("default_owner", "order_key_column", "order_date_column"):
        if key in value:
            out[key] = _text(value, key, where)
    for key in ("default_team", "order_export"):
        if value.get(key) is not None:
            out[key] = _text(value, key, where)
    if "case_statuses" in value:
        out["case_statuses"] = _texts(value, "case_statuses", where)
        bad = [s for s in out["case_statuses"] if s not in ("follow_up", "resolved", "closed")]
        if bad:
            raise ValueError(
                f"{where} case_statuses: 未知状态 {', '.join(bad)} / unknown status; one of "
                "follow_up, resolved, closed"
            )
    for key, low, high in (
        ("after_case_days", 0, 60),
        ("second_after_days", 0, 60),
        ("grace_days", 0, 366),
        ("lookahead_days", 0, 366),
    ):
        if key in value:
            out[key] = _int(value, key, where, low, high)
    if "order_days" in value:
        out["order_days"] = tuple(sorted(set(_ints(value, "order_days", where, 1, 3660))))
    if "order_dates" in value:
        out["order_dates"] = _texts(value, "order_dates", where)
        bad = [d for d in out["order_dates"] if d not in _ORDER_DATES]
        if bad:
            raise ValueError(
                f"{where} order_dates: 未知字段 {', '.join(bad)} / unknown; one of "
                f"{', '.join(_ORDER_DATES)}"
            )
    if "shift_to_workday" in value:
        if not isinstance(value["shift_to_workday"], bool):
            raise ValueError(f"{where} shift_to_workday: 必须是 true/false / must be a boolean")
        out["shift_to_workday"] = value["shift_to_workday"]
    if "periodic" in value:
        out["periodic"] = _periodic(value["periodic"], where)
    return FollowupsConfig(**out)


def parse_recovery(value: Mapping[str, Any] | None, origin: str) -> RecoveryConfig:
    """Build the `RecoveryConfig` of a ``[cases.recovery]`` table.

    Raises:
        ValueError: naming `origin`, the table and the key, in Chinese and English.
    """
    if value is None:
        return RecoveryConfig()
    where = f"{origin}: [cases.recovery]"
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: 必须是表 / must be a table")
    _no_unknown(value, RecoveryConfig.__dataclass_fields__, where)
    out: dict[str, Any] = {}
    if "windows" in value:
        out["windows"] = tuple(sorted(set(_ints(value, "windows", where, 1, 3660))))
    for key, low, high in (
        ("satisfied_from", 1, 5),
        ("nps_from", 0, 10),
        ("silent_days", 1, 3660),
        ("min_n", 1, 100_000),
    ):
        if key in value:
            out[key] = _int(value, key, where, low, high)
    if "dormant_segments" in value:
        out["dormant_segments"] = _texts(value, "dormant_segments", where)
    return RecoveryConfig(**out)


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
