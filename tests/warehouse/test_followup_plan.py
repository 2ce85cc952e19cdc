"""The daily 回访 planning run on real databases: follow-ups from case resolutions (read from
the case events), from the customer file's order dates and an order export (CSV and XLSX),
and from the periodic tiers; a reopened case's 回访 cancelled; re-running plans nothing.

Today is Friday 2025-10-10 (国庆 was 10-01…10-08; Saturday 10-11 is a 调休 working day),
7 days' grace: due days from 10-03 count.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from tests.followup_seed import add_customer, open_case, utc, walk
from voc.followup_rules import FollowupsConfig, PeriodicRule, Window, cycle_offset
from voc.records import hash_customer_key
from warehouse.case_store import CaseStore
from warehouse.db import warehouse
from warehouse.followup_orders import OrderFileError, parse_day, read_order_export
from warehouse.followup_plan import plan_followups
from warehouse.followup_store import FollowupStore

TODAY = date(2025, 10, 10)
NOW = utc(2025, 10, 10, 1)
SALT = "test-salt"


def _cases(engine: sa.Engine) -> dict[str, int]:
    """The planted cases; returns name → case id."""
    a = open_case(engine, "a", "K1", utc(2025, 10, 7))
    a = walk(engine, a, [("in_progress", utc(2025, 10, 8)), ("follow_up", utc(2025, 10, 9))])
    walk(engine, a, [("resolved", utc(2025, 10, 10, 0))])  # follow_up → resolved: no second
    b = open_case(engine, "b", "K2", utc(2025, 9, 28), owner=None, team=None)
    walk(engine, b, [("in_progress", utc(2025, 9, 29)), ("resolved", utc(2025, 9, 30))])
    c = open_case(engine, "c", "K3", utc(2025, 8, 30))
    walk(engine, c, [("in_progress", utc(2025, 8, 31)), ("resolved", utc(2025, 9, 1))])
    d = open_case(engine, "d", "K4", utc(2025, 10, 8))
    walk(
        engine,
        d,
        [
            ("in_progress", utc(2025, 10, 9)),
            ("resolved", utc(2025, 10, 9, 3)),
            ("in_progress", utc(2025, 10, 9, 5)),  # 重新打开 in the same batch
        ],
    )
    spam = open_case(engine, "s", None, utc(2025, 10, 9))
    walk(engine, spam, [("closed", utc(2025, 10, 9, 3))])  # closed unhandled: no 回访
    return {"a": a.case_id, "b": b.case_id, "c": c.case_id, "d": d.case_id}


def _warehouse(path: Path) -> None:
    with warehouse(path) as con:
        add_customer(con, "K1", "一般", "李经理", last_order=date(2025, 10, 5))  # day 5 = today
        add_customer(con, "K2", "一般", None, last_order=date(2025, 9, 26))  # 10-01, 10-11: no
        add_customer(con, "K3", "一般", "赵经理", last_order=date(2025, 9, 20))  # day 15 = 10-05
        add_customer(con, "K4", "一般", "李经理", first_order=date(2025, 10, 5))  # first only
        add_customer(con, "K5", "高贡献", "孙经理")
        for i in range(40):
            add_customer(con, f"V{i:02d}", "高价值", "王经理")
        con.execute(
            "INSERT INTO customer_keys VALUES (?, 'K5', 'member_id', 'i1')",
            [hash_customer_key("M100", SALT)],
        )


def _orders_csv(path: Path) -> Path:
    path.write_text(
        "会员号,下单日期,金额\n"
        "M100,2025/10/5 14:03,99\n"
        "M999,2025-10-05,10\n"
        "M100,昨天,5\n"
        ",2025-10-05,1\n",
        encoding="utf-8-sig",
    )
    return path


RULES = FollowupsConfig(
    default_owner="值班",
    default_team="客服",
    periodic=(PeriodicRule(("高价值",), 30),),
)


@pytest.fixture
def db(new_warehouse, tmp_path: Path) -> Path:
    path = new_warehouse(tmp_path / "voc.duckdb")
    _warehouse(path)
    return path


@pytest.fixture
def setup(case_engine: sa.Engine, db: Path):
    return case_engine, db, _cases(case_engine)


def test_plans_every_rule_once(setup, tmp_path: Path) -> None:
    engine, db, ids = setup
    rules = dataclasses.replace(RULES, order_export=str(_orders_csv(tmp_path / "orders.csv")))
    store, cases = FollowupStore(engine, rules), CaseStore(engine)
    with warehouse(db) as con:
        report = plan_followups(store, cases, con, TODAY, NOW, salt=SALT)
    by_key = {f.reason + ":" + (f.customer_id or ""): f for f in store.due(date(2026, 1, 1))}
    # Cases: a entered 待回访 on 10-09 → the next working day; b resolved 09-30 → 10-09 (after
    # 国庆), its missing owner/team the defaults; c too old; d reopened; the spam case closed.
    assert by_key["case_resolved:K1"].due_on == date(2025, 10, 10)
    assert by_key["case_resolved:K1"].case_id == ids["a"]
    assert (by_key["case_resolved:K1"].owner, by_key["case_resolved:K1"].team) == ("王五", "客服")
    assert by_key["case_resolved:K2"].due_on == date(2025, 10, 9)
    assert (by_key["case_resolved:K2"].owner, by_key["case_resolved:K2"].team) == ("值班", "客服")
    assert "case_resolved:K3" not in by_key and "case_resolved:K4" not in by_key
    # Orders: K1 day 5 today (its manager calls); K3 day 15 = Sunday 10-05 in 国庆 → 10-09;
    # K5 from the export (one good row of four: one unknown key, one bad date, one no key).
    assert (by_key["order_day5:K1"].due_on, by_key["order_day5:K1"].owner) == (TODAY, "李经理")
    assert (by_key["order_day15:K3"].due_on, by_key["order_day15:K3"].owner) == (
        date(2025, 10, 9),
        "赵经理",
    )
    assert by_key["order_day5:K5"].due_on == TODAY and by_key["order_day5:K5"].owner == "孙经理"
    assert "order_day5:K4" not in by_key  # first_order is not counted by default
    assert report.n_unmatched_orders == 1
    assert report.problems == [
        "orders.csv 第 4 行 / row 4: 日期无法识别 / bad date",
        "orders.csv 第 5 行 / row 5: 客户键为空 / no customer key",
    ]
    # Periodic: the 高价值 customers whose 30-day cycle day falls in 10-03…10-10.
    expected = {
        f"V{i:02d}"
        for i in range(40)
        if any(
            (d - cycle_offset(f"V{i:02d}", 30)) % 30 == 0
            for d in range(date(2025, 10, 3).toordinal(), TODAY.toordinal() + 1)
        )
    }
    periodic = {f.customer_id for f in store.due(date(2026, 1, 1)) if f.reason == "periodic"}
    assert periodic == expected and 4 <= len(expected) <= 20
    assert report.n_planned == {
        "case_resolved": 2,
        "order_day5": 2,
        "order_day15": 1,
        **{"periodic": len(expected)},
    }
    # Re-running the day plans nothing and reads no old event again.
    with warehouse(db) as con:
        again = plan_followups(store, cases, con, TODAY, NOW, salt=SALT)
    assert again.n_planned == {} and again.n_known == 3 + len(expected)
    assert store.watermark("case_events") > 0


def test_reopening_cancels_the_planned_followup(setup) -> None:
    engine, _, ids = setup
    store, cases = FollowupStore(engine, RULES), CaseStore(engine)
    plan_followups(store, cases, None, TODAY, NOW)
    (b,) = store.list_followups(case_ids=[ids["b"]])
    assert b.status == "planned"
    case = cases.get(ids["b"])
    walk(engine, case, [("in_progress", utc(2025, 10, 10, 3))])
    report = plan_followups(store, cases, None, TODAY, utc(2025, 10, 10, 4))
    assert report.n_cancelled == 1 and store.get(b.followup_id).status == "cancelled"
    # Resolved again: a new 回访 (a new event, a new plan key).
    walk(engine, cases.get(ids["b"]), [("resolved", utc(2025, 10, 10, 5))])
    report = plan_followups(store, cases, None, TODAY, utc(2025, 10, 10, 6))
    assert report.n_planned == {"case_resolved": 1}
    statuses = sorted(f.status for f in store.list_followups(case_ids=[ids["b"]]))
    assert statuses == ["cancelled", "planned"]


def test_order_export_xlsx_and_errors(db: Path, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["会员号", "下单日期"])
    sheet.append([100, None])  # a member id Excel stored as a number; no date
    sheet.append(["M100", date(2025, 10, 1)])
    book.save(tmp_path / "orders.xlsx")
    with warehouse(db) as con:
        read = read_order_export(tmp_path / "orders.xlsx", RULES, SALT, con)
        assert [(o.customer_id, o.day) for o in read.orders] == [("K5", date(2025, 10, 1))]
        assert read.problems == ["orders.xlsx 第 2 行 / row 2: 日期无法识别 / bad date"]
        (tmp_path / "bad.csv").write_text("手机,日期\n1,2\n", encoding="utf-8")
        with pytest.raises(OrderFileError, match="缺少列 order_key_column = '会员号'"):
            read_order_export(tmp_path / "bad.csv", RULES, SALT, con)
        with pytest.raises(OrderFileError, match="file not found"):
            read_order_export(tmp_path / "none.csv", RULES, SALT, con)
    assert parse_day("2025年3月1日") == date(2025, 3, 1)
    assert parse_day("2025-02-30") is None and parse_day(None) is None


def test_no_periodic_call_next_to_another(case_engine: sa.Engine, new_warehouse, tmp_path) -> None:
    """A 高价值 customer whose day-5 order 回访 is 2 days from its periodic day gets only the
    order's call; one whose order call is half a cycle (15 days) away gets both."""
    rules = dataclasses.replace(
        RULES, order_days=(5,), grace_days=0, lookahead_days=29, shift_to_workday=False
    )
    window = Window.around(TODAY, rules)  # 30 days: one periodic day per customer
    db = new_warehouse(tmp_path / "near.duckdb")
    with warehouse(db) as con:
        for name, gap in (("NEAR", 2), ("FAR", 15)):
            start = window.first.toordinal()
            periodic = date.fromordinal(start + (cycle_offset(name, 30) - start) % 30)
            call = periodic - timedelta(days=gap)
            call = call if window.holds(call) else periodic + timedelta(days=gap)
            add_customer(con, name, "高价值", "王经理", last_order=call - timedelta(days=5))
        store = FollowupStore(case_engine, rules)
        report = plan_followups(store, CaseStore(case_engine), con, TODAY, NOW)
    got = sorted((f.customer_id, f.reason) for f in store.list_followups())
    assert got == [("FAR", "order_day5"), ("FAR", "periodic"), ("NEAR", "order_day5")]
    assert report.n_planned == {"order_day5": 2, "periodic": 1}


def test_reopened_and_resolved_again_in_one_batch(case_engine: sa.Engine) -> None:
    store, cases = FollowupStore(case_engine, RULES), CaseStore(case_engine)
    case = open_case(case_engine, "r", "K9", utc(2025, 10, 8))
    plan_followups(store, cases, None, TODAY, NOW)  # nothing to plan; the watermark moves
    walk(
        case_engine,
        case,
        [
            ("in_progress", utc(2025, 10, 9)),
            ("resolved", utc(2025, 10, 9, 3)),
            ("in_progress", utc(2025, 10, 9, 4)),
            ("resolved", utc(2025, 10, 9, 5)),
        ],
    )
    report = plan_followups(store, cases, None, TODAY, NOW)
    assert report.n_planned == {"case_resolved": 1} and report.n_cancelled == 0
    (f,) = store.list_followups(case_ids=[case.case_id])
    assert (f.status, f.due_on) == ("planned", TODAY)
