"""回访 rules: due days on the Chinese working calendar (国庆 2025: 10-01…10-08 off, Sunday
09-28 and Saturday 10-11 are 调休 working days), the periodic stagger, and config errors."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from voc.followup_rules import (
    FollowupsConfig,
    PeriodicRule,
    Window,
    add_workdays,
    china_workday,
    parse_followups,
    parse_recovery,
    plan_after_case,
    plan_after_order,
    plan_periodic,
    plan_second,
    reason_label,
)

RULES = FollowupsConfig(default_owner="值班", default_team="客服")


@pytest.mark.parametrize(
    ("resolved", "due"),
    [
        (date(2025, 9, 30), date(2025, 10, 9)),  # Tue before 国庆 → first day after the break
        (date(2025, 9, 27), date(2025, 9, 28)),  # Sat → the 调休 Sunday
        (date(2025, 10, 10), date(2025, 10, 11)),  # Fri → the 调休 Saturday
        (date(2025, 10, 17), date(2025, 10, 20)),  # an ordinary Friday → Monday
        (date(2025, 10, 5), date(2025, 10, 9)),  # inside the holiday
    ],
)
def test_case_followup_is_due_the_next_working_day(resolved: date, due: date) -> None:
    p = plan_after_case(41, 7, resolved, "王五", None, "cust-1", RULES)
    assert p.due_on == due
    assert (p.plan_key, p.reason, p.owner, p.team) == (
        "case_resolved:41:7",
        "case_resolved",
        "王五",
        "客服",
    )
    assert p.case_id == 41 and p.customer_id == "cust-1"


def test_case_without_owner_goes_to_the_default_owner() -> None:
    assert plan_after_case(41, 1, date(2025, 3, 3), None, "售后", None, RULES).owner == "值班"
    assert plan_after_case(41, 1, date(2025, 3, 3), None, "售后", None, RULES).team == "售后"


def test_add_workdays_counts_working_days_only() -> None:
    assert add_workdays(date(2025, 9, 30), 2) == date(2025, 10, 10)
    assert add_workdays(date(2025, 10, 3), 0) == date(2025, 10, 9)
    assert add_workdays(date(2025, 10, 9), 0) == date(2025, 10, 9)
    assert not china_workday(date(2025, 10, 1)) and china_workday(date(2025, 9, 28))
    # A year the package does not know yet: Monday–Friday.
    assert china_workday(date(2031, 1, 6)) and not china_workday(date(2031, 1, 4))
    with pytest.raises(ValueError):
        add_workdays(date(2025, 1, 1), -1)


def test_order_followups_on_day_5_and_15_move_to_a_working_day() -> None:
    window = Window(date(2025, 9, 1), date(2025, 10, 31))
    plans = plan_after_order("cust-9", date(2025, 9, 26), "李经理", RULES, window)
    assert [(p.reason, p.due_on, p.plan_key) for p in plans] == [
        ("order_day5", date(2025, 10, 9), "order_day5:cust-9:2025-09-26"),  # 10-01 is 国庆
        ("order_day15", date(2025, 10, 11), "order_day15:cust-9:2025-09-26"),  # 调休 Saturday
    ]
    assert {p.owner for p in plans} == {"李经理"}
    unshifted = FollowupsConfig(shift_to_workday=False)
    assert plan_after_order("c", date(2025, 9, 26), None, unshifted, window)[0].due_on == date(
        2025, 10, 1
    )


def test_order_followups_outside_the_window_are_not_planned() -> None:
    # Today 2025-10-20 with 7 days' grace: day 5 of 2025-10-01 (10-06) is too old, day 15
    # (10-16) is still planned; an order of 2025-10-18 has nothing due yet.
    window = Window.around(date(2025, 10, 20), RULES)
    assert window == Window(date(2025, 10, 13), date(2025, 10, 20))
    plans = plan_after_order("c", date(2025, 10, 1), None, RULES, window)
    assert [p.reason for p in plans] == ["order_day15"]
    assert plan_after_order("c", date(2025, 10, 18), None, RULES, window) == []


def test_periodic_followups_come_once_per_cycle_and_spread_over_the_days() -> None:
    rules = FollowupsConfig(
        periodic=(PeriodicRule(("高价值",), 30), PeriodicRule(("高贡献",), 90, owner="大客户组"))
    )
    window = Window(date(2025, 3, 1), date(2025, 3, 30))  # exactly 30 days
    per_day: Counter[date] = Counter()
    for i in range(3000):
        plans = plan_periodic(f"cust-{i}", "高价值", "王经理", rules, window, lambda d: True)
        assert len(plans) == 1  # once in any 30 days
        per_day[plans[0].due_on] += 1
    assert len(per_day) == 30 and max(per_day.values()) < 150  # ~100 a day, not 3,000
    one = plan_periodic("cust-1", "高价值", "王经理", rules, window, lambda d: True)[0]
    wider = Window(date(2025, 3, 1), date(2025, 5, 29))
    again = plan_periodic("cust-1", "高价值", "王经理", rules, wider, lambda d: True)
    assert [p.due_on - one.due_on for p in again] == [timedelta(days=k) for k in (0, 30, 60)]
    assert one.plan_key == f"periodic:cust-1:{one.due_on.isoformat()}"
    big = plan_periodic("cust-1", "高贡献", "王经理", rules, wider, lambda d: True)
    assert len(big) == 1 and big[0].owner == "大客户组"
    assert plan_periodic("cust-1", "一般", "王经理", rules, wider) == []


def test_second_followup_is_two_working_days_later_unless_chosen() -> None:
    p = plan_second(11, date(2025, 9, 30), "王五", "客服", 41, "cust", RULES)
    assert (p.plan_key, p.reason, p.due_on, p.parent_id) == (
        "second:11",
        "second",
        date(2025, 10, 10),
        11,
    )
    chosen = plan_second(11, date(2025, 9, 30), None, None, None, None, RULES, date(2025, 11, 1))
    assert chosen.due_on == date(2025, 11, 1) and chosen.owner == "值班"


def test_reason_labels_are_chinese() -> None:
    assert reason_label("order_day15") == "下单后第 15 天回访"
    assert reason_label("case_resolved") == "工单解决后回访"
    assert reason_label("second") == "二次回访"


def test_parse_followups_reads_every_key() -> None:
    cfg = parse_followups(
        {
            "default_owner": "值班",
            "default_team": "客服",
            "after_case_days": 2,
            "order_days": [15, 5, 5],
            "order_dates": ["first_order", "last_order"],
            "order_export": "orders.csv",
            "order_key_column": "手机",
            "order_date_column": "支付时间",
            "shift_to_workday": False,
            "grace_days": 3,
            "lookahead_days": 1,
            "second_after_days": 1,
            "case_statuses": ["resolved"],
            "periodic": [{"segments": "高价值", "every_days": 30}],
        },
        "voc.toml",
    )
    assert cfg.order_days == (5, 15) and cfg.order_dates == ("first_order", "last_order")
    assert cfg.periodic == (PeriodicRule(("高价值",), 30),)
    assert (cfg.after_case_days, cfg.case_statuses, cfg.shift_to_workday) == (
        2,
        ("resolved",),
        False,
    )
    assert parse_followups(None, "voc.toml") == FollowupsConfig()
    nested = parse_followups({"recovery": {"windows": [14]}}, "voc.toml")
    assert nested.recovery.windows == (14,)


def test_parse_followups_checks_team_names_when_known() -> None:
    table = {
        "default_team": "客服",
        "periodic": [{"segments": "高价值", "every_days": 30, "team": "大客户"}],
    }
    assert parse_followups(table, "voc.toml", teams={"客服": 1, "大客户": 2}).default_team == "客服"
    with pytest.raises(ValueError, match="第 1 条 periodic team: 未知团队 大客户") as err:
        parse_followups(table, "voc.toml", teams={"客服": 1})
    assert "[cases.teams] has: 客服" in str(err.value)
    with pytest.raises(ValueError, match="default_team: 未知团队 客服"):
        parse_followups(table, "voc.toml", teams={})


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"order_days": [-1]}, "voc.toml: [cases.followups] order_days: 必须在 1 到 3660 之间"),
        ({"order_days": []}, "order_days: 必须是非空整数列表"),
        ({"after_case_days": "1"}, "after_case_days: 必须是整数"),
        ({"order_dates": ["paid_at"]}, "order_dates: 未知字段 paid_at"),
        ({"case_statuses": ["done"]}, "case_statuses: 未知状态 done"),
        ({"periodic": [{"segments": ["高价值"]}]}, "第 1 条 periodic: 缺少 every_days"),
        ({"periodic": [{"segments": ["高价值"], "every_days": 0}]}, "every_days: 必须在 1"),
        ({"periodic": {"segments": "x"}}, "periodic: 必须是 [[cases.followups.periodic]]"),
        ({"owner": "x"}, "未知设置 owner / unknown key(s): owner"),
        ({"default_owner": " "}, "default_owner: 必须是非空文本"),
    ],
)
def test_parse_followups_names_the_file_and_key(table: dict, message: str) -> None:
    with pytest.raises(ValueError, match=r"voc.toml: \[cases.followups\]") as err:
        parse_followups(table, "voc.toml")
    assert message in str(err.value)


def test_parse_recovery() -> None:
    cfg = parse_recovery({"windows": [90, 30], "silent_days": 45, "min_n": 5}, "voc.toml")
    assert (cfg.windows, cfg.silent_days, cfg.min_n) == ((30, 90), 45, 5)
    with pytest.raises(
        ValueError, match=r"\[cases.followups.recovery\] satisfied_from: 必须在 1 到 5"
    ):
        parse_recovery({"satisfied_from": 6}, "voc.toml")
    with pytest.raises(ValueError, match="unknown key"):
        parse_recovery({"window": [30]}, "voc.toml")


def test_wired_into_the_cases_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the lead wires it: ``PART_PARSERS["followups"] = parse_followups``; the teams of
    ``[cases.teams]`` are checked, and the rules land on ``CaseConfig.followups``."""
    from voc import case_config

    monkeypatch.setitem(case_config.PART_PARSERS, "followups", parse_followups)
    table = {
        "teams": {"售后": {"channels": []}},
        "followups": {"default_team": "售后", "order_days": [5], "recovery": {"windows": [30]}},
    }
    cfg = case_config.parse_case_config(table, "voc.toml")
    assert cfg.followups.default_team == "售后" and cfg.followups.recovery.windows == (30,)
    table["followups"]["default_team"] = "客服"
    with pytest.raises(
        ValueError, match=r"voc.toml: \[cases.followups\] default_team: 未知团队 客服"
    ):
        case_config.parse_case_config(table, "voc.toml")
