"""What the dashboard pages are narrowed to: `Filters`, the SQL they become, the day range
and what the filter bar offers.

Segment, province, city and owner are the attributes the voice's customer had on the
document's local day (`doc_customers`, dimensions of every page aggregate); a filter on
them keeps linked documents only."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import duckdb

from warehouse.aggregate_reader import PageReader, page_reader
from warehouse.aggregates import DOCS, SEGMENT_DIMS
from warehouse.search import SearchFilters


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
        segments: Customer tiers (高价值, 一般 ...) on the document's day.
        provinces: The customer's province.
        cities: The customer's city.
        owners: The customer's account manager.
    """

    start: date | None = None
    end: date | None = None
    sources: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()

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
            segments=self.segments,
            provinces=self.provinces,
            cities=self.cities,
            owners=self.owners,
        )


#: Filter field → the column it narrows (every per-document relation has them all).
COLUMNS = {
    "sources": "source",
    "channels": "channel",
    "products": "product",
    "brands": "brand",
    "segments": "segment",
    "provinces": "province",
    "cities": "city",
    "owners": "owner",
}


#: The columns that come from `doc_customers` rather than `raw_documents`.
CUSTOMER_FIELDS = ("segments", "provinces", "cities", "owners")


def filter_sql(
    f: Filters, dates: bool = True, alias: str = "", customer_alias: str | None = None
) -> tuple[str, dict[str, Any]]:
    """WHERE clause (fixed strings; values bound) over a relation with the dimensions.

    Args:
        alias: Prefix of the columns (``r.``).
        customer_alias: Prefix of the customer columns when they come from another
            relation (``dc.`` for a join of `doc_customers`); default `alias`.
    """
    clauses, params = ["true"], {}
    if dates:
        clauses.append(f"{alias}local_day BETWEEN $start AND $end")
        params.update(start=f.start, end=f.end)
    for field, column in COLUMNS.items():
        values = getattr(f, field)
        if values:
            prefix = customer_alias if field in CUSTOMER_FIELDS and customer_alias else alias
            clauses.append(f"list_contains(${column}s::VARCHAR[], {prefix}{column})")
            params[f"{column}s"] = list(values)
    return " AND ".join(clauses), params


def _bounds(r: PageReader) -> tuple[date | None, date | None]:
    first, last = r.rows(f"SELECT min(local_day), max(local_day) FROM {r.rel(DOCS)}")[0]
    return first, last


def filter_options(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What the filter bar offers: the day range, sources (with channel and documents),
    channels, the 300 largest products and brands, and the customers' segments,
    provinces, cities and owners (the 300 with most linked documents each)."""
    r = page_reader(con)
    docs = r.rel(DOCS)
    first, last = _bounds(r)
    sources = [
        {"source": s, "channel": c, "n_docs": int(n)}
        for s, c, n in r.rows(
            f"SELECT source, channel, sum(n_docs) FROM {docs} GROUP BY ALL ORDER BY source, channel"
        )
    ]
    top = {}
    for column in ("product", "brand", *SEGMENT_DIMS):  # fixed names
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
        "segments": top["segment"],
        "provinces": top["province"],
        "cities": top["city"],
        "owners": top["owner"],
    }


def resolve(con: duckdb.DuckDBPyConnection, f: Filters) -> Filters:
    """`f` with a missing start or end taken from the data (unchanged when there is none)."""
    if f.start is not None and f.end is not None:
        return f
    return resolve_with(page_reader(con), f)


def resolve_with(r: PageReader, f: Filters) -> Filters:
    """`resolve` through a reader the caller already has."""
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
