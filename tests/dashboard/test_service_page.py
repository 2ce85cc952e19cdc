"""AppTest of the 成效 page over a real DuckDB warehouse with planted response times
(tests/dashboard/service_seed.py, numbers computed by hand there): medians, p90s and breach
rates by group, the outcome-by-speed comparison with intervals and the 样本不足 guard, the
drill-down to the voices behind a breach, the sidebar filters, the English switch; and that
the page reads only through warehouse read functions."""

from __future__ import annotations

import ast
import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.service_seed import END, START, build_service_warehouse

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
PAGE = ROOT / "dashboard" / "views" / "service.py"
RECOVERY = ROOT / "dashboard" / "views" / "service_recovery.py"


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("service") / "voc.duckdb"
    build_service_warehouse(path)
    return path


def open_page(db: Path, monkeypatch, start=START, end=END, **state) -> AppTest:
    monkeypatch.setenv("VOC_DB", str(db))
    monkeypatch.delenv("VOC_DASHBOARD_PASSWORD", raising=False)
    monkeypatch.delenv("VOC_CONFIG", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(page="service", start=str(start), end=str(end))
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def frame_with(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_medians_p90_and_breach_rates_by_channel(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, sv_min_n=1)
    assert [h.value for h in at.header] == ["成效"]
    assert {s.value for s in at.subheader} >= {"回复时效", "回复速度与后续结果", "超时明细"}
    kpi = metrics(at)
    assert kpi["首次回复中位数"] == "6.0 小时" and kpi["首次回复 P90"] == "37.5 小时"
    assert kpi["解决时长中位数"] == "15.0 小时" and kpi["解决时长 P90"] == "41.0 小时"
    assert kpi["超时率"] == "50.0%"
    by = frame_with(at, "超时率").set_index("渠道")
    assert list(by.index) == ["工单", "社交"]
    ticket, social = by.loc["工单"], by.loc["社交"]
    assert (ticket["声音数"], ticket["已回复"], ticket["已解决"]) == (5, 4, 3)
    assert ticket["首次回复中位数"] == "1.5 小时" and ticket["首次回复 P90"] == "18.1 小时"
    assert ticket["解决时长中位数"] == "10.0 小时" and ticket["解决时长 P90"] == "18.0 小时"
    assert ticket["首次回复工作时长中位数"] == "45 分钟"  # Zendesk's business minutes
    assert (ticket["应回复"], ticket["超时"], ticket["超时率"]) == (5, 2, "40.0%")
    assert social["首次回复中位数"] == "30.0 小时" and social["首次回复 P90"] == "46.0 小时"
    assert social["超时率"] == "66.7%" and social["首次回复工作时长中位数"] == "—"
    overall = frame_with(at, "超时率")
    assert overall["超时"].sum() == 4 and overall["应回复"].sum() == 8
    (chart,) = at.get("vega_lite_chart")  # breach rate per channel with its interval
    layers = json.loads(chart.proto.spec)["layer"]
    assert [layer["mark"]["type"] for layer in layers] == ["bar", "rule"]
    assert layers[1]["encoding"]["x"]["field"] == "low"


def test_breach_rates_by_theme_segment_and_owner(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, sv_min_n=1, sv_by="theme")
    theme = frame_with(at, "超时率").set_index("主题")
    assert theme.loc["退款慢", "超时率"] == "0.0%" and theme.loc["物流延误", "超时率"] == "100.0%"
    # No theme: t4, t5, c1, c3 → t4 and c3 breached.
    assert theme.loc["（无主题）", "超时"] == 2 and theme.loc["（无主题）", "应回复"] == 4
    at = open_page(db, monkeypatch, sv_min_n=1, sv_by="segment")
    seg = frame_with(at, "超时率").set_index("客户分层")
    assert seg.loc["高价值", "超时率"] == "66.7%" and seg.loc["一般", "超时率"] == "33.3%"
    assert seg.loc["（未关联客户）", "超时"] == 1
    at = open_page(db, monkeypatch, sv_min_n=1, sv_by="owner")
    owner = frame_with(at, "超时率").set_index("客户经理")
    assert owner.loc["张三", "95% 区间"] == "[20.8%, 93.9%]"  # 2 of 3, Wilson
    assert owner.loc["王五", "超时率"] == "0.0%"


def test_below_the_minimum_sample_rates_show_insufficient(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch)  # the default minimum, 30
    assert metrics(at)["超时率"] == "样本不足"
    by = frame_with(at, "超时率")
    assert set(by["超时率"]) == {"样本不足"} and set(by["95% 区间"]) == {"—"}
    assert not at.get("vega_lite_chart")  # no bar for a rate not shown
    outcome = frame_with(at, "后续负面占比")
    assert set(outcome["后续负面占比"]) == {"样本不足"} and set(outcome["后续 NPS"]) == {"样本不足"}
    # The counts stay visible.
    assert list(outcome["后续声音"]) == [6, 3, 1]
    at = open_page(db, monkeypatch, sv_min_n=8)
    assert metrics(at)["超时率"] == "50.0%"  # 8 due: enough


def test_outcomes_answered_within_24h_against_later_and_never(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, sv_min_n=1)
    outcome = frame_with(at, "后续负面占比").set_index("回复速度")
    assert list(outcome.index) == ["24 小时内回复", "超过 24 小时回复", "超时未回复"]
    within, later, never = (outcome.iloc[i] for i in range(3))
    assert (within["声音数"], within["客户数"], within["后续声音"], within["后续负面"]) == (
        3,
        2,
        6,
        3,
    )
    assert within["后续负面占比"] == "50.0%" and within["负面占比 95% 区间"] == "[18.8%, 81.2%]"
    assert later["后续负面占比"] == "66.7%" and never["后续负面占比"] == "100.0%"
    assert (within["后续 NPS 回答"], within["后续 NPS"]) == (3, "100.0")
    assert (
        later["后续 NPS"] == "0.0" and later["NPS 95% 区间"] == "[-100.0, 100.0]"
    )  # clipped to the scale
    assert never["后续 NPS"] == "-100.0"


def test_a_longer_threshold_changes_the_breaches(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, sv_min_n=1, sv_threshold=60.0)
    by = frame_with(at, "超时率").set_index("渠道")
    # 60 h: only the never-answered are breaches (t4; c3).
    assert by.loc["工单", "超时"] == 1 and by.loc["社交", "超时"] == 1
    outcome = frame_with(at, "后续负面占比")
    assert outcome["回复速度"].iloc[0] == "60 小时内回复" and outcome["声音数"].iloc[0] == 5


def test_drill_down_lists_the_voices_behind_a_breach(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch)
    voices = frame_with(at, "原文")
    # Unanswered oldest first, then the slowest answered.
    assert list(voices["原文"]) == [
        "客服一直不回复",
        "投诉无人处理",
        "物流严重延误",
        "快递三天没动",
    ]
    assert list(voices["回复情况"]) == ["超时未回复", "超时未回复", "超时回复", "超时回复"]
    assert list(voices["首次回复用时"]) == ["—", "—", "2.1 天", "25.0 小时"]  # 3000 and 1500 min
    assert voices["提出时间"].iloc[0] == "2025-03-02 00:00"  # Beijing time
    assert voices["链接"].iloc[0] == "https://kesheng.zendesk.com/agent/tickets/t4"
    assert pd.isna(voices["链接"].iloc[1])  # a javascript: URL is never a link
    at.selectbox(key="sv_by").set_value("theme").run()
    at.selectbox(key="sv_group").set_value("物流延误").run()
    assert list(frame_with(at, "原文")["原文"]) == ["物流严重延误", "快递三天没动"]
    at.selectbox(key="sv_by").set_value("segment").run()
    assert at.selectbox(key="sv_group").value == "__all__"  # the old group is not offered
    at.selectbox(key="sv_group").set_value("").run()  # not linked to a customer
    assert list(frame_with(at, "原文")["原文"]) == ["投诉无人处理"]
    at.multiselect(key="sv_speeds").set_value(["within"]).run()
    assert list(frame_with(at, "原文")["原文"]) == ["发票开错了"]
    at.selectbox(key="sv_by").set_value("month").run()
    at.selectbox(key="sv_group").set_value("2025-03").run()
    assert set(frame_with(at, "原文")["原文"]) == {
        "退款一直没到账",
        "退款进度查不到",
        "发票开错了",
        "商家拖延退款",
    }


def test_pending_voices_are_not_breaches_yet(db: Path, monkeypatch) -> None:
    # The page's days are the warehouse's (Asia/Shanghai): from 16:00 UTC on, p1 (two hours
    # old) is on the next UTC date's local day.
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    at = open_page(db, monkeypatch, end=today, sv_min_n=1, sv_speeds=["pending"])
    by = frame_with(at, "超时率").set_index("渠道")
    assert (by.loc["工单", "声音数"], by.loc["工单", "应回复"]) == (6, 5)  # p1 is 2 h old
    assert list(frame_with(at, "原文")["原文"]) == ["想改收货地址"]


def test_sidebar_filters_narrow_the_page(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, sv_min_n=1, f_channels=["social"])
    assert metrics(at)["首次回复中位数"] == "30.0 小时"
    assert list(frame_with(at, "超时率")["渠道"]) == ["社交"]
    assert "商品、品牌、省份和城市筛选不作用于本页。" not in [c.value for c in at.caption]
    at = open_page(db, monkeypatch, sv_min_n=1, f_segments=["高价值"])
    assert metrics(at)["超时率"] == "66.7%"
    assert set(frame_with(at, "原文")["原文"]) == {"物流严重延误", "快递三天没动"}


def test_no_response_times_in_range_says_so(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, start="2025-03-10", end="2025-03-31")  # reviews only
    assert [i.value for i in at.info] == ["所选条件下没有记录了回复时间的声音。"]
    assert not at.metric


def test_service_page_in_english(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, lang="en", sv_min_n=1)
    assert [h.value for h in at.header] == ["Service outcomes"]
    assert metrics(at)["First response, median"] == "6.0 h"
    outcome = frame_with(at, "Later negative share")
    assert list(outcome["Response speed"])[:2] == ["Answered within 24 h", "Answered after 24 h"]
    assert "Unanswered, overdue" in set(frame_with(at, "Text")["Response"])


#: What each module of the page may import from the warehouse (and nothing from duckdb or
#: sqlite3; sqlalchemy only for the store's "cannot connect" error).
ALLOWED = {
    PAGE: {"warehouse", "warehouse.response_times"},
    RECOVERY: {
        "warehouse.case_db",  # the store's URL and engine, StoreUnavailable
        "warehouse.case_store",
        "warehouse.followup_store",
        "warehouse.followup_views",
        "warehouse.recovery",
    },
}


@pytest.mark.parametrize("path", list(ALLOWED), ids=lambda p: p.name)
def test_the_page_reads_only_through_warehouse_read_functions(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not {m for m in imported if m.split(".")[0] in ("duckdb", "sqlite3")}
    assert {m for m in imported if m.startswith("sqlalchemy")} <= {"sqlalchemy.exc"}
    assert {m for m in imported if m.startswith("warehouse")} == ALLOWED[path]
    # No SQL of its own, no connection used directly: the connections it opens are handed
    # to warehouse read functions.
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b.*\b(FROM|INTO|SET)\b", re.I | re.S)
    assert not [s for s in strings if isinstance(s, str) and sql.search(s)]
    calls = {
        n.func.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
    }
    assert not calls & {"execute", "sql", "query", "fetchall", "fetchone", "df", "connect"}


def test_the_page_queries_are_the_warehouse_functions() -> None:
    from dashboard.views import service
    from warehouse import response_times

    assert set(service._QUERIES) == {
        "response_time_summary",
        "response_time_voices",
        "outcomes_by_speed",
    }
    assert all(getattr(response_times, name) is fn for name, fn in service._QUERIES.items())


def test_every_string_of_the_page_has_an_english_text() -> None:
    from dashboard.i18n import EN
    from dashboard.views import service, service_recovery

    literals = {
        m
        for path in (PAGE, RECOVERY)
        for m in re.findall(r"\bt\(\s*\"([^\"]+)\"", path.read_text(encoding="utf-8"))
    }
    shown = {*service.DIMENSIONS.values(), *service.MISSING.values(), *service.SPEEDS.values()}
    r = service_recovery
    shown |= {*r.SPLITS.values(), *r.MISSING.values(), *r.VERDICTS.values(), *r.RISKS.values()}
    shown |= set(r.REASONS.values())
    assert len(literals) > 80
    assert sorted((literals | shown) - set(EN)) == []
