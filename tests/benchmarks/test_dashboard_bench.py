"""The dashboard benchmark's generator at small scale: a plausible warehouse whose
aggregates equal the base tables, and every page returning data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmarks import dashboard as bench
from benchmarks.dashboard_data import generate_warehouse
from nlp.segment import Segmenter
from warehouse import (
    aggregate_reader,
    alert_pages,
    page_filters,
    pages,
    queries,
    search,
    theme_pages,
)
from warehouse.db import read_only
from warehouse.page_filters import Filters
from warehouse.snapshot import snapshot_path


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("bench") / "dashboard.duckdb"
    meta = generate_warehouse(db, 20_000)
    assert meta["incremental_days"] == 1  # the re-scored newest day only
    return snapshot_path(db)


def test_generated_warehouse_is_plausible(snapshot: Path) -> None:
    with read_only(snapshot) as con:
        options = page_filters.filter_options(con)
        k = pages.kpis(con, page_filters.resolve(con, Filters()))["current"]
        n_raw, n_dup = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE duplicate_of IS NOT NULL) FROM doc_texts"
        ).fetchone()
        days = pages.daily_trend(con, Filters()).groupby("local_day")["n_docs"].sum()
        themes = theme_pages.theme_ranking(con, page_filters.resolve(con, Filters()))
    assert len(options["sources"]) == 50
    assert set(options["channels"]) == {"review", "social", "ticket"}
    assert (options["last_day"] - options["first_day"]).days == 729
    assert n_raw == 20_000 and 0.02 < n_dup / n_raw < 0.04
    assert k["n_docs"] == n_raw - n_dup
    assert 0.18 < k["negative_share"] < 0.35 and 0 < k["anger_share"] < 1
    # Zipf: the biggest source far above the median one; weekends busier than weekdays.
    sizes = sorted(s["n_docs"] for s in options["sources"])
    assert sizes[-1] > 5 * sizes[25]
    weekday = pd.to_datetime(days.index).dayofweek
    assert days[weekday >= 5].mean() > 1.1 * days[weekday < 5].mean()
    assert len(themes) > 100 and themes["n_docs"].iloc[0] > 10 * themes["n_docs"].iloc[-1]


@pytest.mark.parametrize("name", ["full range", "one source", "one product", "one channel"])
def test_pages_from_aggregates_equal_pages_from_base_tables(snapshot: Path, name: str) -> None:
    f = dict(bench.filter_sets(snapshot))[name]
    with read_only(snapshot) as con:
        assert aggregate_reader.page_reader(con).aggregated
        f = page_filters.resolve(con, f)
        theme = theme_pages.theme_ranking(con, f)["theme_id"].iloc[0]
        calls = [
            (pages.kpis, (f,)),
            (pages.daily_trend, (f,)),
            (pages.hourly_trend, (f,)),
            (theme_pages.theme_ranking, (f,)),
            (pages.category_overview, (f,)),
            (pages.low_confidence_by_day, (f,)),
        ]
        for fn, args in calls:
            fast = fn(con, *args)
            with aggregate_reader.from_base_tables():
                slow = fn(con, *args)
            if isinstance(fast, dict):
                assert fast == slow, fn.__name__
            else:
                assert len(fast) > 0 or fn is pages.hourly_trend, fn.__name__
                pd.testing.assert_frame_equal(fast, slow, check_dtype=False, obj=fn.__name__)
        detail = theme_pages.theme_detail(con, theme, f)
        with aggregate_reader.from_base_tables():
            base = theme_pages.theme_detail(con, theme, f)
        for part in ("daily", "aspects", "verbatims"):
            pd.testing.assert_frame_equal(detail[part], base[part], check_dtype=False)
        assert len(detail["daily"]) > 0 and len(detail["verbatims"]) > 0


def test_alerts_sources_and_search_have_data(snapshot: Path) -> None:
    seg = Segmenter()
    with read_only(snapshot) as con:
        alerts = alert_pages.alert_list(con, Filters())
        detail = alert_pages.alert_detail(con, alerts["episode_id"].iloc[0])
        overview = pages.source_overview(con)
        model = queries.current_model_version(con)
        found = search.search_documents(con, "物流太慢", seg.tokens("物流太慢"), model)
        with search.without_search_table():
            plain = search.search_documents(con, "物流太慢", seg.tokens("物流太慢"), model)
    assert len(alerts) >= 40 and all(alerts["drivers"].str.count("、") == 2)
    assert len(detail["explanation"]["verbatims"]) == 5
    assert len(overview["sources"]) == 50 and overview["health"]
    assert found.total > 20 and found.total == plain.total
    assert list(found.rows["id"]) == list(plain.rows["id"])
