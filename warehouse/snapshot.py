"""Read-only snapshots: readers never block ingestion, and ingestion never blocks readers.

DuckDB lets one process write a file while no other process has it open, even to read. So
after each run the flow publishes a copy of the warehouse beside it,
``<name>.snapshot.duckdb``, written under a temporary name and swapped in with
`os.replace` (atomic on one filesystem). Readers (the dashboard) open short-lived
read-only connections to the newest snapshot; a reader that still has the previous one
open keeps reading it until it closes (the old file lives on while it is open).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from warehouse.db import warehouse

#: Tables never published: readers (the dashboard, its SQL console) must not see them.
PRIVATE_TABLES = ("raw_texts_unmasked",)


def snapshot_path(db_path: str | Path) -> Path:
    """Where the snapshot of a warehouse file is published."""
    db_path = Path(db_path)
    return db_path.with_name(f"{db_path.stem}.snapshot{db_path.suffix or '.duckdb'}")


def publish_snapshot(db_path: str | Path) -> Path:
    """Checkpoint the warehouse and publish a copy of it atomically, without the private
    tables' rows (unmasked texts); returns its path.

    Call it when no other connection of this process has the warehouse open.
    """
    db_path = Path(db_path)
    with warehouse(db_path) as con:
        con.execute("CHECKPOINT")  # the copy must not depend on the write-ahead log
    target = snapshot_path(db_path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(db_path, tmp)
        with duckdb.connect(str(tmp)) as con:
            for table in PRIVATE_TABLES:  # names from the constant above
                con.execute(f"DELETE FROM {table}")
            con.execute("CHECKPOINT")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def readable_path(db_path: str | Path) -> Path:
    """The file readers should open: the snapshot when one is published, else the
    warehouse itself (a warehouse no flow run has written yet)."""
    snap = snapshot_path(db_path)
    return snap if snap.exists() else Path(db_path)
