"""检索 Explore: full-text search over documents in Chinese, with filters, paging, sorting,
and export of the matches to CSV, Excel or Parquet.

The query is segmented with the same jieba segmenter as the documents, and a document
matches when its normalised text contains every word of the query, in any order: "物流太慢"
finds "物流……太慢" and "太慢了，物流……" alike. Matching the words as substrings, not only as
whole tokens, also finds a word the segmenter split differently inside a longer phrase.

A search reads one table: `agg_search_docs` (every distinct document with what a search
filters, sorts and shows, refreshed by the flow with the page aggregates) while it holds the
asked model's labels, else the same rows joined from the base tables. Matches are gathered
once; the count and the page come from them.

Every match carries its customer's hashed id and segment attributes on the document's day
(`CUSTOMER_COLUMNS`, NULL when not linked), shown, filtered on and exported.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from warehouse.aggregate_reader import page_reader

#: Sort orders offered to the reader (name → ORDER BY clause over the matches `m`).
SORTS = {
    "newest": "m.created_at DESC, m.id",
    "oldest": "m.created_at, m.id",
    "most_negative": "m.score ASC NULLS LAST, m.created_at DESC, m.id",
    "most_repeated": "m.repeated DESC, m.created_at DESC, m.id",
}
EXPORT_FORMATS = ("csv", "xlsx", "parquet")

_SEARCH_TABLE: ContextVar[bool] = ContextVar("search_table", default=True)


@contextmanager
def without_search_table() -> Iterator[None]:
    """Within the block, searches join the base tables (the benchmark's baseline)."""
    token = _SEARCH_TABLE.set(False)
    try:
        yield
    finally:
        _SEARCH_TABLE.reset(token)


@dataclass(frozen=True)
class SearchFilters:
    """What a search is narrowed to; None or empty means no restriction."""

    since: date | None = None
    until: date | None = None
    sources: Sequence[str] = ()
    channels: Sequence[str] = ()
    sentiment: str | None = None  # negative | neutral | positive
    category: str | None = None
    products: Sequence[str] = ()
    brands: Sequence[str] = ()
    segments: Sequence[str] = ()  # the customer's attributes on the document's day
    provinces: Sequence[str] = ()
    cities: Sequence[str] = ()
    owners: Sequence[str] = ()


@dataclass(frozen=True)
class SearchPage:
    """One page of matches and the total count."""

    rows: pd.DataFrame
    total: int
    page: int
    page_size: int


#: The voice's customer (hashed id) and its segment attributes on the document's day;
#: NULL when the document is not linked to a customer.
CUSTOMER_COLUMNS = ("customer_id", "segment", "province", "city", "acquisition", "owner")
_CUSTOMER = ", ".join(CUSTOMER_COLUMNS)

_FROM_TABLE = (
    "(SELECT doc_id AS id, created_at, local_day, source, channel, product, brand, text, "
    f"sentiment, score, url, {_CUSTOMER} FROM agg_search_docs)"
)
_FROM_BASE = (
    "(SELECT r.id, r.created_at, r.local_day, r.source, r.channel, r.product, r.brand, "
    "t.text_norm AS text, s.label AS sentiment, s.score, r.url, "
    + ", ".join(f"dc.{c}" for c in CUSTOMER_COLUMNS)
    + " FROM raw_documents r JOIN doc_texts t ON t.doc_id = r.id "
    "LEFT JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = ? "
    "LEFT JOIN doc_customers dc ON dc.doc_id = r.id "
    "WHERE t.duplicate_of IS NULL)"
)


def _documents(con: duckdb.DuckDBPyConnection, model_version: str | None) -> tuple[str, list]:
    """The relation searched, and its parameters."""
    if _SEARCH_TABLE.get():
        reader = page_reader(con)
        if reader.aggregated and reader.params.get("model") == model_version:
            return _FROM_TABLE, []
    return _FROM_BASE, [model_version]


def _match(terms: Sequence[str], phrase: str) -> tuple[str, list[object]]:
    """Every segmented word in the text (Latin words caseless); the whole phrase when the
    segmenter kept no word (only stopwords or symbols)."""
    words = [w for w in dict.fromkeys(terms) if w]
    if not words:
        return ("contains(lower(d.text), ?)", [phrase.lower()]) if phrase else ("true", [])
    clauses, params = [], []
    for word in words:
        cased = word != word.upper() or word != word.lower()
        clauses.append("contains(lower(d.text), ?)" if cased else "contains(d.text, ?)")
        params.append(word.lower())
    return " AND ".join(clauses), params


def _where(terms: Sequence[str], phrase: str, filters: SearchFilters) -> tuple[str, list[object]]:
    match, params = _match(terms, phrase)
    clauses = [match]
    if filters.since:
        clauses.append("d.local_day >= ?")
        params.append(filters.since)
    if filters.until:
        clauses.append("d.local_day <= ?")
        params.append(filters.until)
    for column, values in (
        ("d.source", filters.sources),
        ("d.channel", filters.channels),
        ("d.product", filters.products),
        ("d.brand", filters.brands),
        ("d.segment", filters.segments),
        ("d.province", filters.provinces),
        ("d.city", filters.cities),
        ("d.owner", filters.owners),
    ):
        if values:
            clauses.append(f"{column} IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(values))
    if filters.sentiment:
        clauses.append("d.sentiment = ?")
        params.append(filters.sentiment)
    if filters.category:
        clauses.append("d.id IN (SELECT doc_id FROM doc_categories WHERE category = ?)")
        params.append(filters.category)
    return " AND ".join(clauses), params


def _sql(relation: str, where: str, sort: str) -> str:
    """Matches gathered once (`m`); the count, and one page with its voice sizes."""
    repeated = ""
    if sort == "most_repeated":  # sizes of every matching voice: only this sort needs them
        repeated = (
            ", (SELECT count(*) FROM doc_groups g2 WHERE g2.group_id = "
            "coalesce((SELECT g.group_id FROM doc_groups g WHERE g.doc_id = d.id), d.id)) "
            "AS repeated"
        )
    # `relation`, `where` and the ORDER BY are fixed strings of this module; values are bound.
    return (
        f"WITH m AS MATERIALIZED (SELECT d.*{repeated} FROM {relation} d WHERE {where}), "
        f"p AS (SELECT * FROM m ORDER BY {SORTS[sort]} LIMIT ? OFFSET ?), "
        "groups AS (SELECT doc_id, group_id FROM doc_groups WHERE doc_id IN (SELECT id FROM p)), "
        "sizes AS (SELECT group_id, count(*) AS size FROM doc_groups "
        " WHERE group_id IN (SELECT group_id FROM groups) GROUP BY group_id) "
        "SELECT c.total, p.id, p.created_at, p.source, p.channel, p.text, p.sentiment, p.score, "
        "coalesce(sizes.size, 1) AS voice_size, p.product, p.url, "
        + ", ".join(f"p.{c}" for c in CUSTOMER_COLUMNS)
        + " "
        "FROM (SELECT count(*) AS total FROM m) c LEFT JOIN p ON true "
        "LEFT JOIN groups g ON g.doc_id = p.id LEFT JOIN sizes ON sizes.group_id = g.group_id "
        f"ORDER BY {SORTS[sort].replace('m.', 'p.')}"
    )


def _run(
    con: duckdb.DuckDBPyConnection,
    query: str,
    query_terms: Sequence[str],
    model_version: str | None,
    filters: SearchFilters,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[pd.DataFrame, int]:
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    relation, relation_params = _documents(con, model_version)
    where, params = _where(query_terms, query.strip(), filters)
    frame = con.execute(
        _sql(relation, where, sort), [*relation_params, *params, limit, offset]
    ).df()
    total = int(frame["total"].iloc[0]) if len(frame) else 0
    rows = frame[frame["id"].notna()].drop(columns="total").reset_index(drop=True)
    rows["voice_size"] = rows["voice_size"].astype("int64")
    return rows, total


def search_documents(
    con: duckdb.DuckDBPyConnection,
    query: str,
    query_terms: Sequence[str],
    model_version: str | None,
    filters: SearchFilters = SearchFilters(),
    sort: str = "newest",
    page: int = 1,
    page_size: int = 50,
) -> SearchPage:
    """One page of the distinct documents matching `query` and the filters.

    Args:
        query: The reader's words (normalised the way documents are).
        query_terms: `query` segmented with the documents' segmenter.
        model_version: Sentiment model whose labels are shown and filtered on.
        sort: One of `SORTS`.
        page: 1-based page number.
        page_size: Rows per page (at most 500).

    Raises:
        ValueError: an unknown sort order.
    """
    page, page_size = max(1, page), max(1, min(page_size, 500))
    rows, total = _run(
        con, query, query_terms, model_version, filters, sort, page_size, (page - 1) * page_size
    )
    return SearchPage(rows, total, page, page_size)


def export_matches(
    con: duckdb.DuckDBPyConnection,
    query: str,
    query_terms: Sequence[str],
    model_version: str | None,
    filters: SearchFilters,
    fmt: str,
    out: Path,
    limit: int = 100_000,
) -> int:
    """Write every match (up to `limit`, newest first) to `out` as CSV (UTF-8 with BOM, so
    Excel reads Chinese), Excel or Parquet; returns the rows written.

    Raises:
        ValueError: an unknown format.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; one of {', '.join(EXPORT_FORMATS)}")
    frame, _ = _run(con, query, query_terms, model_version, filters, "newest", limit, 0)
    frame["created_at"] = frame["created_at"].dt.tz_localize(None)  # Excel has no zones
    if fmt == "csv":
        frame.to_csv(out, index=False, encoding="utf-8-sig")
    elif fmt == "xlsx":
        frame.to_excel(out, index=False, engine="openpyxl")
    else:
        frame.to_parquet(out, index=False)
    return len(frame)
