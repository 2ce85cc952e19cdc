"""The pages' daily aggregates stay equal to a recomputation from the base tables through
incremental runs: new and edited documents, re-scoring, a theme merge, a re-tag, new
emotion, a customer's new segment, a new link, and a new sentiment model."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from nlp.aspects import AspectSentiment
from nlp.taxonomy import CategoryMatch
from tests.seeding import (
    save_aspects,
    save_categories,
    save_doc_texts,
    save_emotions,
    save_sentiment,
    save_tokens,
)
from voc.records import make_document
from warehouse import loaders
from warehouse.aggregates import AGGREGATES, refresh_aggregates
from warehouse.db import open_warehouse

TZ = timezone(timedelta(hours=8))
NEG_WORDS = ("太慢", "破损", "退款")

# Recomputed here independently of warehouse.aggregates, straight from the definitions.
EXPECTED = {
    "agg_daily_docs": (
        "SELECT r.local_day, r.source, r.channel, r.product, r.brand, dc.segment, dc.province, "
        " dc.city, dc.owner, "
        " count(*) AS n_docs, "
        " count(*) FILTER (WHERE s.label = 'negative') AS n_negative, "
        " count(*) FILTER (WHERE s.label = 'neutral') AS n_neutral, "
        " count(*) FILTER (WHERE s.label = 'positive') AS n_positive, "
        " count(*) FILTER (WHERE s.score > 0.35 AND s.score < 0.65) AS n_low_confidence, "
        " count(e.label) AS n_emotion, count(*) FILTER (WHERE e.label = 'anger') AS n_anger, "
        " count(*) FILTER (WHERE r.channel = 'social') AS n_social "
        "FROM raw_documents r JOIN doc_texts t ON t.doc_id = r.id AND t.duplicate_of IS NULL "
        "JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = $model "
        "LEFT JOIN doc_emotion e ON e.doc_id = r.id AND e.model_version = 'emo1' "
        "LEFT JOIN doc_customers dc ON dc.doc_id = r.id GROUP BY ALL"
    ),
    "agg_daily_themes": (
        "SELECT r.local_day, d.theme_id, r.source, r.channel, r.product, r.brand, dc.segment, "
        " dc.province, dc.city, dc.owner, count(*) AS n_docs, "
        " count(*) FILTER (WHERE s.label = 'negative') AS n_negative "
        "FROM doc_themes d JOIN raw_documents r ON r.id = d.doc_id "
        "JOIN doc_texts t ON t.doc_id = r.id AND t.duplicate_of IS NULL "
        "JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = $model "
        "LEFT JOIN doc_customers dc ON dc.doc_id = r.id GROUP BY ALL"
    ),
    "agg_daily_categories": (
        "SELECT r.local_day, c.category, r.source, r.channel, r.product, r.brand, dc.segment, "
        " dc.province, dc.city, dc.owner, count(*) AS n_docs, "
        " count(*) FILTER (WHERE s.label = 'negative') AS n_negative "
        "FROM doc_categories c JOIN raw_documents r ON r.id = c.doc_id "
        "JOIN doc_texts t ON t.doc_id = r.id AND t.duplicate_of IS NULL "
        "JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = $model "
        "LEFT JOIN doc_customers dc ON dc.doc_id = r.id GROUP BY ALL"
    ),
    "agg_daily_theme_aspects": (
        "SELECT r.local_day, d.theme_id, a.aspect, r.source, r.channel, r.product, r.brand, "
        " dc.segment, dc.province, dc.city, dc.owner, "
        " count(*) FILTER (WHERE a.polarity = 'positive') AS n_positive, "
        " count(*) FILTER (WHERE a.polarity = 'neutral') AS n_neutral, "
        " count(*) FILTER (WHERE a.polarity = 'negative') AS n_negative "
        "FROM doc_aspects a JOIN doc_themes d ON d.doc_id = a.doc_id "
        "JOIN raw_documents r ON r.id = a.doc_id "
        "JOIN doc_texts t ON t.doc_id = r.id AND t.duplicate_of IS NULL "
        "JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = $model "
        "LEFT JOIN doc_customers dc ON dc.doc_id = r.id "
        "WHERE a.model_version = 'asp1' GROUP BY ALL"
    ),
    "agg_hourly_social": (
        "SELECT r.local_day, date_trunc('hour', timezone('Asia/Shanghai', r.created_at)) AS hour, "
        " r.source, r.channel, r.product, r.brand, dc.segment, dc.province, dc.city, dc.owner, "
        " count(*) AS n_docs, "
        " count(*) FILTER (WHERE s.label = 'negative') AS n_negative "
        "FROM raw_documents r JOIN doc_texts t ON t.doc_id = r.id AND t.duplicate_of IS NULL "
        "JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = $model "
        "LEFT JOIN doc_customers dc ON dc.doc_id = r.id "
        "WHERE r.channel = 'social' GROUP BY ALL"
    ),
    # One row per distinct document, scored or not, with what Explore shows.
    "agg_search_docs": (
        "SELECT r.local_day, r.id AS doc_id, r.created_at, r.source, r.channel, r.product, "
        " r.brand, t.text_norm AS text, s.label AS sentiment, s.score, r.url, dc.customer_id, "
        " dc.segment, dc.province, dc.city, dc.acquisition, dc.owner, 1 AS n_docs "
        "FROM raw_documents r JOIN doc_texts t ON t.doc_id = r.id AND t.duplicate_of IS NULL "
        "LEFT JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = $model "
        "LEFT JOIN doc_customers dc ON dc.doc_id = r.id"
    ),
}


def _frame(con, sql: str, params: dict | None = None) -> pd.DataFrame:
    frame = con.execute(sql, params or {}).df()
    frame = frame.sort_values(list(frame.columns[:-1])).reset_index(drop=True)
    return frame.astype({c: "int64" for c in frame.columns if c.startswith("n_")})


def _stored(con, agg) -> pd.DataFrame:
    return _frame(con, f"SELECT {', '.join(agg.columns)} FROM {agg.table}")


def _assert_exact(con, model: str) -> None:
    for agg in AGGREGATES:
        stored = _stored(con, agg)
        expected = _frame(con, EXPECTED[agg.table], {"model": model})
        assert len(expected) > 0, agg.table
        pd.testing.assert_frame_equal(stored, expected, check_dtype=False, obj=agg.table)


def _doc(k: int, day: int, text: str | None = None, channel: str = "social"):
    negative = k % 3 == 0
    return make_document(
        source="weibo" if channel == "social" else "shop",
        channel=channel,
        external_id=str(k),
        text=text or f"第{k}条，物流{NEG_WORDS[k % 3] if negative else '很快'}",
        created_at=datetime(2025, 6, day, 8 + k % 12, tzinfo=TZ),
        product=f"P{k % 3}",
        brand="B1" if k % 2 else None,
    )


def _enrich(con, docs, model: str = "m1") -> None:
    """What the flow's stages write for `docs`: texts, tokens, sentiment, emotion, themes,
    categories, aspects."""
    save_doc_texts(con, [(d.id, d.text, d.content_hash) for d in docs])
    save_tokens(con, [(d.id, ["物流"]) for d in docs])
    distinct = {
        r[0]
        for r in con.execute("SELECT doc_id FROM doc_texts WHERE duplicate_of IS NULL").fetchall()
    }
    scored = [d for d in docs if d.id in distinct]
    save_sentiment(
        con,
        [
            (d.id, *(("negative", 0.1) if "物流很快" not in d.text else ("positive", 0.6)))
            for d in scored
        ],
        model,
    )
    save_emotions(
        con,
        [
            (d.id, "anger" if "太慢" in d.text else "joy", 0.7, 0.5)
            for d in scored
            if d.channel == "social"
        ],
        "emo1",
    )
    for d in scored:
        theme = "t1" if "太慢" in d.text else "t2"
        con.execute("INSERT OR REPLACE INTO doc_themes VALUES (?, ?, 'tr', 0.5)", [d.id, theme])
    logistics = CategoryMatch("物流", "keyword", "k", 1.0)
    save_categories(
        con,
        [(d.id, [logistics] if "太慢" in d.text or "破损" in d.text else []) for d in scored],
        "x1",
    )
    opinions = {d.id: "positive" if "物流很快" in d.text else "negative" for d in scored}
    save_aspects(
        con,
        [(i, [AspectSentiment("物流", p, "c", 0.5, 0.9)]) for i, p in opinions.items()],
        "asp1",
    )


def _link(con, docs) -> None:
    """Link `docs` to customers of two tiers (what warehouse.customers writes)."""
    con.executemany(
        "INSERT OR REPLACE INTO doc_customers VALUES (?, ?, 'key', ?, ?, ?, '广告', ?)",
        [
            (
                d.id,
                f"c{i % 5}",
                "高价值" if i % 5 == 0 else "一般",
                "浙江",
                f"杭州{i % 2}",
                "王经理",
            )
            for i, d in enumerate(docs)
        ],
    )


@pytest.fixture()
def con(tmp_path: Path, new_warehouse):
    c = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    docs = [_doc(k, 1 + k % 6, channel="social" if k % 4 else "review") for k in range(36)]
    loaders.upsert_documents(c, docs, "run1")
    _enrich(c, docs)
    _link(c, docs[::2])
    yield c
    c.close()


def test_first_refresh_builds_everything_and_a_second_changes_nothing(con) -> None:
    first = refresh_aggregates(con, "m1", "Asia/Shanghai")
    assert first.full and first.n_days == 6
    _assert_exact(con, "m1")
    before = {a.table: _stored(con, a) for a in AGGREGATES}
    again = refresh_aggregates(con, "m1", "Asia/Shanghai")
    assert (again.full, again.n_days) == (False, 0)
    for a in AGGREGATES:
        pd.testing.assert_frame_equal(_stored(con, a), before[a.table])


def test_incremental_runs_touch_only_changed_days_and_stay_exact(con) -> None:
    refresh_aggregates(con, "m1", "Asia/Shanghai")
    # Run 2: new documents on a new day, one an exact duplicate of an older text.
    new = [_doc(k, 8) for k in range(100, 106)]
    new.append(_doc(106, 8, text=_doc(3, 4).text))
    loaders.upsert_documents(con, new, "run2")
    _enrich(con, new)
    result = refresh_aggregates(con, "m1", "Asia/Shanghai")
    assert (result.full, result.n_days) == (False, 1)
    _assert_exact(con, "m1")
    assert (
        con.execute("SELECT count(*) FROM doc_texts WHERE duplicate_of IS NOT NULL").fetchone()[0]
        == 1
    )

    # Run 3, each change on days no other touches: an edited text (day 2), documents
    # re-scored (day 3), t1 merged into t2 (t1 lived on days 1, 2, 4 and 8), a re-tag
    # (day 5), a new emotion (day 6).
    edited = _doc(1, 2, text="第1条，物流太慢")
    loaders.upsert_documents(con, [edited], "run3")
    _enrich(con, [edited])
    day3 = [r[0] for r in con.execute(
        "SELECT id FROM raw_documents WHERE local_day = DATE '2025-06-03'").fetchall()]  # fmt: skip
    save_sentiment(con, [(d, "neutral", 0.5) for d in day3], "m1")
    con.execute("UPDATE doc_themes SET theme_id = 't2' WHERE theme_id = 't1'")
    day5 = con.execute(
        "SELECT id FROM raw_documents WHERE local_day = DATE '2025-06-05' LIMIT 1"
    ).fetchone()[0]
    save_categories(con, [(day5, [CategoryMatch("价格", "keyword", "k", 1.0)])], "x2")
    day6 = con.execute(
        "SELECT id FROM raw_documents WHERE local_day = DATE '2025-06-06' "
        "AND channel = 'social' LIMIT 1"
    ).fetchone()[0]
    save_emotions(con, [(day6, "anger", 0.9, 0.9)], "emo1")
    result = refresh_aggregates(con, "m1", "Asia/Shanghai")
    assert (result.full, result.n_days) == (False, 7)
    _assert_exact(con, "m1")

    # Run 4: a customer moves to another tier (one day's link rewritten), and a document of
    # another day is newly linked: exactly those two days are recomputed.
    day1 = con.execute(
        "SELECT doc_id FROM doc_customers JOIN raw_documents r ON r.id = doc_id "
        "WHERE r.local_day = DATE '2025-06-01' LIMIT 1"
    ).fetchone()[0]
    con.execute("UPDATE doc_customers SET segment = '休眠' WHERE doc_id = ?", [day1])
    unlinked = con.execute(
        "SELECT id FROM raw_documents WHERE local_day = DATE '2025-06-04' "
        "AND id NOT IN (SELECT doc_id FROM doc_customers) LIMIT 1"
    ).fetchone()[0]
    con.execute(
        "INSERT INTO doc_customers VALUES (?, 'c9', 'key', '高价值', '广东', '深圳', NULL, NULL)",
        [unlinked],
    )
    result = refresh_aggregates(con, "m1", "Asia/Shanghai")
    assert (result.full, result.n_days) == (False, 2)
    _assert_exact(con, "m1")
    assert (
        con.execute("SELECT sum(n_docs) FROM agg_daily_docs WHERE segment = '休眠'").fetchone()[0]
        == 1
    )
    assert (
        con.execute(
            "SELECT sum(n_docs) FROM agg_daily_categories WHERE category = '价格'"
        ).fetchone()[0]
        == 1
    )


def test_a_new_sentiment_model_rebuilds_everything(con) -> None:
    refresh_aggregates(con, "m1", "Asia/Shanghai")
    ids = [r[0] for r in con.execute("SELECT doc_id FROM doc_sentiment").fetchall()]
    save_sentiment(con, [(d, "positive", 0.9) for d in ids[::2]], "m2")
    save_sentiment(con, [(d, "negative", 0.4) for d in ids[1::2]], "m2")
    result = refresh_aggregates(con, "m2", "Asia/Shanghai")
    assert result.full
    _assert_exact(con, "m2")
    assert con.execute("SELECT sum(n_low_confidence) FROM agg_daily_docs").fetchone()[0] == len(
        ids[1::2]
    )


def test_a_failed_refresh_leaves_the_previous_aggregates(con, monkeypatch) -> None:
    refresh_aggregates(con, "m1", "Asia/Shanghai")
    before = _frame(con, "SELECT * FROM agg_daily_docs")
    new = [_doc(200, 9)]
    loaders.upsert_documents(con, new, "run2")
    _enrich(con, new)
    import warehouse.aggregates as module

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "_insert", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        refresh_aggregates(con, "m1", "Asia/Shanghai")
    pd.testing.assert_frame_equal(_frame(con, "SELECT * FROM agg_daily_docs"), before)
    monkeypatch.undo()
    assert refresh_aggregates(con, "m1", "Asia/Shanghai").n_days == 1
    _assert_exact(con, "m1")
