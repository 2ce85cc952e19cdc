"""The pages' data (warehouse.pages, alert_pages, theme_pages, page_filters) on a small
warehouse whose numbers can be checked by hand, from the aggregates and from the base
tables alike.

Documents (Asia/Shanghai; * = exact duplicate, left out of every count):

    id  source channel day   h  product brand sentiment score emotion theme categories
    d01 weibo  social  06-09 10 P1 B1 negative 0.10 anger   t1 物流       物流:neg  voice d01
    d02 weibo  social  06-09 11 P1 B1 negative 0.45 sadness t2 -                    voice d01
    d03 weibo  social  06-10 09 P2 B2 positive 0.90 joy     -  -
    d04*weibo  social  06-10 09 P2 B2 (duplicate of d03)
    d05 shop   review  06-08 12 P1 B1 negative 0.20 -       t1 物流 质量  物流:neg 质量:neu
    d06 shop   review  06-09 12 P2 B2 positive 0.55 -       t2 质量       质量:pos
    d07 shop   review  06-10 12 P3 B1 neutral  0.50 -       t2 -
    d08 desk   ticket  06-10 12 P1 B1 negative 0.05 -       t2 退款
    d09 shop   review  06-03 12 P1 B1 positive 0.95 -       t1 物流
    d10 weibo  social  06-04 12 P1 B1 negative 0.30 neutral t2 -
    d11 weibo  social  06-09 12 P1 B1 negative 0.15 anger   t1 -                    voice d01

The period is 06-06..06-10; the one before it 06-01..06-05.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from warehouse import aggregate_reader, alert_pages, page_filters, pages, theme_pages
from warehouse.aggregates import refresh_aggregates
from warehouse.db import open_warehouse, read_only
from warehouse.page_filters import Filters

F = Filters(start=date(2025, 6, 6), end=date(2025, 6, 10))
DOCS = [
    # id, source, channel, day, hour, product, brand, label, score, emotion, theme, dup, group
    ("d01", "weibo", "social", 9, 10, "P1", "B1", "negative", 0.10, "anger", "t1", None, "d01"),
    ("d02", "weibo", "social", 9, 11, "P1", "B1", "negative", 0.45, "sadness", "t2", None, "d01"),
    ("d03", "weibo", "social", 10, 9, "P2", "B2", "positive", 0.90, "joy", None, None, "d03"),
    ("d04", "weibo", "social", 10, 9, "P2", "B2", None, None, None, None, "d03", None),
    ("d05", "shop", "review", 8, 12, "P1", "B1", "negative", 0.20, None, "t1", None, "d05"),
    ("d06", "shop", "review", 9, 12, "P2", "B2", "positive", 0.55, None, "t2", None, "d06"),
    ("d07", "shop", "review", 10, 12, "P3", "B1", "neutral", 0.50, None, "t2", None, "d07"),
    ("d08", "desk", "ticket", 10, 12, "P1", "B1", "negative", 0.05, None, "t2", None, "d08"),
    ("d09", "shop", "review", 3, 12, "P1", "B1", "positive", 0.95, None, "t1", None, "d09"),
    ("d10", "weibo", "social", 4, 12, "P1", "B1", "negative", 0.30, "neutral", "t2", None, "d10"),
    ("d11", "weibo", "social", 9, 12, "P1", "B1", "negative", 0.15, "anger", "t1", None, "d01"),
]
CATEGORIES = [("d01", "物流"), ("d05", "物流"), ("d05", "质量"), ("d06", "质量"), ("d08", "退款")]
CATEGORIES += [("d09", "物流")]
ASPECTS = [("d01", "物流", "negative"), ("d05", "物流", "negative"), ("d05", "质量", "neutral")]
ASPECTS += [("d06", "质量", "positive")]
EXPLANATION = {
    "themes": [{"kind": "theme", "value": "物流慢", "z": 5.0, "spike_docs": 3}],
    "categories": [{"kind": "category", "value": "物流", "z": 4.0, "spike_docs": 2}],
    "aspects": [],
    "phrases": [
        {"kind": "phrase", "value": "太慢", "z": 7.0, "spike_docs": 3},
        {"kind": "phrase", "value": "三天", "z": 2.0, "spike_docs": 2},
    ],
    "verbatims": [{"doc_id": "d01", "text": "物流太慢", "group_id": "d01", "group_size": 3}],
    "n_spike": 3,
    "n_baseline": 1,
}
EPISODES = [  # id, kind, value, first day, last day
    ("e1", "source", "weibo", 9, 9),
    ("e2", "theme", "t1", 8, 9),
    ("e3", "source", "shop", 1, 2),
    ("e4", "product", "P1", 10, 10),
]


def _seed(con) -> None:
    for i, s, ch, day, hour, prod, brand, label, score, emo, theme, dup, group in DOCS:
        text = {"d04": "好看好用", "d03": "好看好用"}.get(i, f"文本{i}<br>物流太慢")
        con.execute(
            "INSERT INTO raw_documents (id, source, channel, external_id, text, created_at, "
            "local_day, url, product, brand, content_hash, first_run_id, last_run_id) "
            "VALUES (?, ?, ?, ?, ?, ?::TIMESTAMPTZ, ?, ?, ?, ?, ?, 'r1', 'r1')",
            [i, s, ch, i, text, f"2025-06-{day:02d} {hour:02d}:00:00+08", date(2025, 6, day),
             f"https://x/{i}", prod, brand, text],
        )  # fmt: skip
        con.execute("INSERT INTO doc_texts VALUES (?, ?, ?, ?)", [i, text, text, dup])
        con.execute("INSERT INTO doc_tokens VALUES (?, ['物流', '太慢'])", [i])
        if label:
            con.execute(
                "INSERT INTO doc_sentiment VALUES (?, 'm1', ?, ?, "
                "TIMESTAMPTZ '2025-06-11 00:00+08')",
                [i, label, score],
            )
        if emo:
            con.execute(
                "INSERT INTO doc_emotion VALUES (?, 'e1', ?, 0.8, ?, now())",
                [i, emo, 0.8 if emo == "anger" else 0.1],
            )
        if theme:
            con.execute("INSERT INTO doc_themes VALUES (?, ?, 'tracker', 0.5)", [i, theme])
        if group:
            con.execute("INSERT INTO doc_groups VALUES (?, ?, 1.0, ''::BLOB, now())", [i, group])
        if dup is None:
            con.execute(
                "INSERT INTO doc_stage_state VALUES ('aspects', ?, ?, 'a1', 'f', 0, now())",
                [i, text],
            )
    for doc, cat in CATEGORIES:
        con.execute(
            "INSERT INTO doc_categories VALUES (?, ?, 'keyword', 'k', 1.0, 'x1')", [doc, cat]
        )
    for doc, aspect, polarity in ASPECTS:
        con.execute(
            "INSERT INTO doc_aspects VALUES (?, ?, ?, 0.5, 0.9, 'c', 'a1', now())",
            [doc, aspect, polarity],
        )
    for theme, label, merged in (
        ("t1", "物流慢", None),
        ("t2", "退款难", None),
        ("t3", "旧", "t1"),
    ):
        con.execute(
            "INSERT INTO tracked_themes VALUES (?, '{}', 1, ['物流'], ['物流慢'], ?, 1, 1, 1.0, "
            "DATE '2025-06-03', DATE '2025-06-10', 'growing', 'r0', 'r1', ?)",
            [theme, label, merged],
        )
    con.execute("INSERT INTO theme_events VALUES ('r0', 'born', 't1', NULL, 2, now())")
    con.execute("INSERT INTO theme_events VALUES ('r1', 'merged', 't3', 't1', 1, now())")
    for episode, kind, value, first, last in EPISODES:
        start, end = datetime(2025, 6, first), datetime(2025, 6, last)
        con.execute(
            "INSERT INTO spike_episodes VALUES (?, ?, ?, 'day', 'negative_volume', ?, ?, ?, "
            "3, 1, 3.0, 4.0, 0.001, ?, ?, 'high', true, 1, ?, 'r1')",
            [episode, kind, value, start, end, end, start, start, json.dumps(EXPLANATION)],
        )
    con.execute(
        "INSERT INTO source_runs (run_id, source, kind, mode, fetched, new, updated, unchanged, "
        "skipped, errors, empty_text, layout_changed, status, seconds, finished_at) VALUES "
        "('r1', 'weibo', 'weibo', 'incremental', 5, 5, 0, 0, 0, 0, 0, 0, 'ok', 1.0, "
        " TIMESTAMPTZ '2025-06-10 08:00:00+00'), "
        "('r1', 'shop', 'shop', 'incremental', 0, 0, 0, 0, 0, 1, 0, 0, 'failed', 1.0, "
        " TIMESTAMPTZ '2025-06-10 08:00:00+00')"
    )
    con.execute(
        "INSERT INTO source_state (source, last_success_at) VALUES "
        "('weibo', TIMESTAMPTZ '2025-06-10 08:00:00+00'), ('shop', NULL)"
    )
    con.execute(
        "INSERT INTO source_health_alerts VALUES "
        "('h1', 'shop', 'failed', 'shop: fetch failed', 0, NULL, 'r1', now(), NULL, NULL), "
        "('h0', 'weibo', 'zero_items', 'old', 0, 5, 'r0', now(), 'r1', now())"
    )


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pages") / "w.duckdb"
    con = open_warehouse(path)
    _seed(con)
    refresh_aggregates(con, "m1", "Asia/Shanghai")
    con.execute("CHECKPOINT")
    con.close()
    return path


@pytest.fixture(params=["aggregates", "base tables"])
def con(request, snapshot: Path):
    with read_only(snapshot) as c:
        if request.param == "aggregates":
            assert aggregate_reader.page_reader(c).aggregated
            yield c
        else:
            with aggregate_reader.from_base_tables():
                assert not aggregate_reader.page_reader(c).aggregated
                yield c


def test_filter_options_list_days_sources_and_largest_products(con) -> None:
    options = page_filters.filter_options(con)
    assert (options["first_day"], options["last_day"]) == (date(2025, 6, 3), date(2025, 6, 10))
    assert options["sources"] == [
        {"source": "desk", "channel": "ticket", "n_docs": 1},
        {"source": "shop", "channel": "review", "n_docs": 4},
        {"source": "weibo", "channel": "social", "n_docs": 5},
    ]
    assert options["channels"] == ["review", "social", "ticket"]
    assert (options["products"], options["brands"]) == (["P1", "P2", "P3"], ["B1", "B2"])


def test_resolve_and_previous_period(con) -> None:
    full = page_filters.resolve(con, Filters(sources=("shop",)))
    assert (full.start, full.end, full.sources) == (date(2025, 6, 3), date(2025, 6, 10), ("shop",))
    before = page_filters.previous_period(F)
    assert (before.start, before.end) == (date(2025, 6, 1), date(2025, 6, 5))
    with pytest.raises(ValueError, match="resolve"):
        page_filters.previous_period(Filters())


def test_kpis_of_the_period_and_the_one_before(con) -> None:
    k = pages.kpis(con, F)
    assert k["current"] == {
        "n_docs": 8,
        "n_negative": 5,
        "n_positive": 2,
        "negative_share": 5 / 8,
        "net_sentiment": -3 / 8,
        "anger_share": 0.5,
        "n_social": 4,
    }
    assert k["previous"] == {
        "n_docs": 2,
        "n_negative": 1,
        "n_positive": 1,
        "negative_share": 0.5,
        "net_sentiment": 0.0,
        "anger_share": 0.0,
        "n_social": 1,
    }


@pytest.mark.parametrize(
    ("narrow", "expected"),
    [
        ({"sources": ("shop",)}, (3, 1, 1)),
        ({"products": ("P1",)}, (5, 5, 0)),
        ({"brands": ("B2",)}, (2, 0, 2)),
        ({"channels": ("ticket",)}, (1, 1, 0)),
    ],
)
def test_kpis_follow_every_filter(con, narrow: dict, expected: tuple) -> None:
    current = pages.kpis(con, Filters(start=F.start, end=F.end, **narrow))["current"]
    assert (current["n_docs"], current["n_negative"], current["n_positive"]) == expected


def test_kpis_of_an_empty_period_have_no_shares(con) -> None:
    k = pages.kpis(con, Filters(start=date(2024, 1, 1), end=date(2024, 1, 2)))
    assert k["current"]["n_docs"] == 0 and k["current"]["negative_share"] is None
    assert k["current"]["anger_share"] is None


def test_daily_trend_per_day_and_source_without_duplicates(con) -> None:
    trend = pages.daily_trend(con, F)
    rows = [
        (str(r.local_day.date()), r.source, r.n_docs, r.n_negative, r.n_positive)
        for r in trend.itertuples()
    ]
    assert rows == [
        ("2025-06-08", "shop", 1, 1, 0),
        ("2025-06-09", "shop", 1, 0, 1),
        ("2025-06-09", "weibo", 3, 3, 0),
        ("2025-06-10", "desk", 1, 1, 0),
        ("2025-06-10", "shop", 1, 0, 0),
        ("2025-06-10", "weibo", 1, 0, 1),
    ]
    assert list(trend["negative_share"]) == [1.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    brand = pages.daily_trend(con, Filters(start=F.start, end=F.end, brands=("B2",)))
    assert list(brand["n_docs"]) == [1, 1]


@pytest.mark.parametrize(
    ("tz", "hours"),
    [
        ("Asia/Shanghai", ["2025-06-09 10:00", "2025-06-09 11:00", "2025-06-09 12:00",
                           "2025-06-10 09:00"]),
        ("UTC", ["2025-06-09 02:00", "2025-06-09 03:00", "2025-06-09 04:00",
                 "2025-06-10 01:00"]),
    ],
)  # fmt: skip
def test_hourly_trend_of_social_posts_in_local_time(con, tz: str, hours: list[str]) -> None:
    hourly = pages.hourly_trend(con, F, days=2, tz=tz)
    assert [h.strftime("%Y-%m-%d %H:%M") for h in hourly["hour"]] == hours
    assert list(hourly["n_negative"]) == [1, 1, 1, 0] and set(hourly["source"]) == {"weibo"}
    assert pages.hourly_trend(con, Filters(start=F.start, end=F.end, channels=("review",))).empty


def test_spike_markers_are_source_episodes_in_range_or_the_filtered_products(con) -> None:
    assert list(alert_pages.spike_markers(con, F)["episode_id"]) == ["e1"]
    by_product = alert_pages.spike_markers(con, Filters(start=F.start, end=F.end, products=("P1",)))
    assert list(by_product["episode_id"]) == ["e4"]
    other = alert_pages.spike_markers(con, Filters(start=F.start, end=F.end, sources=("shop",)))
    assert other.empty


def test_alert_list_newest_first_with_labels_and_top_drivers(con) -> None:
    alerts = alert_pages.alert_list(con, F)
    assert list(alerts["episode_id"]) == ["e4", "e1", "e2"]
    assert list(alerts["key_label"]) == ["P1", "weibo", "物流慢"]
    assert alerts["drivers"].iloc[0] == "太慢、物流慢、物流"
    assert list(alert_pages.alert_list(con, F, kinds=("theme",))["episode_id"]) == ["e2"]
    shop = alert_pages.alert_list(con, Filters(start=F.start, end=F.end, sources=("shop",)))
    assert list(shop["episode_id"]) == ["e4", "e2"]


def test_alert_detail_parses_the_explanation(con) -> None:
    detail = alert_pages.alert_detail(con, "e2")
    assert detail["key_label"] == "物流慢" and detail["severity"] == "high"
    assert detail["explanation"]["phrases"][0]["value"] == "太慢"
    assert detail["explanation"]["verbatims"][0]["group_size"] == 3
    assert alert_pages.alert_detail(con, "nope") is None


@pytest.mark.parametrize(
    ("sort", "order"),
    [("volume", ["t2", "t1"]), ("growth", ["t2", "t1"]), ("negativity", ["t1", "t2"])],
)
def test_theme_ranking_counts_range_and_previous_period(con, sort: str, order: list) -> None:
    ranking = theme_pages.theme_ranking(con, F, sort=sort)
    assert list(ranking["theme_id"]) == order
    t1 = ranking.set_index("theme_id").loc["t1"]
    assert (t1.n_docs, t1.n_negative, t1.negativity, t1.n_prev, t1.growth) == (3, 3, 1.0, 1, 2.0)
    t2 = ranking.set_index("theme_id").loc["t2"]
    assert (t2.n_docs, t2.n_negative, t2.negativity, t2.n_prev, t2.growth) == (4, 2, 0.5, 1, 3.0)
    assert "t3" not in set(ranking["theme_id"])  # merged away
    with pytest.raises(ValueError, match="unknown sort"):
        theme_pages.theme_ranking(con, F, sort="random")


def test_theme_ranking_by_product(con) -> None:
    ranking = theme_pages.theme_ranking(con, Filters(start=F.start, end=F.end, products=("P2",)))
    assert list(zip(ranking["theme_id"], ranking["n_docs"], ranking["n_prev"], strict=True)) == [
        ("t2", 1, 0)
    ]


def test_theme_detail_days_aspects_one_verbatim_per_voice_and_events(con) -> None:
    detail = theme_pages.theme_detail(con, "t1", F)
    assert detail["theme"]["label"] == "物流慢" and "centroid" not in detail["theme"]
    daily = detail["daily"]
    assert [(str(d.date()), n, k) for d, n, k in daily.itertuples(index=False)] == [
        ("2025-06-08", 1, 1),
        ("2025-06-09", 2, 2),
    ]
    aspects = detail["aspects"]
    assert [tuple(r) for r in aspects.itertuples(index=False)] == [
        ("物流", 0, 0, 2),
        ("质量", 0, 1, 0),
    ]
    verbatims = detail["verbatims"]
    assert list(verbatims["id"]) == ["d01", "d05"]  # d11 says what d01 says
    assert list(verbatims["voice_size"]) == [3, 1]
    assert verbatims["text"].iloc[0] == "文本d01 物流太慢"  # markup removed
    assert sorted(detail["events"]["event"]) == ["born", "merged"]
    assert theme_pages.theme_detail(con, "t9", F) is None


def test_category_overview_with_growth(con) -> None:
    cats = pages.category_overview(con, F)
    assert [tuple(r) for r in cats.itertuples(index=False)] == [
        ("物流", 2, 2, 1.0, 1, 1.0),
        ("质量", 2, 1, 0.5, 0, 2.0),
        ("退款", 1, 1, 1.0, 0, 1.0),
    ]


def test_source_overview_freshness_and_open_health_alerts(con) -> None:
    overview = pages.source_overview(con, now=datetime(2025, 6, 10, 20, tzinfo=UTC))
    fresh = {s["source"]: s["freshness_hours"] for s in overview["sources"]}
    assert fresh == {"shop": None, "weibo": 12.0}
    assert [a["alert_id"] for a in overview["health"]] == ["h1"]


def test_low_confidence_by_day(con) -> None:
    low = pages.low_confidence_by_day(con, F)
    assert [(str(d.date()), n, k) for d, n, k, _ in low.itertuples(index=False)] == [
        ("2025-06-08", 1, 0),
        ("2025-06-09", 4, 2),
        ("2025-06-10", 3, 1),
    ]
    assert list(low["share"]) == [0.0, 0.5, 1 / 3]


def test_low_confidence_texts_newest_first_in_the_last_days(con) -> None:
    assert list(pages.low_confidence_texts(con, F)["id"]) == ["d07", "d06", "d02"]
    assert list(pages.low_confidence_texts(con, F, days=1)["id"]) == ["d07"]
    weibo = pages.low_confidence_texts(con, Filters(F.start, F.end, sources=("weibo",)))
    assert list(weibo["id"]) == ["d02"] and list(weibo["sentiment"]) == ["negative"]
    assert list(pages.low_confidence_texts(con, F, limit=2)["id"]) == ["d07", "d06"]


def test_stale_aggregates_are_not_read(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    con = open_warehouse(path)
    _seed(con)
    refresh_aggregates(con, "m1", "Asia/Shanghai")
    # A newer model scored after the aggregates were built: pages count with it, from the
    # base tables, until the next refresh.
    con.execute(
        "INSERT INTO doc_sentiment SELECT doc_id, 'm2', 'negative', 0.1, "
        "TIMESTAMPTZ '2025-06-12 00:00+08' FROM doc_sentiment WHERE model_version = 'm1'"
    )
    con.close()
    with read_only(path) as c:
        assert not aggregate_reader.page_reader(c).aggregated
        assert pages.kpis(c, F)["current"]["n_negative"] == 8
    con = open_warehouse(path)
    assert refresh_aggregates(con, "m2", "Asia/Shanghai").full
    con.close()
    with read_only(path) as c:
        assert aggregate_reader.page_reader(c).aggregated
        assert pages.kpis(c, F)["current"]["n_negative"] == 8


def test_pages_agree_on_aggregates_and_base_tables(snapshot: Path) -> None:
    calls = [
        (pages.daily_trend, (F,)),
        (pages.low_confidence_by_day, (F,)),
        (pages.category_overview, (F,)),
        (theme_pages.theme_ranking, (Filters(),)),
        (pages.hourly_trend, (Filters(products=("P1",)),)),
    ]
    with read_only(snapshot) as c:
        for fn, args in calls:
            fast = fn(c, *args)
            with aggregate_reader.from_base_tables():
                slow = fn(c, *args)
            pd.testing.assert_frame_equal(fast, slow, check_dtype=False)
