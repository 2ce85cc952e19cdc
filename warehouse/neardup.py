"""Reading near-duplicate groups: which documents are one voice (`doc_groups`, written by
the ``group`` stage through `warehouse.enrichment`)."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd


def count_voices(
    con: duckdb.DuckDBPyConnection, since: date | None = None, until: date | None = None
) -> int:
    """Distinct voices (near-duplicate groups) with a document between since and until."""
    return con.execute(
        "SELECT count(DISTINCT g.group_id) FROM doc_groups g "
        "JOIN raw_documents r ON r.id = g.doc_id "
        "WHERE (?::DATE IS NULL OR r.local_day >= ?) AND (?::DATE IS NULL OR r.local_day <= ?)",
        [since, since, until, until],
    ).fetchone()[0]


def select_top_voices(
    con: duckdb.DuckDBPyConnection,
    since: date | None = None,
    until: date | None = None,
    limit: int = 20,
) -> pd.DataFrame:
    """The most repeated voices with documents between since and until (local days).

    Returns:
        One row per group, largest first (then earliest, then group id): group_id, size
        (documents in the range), total_size (all time), first_doc_id and text (the group's
        earliest document, the original of a repost wave), first_day and last_day (all
        time), n_sources and n_authors (in the range).
    """
    return con.execute(
        "WITH hits AS ("
        " SELECT g.group_id, count(*) AS size, count(DISTINCT r.source) AS n_sources,"
        "  count(DISTINCT r.author_hash) AS n_authors"
        " FROM doc_groups g JOIN raw_documents r ON r.id = g.doc_id"
        " WHERE (?::DATE IS NULL OR r.local_day >= ?) AND (?::DATE IS NULL OR r.local_day <= ?)"
        " GROUP BY g.group_id) "
        "SELECT h.group_id, h.size, v.size AS total_size, v.first_doc_id, f.text,"
        " v.first_day, v.last_day, h.n_sources, h.n_authors "
        "FROM hits h JOIN doc_voices v ON v.group_id = h.group_id "
        "JOIN raw_documents f ON f.id = v.first_doc_id "
        "ORDER BY h.size DESC, v.first_day, h.group_id LIMIT ?",
        [since, since, until, until, limit],
    ).df()
