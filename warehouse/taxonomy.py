"""Reading the curated categories (`doc_categories`; which documents were tagged by which
taxonomy version is the ``taxonomy`` stage's state, `warehouse.enrichment`).

Only distinct documents are tagged (exact duplicates have ``doc_texts.duplicate_of`` set
and stay out of every count).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

_MATCH_COLUMNS = ["doc_id", "category", "matched_by", "evidence", "score"]


@dataclass(frozen=True, slots=True)
class CategoryDayCount:
    """One category's distinct documents (and negative ones) from one source on one day."""

    category: str
    source: str
    day: date
    n_docs: int
    n_negative: int


@dataclass(frozen=True, slots=True)
class CategoryStats:
    """One category over all history: documents, how they matched, first and last day."""

    category: str
    n_docs: int
    n_negative: int | None
    n_keyword: int
    n_regex: int
    n_example: int
    first_day: date | None
    last_day: date | None


@dataclass(frozen=True, slots=True)
class TaxonomySummary:
    """Tagging state of the warehouse (`category_summary`)."""

    versions: tuple[str, ...]
    n_tagged: int
    n_uncategorised: int
    categories: tuple[CategoryStats, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (days as ISO strings)."""
        return {
            "versions": list(self.versions),
            "n_tagged": self.n_tagged,
            "n_uncategorised": self.n_uncategorised,
            "categories": [
                {
                    "category": c.category,
                    "n_docs": c.n_docs,
                    "n_negative": c.n_negative,
                    "n_keyword": c.n_keyword,
                    "n_regex": c.n_regex,
                    "n_example": c.n_example,
                    "first_day": c.first_day.isoformat() if c.first_day else None,
                    "last_day": c.last_day.isoformat() if c.last_day else None,
                }
                for c in self.categories
            ],
        }


def stored_versions(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """Taxonomy versions of the stored tags, sorted."""
    rows = con.execute(
        "SELECT DISTINCT taxonomy_version FROM doc_categorisations ORDER BY 1"
    ).fetchall()
    return tuple(r[0] for r in rows)


def category_day_counts(
    con: duckdb.DuckDBPyConnection, model_version: str
) -> list[CategoryDayCount]:
    """Distinct documents and negative ones (sentiment of `model_version`) per category,
    source and local day, ordered by category, source and day: the input of per-category
    spike detection. Days without documents are absent (count them as zero)."""
    rows = con.execute(
        "SELECT c.category, r.source, r.local_day, count(*) AS n_docs, "
        " count(*) FILTER (WHERE s.label = 'negative') AS n_negative "
        "FROM doc_categories c "
        "JOIN doc_texts t ON t.doc_id = c.doc_id "
        "JOIN raw_documents r ON r.id = c.doc_id "
        "LEFT JOIN doc_sentiment s ON s.doc_id = c.doc_id AND s.model_version = ? "
        "WHERE t.duplicate_of IS NULL "
        "GROUP BY c.category, r.source, r.local_day ORDER BY c.category, r.source, r.local_day",
        [model_version],
    ).fetchall()
    return [CategoryDayCount(*row) for row in rows]


def category_summary(
    con: duckdb.DuckDBPyConnection, model_version: str | None = None
) -> TaxonomySummary:
    """Documents per category over all history, how they matched and their day range.

    Args:
        model_version: When given, also count negative documents by this sentiment model.
    """
    tagged, uncategorised = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE n_categories = 0) FROM doc_categorisations"
    ).fetchone()
    rows = con.execute(
        "SELECT c.category, count(*), "
        " CASE WHEN ?::VARCHAR IS NULL THEN NULL "
        "  ELSE count(*) FILTER (WHERE s.label = 'negative') END, "
        " count(*) FILTER (WHERE c.matched_by = 'keyword'), "
        " count(*) FILTER (WHERE c.matched_by = 'regex'), "
        " count(*) FILTER (WHERE c.matched_by = 'example'), "
        " min(r.local_day), max(r.local_day) "
        "FROM doc_categories c JOIN raw_documents r ON r.id = c.doc_id "
        "LEFT JOIN doc_sentiment s ON s.doc_id = c.doc_id AND s.model_version = ? "
        "GROUP BY c.category ORDER BY count(*) DESC, c.category",
        [model_version, model_version],
    ).fetchall()
    return TaxonomySummary(
        versions=stored_versions(con),
        n_tagged=tagged,
        n_uncategorised=uncategorised,
        categories=tuple(CategoryStats(*row) for row in rows),
    )
