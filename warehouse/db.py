"""Opening the warehouse and applying its versioned migrations."""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

#: A warehouse connection, for modules above the warehouse that pass one along without
#: importing DuckDB themselves.
Connection = duckdb.DuckDBPyConnection

#: DuckDB's memory limit for writing connections (`memory_limit`), shared by every
#: connection of the process (the stages side by side). Past it DuckDB spills to disk,
#: but a checkpoint that cannot pin a block is fatal: at 1 M documents, 1 GB ended a
#: backfill with "Failed to create checkpoint ... failed to pin block (953.4 MiB/953.6 MiB
#: used)" while two stages' batches were in flight (640 MB failed earlier, in a batch
#: read). The flow's RSS is then models (~700 MB) + up to this + the batches.
DEFAULT_MEMORY_LIMIT = "2GB"
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
    limit = memory_limit()
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
    # DuckDB's own default is 80 % of the machine's memory; past the limit it spills to
    # disk beside the file, so a large warehouse does not grow the process.
    con.execute(f"SET memory_limit = '{limit}'")
    migrate(con)
    return con


def memory_limit() -> str:
    """DuckDB's memory limit for writing connections: ``VOC_DUCKDB_MEMORY_LIMIT`` (e.g.
    ``2GB``), else `DEFAULT_MEMORY_LIMIT`.

    Raises:
        WarehouseError: the value is not a size DuckDB understands.
    """
    value = os.environ.get("VOC_DUCKDB_MEMORY_LIMIT", "").strip() or DEFAULT_MEMORY_LIMIT
    if not re.fullmatch(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", value, flags=re.IGNORECASE):
        raise WarehouseError(
            f"VOC_DUCKDB_MEMORY_LIMIT = {value!r} is not a size such as 1GB or 512MiB"
        )
    return value


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


@dataclass
class _Reader:
    """A long-lived read-only connection to one version of a published snapshot."""

    identity: tuple
    con: duckdb.DuckDBPyConnection
    users: int = 0
    retired: bool = False


_READERS: OrderedDict[str, _Reader] = OrderedDict()
_READERS_LOCK = threading.Lock()
#: Snapshots kept open at once (a dashboard reads one; tests make many).
_MAX_READERS = 4


@contextmanager
def shared_read_only(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on one read-only connection per published snapshot, shared by every caller
    (and thread) of the process: opening a multi-gigabyte file costs tens of milliseconds
    per call, a dashboard page makes ten calls, and a kept connection keeps its caches.

    Only for files nobody writes (a snapshot is replaced by a new file, never changed in
    place): a kept reader of the warehouse itself would hold off the ingestion's write lock.
    A replaced snapshot gets a new connection; the old one closes when its last cursor does.
    """
    path = Path(path)
    key = str(path.resolve())
    try:
        st = path.stat()
    except FileNotFoundError:
        raise WarehouseError(
            f"warehouse {path} does not exist yet: run `voc demo` or `voc ingest` first"
        ) from None
    identity = (st.st_ino, st.st_size, st.st_mtime_ns)
    with _READERS_LOCK:
        reader = _READERS.get(key)
        if reader is None or reader.identity != identity:
            if reader is not None:
                _retire(reader)
            with read_only(path) as probe:  # applies pending migrations, as readers do
                probe.execute("SELECT 1")
            reader = _Reader(identity, _attached(path))
            _READERS[key] = reader
            while len(_READERS) > _MAX_READERS:
                _retire(_READERS.popitem(last=False)[1])
        _READERS.move_to_end(key)
        reader.users += 1
        cursor = reader.con.cursor()
    cursor.execute(f"USE {_SNAPSHOT}")
    try:
        yield cursor
    finally:
        cursor.close()
        with _READERS_LOCK:
            reader.users -= 1
            if reader.retired and reader.users == 0:
                reader.con.close()


#: The catalog name of an attached snapshot (its tables are found without it after USE).
_SNAPSHOT = "voc_snapshot"


def _attached(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory database with the file attached read-only. Not ``duckdb.connect(path)``:
    DuckDB hands every later connect of that path in this process the same open database,
    so a kept one would keep serving a snapshot that has since been replaced, and refuse
    connections with another configuration (the query console's)."""
    con = duckdb.connect(":memory:")
    quoted = str(path).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS {_SNAPSHOT} (READ_ONLY)")
    con.execute(f"USE {_SNAPSHOT}")
    return con


def _retire(reader: _Reader) -> None:
    reader.retired = True
    if reader.users == 0:
        reader.con.close()


def close_shared_readers() -> None:
    """Close the kept snapshot connections (tests, and before deleting a snapshot)."""
    with _READERS_LOCK:
        for reader in _READERS.values():
            _retire(reader)
        _READERS.clear()


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
