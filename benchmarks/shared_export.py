"""The shared Parquet warehouse's cost: a full export, a re-export with nothing changed,
one with an earlier day re-scored, and one after a new day, against the full export of the
same run;
and page queries read from the Parquet layout against the same queries on the file.

    python -m benchmarks.shared_export --db data/voc.duckdb     # e.g. the demo's warehouse
    python -m benchmarks.shared_export --docs 100000            # a generated warehouse

Works on a copy (the given warehouse is never written). The new day copies the last day's
documents, their enrichments and the last day's aggregate rows one day later (new ids), as
an ingestion of a day like the last one would land them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from warehouse import pages, theme_pages
from warehouse.db import read_only, warehouse
from warehouse.page_filters import Filters
from warehouse.parquet_export import export_parquet, table_specs
from warehouse.parquet_reader import open_parquet_warehouse
from warehouse.snapshot import PRIVATE_TABLES


def add_day(db: Path) -> dict[str, int]:
    """Copy the last day's rows one day later (new ids); rows added per table."""
    added: dict[str, int] = {}
    with warehouse(db) as con:
        last = con.execute("SELECT max(local_day) FROM raw_documents").fetchone()[0]
        specs = [s for s in table_specs(con) if s.name not in PRIVATE_TABLES]
        con.execute(
            "CREATE TEMP TABLE bench_day AS SELECT id FROM raw_documents WHERE local_day = ?",
            [last],
        )
        con.execute(
            "INSERT INTO raw_documents SELECT * REPLACE (id || '~n' AS id, external_id || '~n'"
            " AS external_id, local_day + 1 AS local_day, created_at + INTERVAL 1 DAY AS"
            " created_at) FROM raw_documents WHERE id IN (SELECT id FROM bench_day)"
        )
        added["raw_documents"] = con.execute("SELECT count(*) FROM bench_day").fetchone()[0]
        for spec in specs:
            cols = [c for c, _ in spec.columns]
            if spec.name == "raw_documents" or spec.part_sql is None:
                continue
            if "local_day" in cols:
                sql = (
                    f'INSERT INTO "{spec.name}" SELECT * REPLACE (local_day + 1 AS local_day)'
                    f' FROM "{spec.name}" WHERE local_day = $last'
                )
            else:
                sql = (
                    f"INSERT INTO \"{spec.name}\" SELECT * REPLACE (doc_id || '~n' AS doc_id)"
                    f' FROM "{spec.name}" WHERE doc_id IN (SELECT id FROM bench_day)'
                )
            try:
                n = con.execute(sql, {"last": last} if "$last" in sql else {}).fetchone()[0]
            except duckdb.ConstraintException:
                continue  # keyed by more than the day or the document: left as it is
            added[spec.name] = n
        con.execute("DROP TABLE bench_day")
    return added


def _median_ms(fn, con, *args, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(con, *args)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def run(db: Path, work: Path) -> dict:
    """All measurements on a copy of `db` in `work`."""
    result: dict = {"warehouse_mb": round(db.stat().st_size / 1e6, 1)}
    with read_only(db) as con:
        result["documents"] = con.execute("SELECT count(*) FROM raw_documents").fetchone()[0]
    for by in ("month", "day"):
        copy = work / f"{by}.duckdb"
        shutil.copyfile(db, copy)
        out = work / f"share-{by}"
        full = export_parquet(copy, out, by=by)
        noop = export_parquet(copy, out, by=by)
        with warehouse(copy) as con:  # one earlier day re-scored: a changed day, same month
            changed = con.execute(
                "UPDATE doc_sentiment SET scored_at = scored_at + INTERVAL 1 SECOND WHERE doc_id"
                " IN (SELECT id FROM raw_documents WHERE local_day = (SELECT max(local_day) - 1"
                " FROM raw_documents))"
            ).fetchone()[0]
        rescored = export_parquet(copy, out, by=by)
        added = add_day(copy)
        inc = export_parquet(copy, out, by=by)
        result[by] = {
            "full_s": round(full.seconds, 2),
            "parquet_mb": round(full.bytes_total / 1e6, 1),
            "files": len(full.files_written),
            "partitions": full.partitions_written,
            "noop_s": round(noop.seconds, 2),
            "noop_ratio": round(noop.seconds / full.seconds, 3),
            "changed_day_rows": changed,
            "changed_day_s": round(rescored.seconds, 2),
            "changed_day_partitions": rescored.partitions_written,
            "changed_day_rows_written": rescored.rows_written,
            "new_day_rows": sum(added.values()),
            "incremental_s": round(inc.seconds, 2),
            "incremental_ratio": round(inc.seconds / full.seconds, 3),
            "incremental_partitions": inc.partitions_written,
            "incremental_rows": inc.rows_written,
            "incremental_mb": round(
                sum((out / f).stat().st_size for f in inc.files_written) / 1e6, 1
            ),
        }
    f = Filters()
    share = work / "share-month"
    with read_only(work / "month.duckdb") as file_con, open_parquet_warehouse(share) as pq:
        for name, fn, args in (
            ("kpis", pages.kpis, (f,)),
            ("daily_trend", pages.daily_trend, (f,)),
            ("theme_ranking", theme_pages.theme_ranking, (f,)),
        ):
            a, b = _median_ms(fn, file_con, *args), _median_ms(fn, pq, *args)
            result[f"page_{name}_ms"] = {
                "file": round(a, 1),
                "parquet": round(b, 1),
                "ratio": round(b / a, 2),
            }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="a warehouse file (copied, never written)")
    parser.add_argument("--docs", type=int, help="generate a warehouse of this many documents")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="voc-share-bench-") as tmp:
        work = Path(tmp)
        if args.db:
            db = args.db
        else:
            from benchmarks.dashboard_data import generate_warehouse

            db = work / "generated.duckdb"
            generate_warehouse(db, args.docs or 20000)
        print(json.dumps(run(db, work), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
