"""A shared warehouse for a team: the warehouse published as hive-partitioned Parquet.

One DuckDB file has one writer and, while it writes, no readers in other processes. Past one
machine (several workers, several dashboard replicas, a BI tool) the flow publishes the
warehouse as Parquet files under one directory that any number of processes read at once
(`warehouse.parquet_reader`); DuckLake would be the catalogued form of the same idea, but
its extension does not load in the pinned DuckDB offline (``docs/shared-warehouse.md``).

Layout of ``DIR``::

    manifest.json                      the current export: every table's columns and files
    manifests/<export_id>.json         the last few exports (readers of those keep working)
    data/<table>/_month=2025-06/<export_id>-0.parquet   partitioned tables
    data/<table>/<export_id>.parquet                    small tables, one file

Tables with a ``local_day`` column are partitioned by their own day, tables keyed by
``doc_id`` by their document's day (by month, or by day for very large warehouses);
other tables are one file each. Files are immutable and named by the export that wrote
them: an export writes only the partitions whose rows changed (a per-partition row count
and hash, kept in the manifest), reuses every other file, and publishes by replacing
``manifest.json`` atomically, so a reader sees the whole previous export or the whole new
one, never a mix. One export at a time (a lock file); the private tables are never written.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.db import read_only
from warehouse.snapshot import PRIVATE_TABLES

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
#: Partition units: the hive column name and the strftime pattern of a day.
PARTITION_UNITS = {"month": ("_month", "%Y-%m"), "day": ("_day", "%Y-%m-%d")}
#: Exports whose files are kept: a reader that read the manifest before the newest exports
#: still finds its files (a reader re-reads the manifest on every connection).
KEEP_EXPORTS = 3
#: Types Parquet cannot hold exactly (DuckDB writes HUGEINT as DOUBLE): stored as text and
#: cast back by the reader.
_AS_TEXT = ("HUGEINT", "UHUGEINT")
#: The partition of rows whose day is unknown (an enrichment of a deleted document).
_NO_DAY = "none"


class ExportBusyError(RuntimeError):
    """Another export holds the directory's lock."""


@dataclass(frozen=True)
class TableSpec:
    """How one table is exported: its columns, and the SQL of its partition (None: one
    file) with the FROM clause that can compute it."""

    name: str
    columns: tuple[tuple[str, str], ...]
    part_sql: str | None
    from_sql: str


@dataclass
class ExportResult:
    """What one export did."""

    export_id: str
    out_dir: Path
    tables: int = 0
    partitions_written: int = 0
    partitions_reused: int = 0
    rows_written: int = 0
    files_written: list[str] = field(default_factory=list)
    files_deleted: int = 0
    bytes_total: int = 0
    seconds: float = 0.0


def export_parquet(
    db_path: str | Path, out_dir: str | Path, by: str = "month", keep: int = KEEP_EXPORTS
) -> ExportResult:
    """Publish the warehouse at `db_path` as Parquet under `out_dir`, incrementally.

    Args:
        db_path: The warehouse file (opened read-only: call it when no process writes it,
            as the flow does after its run).
        out_dir: The shared directory (local disk or a mounted network filesystem).
        by: Partition unit of the day-keyed tables, ``"month"`` or ``"day"``; changing it
            rewrites every partitioned table.
        keep: Exports whose files are kept for readers still on them (at least 2).

    Returns:
        The export's id, what it wrote and reused, and its time.

    Raises:
        ValueError: an unknown partition unit.
        ExportBusyError: another export of `out_dir` is running.
        WarehouseError: the warehouse is missing or being written.
    """
    if by not in PARTITION_UNITS:
        raise ValueError(f"partition unit {by!r}: choose one of {', '.join(PARTITION_UNITS)}")
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    export_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(2)
    result = ExportResult(export_id, out)
    with _export_lock(out):
        for stale in out.glob(".staging-*"):  # left by an export that died
            shutil.rmtree(stale, ignore_errors=True)
        previous = read_manifest(out)
        staging = out / f".staging-{export_id}"
        staging.mkdir()
        try:
            with read_only(db_path) as con:
                con.execute("BEGIN TRANSACTION")  # one consistent view of every table
                tables = {}
                for spec in table_specs(con, by):
                    old = _reusable(previous, spec, by)
                    tables[spec.name] = _export_table(con, spec, by, old, staging, result)
                views = _view_definitions(con)
                con.execute("COMMIT")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        manifest = {
            "format": FORMAT_VERSION,
            "export_id": export_id,
            "created_at": datetime.now(UTC).isoformat(),
            "duckdb_version": duckdb.__version__,
            "partition_by": by,
            "tables": tables,
            "views": views,
        }
        _publish(out, manifest)
        result.files_deleted = _collect_garbage(out, max(keep, 2))
    result.tables = len(tables)
    result.bytes_total = sum(
        part["bytes"] for t in tables.values() for part in t["partitions"].values()
    )
    result.seconds = time.perf_counter() - started
    return result


def read_manifest(out_dir: str | Path) -> dict | None:
    """The current export's manifest of a shared directory, or None before the first."""
    try:
        return json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def table_specs(con: duckdb.DuckDBPyConnection, by: str = "month") -> list[TableSpec]:
    """How each published table of the warehouse on `con` is exported (private tables
    left out), in name order."""
    _, pattern = PARTITION_UNITS[by]
    rows = con.execute(
        "SELECT table_name, list(column_name ORDER BY column_index),"
        " list(data_type ORDER BY column_index) FROM duckdb_columns()"
        " WHERE database_name = current_database() AND schema_name = 'main'"
        " AND table_name IN (SELECT table_name FROM duckdb_tables()"
        "   WHERE database_name = current_database() AND schema_name = 'main'"
        "   AND NOT temporary)"
        " GROUP BY table_name ORDER BY table_name"
    ).fetchall()
    names = {r[0] for r in rows}
    specs = []
    for name, cols, types in rows:
        if name in PRIVATE_TABLES:
            continue
        columns = tuple(zip(cols, types, strict=True))
        table = _ident(name)
        if dict(columns).get("local_day") == "DATE":
            day, source = "t.local_day", f"{table} t"
        elif "doc_id" in cols and "raw_documents" in names and name != "raw_documents":
            day = "d.local_day"
            source = f"{table} t LEFT JOIN raw_documents d ON d.id = t.doc_id"
        else:
            specs.append(TableSpec(name, columns, None, f"{table} t"))
            continue
        part = f"coalesce(strftime({day}, '{pattern}'), '{_NO_DAY}')"
        specs.append(TableSpec(name, columns, part, source))
    return specs


def _export_table(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    by: str,
    old: dict,
    staging: Path,
    result: ExportResult,
) -> dict:
    """Write the changed partitions of one table; its manifest entry."""
    part = spec.part_sql or "''"
    current = {
        key: (rows, fingerprint)
        for key, rows, fingerprint in con.execute(
            f"SELECT {part} AS p, count(*), sum(hash(t)::HUGEINT)::VARCHAR "
            f"FROM {spec.from_sql} GROUP BY p"
        ).fetchall()
    }
    partitions = {}
    changed = []
    for key, (rows, fingerprint) in current.items():
        before = old.get(key)
        if before and before["rows"] == rows and before["fingerprint"] == fingerprint:
            partitions[key] = before
            result.partitions_reused += 1
        else:
            changed.append(key)
            partitions[key] = {"rows": rows, "fingerprint": fingerprint}
    if changed:
        files = _write(con, spec, by, sorted(changed), staging, result.export_id)
        for key in changed:
            final = []
            for src, rel in files.get(key, []):
                dest = result.out_dir / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dest)
                final.append(rel)
            partitions[key]["files"] = final
            partitions[key]["bytes"] = sum((result.out_dir / f).stat().st_size for f in final)
            result.files_written.extend(final)
        result.partitions_written += len(changed)
        result.rows_written += sum(current[k][0] for k in changed)
    return {
        "columns": [list(c) for c in spec.columns],
        "partition_column": PARTITION_UNITS[by][0] if spec.part_sql else None,
        "partitions": dict(sorted(partitions.items())),
    }


def _write(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    by: str,
    keys: list[str],
    staging: Path,
    export_id: str,
) -> dict[str, list[tuple[Path, str]]]:
    """COPY the partitions `keys` of a table into `staging`; per partition, the written
    files and the paths they take under the shared directory."""
    select = ", ".join(
        f"t.{_ident(c)}::VARCHAR AS {_ident(c)}" if t in _AS_TEXT else f"t.{_ident(c)}"
        for c, t in spec.columns
    )
    target = staging / spec.name
    table_dir = f"data/{spec.name}"
    if spec.part_sql is None:
        con.execute(
            f"COPY (SELECT {select} FROM {spec.from_sql}) TO {_literal(target)} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
        return {"": [(target, f"{table_dir}/{export_id}.parquet")]}
    column, _ = PARTITION_UNITS[by]
    # Keys are this table's own partition values (dates as text, or "none").
    wanted = ", ".join(_literal(k) for k in keys)
    con.execute(
        f"COPY (SELECT {select}, {spec.part_sql} AS {column} FROM {spec.from_sql} "
        f"WHERE {spec.part_sql} IN ({wanted})) TO {_literal(target)} "
        f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY ({column}), "
        f"FILENAME_PATTERN {_literal(export_id + '-{i}')})"
    )
    files: dict[str, list[tuple[Path, str]]] = {}
    for key in keys:
        folder = f"{column}={key}"
        for path in sorted((target / folder).glob("*.parquet")):
            files.setdefault(key, []).append((path, f"{table_dir}/{folder}/{path.name}"))
    return files


def _reusable(previous: dict | None, spec: TableSpec, by: str) -> dict:
    """The previous export's partitions of a table that this export may reuse: none when
    the columns, the partition unit or the DuckDB version (its hash) changed."""
    if (
        not previous
        or previous.get("format") != FORMAT_VERSION
        or previous.get("partition_by") != by
        or previous.get("duckdb_version") != duckdb.__version__
    ):
        return {}
    table = previous["tables"].get(spec.name)
    if not table or [tuple(c) for c in table["columns"]] != list(spec.columns):
        return {}
    return table["partitions"]


def _view_definitions(con: duckdb.DuckDBPyConnection) -> list[list[str]]:
    """The warehouse's own views ([name, CREATE VIEW sql]); readers recreate them over
    the Parquet tables."""
    return [
        [name, sql]
        for name, sql in con.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE database_name = current_database()"
            " AND schema_name = 'main' AND NOT internal AND NOT temporary ORDER BY view_name"
        ).fetchall()
    ]


def _publish(out: Path, manifest: dict) -> None:
    """Write the manifest to history, then swap it in as the current one (atomic rename)."""
    history = out / "manifests"
    history.mkdir(exist_ok=True)
    text = json.dumps(manifest, ensure_ascii=False, indent=1)
    for final in (history / f"{manifest['export_id']}.json", out / MANIFEST):
        tmp = final.with_name(f".{final.name}.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)


def _collect_garbage(out: Path, keep: int) -> int:
    """Delete the files no kept export references, and older manifests; returns the
    number of data files deleted."""
    history = sorted((out / "manifests").glob("*.json"))
    kept, dropped = history[-keep:], history[:-keep]
    referenced = set()
    for path in kept:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        for table in manifest["tables"].values():
            for part in table["partitions"].values():
                referenced.update(part["files"])
    deleted = 0
    data = out / "data"
    for path in sorted(data.rglob("*.parquet")) if data.exists() else ():
        if path.relative_to(out).as_posix() not in referenced:
            path.unlink()
            deleted += 1
    for folder in sorted(data.rglob("*"), reverse=True) if data.exists() else ():
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    for path in dropped:
        path.unlink()
    return deleted


@contextmanager
def _export_lock(out: Path) -> Iterator[None]:
    with (out / ".export.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExportBusyError(
                f"{out}: 另一个导出正在进行 / another export of this directory is running"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _ident(name: str) -> str:
    """A quoted identifier (names come from the warehouse's own catalog)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str | Path) -> str:
    """A quoted SQL string: COPY targets and partition values cannot be bound."""
    return "'" + str(value).replace("'", "''") + "'"
