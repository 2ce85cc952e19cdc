"""The shared Parquet warehouse: a real warehouse file exported to real Parquet files, read
back by fresh DuckDB connections, by the dashboard's data layer, and by two other processes
while the writer re-exports."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cli.main import main
from dashboard import data
from tests.customer_seed import build_customer_warehouse
from tests.dashboard.seed import MODEL, build_seed_warehouse
from voc.settings import SettingsError, load_settings
from warehouse import (
    alert_pages,
    customer_voices,
    page_filters,
    pages,
    queries,
    satisfaction,
    search,
    theme_pages,
)
from warehouse.db import WarehouseError, warehouse
from warehouse.page_filters import Filters
from warehouse.parquet_export import ExportBusyError, export_parquet, read_manifest
from warehouse.parquet_reader import (
    close_parquet_readers,
    open_parquet_warehouse,
    shared_parquet_reader,
)
from warehouse.satisfaction import CustomerFilters
from warehouse.search import SearchFilters

CHANGED_DAY = date(2025, 3, 10)
READER = Path(__file__).with_name("parquet_reader_proc.py")


@pytest.fixture(scope="module")
def seed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_seed_warehouse(tmp_path_factory.mktemp("share-seed") / "voc.duckdb")


@pytest.fixture()
def db(seed_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "voc.duckdb"
    shutil.copyfile(seed_db, path)
    return path


@pytest.fixture(autouse=True)
def _close_readers():
    yield
    close_parquet_readers()
    data._SHARED.clear()


def _files(out: Path) -> dict[str, tuple[int, int]]:
    """Every data file under the shared directory: inode and modification time."""
    return {
        p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in (out / "data").rglob("*.parquet")
    }


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1"
        ).fetchall()
    ]


def _add_documents(db: Path, prefix: str, n: int, day: date = CHANGED_DAY) -> None:
    """`n` new scored documents on `day`, in one transaction (as an ingestion lands them)."""
    with warehouse(db) as con:
        con.execute("BEGIN TRANSACTION")
        for i in range(n):
            doc_id = f"{prefix}-{i:02d}"
            con.execute(
                "INSERT INTO raw_documents (id, source, channel, external_id, text, created_at,"
                " local_day, content_hash, first_run_id, last_run_id)"
                " VALUES (?, 'shop', 'review', ?, '又坏了', ?::TIMESTAMPTZ, ?, ?, 'r', 'r')",
                [doc_id, doc_id, f"{day} 04:00:00+00", day, doc_id],
            )
            con.execute(
                "INSERT INTO doc_sentiment VALUES (?, 'seed-model-v1', 'negative', 0.1, now())",
                [doc_id],
            )
        con.execute("COMMIT")


def test_every_table_reads_back_with_its_rows_and_types(db: Path, tmp_path: Path) -> None:
    with warehouse(db) as con:
        con.execute(
            "INSERT INTO raw_texts_unmasked VALUES ('shop-2025-03-01-0', '原文13812345678', now())"
        )
        con.execute("INSERT INTO agg_day_fingerprints VALUES ('2031-01-01', 1, ?)", [2**120 + 7])
    out = tmp_path / "share"
    done = export_parquet(db, out)
    reader = open_parquet_warehouse(out)
    with duckdb.connect(str(db), read_only=True) as src:
        tables = _tables(src)
        assert "raw_texts_unmasked" in tables
        views = {r[0] for r in reader.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        assert "raw_texts_unmasked" not in views  # private rows never leave the file
        for table in (t for t in tables if t != "raw_texts_unmasked"):
            describe = f'DESCRIBE "{table}"'
            assert [r[:2] for r in reader.execute(describe).fetchall()] == [
                r[:2] for r in src.execute(describe).fetchall()
            ], table
            rows = f'SELECT * FROM "{table}" ORDER BY ALL'
            assert reader.execute(rows).fetchall() == src.execute(rows).fetchall(), table
        # The warehouse's own views work over the Parquet tables.
        query = "SELECT count(*), count(DISTINCT local_day) FROM v_documents"
        assert reader.execute(query).fetchone() == src.execute(query).fetchone()
    # HUGEINT survives (Parquet alone would turn it into a DOUBLE).
    assert reader.execute(
        "SELECT fingerprint FROM agg_day_fingerprints WHERE local_day = '2031-01-01'"
    ).fetchone() == (2**120 + 7,)
    manifest = read_manifest(out)
    docs = manifest["tables"]["raw_documents"]
    assert docs["partition_column"] == "_month"
    assert sorted(docs["partitions"]) == ["2025-03"]
    assert manifest["tables"]["doc_sentiment"]["partition_column"] == "_month"
    assert manifest["tables"]["run_log"]["partition_column"] is None
    assert done.partitions_reused == 0 and done.bytes_total > 0


def test_incremental_export_rewrites_only_the_changed_partitions(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "share"
    first = export_parquet(db, out, by="day")
    before = _files(out)
    assert set(first.files_written) == set(before)

    again = export_parquet(db, out, by="day")
    assert again.partitions_written == 0 and again.files_written == []
    assert _files(out) == before  # same files, untouched

    _add_documents(db, "late", 3)
    third = export_parquet(db, out, by="day")
    written = sorted(third.files_written)
    assert [f.rsplit("/", 1)[0] for f in written] == [
        "data/doc_sentiment/_day=2025-03-10",
        "data/raw_documents/_day=2025-03-10",
    ]
    after = _files(out)
    # Every other file is the very same file; the replaced day's old files stay for
    # readers of the previous export until it falls out of the kept ones.
    assert {k: v for k, v in after.items() if k not in written} == before
    assert third.rows_written == 12 + 3 + 12 + 3  # the day's documents and sentiment
    manifest = read_manifest(out)
    day = manifest["tables"]["raw_documents"]["partitions"]["2025-03-10"]
    assert day["rows"] == 15 and day["files"] == [
        f for f in written if f.startswith("data/raw_documents")
    ]
    with open_parquet_warehouse(out) as reader:
        assert reader.execute(
            "SELECT count(*) FROM raw_documents WHERE id LIKE 'late-%'"
        ).fetchone() == (3,)


def test_old_exports_files_are_deleted_once_no_kept_export_lists_them(
    db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "share"
    export_parquet(db, out, by="day", keep=2)
    old_day = [f for f in _files(out) if "raw_documents/_day=2025-03-10" in f]
    _add_documents(db, "a", 1)
    export_parquet(db, out, by="day", keep=2)
    assert all((out / f).exists() for f in old_day)  # the previous export still lists it
    _add_documents(db, "b", 1)
    done = export_parquet(db, out, by="day", keep=2)
    assert not any((out / f).exists() for f in old_day)
    assert done.files_deleted == 2  # the first export's raw_documents and doc_sentiment day
    assert len(list((out / "manifests").glob("*.json"))) == 2
    listed = {
        f
        for t in read_manifest(out)["tables"].values()
        for p in t["partitions"].values()
        for f in p["files"]
    }
    assert listed <= set(_files(out))


def test_readers_in_other_processes_always_see_one_whole_export(db: Path, tmp_path: Path) -> None:
    """Two reader processes loop over fresh connections while this process adds a round of
    documents (with their sentiment, in one transaction) to the same day and re-exports:
    every read must see whole rounds 0..m in both tables, never half of one."""
    out = tmp_path / "share"
    _add_documents(db, "round-00", 5)
    export_parquet(db, out, by="day")
    stop = tmp_path / "stop"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    readers = [
        subprocess.Popen(
            [sys.executable, str(READER), str(out), str(stop), "5", "60"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    try:
        time.sleep(1.0)  # both readers are reading the first export
        for r in range(1, 9):
            _add_documents(db, f"round-{r:02d}", 5)
            export_parquet(db, out, by="day")
            time.sleep(0.15)
    finally:
        stop.touch()
        outputs = [json.loads(p.communicate(timeout=90)[0]) for p in readers]
    for result in outputs:
        assert result["errors"] == []
        assert result["reads"] >= 10
        assert len(result["exports"]) >= 3  # it read while exports were being published
        assert max(result["rounds"]) == 8  # and ended on the last one


def test_dashboard_pages_read_the_same_from_parquet_as_from_the_file(
    db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "share"
    export_parquet(db, out)
    f = Filters()
    now = pd.Timestamp("2025-03-29T00:00:00Z").to_pydatetime()
    calls = [
        (page_filters.filter_options, ()),
        (pages.kpis, (f,)),
        (pages.daily_trend, (f,)),
        (pages.hourly_trend, (f,)),
        (pages.category_overview, (f,)),
        (pages.source_overview, (now,)),
        (pages.low_confidence_texts, (f,)),
        (theme_pages.theme_ranking, (f,)),
        (theme_pages.theme_detail, ("theme-delivery", f)),
        (alert_pages.spike_markers, (f,)),
        (alert_pages.alert_list, (f,)),
        (queries.current_model_version, ()),
        (search.search_documents, ("物流", ["物流"], MODEL, SearchFilters(), "most_negative")),
    ]
    from_file = {}
    for fn, args in calls:
        with data.read_only(db) as con:
            from_file[fn.__name__] = fn(con, *args)
    file_stamp = data.stamp(db)

    data.use_shared_warehouse(db, str(out))
    assert data.stamp(db) == (out / "manifest.json").stat().st_mtime != file_stamp
    for fn, args in calls:
        with data.read_only(db) as con:
            assert con.execute(
                "SELECT count(*) FROM duckdb_views() WHERE view_name = 'raw_documents'"
            ).fetchone() == (1,)
            _assert_same(fn(con, *args), from_file[fn.__name__], fn.__name__)
    assert from_file["kpis"]["current"]["n_docs"] > 0
    assert len(from_file["alert_list"]) == 1

    # A new export is read by the next call (a new stamp, a new kept connection).
    _add_documents(db, "new", 4)
    export_parquet(db, out)
    with data.read_only(db) as con:
        assert con.execute(
            "SELECT count(*) FROM raw_documents WHERE id LIKE 'new-%'"
        ).fetchone() == (4,)


def test_customer_pages_read_the_same_from_parquet(tmp_path: Path) -> None:
    db = build_customer_warehouse(tmp_path / "voc.duckdb")
    out = tmp_path / "share"
    export_parquet(db, out)
    cf = CustomerFilters()
    calls = [
        (customer_voices.customer_options, ()),
        (customer_voices.segment_overview, (cf,)),
        (customer_voices.negative_customers, (cf,)),
        (satisfaction.satisfaction_series, (cf, "month", "segment", 5)),
        (satisfaction.satisfaction_drivers, (cf, 5)),
    ]
    with duckdb.connect(str(db), read_only=True) as src, shared_parquet_reader(out) as pq:
        assert satisfaction.has_table(pq, "response_customers")  # a view there
        for fn, args in calls:
            _assert_same(fn(pq, *args), fn(src, *args), fn.__name__)
        series = satisfaction.satisfaction_series(src, cf, "month", "segment", 5)
        assert len(series) > 0


def _assert_same(got, expected, name: str) -> None:
    if isinstance(expected, search.SearchPage):
        assert got.total == expected.total > 0, name
        pd.testing.assert_frame_equal(got.rows, expected.rows, obj=name)
    elif isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected, obj=name)
    else:
        assert repr(got) == repr(expected), name


def test_a_second_export_of_the_same_directory_is_refused(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "share"
    export_parquet(db, out)
    before = read_manifest(out)["export_id"]
    with (out / ".export.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another export is running
        with pytest.raises(ExportBusyError, match="another export"):
            export_parquet(db, out)
    assert read_manifest(out)["export_id"] == before
    assert not list(out.glob(".staging-*"))


def test_a_failed_export_leaves_the_previous_one_to_readers(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "share"
    export_parquet(db, out)
    before = read_manifest(out)
    with pytest.raises(WarehouseError, match="does not exist"):
        export_parquet(tmp_path / "missing.duckdb", out)
    assert read_manifest(out) == before
    assert not list(out.glob(".staging-*"))
    with pytest.raises(ValueError, match="choose one of month, day"):
        export_parquet(db, out, by="week")


def test_reading_a_directory_without_an_export_names_it(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="voc warehouse export-parquet"):
        open_parquet_warehouse(tmp_path)


def test_cli_exports_and_reports(db: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "share"
    assert main(["warehouse", "export-parquet", "--db", str(db), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["partitions_written"] > 0 and summary["partitions_reused"] == 0
    assert main(["warehouse", "export-parquet", "--db", str(db), "--out", str(out)]) == 0
    assert "0 partitions written" in capsys.readouterr().out
    assert main(["warehouse", "export-parquet", "--db", str(db)]) == 2
    assert "shared_parquet_dir" in capsys.readouterr().err


def test_settings_read_the_warehouse_table(tmp_path: Path) -> None:
    config = tmp_path / "voc.toml"
    config.write_text('[warehouse]\nshared_parquet_dir = "/srv/voc"\npartition_by = "day"\n')
    settings = load_settings(config, env={})
    assert (settings.shared_parquet_dir, settings.shared_parquet_by) == ("/srv/voc", "day")
    assert load_settings(env={}).shared_parquet_dir is None
    config.write_text('[warehouse]\npartition_by = "week"\n')
    with pytest.raises(SettingsError, match="partition_by"):
        load_settings(config, env={})
