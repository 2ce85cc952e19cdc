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
from warehouse.customer_aggregates import TOTALS_SQL, CustomerRelations, customer_relations
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
    rel = customer_relations(con)
    if _from_totals(rel, f):
        # Whole history: one row per customer and segment, so a count is the customers.
        where, params = customer_filter_sql(CustomerFilters(segments=f.segments), "v.", "")
        spoke_sql = (
            "spoke AS (SELECT segment, count(*) AS n_speaking, sum(n_voices) AS n_voices, "
            " sum(n_negative) AS n_negative, sum(n_scored) AS n_scored "
            f" FROM {rel.segment_totals} v WHERE {where} GROUP BY segment), "
        )
    else:
        voices, params = _voices(con, f)
        spoke_sql = (
            f"v AS ({voices}), "
            "spoke AS (SELECT segment, count(DISTINCT customer_id) AS n_speaking, "
            " sum(n_voices) AS n_voices, sum(n_negative) AS n_negative, "
            " sum(n_scored) AS n_scored FROM v GROUP BY segment), "
        )
    sizes_where = ["true"]
    for column, values in (("segment", f.segments), ("province", f.provinces), ("owner", f.owners)):
        if values:
            sizes_where.append(f"list_contains(${column}s::VARCHAR[], {column})")
    return _run(
        con,
        f"WITH {spoke_sql}"
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
    rel = customer_relations(con)
    if _from_totals(rel, f):
        return _negative_from_totals(con, rel, f, limit)
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


def _from_totals(rel: CustomerRelations, f: CustomerFilters) -> bool:
    """Whether the whole-history totals answer `f` (all history, at most a segment filter:
    province and owner are attributes at the time of each voice)."""
    return rel.covers_history(f.start, f.end) and not f.provinces and not f.owners


_RANKING = "ORDER BY n_negative DESC, n_voices DESC, last_day DESC, customer_id LIMIT $limit"


def _negative_from_totals(
    con: duckdb.DuckDBPyConnection, rel: CustomerRelations, f: CustomerFilters, limit: int
) -> pd.DataFrame:
    columns = "customer_id, segment, province, city, acquisition, owner"
    counts = "n_voices::BIGINT AS n_voices, n_negative::BIGINT AS n_negative, last_day"
    if not f.segments:
        sql = f"SELECT {columns}, {counts} FROM {rel.totals} WHERE n_negative > 0 {_RANKING}"
        return _run(con, sql, {"limit": limit}).df()
    # Several segments: a customer who moved between them has a row in each.
    totals = TOTALS_SQL.format(
        voices=f"(SELECT * FROM {rel.segment_totals} "
        "WHERE list_contains($segments::VARCHAR[], segment))",
        keys="customer_id",
        day="last_day",
    )
    sql = f"SELECT {columns}, {counts} FROM ({totals}) WHERE n_negative > 0 {_RANKING}"
    return _run(con, sql, {"limit": limit, "segments": list(f.segments)}).df()


#: Ids per lookup: DuckDB answers an id list from the key index up to a few thousand
#: keys, and scans the whole table above that (or under an ORDER BY).
_ID_CHUNK = 1000


def _timeline_from_base(
    con: duckdb.DuckDBPyConnection, customer_id: str, limit: int
) -> pd.DataFrame:
    """A customer's newest voices from the base tables (while the aggregates do not hold)."""
    newest = _newest_voices(con, customer_id, limit)
    ids = [doc_id for doc_id, _ in newest]
    # Raw documents and texts by their key index (a short `list_contains` list); the
    # labels by a scan (this path only serves while the aggregates are being rebuilt).
    return con.execute(
        "WITH d AS (SELECT id, created_at, local_day, source, channel, text, url "
        " FROM raw_documents WHERE list_contains($ids, id)), "
        "t AS (SELECT doc_id, duplicate_of FROM doc_texts WHERE list_contains($ids, doc_id)), "
        "s AS (SELECT doc_id, label FROM doc_sentiment "
        " WHERE model_version = $model AND list_contains($sources, doc_id)), "
        "dc AS (SELECT unnest($ids) AS doc_id, unnest($segments) AS segment) "
        "SELECT d.created_at, d.local_day, d.source, d.channel, dc.segment, "
        "s.label AS sentiment, d.text, d.url FROM d JOIN dc ON dc.doc_id = d.id "
        "LEFT JOIN t ON t.doc_id = d.id "
        "LEFT JOIN s ON s.doc_id = coalesce(t.duplicate_of, d.id) "
        "ORDER BY d.created_at DESC, d.id",
        {
            "ids": ids,
            "segments": [segment for _, segment in newest],
            "model": _model(con),
            "sources": _sources(con, ids),
        },
    ).df()


def _newest_voices(
    con: duckdb.DuckDBPyConnection, customer_id: str, limit: int
) -> list[tuple[str, str | None]]:
    """(doc id, segment then) of a customer's newest `limit` documents, newest first: the
    ids from doc_customers' customer index, their times from raw_documents' key index in
    chunks (a join or an ordered query would scan every document)."""
    linked = dict(
        con.execute(
            "SELECT doc_id, segment FROM doc_customers WHERE customer_id = ?", [customer_id]
        ).fetchall()
    )
    keys = list(linked)
    times: list[tuple] = []
    for i in range(0, len(keys), _ID_CHUNK):
        times += con.execute(
            "SELECT created_at, id FROM raw_documents WHERE list_contains(?, id)",
            [keys[i : i + _ID_CHUNK]],
        ).fetchall()
    # Newest first, ties by id, as the page lists them.
    times.sort(key=lambda r: r[1])
    times.sort(key=lambda r: r[0], reverse=True)
    return [(doc_id, linked[doc_id]) for _, doc_id in times[:limit]]


def _sources(con: duckdb.DuckDBPyConnection, keys: list[str]) -> list[str]:
    """The documents whose sentiment `keys` show (an exact duplicate shows its original's)."""
    # Only the id condition in SQL: a second one makes DuckDB scan instead of using the key.
    rows = con.execute(
        "SELECT duplicate_of FROM doc_texts WHERE list_contains(?, doc_id)", [keys]
    ).fetchall()
    return keys + [r[0] for r in rows if r[0] is not None]


#: Voices a timeline shows (newest first). DuckDB reads up to about a hundred ids from a
#: table's key index; more (a customer with thousands of voices) and it scans the table.
TIMELINE_LIMIT = 100


def customer_timeline(
    con: duckdb.DuckDBPyConnection, customer_id: str, limit: int = TIMELINE_LIMIT
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
    rel = customer_relations(con)
    if rel.docs is not None:
        voices = con.execute(
            "SELECT created_at, local_day, source, channel, segment, sentiment, text, url "
            f"FROM {rel.docs} WHERE customer_id = ? ORDER BY created_at DESC, doc_id LIMIT ?",
            [customer_id, limit],
        ).df()
    else:
        voices = _timeline_from_base(con, customer_id, limit)
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
