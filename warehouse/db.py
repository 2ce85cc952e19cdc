"""Opening the warehouse and applying its versioned migrations."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

#: A warehouse connection, for modules above the warehouse that pass one along without
#: importing DuckDB themselves.
Connection = duckdb.DuckDBPyConnection

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class WarehouseError(RuntimeError):
    """The warehouse file is missing, locked or not migrated."""


class WarehouseBusyError(WarehouseError):
    """Another process (an ingestion run) holds the warehouse file's write lock."""


def _open_error(path: Path, mode: str, exc: duckdb.IOException) -> WarehouseError:
    if "lock" in str(exc).lower():
        return WarehouseBusyError(f"warehouse {path} is in use by another process ({mode}): {exc}")
    return WarehouseError(f"cannot open warehouse {path} for {mode}: {exc}")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def list_migrations() -> list[Migration]:
    """All bundled migrations, ordered by version."""
    found = []
    for entry in resources.files("warehouse").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def migrate(
    con: duckdb.DuckDBPyConnection, migrations: Sequence[Migration] | None = None
) -> list[int]:
    """Apply pending migrations, each in one transaction together with its record.

    A migration that fails is rolled back whole and stays pending.

    Args:
        con: Writable connection.
        migrations: Migrations to consider (default: the bundled ones).

    Returns:
        The versions applied by this call.
    """
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for migration in sorted(migrations or list_migrations(), key=lambda m: m.version):
        if migration.version in done:
            continue
        with transaction(con):
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, now())",
                [migration.version, migration.name],
            )
        applied.append(migration.version)
    return applied


def open_warehouse(path: str | Path, lock_wait: float = 30.0) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse for writing and bring it up to date.

    Args:
        path: The DuckDB file.
        lock_wait: Seconds to keep retrying while another process (a dashboard query) holds
            the file; its read-only connections last well under a second.

    Raises:
        WarehouseBusyError: the file stayed locked for `lock_wait` seconds.
        WarehouseError: the file cannot be opened at all.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_wait
    while True:
        try:
            con = duckdb.connect(str(path))
            break
        except duckdb.IOException as exc:
            error = _open_error(path, "writing", exc)
            if not isinstance(error, WarehouseBusyError) or time.monotonic() >= deadline:
                raise error from exc
            time.sleep(0.2)
    migrate(con)
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction: committed when the block ends, rolled back whole if it raises.

    Every multi-statement write goes through here, so a failure never leaves half a load.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def register_frame(con: duckdb.DuckDBPyConnection, name: str, frame: object) -> None:
    """Register a DataFrame as a view for one statement batch (unregister it after).

    DuckDB 2.0 refuses register() while a caller's earlier result is only partly fetched; a
    fully fetched statement clears it.
    """
    con.execute("SELECT 1").fetchall()
    con.register(name, frame)


@contextmanager
def warehouse(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Context manager around `open_warehouse` that always closes the connection."""
    con = open_warehouse(path)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def read_only(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-only connection; keep it short so ingestion can write."""
    path = Path(path)
    if not path.exists():
        raise WarehouseError(
            f"warehouse {path} does not exist yet: run `voc demo` or `voc ingest` first"
        )
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        raise _open_error(path, "reading", exc) from exc
    if _pending(con):
        # A warehouse written by an older version: bring it up to date once, so readers
        # find the tables they expect.
        con.close()
        open_warehouse(path, lock_wait=5.0).close()
        con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


def _pending(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        done = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
    except duckdb.CatalogException:
        return True
    return any(m.version not in done for m in list_migrations())


def snapshot_key(con: duckdb.DuckDBPyConnection) -> tuple | None:
    """A read-only file's identity (path, and inode, size and mtime of it and of its
    write-ahead log), for caching what was read from it; None for a writable connection,
    whose tables may change under it."""
    path, readonly = con.execute(
        "SELECT path, readonly FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    if not (path and readonly):
        return None
    stats = []
    for p in (path, path + ".wal"):
        try:
            st = os.stat(p)
        except OSError:
            stats.append(None)
            continue
        stats.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return (path, *stats)
