"""Idempotent writes: upserts keyed by document id, full refreshes of derived tables.

Every batch is de-duplicated before it reaches DuckDB, because duplicate keys inside one
upsert batch do not raise there and the winner would be undefined.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from voc.records import Document
from warehouse.db import register_frame, transaction

_DOC_COLUMNS = [
    "id",
    "source",
    "channel",
    "external_id",
    "author_hash",
    "text",
    "rating",
    "created_at",
    "local_day",
    "url",
    "product",
    "brand",
    "content_hash",
    "repost_count",
    "comment_count",
    "attributes",
    "customer_key",
]
# Columns whose change makes an incoming document an update rather than unchanged.
_COMPARED = [
    "text",
    "rating",
    "created_at",
    "url",
    "product",
    "brand",
    "repost_count",
    "comment_count",
    "author_hash",
    "attributes",
    "customer_key",
]


@dataclass(frozen=True)
class UpsertCounts:
    """What an upsert did: rows inserted, rows changed, rows already identical."""

    new: int
    updated: int
    unchanged: int


def save_unmasked_texts(
    con: duckdb.DuckDBPyConnection, originals: Sequence[Document], stored: Sequence[Document]
) -> int:
    """Keep the original text of each document whose stored text was masked.

    Only called when the operator turns ``keep_raw_text`` on; the table is separate so that
    access to it can be restricted. Returns the rows written.
    """
    rows = {o.id: o.text for o, s in zip(originals, stored, strict=True) if o.text != s.text}
    if rows:
        con.executemany(
            "INSERT OR REPLACE INTO raw_texts_unmasked VALUES (?, ?, now())", list(rows.items())
        )
    return len(rows)


def _documents_frame(docs: Sequence[Document], tz: ZoneInfo) -> pd.DataFrame:
    latest: dict[str, Document] = {}
    for doc in docs:  # last one wins, deterministically
        latest[doc.id] = doc
    rows = []
    for doc in latest.values():
        rows.append(
            {
                "id": doc.id,
                "source": doc.source,
                "channel": doc.channel,
                "external_id": doc.external_id,
                "author_hash": doc.author_hash,
                "text": doc.text,
                "rating": doc.rating,
                "created_at": pd.Timestamp(doc.created_at).tz_convert("UTC"),
                "local_day": doc.created_at.astimezone(tz).date(),
                "url": doc.url,
                "product": doc.product,
                "brand": doc.brand,
                "content_hash": doc.content_hash,
                "repost_count": doc.repost_count,
                "comment_count": doc.comment_count,
                # Sorted keys, so an unchanged dict serialises to the same JSON text.
                "attributes": (
                    json.dumps(doc.attributes, ensure_ascii=False, sort_keys=True)
                    if doc.attributes
                    else None
                ),
                "customer_key": doc.customer_key,
            }
        )
    frame = pd.DataFrame(rows, columns=_DOC_COLUMNS)
    frame["rating"] = frame["rating"].astype("float64")
    frame["repost_count"] = frame["repost_count"].astype("Int64")
    frame["comment_count"] = frame["comment_count"].astype("Int64")
    return frame


def upsert_documents(
    con: duckdb.DuckDBPyConnection,
    docs: Sequence[Document],
    run_id: str,
    timezone: str = "Asia/Shanghai",
    originals: Sequence[Document] | None = None,
) -> UpsertCounts:
    """Insert new documents and update changed ones, in one transaction.

    A change of any compared column updates the row; the enrichment stages see a changed
    content hash and recompute that document (`warehouse.enrichment`). Re-loading identical
    documents changes nothing. Personal data is masked before this (`nlp.pii`).

    Args:
        con: Writable warehouse connection.
        docs: Documents to land; duplicates by id are collapsed (last wins).
        run_id: Recorded as first/last run of the rows it writes.
        timezone: Defines `local_day`.
        originals: The same documents before masking, when the operator keeps the unmasked
            text of masked documents (``raw_texts_unmasked``).
    """
    if not docs:
        return UpsertCounts(0, 0, 0)
    frame = _documents_frame(docs, ZoneInfo(timezone))
    register_frame(con, "incoming_docs", frame)
    try:
        with transaction(con):
            changed_cond = " OR ".join(f"r.{c} IS DISTINCT FROM i.{c}" for c in _COMPARED)
            changed = [
                row[0]
                for row in con.execute(
                    "SELECT i.id FROM incoming_docs i JOIN raw_documents r ON r.id = i.id "
                    f"WHERE {changed_cond}"  # column names only, from the constant above
                ).fetchall()
            ]
            n_existing = con.execute(
                "SELECT count(*) FROM incoming_docs i JOIN raw_documents r ON r.id = i.id"
            ).fetchone()[0]
            if changed:
                updated_cols = [*_COMPARED, "local_day", "content_hash"]
                assignments = ", ".join(f"{c} = i.{c}" for c in updated_cols)
                con.execute(
                    f"UPDATE raw_documents r SET {assignments}, last_run_id = ? "
                    "FROM incoming_docs i WHERE r.id = i.id "
                    "AND i.id IN (SELECT unnest(?::VARCHAR[]))",
                    [run_id, changed],
                )
            con.execute(
                f"INSERT INTO raw_documents ({', '.join(_DOC_COLUMNS)}, first_run_id, "
                f"last_run_id) SELECT {', '.join('i.' + c for c in _DOC_COLUMNS)}, ?, ? "
                "FROM incoming_docs i ANTI JOIN raw_documents r ON r.id = i.id",
                [run_id, run_id],
            )
            if originals is not None:
                save_unmasked_texts(con, originals, docs)
    finally:
        con.unregister("incoming_docs")
    n_new = len(frame) - n_existing
    return UpsertCounts(new=n_new, updated=len(changed), unchanged=n_existing - len(changed))


def newest_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest local day of any document (None for an empty warehouse)."""
    return con.execute("SELECT max(local_day) FROM raw_documents").fetchone()[0]


def count_duplicates(con: duckdb.DuckDBPyConnection) -> int:
    """Documents marked as exact duplicates of an earlier one."""
    query = "SELECT count(*) FROM doc_texts WHERE duplicate_of IS NOT NULL"
    return con.execute(query).fetchone()[0]


def refresh_daily_source_stats(con: duckdb.DuckDBPyConnection, model_version: str) -> int:
    """Recompute the per-day, per-source sentiment counts from scratch; returns rows."""
    with transaction(con):
        con.execute("DELETE FROM daily_source_stats")
        con.execute(
            "INSERT INTO daily_source_stats "
            "SELECT r.local_day, r.source, any_value(r.channel), count(*), "
            " count(*) FILTER (WHERE s.label = 'negative'), "
            " count(*) FILTER (WHERE s.label = 'positive'), "
            " count(*) FILTER (WHERE s.label = 'negative') / count(*) "
            "FROM raw_documents r JOIN doc_texts t ON t.doc_id = r.id "
            "JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = ? "
            "WHERE t.duplicate_of IS NULL GROUP BY r.local_day, r.source",
            [model_version],
        )
    return con.execute("SELECT count(*) FROM daily_source_stats").fetchone()[0]


def replace_spike_alerts(
    con: duckdb.DuckDBPyConnection, alerts: Sequence[dict], run_id: str
) -> int:
    """Replace all spike alerts (every run writes them all, from kept and new verdicts)."""
    columns = [
        "alert_id",
        "source",
        "local_day",
        "metric",
        "observed",
        "expected",
        "ratio",
        "z_score",
        "baseline_days",
        "theme_id",
        "theme_label",
        "theme_keywords",
        "theme_doc_count",
    ]
    frame = pd.DataFrame([{c: a.get(c) for c in columns} for a in alerts], columns=columns)
    register_frame(con, "incoming_alerts", frame)
    try:
        with transaction(con):
            con.execute("DELETE FROM spike_alerts")
            if not frame.empty:
                con.execute(
                    "INSERT INTO spike_alerts SELECT alert_id, source, local_day::DATE, "
                    "metric, observed, expected, ratio, z_score, baseline_days, theme_id, "
                    "theme_label, theme_keywords::VARCHAR[], theme_doc_count::INTEGER, ? "
                    "FROM incoming_alerts",
                    [run_id],
                )
    finally:
        con.unregister("incoming_alerts")
    return len(frame)


def start_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    flow: str,
    since: date | None,
    until: date | None,
) -> None:
    """Record that a run started."""
    con.execute(
        "INSERT INTO run_log VALUES (?, ?, ?, ?, now(), NULL, 'running')",
        [run_id, flow, since, until],
    )


def record_stage(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    stage: str,
    *,
    source: str = "",
    n_in: int,
    n_out: int,
    n_skipped: int = 0,
    n_errors: int = 0,
    seconds: float = 0.0,
) -> None:
    """Record one stage's counts (re-recording the same stage replaces it)."""
    con.execute(
        "INSERT OR REPLACE INTO run_stages VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [run_id, stage, source, n_in, n_out, n_skipped, n_errors, seconds],
    )


def record_errors(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    stage: str,
    source: str,
    messages: Sequence[str],
) -> None:
    """Record error/skip messages (each names the source, file, row or URL)."""
    for message in messages:
        con.execute(
            "INSERT INTO run_errors VALUES (?, ?, ?, ?, now())", [run_id, stage, source, message]
        )


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str) -> None:
    """Record a run's end and final status (``ok``, ``partial`` or ``failed``)."""
    con.execute(
        "UPDATE run_log SET ended_at = now(), status = ? WHERE run_id = ?", [status, run_id]
    )
