"""Curated categories in the warehouse (`doc_categories`, `doc_categorisations`).

A run tags what is new; a changed taxonomy re-tags all history from the stored normalised
texts (no re-crawl, raw documents untouched):

    counts = retag(con, load_taxonomy(settings.taxonomy_path))

Like sentiment, only distinct documents are tagged (exact duplicates have
``doc_texts.duplicate_of`` set and stay out of every count).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from nlp.taxonomy import CategoryMatch, Taxonomy

_MATCH_COLUMNS = ["doc_id", "category", "matched_by", "evidence", "score"]


@dataclass(frozen=True, slots=True)
class RetagCounts:
    """What `retag` did.

    Attributes:
        taxonomy_version: The version now stored.
        full: True when a different stored version made it re-tag all history.
        previous_versions: The versions found before (empty on a first run).
        n_docs: Documents tagged by this call.
        n_categorised: Of those, documents that got at least one category.
        n_matches: doc_categories rows written.
        n_removed: Tags dropped because their document is gone or is now a duplicate.
    """

    taxonomy_version: str
    full: bool
    previous_versions: tuple[str, ...]
    n_docs: int
    n_categorised: int
    n_matches: int
    n_removed: int


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


def _register(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    # DuckDB refuses register() while an earlier result is only partly fetched (see loaders).
    con.execute("SELECT 1").fetchall()
    con.register(name, frame)


def stored_versions(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """Taxonomy versions of the stored tags, sorted."""
    rows = con.execute(
        "SELECT DISTINCT taxonomy_version FROM doc_categorisations ORDER BY 1"
    ).fetchall()
    return tuple(r[0] for r in rows)


def select_untagged(
    con: duckdb.DuckDBPyConnection, version: str
) -> list[tuple[str, str, list[str] | None]]:
    """(doc_id, normalised text, tokens or None) of distinct documents not tagged by
    `version` from their current normalised text, by doc_id."""
    return con.execute(
        "SELECT t.doc_id, t.text_norm, t.tokens FROM doc_texts t "
        "WHERE t.duplicate_of IS NULL AND NOT EXISTS (SELECT 1 FROM doc_categorisations g "
        "  WHERE g.doc_id = t.doc_id AND g.taxonomy_version = ? AND g.norm_hash = t.norm_hash) "
        "ORDER BY t.doc_id",
        [version],
    ).fetchall()


def _select_all(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, list[str] | None]]:
    return con.execute(
        "SELECT doc_id, text_norm, tokens FROM doc_texts WHERE duplicate_of IS NULL ORDER BY doc_id"
    ).fetchall()


def retag(con: duckdb.DuckDBPyConnection, taxonomy: Taxonomy) -> RetagCounts:
    """Tag documents with the curated categories, re-tagging all history on a new version.

    When any stored tag comes from another taxonomy version, every distinct document is
    tagged again from ``doc_texts`` and all earlier tags are replaced; otherwise only
    untagged documents (new, or with a rewritten text) are tagged. Tags of documents that
    are gone or became duplicates are dropped. Everything happens in one transaction, so a
    failure leaves the previous tags whole; a second call with the same taxonomy changes
    nothing.
    """
    previous = stored_versions(con)
    full = any(v != taxonomy.version for v in previous)
    docs = _select_all(con) if full else select_untagged(con, taxonomy.version)
    results = taxonomy.tag_many([d[1] for d in docs], [d[2] for d in docs])
    n_matches, n_removed = _write_tags(
        con,
        [(doc[0], found) for doc, found in zip(docs, results, strict=True)],
        taxonomy.version,
        replace_all=full,
    )
    return RetagCounts(
        taxonomy_version=taxonomy.version,
        full=full,
        previous_versions=previous,
        n_docs=len(docs),
        n_categorised=sum(1 for found in results if found),
        n_matches=n_matches,
        n_removed=n_removed,
    )


def _write_tags(
    con: duckdb.DuckDBPyConnection,
    rows: Sequence[tuple[str, Sequence[CategoryMatch]]],
    version: str,
    *,
    replace_all: bool,
) -> tuple[int, int]:
    """Replace the tags of `rows`' documents (or all tags) in one transaction; returns
    (doc_categories rows written, orphaned documents dropped)."""
    matches = pd.DataFrame(
        [(d, m.category, m.matched_by, m.evidence, m.score) for d, ms in rows for m in ms],
        columns=_MATCH_COLUMNS,
    )
    tagged = pd.DataFrame([(d, len(ms)) for d, ms in rows], columns=["doc_id", "n_categories"])
    _register(con, "incoming_categories", matches)
    _register(con, "incoming_tagged", tagged)
    try:
        con.execute("BEGIN TRANSACTION")
        for table in ("doc_categories", "doc_categorisations"):
            if replace_all:
                con.execute(f"DELETE FROM {table}")  # table names from this constant tuple
            else:
                con.execute(
                    f"DELETE FROM {table} WHERE doc_id IN (SELECT doc_id FROM incoming_tagged)"
                )
        n_removed = _drop_orphans(con)
        con.execute(
            "INSERT INTO doc_categories SELECT doc_id, category, matched_by, evidence, score, ? "
            "FROM incoming_categories",
            [version],
        )
        con.execute(
            "INSERT INTO doc_categorisations SELECT i.doc_id, ?, t.norm_hash, i.n_categories, "
            "now() FROM incoming_tagged i JOIN doc_texts t ON t.doc_id = i.doc_id",
            [version],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("incoming_categories")
        con.unregister("incoming_tagged")
    return len(matches), n_removed


def _drop_orphans(con: duckdb.DuckDBPyConnection) -> int:
    """Drop tags whose document is no longer a distinct normalised text; returns documents."""
    orphans = (
        "SELECT g.doc_id FROM doc_categorisations g LEFT JOIN doc_texts t ON t.doc_id = g.doc_id "
        "WHERE t.doc_id IS NULL OR t.duplicate_of IS NOT NULL"
    )
    n = con.execute(f"SELECT count(*) FROM ({orphans})").fetchone()[0]
    if n:
        con.execute(f"DELETE FROM doc_categories WHERE doc_id IN ({orphans})")
        con.execute(f"DELETE FROM doc_categorisations WHERE doc_id IN ({orphans})")
    return n


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
