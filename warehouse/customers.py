"""Customers in the warehouse: storing a customer-file import (customers, their hashed
keys, segment history) and a platform-uid mapping import.

Records come in already hashed (`scrapers.customer_file`); the rows → frame work is done
once in Python, every comparison in SQL over the registered frame, all in one transaction
per import. Re-importing the same file changes nothing and records no new import. Linking
voices to customers is `warehouse.customer_links`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Literal

import duckdb
import pandas as pd
import pyarrow as pa

from voc.customers import SEGMENT_FIELDS, Customer
from warehouse.customer_links import (
    LinkResult,
    LinkShare,
    already_imported,
    customer_status,
    link_documents,
    linked_share_by_source,
)
from warehouse.db import register_frame, transaction

__all__ = [
    "ATTRIBUTE_FIELDS",
    "ImportResult",
    "LinkResult",
    "LinkShare",
    "UidRow",
    "customer_status",
    "link_documents",
    "linked_share_by_source",
    "merge_duplicates",
    "store_customers",
    "store_uid_links",
]

#: Stored attributes of a customer, with their SQL types (column names of `customers`).
ATTRIBUTE_TYPES = {
    "segment": "VARCHAR",
    "province": "VARCHAR",
    "city": "VARCHAR",
    "acquisition": "VARCHAR",
    "owner": "VARCHAR",
    "first_order": "DATE",
    "last_order": "DATE",
    "order_count": "INTEGER",
    "spend": "DOUBLE",
}
ATTRIBUTE_FIELDS = tuple(ATTRIBUTE_TYPES)
#: Messages kept per import (the counts are always complete).
MAX_MESSAGES = 200
_MERGED_FIELDS = (*ATTRIBUTE_FIELDS, "segment_since")
_SEGMENT_NAMES = {
    "segment": "客户分层",
    "province": "省份",
    "city": "城市",
    "acquisition": "客户来源",
    "owner": "客户经理",
}


@dataclass
class ImportResult:
    """What one import did.

    Attributes:
        import_id: The `customer_imports` row; None when nothing changed and this file was
            imported before (a re-import records nothing).
        n_rows: Data rows of the file.
        n_new, n_changed, n_unchanged: Customers added, changed, already stored as they are.
        n_segment_changes: Customers whose segment history got a new row.
        n_keys_new, n_keys_moved: Keys added, keys that now point to another customer.
        n_skipped: Rows not imported (no key, refused conflicts, unknown customer).
        n_conflicts: Rows that contradict an earlier row of the same customer in the file.
        messages: Conflicts and skipped rows, each naming file and row (the first 200).
    """

    import_id: str | None
    n_rows: int = 0
    n_new: int = 0
    n_changed: int = 0
    n_unchanged: int = 0
    n_segment_changes: int = 0
    n_keys_new: int = 0
    n_keys_moved: int = 0
    n_skipped: int = 0
    n_conflicts: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return bool(self.n_new or self.n_changed or self.n_keys_new or self.n_keys_moved)


@dataclass(frozen=True, slots=True)
class UidRow:
    """One uid-file row: the uid's hash (= a post's ``author_hash``), the customer key's
    hash, and where it is (file and row) for messages."""

    uid_hash: str
    key_hash: str
    where: str


def merge_duplicates(
    customers: Sequence[Customer], on_conflict: Literal["last", "refuse"] = "last"
) -> tuple[list[Customer], list[str], int, int]:
    """Collapse rows of one file that share a key into one customer.

    Rows are the same customer when any of their hashed keys is equal. Their keys are
    merged; the attributes are the last row's (a cell it leaves empty keeps the earlier
    row's value). Rows that give different segment dimensions are a conflict: with
    ``last`` the last row wins (each conflicting row reported), with ``refuse`` the
    customer is left out of the import (reported).

    Returns:
        (customers, messages, conflicting rows, rows skipped by ``refuse``).
    """
    owner_of: dict[str, int] = {}
    merged: list[Customer] = []
    n_rows: list[int] = []
    refused: set[int] = set()
    messages: list[str] = []
    n_conflicts = 0
    for c in customers:
        idx = None
        for _, h in c.key_hashes:
            idx = owner_of.get(h)
            if idx is not None:
                break
        if idx is None:  # the common case: a customer's only row
            for _, h in c.key_hashes:
                owner_of[h] = len(merged)
            merged.append(c)
            n_rows.append(1)
            continue
        prev = merged[idx]
        n_rows[idx] += 1
        differ = [
            f
            for f in SEGMENT_FIELDS
            if None not in (getattr(prev, f), getattr(c, f)) and getattr(prev, f) != getattr(c, f)
        ]
        if differ:
            n_conflicts += 1
            if on_conflict == "refuse":
                refused.add(idx)
            if len(messages) < MAX_MESSAGES:
                what = ", ".join(
                    f"{_SEGMENT_NAMES[f]} {getattr(prev, f)} → {getattr(c, f)}" for f in differ
                )
                verdict = (
                    "customer refused / 该客户未导入"
                    if on_conflict == "refuse"
                    else "the last row wins / 以最后一行为准"
                )
                messages.append(
                    f"{c.where}: same customer as {prev.where} with a different {what}; {verdict}"
                )
        added = tuple(k for k in c.key_hashes if k[1] not in owner_of)
        owner_of.update({h: idx for _, h in added})
        # The last row wins; a cell it leaves empty keeps the earlier row's value.
        filled = {f: getattr(prev, f) for f in _MERGED_FIELDS if getattr(c, f) is None}
        merged[idx] = replace(
            c, customer_id=prev.customer_id, key_hashes=prev.key_hashes + added, **filled
        )
    kept = [c for i, c in enumerate(merged) if i not in refused] if refused else merged
    return kept, messages, n_conflicts, sum(n_rows[i] for i in refused)


def _import_id(con: duckdb.DuckDBPyConnection, kind: str, sha256: str) -> tuple[str, bool]:
    """(id for this import, whether the file was imported before)."""
    base = hashlib.sha256(f"{kind}\x1f{sha256}".encode()).hexdigest()[:16]
    n = con.execute(
        "SELECT count(*) FROM customer_imports WHERE import_id = ? OR import_id LIKE ?",
        [base, base + "-%"],
    ).fetchone()[0]
    return (base if n == 0 else f"{base}-{n + 1}"), n > 0


_ARROW_TYPES = {"VARCHAR": pa.string(), "DATE": pa.date32(), "INTEGER": pa.int32(),
                "DOUBLE": pa.float64()}  # fmt: skip


def _frames(customers: Sequence[Customer]) -> tuple[pa.Table, pa.Table]:
    # Typed Arrow columns: DuckDB scans them without looking at a million Python objects.
    rows = pa.table(
        {
            "file_id": pa.array([c.customer_id for c in customers], pa.string()),
            "row_no": pa.array(range(len(customers)), pa.int64()),
            **{
                f: pa.array([getattr(c, f) for c in customers], _ARROW_TYPES[t])
                for f, t in ATTRIBUTE_TYPES.items()
            },
            "segment_since": pa.array([c.segment_since for c in customers], pa.date32()),
        }
    )
    file_ids, hashes, types = [], [], []
    for c in customers:
        for key_type, key_hash in c.key_hashes:
            file_ids.append(c.customer_id)
            hashes.append(key_hash)
            types.append(key_type)
    keys = pa.table(
        {
            "file_id": pa.array(file_ids, pa.string()),
            "key_hash": pa.array(hashes, pa.string()),
            "key_type": pa.array(types, pa.string()),
        }
    )
    return rows, keys


def store_customers(
    con: duckdb.DuckDBPyConnection,
    file_name: str,
    file_sha256: str,
    customers: Sequence[Customer],
    as_of: date,
    *,
    present: Collection[str] = ATTRIBUTE_FIELDS,
    on_conflict: Literal["last", "refuse"] = "last",
    n_rows: int | None = None,
    n_skipped: int = 0,
    now: datetime | None = None,
) -> ImportResult:
    """Store one customer-file import, in one transaction.

    A row is matched to a stored customer through any of its keys (the primary key first),
    else it is a new customer. Changed attributes update `customers`; a change of a segment
    dimension closes the customer's current `customer_segments` row at the row's
    ``segment_since`` (else `as_of`) and opens a new one from that day; a change dated on or
    before the current row's start corrects that row in place. A new customer's first row
    holds since ever (valid_from NULL). Customers not in the file are left as they are.

    Args:
        con: Writable warehouse connection.
        file_name, file_sha256: The file (a re-import of the same bytes that changes nothing
            records no import; the same bytes with the same `as_of` as an earlier import
            are not applied again, so they cannot undo a later export's changes).
        customers: The file's records (`scrapers.customer_file`), duplicates included.
        as_of: The day the file describes (default change day of a segment).
        present: Attributes the file has columns for; the others keep their stored values.
        on_conflict: Duplicate customers with different segments (`merge_duplicates`).
        n_rows: Data rows of the file (default: len(customers)).
        n_skipped: Rows the reader already left out (no key).
        now: The import's timestamp (default: now).
    """
    now = now or datetime.now(UTC)
    # The same bytes for the same day again (a script re-run, `voc demo` twice): applied
    # after a later export they would turn its changes back.
    if done := already_imported(con, file_name, file_sha256, as_of):
        return ImportResult(None, n_unchanged=len(customers), messages=[done])
    merged, messages, n_conflicts, n_refused = merge_duplicates(customers, on_conflict)
    result = ImportResult(
        None,
        n_rows=len(customers) + n_skipped if n_rows is None else n_rows,
        n_skipped=n_skipped + n_refused,
        n_conflicts=n_conflicts,
        messages=messages,
    )
    rows, keys = _frames(merged)
    import_id, seen = _import_id(con, "customers", file_sha256)
    register_frame(con, "incoming_customers", rows)
    register_frame(con, "incoming_keys", keys)
    try:
        with transaction(con):
            _stage_import(con, present, as_of)
            _count(con, result)
            if result.changed_anything or not seen:
                _apply_import(con, import_id, now)
                result.import_id = import_id
                _record_import(con, result, "customers", file_name, file_sha256, as_of, now)
            _drop(con, "imp_res", "imp_inc", "imp_eff", "imp_keys", "imp_seg")
    finally:
        con.unregister("incoming_customers")
        con.unregister("incoming_keys")
    return result


def _stage_import(con: duckdb.DuckDBPyConnection, present: Collection[str], as_of: date) -> None:
    # Column names below come from ATTRIBUTE_TYPES only; every value is bound.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE imp_res AS "
        "SELECT k.file_id, COALESCE(arg_min(c.customer_id, (k.key_hash <> k.file_id)::INT) "
        "FILTER (WHERE c.customer_id IS NOT NULL), k.file_id) AS customer_id "
        "FROM incoming_keys k LEFT JOIN customer_keys c ON c.key_hash = k.key_hash "
        "GROUP BY k.file_id"
    )
    typed = ", ".join(f"CAST(i.{f} AS {t}) AS {f}" for f, t in ATTRIBUTE_TYPES.items())
    # Two rows of the file can resolve to one stored customer (its member id in one row,
    # its phone in another): the last row wins.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE imp_inc AS SELECT r.customer_id, {typed}, "
        "CAST(i.segment_since AS DATE) AS segment_since, i.row_no "
        "FROM incoming_customers i JOIN imp_res r ON r.file_id = i.file_id "
        "QUALIFY row_number() OVER (PARTITION BY r.customer_id ORDER BY i.row_no DESC) = 1"
    )
    eff = ", ".join(f"{'i' if f in present else 'c'}.{f} AS {f}" for f in ATTRIBUTE_FIELDS)
    differs = " OR ".join(f"i.{f} IS DISTINCT FROM c.{f}" for f in ATTRIBUTE_FIELDS if f in present)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE imp_eff AS SELECT i.customer_id, {eff}, "
        "i.segment_since, c.customer_id IS NULL AS is_new, "
        f"c.customer_id IS NOT NULL AND ({differs or 'false'}) AS is_changed "
        "FROM imp_inc i LEFT JOIN customers c ON c.customer_id = i.customer_id"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE imp_keys AS "
        "SELECT DISTINCT ON (k.key_hash) k.key_hash, r.customer_id, k.key_type, "
        "c.key_hash IS NULL AS is_new, "
        "c.key_hash IS NOT NULL AND c.customer_id <> r.customer_id AS is_moved "
        "FROM incoming_keys k JOIN imp_res r ON r.file_id = k.file_id "
        "LEFT JOIN customer_keys c ON c.key_hash = k.key_hash"
    )
    seg_differs = " OR ".join(f"e.{f} IS DISTINCT FROM s.{f}" for f in SEGMENT_FIELDS)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE imp_seg AS SELECT e.customer_id, "
        f"{', '.join('e.' + f for f in SEGMENT_FIELDS)}, "
        "CASE WHEN s.customer_id IS NULL THEN 'open' "
        "WHEN s.valid_from IS NOT NULL AND COALESCE(e.segment_since, ?) <= s.valid_from "
        "THEN 'correct' ELSE 'close' END AS action, "
        "COALESCE(e.segment_since, ?) AS change_day "
        "FROM imp_eff e LEFT JOIN customer_segments s "
        "ON s.customer_id = e.customer_id AND s.valid_to IS NULL "
        f"WHERE s.customer_id IS NULL OR {seg_differs}",
        [as_of, as_of],
    )


def _count(con: duckdb.DuckDBPyConnection, result: ImportResult) -> None:
    n_new, n_changed, n_all = con.execute(
        "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE is_changed), count(*) "
        "FROM imp_eff"
    ).fetchone()
    result.n_new, result.n_changed = n_new, n_changed
    result.n_unchanged = n_all - n_new - n_changed
    result.n_keys_new, result.n_keys_moved = con.execute(
        "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE is_moved) FROM imp_keys"
    ).fetchone()
    result.n_segment_changes = con.execute(
        "SELECT count(*) FROM imp_seg WHERE action <> 'open'"
    ).fetchone()[0]


def _apply_import(con: duckdb.DuckDBPyConnection, import_id: str, now: datetime) -> None:
    attrs = ", ".join(ATTRIBUTE_FIELDS)
    con.execute(
        f"INSERT INTO customers (customer_id, {attrs}, first_import, last_import, updated_at) "
        f"SELECT customer_id, {attrs}, ?, ?, ? FROM imp_eff WHERE is_new",
        [import_id, import_id, now],
    )
    sets = ", ".join(f"{f} = e.{f}" for f in ATTRIBUTE_FIELDS)
    con.execute(
        f"UPDATE customers c SET {sets}, last_import = ?, updated_at = ? "
        "FROM imp_eff e WHERE c.customer_id = e.customer_id AND e.is_changed",
        [import_id, now],
    )
    con.execute(
        "INSERT INTO customer_keys (key_hash, customer_id, key_type, import_id) "
        "SELECT key_hash, customer_id, key_type, ? FROM imp_keys WHERE is_new",
        [import_id],
    )
    con.execute(
        "UPDATE customer_keys c SET customer_id = k.customer_id, key_type = k.key_type, "
        "import_id = ? FROM imp_keys k WHERE c.key_hash = k.key_hash AND k.is_moved",
        [import_id],
    )
    seg_sets = ", ".join(f"{f} = g.{f}" for f in SEGMENT_FIELDS)
    con.execute(
        f"UPDATE customer_segments s SET {seg_sets}, import_id = ? FROM imp_seg g "
        "WHERE s.customer_id = g.customer_id AND s.valid_to IS NULL AND g.action = 'correct'",
        [import_id],
    )
    con.execute(
        "UPDATE customer_segments s SET valid_to = g.change_day FROM imp_seg g "
        "WHERE s.customer_id = g.customer_id AND s.valid_to IS NULL AND g.action = 'close'"
    )
    dims = ", ".join(SEGMENT_FIELDS)
    con.execute(
        f"INSERT INTO customer_segments (customer_id, valid_from, valid_to, {dims}, import_id) "
        "SELECT customer_id, CASE WHEN action = 'close' THEN change_day END, NULL, "
        f"{dims}, ? FROM imp_seg WHERE action IN ('open', 'close')",
        [import_id],
    )


def _record_import(
    con: duckdb.DuckDBPyConnection, result: ImportResult, kind: str, file_name: str,
    file_sha256: str, as_of: date, now: datetime,
) -> None:  # fmt: skip
    r = result
    con.execute(
        "INSERT INTO customer_imports (import_id, kind, file_name, file_sha256, as_of, n_rows, "
        "n_new, n_changed, n_unchanged, n_skipped, n_conflicts, imported_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [r.import_id, kind, file_name, file_sha256, as_of, r.n_rows, r.n_new, r.n_changed,
         r.n_unchanged, r.n_skipped, r.n_conflicts, now],
    )  # fmt: skip


def _drop(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    for table in tables:
        con.execute(f"DROP TABLE IF EXISTS {table}")  # names from the caller's constants


def store_uid_links(
    con: duckdb.DuckDBPyConnection,
    file_name: str,
    file_sha256: str,
    links: Sequence[UidRow],
    as_of: date,
    *,
    n_rows: int | None = None,
    n_skipped: int = 0,
    now: datetime | None = None,
) -> ImportResult:
    """Store a platform-uid → customer mapping: each uid becomes a key of type ``uid`` of
    the customer its key belongs to (matching ``raw_documents.author_hash``).

    A row whose customer key is not in the imported customers is skipped and reported; a
    uid given twice with different customers: the last row wins (reported). In one
    transaction; re-importing the same file changes nothing.
    """
    now = now or datetime.now(UTC)
    result = ImportResult(None, n_rows=len(links) + n_skipped if n_rows is None else n_rows)
    frame = pd.DataFrame(
        {
            "uid_hash": [r.uid_hash for r in links],
            "key_hash": [r.key_hash for r in links],
            "row_no": range(len(links)),
        }
    )
    import_id, seen = _import_id(con, "uids", file_sha256)
    register_frame(con, "incoming_uids", frame)
    try:
        with transaction(con):
            con.execute(
                "CREATE OR REPLACE TEMP TABLE uid_rows AS "
                "SELECT u.uid_hash, u.row_no, c.customer_id FROM incoming_uids u "
                "LEFT JOIN customer_keys c ON c.key_hash = u.key_hash AND c.key_type <> 'uid'"
            )
            unknown = con.execute(
                "SELECT row_no FROM uid_rows WHERE customer_id IS NULL ORDER BY row_no"
            ).fetchall()
            conflicts = con.execute(
                "SELECT max(row_no) FROM uid_rows WHERE customer_id IS NOT NULL "
                "GROUP BY uid_hash HAVING count(DISTINCT customer_id) > 1 ORDER BY 1"
            ).fetchall()
            con.execute(
                "CREATE OR REPLACE TEMP TABLE uid_keys AS "
                "SELECT u.uid_hash, u.customer_id, c.key_hash IS NULL AS is_new, "
                "c.key_hash IS NOT NULL AND c.customer_id <> u.customer_id AS is_moved "
                "FROM uid_rows u LEFT JOIN customer_keys c ON c.key_hash = u.uid_hash "
                "WHERE u.customer_id IS NOT NULL AND (c.key_hash IS NULL OR c.key_type = 'uid') "
                "QUALIFY row_number() OVER (PARTITION BY u.uid_hash ORDER BY u.row_no DESC) = 1"
            )
            new, moved, n_all = con.execute(
                "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE is_moved), "
                "count(*) FROM uid_keys"
            ).fetchone()
            result.n_keys_new = result.n_new = new
            result.n_keys_moved = result.n_changed = moved
            result.n_unchanged = n_all - new - moved
            result.n_skipped = n_skipped + len(unknown)
            result.n_conflicts = len(conflicts)
            result.messages = [
                f"{links[r].where}: no imported customer has this key / 客户文件中没有该客户"
                for (r,) in unknown[:MAX_MESSAGES]
            ] + [
                f"{links[r].where}: this uid was given for another customer above; the last "
                "row wins / 以最后一行为准"
                for (r,) in conflicts[:MAX_MESSAGES]
            ]
            if result.changed_anything or not seen:
                con.execute(
                    "INSERT INTO customer_keys (key_hash, customer_id, key_type, import_id) "
                    "SELECT uid_hash, customer_id, 'uid', ? FROM uid_keys WHERE is_new",
                    [import_id],
                )
                con.execute(
                    "UPDATE customer_keys c SET customer_id = u.customer_id, import_id = ? "
                    "FROM uid_keys u WHERE c.key_hash = u.uid_hash AND u.is_moved",
                    [import_id],
                )
                result.import_id = import_id
                _record_import(con, result, "uids", file_name, file_sha256, as_of, now)
            _drop(con, "uid_rows", "uid_keys")
    finally:
        con.unregister("incoming_uids")
    return result
