"""Segment as a dimension, on the dashboard's seed warehouse with customer links
(tests/dashboard/segment_seed.py): every page narrows by the customer's segment, province,
city and owner with counts computed by hand, the aggregates and the base tables agree,
search and export filter and carry the columns, the query views expose them, segment
episodes follow the segment filter, and the sources' linked shares flag broken linking."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tests.dashboard.seed import MODEL, build_seed_warehouse
from tests.dashboard.segment_seed import (
    N_REGULAR,
    N_VIP,
    N_VIP_NEGATIVE,
    REGULAR,
    VIP,
    link_customers,
)
from warehouse import aggregates, alert_pages, page_filters, pages, theme_pages
from warehouse.aggregate_reader import from_base_tables, page_reader
from warehouse.db import read_only, warehouse
from warehouse.page_filters import Filters
from warehouse.search import CUSTOMER_COLUMNS, SearchFilters, export_matches, search_documents
from warehouse.snapshot import publish_snapshot, snapshot_path
from warehouse.sql_console import run_query

ALL = Filters(start=date(2025, 3, 1), end=date(2025, 3, 28))


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = build_seed_warehouse(tmp_path_factory.mktemp("segments") / "voc.duckdb")
    link_customers(path)
    with warehouse(path) as con:  # a segment episode, for the alert filters
        con.execute(
            "INSERT INTO spike_episodes SELECT 'ep-vip', 'segment_category', '高价值 · 商品质量', "
            " granularity, 'negative_share', start_period, end_period, peak_period, observed, "
            " expected, ratio, statistic, p_value, baseline_start, baseline_end, 'warning', "
            " true, 1, ?, 'seed' FROM spike_episodes WHERE episode_id = 'ep-weibo-0327'",
            [json.dumps({"themes": [], "categories": [], "aspects": [], "phrases": []})],
        )
        # The aspect model of the seed's aspects is the one that read documents, and one
        # 高价值 ticket names 客服 negatively.
        con.execute(
            "INSERT INTO doc_aspects VALUES ('helpdesk-0301-0', '客服', 'negative', 0.1, 0.9, "
            " '客服不理人', 'a1', now())"
        )
        con.execute(
            "INSERT INTO doc_stage_state SELECT DISTINCT 'aspects', a.doc_id, r.content_hash, "
            " 'a1', '', 1, now() FROM doc_aspects a JOIN raw_documents r ON r.id = a.doc_id"
        )
        aggregates.refresh_aggregates(con, MODEL, "Asia/Shanghai")
    publish_snapshot(path)
    return path


@pytest.fixture()
def con(db: Path):
    with read_only(snapshot_path(db)) as c:
        yield c


def test_the_filter_bar_offers_the_linked_customers_values(con) -> None:
    options = page_filters.filter_options(con)
    assert options["segments"] == [VIP, REGULAR]  # most documents first
    assert set(options["provinces"]) == {"浙江", "广东"}
    assert set(options["cities"]) == {"杭州", "深圳"}
    assert options["owners"] == ["王经理", "李经理"]


@pytest.mark.parametrize(
    ("narrow", "n_docs", "n_negative"),
    [
        ({"segments": (VIP,)}, N_VIP, N_VIP_NEGATIVE),
        ({"segments": (REGULAR,)}, N_REGULAR, 0),
        ({"segments": (VIP, REGULAR)}, N_VIP + N_REGULAR, N_VIP_NEGATIVE),
        ({"provinces": ("浙江",)}, N_VIP, N_VIP_NEGATIVE),
        ({"cities": ("深圳",)}, N_REGULAR, 0),
        ({"owners": ("王经理",)}, N_VIP, N_VIP_NEGATIVE),
        ({"segments": (VIP,), "sources": ("shop",)}, 0, 0),
    ],
)
def test_kpis_narrow_to_the_customers_segment(con, narrow, n_docs, n_negative) -> None:
    f = Filters(start=ALL.start, end=ALL.end, **narrow)
    current = pages.kpis(con, f)["current"]
    assert (current["n_docs"], current["n_negative"]) == (n_docs, n_negative)
    with from_base_tables():
        assert pages.kpis(con, f)["current"] == current
    trend = pages.daily_trend(con, f)
    assert int(trend["n_docs"].sum()) == n_docs
    if n_docs:
        assert set(trend["source"]) == {"helpdesk"}


def test_every_customer_filter_reads_the_aggregates(con) -> None:
    assert page_reader(con).aggregated
    stored = con.execute(
        "SELECT sum(n_docs) FROM agg_daily_docs WHERE city = '杭州' AND owner = '王经理'"
    ).fetchone()[0]
    assert stored == N_VIP


def test_categories_themes_and_quality_follow_the_segment(con) -> None:
    vip = Filters(start=ALL.start, end=ALL.end, segments=(VIP,))
    categories = pages.category_overview(con, vip).set_index("category")
    assert list(categories.index) == ["商品质量"]  # the daily negative ticket's category
    assert categories.loc["商品质量", "n_docs"] == N_VIP_NEGATIVE
    ranking = theme_pages.theme_ranking(con, vip)
    assert ranking.set_index("theme_id").loc["theme-service", "n_docs"] == N_VIP_NEGATIVE
    assert "theme-delivery" not in set(ranking["theme_id"])  # weibo posts: no customer
    detail = theme_pages.theme_detail(con, "theme-service", Filters(segments=(REGULAR,)))
    assert detail["verbatims"].empty and detail["daily"].empty
    detail = theme_pages.theme_detail(con, "theme-service", Filters(cities=("杭州",)))
    assert int(detail["daily"]["n_docs"].sum()) == N_VIP_NEGATIVE
    assert len(detail["verbatims"]) == 20  # the 20 most negative, one per voice
    low = pages.low_confidence_by_day(con, vip)  # the neutral (0.5) tickets of 21 days
    assert int(low["n_low_confidence"].sum()) == 21


def test_segment_episodes_follow_the_segment_filter(con) -> None:
    def listed(**narrow) -> set[str]:
        return set(alert_pages.alert_list(con, Filters(**narrow))["episode_id"])

    assert listed() == {"ep-weibo-0327", "ep-vip"}
    assert listed(segments=(VIP,)) == {"ep-weibo-0327", "ep-vip"}
    assert listed(segments=(REGULAR,)) == {"ep-weibo-0327"}
    assert set(alert_pages.alert_list(con, ALL, kinds=("segment_category",))["episode_id"]) == {
        "ep-vip"
    }


def test_search_and_export_filter_by_segment_and_carry_the_customer(con, tmp_path) -> None:
    f = SearchFilters(segments=(REGULAR,))
    found = search_documents(con, "", [], MODEL, f, page_size=500)
    assert found.total == N_REGULAR
    assert set(found.rows["segment"]) == {REGULAR} and set(found.rows["owner"]) == {"李经理"}
    assert set(found.rows["customer_id"]) == {"cust-regular"}
    assert search_documents(con, "", [], MODEL, SearchFilters(cities=("杭州",))).total == N_VIP
    narrowed = ALL.search(sentiment="negative")
    assert search_documents(con, "", [], MODEL, narrowed).total == 28 * 3 + 20
    vip_negative = Filters(segments=(VIP,)).search(sentiment="negative")
    assert search_documents(con, "", [], MODEL, vip_negative).total == N_VIP_NEGATIVE
    out = tmp_path / "export.csv"
    assert export_matches(con, "", [], MODEL, f, "csv", out) == N_REGULAR
    exported = pd.read_csv(out, encoding="utf-8-sig")
    assert set(CUSTOMER_COLUMNS) <= set(exported.columns)
    assert set(exported["segment"]) == {REGULAR} and set(exported["province"]) == {"广东"}
    # An unlinked document exports with empty customer columns.
    everything = tmp_path / "all.csv"
    export_matches(con, "", [], MODEL, SearchFilters(sources=("weibo",)), "csv", everything)
    assert pd.read_csv(everything, encoding="utf-8-sig")["segment"].isna().all()


def test_search_reads_the_same_from_the_base_tables(con) -> None:
    from warehouse.search import without_search_table

    f = SearchFilters(segments=(VIP,), owners=("王经理",))
    fast = search_documents(con, "", [], MODEL, f, page_size=100)
    with without_search_table():
        slow = search_documents(con, "", [], MODEL, f, page_size=100)
    assert fast.total == slow.total == N_VIP
    pd.testing.assert_frame_equal(fast.rows, slow.rows, check_dtype=False)


def test_query_views_answer_per_segment(db: Path) -> None:
    result = run_query(
        db,
        "SELECT segment, count(*) AS n FROM v_documents WHERE sentiment = 'negative' "
        "GROUP BY segment ORDER BY segment NULLS LAST",
    )
    assert result.rows == [(VIP, N_VIP_NEGATIVE), (None, 28 * 2 + 20)]
    owners = run_query(
        db,
        "SELECT owner, province, city, acquisition, count(DISTINCT customer_id) FROM v_documents "
        "WHERE owner IS NOT NULL GROUP BY ALL ORDER BY owner",
    )
    assert owners.rows == [
        ("李经理", "广东", "深圳", "广告", 1),
        ("王经理", "浙江", "杭州", "广告", 1),
    ]
    aspects = run_query(
        db, "SELECT segment, aspect, count(*) FROM v_aspects GROUP BY ALL ORDER BY segment"
    )
    assert aspects.rows == [(VIP, "客服", 1), (None, "物流", 20)]  # weibo posts: no customer


def test_sources_show_linked_shares_and_flag_broken_linking(con) -> None:
    frame = pages.source_linking(con).set_index("source")
    helpdesk = frame.loc["helpdesk"]
    assert (helpdesk["n_docs"], helpdesk["n_keyed"], helpdesk["n_linked"]) == (112, 112, 91)
    assert helpdesk["linked_share"] == pytest.approx(91 / 112)
    assert (helpdesk["recent_rate"], helpdesk["before_rate"]) == (0.25, 1.0)
    assert helpdesk["warning"] == "dropped"
    shop = frame.loc["shop"]
    assert (shop["keyed_share"], shop["linked_share"], shop["warning"]) == (1.0, 0.0, "none")
    weibo = frame.loc["weibo"]
    assert (weibo["n_keyed"], weibo["warning"]) == (0, None)


def test_linking_that_holds_raises_no_warning(tmp_path: Path) -> None:
    path = build_seed_warehouse(tmp_path / "voc.duckdb")
    with warehouse(path) as con:
        con.execute("UPDATE raw_documents SET customer_key = 'k' || id WHERE source = 'helpdesk'")
        con.execute(
            "INSERT INTO doc_customers SELECT id, 'c', 'key', '一般', NULL, NULL, NULL, NULL "
            "FROM raw_documents WHERE source = 'helpdesk' AND right(id, 1) IN ('0', '1')"
        )
        frame = pages.source_linking(con).set_index("source")
    assert frame.loc["helpdesk", "recent_rate"] == frame.loc["helpdesk", "before_rate"] == 0.5
    assert frame["warning"].isna().all()
