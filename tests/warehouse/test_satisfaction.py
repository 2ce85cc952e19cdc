"""Satisfaction and customer voices read back from a real DuckDB warehouse seeded with
hand-checkable numbers (tests/customer_seed.py): NPS/CSAT series with intervals and the
样本不足 guard, segment-at-time attribution, drivers with verbatims, segment sizes and
negative shares, the most negative customers, a customer's timeline, and the ``voc stats``
section."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.customer_seed import (
    HIGH,
    NORMAL,
    RAW_PHONE,
    THEME,
    THEME_LABEL,
    build_customer_warehouse,
    cid,
)
from voc.satisfaction import nps_score
from warehouse import customer_voices as cv
from warehouse import satisfaction as sat
from warehouse.db import read_only
from warehouse.queries import warehouse_summary

FEB = sat.CustomerFilters(start=date(2025, 2, 1), end=date(2025, 2, 28))
JAN = sat.CustomerFilters(start=date(2025, 1, 1), end=date(2025, 1, 31))


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return build_customer_warehouse(tmp_path_factory.mktemp("sat") / "voc.duckdb")


@pytest.fixture()
def con(db: Path):
    with read_only(db) as c:
        yield c


def test_monthly_nps_and_csat_with_intervals_and_the_guard(con) -> None:
    s = sat.satisfaction_series(con, sat.CustomerFilters(), "month")
    assert list(s["period"]) == ["2025-01", "2025-02", "2025-03"]
    jan, feb, mar = (s.iloc[i] for i in range(3))
    # January: 40 + 16 promoters... = 40 / 26 / 14 of 80 → 32.5; February 26 / 26 / 28 → −2.5.
    assert (jan["promoters"], jan["passives"], jan["detractors"]) == (40, 26, 14)
    assert jan["nps"] == pytest.approx(32.5) and feb["nps"] == pytest.approx(-2.5)
    expected = nps_score(26, 26, 28)
    assert feb["nps_low"] == pytest.approx(expected.low) and feb["nps_high"] > -2.5
    # CSAT = promoters + passives (4–5) share: 66 / 80, 52 / 80.
    assert jan["csat"] == pytest.approx(82.5) and feb["csat"] == pytest.approx(65.0)
    assert feb["nps_change"] == pytest.approx(-35.0) and feb["nps_change_p"] < 0.05
    # March has 5 answers: no number, and no comparison.
    assert mar["n"] == 5 and not mar["nps_enough"] and mar["nps_display"] == "样本不足"
    assert pd_isna(mar["nps_change"])
    assert (
        sat.satisfaction_series(con, sat.CustomerFilters(), "month", min_n=5).iloc[2]["nps_display"]
        == f"{nps_score(2, 2, 1).value:.1f}"
    )


def pd_isna(v) -> bool:
    return v is None or v != v


def test_series_by_segment_and_filters(con) -> None:
    s = sat.satisfaction_series(con, sat.CustomerFilters(), "month", "segment")
    high = s[s["dimension"] == HIGH].set_index("period")
    assert high.loc["2025-01", "nps"] == pytest.approx(45.0)
    assert high.loc["2025-02", "nps"] == pytest.approx(-25.0)
    assert high.loc["2025-02", "nps_change"] == pytest.approx(-70.0)
    assert high.loc["2025-02", "nps_change_p"] < 0.001
    normal = s[s["dimension"] == NORMAL].set_index("period")
    assert normal.loc["2025-02", "nps"] == pytest.approx(20.0)
    assert normal.loc["2025-02", "nps_change"] == pytest.approx(0.0)
    only_high = sat.satisfaction_series(con, sat.CustomerFilters(segments=(HIGH,)), "quarter")
    assert list(only_high["period"]) == ["2025-Q1"] and only_high.iloc[0]["n"] == 80
    owners = sat.satisfaction_series(con, sat.CustomerFilters(owners=("王经理",)), "month")
    assert list(owners["n"]) == [40, 40]
    weeks = sat.satisfaction_series(con, sat.CustomerFilters(), "week")
    assert weeks["n"].sum() == 165 and weeks["period"].iloc[0] == "2025-W01"
    with pytest.raises(ValueError, match="dimension"):
        sat.satisfaction_series(con, sat.CustomerFilters(), "month", "name")
    with pytest.raises(ValueError, match="granularity"):
        sat.satisfaction_series(con, sat.CustomerFilters(), "day")  # type: ignore[arg-type]


def test_responses_carry_the_segment_at_answer_time(con) -> None:
    r = sat.survey_responses(con, sat.CustomerFilters())
    assert len(r) == 165 and set(r["segment"]) == {HIGH, NORMAL}
    assert r["customer_id"].str.startswith("c-").all()


def test_drivers_rank_the_planted_theme_first(con) -> None:
    d = sat.satisfaction_drivers(con, sat.CustomerFilters())
    top = d.iloc[0]
    assert (top["kind"], top["value"], top["label"]) == ("theme", THEME, THEME_LABEL)
    # 20 detractors mention it (NPS −100); the other 145: 68 / 54 / 23 → 31.0.
    assert top["n_mention"] == 20 and top["n_other"] == 145
    assert top["nps_mention"] == -100.0 and top["nps_other"] == pytest.approx(31.0)
    assert top["impact"] == pytest.approx(20 / 165 * (100 + 45 / 145 * 100), abs=0.05)
    assert top["detractor_share"] == pytest.approx(20 / 43, abs=1e-4)
    assert top["nps_difference_high"] < 0
    kinds = {(k, v) for k, v in zip(d["kind"], d["value"], strict=True)}
    assert {("aspect", "物流"), ("category", "物流配送"), ("category", "价格")} <= kinds
    price = d[d["value"] == "价格"].iloc[0]
    assert price["n_mention"] == 5 and not price["enough"]  # 5 < 30: ranked last
    assert d.iloc[-1]["value"] == "价格"
    # Among 一般 customers nobody mentions 物流慢.
    assert THEME not in set(
        sat.satisfaction_drivers(con, sat.CustomerFilters(segments=(NORMAL,)))["value"]
    )


def test_driver_verbatims_are_one_call_away(con) -> None:
    v = sat.driver_verbatims(con, FEB, "theme", THEME, limit=5)
    assert len(v) == 5 and (v["nps"] == 2).all() and (v["segment"] == HIGH).all()
    assert set(v["text"]) == {"物流太慢，等了一周"} and set(v["question"]) == {"不满意的原因"}
    assert len(sat.driver_verbatims(con, FEB, "aspect", "物流", limit=50)) == 20
    assert sat.driver_verbatims(con, JAN, "theme", THEME).empty
    with pytest.raises(ValueError, match="kind"):
        sat.driver_verbatims(con, FEB, "product", "x")


def test_segment_sizes_and_negative_share_at_voice_time(con) -> None:
    feb = cv.segment_overview(con, FEB).set_index("segment")
    assert feb.loc[HIGH, "n_customers"] == 41 and feb.loc[NORMAL, "n_customers"] == 45
    assert feb.loc["休眠", "n_customers"] == 5 and feb.loc["休眠", "n_voices"] == 0
    # H01 6 (5 negative), H02 2, M01 1 (高价值 since 02-15), 20 negative answers.
    assert feb.loc[HIGH, "n_voices"] == 29 and feb.loc[HIGH, "n_negative"] == 28
    assert feb.loc[HIGH, "negative_share"] == pytest.approx(28 / 29)
    assert feb.loc[HIGH, "n_speaking"] == 23
    jan = cv.segment_overview(con, JAN).set_index("segment")
    # January: G01 4 (3 negative), M01 2 negative as 一般, 5 negative 价格 answers.
    assert jan.loc[NORMAL, "n_voices"] == 11 and jan.loc[NORMAL, "n_negative"] == 10
    assert jan.loc[HIGH, "n_voices"] == 24 and jan.loc[HIGH, "n_negative"] == 0
    shanghai = cv.segment_overview(con, sat.CustomerFilters(provinces=("上海",)))
    assert set(shanghai["segment"]) == {HIGH}


def test_most_negative_customers_and_a_timeline(con) -> None:
    top = cv.negative_customers(con, FEB, limit=3)
    # Then one negative each: the newest first (H39 answered on 02-22, M01 spoke on 02-20).
    assert list(top["customer_id"]) == [cid("H01"), cid("H02"), cid("H39")]
    assert list(top["n_negative"][:2]) == [5, 2] and top.iloc[0]["n_voices"] == 6
    assert top.iloc[0]["segment"] == HIGH and top.iloc[0]["owner"] == "王经理"
    whole = cv.negative_customers(con, sat.CustomerFilters(owners=("李经理",)))
    assert list(whole["customer_id"][:2]) == [cid("G01"), cid("M01")]
    # M01: only the voices from when 李经理 owned it, with the attributes of then.
    m01 = whole.iloc[1]
    assert m01["n_negative"] == 2 and m01["segment"] == NORMAL and m01["province"] == "北京"
    line = cv.customer_timeline(con, cid("M01"))
    assert line is not None and line["customer"]["segment"] == HIGH
    assert list(line["voices"]["segment"]) == [HIGH, HIGH, NORMAL, NORMAL]
    assert list(line["voices"]["sentiment"]) == ["positive", "negative", "negative", "negative"]
    h21 = cv.customer_timeline(con, cid("H21"))
    assert list(h21["responses"]["nps"]) == [2, 10]
    assert cv.customer_timeline(con, "c-nobody") is None
    assert cv.customer_options(con)["segments"] == sorted([HIGH, NORMAL, "休眠"])


def test_stats_section_and_cli(db: Path, con) -> None:
    s = warehouse_summary(con)["satisfaction"]
    assert s["responses"] == 165 and s["min_n"] == 30
    months = {m["month"]: m for m in s["nps_by_month"]}
    assert months["2025-01"]["value"] == 32.5 and months["2025-01"]["n"] == 80
    assert months["2025-02"]["low"] < -2.5 < months["2025-02"]["high"]
    assert months["2025-03"]["value"] is None and months["2025-03"]["display"] == "样本不足"
    # 20 mentions < 30: listed first but not reported as the top driver.
    assert s["drivers"][0]["label"] == THEME_LABEL and not s["drivers"][0]["enough"]
    assert s["top_driver"] is None
    assert sat.satisfaction_summary(con, min_n=20)["top_driver"]["label"] == THEME_LABEL
    assert s["last_change"] is None  # March is too small to compare
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "stats", "--json", "--db", str(db)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    printed = json.loads(out.stdout)["satisfaction"]
    assert printed["drivers"][0]["value"] == THEME
    assert RAW_PHONE not in out.stdout
    text = subprocess.run(
        [sys.executable, "-m", "cli.main", "stats", "--db", str(db)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "2025-01  NPS 32.5 [" in text and "2025-03  NPS 样本不足  n=5" in text


def test_page_aggregates_equal_the_base_tables_and_go_stale(db: Path, tmp_path: Path) -> None:
    import shutil

    from warehouse.customer_aggregates import customer_relations, refresh_customer_aggregates
    from warehouse.db import warehouse

    def page(con) -> list:
        full = sat.CustomerFilters()
        # Whole history, also by segment: the aggregated page reads the totals tables.
        both = sat.CustomerFilters(segments=("高价值", "一般"))
        return [
            cv.segment_overview(con, FEB),
            cv.segment_overview(con, full),
            cv.segment_overview(con, sat.CustomerFilters(segments=("高价值",))),
            cv.negative_customers(con, full, limit=50),
            cv.negative_customers(con, both, limit=50),
            cv.negative_customers(con, sat.CustomerFilters(segments=("一般",)), limit=50),
            # The customer who moved: newest voices first, the segment of each voice's day.
            cv.customer_timeline(con, cid("M01"), limit=3)["voices"],
            sat.satisfaction_drivers(con, full),
            sat.driver_verbatims(con, FEB, "aspect", "物流", limit=50),
        ]

    copy = tmp_path / "voc.duckdb"
    shutil.copy(db, copy)
    with warehouse(copy) as con:
        assert customer_relations(con).aggregated
        assert customer_relations(con).covers_history(None, None)
        assert not customer_relations(con).covers_history(FEB.start, FEB.end)
        assert con.execute("SELECT count(*) FROM agg_survey_mentions").fetchone()[0] == 65
        aggregated = page(con)
        con.execute("DELETE FROM agg_customer_state")
        assert not customer_relations(con).aggregated
        for a, b in zip(aggregated, page(con), strict=True):
            assert a.equals(b)
        result = refresh_customer_aggregates(con)
        assert result.n_mentions == 65 and customer_relations(con).aggregated
        # A new linked voice: the aggregates no longer hold, the page counts it anyway.
        # A voice re-linked to another customer (same row count): the aggregates no longer
        # hold, and the page counts it anyway.
        con.execute("UPDATE doc_customers SET customer_id = ? WHERE doc_id = 't-00'", [cid("H03")])
        assert not customer_relations(con).aggregated
        worst = cv.negative_customers(con, FEB, limit=50).set_index("customer_id")
        assert worst.loc[cid("H01"), "n_negative"] == 4 and worst.loc[cid("H03"), "n_negative"] == 1
