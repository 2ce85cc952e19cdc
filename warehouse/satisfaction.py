"""Satisfaction surveys read back (满意度测评): responses with the segment their customer had
when they answered, NPS / CSAT series per period and dimension with intervals and the
minimum-n guard, key drivers from the open answers' themes, aspects and categories, their
verbatims, and the ``satisfaction`` section of ``voc stats --json``.

Inputs: `survey_responses` (scores), `survey_answers` (which documents are a response's
open answers), `response_customers` (the customer and segment of each response, written by
`warehouse.customers`; a warehouse without it reads every response as unlinked), and the
answers' enrichments: `doc_themes`, `doc_aspects` (the current aspect model; an aspect counts
as mentioned when an answer judges it negatively), `doc_categories`, read through
`warehouse.customer_aggregates` (precomputed by the flow, or on the fly). The arithmetic is
`voc.satisfaction`'s (see its method).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from voc.satisfaction import (
    GRANULARITIES,
    MIN_N,
    Driver,
    Granularity,
    Score,
    Tally,
    compare,
    csat_score,
    driver_dict,
    drivers_from_tallies,
    nps_score,
    period_label,
)
from warehouse.aggregates import bind
from warehouse.customer_aggregates import customer_relations

#: Dimensions a series can be split by → the response column.
DIMENSIONS = {
    "segment": "segment",
    "province": "province",
    "city": "city",
    "acquisition": "acquisition",
    "owner": "owner",
    "source": "source",
}
_EMPTY_LINKS = (
    "(SELECT NULL::VARCHAR AS response_id, NULL::VARCHAR AS customer_id, "
    "NULL::VARCHAR AS segment, NULL::VARCHAR AS province, NULL::VARCHAR AS city, "
    "NULL::VARCHAR AS acquisition, NULL::VARCHAR AS owner WHERE false)"
)


@dataclass(frozen=True)
class CustomerFilters:
    """What the 客户 page is narrowed to; empty tuples mean no restriction.

    Attributes:
        start: First local day (inclusive); None = from the first response / voice.
        end: Last local day (inclusive); None = up to the last.
        segments: Segments (客户细分) at the time the customer spoke or answered.
        provinces: Provinces then.
        owners: Account managers then.
    """

    start: date | None = None
    end: date | None = None
    segments: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()


def customer_filter_sql(f: CustomerFilters, alias: str, day: str) -> tuple[str, dict[str, Any]]:
    """WHERE clause (fixed strings; values bound) over a relation with ``segment``,
    ``province``, ``owner`` (at `alias`) and a local day column `day`."""
    clauses, params = ["true"], {}
    if f.start is not None:
        clauses.append(f"{day} >= $start")
        params["start"] = f.start
    if f.end is not None:
        clauses.append(f"{day} <= $end")
        params["end"] = f.end
    for column, values in (("segment", f.segments), ("province", f.provinces), ("owner", f.owners)):
        if values:
            clauses.append(f"list_contains(${column}s::VARCHAR[], {alias}{column})")
            params[f"{column}s"] = list(values)
    return " AND ".join(clauses), params


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]):
    return con.execute(sql, bind(sql, params))


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the warehouse has table (or view) `name`."""
    # Views too: the shared Parquet warehouse (`warehouse.parquet_reader`) has only views.
    row = con.execute(
        "SELECT count(*) FROM (SELECT table_name AS name, schema_name FROM duckdb_tables()"
        " UNION ALL SELECT view_name, schema_name FROM duckdb_views())"
        " WHERE name = ? AND schema_name = 'main'",
        [name],
    ).fetchone()
    return bool(row[0])


def _links(con: duckdb.DuckDBPyConnection) -> str:
    return "response_customers" if has_table(con, "response_customers") else _EMPTY_LINKS


def _responses_sql(con: duckdb.DuckDBPyConnection, f: CustomerFilters) -> tuple[str, dict]:
    where, params = customer_filter_sql(f, "c.", "s.local_day")
    sql = (
        "SELECT s.response_id, s.source, s.local_day, s.submitted_at, s.nps, s.csat, "
        "c.customer_id, c.segment, c.province, c.city, c.acquisition, c.owner "
        f"FROM survey_responses s LEFT JOIN {_links(con)} c USING (response_id) WHERE {where}"
    )
    return sql, params


def survey_responses(con: duckdb.DuckDBPyConnection, f: CustomerFilters) -> pd.DataFrame:
    """Responses in scope with their scores, survey source, and the customer (hashed id)
    and segment, province, city, acquisition and owner they had on the answer's day
    (missing when unlinked), newest first."""
    sql, params = _responses_sql(con, f)
    return _run(con, sql + " ORDER BY s.submitted_at DESC, s.response_id", params).df()


def _score_columns(nps: Score, csat: Score) -> dict[str, Any]:
    return {
        "nps": nps.value,
        "nps_low": nps.low,
        "nps_high": nps.high,
        "nps_enough": nps.enough,
        "nps_display": nps.display(),
        "csat": csat.value,
        "csat_low": csat.low,
        "csat_high": csat.high,
        "csat_enough": csat.enough,
        "csat_display": csat.display(),
    }


SERIES_COLUMNS = [
    "period", "period_start", "dimension", "n", "promoters", "passives", "detractors",
    "csat_n", "satisfied", "nps", "nps_low", "nps_high", "nps_enough", "nps_display",
    "csat", "csat_low", "csat_high", "csat_enough", "csat_display", "nps_change",
    "nps_change_p", "csat_change", "csat_change_p",
]  # fmt: skip


def satisfaction_series(
    con: duckdb.DuckDBPyConnection,
    f: CustomerFilters,
    granularity: Granularity = "month",
    dimension: str | None = None,
    min_n: int = MIN_N,
) -> pd.DataFrame:
    """NPS and CSAT per week / month / quarter (and per value of `dimension`), each with
    its interval, the minimum-n guard and the change from the period before (same
    dimension value) with its two-sample p-value (missing unless both have enough).

    Args:
        dimension: None (everyone) or a key of `DIMENSIONS`; unlinked responses are one
            group with a missing value.

    Raises:
        ValueError: an unknown granularity or dimension.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown granularity {granularity!r}; one of {', '.join(GRANULARITIES)}")
    if dimension is not None and dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}; one of {', '.join(DIMENSIONS)}")
    sql, params = _responses_sql(con, f)
    dim = f"r.{DIMENSIONS[dimension]}" if dimension else "NULL::VARCHAR"
    counts = _run(
        con,
        f"SELECT date_trunc('{granularity}', r.local_day)::DATE AS period_start, "
        f"{dim} AS dimension, count(r.nps) AS n, "
        "count(*) FILTER (WHERE r.nps >= 9) AS promoters, "
        "count(*) FILTER (WHERE r.nps BETWEEN 7 AND 8) AS passives, "
        "count(*) FILTER (WHERE r.nps <= 6) AS detractors, "
        "count(r.csat) AS csat_n, count(*) FILTER (WHERE r.csat >= 4) AS satisfied "
        f"FROM ({sql}) r GROUP BY ALL ORDER BY dimension NULLS LAST, period_start",
        params,
    ).fetchall()
    rows, previous = [], {}
    for start, value, n, pro, pas, det, csat_n, sat in counts:
        nps, csat = nps_score(pro, pas, det, min_n), csat_score(sat, csat_n, min_n)
        before = previous.get(value)
        nps_change = compare(nps, before[0]) if before else None
        csat_change = compare(csat, before[1]) if before else None
        previous[value] = (nps, csat)
        rows.append(
            {
                "period": period_label(start, granularity),
                "period_start": start,
                "dimension": value,
                "n": n,
                "promoters": pro,
                "passives": pas,
                "detractors": det,
                "csat_n": csat_n,
                "satisfied": sat,
                **_score_columns(nps, csat),
                "nps_change": nps_change.difference if nps_change else None,
                "nps_change_p": nps_change.p_value if nps_change else None,
                "csat_change": csat_change.difference if csat_change else None,
                "csat_change_p": csat_change.p_value if csat_change else None,
            }
        )
    return pd.DataFrame(rows, columns=SERIES_COLUMNS)


def _scope(con: duckdb.DuckDBPyConnection, f: CustomerFilters) -> tuple[str, dict]:
    sql, params = _responses_sql(con, f)
    return f"WITH scope AS ({sql}) ", params


def theme_labels(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Theme id → label (tracked themes, else v1 complaint themes)."""
    rows = con.execute(
        "SELECT theme_id, label FROM complaint_themes UNION ALL "
        "SELECT theme_id, label FROM tracked_themes"
    ).fetchall()
    return dict(rows)


def drivers_for(
    con: duckdb.DuckDBPyConnection, f: CustomerFilters, min_n: int = MIN_N
) -> list[Driver]:
    """Key drivers (`voc.satisfaction.drivers_from_tallies`) of the responses in scope,
    counted in SQL over what their answers mention (`warehouse.customer_aggregates`)."""
    rel = customer_relations(con)
    head, params = _scope(con, f)
    params.update(rel.params)
    tally = (
        "count(*) FILTER (WHERE s.nps >= 9), count(*) FILTER (WHERE s.nps BETWEEN 7 AND 8), "
        "count(*) FILTER (WHERE s.nps <= 6), count(*) FILTER (WHERE s.csat >= 4), count(s.csat)"
    )
    row = _run(con, head + f"SELECT count(*), {tally} FROM scope s", params).fetchone()
    total = Tally(*row[1:])
    by_key = {
        (kind, value): (Tally(*counts), n)
        for kind, value, n, *counts in _run(
            con,
            head + f", m AS (SELECT DISTINCT response_id, kind, value FROM {rel.mentions} m "
            " WHERE response_id IN (SELECT response_id FROM scope)) "
            f"SELECT m.kind, m.value, count(*), {tally} FROM m JOIN scope s USING (response_id) "
            "GROUP BY m.kind, m.value",
            params,
        ).fetchall()
    }
    return drivers_from_tallies(total, row[0], by_key, min_n)


def satisfaction_drivers(
    con: duckdb.DuckDBPyConnection, f: CustomerFilters, min_n: int = MIN_N, limit: int = 30
) -> pd.DataFrame:
    """The `limit` top key drivers as rows (`voc.satisfaction.driver_dict` columns, theme
    labels resolved), plus CSAT of both groups; ranked by impact."""
    labels = {("theme", k): v for k, v in theme_labels(con).items()}
    rows = []
    for d in drivers_for(con, f, min_n)[:limit]:
        row = driver_dict(d, labels)
        row["csat_mention"] = d.csat_mention.value
        row["csat_other"] = d.csat_other.value
        row["nps_mention_display"] = d.nps_mention.display()
        rows.append(row)
    columns = [
        "kind", "label", "value", "n_mention", "n_other", "nps_mention", "nps_other",
        "nps_difference", "nps_difference_low", "nps_difference_high", "p_value",
        "detractor_share", "impact", "enough", "csat_mention", "csat_other",
        "nps_mention_display",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


DRIVER_KINDS = ("theme", "aspect", "category")


def driver_verbatims(
    con: duckdb.DuckDBPyConnection, f: CustomerFilters, kind: str, value: str, limit: int = 20
) -> pd.DataFrame:
    """Open answers (masked text) of the responses in scope that mention a driver, lowest
    NPS first: question, text, the response's NPS and CSAT, segment and day.

    Raises:
        ValueError: an unknown kind.
    """
    if kind not in DRIVER_KINDS:
        raise ValueError(f"unknown driver kind {kind!r}; one of {', '.join(DRIVER_KINDS)}")
    rel = customer_relations(con)
    head, params = _scope(con, f)
    params.update(rel.params, kind=kind, value=value, limit=limit)
    picked = _run(
        con,
        head + f", hit AS (SELECT DISTINCT doc_id FROM {rel.mentions} m "
        " WHERE m.kind = $kind AND m.value = $value) "
        "SELECT s.local_day, s.segment, s.nps, s.csat, a.question, a.doc_id "
        "FROM survey_answers a JOIN scope s USING (response_id) "
        "WHERE a.doc_id IN (SELECT doc_id FROM hit) "
        "ORDER BY s.nps NULLS LAST, s.local_day DESC, a.doc_id LIMIT $limit",
        params,
    ).df()
    # Texts are read for the chosen answers only (a point lookup, not a join of millions).
    texts = dict(
        con.execute(
            "SELECT id, text FROM raw_documents WHERE list_contains(?::VARCHAR[], id)",
            [list(picked["doc_id"])],
        ).fetchall()
    )
    picked["text"] = picked["doc_id"].map(texts)
    return picked.drop(columns="doc_id")


def _score_dict(s: Score) -> dict[str, Any]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 1)

    return {
        "n": s.n,
        "value": r(s.value) if s.enough else None,
        "low": r(s.low) if s.enough else None,
        "high": r(s.high) if s.enough else None,
        "display": s.display(),
    }


def satisfaction_summary(con: duckdb.DuckDBPyConnection, min_n: int = MIN_N) -> dict[str, Any]:
    """The ``satisfaction`` section of ``voc stats --json``: responses, NPS and CSAT by
    month with intervals and n (value None and display "样本不足" below `min_n`), NPS by
    segment (at the time of the answer) and month, the
    change of the last month from the one before with its p-value, and the top drivers
    over all responses."""
    n = con.execute("SELECT count(*) FROM survey_responses").fetchone()[0]
    series = satisfaction_series(con, CustomerFilters(), "month", None, min_n)
    months = []
    for row in series.itertuples():
        nps = nps_score(row.promoters, row.passives, row.detractors, min_n)
        csat = csat_score(row.satisfied, row.csat_n, min_n)
        months.append({"month": row.period, "nps": _score_dict(nps), "csat": _score_dict(csat)})
    last = series.iloc[-1] if len(series) else None
    change = None
    if last is not None and pd.notna(last["nps_change"]):
        change = {
            "month": last["period"],
            "nps_change": round(float(last["nps_change"]), 1),
            "p_value": float(last["nps_change_p"]),
            "significant": bool(last["nps_change_p"] < 0.05),
        }
    by_segment: dict[str, list[dict[str, Any]]] = {}
    for row in satisfaction_series(con, CustomerFilters(), "month", "segment", min_n).itertuples():
        if row.dimension is not None and pd.notna(row.dimension):
            nps = nps_score(row.promoters, row.passives, row.detractors, min_n)
            by_segment.setdefault(str(row.dimension), []).append(
                {"month": row.period, **_score_dict(nps)}
            )
    labels = {("theme", k): v for k, v in theme_labels(con).items()}
    drivers = [driver_dict(d, labels) for d in drivers_for(con, CustomerFilters(), min_n)[:5]]
    return {
        "min_n": min_n,
        "responses": n,
        "nps_by_month": [{"month": m["month"], **m["nps"]} for m in months],
        "csat_by_month": [{"month": m["month"], **m["csat"]} for m in months],
        "nps_by_segment_month": by_segment,
        "last_change": change,
        "top_driver": drivers[0] if drivers and drivers[0]["enough"] else None,
        "drivers": drivers,
    }
