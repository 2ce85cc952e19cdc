"""The data behind the dashboard's 总览 Overview, 数据源 Sources and 质量 Quality pages (预警
Alerts is `warehouse.alert_pages`, 主题 Themes `warehouse.theme_pages`, 检索 Explore
`warehouse.search`, 查询 Query `warehouse.sql_console`; `warehouse.page_filters` has the
filters and `warehouse.aggregate_reader` decides between aggregates and base tables).

Every function takes a read-only connection to the published snapshot and returns plain
DataFrames or dicts. Counts leave exact duplicates out and use the current sentiment model
(`queries.current_model_version`). They come from the daily aggregates
(`warehouse.aggregates`) while those were computed with the warehouse's current models, else
straight from the base tables (the same rows, summed on the fly); `from_base_tables` forces
the latter, for comparisons and benchmarks.

Filters narrow by local day, source, channel, product, brand and the customer's segment,
province, city and owner wherever the data has them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from warehouse import aggregates, queries
from warehouse.aggregate_reader import page_reader
from warehouse.aggregates import CATEGORIES, DOCS, HOURLY_SOCIAL, SEARCH
from warehouse.page_filters import Filters, filter_sql, previous_period, resolve_with

#: A prediction is low-confidence when abs(score - 0.5) is below this.
LOW_CONFIDENCE_MARGIN = aggregates.LOW_CONFIDENCE_MARGIN


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _metrics(n: int, neg: int, pos: int, n_emotion: int, n_anger: int, n_social: int) -> dict:
    return {
        "n_docs": n,
        "n_negative": neg,
        "n_positive": pos,
        "negative_share": _share(neg, n),
        "net_sentiment": _share(pos - neg, n),
        "anger_share": _share(n_anger, n_emotion),
        "n_social": n_social,
    }


def kpis(con: duckdb.DuckDBPyConnection, f: Filters) -> dict[str, dict[str, Any]]:
    """Headline numbers of the period and of the one before it.

    Returns:
        ``{"current": M, "previous": M}``, M with n_docs, n_negative, n_positive,
        negative_share, net_sentiment ((positive - negative) / n), anger_share (angry share
        of social posts with an emotion) and n_social; shares are None when nothing counts.
    """
    r = page_reader(con)
    f = resolve_with(r, f)
    empty = _metrics(0, 0, 0, 0, 0, 0)
    if f.start is None:
        return {"current": empty, "previous": dict(empty)}
    prev = previous_period(f)
    where, params = filter_sql(replace(f, start=prev.start))
    rows = r.rows(
        "SELECT local_day >= $current, sum(n_docs)::BIGINT, sum(n_negative)::BIGINT, "
        "sum(n_positive)::BIGINT, sum(n_emotion)::BIGINT, sum(n_anger)::BIGINT, "
        f"sum(n_social)::BIGINT FROM {r.rel(DOCS)} WHERE {where} GROUP BY 1",
        current=f.start,
        **params,
    )
    found = {bool(row[0]): _metrics(*(int(v) for v in row[1:])) for row in rows}
    return {"current": found.get(True, empty), "previous": found.get(False, dict(empty))}


def daily_trend(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Per local day, source and channel: documents, negatives, positives, negative share."""
    r = page_reader(con)
    where, params = filter_sql(resolve_with(r, f))
    return r.df(
        "SELECT local_day, source, channel, sum(n_docs)::BIGINT AS n_docs, "
        "sum(n_negative)::BIGINT AS n_negative, sum(n_positive)::BIGINT AS n_positive, "
        "sum(n_negative) / sum(n_docs) AS negative_share "
        f"FROM {r.rel(DOCS)} WHERE {where} GROUP BY ALL HAVING sum(n_docs) > 0 "
        "ORDER BY local_day, source",
        **params,
    )


def hourly_trend(
    con: duckdb.DuckDBPyConnection, f: Filters, days: int = 7, tz: str = "Asia/Shanghai"
) -> pd.DataFrame:
    """Social posts per local hour (in `tz`) and source over the last `days` days of the
    range: hour (naive local timestamp), source, n_docs, n_negative."""
    r = page_reader(con)
    f = resolve_with(r, f)
    columns = ["hour", "source", "n_docs", "n_negative"]
    if f.start is None or (f.channels and "social" not in f.channels):
        return pd.DataFrame(columns=columns)
    first = max(f.start, f.end - timedelta(days=max(days, 1) - 1))
    if r.timezone != tz:
        r = replace(r, aggregated=False)
    # local_day is the settings' day; a day either side covers any timezone's hours.
    where, params = filter_sql(
        replace(f, start=first - timedelta(days=1), end=f.end + timedelta(1))
    )
    return r.df(
        "SELECT hour, source, sum(n_docs)::BIGINT AS n_docs, "
        f"sum(n_negative)::BIGINT AS n_negative FROM {r.rel(HOURLY_SOCIAL)} "
        f"WHERE {where} AND hour >= $h0 AND hour < $h1 GROUP BY ALL ORDER BY hour, source",
        tz=tz,
        h0=datetime.combine(first, datetime.min.time()),
        h1=datetime.combine(f.end + timedelta(days=1), datetime.min.time()),
        **params,
    )


def category_overview(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Per curated category: documents and negatives in the range, negative share,
    documents in the period before and growth ((n - n_prev) / max(n_prev, 1))."""
    r = page_reader(con)
    f = resolve_with(r, f)
    columns = ["category", "n_docs", "n_negative", "negative_share", "n_prev", "growth"]
    if f.start is None:
        return pd.DataFrame(columns=columns)
    where, params = filter_sql(replace(f, start=previous_period(f).start))
    return r.df(
        "WITH c AS (SELECT category, "
        " coalesce(sum(n_docs) FILTER (WHERE local_day >= $current), 0)::BIGINT AS n_docs, "
        " coalesce(sum(n_negative) FILTER (WHERE local_day >= $current), 0)::BIGINT AS n_negative,"
        " coalesce(sum(n_docs) FILTER (WHERE local_day < $current), 0)::BIGINT AS n_prev "
        f" FROM {r.rel(CATEGORIES)} WHERE {where} GROUP BY category) "
        "SELECT category, n_docs, n_negative, "
        " CASE WHEN n_docs > 0 THEN n_negative / n_docs END AS negative_share, n_prev, "
        " (n_docs - n_prev) / greatest(n_prev, 1) AS growth FROM c "
        "ORDER BY n_docs DESC, category",
        current=f.start,
        **params,
    )


def source_overview(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> dict:
    """Per source its latest run, state and open health alerts (`queries.source_status`)
    plus ``freshness_hours`` (hours since its last successful run, None if never), and the
    open source-health alerts."""
    now = now or datetime.now(UTC)
    sources = queries.source_status(con)
    for s in sources:
        last = s.get("last_success_at")
        s["freshness_hours"] = (
            (now - datetime.fromisoformat(last)).total_seconds() / 3600 if last else None
        )
    return {"sources": sources, "health": queries.source_health_alerts(con)}


#: A source's recent link rate is compared with the weeks before it.
LINK_RECENT_DAYS = 7
LINK_BEFORE_DAYS = 28
#: Fewest keyed documents in a window for its link rate to be judged.
LINK_MIN_KEYED = 20
#: A recent link rate below this fraction of the earlier one is a drop.
LINK_DROP_RATIO = 0.5


def source_linking(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per source: documents, those with a customer key (`raw_documents.customer_key`),
    those linked to a customer (`doc_customers`, by key or platform uid), their shares, the
    link rate of keyed documents (linked by key / keyed) over the source's last
    `LINK_RECENT_DAYS` days and the `LINK_BEFORE_DAYS` before, and ``warning``: ``none``
    when a source with keys links none of them, ``dropped`` when its recent link rate fell
    below `LINK_DROP_RATIO` of the earlier one (each judged on ≥ `LINK_MIN_KEYED` keyed
    documents), else None. Linking that silently broke shows here."""
    frame = con.execute(
        "WITH last AS (SELECT source, max(local_day) AS last_day FROM raw_documents "
        " GROUP BY source), "
        "d AS (SELECT r.source, r.customer_key IS NOT NULL AS keyed, dc.doc_id IS NOT NULL "
        " AS linked, r.customer_key IS NOT NULL AND dc.via = 'key' AS by_key, "
        " r.local_day > l.last_day - $recent AS recent, "
        " r.local_day <= l.last_day - $recent AND r.local_day > l.last_day - $recent - $before "
        " AS before FROM raw_documents r JOIN last l USING (source) "
        " LEFT JOIN doc_customers dc ON dc.doc_id = r.id) "
        "SELECT source, count(*) AS n_docs, count(*) FILTER (keyed) AS n_keyed, "
        " count(*) FILTER (linked) AS n_linked, "
        " count(*) FILTER (keyed AND recent) AS recent_keyed, "
        " count(*) FILTER (by_key AND recent) AS recent_linked, "
        " count(*) FILTER (keyed AND before) AS before_keyed, "
        " count(*) FILTER (by_key AND before) AS before_linked "
        "FROM d GROUP BY source ORDER BY source",
        {"recent": LINK_RECENT_DAYS, "before": LINK_BEFORE_DAYS},
    ).df()
    frame["keyed_share"] = frame["n_keyed"] / frame["n_docs"]
    frame["linked_share"] = frame["n_linked"] / frame["n_docs"]
    recent = frame["recent_linked"] / frame["recent_keyed"].where(frame["recent_keyed"] > 0)
    before = frame["before_linked"] / frame["before_keyed"].where(frame["before_keyed"] > 0)
    frame["recent_rate"], frame["before_rate"] = recent, before
    judged = frame["recent_keyed"] >= LINK_MIN_KEYED
    none = (frame["n_keyed"] >= LINK_MIN_KEYED) & (frame["n_linked"] == 0)
    dropped = (
        judged & (frame["before_keyed"] >= LINK_MIN_KEYED) & (recent < LINK_DROP_RATIO * before)
    )
    frame["warning"] = None
    frame.loc[dropped, "warning"] = "dropped"
    frame.loc[none | (judged & (frame["recent_linked"] == 0) & (before > 0)), "warning"] = "none"
    return frame


def low_confidence_by_day(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Per local day: documents, low-confidence predictions (abs(score - 0.5) <
    LOW_CONFIDENCE_MARGIN) and their share."""
    r = page_reader(con)
    where, params = filter_sql(resolve_with(r, f))
    return r.df(
        "SELECT local_day, sum(n_docs)::BIGINT AS n_docs, "
        "sum(n_low_confidence)::BIGINT AS n_low_confidence, "
        "sum(n_low_confidence) / sum(n_docs) AS share "
        f"FROM {r.rel(DOCS)} WHERE {where} GROUP BY local_day HAVING sum(n_docs) > 0 "
        "ORDER BY local_day",
        **params,
    )


def low_confidence_texts(
    con: duckdb.DuckDBPyConnection, f: Filters, days: int = 7, limit: int = 50
) -> pd.DataFrame:
    """The newest low-confidence predictions of the last `days` days of the range: the
    texts most worth a human look (id, created_at, source, text, sentiment, score)."""
    r = page_reader(con)
    f = resolve_with(r, f)
    if f.start is None:
        return pd.DataFrame(columns=["id", "created_at", "source", "text", "sentiment", "score"])
    first = max(f.start, f.end - timedelta(days=max(days, 1) - 1))
    where, params = filter_sql(replace(f, start=first))
    return r.df(
        "SELECT doc_id AS id, created_at, source, text, sentiment, score "
        f"FROM {r.rel(SEARCH)} WHERE {where} AND abs(score - 0.5) < $margin "
        "ORDER BY created_at DESC, doc_id LIMIT $limit",
        limit=limit,
        **params,
    )
