"""The shared-export benchmark at the seed warehouse's size: its new day lands one day after
the last, and its incremental exports write exactly what changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from benchmarks import shared_export
from tests.dashboard.seed import LAST_DAY, build_seed_warehouse


def test_new_day_copies_the_last_day_one_day_later(tmp_path: Path) -> None:
    db = build_seed_warehouse(tmp_path / "voc.duckdb")
    added = shared_export.add_day(db)
    with duckdb.connect(str(db), read_only=True) as con:
        days = con.execute(
            "SELECT local_day, count(*) FROM raw_documents WHERE local_day >= ? GROUP BY 1"
            " ORDER BY 1",
            [LAST_DAY],
        ).fetchall()
        scored = con.execute(
            "SELECT count(*) FROM doc_sentiment WHERE doc_id LIKE '%~n'"
        ).fetchone()[0]
    assert [n for _, n in days] == [added["raw_documents"]] * 2
    assert added["doc_sentiment"] == scored == added["raw_documents"] > 0


def test_run_reports_incremental_exports_of_what_changed(tmp_path: Path) -> None:
    db = build_seed_warehouse(tmp_path / "seed" / "voc.duckdb")
    work = tmp_path / "work"
    work.mkdir()
    result = shared_export.run(db, work)
    for by in ("month", "day"):
        r = result[by]
        assert r["files"] == r["partitions"] > 0
        assert r["changed_day_partitions"] == 1  # the re-scored day's sentiment
    day, month = result["day"], result["month"]
    # By day exactly the changed rows are written; by month their whole month (the new
    # day, 2025-03-29, falls in the seed's only month).
    assert day["changed_day_rows_written"] == day["changed_day_rows"]
    assert day["incremental_rows"] == day["new_day_rows"]
    assert month["changed_day_rows_written"] > month["changed_day_rows"]
    assert month["incremental_rows"] > month["new_day_rows"]
    assert result["page_kpis_ms"]["ratio"] > 0
    shutil.rmtree(work)
