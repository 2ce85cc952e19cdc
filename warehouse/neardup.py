"""Near-duplicate groups in the warehouse: which documents are one voice (`doc_groups`).

A run groups what is new and keeps every earlier assignment:

    index = load_index(con)
    assignments = index.add_many(select_ungrouped(con))
    save_groups(con, assignments)

`load_index` rebuilds the index from the stored signatures, so texts are hashed once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import duckdb
import pandas as pd

from nlp.neardup import Assignment, NearDupConfig, NearDupIndex

_FETCH = 10_000


def select_ungrouped(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(doc_id, normalised text) of documents with no group yet, oldest first.

    Exact duplicates are included: 500 copies are one voice of size 500, not one voice.
    Ordered by created_at, then id, so a group's id is its earliest member's.
    """
    return con.execute(
        "SELECT t.doc_id, t.text_norm FROM doc_texts t "
        "JOIN raw_documents r ON r.id = t.doc_id "
        "ANTI JOIN doc_groups g ON g.doc_id = t.doc_id "
        "ORDER BY r.created_at, r.id"
    ).fetchall()


def load_index(
    con: duckdb.DuckDBPyConnection,
    config: NearDupConfig | None = None,
    since: date | None = None,
) -> NearDupIndex:
    """Rebuild the near-duplicate index from stored signatures, in the order they were grouped.

    Args:
        con: Warehouse connection.
        config: Must be the config the signatures were made with (default `NearDupConfig()`).
        since: Only documents from this local day on can be joined by new ones; the index
            holds about 2 KB per document, so a window (reposts and campaigns run for days,
            not years) bounds memory. Group ids of older groups stay as they are.

    Raises:
        ValueError: a stored signature does not fit `config` (regroup from the texts).
    """
    index = NearDupIndex(config)
    cursor = con.execute(
        "SELECT g.doc_id, g.group_id, g.signature, g.similarity FROM doc_groups g "
        "JOIN raw_documents r ON r.id = g.doc_id "
        "WHERE ?::DATE IS NULL OR r.local_day >= ? "
        "ORDER BY g.grouped_at, r.created_at, r.id",
        [since, since],
    )
    while rows := cursor.fetchmany(_FETCH):
        for doc_id, group_id, sig, similarity in rows:
            index.restore(doc_id, group_id, bytes(sig), similarity)
    return index


def save_groups(con: duckdb.DuckDBPyConnection, rows: Iterable[Assignment]) -> int:
    """Store assignments; re-saving a document overwrites its row (idempotent upsert).

    Within one batch the last assignment of a doc id wins (DuckDB would otherwise leave the
    winner of a duplicate key undefined). A row keeps the time it was first grouped, which
    is the order `load_index` replays.

    Returns:
        How many rows were written.
    """
    latest = {a.doc_id: a for a in rows}
    frame = pd.DataFrame(
        {
            "doc_id": [a.doc_id for a in latest.values()],
            "group_id": [a.group_id for a in latest.values()],
            "similarity": [float(a.similarity) for a in latest.values()],
            "signature": [bytes(a.signature) for a in latest.values()],
        },
        columns=["doc_id", "group_id", "similarity", "signature"],
    )
    if frame.empty:
        return 0
    # DuckDB 2.0 refuses register() while an earlier result is only partly fetched.
    con.execute("SELECT 1").fetchall()
    con.register("incoming_groups", frame)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "INSERT INTO doc_groups (doc_id, group_id, similarity, signature, grouped_at) "
            "SELECT doc_id, group_id, similarity, signature::BLOB, now() FROM incoming_groups "
            "ON CONFLICT (doc_id) DO UPDATE SET group_id = excluded.group_id, "
            "similarity = excluded.similarity, signature = excluded.signature"
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("incoming_groups")
    return len(frame)


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
