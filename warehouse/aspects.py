"""Reading aspect-level sentiment (`doc_aspects`, written by the ``aspects`` stage through
`warehouse.enrichment`) and its daily counts."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd


def aspect_day_counts(
    con: duckdb.DuckDBPyConnection,
    model_version: str,
    since: date | None = None,
    until: date | None = None,
) -> pd.DataFrame:
    """Per local day, source and aspect: documents naming it and how many negatively.

    The series spike detection runs on (e.g. 物流 negatives on one source). Only distinct
    documents read by ``model_version`` count; a day without such documents has no row.

    Args:
        con: Warehouse connection (read-only is enough).
        model_version: Whose aspects to count.
        since: First local day included (None = no bound).
        until: Last local day included (None = no bound).

    Returns:
        Columns ``local_day`` (datetime64), ``source``, ``aspect``, ``n``, ``n_negative``,
        ordered by source, aspect and day.
    """
    return con.execute(
        "SELECT r.local_day, r.source, a.aspect, count(*) AS n, "
        " count(*) FILTER (WHERE a.polarity = 'negative') AS n_negative "
        "FROM doc_aspects a JOIN raw_documents r ON r.id = a.doc_id "
        "WHERE a.model_version = ? "
        "AND (?::DATE IS NULL OR r.local_day >= ?) AND (?::DATE IS NULL OR r.local_day <= ?) "
        "GROUP BY ALL ORDER BY r.source, a.aspect, r.local_day",
        [model_version, since, since, until, until],
    ).df()


def aspect_summary(
    con: duckdb.DuckDBPyConnection,
    model_version: str,
    since: date | None = None,
    until: date | None = None,
) -> pd.DataFrame:
    """Per aspect over a period: how often it is named, and how it is judged.

    Args:
        con: Warehouse connection (read-only is enough).
        model_version: Whose aspects to summarise.
        since: First local day included (None = no bound).
        until: Last local day included (None = no bound).

    Returns:
        Columns ``aspect``, ``n``, ``n_negative``, ``n_neutral``, ``n_positive``,
        ``negative_share``, ``mean_score`` and ``latest_negative_clause`` (the clause of
        the newest negative mention, missing if there is none), most negatives first.
    """
    return con.execute(
        "SELECT a.aspect, count(*) AS n, "
        " count(*) FILTER (WHERE a.polarity = 'negative') AS n_negative, "
        " count(*) FILTER (WHERE a.polarity = 'neutral') AS n_neutral, "
        " count(*) FILTER (WHERE a.polarity = 'positive') AS n_positive, "
        " count(*) FILTER (WHERE a.polarity = 'negative') / count(*) AS negative_share, "
        " avg(a.score) AS mean_score, "
        " arg_max(a.clause, (r.created_at, r.id)) FILTER (WHERE a.polarity = 'negative') "
        "   AS latest_negative_clause "
        "FROM doc_aspects a JOIN raw_documents r ON r.id = a.doc_id "
        "WHERE a.model_version = ? "
        "AND (?::DATE IS NULL OR r.local_day >= ?) AND (?::DATE IS NULL OR r.local_day <= ?) "
        "GROUP BY a.aspect ORDER BY n_negative DESC, n DESC, a.aspect",
        [model_version, since, since, until, until],
    ).df()
