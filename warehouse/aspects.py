"""Aspect-level sentiment in the warehouse (`doc_aspects`) and its daily counts.

A run reads what is new (or rewritten) for the current model and keeps everything else:

    rows = select_unscored_aspects(con, model.version)
    found = model.extract_many([text for _, text in rows])
    save_aspects(con, [(doc_id, m) for (doc_id, _), m in zip(rows, found)], model.version)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date

import duckdb
import pandas as pd

from nlp.aspects import POLARITIES, AspectSentiment, strongest_by_aspect


def select_unscored_aspects(
    con: duckdb.DuckDBPyConnection, model_version: str
) -> list[tuple[str, str]]:
    """(doc_id, normalised text) of distinct documents this model has not read yet.

    Exact duplicates (``doc_texts.duplicate_of``) are left out: they share the first
    document's text. A document whose normalised text changed since it was read (another
    ``norm_hash``) is returned again.

    Returns:
        Rows ordered by doc_id.
    """
    return con.execute(
        "SELECT t.doc_id, t.text_norm FROM doc_texts t "
        "WHERE t.duplicate_of IS NULL AND NOT EXISTS (SELECT 1 FROM doc_aspects_scored s "
        "  WHERE s.doc_id = t.doc_id AND s.model_version = ? AND s.norm_hash = t.norm_hash) "
        "ORDER BY t.doc_id",
        [model_version],
    ).fetchall()


def _check(doc_id: str, m: AspectSentiment) -> AspectSentiment:
    if not doc_id or not m.aspect:
        raise ValueError(f"aspect row of document {doc_id!r}: doc_id and aspect must be set")
    if m.polarity not in POLARITIES:
        raise ValueError(f"aspect {m.aspect} of document {doc_id}: polarity {m.polarity!r}")
    for name, value in (("score", m.score), ("confidence", m.confidence)):
        if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 1):
            raise ValueError(
                f"aspect {m.aspect} of document {doc_id}: {name} {value!r} is not in [0, 1]"
            )
    return m


def save_aspects(
    con: duckdb.DuckDBPyConnection,
    rows: Iterable[tuple[str, Sequence[AspectSentiment]]],
    model_version: str,
) -> int:
    """Store each document's aspect opinions for one model, replacing what it had.

    Each document keeps one row per aspect (`nlp.aspects.strongest_by_aspect`); a document
    with no aspect is still recorded as read. A document appearing twice in ``rows`` keeps
    its last entry. Everything is checked first and written in one transaction, so a bad
    row writes nothing; saving the same results again changes nothing.

    Args:
        con: Writable warehouse connection.
        rows: (doc_id, that document's mentions from `AspectModel.extract`).
        model_version: `AspectModel.version`.

    Raises:
        ValueError: naming the document whose aspect, polarity, score or confidence is
            invalid.

    Returns:
        Aspect rows written.
    """
    latest = {doc_id: list(mentions) for doc_id, mentions in rows}
    if not latest:
        return 0
    kept = [
        (doc_id, m.aspect, m.polarity, float(m.score), float(m.confidence), m.clause)
        for doc_id, mentions in latest.items()
        for m in strongest_by_aspect(_check(doc_id, x) for x in mentions)
    ]
    columns = ["doc_id", "aspect", "polarity", "score", "confidence", "clause"]
    aspects = pd.DataFrame(kept, columns=columns).astype({"doc_id": str, "clause": str})
    docs = pd.DataFrame(
        [(d, sum(r[0] == d for r in kept)) for d in latest], columns=["doc_id", "n_aspects"]
    )
    # A fully fetched statement first: DuckDB refuses register() while an earlier result
    # of the caller is only partly read.
    con.execute("SELECT 1").fetchall()
    con.register("incoming_aspects", aspects)
    con.register("incoming_aspect_docs", docs)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "DELETE FROM doc_aspects WHERE model_version = ? "
            "AND doc_id IN (SELECT doc_id FROM incoming_aspect_docs)",
            [model_version],
        )
        con.execute(
            "INSERT INTO doc_aspects SELECT doc_id, aspect, polarity, score, confidence, "
            "clause, ?, now() FROM incoming_aspects",
            [model_version],
        )
        con.execute(
            "INSERT INTO doc_aspects_scored SELECT i.doc_id, ?, coalesce(t.norm_hash, ''), "
            "i.n_aspects, now() FROM incoming_aspect_docs i "
            "LEFT JOIN doc_texts t ON t.doc_id = i.doc_id "
            "ON CONFLICT (doc_id, model_version) DO UPDATE SET norm_hash = excluded.norm_hash, "
            "n_aspects = excluded.n_aspects, scored_at = excluded.scored_at",
            [model_version],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("incoming_aspects")
        con.unregister("incoming_aspect_docs")
    return len(kept)


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
