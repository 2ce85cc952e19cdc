from pathlib import Path

import duckdb
import pytest

from warehouse.db import (
    Migration,
    WarehouseError,
    list_migrations,
    migrate,
    open_warehouse,
    read_only,
)


def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    con = open_warehouse(tmp_path / "w.duckdb")
    versions = [m.version for m in list_migrations()]
    recorded = [
        r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    ]
    assert recorded == versions
    assert migrate(con) == []  # nothing pending the second time
    con.close()


def test_failed_migration_is_rolled_back_whole_and_stays_pending(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    good = Migration(1, "good", "CREATE TABLE a (x INTEGER);")
    bad = Migration(2, "bad", "CREATE TABLE b (x INTEGER); SELECT * FROM no_such_table;")
    with pytest.raises(duckdb.Error):
        migrate(con, [good, bad])
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert "a" in tables and "b" not in tables
    assert [r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()] == [1]
    fixed = Migration(2, "bad", "CREATE TABLE b (x INTEGER);")
    assert migrate(con, [good, fixed]) == [2]


def test_read_only_on_missing_warehouse_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.duckdb"
    with pytest.raises(WarehouseError, match=r"nope\.duckdb"), read_only(missing):
        pass


def _hold_lock(path: Path, seconds: float):
    import subprocess
    import sys

    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('locked', flush=True); time.sleep(float(sys.argv[2]))",
            str(path),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout.readline().strip() == b"locked"
    return proc


def test_writer_waits_for_a_short_lock_then_opens(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    open_warehouse(path).close()
    holder = _hold_lock(path, 1.5)
    try:
        con = open_warehouse(path, lock_wait=30)
        assert migrate(con) == []
        con.close()
    finally:
        holder.kill()
        holder.wait()


def test_writer_gives_up_on_a_long_lock_naming_the_file(tmp_path: Path) -> None:
    from warehouse.db import WarehouseBusyError

    path = tmp_path / "w.duckdb"
    open_warehouse(path).close()
    holder = _hold_lock(path, 60)
    try:
        with pytest.raises(WarehouseBusyError, match=r"w\.duckdb is in use"):
            open_warehouse(path, lock_wait=0.5)
    finally:
        holder.kill()
        holder.wait()
