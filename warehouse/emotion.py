"""Reading document emotion (`doc_emotion`, written by the ``emotion`` stage through
`warehouse.enrichment`) and the daily anger share."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd


def latest_emotion_model_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The emotion model version that scored most recently (None before any scoring)."""
    rows = con.execute(
        "SELECT model_version FROM doc_emotion ORDER BY scored_at DESC, model_version LIMIT 1"
    ).fetchall()
    return rows[0][0] if rows else None


def daily_anger_share(
    con: duckdb.DuckDBPyConnection,
    model_version: str,
    since: date | None = None,
    until: date | None = None,
) -> pd.DataFrame:
    """Per local day and source: documents with an emotion, how many angry, their share.

    Only distinct documents (exact duplicates left out) scored by ``model_version``
    count; a day without scored documents has no row.

    Args:
        con: Warehouse connection (read-only is enough).
        model_version: Whose emotions to count.
        since: First local day included (None = no bound).
        until: Last local day included (None = no bound).

    Returns:
        Columns ``local_day`` (datetime64, as the other daily frames), ``source``, ``n``,
        ``n_anger``, ``anger_share``, ordered by source and day.
    """
    return con.execute(
        "SELECT r.local_day, r.source, count(*) AS n, "
        " count(*) FILTER (WHERE e.label = 'anger') AS n_anger, "
        " count(*) FILTER (WHERE e.label = 'anger') / count(*) AS anger_share "
        "FROM doc_emotion e JOIN doc_texts t ON t.doc_id = e.doc_id "
        "JOIN raw_documents r ON r.id = e.doc_id "
        "WHERE e.model_version = ? AND t.duplicate_of IS NULL "
        "AND (?::DATE IS NULL OR r.local_day >= ?) AND (?::DATE IS NULL OR r.local_day <= ?) "
        "GROUP BY r.local_day, r.source ORDER BY r.source, r.local_day",
        [model_version, since, since, until, until],
    ).df()
