"""AppTest of the 回访 page on a real case store (SQLite and PostgreSQL): the day's list
per owner with its cases, the customer's history on one page (voices and survey answers
from the warehouse, cases, earlier 回访), an outcome that plans the second 回访, a 回访
recorded meanwhile by someone else, and the recovery of closed cases."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.customer_seed import cid
from tests.dashboard.case_pages import case_id_of, click, open_page, plan
from warehouse.followup_store import FollowupStore


def test_followups_list_history_and_outcome(warehouse_db, store, monkeypatch) -> None:
    followups = FollowupStore(store.engine)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    case_id = case_id_of(store, "物流太慢 #0")
    due = plan(followups, cid("H01"), "王经理", today, "case_resolved", case_id)
    plan(followups, cid("G01"), "李经理", today - timedelta(days=2), "order_day5")
    plan(followups, cid("G02"), "李经理", today + timedelta(days=3), "order_day15")
    at = open_page(warehouse_db, monkeypatch, "followups")
    assert [h.value for h in at.header] == ["回访"]
    listed = next(d.value for d in at.dataframe if "应回访日" in d.value.columns)
    assert len(listed) == 2 and list(listed["逾期天数"]) == [2, 0]  # overdue first
    at.selectbox(key="fu_owner").set_value("王经理").run()
    assert at.selectbox(key="followup").value == due
    listed = next(d.value for d in at.dataframe if "应回访日" in d.value.columns)
    assert list(listed["标题"]) == ["物流太慢 #0"] and list(listed["优先级"]) == ["P1"]
    # The customer's history on one page: voices and survey answers, cases.
    past = next(d.value for d in at.dataframe if "原文" in d.value.columns)
    assert len(past) == 7  # H01: 5 negative and 1 positive tickets, 1 survey answer
    assert any("NPS" in d.value.columns for d in at.dataframe)
    mine = next(d.value for d in at.dataframe if {"工单号", "状态", "标题"} <= set(d.value.columns))
    assert list(mine["工单号"]) == [case_id]
    at.text_input(key="fu_who").input("王经理")
    at.radio(key=f"fu_reached_{due}").set_value(True)
    at.select_slider(key=f"fu_sat_{due}").set_value(2)
    at.text_area(key=f"fu_note_{due}").input("还是不满意，要求补偿")
    at.checkbox(key=f"fu_second_{due}").check()
    click(at, "保存回访结果")
    assert "回访结果已保存" in at.success[0].value
    mine = followups.list_followups(customer_ids=(cid("H01"),))
    assert {(f.reason, f.status) for f in mine} == {
        ("case_resolved", "done"),
        ("second", "planned"),
    }
    [(_, outcome)] = followups.outcomes(followup_ids=[due])
    assert (outcome.reached, outcome.satisfaction, outcome.who) == (True, 2, "王经理")
    assert outcome.note == "还是不满意，要求补偿" and outcome.needs_second
    # Shown at once: 王经理 has nothing left today (the second 回访 is due later).
    assert "王经理" not in at.selectbox(key="fu_owner").options
    listed = next(d.value for d in at.dataframe if "应回访日" in d.value.columns)
    assert list(listed["回访人"]) == ["李经理"]


def test_a_followup_recorded_meanwhile_is_told(warehouse_db, store, monkeypatch) -> None:
    followups = FollowupStore(store.engine)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    due = plan(followups, cid("G01"), "李经理", today, "order_day5")
    at = open_page(warehouse_db, monkeypatch, "followups", fu_who="李经理")
    assert at.selectbox(key="followup").value == due
    followups.record_outcome(due, "王经理", reached=False, note="没接")  # another tab
    at.text_area(key=f"fu_note_{due}").input("客户说已解决")
    click(at, "保存回访结果")
    assert "王经理" in at.error[0].value  # who was first
    [(_, outcome)] = followups.outcomes(followup_ids=[due])
    assert (outcome.who, outcome.note) == ("王经理", "没接")  # theirs stands
    # It left the list with its form; what this reader typed is shown to copy.
    assert "客户说已解决" in [e.value for e in at.get("text")]


def test_recovery_of_closed_cases_on_the_followups_page(
    case_engine, new_warehouse, tmp_path, monkeypatch
) -> None:
    """Two closed cases of 王五 (resolved 2025-10-01): P1 spoke positively on 10-10
    (recovered), P2 gave the 回访 a 2 (not recovered) and went silent (a churn risk)."""
    from tests.followup_seed import add_customer, add_voice, open_case, utc, walk
    from warehouse.db import warehouse

    monkeypatch.setenv(
        "VOC_CASES_DATABASE_URL", case_engine.url.render_as_string(hide_password=False)
    )
    db = new_warehouse(tmp_path / "voc.duckdb")
    ids = {}
    for customer in ("P1", "P2"):
        case = open_case(case_engine, f"c-{customer}", customer, utc(2025, 9, 28))
        steps = [("in_progress", utc(2025, 9, 29)), ("resolved", utc(2025, 10, 1))]
        ids[customer] = walk(case_engine, case, steps).case_id
    followups = FollowupStore(case_engine)
    plan(followups, "P2", "王五", datetime(2025, 10, 2).date(), "case_resolved", ids["P2"])
    [f] = followups.list_followups(customer_ids=("P2",))
    followups.record_outcome(f.followup_id, "王五", True, 2, at=utc(2025, 10, 2))
    with warehouse(db) as con:
        for customer in ("P1", "P2"):
            add_customer(con, customer, "高价值")
            add_voice(con, f"c-{customer}", customer, utc(2025, 9, 28), "negative")
        add_voice(con, "later-1", "P1", utc(2025, 10, 10), "positive")
    at = open_page(db, monkeypatch, "followups")
    assert "计算已关闭工单的补救效果" in [w.label for w in at.toggle]
    at.toggle(key="rc_on").set_value(True).run()
    assert not at.exception, at.exception
    at.selectbox(key="rc_by").set_value("owner").run()
    rates = next(d.value for d in at.dataframe if "挽回率" in d.value.columns)
    wang = rates.set_index("负责人").loc["王五"]
    assert (wang["已关闭"], wang["可判断"], wang["已挽回"]) == (2, 2, 1)
    assert wang["挽回率"] == "样本不足"  # 2 measured, fewer than the default min_n of 10
    assert wang["之前负面占比"] == "100.0%" and wang["之后负面占比"] == "0.0%"
    assert wang["回访平均分"] == "2.0"
    assert any("已挽回 1 件" in c.value for c in at.caption)
    churn = next(d.value for d in at.dataframe if "沉默天数" in d.value.columns)
    assert list(churn["客户（哈希）"]) == ["P2"]


def test_an_owner_link_opens_their_list(warehouse_db, store, monkeypatch) -> None:
    """The daily 回访 message links ?page=followups&owner=<name>."""
    from streamlit.testing.v1 import AppTest

    from tests.dashboard.case_pages import APP

    followups = FollowupStore(store.engine)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    plan(followups, cid("H01"), "王经理", today, "case_resolved")
    plan(followups, cid("G01"), "李经理", today, "order_day5")
    monkeypatch.setenv("VOC_DB", str(warehouse_db))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["page"] = "followups"
    at.query_params["owner"] = "王经理"
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="fu_owner").value == "王经理"
    listed = next(d.value for d in at.dataframe if "应回访日" in d.value.columns)
    assert list(listed["回访人"]) == ["王经理"]


def test_english_and_the_store_down(warehouse_db, store, monkeypatch) -> None:
    followups = FollowupStore(store.engine)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    plan(followups, cid("H01"), "王经理", today, "case_resolved")
    at = open_page(warehouse_db, monkeypatch, "followups", lang="en")
    assert at.header[0].value == "Follow-ups"
    listed = next(d.value for d in at.dataframe if "Due" in d.value.columns)
    assert list(listed["Reason"]) == ["After a resolved case"]
    assert "Save outcome" in [b.label for b in at.button]
    monkeypatch.setenv("VOC_CASES_DATABASE_URL", "postgresql+psycopg://voc@127.0.0.1:9/none")
    at = open_page(warehouse_db, monkeypatch, "followups")
    assert "工单库暂时无法连接" in at.error[0].value and not at.dataframe
