"""Voices by customer, for the 客户 page: segment sizes and each segment's negative share,
the customers with the most negative voices in a period, and one customer's timeline.

A voice is a document linked to a customer (`doc_customers`, which also holds the segment,
province, city, acquisition and owner the customer had on the voice's day). Counts leave
exact duplicates out and use the current sentiment model, as every page does. Customers
appear by their hashed id and segment attributes only: the warehouse holds no raw key.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from warehouse.aggregates import bind
from warehouse.satisfaction import CustomerFilters, customer_filter_sql, has_table

_UNLINKED_RESPONSES = (
    "(SELECT NULL::VARCHAR AS response_id, NULL::VARCHAR AS customer_id, "
    "NULL::VARCHAR AS segment WHERE false)"
)


def _model(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute(
        "SELECT model_version FROM doc_sentiment ORDER BY scored_at DESC, model_version LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def _voices_sql(f: CustomerFilters) -> tuple[str, dict[str, Any]]:
    """Distinct linked documents in scope with their customer, segment then and label."""
    where, params = customer_filter_sql(f, "dc.", "r.local_day")
    sql = (
        "SELECT dc.doc_id, dc.customer_id, dc.segment, dc.province, dc.city, dc.acquisition, "
        "dc.owner, r.local_day, r.created_at, s.label "
        "FROM doc_customers dc JOIN raw_documents r ON r.id = dc.doc_id "
        "LEFT JOIN doc_texts t ON t.doc_id = dc.doc_id "
        "LEFT JOIN doc_sentiment s ON s.doc_id = dc.doc_id AND s.model_version = $model "
        f"WHERE t.duplicate_of IS NULL AND {where}"
    )
    return sql, params


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]):
    return con.execute(sql, bind(sql, params))


def customer_options(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """What the page's filter offers: segments, provinces and owners seen in the segment
    history (any time), sorted."""
    out = {}
    for column in ("segment", "province", "owner"):  # fixed names
        out[column + "s"] = [
            v
            for (v,) in con.execute(
                f"SELECT DISTINCT {column} FROM customer_segments WHERE {column} IS NOT NULL "
                f"ORDER BY {column}"
            ).fetchall()
        ]
    return out


def segment_overview(con: duckdb.DuckDBPyConnection, f: CustomerFilters) -> pd.DataFrame:
    """Per segment: customers now (``customers``, narrowed by the province and owner
    filters on their current attributes), customers who spoke in the period, their voices,
    negative voices and negative share (segment at the time of each voice). Largest first;
    a segment without customers or voices has no row."""
    voices, params = _voices_sql(f)
    params["model"] = _model(con)
    sizes_where = ["true"]
    for column, values in (("segment", f.segments), ("province", f.provinces), ("owner", f.owners)):
        if values:
            sizes_where.append(f"list_contains(${column}s::VARCHAR[], {column})")
    return _run(
        con,
        f"WITH v AS ({voices}), "
        "spoke AS (SELECT segment, count(DISTINCT customer_id) AS n_speaking, "
        " count(*) AS n_voices, count(*) FILTER (WHERE label = 'negative') AS n_negative, "
        " count(label) AS n_scored FROM v GROUP BY segment), "
        "sizes AS (SELECT segment, count(*) AS n_customers FROM customers "
        f" WHERE {' AND '.join(sizes_where)} GROUP BY segment) "
        "SELECT segment, coalesce(sizes.n_customers, 0)::BIGINT AS n_customers, "
        "coalesce(spoke.n_speaking, 0)::BIGINT AS n_speaking, "
        "coalesce(spoke.n_voices, 0)::BIGINT AS n_voices, "
        "coalesce(spoke.n_negative, 0)::BIGINT AS n_negative, "
        "CASE WHEN spoke.n_scored > 0 THEN spoke.n_negative / spoke.n_scored END "
        " AS negative_share "
        "FROM sizes FULL OUTER JOIN spoke USING (segment) "
        "ORDER BY n_customers DESC, n_voices DESC, segment NULLS LAST",
        params,
    ).df()


def negative_customers(
    con: duckdb.DuckDBPyConnection, f: CustomerFilters, limit: int = 20
) -> pd.DataFrame:
    """The customers with the most negative voices in the period: hashed id, the segment
    attributes of their latest voice, voices, negative voices, last day. Most negative
    first (then most voices, then newest)."""
    voices, params = _voices_sql(f)
    params.update(model=_model(con), limit=limit)
    return _run(
        con,
        f"WITH v AS ({voices}) "
        "SELECT customer_id, arg_max(segment, created_at) AS segment, "
        "arg_max(province, created_at) AS province, arg_max(city, created_at) AS city, "
        "arg_max(acquisition, created_at) AS acquisition, arg_max(owner, created_at) AS owner, "
        "count(*) AS n_voices, count(*) FILTER (WHERE label = 'negative') AS n_negative, "
        "max(local_day) AS last_day FROM v GROUP BY customer_id "
        "HAVING count(*) FILTER (WHERE label = 'negative') > 0 "
        "ORDER BY n_negative DESC, n_voices DESC, last_day DESC, customer_id LIMIT $limit",
        params,
    ).df()


def customer_timeline(
    con: duckdb.DuckDBPyConnection, customer_id: str, limit: int = 200
) -> dict[str, Any] | None:
    """One customer: current attributes (no raw key), voices newest first (masked text,
    source, channel, sentiment, the segment then) and survey responses; None when there
    is no such customer and no voice of it."""
    cursor = con.execute(
        "SELECT customer_id, segment, province, city, acquisition, owner, first_order, "
        "last_order, order_count, spend FROM customers WHERE customer_id = ?",
        [customer_id],
    )
    row = cursor.fetchone()
    customer = dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None
    voices = con.execute(
        "SELECT r.created_at, r.local_day, r.source, r.channel, dc.segment, s.label AS sentiment, "
        "r.text, r.url FROM doc_customers dc JOIN raw_documents r ON r.id = dc.doc_id "
        "LEFT JOIN doc_texts t ON t.doc_id = dc.doc_id "
        "LEFT JOIN doc_sentiment s ON s.doc_id = coalesce(t.duplicate_of, dc.doc_id) "
        " AND s.model_version = ? "
        "WHERE dc.customer_id = ? ORDER BY r.created_at DESC, r.id LIMIT ?",
        [_model(con), customer_id, limit],
    ).df()
    links = "response_customers" if has_table(con, "response_customers") else _UNLINKED_RESPONSES
    responses = con.execute(
        "SELECT s.submitted_at, s.local_day, s.source, c.segment, s.nps, s.csat "
        f"FROM survey_responses s JOIN {links} c USING (response_id) "
        "WHERE c.customer_id = ? ORDER BY s.submitted_at DESC LIMIT ?",
        [customer_id, limit],
    ).df()
    if customer is None and voices.empty and responses.empty:
        return None
    return {"customer": customer, "voices": voices, "responses": responses}
