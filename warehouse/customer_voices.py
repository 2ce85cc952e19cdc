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
from warehouse.customer_aggregates import customer_relations
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


def _voices(con: duckdb.DuckDBPyConnection, f: CustomerFilters) -> tuple[str, dict[str, Any]]:
    """Voices per day and customer in scope (`warehouse.customer_aggregates`)."""
    rel = customer_relations(con)
    where, params = customer_filter_sql(f, "v.", "v.local_day")
    return f"SELECT * FROM {rel.voices} v WHERE {where}", {**params, **rel.params}


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
    voices, params = _voices(con, f)
    sizes_where = ["true"]
    for column, values in (("segment", f.segments), ("province", f.provinces), ("owner", f.owners)):
        if values:
            sizes_where.append(f"list_contains(${column}s::VARCHAR[], {column})")
    return _run(
        con,
        f"WITH v AS ({voices}), "
        "spoke AS (SELECT segment, count(DISTINCT customer_id) AS n_speaking, "
        " sum(n_voices) AS n_voices, sum(n_negative) AS n_negative, sum(n_scored) AS n_scored "
        " FROM v GROUP BY segment), "
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
    voices, params = _voices(con, f)
    params["limit"] = limit
    # Rank on plain sums first (customers with a negative voice only), then read the
    # segment attributes of the top few: arg_max over every candidate is the slow part.
    return _run(
        con,
        f"WITH v AS ({voices}), "
        "top AS (SELECT customer_id, sum(n_voices)::BIGINT AS n_voices, "
        " sum(n_negative)::BIGINT AS n_negative, max(local_day) AS last_day FROM v "
        " WHERE customer_id IN (SELECT customer_id FROM v WHERE n_negative > 0) "
        " GROUP BY customer_id "
        " ORDER BY n_negative DESC, n_voices DESC, last_day DESC, customer_id LIMIT $limit), "
        "attrs AS (SELECT customer_id, arg_max(segment, last_at) AS segment, "
        " arg_max(province, last_at) AS province, arg_max(city, last_at) AS city, "
        " arg_max(acquisition, last_at) AS acquisition, arg_max(owner, last_at) AS owner "
        " FROM v WHERE customer_id IN (SELECT customer_id FROM top) GROUP BY customer_id) "
        "SELECT t.customer_id, a.segment, a.province, a.city, a.acquisition, a.owner, "
        "t.n_voices, t.n_negative, t.last_day FROM top t JOIN attrs a USING (customer_id) "
        "ORDER BY t.n_negative DESC, t.n_voices DESC, t.last_day DESC, t.customer_id",
        params,
    ).df()


def _sources(con: duckdb.DuckDBPyConnection, ids: list[tuple]) -> list[str]:
    """The documents whose sentiment `ids` show (an exact duplicate shows its original's)."""
    keys = [r[0] for r in ids]
    originals = con.execute(
        "SELECT duplicate_of FROM doc_texts WHERE list_contains(?, doc_id) "
        "AND duplicate_of IS NOT NULL",
        [keys],
    ).fetchall()
    return keys + [r[0] for r in originals]


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
    # The customer's newest documents first, then their texts and labels by id: a join
    # would read every document's text and label for one customer's few.
    newest = con.execute(
        "SELECT r.id FROM raw_documents r "
        "WHERE r.id IN (SELECT doc_id FROM doc_customers WHERE customer_id = ?) "
        "ORDER BY r.created_at DESC, r.id LIMIT ?",
        [customer_id, limit],
    ).fetchall()
    voices = con.execute(
        "WITH d AS (SELECT id, created_at, local_day, source, channel, text, url "
        " FROM raw_documents WHERE list_contains($ids, id)), "
        "t AS (SELECT doc_id, duplicate_of FROM doc_texts WHERE list_contains($ids, doc_id)), "
        "dc AS (SELECT doc_id, segment FROM doc_customers WHERE list_contains($ids, doc_id)) "
        "SELECT d.created_at, d.local_day, d.source, d.channel, dc.segment, "
        "s.label AS sentiment, d.text, d.url FROM d JOIN dc ON dc.doc_id = d.id "
        "LEFT JOIN t ON t.doc_id = d.id "
        "LEFT JOIN (SELECT doc_id, label FROM doc_sentiment WHERE model_version = $model "
        " AND list_contains($sources, doc_id)) s ON s.doc_id = coalesce(t.duplicate_of, d.id) "
        "ORDER BY d.created_at DESC, d.id",
        {"ids": [r[0] for r in newest], "model": _model(con), "sources": _sources(con, newest)},
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
