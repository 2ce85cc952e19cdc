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


def test_stage_state_migration_carries_tokens_and_earlier_results_over(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    before = [m for m in list_migrations() if m.version < 18]
    migrate(con, before)
    con.execute(
        "INSERT INTO raw_documents (id, source, channel, external_id, text, created_at, "
        "local_day, content_hash, first_run_id, last_run_id) VALUES "
        "('d1', 's', 'review', '1', '物流太慢', TIMESTAMPTZ '2025-06-01 10:00+08', "
        "DATE '2025-06-01', 'h1', 'r1', 'r1'), "
        "('d2', 's', 'review', '2', '物流太慢', TIMESTAMPTZ '2025-06-01 11:00+08', "
        "DATE '2025-06-01', 'h1', 'r1', 'r1')"
    )
    con.execute(
        "INSERT INTO doc_texts VALUES ('d1', '物流太慢', 'n1', NULL, ['物流', '太慢']), "
        "('d2', '物流太慢', 'n1', 'd1', NULL)"
    )
    con.execute("INSERT INTO doc_categorisations VALUES ('d1', 'tax1', 'n1', 1, now())")
    con.execute(
        "INSERT INTO doc_aspects_scored VALUES ('d1', 'a1', 'n1', 1, TIMESTAMPTZ '2025-06-02'), "
        "('d1', 'a2', 'n1', 2, TIMESTAMPTZ '2025-06-03')"
    )
    con.execute(
        "INSERT INTO doc_aspects VALUES "
        "('d1', '物流', 'negative', 0.1, 0.9, '物流太慢', 'a2', now())"
    )

    assert 18 in migrate(con)
    assert con.execute("SELECT * FROM doc_tokens").fetchall() == [("d1", ["物流", "太慢"])]
    columns = [r[0] for r in con.execute("DESCRIBE doc_texts").fetchall()]
    assert columns == ["doc_id", "text_norm", "norm_hash", "duplicate_of"]
    # Earlier results stay readable with an empty fingerprint (recomputed by the next run).
    state = con.execute(
        "SELECT stage, doc_id, content_hash, version, fingerprint, n_records "
        "FROM doc_stage_state ORDER BY ALL"
    ).fetchall()
    assert state == [("aspects", "d1", "h1", "a2", "", 2), ("taxonomy", "d1", "h1", "tax1", "", 1)]
    assert con.execute(
        "SELECT doc_id, taxonomy_version, n_categories FROM doc_categorisations"
    ).fetchall() == [("d1", "tax1", 1)]
    assert con.execute("SELECT doc_id, aspect FROM v_aspects").fetchall() == [("d1", "物流")]
    con.close()


def _snapshot_with(path: Path, value: int) -> None:
    from warehouse.db import open_warehouse

    con = open_warehouse(path)
    con.execute("CREATE TABLE marker AS SELECT ? AS v", [value])
    con.close()


def test_shared_reader_serves_the_newest_snapshot_and_lets_other_connections_in(
    tmp_path: Path,
) -> None:
    import os

    from warehouse.db import close_shared_readers, shared_read_only, snapshot_key
    from warehouse.sql_console import CONSOLE_CONFIG

    snap, newer = tmp_path / "w.snapshot.duckdb", tmp_path / "next.duckdb"
    _snapshot_with(snap, 1)
    try:
        with shared_read_only(snap) as held:
            assert held.execute("SELECT v FROM marker").fetchone() == (1,)
            assert snapshot_key(held) is not None and snapshot_key(held)[0] == str(snap)
            # The query console opens the same file with its own, stricter configuration.
            with duckdb.connect(str(snap), read_only=True, config=CONSOLE_CONFIG) as console:
                assert console.execute("SELECT v FROM marker").fetchone() == (1,)
            # A new snapshot replaces the file: the next reader sees it at once, while the
            # cursor still held keeps reading the one it started on.
            _snapshot_with(newer, 2)
            os.replace(newer, snap)
            with shared_read_only(snap) as fresh:
                assert fresh.execute("SELECT v FROM marker").fetchone() == (2,)
            assert held.execute("SELECT v FROM marker").fetchone() == (1,)
            with duckdb.connect(str(snap), read_only=True) as short:
                assert short.execute("SELECT v FROM marker").fetchone() == (2,)
    finally:
        close_shared_readers()


def test_writing_connections_have_a_bounded_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warehouse.db import WarehouseError, open_warehouse

    monkeypatch.delenv("VOC_DUCKDB_MEMORY_LIMIT", raising=False)
    con = open_warehouse(tmp_path / "a.duckdb")
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    con.close()
    assert limit in ("1.8 GiB", "1907.3 MiB", "2.0 GB")  # DEFAULT_MEMORY_LIMIT, 2GB
    monkeypatch.setenv("VOC_DUCKDB_MEMORY_LIMIT", "2GiB")
    con = open_warehouse(tmp_path / "b.duckdb")
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "2.0 GiB"
    con.close()
    monkeypatch.setenv("VOC_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(WarehouseError, match="VOC_DUCKDB_MEMORY_LIMIT = 'lots'"):
        open_warehouse(tmp_path / "c.duckdb")
