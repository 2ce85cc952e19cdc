"""Document emotion in the warehouse (`doc_emotion`) and the daily anger share.

A run scores what is new for the current model and keeps everything else:

    rows = select_unscored_emotion(con, model.version)
    results = model.predict([text for _, text in rows])
    save_emotions(
        con,
        [(doc_id, r.label, r.score, r.anger) for (doc_id, _), r in zip(rows, results)],
        model.version,
    )
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date

import duckdb
import pandas as pd

#: Channels whose documents get an emotion by default: public posts, where the PR team
#: watches anger; reviews and tickets have their sentiment.
DEFAULT_CHANNELS = ("social",)


def select_unscored_emotion(
    con: duckdb.DuckDBPyConnection,
    model_version: str,
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> list[tuple[str, str]]:
    """(doc_id, normalised text) of distinct documents with no emotion from this model.

    Exact duplicates (``doc_texts.duplicate_of``) are left out: they share the first
    document's text, so one score serves them all.

    Args:
        con: Warehouse connection.
        model_version: The `nlp.emotion.EmotionModel.version` about to score.
        channels: Only documents of these channels.

    Returns:
        Rows ordered by doc_id.
    """
    return con.execute(
        "SELECT t.doc_id, t.text_norm FROM doc_texts t "
        "JOIN raw_documents r ON r.id = t.doc_id "
        "WHERE t.duplicate_of IS NULL AND list_contains(?::VARCHAR[], r.channel) "
        "AND NOT EXISTS (SELECT 1 FROM doc_emotion e "
        "  WHERE e.doc_id = t.doc_id AND e.model_version = ?) "
        "ORDER BY t.doc_id",
        [list(channels), model_version],
    ).fetchall()


def _check(row: tuple[str, str, float, float]) -> tuple[str, str, float, float]:
    doc_id, label, score, anger = row
    if not doc_id or not label:
        raise ValueError(f"emotion row {row!r}: doc_id and label must be non-empty")
    for name, value in (("score", score), ("anger", anger)):
        if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 1):
            raise ValueError(f"emotion of document {doc_id}: {name} {value!r} is not in [0, 1]")
    return doc_id, label, float(score), float(anger)


def save_emotions(
    con: duckdb.DuckDBPyConnection,
    rows: Iterable[tuple[str, str, float, float]],
    model_version: str,
) -> int:
    """Store (doc_id, label, score, anger) for one model version, replacing earlier rows.

    A document appearing twice in ``rows`` keeps its last row (DuckDB leaves the winner
    of duplicate keys inside one upsert undefined). Every row is checked before anything
    is written.

    Raises:
        ValueError: naming the document whose label is empty or whose score or anger is
            not a probability; nothing is written then.

    Returns:
        Rows written.
    """
    latest = {row[0]: _check(tuple(row)) for row in rows}
    if not latest:
        return 0
    frame = pd.DataFrame(list(latest.values()), columns=["doc_id", "label", "score", "anger"])
    # A fully fetched statement first: DuckDB refuses register() while an earlier result
    # of the caller is only partly read.
    con.execute("SELECT 1").fetchall()
    con.register("incoming_emotions", frame)
    try:
        con.execute(
            "INSERT INTO doc_emotion SELECT doc_id, ?, label, score, anger, now() "
            "FROM incoming_emotions ON CONFLICT (doc_id, model_version) DO UPDATE SET "
            "label = excluded.label, score = excluded.score, anger = excluded.anger, "
            "scored_at = excluded.scored_at",
            [model_version],
        )
    finally:
        con.unregister("incoming_emotions")
    return len(frame)


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
