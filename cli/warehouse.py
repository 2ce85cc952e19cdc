"""``voc warehouse export-parquet``: publish the warehouse as a shared Parquet directory."""

from __future__ import annotations

import argparse
import json
import sys

from cli.common import add_common, settings_from


def add_warehouse_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``voc warehouse export-parquet``."""
    parent = sub.add_parser(
        "warehouse",
        help="publish the warehouse for a team (shared Parquet)",
        description="Work with the warehouse beyond one file (docs/shared-warehouse.md).",
    )
    wsub = parent.add_subparsers(dest="warehouse_command", required=True, metavar="COMMAND")
    p = wsub.add_parser(
        "export-parquet",
        help="publish the warehouse as hive-partitioned Parquet, incrementally",
        description="Write every table (documents and enrichments partitioned by their "
        "day's month or day, small tables one file each) under DIR, rewriting only the "
        "partitions that changed since the last export, and swap in the new manifest.json "
        "atomically: readers (dashboard replicas, workers) never see a half-written "
        "export. Run it when no ingestion is writing the warehouse; the daily flow runs "
        "it after each run when [warehouse] shared_parquet_dir is set.",
    )
    add_common(p)
    p.add_argument("--out", help="shared directory (default: [warehouse] shared_parquet_dir)")
    p.add_argument(
        "--by",
        choices=("month", "day"),
        help="partition unit (default: [warehouse] partition_by, else month)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_export_parquet)


def cmd_export_parquet(args: argparse.Namespace) -> int:
    from warehouse.db import WarehouseError
    from warehouse.parquet_export import ExportBusyError, export_parquet

    settings = settings_from(args)
    out = args.out or settings.shared_parquet_dir
    if not out:
        print(
            "error: 未指定共享目录 / no shared directory: give --out DIR or set "
            "[warehouse] shared_parquet_dir",
            file=sys.stderr,
        )
        return 2
    try:
        done = export_parquet(settings.db_path, out, by=args.by or settings.shared_parquet_by)
    except (WarehouseError, ExportBusyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = {
        "export_id": done.export_id,
        "out": str(done.out_dir),
        "tables": done.tables,
        "partitions_written": done.partitions_written,
        "partitions_reused": done.partitions_reused,
        "rows_written": done.rows_written,
        "files_deleted": done.files_deleted,
        "bytes_total": done.bytes_total,
        "seconds": round(done.seconds, 3),
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(
            f"共享仓库 shared warehouse {done.out_dir}: 导出 export {done.export_id}\n"
            f"  {done.tables} tables, {done.partitions_written} partitions written "
            f"({done.rows_written} rows), {done.partitions_reused} reused, "
            f"{done.files_deleted} old files deleted; "
            f"{done.bytes_total / 1e6:.1f} MB in {done.seconds:.1f}s"
        )
    return 0
