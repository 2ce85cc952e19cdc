"""Keyed history (`voc.stages.KeyedHistory`): the lookup keys of a stage's stored records,
and the records a new batch's keys select from the stage's history window.

The near-duplicate stage is the one such stage: instead of every signature of the last 60
days (read, restored and bucketed in Python on every run, two thirds of the stage's time at
300k documents), a run reads the documents sharing a signature digest or an LSH band key
with its new documents: one hash join of the batch's keys against ``doc_group_keys``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from voc.stages import HistoryLookup, KeyedHistory, Stage
from warehouse.db import register_frame, transaction
from warehouse.sql_names import current_result, sql_name

# Rows per backfill step: a 512-byte signature each, so a step holds ~25 MB of them.
_BACKFILL_ROWS = 50_000


def _window(stage: Stage, among: str) -> str:
    """The stage's current records of its history window with their history order, of the
    documents `among` selects (the current-result check is the costly part: only the
    candidates get it)."""
    output = stage.outputs[0]
    written = f"o.{sql_name(output.time_column)}" if output.time_column else "NULL"
    return (
        f"SELECT o.doc_id, o.group_id, {written} AS written, r.created_at "
        f"FROM {sql_name(output.table)} o JOIN raw_documents r ON r.id = o.doc_id "
        f"WHERE o.doc_id IN ({among}) AND {current_result('o.doc_id')} "
        "AND r.local_day >= (SELECT max(local_day) FROM raw_documents) - $days::INTEGER"
    )


def _params(stage: Stage, prints: dict[str, str] | Any) -> dict[str, Any]:
    return {"stage": stage.name, "fingerprint": prints[stage.name], "days": stage.history_days}


def _insert_keys(con: duckdb.DuckDBPyConnection, stage: Any, records: Sequence[Any]) -> int:
    ids, slots, keys = stage.record_keys(records)
    frame = pd.DataFrame(
        {
            "doc_id": pd.Series(ids, dtype=object),
            "slot": np.asarray(slots, dtype=np.int16),
            "key": np.asarray(keys, dtype=np.uint64),
        }
    )
    if frame.empty:
        return 0
    register_frame(con, "incoming_keys", frame)
    try:
        con.execute(
            f"INSERT INTO {sql_name(stage.keys_table)} SELECT doc_id, slot, key FROM incoming_keys"
        )
    finally:
        con.unregister("incoming_keys")
    return len(frame)


def save_keys(
    con: duckdb.DuckDBPyConnection, stage: KeyedHistory, batch: str, records: Sequence[Any]
) -> int:
    """Replace the keys of the documents in view `batch` (a ``doc_id`` column) with those of
    `records`; call inside the transaction that saves the records.

    Returns:
        Key rows written.
    """
    con.execute(
        f"DELETE FROM {sql_name(stage.keys_table)} "
        f"WHERE doc_id IN (SELECT doc_id FROM {sql_name(batch)})"
    )
    return _insert_keys(con, stage, records)


def prune_keys(con: duckdb.DuckDBPyConnection, stage: Stage) -> int:
    """Drop the keys of documents older than the stage's history window: no lookup reads
    them again (the window only moves forward), and the table, which every lookup scans,
    stays the size of the window rather than of the warehouse. A longer window later gets
    them back from `backfill_keys`.

    Returns:
        Key rows deleted.
    """
    return con.execute(
        f"DELETE FROM {sql_name(stage.keys_table)} WHERE doc_id IN (SELECT id FROM raw_documents "
        "WHERE local_day < (SELECT max(local_day) FROM raw_documents) - $days::INTEGER)",
        {"days": stage.history_days},
    ).fetchone()[0]


def backfill_keys(con: duckdb.DuckDBPyConnection, stage: Stage, prints: dict[str, str]) -> int:
    """Write the keys of the window's current records that have none (grouped before the
    keys table existed, or written by another tool), in one transaction.

    Returns:
        Records given keys.
    """
    output = stage.outputs[0]
    columns = ", ".join(f"o.{sql_name(c)}" for c in output.columns)
    table = sql_name(stage.keys_table)
    cursor = con.cursor()
    try:
        keyless = (
            f"SELECT doc_id FROM {sql_name(output.table)} "
            f"ANTI JOIN (SELECT doc_id FROM {table} WHERE slot = 0) USING (doc_id)"
        )
        cursor.execute(
            f"SELECT {columns} FROM {sql_name(output.table)} o "
            f"WHERE o.doc_id IN (SELECT doc_id FROM ({_window(stage, keyless)}))",
            _params(stage, prints),
        )
        done = 0
        with transaction(con):
            while rows := cursor.fetchmany(_BACKFILL_ROWS):
                _insert_keys(con, stage, [output.record(*row) for row in rows])
                done += len(rows)
    finally:
        cursor.close()
    return done


def lookup_history(
    con: duckdb.DuckDBPyConnection, stage: Stage, prints: dict[str, str]
) -> HistoryLookup:
    """The `HistoryLookup` of a keyed stage's window (the rule of `voc.stages.KeyedHistory`).

    Every record of the window that shares any key with one of its documents has a row of
    that key, and copies (same slot-0 key) share every key, so the lookup sees all copies
    of what it finds and can tell the first.
    """
    output = stage.outputs[0]
    columns = ", ".join(f"o.{sql_name(c)}" for c in output.columns)
    table = sql_name(stage.keys_table)
    sql = (
        "WITH probe AS (SELECT DISTINCT slot, key FROM probe_keys), "
        f"found AS (SELECT k.doc_id, k.slot, k.key FROM {table} k "
        " SEMI JOIN probe p ON p.slot = k.slot AND p.key = k.key), "
        f"w AS ({_window(stage, 'SELECT doc_id FROM found')}), "
        "hits AS (SELECT * FROM found WHERE doc_id IN (SELECT doc_id FROM w)), "
        # The first record of each digest: the index keeps no entry for its later copies.
        "firsts AS (SELECT w.*, d.key AS digest FROM w "
        f" JOIN {table} d ON d.doc_id = w.doc_id AND d.slot = 0 "
        " QUALIFY row_number() OVER ("
        "  PARTITION BY d.key ORDER BY w.written, w.created_at, w.doc_id) = 1), "
        "bucketed AS (SELECT f.doc_id FROM firsts f JOIN hits h ON h.doc_id = f.doc_id "
        " WHERE h.slot > 0 QUALIFY row_number() OVER ("
        "  PARTITION BY h.slot, h.key, f.group_id ORDER BY f.written, f.created_at, f.doc_id"
        " ) <= $cap), "
        "chosen AS (SELECT doc_id FROM bucketed UNION "
        " SELECT doc_id FROM firsts WHERE digest IN (SELECT key FROM probe WHERE slot = 0)) "
        f"SELECT {columns} FROM firsts f JOIN {sql_name(output.table)} o ON o.doc_id = f.doc_id "
        "WHERE f.doc_id IN (SELECT doc_id FROM chosen) "
        "ORDER BY f.written, f.created_at, f.doc_id"
    )
    params = {**_params(stage, prints), "cap": stage.bucket_cap}

    def lookup(slots: Sequence[int], keys: Sequence[int]) -> list[Any]:
        probe = pd.DataFrame(
            {"slot": np.asarray(slots, dtype=np.int16), "key": np.asarray(keys, dtype=np.uint64)}
        )
        register_frame(con, "probe_keys", probe)
        try:
            rows = con.execute(sql, params).fetchall()
        finally:
            con.unregister("probe_keys")
        return [output.record(*row) for row in rows]

    return lookup
