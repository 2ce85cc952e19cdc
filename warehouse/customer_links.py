"""Linking voices and survey responses to imported customers, with the segment each
customer had on the day they spoke.

A document links through the customer key its source gave (``raw_documents.customer_key``
= a ``customer_keys.key_hash``: via ``key``); a social post (channel ``social``: Weibo,
complaint platforms) without one links through its author when a uid mapping file made
that author a customer's key of type ``uid`` (via ``uid``). Survey responses link through
their respondent key. The segment columns are the customer's `customer_segments` row valid
on the document's (response's) local day. Unlinked documents keep no row and are counted
(`linked_share_by_source`), never dropped.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime

import duckdb

from voc.customers import SEGMENT_FIELDS
from warehouse.db import transaction

#: Channels whose documents may link through their author (a platform uid mapping).
UID_CHANNELS = ("social",)
_DIMS = ", ".join(f"s.{f}" for f in SEGMENT_FIELDS)
_COLS = ", ".join(SEGMENT_FIELDS)
# The segment row valid on the day: valid_from inclusive (NULL: since ever), valid_to
# exclusive (NULL: current). A QUALIFY guards against overlapping rows written by hand.
_SEGMENT_ON_DAY = (
    "LEFT JOIN customer_segments s ON s.customer_id = l.customer_id "
    "AND (s.valid_from IS NULL OR s.valid_from <= l.local_day) "
    "AND (s.valid_to IS NULL OR l.local_day < s.valid_to) "
    "WHERE l.customer_id IS NOT NULL "
    "QUALIFY row_number() OVER (PARTITION BY l.{id} ORDER BY s.valid_from DESC NULLS LAST) = 1"
)


@dataclass
class LinkResult:
    """What one linking pass did.

    Attributes:
        full: Rebuilt from scratch (after an import) rather than only new documents.
        n_linked: Documents linked by this pass (all of them after a full rebuild).
        n_documents: Documents in the warehouse.
        n_linked_total: Documents linked in all.
        n_responses_linked: Survey responses linked in all.
        seconds: Time taken.
    """

    full: bool
    n_linked: int = 0
    n_documents: int = 0
    n_linked_total: int = 0
    n_responses_linked: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class LinkShare:
    """One source's documents, those whose source gave a customer key, and those linked to
    a customer (a share that drops says linking broke)."""

    source: str
    docs: int
    with_key: int
    linked: int

    @property
    def share_linked(self) -> float:
        return self.linked / self.docs if self.docs else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "share_linked": round(self.share_linked, 4)}


def _n_imports(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM customer_imports").fetchone()[0]


def already_imported(
    con: duckdb.DuckDBPyConnection, file_name: str, file_sha256: str, as_of: date
) -> str | None:
    """A message if these bytes were already imported as of this day (a customer file is
    applied once per as-of day), else None."""
    done = con.execute(
        "SELECT min(imported_at) FROM customer_imports WHERE kind = 'customers' "
        "AND file_sha256 = ? AND as_of = ?",
        [file_sha256, as_of],
    ).fetchone()[0]
    if done is None:
        return None
    return (
        f"{file_name}: 已于 {done:%Y-%m-%d %H:%M} 以同一日期导入过，未重复导入 / already "
        f"imported as of {as_of}; nothing changed"
    )


def needs_full_rebuild(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a customer or uid import happened since the links were last built."""
    row = con.execute("SELECT n_imports FROM customer_link_state WHERE target = 'links'").fetchone()
    return row is None or row[0] != _n_imports(con)


def link_documents(con: duckdb.DuckDBPyConnection, full: bool | None = None) -> LinkResult:
    """(Re)build `doc_customers` and `response_customers`, in one transaction.

    Args:
        con: Writable warehouse connection.
        full: Rebuild every link (True), link only documents and responses that have no
            link yet (False), or decide (None): full after a customer or uid import,
            otherwise incremental.
    """
    started = time.perf_counter()
    full = needs_full_rebuild(con) if full is None else full
    result = LinkResult(full)
    # Incremental: only what has no link yet (new documents; unlinked ones are re-checked,
    # they cannot have become linkable without an import).
    doc_new = "" if full else "AND d.id NOT IN (SELECT doc_id FROM doc_customers) "
    resp_new = (
        "" if full else "AND r.response_id NOT IN (SELECT response_id FROM response_customers) "
    )
    with transaction(con):
        if full:
            con.execute("DELETE FROM doc_customers")
            con.execute("DELETE FROM response_customers")
        before = con.execute("SELECT count(*) FROM doc_customers").fetchone()[0]
        # A literal tuple of constants; the channel names are not user input.
        channels = ", ".join(f"'{c}'" for c in UID_CHANNELS)
        con.execute(
            f"INSERT INTO doc_customers (doc_id, customer_id, via, {_COLS}) "
            f"SELECT l.id, l.customer_id, l.via, {_DIMS} FROM ("
            "SELECT d.id, d.local_day, COALESCE(k.customer_id, u.customer_id) AS customer_id, "
            "CASE WHEN k.customer_id IS NOT NULL THEN 'key' ELSE 'uid' END AS via "
            "FROM raw_documents d "
            "LEFT JOIN customer_keys k ON k.key_hash = d.customer_key "
            f"LEFT JOIN customer_keys u ON d.channel IN ({channels}) AND u.key_type = 'uid' "
            "AND u.key_hash = d.author_hash "
            "WHERE (d.customer_key IS NOT NULL OR d.author_hash IS NOT NULL) "
            f"{doc_new}"
            ") l " + _SEGMENT_ON_DAY.format(id="id")
        )
        result.n_linked_total = con.execute("SELECT count(*) FROM doc_customers").fetchone()[0]
        result.n_linked = result.n_linked_total - before
        con.execute(
            f"INSERT INTO response_customers (response_id, customer_id, {_COLS}) "
            f"SELECT l.response_id, l.customer_id, {_DIMS} FROM ("
            "SELECT r.response_id, r.local_day, k.customer_id FROM survey_responses r "
            "JOIN customer_keys k ON k.key_hash = r.customer_key "
            f"WHERE r.customer_key IS NOT NULL {resp_new}"
            ") l " + _SEGMENT_ON_DAY.format(id="response_id")
        )
        con.execute(
            "INSERT INTO customer_link_state VALUES ('links', ?, ?) ON CONFLICT (target) "
            "DO UPDATE SET n_imports = excluded.n_imports, linked_at = excluded.linked_at",
            [_n_imports(con), datetime.now(UTC)],
        )
    result.n_documents = con.execute("SELECT count(*) FROM raw_documents").fetchone()[0]
    result.n_responses_linked = con.execute("SELECT count(*) FROM response_customers").fetchone()[0]
    result.seconds = time.perf_counter() - started
    return result


def linked_share_by_source(con: duckdb.DuckDBPyConnection) -> list[LinkShare]:
    """Per source: its documents, those with a customer key, and those linked to a
    customer, by source name."""
    rows = con.execute(
        "SELECT d.source, count(*), count(d.customer_key), count(c.doc_id) "
        "FROM raw_documents d LEFT JOIN doc_customers c ON c.doc_id = d.id "
        "GROUP BY d.source ORDER BY d.source"
    ).fetchall()
    return [LinkShare(*row) for row in rows]


def customer_status(con: duckdb.DuckDBPyConnection) -> dict:
    """Customers, keys by type, current segment sizes, the last imports and the share of
    each source's documents linked (``voc customers status``)."""
    keys = dict(
        con.execute("SELECT key_type, count(*) FROM customer_keys GROUP BY 1 ORDER BY 1").fetchall()
    )
    segments = con.execute(
        "SELECT COALESCE(segment, '(none)'), count(*) FROM customer_segments "
        "WHERE valid_to IS NULL GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    cursor = con.execute(
        "SELECT import_id, kind, file_name, as_of, n_rows, n_new, n_changed, n_unchanged, "
        "n_skipped, n_conflicts, imported_at FROM customer_imports "
        "ORDER BY imported_at DESC, import_id DESC LIMIT 10"
    )
    columns = [d[0] for d in cursor.description]
    imports = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return {
        "customers": con.execute("SELECT count(*) FROM customers").fetchone()[0],
        "keys": keys,
        "segment_rows": con.execute("SELECT count(*) FROM customer_segments").fetchone()[0],
        "segments": {name: n for name, n in segments},
        "imports": imports,
        "linked_responses": con.execute("SELECT count(*) FROM response_customers").fetchone()[0],
        "sources": [share.to_dict() for share in linked_share_by_source(con)],
    }
