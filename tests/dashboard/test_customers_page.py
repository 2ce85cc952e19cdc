"""AppTest of the 客户 Customers page against the customer seed warehouse
(tests/customer_seed.py): segment sizes and negative shares, the NPS trend with its interval
and the 样本不足 guard, drivers with verbatims, the most negative customers and a timeline,
the page's segment filter, the English switch, and no raw key anywhere on the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.customer_seed import HIGH, NORMAL, RAW_PHONE, THEME_LABEL, build_customer_warehouse, cid

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return build_customer_warehouse(tmp_path_factory.mktemp("customers") / "voc.duckdb")


def open_page(
    db: Path, monkeypatch, start: str = "2025-02-01", end: str = "2025-02-28", **state
) -> AppTest:
    monkeypatch.setenv("VOC_DB", str(db))
    monkeypatch.delenv("VOC_DASHBOARD_PASSWORD", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(page="customers", start=start, end=end)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def frame_with(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_customers_page_numbers(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch)
    assert [h.value for h in at.header] == ["客户"]
    assert {s.value for s in at.subheader} >= {
        "客户细分", "满意度趋势", "关键驱动因素", "负面声音最多的客户",
    }  # fmt: skip
    seg = frame_with(at, "发声客户").set_index("细分")
    assert seg.loc[HIGH, "客户数"] == 41 and seg.loc[HIGH, "声量"] == 29
    assert seg.loc[HIGH, "负面占比"] == f"{28 / 29:.1%}"
    # The trend covers all history: the last month (March, 5 answers) is 样本不足.
    nps = {m.label: m for m in at.metric}
    assert nps["NPS（2025-03）"].value == "样本不足"
    assert nps["与上期相比"].value == "无法比较"
    trend = frame_with(at, "95% 区间")
    assert list(trend["周期"]) == ["2025-01", "2025-02", "2025-03"]
    assert list(trend["NPS"]) == ["32.5", "-2.5", "样本不足"]
    assert trend["较上期"].iloc[1] == "-35.0" and trend["95% 区间"].iloc[2] == "—"
    drivers = frame_with(at, "驱动因素")
    assert drivers["驱动因素"].iloc[0] == THEME_LABEL
    assert drivers["提及人数"].iloc[0] == 20 and drivers["样本"].iloc[0] == "样本不足"
    verbatims = frame_with(at, "问题")
    assert set(verbatims["原文"]) == {"物流太慢，等了一周"} and len(verbatims) == 20
    top = frame_with(at, "客户（哈希）")
    assert list(top["客户（哈希）"][:2]) == [cid("H01"), cid("H02")]
    timeline = frame_with(at, "当时细分")
    # H01's six tickets and the answer to the January survey, newest first.
    assert len(timeline) == 7 and (timeline["当时细分"] == HIGH).all()
    assert list(timeline["渠道"])[-1] == "问卷"
    cells = {str(v) for d in at.dataframe for c in d.value.columns for v in d.value[c]}
    assert not any(RAW_PHONE in c for c in cells)


def test_segment_filter_and_timeline_drill_down(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, cu_segments=[NORMAL], cu_grain="quarter")
    seg = frame_with(at, "发声客户")
    assert list(seg["细分"]) == [NORMAL]
    trend = frame_with(at, "95% 区间")
    assert list(trend["周期"]) == ["2025-Q1"] and trend["样本数"].iloc[0] == 85
    captions = [c.value for c in at.caption]
    assert "所选条件下没有提到主题或方面的开放回答。" in captions  # 一般 did not answer in February
    assert "所选条件下没有客户的负面声音。" in captions
    # Whole history of the mover through the timeline: segment then, not now.
    at = open_page(db, monkeypatch, "2025-01-01", "2025-03-03", cu_owners=["李经理"])
    top = frame_with(at, "客户（哈希）")
    assert list(top["客户（哈希）"][:2]) == [cid("G01"), cid("M01")]
    at.selectbox(key="cu_customer").set_value(cid("M01")).run()
    timeline = frame_with(at, "当时细分")
    assert list(timeline["当时细分"]) == [HIGH, HIGH, NORMAL, NORMAL]


def test_customers_page_in_english(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, lang="en")
    assert [h.value for h in at.header] == ["Customers"]
    assert "Key drivers" in {s.value for s in at.subheader}
    assert "Insufficient sample" in set(frame_with(at, "95% interval")["NPS"])
