"""The 客户 page's aggregates: voices per day and customer (`agg_customer_voices`), their
whole-history totals per customer and per customer and segment (`agg_customer_totals`,
`agg_customer_segment_totals`), each customer's documents by time (`agg_customer_docs`) and
what each survey answer mentions
(`agg_survey_mentions`), rebuilt by the flow after the page aggregates, so the page reads
narrow tables instead of joining millions of documents with their sentiment, themes and
aspects.

`customer_relations` gives the page's readers either the tables (while
`agg_customer_state` matches the current models and the base tables' row counts) or the
same rows computed on the fly, so the page is never stale, only slower.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb

from warehouse.aggregates import current_aspect_model
from warehouse.db import snapshot_key, transaction

#: The tables the aggregates are computed from (their row counts are the freshness check).
BASE_TABLES = (
    "raw_documents", "doc_texts", "doc_sentiment", "doc_customers", "survey_answers",
    "doc_themes", "doc_aspects", "doc_categories",
)  # fmt: skip

#: `agg_customer_voices` computed from the base tables ($model: the sentiment model).
VOICES_SQL = (
    "SELECT r.local_day, dc.customer_id, any_value(dc.segment) AS segment, "
    "any_value(dc.province) AS province, any_value(dc.city) AS city, "
    "any_value(dc.acquisition) AS acquisition, any_value(dc.owner) AS owner, "
    "count(*)::INTEGER AS n_voices, "
    "count(*) FILTER (WHERE s.label = 'negative')::INTEGER AS n_negative, "
    "count(s.label)::INTEGER AS n_scored, max(r.created_at) AS last_at "
    "FROM doc_customers dc JOIN raw_documents r ON r.id = dc.doc_id "
    "LEFT JOIN doc_texts t ON t.doc_id = dc.doc_id "
    "LEFT JOIN doc_sentiment s ON s.doc_id = dc.doc_id AND s.model_version = $model "
    "WHERE t.duplicate_of IS NULL GROUP BY r.local_day, dc.customer_id"
)

#: `agg_customer_docs` from the base tables ($model): every linked document, with the
#: label of its original when it is an exact duplicate.
DOCS_SQL = (
    "SELECT dc.customer_id, r.created_at, dc.doc_id, dc.segment, r.local_day, r.source, "
    "r.channel, s.label AS sentiment, r.text, r.url "
    "FROM doc_customers dc JOIN raw_documents r ON r.id = dc.doc_id "
    "LEFT JOIN doc_texts t ON t.doc_id = dc.doc_id "
    "LEFT JOIN doc_sentiment s ON s.doc_id = coalesce(t.duplicate_of, dc.doc_id) "
    " AND s.model_version = $model"
)

#: Whole-history totals from a voices relation (`{voices}`, its day column `{day}`): per
#: customer, or per customer and segment (`{keys}`), with the attributes of the latest voice.
TOTALS_SQL = (
    "SELECT customer_id, arg_max(segment, last_at) AS segment, "
    "arg_max(province, last_at) AS province, arg_max(city, last_at) AS city, "
    "arg_max(acquisition, last_at) AS acquisition, arg_max(owner, last_at) AS owner, "
    "sum(n_voices)::INTEGER AS n_voices, sum(n_negative)::INTEGER AS n_negative, "
    "sum(n_scored)::INTEGER AS n_scored, max({day}) AS last_day, max(last_at) AS last_at "
    "FROM {voices} GROUP BY {keys}"
)

#: `agg_survey_mentions` computed from the base tables ($aspect_model).
MENTIONS_SQL = (
    "WITH a AS (SELECT a.response_id, a.doc_id, coalesce(t.duplicate_of, a.doc_id) AS src "
    " FROM survey_answers a LEFT JOIN doc_texts t ON t.doc_id = a.doc_id) "
    "SELECT a.response_id, a.doc_id, 'theme' AS kind, d.theme_id AS value "
    "FROM a JOIN doc_themes d ON d.doc_id = a.src "
    "UNION ALL SELECT a.response_id, a.doc_id, 'aspect', x.aspect "
    "FROM a JOIN doc_aspects x ON x.doc_id = a.src "
    " WHERE x.model_version = $aspect_model AND x.polarity = 'negative' "
    "UNION ALL SELECT a.response_id, a.doc_id, 'category', c.category "
    "FROM a JOIN doc_categories c ON c.doc_id = a.src"
)


@dataclass(frozen=True)
class CustomerAggregateResult:
    """What a refresh wrote."""

    n_voice_rows: int
    n_mentions: int
    seconds: float


@dataclass(frozen=True)
class CustomerRelations:
    """Where the page reads voices and mentions from, and the parameters they need."""

    voices: str
    mentions: str
    params: dict
    aggregated: bool
    #: Whole-history totals per customer and per customer and segment (aggregated only).
    totals: str | None = None
    segment_totals: str | None = None
    #: Each customer's documents with what the timeline shows (aggregated only).
    docs: str | None = None
    #: The first and last day with a voice (aggregated only).
    first_day: date | None = None
    last_day: date | None = None

    def covers_history(self, start: date | None, end: date | None) -> bool:
        """Whether the totals answer a period from `start` to `end` (None: open)."""
        if self.totals is None or self.first_day is None or self.last_day is None:
            return False
        return (start is None or start <= self.first_day) and (end is None or end >= self.last_day)


def _current_model(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute(
        "SELECT model_version FROM doc_sentiment ORDER BY scored_at DESC, model_version LIMIT 1"
    ).fetchone()
    return row[0] if row else None


#: Tables whose rows change in place (a customer re-linked or re-segmented, a document
#: re-themed) get a content fingerprint besides their row count.
_FINGERPRINTS = {
    "doc_customers": "hash(doc_id, customer_id, segment, province, city, acquisition, owner)",
    "doc_themes": "hash(doc_id, theme_id)",
}


def _row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    parts = [f"(SELECT count(*) FROM {t})" for t in BASE_TABLES]
    parts += [f"(SELECT sum({e})::VARCHAR FROM {t})" for t, e in _FINGERPRINTS.items()]
    names = [*BASE_TABLES, *(f"{t}_fingerprint" for t in _FINGERPRINTS)]
    return dict(zip(names, con.execute("SELECT " + ", ".join(parts)).fetchone(), strict=True))


def refresh_customer_aggregates(con: duckdb.DuckDBPyConnection) -> CustomerAggregateResult:
    """Rebuild the tables and their state in one transaction (a full rebuild: a few seconds
    at millions of documents, once per run)."""
    started = time.perf_counter()
    model, aspect_model = _current_model(con), current_aspect_model(con)
    with transaction(con):
        con.execute("DELETE FROM agg_customer_voices")
        con.execute(
            f"INSERT INTO agg_customer_voices SELECT * FROM ({VOICES_SQL}) ORDER BY local_day",
            {"model": model},
        )
        con.execute("DELETE FROM agg_survey_mentions")
        con.execute(
            f"INSERT INTO agg_survey_mentions {MENTIONS_SQL}", {"aspect_model": aspect_model}
        )
        for table, keys in (
            ("agg_customer_totals", "customer_id"),
            ("agg_customer_segment_totals", "customer_id, segment"),
        ):  # fixed names
            con.execute(f"DELETE FROM {table}")
            con.execute(
                f"INSERT INTO {table} "
                + TOTALS_SQL.format(voices="agg_customer_voices", keys=keys, day="local_day")
                + " ORDER BY n_negative DESC"
            )
        con.execute("DELETE FROM agg_customer_docs")
        con.execute(
            f"INSERT INTO agg_customer_docs {DOCS_SQL} ORDER BY customer_id, created_at DESC",
            {"model": model},
        )
        n_voices = con.execute("SELECT count(*) FROM agg_customer_voices").fetchone()[0]
        n_mentions = con.execute("SELECT count(*) FROM agg_survey_mentions").fetchone()[0]
        seconds = time.perf_counter() - started
        con.execute("DELETE FROM agg_customer_state")
        con.execute(
            "INSERT INTO agg_customer_state VALUES (1, ?, ?, ?, ?, ?)",
            [model, aspect_model, json.dumps(_row_counts(con)), datetime.now(UTC), seconds],
        )
    return CustomerAggregateResult(n_voices, n_mentions, time.perf_counter() - started)


def customer_relations(con: duckdb.DuckDBPyConnection) -> CustomerRelations:
    """The aggregate tables while they hold, else the same rows computed on the fly
    (found out once per published snapshot: a snapshot never changes in place)."""
    key = snapshot_key(con)
    found = _RELATIONS.get(key) if key else None
    if found is None:
        found = _check(con)
        if key:
            if len(_RELATIONS) >= 8:
                _RELATIONS.clear()
            _RELATIONS[key] = found
    return found


_RELATIONS: dict[tuple, CustomerRelations] = {}


def _check(con: duckdb.DuckDBPyConnection) -> CustomerRelations:
    model, aspect_model = _current_model(con), current_aspect_model(con)
    row = con.execute(
        "SELECT sentiment_model, aspect_model, base_rows FROM agg_customer_state"
    ).fetchone()
    fresh = row is not None and (row[0], row[1]) == (model, aspect_model)
    if fresh and json.loads(row[2]) == _row_counts(con):
        first, last = con.execute(
            "SELECT min(local_day), max(local_day) FROM agg_customer_voices"
        ).fetchone()
        return CustomerRelations(
            "agg_customer_voices", "agg_survey_mentions", {}, True,
            "agg_customer_totals", "agg_customer_segment_totals", "agg_customer_docs",
            first, last,
        )  # fmt: skip
    return CustomerRelations(
        f"({VOICES_SQL})",
        f"({MENTIONS_SQL})",
        {"model": model, "aspect_model": aspect_model},
        False,
    )
