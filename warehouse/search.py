"""检索 Explore: full-text search over documents in Chinese, with filters, paging, sorting,
and export of the matches to CSV, Excel or Parquet.

The query is segmented with the same jieba segmenter as the documents, so "物流太慢" finds
documents whose tokens contain 物流 and 太慢 (in any order), and a word the segmenter does
not split the same way still matches as a substring of the normalised text.
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

#: Sort orders offered to the reader (name → ORDER BY clause, fixed strings only).
SORTS = {
    "newest": "r.created_at DESC, r.id",
    "oldest": "r.created_at, r.id",
    "most_negative": "s.score ASC NULLS LAST, r.created_at DESC, r.id",
    "most_repeated": "coalesce(v.size, 1) DESC, r.created_at DESC, r.id",
}
EXPORT_FORMATS = ("csv", "xlsx", "parquet")

_PREFILTER: ContextVar[bool] = ContextVar("search_prefilter", default=True)


@contextmanager
def without_prefilter() -> Iterator[None]:
    """Within the block, searches read every token list (the benchmark's baseline)."""
    token = _PREFILTER.set(False)
    try:
        yield
    finally:
        _PREFILTER.reset(token)


@dataclass(frozen=True)
class SearchFilters:
    """What a search is narrowed to; None or empty means no restriction."""

    since: date | None = None
    until: date | None = None
    sources: Sequence[str] = ()
    channels: Sequence[str] = ()
    sentiment: str | None = None  # negative | neutral | positive
    category: str | None = None


@dataclass(frozen=True)
class SearchPage:
    """One page of matches and the total count."""

    rows: pd.DataFrame
    total: int
    page: int
    page_size: int


def _match(terms: Sequence[str], phrase: str) -> tuple[str, list[object]]:
    """The text condition on `doc_texts t`: every segmented term among the tokens, or the
    whole phrase in the text."""
    if not phrase:
        return "true", []
    exact = "(list_has_all(t.tokens, ?::VARCHAR[]) OR contains(t.text_norm, ?))"
    params: list[object] = [list(terms), phrase]
    # Tokens are pieces of the normalised text (Latin lower-cased), so a document whose
    # tokens hold every term also holds each caseless term as a substring: a cheap scan of
    # the text rules most documents out before their token lists are read.
    caseless = [t for t in dict.fromkeys(terms) if t and t == t.lower() == t.upper()]
    if not _PREFILTER.get() or not caseless:
        return exact, params
    needed = " AND ".join("contains(t.text_norm, ?)" for _ in caseless)
    return f"(contains(t.text_norm, ?) OR ({needed})) AND {exact}", [phrase, *caseless, *params]


def _where(terms: Sequence[str], phrase: str, filters: SearchFilters) -> tuple[str, list[object]]:
    match, params = _match(terms, phrase)
    clauses = ["t.duplicate_of IS NULL", match]
    if filters.since:
        clauses.append("r.local_day >= ?")
        params.append(filters.since)
    if filters.until:
        clauses.append("r.local_day <= ?")
        params.append(filters.until)
    if filters.sources:
        clauses.append("r.source IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(filters.sources))
    if filters.channels:
        clauses.append("r.channel IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(filters.channels))
    if filters.sentiment:
        clauses.append("s.label = ?")
        params.append(filters.sentiment)
    if filters.category:
        clauses.append("r.id IN (SELECT doc_id FROM doc_categories WHERE category = ?)")
        params.append(filters.category)
    return " AND ".join(clauses), params


# Matching documents with what every sort needs; voice sizes are joined to one page only
# (sizing every voice of a large warehouse costs more than the search).
_MATCHES = (
    "SELECT r.id, r.created_at, r.source, r.channel, t.text_norm AS text, s.label AS sentiment, "
    "s.score, r.product, r.url{size} FROM raw_documents r JOIN doc_texts t ON t.doc_id = r.id "
    "LEFT JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = ? {voices}"
)
_ALL_VOICES = (
    "LEFT JOIN doc_groups g ON g.doc_id = r.id LEFT JOIN (SELECT group_id, count(*) AS size "
    "FROM doc_groups GROUP BY group_id) v ON v.group_id = g.group_id"
)
_PAGE = (
    "WITH m AS ({matches} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?), "
    "groups AS (SELECT doc_id, group_id FROM doc_groups WHERE doc_id IN (SELECT id FROM m)), "
    "sizes AS (SELECT group_id, count(*) AS size FROM doc_groups "
    " WHERE group_id IN (SELECT group_id FROM groups) GROUP BY group_id) "
    "SELECT r.id, r.created_at, r.source, r.channel, r.text, r.sentiment, r.score, "
    "coalesce(sizes.size, 1) AS voice_size, r.product, r.url FROM m r "
    "LEFT JOIN groups g ON g.doc_id = r.id LEFT JOIN sizes ON sizes.group_id = g.group_id "
    "ORDER BY {outer}"
)


def _page_sql(where: str, sort: str) -> str:
    voices = sort == "most_repeated"
    matches = _MATCHES.format(
        size=", coalesce(v.size, 1) AS repeated" if voices else "",
        voices=_ALL_VOICES if voices else "",
    )
    order = SORTS[sort]  # names r, s and v; outside the page they are columns of m
    outer = order.replace("s.score", "r.score").replace("coalesce(v.size, 1)", "r.repeated")
    return _PAGE.format(matches=matches, where=where, order=order, outer=outer)


def _count_sql(where: str, filters: SearchFilters) -> str:
    sentiment = (
        "LEFT JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = ? "
        if filters.sentiment
        else ""
    )
    return (
        "SELECT count(*) FROM raw_documents r JOIN doc_texts t ON t.doc_id = r.id "
        f"{sentiment}WHERE {where}"
    )


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
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    page, page_size = max(1, page), max(1, min(page_size, 500))
    where, params = _where(query_terms, query.strip(), filters)
    # Clauses are fixed strings; values are bound.
    count_params = [model_version, *params] if filters.sentiment else params
    total = con.execute(_count_sql(where, filters), count_params).fetchone()[0]
    rows = con.execute(
        _page_sql(where, sort), [model_version, *params, page_size, (page - 1) * page_size]
    ).df()
    return SearchPage(rows, int(total), page, page_size)


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
    where, params = _where(query_terms, query.strip(), filters)
    frame = con.execute(_page_sql(where, "newest"), [model_version, *params, limit, 0]).df()
    frame["created_at"] = frame["created_at"].dt.tz_localize(None)  # Excel has no zones
    if fmt == "csv":
        frame.to_csv(out, index=False, encoding="utf-8-sig")
    elif fmt == "xlsx":
        frame.to_excel(out, index=False, engine="openpyxl")
    else:
        frame.to_parquet(out, index=False)
    return len(frame)
