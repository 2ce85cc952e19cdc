"""What is pending for an enrichment stage, and saving its results: the one place that knows.

Every stage (`voc.stages.Stage`) keeps its per-document results under one rule: a result is
current while the document's content hash and the stage's fingerprint are the ones in
``doc_stage_state``; otherwise the document is pending. A run does, per stage::

    ids = pending_ids(con, stage, prints)        # the rule, evaluated once
    for each batch of stage.batch_size ids:
        save_results(con, stage, prints, batch, stage.enrich(documents(con, batch), history))

Saving replaces the batch's rows in each of the stage's tables and its state rows in one
transaction, so a failure leaves the previous results whole, and a second run with the same
documents and versions finds nothing pending.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from voc.stages import (
    KeyedHistory,
    Output,
    Stage,
    StageDoc,
    StageSpec,
    check_records,
    partition,
    partitionable,
)
from warehouse import history_keys
from warehouse.db import register_frame, transaction
from warehouse.sql_names import current_result, sql_name

# Every stage it reads from is current for the document ($after: 'stage:fingerprint' keys).
_UPSTREAM_CURRENT = (
    "(SELECT count(*) FROM doc_stage_state u WHERE u.doc_id = r.id "
    "AND u.content_hash = r.content_hash "
    "AND list_contains($after, u.stage || ':' || u.fingerprint)) = len($after)"
)
_DOC_COLUMNS = (
    "SELECT r.id, r.channel, r.content_hash, r.created_at, r.local_day, r.text, t.text_norm, "
    " k.tokens "
)
_DOC_FROM = (
    "FROM raw_documents r LEFT JOIN doc_texts t ON t.doc_id = r.id "
    "LEFT JOIN doc_tokens k ON k.doc_id = r.id "
)
_PENDING = (
    _DOC_COLUMNS + _DOC_FROM + f"WHERE NOT {current_result('r.id')} AND {_UPSTREAM_CURRENT} "
    "AND ($channels::VARCHAR[] IS NULL OR list_contains($channels, r.channel)) "
    "AND (NOT $distinct OR (t.doc_id IS NOT NULL AND t.duplicate_of IS NULL)) "
    "AND ($reads <> 'text_norm' OR t.doc_id IS NOT NULL) "
    "AND ($reads <> 'tokens' OR k.doc_id IS NOT NULL) "
    "AND ($window::INTEGER IS NULL "
    "  OR r.local_day > (SELECT max(local_day) FROM raw_documents) - $window::INTEGER) "
)
_ORDER_OLDEST = "ORDER BY r.created_at, r.id LIMIT $limit"
_ORDER_NEWEST = "ORDER BY r.created_at DESC, r.id LIMIT $limit"


@dataclass(frozen=True, slots=True)
class SaveCounts:
    """What `save_results` wrote: documents, and rows per table."""

    n_docs: int
    rows: Mapping[str, int]

    @property
    def n_records(self) -> int:
        """Rows written over all tables."""
        return sum(self.rows.values())


def _params(stage: Stage | StageSpec, prints: Mapping[str, str], **extra: Any) -> dict:
    return {
        "stage": stage.name,
        "fingerprint": prints[stage.name],
        "after": [f"{name}:{prints[name]}" for name in stage.after],
        "channels": sorted(stage.channels) if stage.channels is not None else None,
        "distinct": stage.distinct_only,
        "reads": stage.reads,
        **extra,
    }


def _doc(row: tuple) -> StageDoc:
    tokens = row[7]
    return StageDoc(*row[:7], tuple(tokens) if tokens is not None else None)


def select_pending(
    con: duckdb.DuckDBPyConnection,
    stage: Stage | StageSpec,
    prints: Mapping[str, str],
    limit: int | None = None,
    *,
    window_days: int | None = None,
    newest_first: bool = False,
) -> list[StageDoc]:
    """Documents whose result for `stage` is missing or stale, oldest first.

    A document qualifies when it is of one of the stage's channels, has what the stage
    reads (normalised text, tokens), is not an exact duplicate (for `distinct_only`
    stages), and every stage it reads from is current for it.

    Args:
        con: Warehouse connection.
        stage: The stage (or spec).
        prints: Fingerprints of the pipeline's stages (`voc.stages.fingerprints`).
        limit: At most this many (None: all).
        window_days: Only documents of the last that many days of data.
        newest_first: Take the newest `limit` (returned oldest first all the same).
    """
    sql = _PENDING + (_ORDER_NEWEST if newest_first else _ORDER_OLDEST)
    rows = con.execute(sql, _params(stage, prints, limit=limit, window=window_days)).fetchall()
    if newest_first:
        rows.reverse()
    return [_doc(r) for r in rows]


#: One stage at a time evaluates the pending rule or sets up its history: over a
#: 1M-document backfill each is a set of hash joins over every document and its stage
#: state (~1 GB of DuckDB memory), and two stages starting together ran DuckDB, whose
#: memory limit every connection of the process shares, out of memory.
_WHOLE_WAREHOUSE = threading.Lock()


def pending_ids(
    con: duckdb.DuckDBPyConnection, stage: Stage | StageSpec, prints: Mapping[str, str]
) -> list[str]:
    """Ids of every document `select_pending` would return, oldest first: the pending rule
    evaluated once for a whole stage run (evaluating it per batch rescans the warehouse
    for every batch: at 1 M documents that was 40 % of the flow's time)."""
    sql = f"SELECT id FROM ({_PENDING} ORDER BY r.created_at, r.id)"
    return [r[0] for r in con.execute(sql, _params(stage, prints, window=None)).fetchall()]


def documents(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[StageDoc]:
    """The stage inputs of these documents, oldest first (a batch of `pending_ids`)."""
    rows = con.execute(
        _DOC_COLUMNS + _DOC_FROM + "WHERE r.id IN (SELECT unnest($ids::VARCHAR[])) "
        "ORDER BY r.created_at, r.id",
        {"ids": list(ids)},
    ).fetchall()
    return [_doc(r) for r in rows]


def count_pending(
    con: duckdb.DuckDBPyConnection, stage: Stage | StageSpec, prints: Mapping[str, str]
) -> int:
    """How many documents `select_pending` would return without a limit."""
    return con.execute(
        f"SELECT count(*) FROM ({_PENDING})", _params(stage, prints, window=None)
    ).fetchone()[0]


def select_history(
    con: duckdb.DuckDBPyConnection, stage: Stage, prints: Mapping[str, str]
) -> list[Any]:
    """The stage's current records (of its first output) of the last `history_days` days
    of data, oldest written first: what an order-dependent stage (near-duplicates) builds
    on. Stale results are not history."""
    if not stage.history_days:
        return []
    output = stage.outputs[0]
    columns = ", ".join(f"o.{sql_name(c)}" for c in output.columns)
    order = f"o.{sql_name(output.time_column)}, " if output.time_column else ""
    rows = con.execute(
        f"SELECT {columns} FROM {sql_name(output.table)} o JOIN raw_documents r ON r.id = o.doc_id "
        f"WHERE {current_result('o.doc_id')} "
        "AND r.local_day >= (SELECT max(local_day) FROM raw_documents) - $days::INTEGER "
        f"ORDER BY {order}r.created_at, r.id",
        {"stage": stage.name, "fingerprint": prints[stage.name], "days": stage.history_days},
    ).fetchall()
    return [output.record(*row) for row in rows]


def _frame(output: Output, records: Sequence[Any]) -> pd.DataFrame:
    columns = output.columns
    rows = []
    for record in records:
        values = [getattr(record, c) for c in columns]
        rows.append([list(v) if isinstance(v, tuple) else v for v in values])
    return pd.DataFrame(rows, columns=list(columns))


def _mark_duplicates(con: duckdb.DuckDBPyConnection, incoming: str) -> None:
    """A document is an exact duplicate when an earlier one (by created_at, then id) has the
    same normalised text; only hashes touched by this batch can change which came first:
    its new hashes, and the old hashes of copies of its documents (a rewritten original
    leaves its copies distinct)."""
    incoming = sql_name(incoming)
    con.execute(
        "UPDATE doc_texts t SET duplicate_of = "
        " CASE WHEN f.first_id = t.doc_id THEN NULL ELSE f.first_id END FROM ("
        " SELECT t2.doc_id, first_value(t2.doc_id) OVER ("
        "   PARTITION BY t2.norm_hash ORDER BY r.created_at, r.id) AS first_id"
        " FROM doc_texts t2 JOIN raw_documents r ON r.id = t2.doc_id"
        f" WHERE t2.norm_hash IN (SELECT norm_hash FROM {incoming})"
        "  OR t2.norm_hash IN (SELECT c.norm_hash FROM doc_texts c"
        f"   WHERE c.duplicate_of IN (SELECT doc_id FROM {incoming}))) f "
        "WHERE t.doc_id = f.doc_id"
    )


# Invariants of a table that hold across documents, restored after its rows change.
_AFTER_SAVE: dict[str, Callable[[duckdb.DuckDBPyConnection, str], None]] = {
    "doc_texts": _mark_duplicates,
}


def save_results(
    con: duckdb.DuckDBPyConnection,
    stage: Stage,
    prints: Mapping[str, str],
    batch: Sequence[StageDoc],
    records: Sequence[Any],
) -> SaveCounts:
    """Replace the results of `batch`'s documents for `stage`, in one transaction.

    Each output table loses the batch's rows (of this version only, for tables that keep
    versions) and gets `records`; every document of the batch is recorded as current with
    its content hash and the stage's fingerprint, records or not (a text with no aspect
    has been read). Saving the same results twice changes nothing.

    Raises:
        TypeError: a record is of none of the stage's output types.
        ValueError: a record is of a document that is not in `batch`.
    """
    by_type = check_records(stage, records)
    docs = {d.doc_id: d for d in batch}
    strays = sorted({r.doc_id for r in records} - docs.keys())
    if strays:
        raise ValueError(
            f"stage {stage.name!r} returned results for documents not in its batch: "
            f"{', '.join(strays[:5])}"
        )
    per_doc = Counter(r.doc_id for r in records)
    state = pd.DataFrame(
        [(d.doc_id, d.content_hash, per_doc.get(d.doc_id, 0)) for d in docs.values()],
        columns=["doc_id", "content_hash", "n_records"],
    )
    written: dict[str, int] = {}
    if state.empty:
        return SaveCounts(0, written)
    register_frame(con, "batch_docs", state)
    names: list[str] = ["batch_docs"]
    try:
        with transaction(con):
            for output in stage.outputs:
                table = sql_name(output.table)
                version_filter = (
                    f" AND {sql_name(output.version_column)} = $version"
                    if output.keep_versions and output.version_column
                    else ""
                )
                con.execute(
                    f"DELETE FROM {table} WHERE doc_id IN (SELECT doc_id FROM batch_docs)"
                    + version_filter,
                    {"version": stage.version} if version_filter else {},
                )
                frame = _frame(output, by_type[output.record])
                written[table] = len(frame)
                if frame.empty:
                    continue
                incoming = f"incoming_{table}"
                register_frame(con, incoming, frame)
                names.append(incoming)
                columns = [sql_name(c) for c in output.columns]
                values = list(columns)
                params: dict[str, Any] = {}
                if output.version_column:
                    columns.append(sql_name(output.version_column))
                    values.append("$version")
                    params["version"] = stage.version
                if output.time_column:
                    columns.append(sql_name(output.time_column))
                    values.append("now()")
                con.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"SELECT {', '.join(values)} FROM {incoming}",
                    params,
                )
                hook = _AFTER_SAVE.get(table)
                if hook:
                    hook(con, incoming)
            if isinstance(stage, KeyedHistory):
                history_keys.save_keys(con, stage, "batch_docs", records)
            con.execute(
                "INSERT OR REPLACE INTO doc_stage_state SELECT $stage, doc_id, content_hash, "
                "$version, $fingerprint, n_records, now() FROM batch_docs",
                {
                    "stage": stage.name,
                    "version": stage.version,
                    "fingerprint": prints[stage.name],
                },
            )
    finally:
        for name in names:
            con.unregister(name)
    return SaveCounts(len(docs), written)


def mark_current(
    con: duckdb.DuckDBPyConnection,
    spec: Stage | StageSpec,
    prints: Mapping[str, str],
    done: Mapping[str, int],
) -> int:
    """Record documents as current for a stage whose results another module writes (theme
    assignment): doc_id → rows written. Call inside that module's transaction.

    Returns:
        Documents recorded.
    """
    if not done:
        return 0
    frame = pd.DataFrame(list(done.items()), columns=["doc_id", "n_records"])
    register_frame(con, "current_docs", frame)
    try:
        con.execute(
            "INSERT OR REPLACE INTO doc_stage_state SELECT $stage, c.doc_id, r.content_hash, "
            "$version, $fingerprint, c.n_records, now() FROM current_docs c "
            "JOIN raw_documents r ON r.id = c.doc_id",
            {"stage": spec.name, "version": spec.version, "fingerprint": prints[spec.name]},
        )
    finally:
        con.unregister("current_docs")
    return len(frame)


def stage_versions(con: duckdb.DuckDBPyConnection, stage: str) -> dict[str, int]:
    """Versions of a stage's stored results → documents, most documents first."""
    rows = con.execute(
        "SELECT version, count(*) FROM doc_stage_state WHERE stage = ? "
        "GROUP BY version ORDER BY count(*) DESC, version",
        [stage],
    ).fetchall()
    return dict(rows)


def run_stage(
    con: duckdb.DuckDBPyConnection,
    stage: Stage,
    prints: Mapping[str, str],
    progress: Callable[[int, int], None] | None = None,
    partition_docs: int | None = None,
) -> SaveCounts:
    """Bring one stage up to date: every pending document, batch by batch, each batch
    saved in its own transaction (an interrupted run keeps the batches it finished).

    The stage computes (`Stage.enrich` is pure); this module only reads and writes.

    Args:
        con: Writable warehouse connection.
        stage: The stage.
        prints: The pipeline's fingerprints.
        progress: Called after each batch with (documents done, documents pending).
        partition_docs: Call `enrich` on slices of this many documents of each batch
            (`voc.stages.partition`, as a Dask run does) for a stage that can be split
            (`voc.stages.partitionable`); None: on the whole batch.
    """
    size = partition_docs if partitionable(stage) else None
    keyed = bool(stage.history_days) and isinstance(stage, KeyedHistory)
    with _WHOLE_WAREHOUSE:
        if keyed:
            history_keys.prune_keys(con, stage)
            history_keys.backfill_keys(con, stage, prints)
            lookup = history_keys.lookup_history(con, stage, prints)
        # What is pending is decided once: a stage's own saves only take documents off
        # the list, and the stages it reads from are done before it starts.
        ids = pending_ids(con, stage, prints)
    total = len(ids)
    step = stage.batch_size or max(total, 1)
    n_docs = 0
    rows: Counter[str] = Counter()
    for start in range(0, total, step):
        batch = documents(con, ids[start : start + step])
        if not batch:
            continue
        # Read per batch: an order-dependent stage builds on its own earlier batches too.
        history = lookup if keyed else select_history(con, stage, prints)
        records = [r for part in partition(batch, size) for r in stage.enrich(part, history)]
        saved = save_results(con, stage, prints, batch, records)
        n_docs += saved.n_docs
        rows.update(saved.rows)
        if progress:
            progress(n_docs, total)
    return SaveCounts(n_docs, dict(rows))
