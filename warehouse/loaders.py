"""Idempotent writes: upserts keyed by document id, full refreshes of derived tables.

Every batch is de-duplicated before it reaches DuckDB, because duplicate keys inside one
upsert batch do not raise there and the winner would be undefined.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from nlp.pii import mask_pii
from voc.records import Document, content_hash

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
]


def _register(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    # DuckDB 2.0 refuses register() while a caller's earlier result is only partly fetched;
    # a fully fetched statement clears it.
    con.execute("SELECT 1").fetchall()
    con.register(name, frame)


@dataclass(frozen=True)
class UpsertCounts:
    """What an upsert did: rows inserted, rows changed, rows already identical, and the
    personal data masked in the incoming texts (kind → count, see `nlp.pii`)."""

    new: int
    updated: int
    unchanged: int
    masked: Counter[str] = field(default_factory=Counter)


def mask_documents(docs: Sequence[Document]) -> tuple[list[Document], Counter[str]]:
    """Documents with personal data in their text masked (`nlp.pii.mask_pii`).

    Text-valued attributes (a complaint's title, a mail's subject) are masked too. The
    content hash is taken over the masked text, so the stored hash matches the stored text
    and a re-load of the same document is still unchanged.
    """
    total: Counter[str] = Counter()
    out = []
    for doc in docs:
        masked, found = mask_pii(doc.text)
        attributes = doc.attributes
        if attributes:
            attributes = dict(attributes)
            for key, value in attributes.items():
                if isinstance(value, str):
                    attributes[key], more = mask_pii(value)
                    found += more
        if found:
            total += found
            doc = replace(
                doc, text=masked, content_hash=content_hash(masked), attributes=attributes
            )
        out.append(doc)
    return out, total


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
    mask: bool = True,
    keep_raw_text: bool = False,
) -> UpsertCounts:
    """Insert new documents and update changed ones, in one transaction.

    A document whose text changed loses its derived rows (normalised text, sentiment,
    theme) so the next stages recompute them; a change elsewhere (a complaint's status, a
    post's repost count) updates the row and keeps them. Re-loading identical documents
    changes nothing.

    Args:
        con: Writable warehouse connection.
        docs: Documents to land; duplicates by id are collapsed (last wins).
        run_id: Recorded as first/last run of the rows it writes.
        timezone: Defines `local_day`.
        mask: Mask personal data (phone, ID card, bank card, e-mail, order numbers) in
            the text before it is stored (`mask_documents`).
        keep_raw_text: With `mask`, also keep the unmasked text of masked documents in
            ``raw_texts_unmasked``.
    """
    if not docs:
        return UpsertCounts(0, 0, 0)
    masked: Counter[str] = Counter()
    originals = list(docs)
    if mask:
        docs, masked = mask_documents(docs)
    frame = _documents_frame(docs, ZoneInfo(timezone))
    _register(con, "incoming_docs", frame)
    try:
        con.execute("BEGIN TRANSACTION")
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
            con.execute(
                "CREATE OR REPLACE TEMP TABLE changed_ids AS SELECT unnest(?::VARCHAR[]) AS id",
                [changed],
            )
            con.execute(
                "CREATE OR REPLACE TEMP TABLE rewritten_ids AS SELECT i.id FROM incoming_docs i "
                "JOIN raw_documents r ON r.id = i.id "
                "WHERE r.content_hash IS DISTINCT FROM i.content_hash"
            )
            for table in ("doc_texts", "doc_sentiment", "doc_themes"):
                con.execute(f"DELETE FROM {table} WHERE doc_id IN (SELECT id FROM rewritten_ids)")
            updated_cols = [*_COMPARED, "local_day", "content_hash"]
            assignments = ", ".join(f"{c} = i.{c}" for c in updated_cols)
            con.execute(
                f"UPDATE raw_documents r SET {assignments}, last_run_id = ? "
                "FROM incoming_docs i WHERE r.id = i.id AND i.id IN (SELECT id FROM changed_ids)",
                [run_id],
            )
        con.execute(
            f"INSERT INTO raw_documents ({', '.join(_DOC_COLUMNS)}, first_run_id, last_run_id) "
            f"SELECT {', '.join('i.' + c for c in _DOC_COLUMNS)}, ?, ? "
            "FROM incoming_docs i ANTI JOIN raw_documents r ON r.id = i.id",
            [run_id, run_id],
        )
        if mask and keep_raw_text:
            save_unmasked_texts(con, originals, docs)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("incoming_docs")
    n_new = len(frame) - n_existing
    return UpsertCounts(
        new=n_new, updated=len(changed), unchanged=n_existing - len(changed), masked=masked
    )


def select_unnormalised(
    con: duckdb.DuckDBPyConnection, since: date | None = None, until: date | None = None
) -> list[tuple[str, str]]:
    """(doc_id, raw text) of documents with no normalised text yet, optionally by day range."""
    return con.execute(
        "SELECT r.id, r.text FROM raw_documents r ANTI JOIN doc_texts t ON t.doc_id = r.id "
        "WHERE (?::DATE IS NULL OR r.local_day >= ?) AND (?::DATE IS NULL OR r.local_day <= ?) "
        "ORDER BY r.created_at, r.id",
        [since, since, until, until],
    ).fetchall()


def save_doc_texts(con: duckdb.DuckDBPyConnection, rows: Iterable[tuple[str, str, str]]) -> int:
    """Store (doc_id, normalised text, normalised-text hash), then re-mark exact duplicates.

    A document is a duplicate when an earlier one (by created_at, then id) has the same
    normalised text; it keeps its raw row but is left out of every count and model.

    Returns:
        How many documents are now marked as duplicates in the whole warehouse.
    """
    frame = pd.DataFrame(
        list({r[0]: r for r in rows}.values()), columns=["doc_id", "text_norm", "norm_hash"]
    )
    _register(con, "incoming_texts", frame)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "INSERT INTO doc_texts (doc_id, text_norm, norm_hash) "
            "SELECT doc_id, text_norm, norm_hash FROM incoming_texts "
            "ON CONFLICT (doc_id) DO UPDATE SET text_norm = excluded.text_norm, "
            "norm_hash = excluded.norm_hash, tokens = NULL"
        )
        # Only hashes touched by this batch can change which document came first.
        con.execute(
            "UPDATE doc_texts t SET duplicate_of = "
            " CASE WHEN f.first_id = t.doc_id THEN NULL ELSE f.first_id END FROM ("
            " SELECT t2.doc_id, first_value(t2.doc_id) OVER ("
            "   PARTITION BY t2.norm_hash ORDER BY r.created_at, r.id) AS first_id"
            " FROM doc_texts t2 JOIN raw_documents r ON r.id = t2.doc_id"
            " WHERE t2.norm_hash IN (SELECT norm_hash FROM incoming_texts)) f "
            "WHERE t.doc_id = f.doc_id"
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("incoming_texts")
    return count_duplicates(con)


def count_duplicates(con: duckdb.DuckDBPyConnection) -> int:
    """Documents marked as exact duplicates of an earlier one."""
    query = "SELECT count(*) FROM doc_texts WHERE duplicate_of IS NOT NULL"
    return con.execute(query).fetchone()[0]


def select_unsegmented(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(doc_id, normalised text) of distinct documents not yet segmented."""
    return con.execute(
        "SELECT doc_id, text_norm FROM doc_texts WHERE tokens IS NULL AND duplicate_of IS NULL "
        "ORDER BY doc_id"
    ).fetchall()


def save_tokens(con: duckdb.DuckDBPyConnection, rows: Iterable[tuple[str, list[str]]]) -> int:
    """Store jieba tokens per document; returns rows written."""
    frame = pd.DataFrame(list({r[0]: r for r in rows}.values()), columns=["doc_id", "tokens"])
    if frame.empty:
        return 0
    _register(con, "incoming_tokens", frame)
    try:
        con.execute(
            "UPDATE doc_texts t SET tokens = i.tokens::VARCHAR[] FROM incoming_tokens i "
            "WHERE t.doc_id = i.doc_id"
        )
    finally:
        con.unregister("incoming_tokens")
    return len(frame)


def select_unscored(con: duckdb.DuckDBPyConnection, model_version: str) -> list[tuple[str, str]]:
    """(doc_id, normalised text) of distinct documents with no sentiment from this model."""
    return con.execute(
        "SELECT t.doc_id, t.text_norm FROM doc_texts t "
        "WHERE t.duplicate_of IS NULL AND NOT EXISTS (SELECT 1 FROM doc_sentiment s "
        "  WHERE s.doc_id = t.doc_id AND s.model_version = ?) ORDER BY t.doc_id",
        [model_version],
    ).fetchall()


def save_sentiment(
    con: duckdb.DuckDBPyConnection,
    rows: Iterable[tuple[str, str, float]],
    model_version: str,
) -> int:
    """Store (doc_id, label, score) for one model version; returns rows written."""
    frame = pd.DataFrame(
        list({r[0]: r for r in rows}.values()), columns=["doc_id", "label", "score"]
    )
    if frame.empty:
        return 0
    _register(con, "incoming_sentiment", frame)
    try:
        con.execute(
            "INSERT INTO doc_sentiment SELECT doc_id, ?, label, score, now() "
            "FROM incoming_sentiment ON CONFLICT (doc_id, model_version) DO UPDATE SET "
            "label = excluded.label, score = excluded.score, scored_at = excluded.scored_at",
            [model_version],
        )
    finally:
        con.unregister("incoming_sentiment")
    return len(frame)


def refresh_daily_source_stats(con: duckdb.DuckDBPyConnection, model_version: str) -> int:
    """Recompute the per-day, per-source sentiment counts from scratch; returns rows."""
    con.execute("BEGIN TRANSACTION")
    try:
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
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return con.execute("SELECT count(*) FROM daily_source_stats").fetchone()[0]


def replace_spike_alerts(
    con: duckdb.DuckDBPyConnection, alerts: Sequence[dict], run_id: str
) -> int:
    """Replace all spike alerts (they are recomputed from full history each run)."""
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
    _register(con, "incoming_alerts", frame)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM spike_alerts")
        if not frame.empty:
            con.execute(
                "INSERT INTO spike_alerts SELECT alert_id, source, local_day::DATE, metric, "
                "observed, expected, ratio, z_score, baseline_days, theme_id, theme_label, "
                "theme_keywords::VARCHAR[], theme_doc_count::INTEGER, ? FROM incoming_alerts",
                [run_id],
            )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
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
