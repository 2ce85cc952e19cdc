"""AppTest of the 工单 page on a real case store (SQLite and PostgreSQL, the seed in
tests/dashboard/conftest.py): the queue and its filters, a case moved through the workflow
with the reader's name on every event and shown at once, a stale tab's change refused with
the conflict shown and nothing lost, bulk moves and assignment, the name rule behind the
password login, the store down, SLA countdowns, configured teams, and a case opened by
hand from Explore."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from streamlit.testing.v1 import AppTest

from tests.dashboard.case_pages import (
    APP,
    HOSTILE_TITLE,
    NOW,
    case_id_of,
    click,
    fields,
    history,
    open_page,
    queue,
)
from warehouse.case_store import CaseFilters


def test_queue_lists_open_cases_and_filters_narrow_it(warehouse_db, store, monkeypatch) -> None:
    at = open_page(warehouse_db, monkeypatch)
    assert [h.value for h in at.header] == ["工单"]
    rows = queue(at)
    assert len(rows) == 6 and set(rows["状态"]) == {"新建"}
    assert list(rows["优先级"]).count("P1") == 2
    assert "共 6 件工单" in at.caption[0].value
    at.multiselect(key="cs_priorities").set_value(["P1"]).run()
    assert sorted(queue(at)["标题"]) == ["物流太慢 #0", "物流太慢 #1"]
    at.multiselect(key="cs_priorities").set_value([]).run()
    at.multiselect(key="cs_channels").set_value(["social"]).run()
    assert list(queue(at)["标题"]) == ["物流太慢 #4"]
    at.multiselect(key="cs_channels").set_value([]).run()
    at.multiselect(key="cs_statuses").set_value(["resolved"]).run()
    assert not any("工单号" in d.value.columns for d in at.dataframe)
    assert "没有符合条件的工单" in at.success[0].value


def test_a_case_moves_through_the_workflow_with_the_name_on_every_event(
    warehouse_db, store, monkeypatch
) -> None:
    case_id = case_id_of(store, "物流太慢 #1")
    at = open_page(warehouse_db, monkeypatch, case=case_id)
    assert at.selectbox(key="case").value == case_id
    assert fields(at)["状态"] == "新建"
    # The voices come from the store's excerpts, the history from its events.
    voices = next(d.value for d in at.dataframe if "原文摘录" in d.value.columns)
    assert list(voices["原文摘录"]) == ["第 1 单：快递三天没动，客服也不回"]
    assert list(history(at)["操作"]) == ["开单"]
    at.text_input(key="cs_who").input("张三")
    for to, note in (
        ("acknowledged", "已受理"),
        ("in_progress", "联系仓库"),
        ("resolved", "已补发"),
    ):
        at.selectbox(key=f"cs_to_{case_id}").set_value(to)
        at.text_area(key=f"cs_move_note_{case_id}").input(note)
        click(at, "保存流转")
        assert "已保存" in at.success[0].value
    # Shown at once, on the same run: the fields, the history and the queue.
    assert fields(at)["状态"] == "已解决"
    steps = history(at)
    assert list(steps["到"])[1:] == ["已受理", "处理中", "已解决"]
    assert list(steps["处理人"])[1:] == ["张三"] * 3
    assert list(steps["备注"])[1:] == ["已受理", "联系仓库", "已补发"]
    # The store holds the same (the page did not just draw it).
    events = store.history(case_id)
    assert [(e.to_status, e.who) for e in events[1:]] == [
        ("acknowledged", "张三"),
        ("in_progress", "张三"),
        ("resolved", "张三"),
    ]
    # A resolved case may only be closed or reopened: the page offers just those.
    assert set(at.selectbox(key=f"cs_to_{case_id}").options) == {"已关闭", "处理中"}


def test_a_stale_tab_is_told_and_nothing_is_lost(warehouse_db, store, monkeypatch) -> None:
    case_id = case_id_of(store, "物流太慢 #2")
    at = open_page(warehouse_db, monkeypatch, case=case_id)
    seen = store.get(case_id)
    # Another tab acknowledges and assigns the case after this one was drawn.
    store.move(case_id, "acknowledged", "李四", seen.version, note="我来处理")
    other = store.assign(case_id, "李四", "售后", "李四", seen.version + 1)
    at.text_input(key="cs_who").input("张三")
    at.selectbox(key=f"cs_to_{case_id}").set_value("closed")
    at.text_area(key=f"cs_move_note_{case_id}").input("重复工单，关闭")
    click(at, "保存流转")
    error = at.error[0].value
    assert "冲突" in error and "没有保存" in error
    # The other tab's change stands; this tab's note is still in its form.
    now = store.get(case_id)
    assert (now.status, now.owner, now.version) == ("acknowledged", "李四", other.version)
    assert at.text_area(key=f"cs_move_note_{case_id}").value == "重复工单，关闭"
    # And the page now shows the newest state, so a retry works.
    assert fields(at)["状态"] == "已受理" and fields(at)["负责人"] == "李四"
    at.selectbox(key=f"cs_to_{case_id}").set_value("closed")
    click(at, "保存流转")
    assert store.get(case_id).status == "closed"
    assert store.history(case_id)[-1].note == "重复工单，关闭"


def test_a_change_needs_a_name(warehouse_db, store, monkeypatch) -> None:
    case_id = case_id_of(store, "物流太慢 #3")
    at = open_page(warehouse_db, monkeypatch, case=case_id)
    at.text_area(key=f"cs_note_{case_id}").input("客户来电催促")
    click(at, "添加备注")
    assert "请填写处理人" in at.error[0].value
    assert len(store.history(case_id)) == 1
    assert at.text_area(key=f"cs_note_{case_id}").value == "客户来电催促"
    at.text_input(key="cs_who").input("王五")
    click(at, "添加备注")
    last = store.history(case_id)[-1]
    assert (last.action, last.who, last.note) == ("note", "王五", "客户来电催促")


def test_reply_sets_the_first_response(warehouse_db, store, monkeypatch) -> None:
    case_id = case_id_of(store, "物流太慢 #0")
    at = open_page(warehouse_db, monkeypatch, case=case_id, cs_who="赵六")
    assert fields(at)["首次响应"] == "未响应"
    at.text_area(key=f"cs_reply_note_{case_id}").input("已致电致歉")
    click(at, "记录回复")
    assert store.get(case_id).first_response_at is not None
    assert fields(at)["首次响应"] != "未响应"
    assert list(history(at)["操作"])[-1] == "回复客户"


def test_bulk_assign_and_move_with_refusals_named(warehouse_db, store, monkeypatch) -> None:
    ids = [case_id_of(store, f"物流太慢 #{i}") for i in (2, 3)]
    at = open_page(warehouse_db, monkeypatch, cs_who="组长")
    at.multiselect(key="cs_selected").set_value(ids).run()
    at.text_input(key="cs_bulk_owner").input("小刘")
    click(at, "批量指派")
    assert "已处理 2 件工单" in at.success[0].value
    assert [store.get(i).owner for i in ids] == ["小刘", "小刘"]
    assert [store.get(i).team for i in ids] == ["售后", "售后"]  # team kept
    # 新建 → 已解决 is not a move the workflow allows: each case is refused by name.
    at.multiselect(key="cs_selected").set_value(ids).run()
    at.selectbox(key="cs_bulk_to").set_value("resolved")
    click(at, "批量流转")
    warning = at.warning[0].value
    assert "已处理 0 件；2 件未处理" in warning and all(str(i) in warning for i in ids)
    assert {store.get(i).status for i in ids} == {"new"}
    at.multiselect(key="cs_selected").set_value(ids).run()
    at.selectbox(key="cs_bulk_to").set_value("acknowledged")
    click(at, "批量流转")
    assert {store.get(i).status for i in ids} == {"acknowledged"}
    assert {store.history(i)[-1].who for i in ids} == {"组长"}


def test_password_login_then_a_name_is_asked(warehouse_db, store, monkeypatch) -> None:
    monkeypatch.setenv("VOC_DB", str(warehouse_db))
    monkeypatch.setenv("VOC_DASHBOARD_PASSWORD", "s3cret-口令")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["page"] = "cases"
    at.run()
    assert not any("工单号" in d.value.columns for d in at.dataframe)  # nothing before login
    at.text_input(key="login_password").input("s3cret-口令")
    at.button[0].click().run()
    assert not at.exception
    assert len(queue(at)) == 6
    assert at.text_input(key="cs_who").label == "处理人"  # the password knows no name


def test_store_down_is_said_and_nothing_breaks(warehouse_db, monkeypatch) -> None:
    monkeypatch.setenv("VOC_CASES_DATABASE_URL", "postgresql+psycopg://voc@127.0.0.1:9/none")
    at = open_page(warehouse_db, monkeypatch)
    assert "工单库暂时无法连接" in at.error[0].value
    assert "采集不受影响" in at.error[0].value


def test_english_and_hostile_titles_stay_plain_text(warehouse_db, store, monkeypatch) -> None:
    case_id = case_id_of(store, HOSTILE_TITLE)
    at = open_page(warehouse_db, monkeypatch, case=case_id, lang="en")
    assert at.header[0].value == "Cases"
    assert "Case" in queue_en(at).columns
    assert HOSTILE_TITLE in set(queue_en(at)["Title"])
    assert at.get("text")[0].value.endswith(HOSTILE_TITLE)  # st.text: plain
    rendered = [
        e.value
        for kind in ("markdown", "caption", "title", "header", "subheader", "error", "info")
        for e in at.get(kind)
    ] + [w.label for w in (*at.selectbox, *at.text_input, *at.text_area, *at.multiselect)]
    for text in rendered:
        for marker in ("<script", "](http://evil", ":red[", "**粗体**"):
            assert marker not in str(text), text


def queue_en(at: AppTest):
    return next(d.value for d in at.dataframe if "Case" in d.value.columns)


SLA_TOML = """
[[cases.sla.policies]]
name = "P1 快速"
priority = ["P1"]
first_response = "2h"
resolution = "1d"
time = "calendar"

[[cases.sla.policies]]
name = "其他"
first_response = "8h"
resolution = "3d"
time = "calendar"
"""


def _sla_config():
    import tomllib

    from voc.sla import parse_sla_config

    return parse_sla_config(tomllib.loads(SLA_TOML)["cases"]["sla"], "voc.toml", now=NOW)


def test_sla_countdowns_of_the_queue(store) -> None:
    """Calendar-time policies, so the numbers are plain arithmetic. Cases open at NOW;
    90 minutes later a P1 case has 30 of its 2 h first response left (due soon: the
    default window is the last 25 %), a P3 case 6 h 30 of its 8 h, and a replied case's
    first-response clock is met; three hours later the P1 case is 1 h overdue."""
    from dashboard import case_sla

    config = _sla_config()
    cases = {c.title: c for c in store.list_cases(CaseFilters())}
    c3 = cases["物流太慢 #3"]
    store.record_reply(c3.case_id, "张三", c3.version, at=NOW + timedelta(hours=1))
    cases = {c.title: c for c in store.list_cases(CaseFilters())}
    shown = [cases[f"物流太慢 #{i}"] for i in (0, 2, 3)]
    at = NOW + timedelta(minutes=90)
    statuses = case_sla.sla_of(store, shown, config, at)
    columns = case_sla.queue_columns(shown, statuses, "Asia/Shanghai")
    first, resolution = columns["首次响应"], columns["解决"]
    zone = ZoneInfo("Asia/Shanghai")
    due0 = (NOW + timedelta(hours=2)).astimezone(zone)
    due2 = (NOW + timedelta(hours=8)).astimezone(zone)
    assert first[0] == f"即将超时：剩 30 分，{due0:%m-%d %H:%M} 截止"
    assert first[1] == f"剩 6 小时 30 分，{due2:%m-%d %H:%M} 截止"
    assert first[2] == "已达成"
    assert resolution[2].startswith("剩 2 天 22 小时")  # 3 d − 1 h 30
    assert columns["SLA"] == ["即将超时", "正常", "正常"]
    later = case_sla.sla_of(store, shown[:1], config, NOW + timedelta(hours=3))
    assert case_sla.queue_columns(shown[:1], later, "UTC")["首次响应"] == ["已超时 1 小时 0 分"]
    assert case_sla.state_text(later[shown[0].case_id]) == "已超时"
    # Waiting on the customer pauses the resolution clock (the response is met).
    c2 = shown[1]
    step = store.move(c2.case_id, "acknowledged", "张三", c2.version, at=at)
    store.move(c2.case_id, "waiting_customer", "张三", step.version, at=at)
    paused = case_sla.sla_of(store, [store.get(c2.case_id)], config, at + timedelta(hours=5))
    assert case_sla.state_text(paused[c2.case_id]) == "已暂停"
    assert case_sla.queue_columns([c2], paused, "UTC")["解决"][0].startswith(
        "已暂停（剩 2 天 22 小时"
    )
    assert case_sla.sla_of(store, shown, None, NOW) == {c.case_id: None for c in shown}


def test_sla_columns_on_the_page(warehouse_db, store, tmp_path, monkeypatch) -> None:
    """Cases opened just now: every clock runs, P1 with about 2 h, the others 8 h left."""
    config = tmp_path / "voc.toml"
    config.write_text(SLA_TOML, encoding="utf-8")
    monkeypatch.setenv("VOC_CONFIG", str(config))
    import re
    from datetime import UTC, datetime

    from warehouse.case_store import CaseFilters

    at = open_page(warehouse_db, monkeypatch)
    rows = queue(at)
    # However long the setup took on a loaded machine: the time left is the target minus
    # the minutes since the first opening (rounded down), never more than the target.
    opened = min(c.opened_at for c in store.list_cases(CaseFilters(), limit=1000))
    waited = (datetime.now(UTC) - opened).total_seconds() / 60
    assert set(rows["SLA"]) == {"正常"}
    for priority, first in zip(rows["优先级"], rows["首次响应"], strict=True):
        target = 120 if priority == "P1" else 480
        m = re.match(r"剩 (\d+) 小时 (\d+) 分，.*截止$", first)
        assert m, first
        left = int(m[1]) * 60 + int(m[2])
        assert target - waited - 1 <= left <= target, (first, waited)
    assert all(r.startswith("剩 ") for r in rows["解决"])
    assert "SLA 时钟" in [m.value.strip("*") for m in at.markdown]
    assert "策略：P1 快速 · 自然时间" in [c.value for c in at.caption]


def test_priority_change_is_an_event(warehouse_db, store, monkeypatch) -> None:
    case_id = case_id_of(store, "物流太慢 #4")
    at = open_page(warehouse_db, monkeypatch, case=case_id, cs_who="组长")
    at.selectbox(key=f"cs_priority_{case_id}").set_value("P1")
    at.text_area(key=f"cs_priority_note_{case_id}").input("微博转发过千")
    click(at, "保存优先级")
    assert store.get(case_id).priority == "P1"
    last = store.history(case_id)[-1]
    assert (last.action, last.who, last.note) == ("priority", "组长", "微博转发过千")
    assert fields(at)["优先级"] == "P1" and list(history(at)["操作"])[-1] == "优先级"


def test_a_case_opened_by_hand_from_explore(warehouse_db, store, monkeypatch) -> None:
    from datetime import date

    at = open_page(
        warehouse_db, monkeypatch, "explore", f_range=(date(2025, 2, 1), date(2025, 2, 28))
    )
    doc_id = at.selectbox(key="ex_case_doc").value
    assert doc_id
    at.selectbox(key="ex_case_doc").set_value(doc_id)
    at.text_input(key="ex_case_who").input("客服主管")
    click(at, "为这条原文开工单")
    case_id = store.case_of_doc(doc_id)
    assert case_id is not None
    case = store.get(case_id)
    assert case.rule == "manual" and store.history(case_id)[0].who == "客服主管"
    assert f"已开工单 {case_id}" in at.success[0].value
    # Again: it is in a case already; the button goes to it on the 工单 page.
    at.selectbox(key="ex_case_doc").set_value(doc_id)
    click(at, "为这条原文开工单")
    assert f"已在工单 {case_id}" in at.info[0].value
    click(at, "去处理这个工单")
    assert at.radio(key="nav_page").value == "cases"
    assert fields(at)["状态"] == "新建" and at.selectbox(key="case").value == case_id


def test_configured_teams_filter_and_check_assignment(
    warehouse_db, store, tmp_path, monkeypatch
) -> None:
    config = tmp_path / "voc.toml"
    config.write_text(
        '[cases.teams."售后"]\nowners = ["小王", "小李"]\n[cases.teams."舆情"]\n', encoding="utf-8"
    )
    monkeypatch.setenv("VOC_CONFIG", str(config))
    case_id = case_id_of(store, "物流太慢 #2")
    at = open_page(warehouse_db, monkeypatch, case=case_id, cs_who="组长")
    assert at.multiselect(key="cs_teams").options == ["售后", "舆情"]
    assert at.multiselect(key="cs_owners").options == ["小李", "小王"]
    at.text_input(key=f"cs_team_{case_id}").input("物流")
    click(at, "保存指派")
    assert "未知团队 物流" in at.error[0].value and "售后、舆情" in at.error[0].value
    at.text_input(key=f"cs_team_{case_id}").input("售后")
    at.text_input(key=f"cs_owner_{case_id}").input("老张")
    click(at, "保存指派")
    assert "老张 不是团队 售后 的成员" in at.error[0].value
    assert store.get(case_id).owner is None  # nothing saved
    at.text_input(key=f"cs_owner_{case_id}").input("小王")
    click(at, "保存指派")
    assert store.get(case_id).owner == "小王"
    at.multiselect(key="cs_owners").set_value(["小王"]).run()
    assert list(queue(at)["标题"]) == ["物流太慢 #2"]


def test_a_bad_or_unknown_case_link_is_said(warehouse_db, store, monkeypatch) -> None:
    at = open_page(warehouse_db, monkeypatch, case="abc")
    assert "没有这个工单：abc" in at.warning[0].value
    assert len(queue(at)) == 6  # the queue is still there
    at = open_page(warehouse_db, monkeypatch, case="99999")
    assert "没有这个工单：99999" in at.warning[0].value
