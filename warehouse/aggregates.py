"""Daily aggregates behind the dashboard's pages, kept exactly equal to the base tables.

Each aggregate is a GROUP BY over per-document rows (`Aggregate.rows_sql`);
`warehouse.aggregate_reader` reads the aggregate table, or the same rows straight from the
base tables when the aggregates were computed with other models than the warehouse's
current ones.

Every per-document relation carries the customer's segment attributes on the document's
day (`doc_customers`; NULL when not linked), and segment, province, city and owner are
dimensions of every aggregate, so their filters stay on the fast path. Measured at 5 M
documents with 30 % linked (1 M customers, 6 tiers, 31 provinces, 300 cities, 500 owners):
agg_daily_docs grows from 2.28 M to 3.18 M rows (segment and province alone: 3.11 M; the
groups of day × source × product × brand are already small), agg_daily_themes by 4 %.

A refresh recomputes only the days that changed since the last one: days whose fingerprint
(documents, their text hash, source, product, brand, time, duplicate mark, theme, customer
link and segment attributes) moved, and days of documents scored, tagged or read by a
model after the last refresh. A new sentiment, emotion or aspect model, a new timezone or
low-confidence margin rebuilds all.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from warehouse.db import transaction
from warehouse.emotion import latest_emotion_model_version

#: A prediction is low-confidence when abs(P(positive) - 0.5) is below this.
LOW_CONFIDENCE_MARGIN = 0.15

_DISTINCT_SCORED = (
    "FROM raw_documents r JOIN doc_texts t ON t.doc_id = r.id "
    "JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = $model "
    "LEFT JOIN doc_customers dc ON dc.doc_id = r.id "
)
#: The customer's segment attributes on the document's day: dimensions of every aggregate.
SEGMENT_DIMS = ("segment", "province", "city", "owner")
CUSTOMER_COLUMNS = ", ".join(f"dc.{d}" for d in SEGMENT_DIMS)


@dataclass(frozen=True)
class Aggregate:
    """One aggregate table: its dimensions, its additive measures and the per-document
    rows (named parameters ``$model``, ``$emotion_model``, ``$aspect_model``, ``$margin``,
    ``$tz``) it sums."""

    table: str
    dims: tuple[str, ...]
    measures: tuple[str, ...]
    rows_sql: str

    @property
    def columns(self) -> tuple[str, ...]:
        return self.dims + self.measures


DOCS = Aggregate(
    "agg_daily_docs",
    ("local_day", "source", "channel", "product", "brand", *SEGMENT_DIMS),
    (
        "n_docs",
        "n_negative",
        "n_neutral",
        "n_positive",
        "n_low_confidence",
        "n_emotion",
        "n_anger",
        "n_social",
    ),
    "SELECT r.local_day, r.source, r.channel, r.product, r.brand, "
    + CUSTOMER_COLUMNS
    + ", 1 AS n_docs, (s.label = 'negative')::INTEGER AS n_negative, "
    "(s.label = 'neutral')::INTEGER AS n_neutral, "
    "(s.label = 'positive')::INTEGER AS n_positive, "
    "(abs(s.score - 0.5) < $margin)::INTEGER AS n_low_confidence, "
    "(e.label IS NOT NULL)::INTEGER AS n_emotion, "
    "coalesce(e.label = 'anger', false)::INTEGER AS n_anger, "
    "(r.channel = 'social')::INTEGER AS n_social "
    + _DISTINCT_SCORED
    + "LEFT JOIN doc_emotion e ON e.doc_id = r.id AND e.model_version = $emotion_model "
    "WHERE t.duplicate_of IS NULL",
)
THEMES = Aggregate(
    "agg_daily_themes",
    ("local_day", "theme_id", "source", "channel", "product", "brand", *SEGMENT_DIMS),
    ("n_docs", "n_negative"),
    "SELECT r.local_day, d.theme_id, r.source, r.channel, r.product, r.brand, "
    + CUSTOMER_COLUMNS
    + ", 1 AS n_docs, "
    "(s.label = 'negative')::INTEGER AS n_negative "
    + _DISTINCT_SCORED
    + "JOIN doc_themes d ON d.doc_id = r.id WHERE t.duplicate_of IS NULL",
)
CATEGORIES = Aggregate(
    "agg_daily_categories",
    ("local_day", "category", "source", "channel", "product", "brand", *SEGMENT_DIMS),
    ("n_docs", "n_negative"),
    "SELECT r.local_day, c.category, r.source, r.channel, r.product, r.brand, "
    + CUSTOMER_COLUMNS
    + ", 1 AS n_docs, "
    "(s.label = 'negative')::INTEGER AS n_negative "
    + _DISTINCT_SCORED
    + "JOIN doc_categories c ON c.doc_id = r.id WHERE t.duplicate_of IS NULL",
)
THEME_ASPECTS = Aggregate(
    "agg_daily_theme_aspects",
    ("local_day", "theme_id", "aspect", "source", "channel", "product", "brand", *SEGMENT_DIMS),
    ("n_positive", "n_neutral", "n_negative"),
    "SELECT r.local_day, d.theme_id, a.aspect, r.source, r.channel, r.product, r.brand, "
    + CUSTOMER_COLUMNS
    + ", (a.polarity = 'positive')::INTEGER AS n_positive, "
    "(a.polarity = 'neutral')::INTEGER AS n_neutral, "
    "(a.polarity = 'negative')::INTEGER AS n_negative "
    + _DISTINCT_SCORED
    + "JOIN doc_themes d ON d.doc_id = r.id "
    "JOIN doc_aspects a ON a.doc_id = r.id AND a.model_version = $aspect_model "
    "WHERE t.duplicate_of IS NULL",
)
HOURLY_SOCIAL = Aggregate(
    "agg_hourly_social",
    ("local_day", "hour", "source", "channel", "product", "brand", *SEGMENT_DIMS),
    ("n_docs", "n_negative"),
    "SELECT r.local_day, date_trunc('hour', timezone($tz, r.created_at)) AS hour, r.source, "
    "r.channel, r.product, r.brand, "
    + CUSTOMER_COLUMNS
    + ", 1 AS n_docs, (s.label = 'negative')::INTEGER AS n_negative "
    + _DISTINCT_SCORED
    + "WHERE t.duplicate_of IS NULL AND r.channel = 'social'",
)
# Not a count: one row per distinct document, for Explore's search (warehouse.search).
SEARCH = Aggregate(
    "agg_search_docs",
    (
        "local_day",
        "doc_id",
        "created_at",
        "source",
        "channel",
        "product",
        "brand",
        "text",
        "sentiment",
        "score",
        "url",
        "customer_id",
        "segment",
        "province",
        "city",
        "acquisition",
        "owner",
    ),
    ("n_docs",),
    "SELECT r.local_day, r.id AS doc_id, r.created_at, r.source, r.channel, r.product, "
    "r.brand, t.text_norm AS text, s.label AS sentiment, s.score, r.url, dc.customer_id, "
    "dc.segment, dc.province, dc.city, dc.acquisition, dc.owner, 1 AS n_docs "
    "FROM raw_documents r JOIN doc_texts t ON t.doc_id = r.id "
    "LEFT JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = $model "
    "LEFT JOIN doc_customers dc ON dc.doc_id = r.id "
    "WHERE t.duplicate_of IS NULL",
)
AGGREGATES = (DOCS, THEMES, CATEGORIES, THEME_ASPECTS, HOURLY_SOCIAL, SEARCH)

# Per day: what the aggregates depend on apart from enrichments with a timestamp.
_FINGERPRINTS = (
    "SELECT r.local_day, count(*) AS n_rows, "
    " sum(hash(r.id, r.content_hash, r.source, r.channel, r.product, r.brand, r.created_at, r.url, "
    "  t.duplicate_of IS NULL, d.theme_id, dc.customer_id, dc.segment, dc.province, dc.city, "
    "  dc.acquisition, dc.owner)::HUGEINT) AS fingerprint "
    "FROM raw_documents r LEFT JOIN doc_texts t ON t.doc_id = r.id "
    "LEFT JOIN doc_themes d ON d.doc_id = r.id "
    "LEFT JOIN doc_customers dc ON dc.doc_id = r.id GROUP BY r.local_day"
)
# Days of documents whose enrichment was written after the watermark.
_ENRICHED_DAYS = (
    "SELECT DISTINCT r.local_day FROM raw_documents r WHERE r.id IN ("
    " SELECT doc_id FROM doc_sentiment WHERE model_version = $model AND scored_at >= $since"
    " UNION SELECT doc_id FROM doc_emotion"
    "  WHERE model_version = $emotion_model AND scored_at >= $since"
    " UNION SELECT doc_id FROM doc_categorisations WHERE tagged_at >= $since"
    " UNION SELECT doc_id FROM doc_aspects_scored"
    "  WHERE model_version = $aspect_model AND scored_at >= $since)"
)

#: Tables the aggregates read; their row counts are stored with the aggregates, so a
#: reader can tell cheaply that rows came or went since (DuckDB counts from metadata).
BASE_TABLES = (
    "raw_documents",
    "doc_texts",
    "doc_sentiment",
    "doc_emotion",
    "doc_themes",
    "doc_categories",
    "doc_aspects",
    "doc_customers",
)

_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


def bind(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The named parameters `sql` uses, out of `params` (DuckDB refuses unused ones)."""
    return {name: params[name] for name in set(_PARAM.findall(sql))}


def base_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows in each of `BASE_TABLES`."""
    sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in BASE_TABLES)
    return dict(zip(BASE_TABLES, con.execute(sql).fetchone(), strict=True))


def current_aspect_model(con: duckdb.DuckDBPyConnection) -> str | None:
    """The aspect model that read the most documents (the one `v_aspects` shows)."""
    row = con.execute(
        "SELECT model_version FROM doc_aspects_scored GROUP BY model_version "
        "ORDER BY count(*) DESC, model_version LIMIT 1"
    ).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class AggregateState:
    """What the stored aggregates were computed with (the `agg_state` row)."""

    sentiment_model: str | None
    emotion_model: str | None
    aspect_model: str | None
    timezone: str
    low_confidence_margin: float
    refreshed_at: datetime
    watermark: datetime
    base_rows: dict[str, int]
    n_days_refreshed: int
    full_rebuild: bool
    seconds: float


def aggregate_state(con: duckdb.DuckDBPyConnection) -> AggregateState | None:
    """The stored aggregates' state; None before the first refresh (or before migration
    0013)."""
    try:
        row = con.execute(
            "SELECT sentiment_model, emotion_model, aspect_model, timezone, "
            "low_confidence_margin, refreshed_at, watermark, base_rows, n_days_refreshed, "
            "full_rebuild, seconds FROM agg_state WHERE id = 1"
        ).fetchone()
    except (duckdb.CatalogException, duckdb.BinderException):  # not migrated to 0013 yet
        return None
    if row is None:
        return None
    return AggregateState(*row[:7], json.loads(row[7]), *row[8:])


@dataclass(frozen=True)
class RefreshResult:
    """What a refresh did: days recomputed (all days on a full rebuild) and rows written."""

    n_days: int
    full: bool
    rows: dict[str, int]
    seconds: float


def refresh_aggregates(
    con: duckdb.DuckDBPyConnection,
    model_version: str | None,
    timezone: str,
    full: bool = False,
) -> RefreshResult:
    """Bring every aggregate table up to date with the base tables, in one transaction.

    Args:
        con: Writable warehouse connection.
        model_version: The sentiment model the counts use (the one that just scored).
        timezone: Local time of the hourly aggregate (the settings' timezone).
        full: Rebuild everything even when nothing requires it.

    Returns:
        Days recomputed and rows written per table.
    """
    started = time.perf_counter()
    watermark = con.execute("SELECT now()").fetchone()[0]
    params = {
        "model": model_version,
        "emotion_model": latest_emotion_model_version(con),
        "aspect_model": current_aspect_model(con),
        "margin": LOW_CONFIDENCE_MARGIN,
        "tz": timezone,
    }
    state = aggregate_state(con)
    full = (
        full
        or state is None
        or (state.sentiment_model, state.emotion_model, state.aspect_model, state.timezone)
        != (params["model"], params["emotion_model"], params["aspect_model"], timezone)
        or state.low_confidence_margin != LOW_CONFIDENCE_MARGIN
    )
    try:
        with transaction(con):
            con.execute(f"CREATE OR REPLACE TEMP TABLE agg_new_fingerprints AS {_FINGERPRINTS}")
            n_days = (
                _rebuild_all(con, params) if full else _refresh_days(con, params, state.watermark)
            )
            con.execute("DELETE FROM agg_day_fingerprints")
            con.execute("INSERT INTO agg_day_fingerprints SELECT * FROM agg_new_fingerprints")
            seconds = time.perf_counter() - started
            con.execute(
                "INSERT OR REPLACE INTO agg_state VALUES (1, ?, ?, ?, ?, ?, now(), ?, ?, ?, ?, ?)",
                [
                    params["model"],
                    params["emotion_model"],
                    params["aspect_model"],
                    timezone,
                    LOW_CONFIDENCE_MARGIN,
                    watermark,
                    json.dumps(base_row_counts(con)),
                    n_days,
                    full,
                    seconds,
                ],
            )
    finally:
        con.execute("DROP TABLE IF EXISTS agg_new_fingerprints")
    rows = {
        a.table: con.execute(f"SELECT count(*) FROM {a.table}").fetchone()[0] for a in AGGREGATES
    }
    return RefreshResult(n_days, full, rows, time.perf_counter() - started)


def _insert(con: duckdb.DuckDBPyConnection, agg: Aggregate, params: dict, where: str) -> None:
    dims = ", ".join(agg.dims)
    sums = ", ".join(f"sum({m})" for m in agg.measures)
    # By name: columns added by later migrations come after the measures in the table.
    # Ordered by day so the zone maps of each row group prune date ranges.
    sql = (
        f"INSERT INTO {agg.table} ({', '.join(agg.columns)}) "
        f"SELECT {dims}, {sums} FROM ({agg.rows_sql}) "
        f"{where} GROUP BY ALL ORDER BY local_day"
    )
    con.execute(sql, bind(sql, params))


def _rebuild_all(con: duckdb.DuckDBPyConnection, params: dict) -> int:
    for agg in AGGREGATES:  # table names from the constants above
        con.execute(f"DELETE FROM {agg.table}")
        _insert(con, agg, params, "")
    return con.execute("SELECT count(*) FROM agg_new_fingerprints").fetchone()[0]


def _refresh_days(con: duckdb.DuckDBPyConnection, params: dict, since: datetime) -> int:
    changed = (
        "SELECT coalesce(n.local_day, o.local_day) AS local_day "
        "FROM agg_new_fingerprints n FULL JOIN agg_day_fingerprints o USING (local_day) "
        "WHERE n.n_rows IS DISTINCT FROM o.n_rows OR n.fingerprint IS DISTINCT FROM o.fingerprint "
        f"UNION {_ENRICHED_DAYS}"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE agg_days AS {changed}",
        bind(_ENRICHED_DAYS, {**params, "since": since}),
    )
    n_days, first, last = con.execute(
        "SELECT count(*), min(local_day), max(local_day) FROM agg_days"
    ).fetchone()
    # The range lets the scans skip untouched row groups; the list picks the days in it.
    where = (
        "WHERE local_day BETWEEN $first AND $last AND local_day IN (SELECT local_day FROM agg_days)"
    )
    if n_days:
        for agg in AGGREGATES:
            con.execute(f"DELETE FROM {agg.table} {where}", {"first": first, "last": last})
            _insert(con, agg, {**params, "first": first, "last": last}, where)
    con.execute("DROP TABLE agg_days")
    return n_days
