"""The ``[cases.followups]`` settings table (回访 rules, `voc.followup_rules`) with its
``[cases.followups.recovery]`` sub-table (how recovery is judged, `warehouse.recovery`), and
the parse function the case settings call at load time (`voc.case_config`), so a bad value
is an error naming the file and the key before anything runs::

    [cases.followups]
    default_owner = "客服主管"     # a 回访 whose case or customer has no owner
    default_team = "客服一组"
    after_case_days = 1            # working days after 待回访/已解决
    order_days = [5, 15]           # days after an order
    order_dates = ["last_order"]   # the customer file's order dates that count
    # order_export = "data/orders.csv"   # or an order export: key and date columns
    # order_key_column = "会员号"
    # order_date_column = "下单日期"

    [[cases.followups.periodic]]
    segments = ["高价值"]
    every_days = 30

    [cases.followups.recovery]
    windows = [30, 90]
    silent_days = 30
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The case statuses whose entry plans a 回访 by default.
CASE_STATUSES = ("follow_up", "resolved")


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
class RecoveryConfig:
    """The ``[cases.followups.recovery]`` table (see `warehouse.recovery` for the method).

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
        recovery: How recovery is judged (``[cases.followups.recovery]``).
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
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)


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


def _check_teams(cfg: FollowupsConfig, teams: Mapping[str, Any] | None, where: str) -> None:
    if teams is None:
        return
    named = [("default_team", cfg.default_team)]
    named += [(f"第 {i} 条 periodic team", r.team) for i, r in enumerate(cfg.periodic, 1)]
    for key, team in named:
        if team is not None and team not in teams:
            known = ", ".join(teams) or "（无）"
            raise ValueError(
                f"{where} {key}: 未知团队 {team}（[cases.teams] 有：{known}）/ unknown team "
                f"{team!r}; [cases.teams] has: {known}"
            )


def parse_followups(
    value: Mapping[str, Any] | None, origin: str, teams: Mapping[str, Any] | None = None
) -> FollowupsConfig:
    """Build the `FollowupsConfig` of a ``[cases.followups]`` table (with its
    ``recovery`` sub-table).

    Args:
        value: The table (``tomllib`` output), or None for the defaults.
        origin: The file name, for messages.
        teams: The ``[cases.teams]`` names, when known: a team named here must be one.

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
    if "recovery" in value:
        out["recovery"] = parse_recovery(value["recovery"], origin)
    cfg = FollowupsConfig(**out)
    _check_teams(cfg, teams, where)
    return cfg


def parse_recovery(value: Mapping[str, Any] | None, origin: str) -> RecoveryConfig:
    """Build the `RecoveryConfig` of a ``[cases.followups.recovery]`` table.

    Raises:
        ValueError: naming `origin`, the table and the key, in Chinese and English.
    """
    if value is None:
        return RecoveryConfig()
    where = f"{origin}: [cases.followups.recovery]"
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
    "FollowupsConfig",
    "PeriodicRule",
    "RecoveryConfig",
    "parse_followups",
    "parse_recovery",
]
