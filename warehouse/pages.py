"""The data behind every dashboard page: 总览 Overview, 预警 Alerts, 主题 Themes, 数据源 Sources
and 质量 Quality (检索 Explore is `warehouse.search`, 查询 Query `warehouse.sql_console`).

Every function takes a read-only connection to the published snapshot and returns plain
DataFrames or dicts. Counts leave exact duplicates out and use the current sentiment model
(`queries.current_model_version`). They come from the daily aggregates
(`warehouse.aggregates`) while those were computed with the warehouse's current models, else
straight from the base tables (the same rows, summed on the fly); `from_base_tables` forces
the latter, for comparisons and benchmarks.

Filters narrow by local day, source, channel, product and brand wherever the data has them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from warehouse import aggregates, queries
from warehouse.aggregates import (
    CATEGORIES,
    DOCS,
    HOURLY_SOCIAL,
    SEARCH,
    THEME_ASPECTS,
    THEMES,
    Aggregate,
    aggregate_state,
    base_row_counts,
    bind,
    current_aspect_model,
)
from warehouse.emotion import latest_emotion_model_version
from warehouse.search import SearchFilters

#: A prediction is low-confidence when abs(score - 0.5) is below this.
LOW_CONFIDENCE_MARGIN = aggregates.LOW_CONFIDENCE_MARGIN
#: Orders `theme_ranking` offers.
THEME_SORTS = {
    "volume": "n_docs DESC, theme_id",
    "growth": "growth DESC, n_docs DESC, theme_id",
    "negativity": "negativity DESC NULLS LAST, n_docs DESC, theme_id",
}

# The customer's own words for display: markup removed (microblogs embed <a> and <br>).
_VERBATIM = (
    "trim(regexp_replace(regexp_replace(r.text, '<br\\s*/?>', ' ', 'gi'), '<[^<>]*>', '', 'g'))"
    " AS text"
)

_BASE_ONLY: ContextVar[bool] = ContextVar("pages_base_only", default=False)


@dataclass(frozen=True)
class Filters:
    """What the pages show; empty tuples mean no restriction.

    Attributes:
        start: First local day (inclusive); None = from the first day with data.
        end: Last local day (inclusive); None = up to the last day with data.
        sources: Source names.
        channels: review | social | ticket ...
        products: `raw_documents.product` values.
        brands: `raw_documents.brand` values.
    """

    start: date | None = None
    end: date | None = None
    sources: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()

    def search(self, sentiment: str | None = None, category: str | None = None) -> SearchFilters:
        """The same view as Explore's search filters, narrowed by `sentiment`/`category`."""
        return SearchFilters(
            since=self.start,
            until=self.end,
            sources=self.sources,
            channels=self.channels,
            sentiment=sentiment,
            category=category,
            products=self.products,
            brands=self.brands,
        )


@contextmanager
def from_base_tables() -> Iterator[None]:
    """Within the block, pages count from the base tables, never the aggregates."""
    token = _BASE_ONLY.set(True)
    try:
        yield
    finally:
        _BASE_ONLY.reset(token)


@dataclass(frozen=True)
class _Reader:
    con: duckdb.DuckDBPyConnection
    params: dict[str, Any]
    aggregated: bool
    timezone: str | None  # of the hourly aggregate

    def rel(self, agg: Aggregate) -> str:
        return agg.table if self.aggregated else f"({agg.rows_sql})"

    def df(self, sql: str, **extra: Any) -> pd.DataFrame:
        return self.con.execute(sql, bind(sql, {**self.params, **extra})).df()

    def rows(self, sql: str, **extra: Any) -> list[tuple]:
        return self.con.execute(sql, bind(sql, {**self.params, **extra})).fetchall()


def _reader(con: duckdb.DuckDBPyConnection) -> _Reader:
    key = _snapshot_key(con)
    found = _READERS.get(key) if key else None
    if found is None:
        found = _check_aggregates(con)
        if key:
            if len(_READERS) >= 8:
                _READERS.clear()
            _READERS[key] = found
    params, fresh, timezone = found
    return _Reader(con, dict(params), fresh and not _BASE_ONLY.get(), timezone)


# Per read-only file (path, inode, size, mtime, and its write-ahead log's): the models and
# whether the aggregates hold, which cost a few scans of the large tables to find out. A
# published snapshot never changes in place (a new one replaces the file).
_READERS: dict[tuple, tuple[dict[str, Any], bool, str | None]] = {}


def _snapshot_key(con: duckdb.DuckDBPyConnection) -> tuple | None:
    path, readonly = con.execute(
        "SELECT path, readonly FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    if not (path and readonly):
        return None
    stats = []
    for p in (path, path + ".wal"):
        try:
            st = os.stat(p)
        except OSError:
            stats.append(None)
            continue
        stats.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return (path, *stats)


def _check_aggregates(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, Any], bool, str | None]:
    """The current models, and whether the aggregates were computed with them from the
    rows the base tables hold now."""
    params = {
        "model": queries.current_model_version(con),
        "emotion_model": latest_emotion_model_version(con),
        "aspect_model": current_aspect_model(con),
        "margin": LOW_CONFIDENCE_MARGIN,
    }
    state = aggregate_state(con)
    fresh = (
        state is not None
        and (
            state.sentiment_model,
            state.emotion_model,
            state.aspect_model,
            state.low_confidence_margin,
        )
        == (params["model"], params["emotion_model"], params["aspect_model"], LOW_CONFIDENCE_MARGIN)
        and state.base_rows == base_row_counts(con)
    )
    return params, fresh, state.timezone if state else None


def _where(f: Filters, dates: bool = True, alias: str = "") -> tuple[str, dict[str, Any]]:
    """WHERE clause (fixed strings; values bound) over a relation with the dimensions."""
    clauses, params = ["true"], {}
    if dates:
        clauses.append(f"{alias}local_day BETWEEN $start AND $end")
        params.update(start=f.start, end=f.end)
    for column, values in (
        ("source", f.sources),
        ("channel", f.channels),
        ("product", f.products),
        ("brand", f.brands),
    ):
        if values:
            clauses.append(f"list_contains(${column}s::VARCHAR[], {alias}{column})")
            params[f"{column}s"] = list(values)
    return " AND ".join(clauses), params


def _bounds(r: _Reader) -> tuple[date | None, date | None]:
    first, last = r.rows(f"SELECT min(local_day), max(local_day) FROM {r.rel(DOCS)}")[0]
    return first, last


def filter_options(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What the filter bar offers: the day range, sources (with channel and documents),
    channels, and the 300 largest products and brands."""
    r = _reader(con)
    docs = r.rel(DOCS)
    first, last = _bounds(r)
    sources = [
        {"source": s, "channel": c, "n_docs": int(n)}
        for s, c, n in r.rows(
            f"SELECT source, channel, sum(n_docs) FROM {docs} GROUP BY ALL ORDER BY source, channel"
        )
    ]
    top = {}
    for column in ("product", "brand"):  # fixed names
        top[column] = [
            v
            for (v,) in r.rows(
                f"SELECT {column} FROM {docs} WHERE {column} IS NOT NULL GROUP BY {column} "
                f"ORDER BY sum(n_docs) DESC, {column} LIMIT 300"
            )
        ]
    return {
        "first_day": first,
        "last_day": last,
        "sources": sources,
        "channels": sorted({s["channel"] for s in sources}),
        "products": top["product"],
        "brands": top["brand"],
    }


def resolve(con: duckdb.DuckDBPyConnection, f: Filters) -> Filters:
    """`f` with a missing start or end taken from the data (unchanged when there is none)."""
    if f.start is not None and f.end is not None:
        return f
    return _resolve(_reader(con), f)


def _resolve(r: _Reader, f: Filters) -> Filters:
    if f.start is not None and f.end is not None:
        return f
    first, last = _bounds(r)
    return replace(f, start=f.start or first, end=f.end or last)


def previous_period(f: Filters) -> Filters:
    """The period of the same length immediately before `f` (same other filters).

    Raises:
        ValueError: `f` has no start or end (call `resolve` first).
    """
    if f.start is None or f.end is None:
        raise ValueError("previous_period needs a start and an end; resolve the filters first")
    days = (f.end - f.start).days + 1
    end = f.start - timedelta(days=1)
    return replace(f, start=end - timedelta(days=days - 1), end=end)


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
    r = _reader(con)
    f = _resolve(r, f)
    empty = _metrics(0, 0, 0, 0, 0, 0)
    if f.start is None:
        return {"current": empty, "previous": dict(empty)}
    prev = previous_period(f)
    where, params = _where(replace(f, start=prev.start))
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
    r = _reader(con)
    where, params = _where(_resolve(r, f))
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
    r = _reader(con)
    f = _resolve(r, f)
    columns = ["hour", "source", "n_docs", "n_negative"]
    if f.start is None or (f.channels and "social" not in f.channels):
        return pd.DataFrame(columns=columns)
    first = max(f.start, f.end - timedelta(days=max(days, 1) - 1))
    if r.timezone != tz:
        r = replace(r, aggregated=False)
    # local_day is the settings' day; a day either side covers any timezone's hours.
    where, params = _where(replace(f, start=first - timedelta(days=1), end=f.end + timedelta(1)))
    return r.df(
        "SELECT hour, source, sum(n_docs)::BIGINT AS n_docs, "
        f"sum(n_negative)::BIGINT AS n_negative FROM {r.rel(HOURLY_SOCIAL)} "
        f"WHERE {where} AND hour >= $h0 AND hour < $h1 GROUP BY ALL ORDER BY hour, source",
        tz=tz,
        h0=datetime.combine(first, datetime.min.time()),
        h1=datetime.combine(f.end + timedelta(days=1), datetime.min.time()),
        **params,
    )


def _episode_filter(r: _Reader, f: Filters) -> tuple[str, dict[str, Any]]:
    """Episodes overlapping the range; a source episode only when its source passes the
    source and channel filters, a product episode only when the product filter names it."""
    clauses = ["e.start_period < $after AND e.end_period >= $first"]
    params: dict[str, Any] = {
        "first": datetime.combine(f.start, datetime.min.time()),
        "after": datetime.combine(f.end + timedelta(days=1), datetime.min.time()),
    }
    if f.sources or f.channels:
        where, extra = _where(replace(f, products=(), brands=()), dates=False)
        wanted = [
            s
            for (s,) in r.rows(f"SELECT DISTINCT source FROM raw_documents WHERE {where}", **extra)
        ]
        clauses.append("(e.key_kind <> 'source' OR list_contains($wanted::VARCHAR[], e.key_value))")
        params["wanted"] = wanted
    if f.products:
        clauses.append(
            "(e.key_kind <> 'product' OR list_contains($products::VARCHAR[], e.key_value))"
        )
        params["products"] = list(f.products)
    return " AND ".join(clauses), params


def spike_markers(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Spike episodes the trend can mark: source episodes (product episodes when a product
    filter is set) overlapping the range."""
    r = _reader(con)
    f = _resolve(r, f)
    columns = (
        "episode_id, key_kind, key_value, granularity, metric, start_period, end_period, "
        "peak_period, severity, ratio"
    )
    if f.start is None:
        return pd.DataFrame(columns=[c.strip() for c in columns.split(",")])
    where, params = _episode_filter(r, f)
    kind = "product" if f.products else "source"
    return r.df(
        f"SELECT {columns} FROM spike_episodes e WHERE {where} AND e.key_kind = $kind "
        "ORDER BY start_period, episode_id",
        kind=kind,
        **params,
    )


def _drivers(explanation: dict, limit: int = 3) -> str:
    """The `limit` strongest drivers of any kind, as short Chinese text."""
    drivers = [
        d
        for kind in ("themes", "categories", "aspects", "phrases")
        for d in explanation.get(kind) or ()
    ]
    names: list[str] = []
    for d in sorted(drivers, key=lambda d: -float(d.get("z") or 0)):
        if d["value"] not in names:
            names.append(d["value"])
    return "、".join(names[:limit])


def alert_list(
    con: duckdb.DuckDBPyConnection, f: Filters, kinds: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Spike episodes overlapping the range, newest first, with their key's label (a
    theme's label) and their top three drivers. `kinds` keeps those key kinds (source,
    product, category, theme, aspect); source and product episodes follow those filters."""
    r = _reader(con)
    f = _resolve(r, f)
    out = [
        "episode_id", "key_kind", "key_value", "key_label", "granularity", "metric",
        "start_period", "end_period", "peak_period", "observed", "expected", "ratio",
        "p_value", "severity", "is_open", "drivers",
    ]  # fmt: skip
    if f.start is None:
        return pd.DataFrame(columns=out)
    where, params = _episode_filter(r, f)
    if kinds:
        where += " AND list_contains($kinds::VARCHAR[], e.key_kind)"
        params["kinds"] = list(kinds)
    frame = r.df(
        "SELECT e.*, CASE WHEN e.key_kind = 'theme' THEN coalesce(t.label, e.key_value) "
        "ELSE e.key_value END AS key_label FROM spike_episodes e "
        "LEFT JOIN tracked_themes t ON e.key_kind = 'theme' AND t.theme_id = e.key_value "
        f"WHERE {where} ORDER BY e.end_period DESC, e.start_period DESC, e.episode_id",
        **params,
    )
    frame["drivers"] = [_drivers(json.loads(x)) for x in frame["explanation"]]
    return frame[out]


def alert_detail(con: duckdb.DuckDBPyConnection, episode_id: str) -> dict[str, Any] | None:
    """One episode: every stored column, key_label, and ``explanation`` parsed (drivers by
    kind and verbatims, as `nlp.explain` wrote them); None when there is no such episode."""
    cursor = con.execute(
        "SELECT e.*, CASE WHEN e.key_kind = 'theme' THEN coalesce(t.label, e.key_value) "
        "ELSE e.key_value END AS key_label FROM spike_episodes e "
        "LEFT JOIN tracked_themes t ON e.key_kind = 'theme' AND t.theme_id = e.key_value "
        "WHERE e.episode_id = ?",
        [episode_id],
    )
    row = cursor.fetchone()
    if row is None:
        return None
    item = dict(zip([d[0] for d in cursor.description], row, strict=True))
    item["explanation"] = json.loads(item["explanation"])
    return item


def theme_ranking(con: duckdb.DuckDBPyConnection, f: Filters, sort: str = "volume") -> pd.DataFrame:
    """Live themes with documents in the range or the period before, ranked.

    Args:
        sort: ``volume`` (documents in range), ``growth`` ((n - n_prev) / max(n_prev, 1))
            or ``negativity`` (negative share in range).

    Raises:
        ValueError: an unknown sort.
    """
    if sort not in THEME_SORTS:
        raise ValueError(f"unknown sort {sort!r}; one of {', '.join(THEME_SORTS)}")
    r = _reader(con)
    f = _resolve(r, f)
    columns = [
        "theme_id", "label", "state", "key_phrases", "keywords", "n_docs", "n_negative",
        "negativity", "n_prev", "growth", "first_seen", "last_seen",
    ]  # fmt: skip
    if f.start is None:
        return pd.DataFrame(columns=columns)
    where, params = _where(replace(f, start=previous_period(f).start))
    return r.df(
        "WITH c AS (SELECT theme_id, "
        " coalesce(sum(n_docs) FILTER (WHERE local_day >= $current), 0)::BIGINT AS n_docs, "
        " coalesce(sum(n_negative) FILTER (WHERE local_day >= $current), 0)::BIGINT AS n_negative,"
        " coalesce(sum(n_docs) FILTER (WHERE local_day < $current), 0)::BIGINT AS n_prev "
        f" FROM {r.rel(THEMES)} WHERE {where} GROUP BY theme_id) "
        "SELECT t.theme_id, t.label, t.state, t.key_phrases, t.keywords, c.n_docs, c.n_negative, "
        " CASE WHEN c.n_docs > 0 THEN c.n_negative / c.n_docs END AS negativity, c.n_prev, "
        " (c.n_docs - c.n_prev) / greatest(c.n_prev, 1) AS growth, t.first_seen, t.last_seen "
        "FROM tracked_themes t JOIN c USING (theme_id) "
        "WHERE t.merged_into IS NULL AND (c.n_docs > 0 OR c.n_prev > 0) "
        f"ORDER BY {THEME_SORTS[sort]}",
        current=f.start,
        **params,
    )


def theme_detail(
    con: duckdb.DuckDBPyConnection, theme_id: str, f: Filters
) -> dict[str, Any] | None:
    """One theme over the range: its row (without the tracker's centroid), daily counts,
    aspect polarity of its documents, up to 20 verbatims (most negative first, one per
    near-duplicate voice) and its events; None when there is no such theme."""
    cursor = con.execute(
        "SELECT * EXCLUDE (centroid) FROM tracked_themes WHERE theme_id = ?", [theme_id]
    )
    row = cursor.fetchone()
    if row is None:
        return None
    theme = dict(zip([d[0] for d in cursor.description], row, strict=True))
    r = _reader(con)
    f = _resolve(r, f)
    if f.start is None:
        f = replace(f, start=date.min, end=date.max)
    where, params = _where(f)
    params["theme"] = theme_id
    daily = r.df(
        "SELECT local_day, sum(n_docs)::BIGINT AS n_docs, sum(n_negative)::BIGINT AS n_negative "
        f"FROM {r.rel(THEMES)} WHERE theme_id = $theme AND {where} GROUP BY local_day "
        "ORDER BY local_day",
        **params,
    )
    aspects = r.df(
        "SELECT aspect, sum(n_positive)::BIGINT AS n_positive, "
        "sum(n_neutral)::BIGINT AS n_neutral, sum(n_negative)::BIGINT AS n_negative "
        f"FROM {r.rel(THEME_ASPECTS)} WHERE theme_id = $theme AND {where} GROUP BY aspect "
        "ORDER BY sum(n_negative) DESC, sum(n_positive) + sum(n_neutral) + sum(n_negative) DESC, "
        "aspect",
        **params,
    )
    events = con.execute(
        "SELECT * FROM theme_events WHERE theme_id = ? OR other_theme_id = ? "
        "ORDER BY happened_at DESC, event",
        [theme_id, theme_id],
    ).df()
    return {
        "theme": theme,
        "daily": daily,
        "aspects": aspects,
        "verbatims": _theme_verbatims(r, f, theme_id),
        "events": events,
    }


def _theme_verbatims(r: _Reader, f: Filters, theme_id: str, limit: int = 20) -> pd.DataFrame:
    """The most negative documents of a theme in the range, one per voice."""
    where, params = _where(f, alias="r.")
    # Texts are read for the chosen rows only: the ranking reads ids, scores and voices.
    picked = (
        "SELECT r.id, r.created_at, s.label AS sentiment, s.score, "
        "coalesce(g.group_id, r.id) AS voice "
        "FROM doc_themes d JOIN raw_documents r ON r.id = d.doc_id "
        "JOIN doc_texts t ON t.doc_id = d.doc_id "
        "JOIN doc_sentiment s ON s.doc_id = d.doc_id AND s.model_version = $model "
        "LEFT JOIN doc_groups g ON g.doc_id = d.doc_id "
        f"WHERE d.theme_id = $theme AND t.duplicate_of IS NULL AND {where} "
        "QUALIFY row_number() OVER "
        " (PARTITION BY voice ORDER BY s.score, r.created_at DESC, r.id) = 1 "
        "ORDER BY s.score, r.created_at DESC, r.id LIMIT $limit"
    )
    return r.df(
        "WITH p AS (" + picked + "), "
        "sizes AS (SELECT group_id, count(*) AS size FROM doc_groups "
        " WHERE group_id IN (SELECT voice FROM p) GROUP BY group_id) "
        "SELECT p.id, p.created_at, r.source, r.channel, " + _VERBATIM + ", p.sentiment, "
        "p.score, r.url, coalesce(sizes.size, 1)::BIGINT AS voice_size FROM p "
        "JOIN raw_documents r ON r.id = p.id "
        "LEFT JOIN sizes ON sizes.group_id = p.voice ORDER BY p.score, p.created_at DESC, p.id",
        theme=theme_id,
        limit=limit,
        **params,
    )


def category_overview(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Per curated category: documents and negatives in the range, negative share,
    documents in the period before and growth ((n - n_prev) / max(n_prev, 1))."""
    r = _reader(con)
    f = _resolve(r, f)
    columns = ["category", "n_docs", "n_negative", "negative_share", "n_prev", "growth"]
    if f.start is None:
        return pd.DataFrame(columns=columns)
    where, params = _where(replace(f, start=previous_period(f).start))
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


def low_confidence_by_day(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Per local day: documents, low-confidence predictions (abs(score - 0.5) <
    LOW_CONFIDENCE_MARGIN) and their share."""
    r = _reader(con)
    where, params = _where(_resolve(r, f))
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
    r = _reader(con)
    f = _resolve(r, f)
    if f.start is None:
        return pd.DataFrame(columns=["id", "created_at", "source", "text", "sentiment", "score"])
    first = max(f.start, f.end - timedelta(days=max(days, 1) - 1))
    where, params = _where(replace(f, start=first))
    return r.df(
        "SELECT doc_id AS id, created_at, source, text, sentiment, score "
        f"FROM {r.rel(SEARCH)} WHERE {where} AND abs(score - 0.5) < $margin "
        "ORDER BY created_at DESC, doc_id LIMIT $limit",
        limit=limit,
        **params,
    )
