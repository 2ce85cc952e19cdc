"""Did the recovery work? Measured on a planted set of cases (real case store on SQLite and
PostgreSQL, real DuckDB warehouse) against verdicts, rates and Wilson intervals computed
by hand.

As of 2026-01-15 02:00 UTC; windows 30 and 90 days; every complaint is a negative voice at
the case's opening. Cases C1–C9 opened 2025-09-28 and were resolved 2025-10-01 unless said:

| case | owner / theme     | evidence after                                   | 30 d | 90 d |
|------|-------------------|--------------------------------------------------|------|------|
| C1   | 王五 / 物流慢      | 回访 5; positive voice 10-10                       | R    | R    |
| C2   | 王五 / 物流慢      | 回访 2                                            | N    | N    |
| C3   | 王五 / 物流慢      | survey CSAT 4 on 10-20                            | R    | R    |
| C4   | 王五 / 物流慢      | negative voice 11-15 (day 45)                     | –    | N    |
| C5   | 王五 / 物流慢      | 回访 4, but a negative voice 10-05                 | N    | N    |
| C6   | 李四 / 价格        | resolved 12-20: positive voice 12-25, window open | –    | –    |
| C7   | 李四 / 价格        | closed 10-05; survey NPS 3 on 10-15; → 休眠 12-01  | N    | N    |
| C8   | 李四 / 价格        | nothing (silent)                                  | –    | –    |
| C9   | 李四 / 物流慢      | positive voice 10-20 (+ an exact duplicate: left out) | R | R   |

Open cases: C10 (Q5, opened 11-01, silent since), C11 (Q6, opened 2026-01-10).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.followup_seed import (
    add_answer,
    add_customer,
    add_voice,
    move_segment,
    open_case,
    utc,
    walk,
)
from voc.followup_rules import PlannedFollowup, RecoveryConfig
from warehouse.case_store import CaseStore
from warehouse.db import read_only, warehouse
from warehouse.followup_store import FollowupStore
from warehouse.followup_views import customer_history, recovery_report, todays_list
from warehouse.recovery import NOT_RECOVERED, RECOVERED, decide, recovery_rates, recovery_table

AS_OF = utc(2026, 1, 15)
CONFIG = RecoveryConfig(windows=(30, 90), silent_days=30, min_n=3)
OPENED, RESOLVED = utc(2025, 9, 28), utc(2025, 10, 1)

#: case → (customer, owner, theme)
PLANTED = {
    "C1": ("P1", "王五", "物流慢"),
    "C2": ("P2", "王五", "物流慢"),
    "C3": ("P3", "王五", "物流慢"),
    "C4": ("P4", "王五", "物流慢"),
    "C5": ("P5", "王五", "物流慢"),
    "C6": ("Q1", "李四", "价格"),
    "C7": ("Q2", "李四", "价格"),
    "C8": ("Q3", "李四", "价格"),
    "C9": ("Q4", "李四", "物流慢"),
}


def _plant(engine: sa.Engine, db: Path) -> dict[str, int]:
    ids = {}
    for name, (customer, owner, theme) in PLANTED.items():
        opened, resolved = (
            (utc(2025, 12, 15), utc(2025, 12, 20)) if name == "C6" else (OPENED, RESOLVED)
        )
        case = open_case(
            engine,
            name,
            customer,
            opened,
            owner=owner,
            theme_label=theme,
            channel="ticket" if owner == "王五" else "weibo",
            segment="高价值" if owner == "王五" else "一般",
        )
        steps = [
            ("in_progress", utc(2025, 9, 29) if name != "C6" else utc(2025, 12, 16)),
            ("resolved", resolved),
        ]
        if name == "C7":
            steps.append(("closed", utc(2025, 10, 5)))
        ids[name] = walk(engine, case, steps).case_id
    c10 = open_case(engine, "C10", "Q5", utc(2025, 11, 1), owner="李四", theme_label="价格")
    c11 = open_case(engine, "C11", "Q6", utc(2026, 1, 10), owner="李四", theme_label="价格")
    walk(engine, c10, [("in_progress", utc(2025, 11, 2))])
    ids["C10"], ids["C11"] = c10.case_id, c11.case_id
    open_case(engine, "C12", None, OPENED)  # no customer: measured by nobody
    store = FollowupStore(engine)
    for name, score in (("C1", 5), ("C2", 2), ("C5", 4)):
        store.plan(
            [
                PlannedFollowup(
                    f"case_resolved:{name}",
                    "case_resolved",
                    date(2025, 10, 2),
                    "王五",
                    case_id=ids[name],
                    customer_id=PLANTED[name][0],
                )
            ],
            RESOLVED,
        )
        (f,) = store.list_followups(case_ids=[ids[name]])
        store.record_outcome(f.followup_id, "王五", True, score, at=utc(2025, 10, 2))
    with warehouse(db) as con:
        for _name, (customer, _, _) in [
            *PLANTED.items(),
            ("C10", ("Q5",) * 3),
            ("C11", ("Q6",) * 3),
        ]:
            add_customer(con, customer, "高价值")
        for name in PLANTED:
            at = utc(2025, 12, 15) if name == "C6" else OPENED
            add_voice(con, f"v-{name}", PLANTED[name][0], at, "negative")
        add_voice(con, "v-C10", "Q5", utc(2025, 11, 1), "negative")
        add_voice(con, "v-C11", "Q6", utc(2026, 1, 10), "negative")
        add_voice(con, "later-1", "P1", utc(2025, 10, 10), "positive")
        add_answer(con, "r-3", "P3", utc(2025, 10, 20), csat=4)
        add_voice(con, "later-4", "P4", utc(2025, 11, 15), "negative")
        add_voice(con, "later-5", "P5", utc(2025, 10, 5), "negative")
        add_voice(con, "later-6", "Q1", utc(2025, 12, 25), "positive")
        add_answer(con, "r-7", "Q2", utc(2025, 10, 15), nps=3)
        move_segment(con, "Q2", date(2025, 12, 1), "休眠")
        add_voice(con, "later-9", "Q4", utc(2025, 10, 20), "positive")
        add_voice(con, "later-9-dup", "Q4", utc(2025, 10, 21), "negative", duplicate_of="v-C1")
        add_answer(con, "r-old", "P3", utc(2025, 9, 1), csat=1)  # before the case opened
    return ids


@pytest.fixture
def planted(case_engine: sa.Engine, new_warehouse, tmp_path: Path):
    db = new_warehouse(tmp_path / "voc.duckdb")
    ids = _plant(case_engine, db)
    # Read-only, as the dashboard reads its snapshot.
    with read_only(db) as con:
        report = recovery_report(
            con, CaseStore(case_engine), FollowupStore(case_engine), AS_OF, CONFIG
        )
    return case_engine, db, ids, report


def test_verdicts_per_case_and_window(planted) -> None:
    _, _, ids, report = planted
    names = {v: k for k, v in ids.items()}
    got = {(names[r.case_id], r.window_days): r.verdict for r in report.recoveries}
    R, N = RECOVERED, NOT_RECOVERED
    expected = {
        "C1": (R, R),
        "C2": (N, N),
        "C3": (R, R),
        "C4": (None, N),
        "C5": (N, N),
        "C6": (None, None),
        "C7": (N, N),
        "C8": (None, None),
        "C9": (R, R),
    }
    assert got == {(c, w): v[i] for c, v in expected.items() for i, w in enumerate((30, 90))}
    c3 = next(r for r in report.recoveries if r.case_id == ids["C3"] and r.window_days == 30)
    # Before: the answer of 09-01 (27 days before opening) said 1; after: 4.
    assert (c3.n_before, c3.neg_before, c3.csat_before, c3.csat_after) == (1, 1, 1, 4)
    c5 = next(r for r in report.recoveries if r.case_id == ids["C5"] and r.window_days == 30)
    assert (c5.followup_score, c5.n_after, c5.neg_after) == (4, 1, 1)
    assert c5.evidence == ("回访满意度 4", "后续负面声音 1 条")
    c6 = next(r for r in report.recoveries if r.case_id == ids["C6"] and r.window_days == 30)
    assert (c6.window_complete, c6.n_after) == (False, 1)
    c9 = next(r for r in report.recoveries if r.case_id == ids["C9"] and r.window_days == 30)
    assert (c9.n_after, c9.neg_after) == (1, 0)  # the duplicate is not counted
    assert ids["C10"] not in {r.case_id for r in report.recoveries}
    table = recovery_table([r for r in report.recoveries if r.window_days == 90])
    assert len(table) == 9 and table.iloc[0].case_id == ids["C6"]  # newest ended first
    row = table.set_index("case_id").loc[ids["C4"]]
    assert (row.verdict_label, row.evidence, row.neg_after) == ("未挽回", "后续负面声音 1 条", 1)


def test_rates_with_wilson_intervals(planted) -> None:
    report = planted[3]
    by_owner = report.rates("owner", 30).set_index("owner")
    # 王五: measured C1 C2 C3 C5, recovered C1 C3: 2/4 = 50 %, Wilson 95 % [15.00, 85.00].
    wang = by_owner.loc["王五"]
    assert (wang.n_closed, wang.n_measured, wang.n_recovered) == (5, 4, 2)
    assert wang.rate == pytest.approx(50.0)
    assert (wang.low, wang.high) == (pytest.approx(15.00, abs=0.01), pytest.approx(85.00, abs=0.01))
    assert wang.enough and wang.display == "50.0%"
    # Pooled negative share: before 5/5; after C1's positive and C5's negative: 1/2.
    assert (wang.negative_before, wang.negative_after) == (1.0, 0.5)
    assert wang.followup_score == pytest.approx(11 / 3)
    # 李四: measured C7 C9, recovered C9: 1/2, Wilson [9.45, 90.55]; fewer than min_n = 3.
    li = by_owner.loc["李四"]
    assert (li.n_closed, li.n_measured, li.n_recovered) == (4, 2, 1)
    assert (li.low, li.high) == (pytest.approx(9.45, abs=0.01), pytest.approx(90.55, abs=0.01))
    assert not li.enough and li.display == "样本不足"
    # 90 days: 王五 2/5 = 40 %, Wilson [11.76, 76.93].
    wang90 = report.rates("owner", 90).set_index("owner").loc["王五"]
    assert (wang90.n_measured, wang90.rate) == (5, pytest.approx(40.0))
    assert (wang90.low, wang90.high) == (
        pytest.approx(11.76, abs=0.01),
        pytest.approx(76.93, abs=0.01),
    )
    # By theme (C9 is 李四's 物流慢 case): 物流慢 3/5 = 60 % [23.07, 88.24]; 价格 0/1 [0, 79.35].
    themes = report.rates("theme", 30).set_index("theme")
    assert (themes.loc["物流慢"].n_measured, themes.loc["物流慢"].n_recovered) == (5, 3)
    assert themes.loc["物流慢"].low == pytest.approx(23.07, abs=0.01)
    assert themes.loc["物流慢"].high == pytest.approx(88.24, abs=0.01)
    assert (themes.loc["价格"].rate, themes.loc["价格"].high) == (
        0.0,
        pytest.approx(79.35, abs=0.01),
    )
    assert list(report.rates("channel", 30)["channel"]) == ["ticket", "weibo"]
    assert set(report.rates("segment", 30)["segment"]) == {"高价值", "一般"}
    plain = report.as_dict(30)
    assert plain["overall"]["n_measured"] == 6 and plain["overall"]["n_recovered"] == 3
    assert plain["overall"]["low"] == pytest.approx(18.76, abs=0.01)  # Wilson 3/6
    assert plain["overall"]["high"] == pytest.approx(81.24, abs=0.01)
    assert {r["owner"]: r["n_recovered"] for r in plain["rates"]["owner"]} == {"王五": 2, "李四": 1}
    assert plain["churn_risk"][0]["dormant_since"] == "2025-12-01"
    json.dumps(plain, ensure_ascii=False)  # plain values only
    with pytest.raises(ValueError, match="unknown dimension 'city'"):
        recovery_rates(report.recoveries, "city", 30)


def test_churn_risk_list(planted) -> None:
    _, _, ids, report = planted
    churn = report.churn
    assert list(churn["customer_id"]) == ["Q2", "P2", "P5", "Q5", "P4"]
    assert list(churn["risk"]) == ["转为休眠", "沉默", "沉默", "沉默", "沉默"]
    assert list(churn["silent_days"]) == [92, 106, 102, 75, 61]
    assert list(churn["reasons"]) == ["未挽回", "未挽回", "未挽回", "未解决", "未挽回"]
    q2 = churn.iloc[0]
    assert (q2.dormant_since, q2.segment_now, q2.case_ids) == (
        date(2025, 12, 1),
        "休眠",
        str(ids["C7"]),
    )
    # Q6's open case is 5 days old; recovered and unmeasured customers are not listed.
    assert not {"Q6", "P1", "P3", "Q4", "Q3", "Q1"} & set(churn["customer_id"])


def test_customer_history_on_one_page(planted) -> None:
    engine, db, ids, _ = planted
    with warehouse(db) as con:
        page = customer_history(con, CaseStore(engine), FollowupStore(engine), "P5")
        assert page.customer["segment"] == "高价值"
        assert list(page.voices["sentiment"]) == ["negative", "negative"]  # 10-05, 09-28
        assert [c.case_id for c in page.cases] == [ids["C5"]]
        assert [o.satisfaction for _, o in page.outcomes] == [4]
        p3 = customer_history(con, CaseStore(engine), FollowupStore(engine), "P3")
        assert list(p3.responses["csat"]) == [4, 1]
        assert customer_history(con, CaseStore(engine), FollowupStore(engine), "nobody") is None
    only_store = customer_history(None, CaseStore(engine), FollowupStore(engine), "P1")
    assert only_store.voices.empty and [c.case_id for c in only_store.cases] == [ids["C1"]]


def test_todays_list_carries_the_cases(case_engine: sa.Engine) -> None:
    case = open_case(case_engine, "x", "P1", OPENED)
    store = FollowupStore(case_engine)
    store.plan(
        [
            PlannedFollowup("k1", "case_resolved", date(2025, 10, 2), "王五", case_id=case.case_id),
            PlannedFollowup("k2", "periodic", date(2025, 10, 1), "李四", customer_id="P9"),
            PlannedFollowup("k3", "periodic", date(2025, 10, 3), "李四", customer_id="P8"),
        ],
        RESOLVED,
    )
    daily = todays_list(store, CaseStore(case_engine), date(2025, 10, 2))
    assert {o: [f.customer_id or f.case_id for f in v] for o, v in daily.by_owner.items()} == {
        "李四": ["P9"],
        "王五": [case.case_id],
    }
    assert daily.cases[case.case_id].title == "物流慢 x"
    assert (
        len(
            todays_list(store, CaseStore(case_engine), date(2025, 10, 2), owners=["李四"]).followups
        )
        == 1
    )


@pytest.mark.parametrize(
    ("args", "verdict"),
    [
        ((None, None, None, 0, 0, True), None),  # nothing known
        ((None, None, None, 0, 0, False), None),
        ((None, None, None, 3, 0, False), None),  # quiet, but the window is still open
        ((None, None, None, 3, 0, True), RECOVERED),
        ((None, None, None, 3, 1, False), NOT_RECOVERED),  # a complaint needs no full window
        ((4, None, None, 0, 0, False), RECOVERED),
        ((3, None, None, 0, 0, False), NOT_RECOVERED),
        ((5, 2, None, 0, 0, False), NOT_RECOVERED),  # any signal against wins
        ((None, None, 7, 0, 0, False), RECOVERED),  # a passive NPS is not a detractor
        ((None, None, 6, 0, 0, False), NOT_RECOVERED),
        ((None, 4, 0, 0, 0, False), RECOVERED),  # CSAT first when the answer has both
    ],
)
def test_decide(args: tuple, verdict: str | None) -> None:
    assert decide(*args, RecoveryConfig())[0] == verdict
