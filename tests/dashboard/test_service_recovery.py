"""AppTest of the 服务补救 part of the 成效 page: closed cases in a real SQLite case store
beside a real DuckDB warehouse (tests/dashboard/recovery_seed.py, verdicts worked out by
hand there): the recovery rate with its interval and the 样本不足 guard, rates per owner
and channel in both windows, each case's before and after, the churn-risk list, and the
store down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.recovery_seed import base_time, dormant_day, plant_recovery
from tests.dashboard.service_seed import END, START, build_service_warehouse
from tests.followup_seed import open_case, walk
from voc.followup_rules import PlannedFollowup
from warehouse.case_db import connect_store, store_url
from warehouse.followup_store import FollowupStore

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, dict[str, int], datetime]:
    path = tmp_path_factory.mktemp("recovery") / "voc.duckdb"
    now = datetime.now(UTC)
    build_service_warehouse(path, now)
    return path, plant_recovery(path, now), now


def open_page(db: Path, monkeypatch, **state) -> AppTest:
    monkeypatch.setenv("VOC_DB", str(db))
    for name in ("VOC_DASHBOARD_PASSWORD", "VOC_CONFIG", "VOC_CASES_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(page="service", start=str(START), end=str(END))
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def frame_with(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_recovery_rates_per_owner_in_both_windows(seeded, monkeypatch) -> None:
    db, _, _ = seeded
    at = open_page(db, monkeypatch, sv_rec_min_n=2, sv_rec_by="owner")
    assert {"服务补救", "流失风险客户"} <= {s.value for s in at.subheader}
    kpi = metrics(at)  # 30 days: K1 and K3 recovered, K2 not; K4, K5 not measured yet
    assert kpi["挽回率"] == "66.7%" and kpi["可判断 / 已结案"] == "3 / 5"
    assert kpi["已挽回"] == "2"
    owner = frame_with(at, "挽回率").set_index("负责人")
    assert (owner.loc["王五", "可判断"], owner.loc["王五", "已挽回"]) == (2, 1)
    assert owner.loc["王五", "挽回率"] == "50.0%"
    assert owner.loc["李四", "已结案"] == 3 and owner.loc["李四", "挽回率"] == "样本不足"  # 1 < 2
    at.radio(key="sv_window").set_value(90).run()
    kpi = metrics(at)
    assert kpi["挽回率"] == "50.0%" and kpi["95% 区间"] == "[15.0%, 85.0%]"
    owner = frame_with(at, "挽回率").set_index("负责人")
    assert owner.loc["李四", "挽回率"] == "50.0%"  # K4's later negative voice came on day 48
    assert owner.loc["王五", "回访满意度均分"] == "3.5"  # 5 and 2
    at.selectbox(key="sv_rec_by").set_value("channel").run()
    channel = frame_with(at, "挽回率").set_index("渠道")
    assert set(channel.index) == {"工单", "社交"}
    assert channel.loc["社交", "此后负面占比"] == "50.0%"  # K3's positive, K4's negative


def test_each_case_before_and_after(seeded, monkeypatch) -> None:
    db, ids, _ = seeded
    at = open_page(db, monkeypatch, sv_window=90)
    cases = frame_with(at, "依据").set_index("工单号")
    assert set(cases.index) == {ids[k] for k in ("K1", "K2", "K3", "K4", "K5")}
    assert cases.loc[ids["K1"], "结论"] == "已挽回" and cases.loc[ids["K1"], "回访满意度"] == "5"
    assert cases.loc[ids["K2"], "结论"] == "未挽回"
    assert cases.loc[ids["K4"], "此后声音（负面）"] == "1（1）"
    assert cases.loc[ids["K4"], "依据"] == "后续负面声音 1 条"
    assert cases.loc[ids["K5"], "结论"] == "无法判断"
    assert (cases["观察期已满"] == "是").all()
    assert metrics(at)["挽回率"] == "样本不足"  # the configured minimum, 10


def test_churn_risk_list(seeded, monkeypatch) -> None:
    db, ids, now = seeded
    at = open_page(db, monkeypatch)
    churn = frame_with(at, "沉默天数")
    assert list(churn["客户（哈希）"]) == ["r2", "r6", "r4"]
    assert list(churn["风险"]) == ["转为休眠", "沉默", "沉默"]
    assert list(churn["原因"]) == ["未挽回", "未解决", "未挽回"]
    assert list(churn["工单号"]) == [str(ids["K2"]), str(ids["K6"]), str(ids["K4"])]
    assert list(churn["沉默天数"])[1:] == [200, 150]
    assert churn["转为休眠日期"].iloc[0] == str(dormant_day(now))
    assert churn["现在分层"].iloc[0] == "休眠"


def test_recovery_in_english(seeded, monkeypatch) -> None:
    db, _, _ = seeded
    at = open_page(db, monkeypatch, lang="en", sv_rec_min_n=2)
    assert {"Service recovery", "Customers at risk of churning"} <= {s.value for s in at.subheader}
    churn = frame_with(at, "Days silent")
    assert list(churn["Risk"]) == ["Went dormant", "Silent", "Silent"]
    assert list(churn["Reason"]) == ["Not recovered", "Unresolved", "Not recovered"]
    assert metrics(at)["Recovery rate"] == "66.7%"


def test_store_down_leaves_the_response_times(seeded, monkeypatch, tmp_path) -> None:
    db, _, _ = seeded
    monkeypatch.setenv("VOC_CASES_DATABASE_URL", "postgresql+psycopg://voc@127.0.0.1:9/voc")
    monkeypatch.setenv("VOC_DB", str(db))
    for name in ("VOC_DASHBOARD_PASSWORD", "VOC_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(page="service", start=str(START), end=str(END))
    at.run()
    assert not at.exception, at.exception
    error = next(e.value for e in at.error)
    assert error.startswith("服务补救暂不可用（回复时效不受影响）：")
    assert "Connection refused" in error
    assert "首次回复中位数" in metrics(at)  # the response-time part still shows
    assert "流失风险客户" not in {s.value for s in at.subheader}


def test_the_configured_windows_and_minimum(seeded, monkeypatch, tmp_path) -> None:
    db, _, _ = seeded
    config = tmp_path / "voc.toml"
    config.write_text(
        "[cases.followups.recovery]\nwindows = [90]\nmin_n = 4\nsilent_days = 160\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("VOC_DB", str(db))
    for name in ("VOC_DASHBOARD_PASSWORD", "VOC_CASES_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VOC_CONFIG", str(config))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(page="service", start=str(START), end=str(END))
    at.run()
    assert not at.exception, at.exception
    assert at.radio(key="sv_window").options == ["结案后 90 天"]
    assert at.number_input(key="sv_rec_min_n").value == 4
    assert metrics(at)["挽回率"] == "50.0%"  # 4 measured: enough
    # Silent 160 days or more: r4 (150 days) is no longer listed; r2 went dormant.
    assert list(frame_with(at, "沉默天数")["客户（哈希）"]) == ["r2", "r6"]


def test_the_report_is_kept_until_recomputed(tmp_path, monkeypatch) -> None:
    db = tmp_path / "voc.duckdb"
    now = datetime.now(UTC)
    build_service_warehouse(db, now)
    plant_recovery(db, now)
    at = open_page(db, monkeypatch, sv_rec_min_n=1)
    assert metrics(at)["可判断 / 已结案"] == "3 / 5"
    # A case closed meanwhile, its 回访 scored 5: shown once recomputed.
    engine = connect_store(store_url(db))
    b = base_time(now)
    case = open_case(engine, "k-K7", "r7", b, owner="王五", channel="ticket")
    case = walk(engine, case, [("in_progress", b), ("resolved", b + timedelta(days=1))])
    store = FollowupStore(engine)
    planned = PlannedFollowup(
        "case_resolved:K7",
        "case_resolved",
        b.date(),
        "王五",
        case_id=case.case_id,
        customer_id="r7",
    )
    store.plan([planned], b)
    (f,) = store.list_followups(case_ids=[case.case_id])
    store.record_outcome(f.followup_id, "王五", True, 5, at=b + timedelta(days=2))
    engine.dispose()
    at.run()
    assert metrics(at)["可判断 / 已结案"] == "3 / 5"
    at.button(key="sv_rec_refresh").click().run()
    assert metrics(at)["可判断 / 已结案"] == "4 / 6" and metrics(at)["已挽回"] == "3"
