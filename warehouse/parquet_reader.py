"""Reading the shared Parquet warehouse (`warehouse.parquet_export`): an in-memory DuckDB
connection whose views have the warehouse's table names and column types, over the files
of one export, so every warehouse read query runs on it unchanged.

Any number of processes (flow workers, dashboard replicas) read one directory at once. A
connection reads the files that the manifest listed when it was opened, never a glob of
the directory: a glob would mix the files of two exports while one is being published.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from warehouse.db import WarehouseError
from warehouse.parquet_export import MANIFEST


def is_remote(location: str | Path) -> bool:
    """Whether a shared directory is a URL (``s3://…``: read through DuckDB's httpfs)."""
    return "://" in str(location)


def load_manifest(location: str | Path) -> dict:
    """The current manifest of a shared directory (a local path or a URL).

    Raises:
        WarehouseError: no export has been published there yet.
    """
    path = f"{str(location).rstrip('/')}/{MANIFEST}"
    try:
        if is_remote(location):
            with duckdb.connect() as con:
                text = con.execute("SELECT content FROM read_text(?)", [path]).fetchone()[0]
        else:
            text = Path(path).read_text(encoding="utf-8")
    except (FileNotFoundError, duckdb.IOException) as exc:
        raise WarehouseError(
            f"共享仓库 {location} 还没有导出 / no shared warehouse export at {location} yet: "
            "run `voc warehouse export-parquet` first"
        ) from exc
    return json.loads(text)


def open_parquet_warehouse(location: str | Path, manifest: dict | None = None):
    """A read-only view of the shared warehouse's current export (or of `manifest`).

    Args:
        location: The shared directory (local path, or URL where httpfs is loaded).
        manifest: An already read manifest of that directory.

    Returns:
        An in-memory DuckDB connection: one view per table, and the warehouse's own views.
    """
    manifest = manifest or load_manifest(location)
    base = str(location).rstrip("/")
    con = duckdb.connect(":memory:")
    con.execute("SET parquet_metadata_cache = true")
    for name, table in manifest["tables"].items():
        con.execute(_table_view(name, table, base))
    _create_views(con, manifest["views"])
    return con


def _table_view(name: str, table: dict, base: str) -> str:
    """CREATE VIEW of one table over its files, every column cast back to its type."""
    columns = [(c, t) for c, t in table["columns"]]
    files = [f"{base}/{f}" for part in table["partitions"].values() for f in part["files"]]
    select = ", ".join(f"CAST({_ident(c)} AS {t}) AS {_ident(c)}" for c, t in columns)
    if not files:  # an empty table: no file, the same columns
        nulls = ", ".join(f"CAST(NULL AS {t}) AS {_ident(c)}" for c, t in columns)
        return f"CREATE VIEW {_ident(name)} AS SELECT {nulls} WHERE false"
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    hive = "true" if table["partition_column"] else "false"
    return (
        f"CREATE VIEW {_ident(name)} AS SELECT {select} "
        f"FROM read_parquet([{listed}], hive_partitioning = {hive})"
    )


def _create_views(con: duckdb.DuckDBPyConnection, views: list[list[str]]) -> None:
    """Recreate the warehouse's views; a view over another view waits for it."""
    pending = list(views)
    while pending:
        failed = []
        for name, sql in pending:
            try:
                con.execute(sql)
            except duckdb.CatalogException:
                failed.append([name, sql])
        if len(failed) == len(pending):
            raise WarehouseError(
                "shared warehouse views cannot be created: " + ", ".join(n for n, _ in failed)
            )
        pending = failed


@dataclass
class _Reader:
    export_id: str
    con: duckdb.DuckDBPyConnection
    users: int = 0
    retired: bool = False


_READERS: dict[str, _Reader] = {}
_LOCK = threading.Lock()


@contextmanager
def shared_parquet_reader(location: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on the process's kept connection to the current export of a shared
    directory: re-reads the manifest on each call, and opens a new connection when a
    newer export was published (the old one closes with its last cursor)."""
    manifest = load_manifest(location)
    key = str(location)
    with _LOCK:
        reader = _READERS.get(key)
        if reader is None or reader.export_id != manifest["export_id"]:
            if reader is not None:
                _retire(reader)
            reader = _Reader(manifest["export_id"], open_parquet_warehouse(location, manifest))
            _READERS[key] = reader
        reader.users += 1
        cursor = reader.con.cursor()
    try:
        yield cursor
    finally:
        cursor.close()
        with _LOCK:
            reader.users -= 1
            if reader.retired and reader.users == 0:
                reader.con.close()


def share_stamp(location: str | Path) -> float:
    """When the current export was published (seconds since the epoch; 0 before the
    first): the dashboard's cache key."""
    if is_remote(location):
        try:
            return datetime.fromisoformat(load_manifest(location)["created_at"]).timestamp()
        except WarehouseError:
            return 0.0
    path = Path(location) / MANIFEST
    return path.stat().st_mtime if path.exists() else 0.0


def close_parquet_readers() -> None:
    """Close the kept connections (tests, and before deleting a shared directory)."""
    with _LOCK:
        for reader in _READERS.values():
            _retire(reader)
        _READERS.clear()


def _retire(reader: _Reader) -> None:
    reader.retired = True
    if reader.users == 0:
        reader.con.close()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
