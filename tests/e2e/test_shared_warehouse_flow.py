"""The daily flow with ``[warehouse] shared_parquet_dir``: a real Prefect run over the demo
sources publishes the shared Parquet warehouse after its snapshot, and the next incremental
run rewrites only the month it touched."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dashboard import data
from warehouse import pages
from warehouse.page_filters import Filters
from warehouse.parquet_export import read_manifest
from warehouse.parquet_reader import close_parquet_readers

pytestmark = pytest.mark.e2e
BACKFILL = (date(2025, 8, 28), date(2025, 9, 3))
TODAY = date(2025, 9, 5)


def _files(out: Path, table: str) -> dict[str, list[str]]:
    parts = read_manifest(out)["tables"][table]["partitions"]
    return {key: part["files"] for key, part in parts.items()}


def test_each_run_publishes_the_shared_warehouse_incrementally(
    prefect_harness, e2e_server, tmp_path: Path
) -> None:
    from flows.daily import daily_ingest

    db, out = tmp_path / "w.duckdb", tmp_path / "share"
    config = tmp_path / "voc.toml"
    config.write_text(f'[warehouse]\nshared_parquet_dir = "{out}"\n', encoding="utf-8")
    port = e2e_server.port
    daily_ingest(
        since=BACKFILL[0],
        until=BACKFILL[1],
        config_path=str(config),
        db_path=str(db),
        demo_port=port,
    )
    first = read_manifest(out)
    docs_before = _files(out, "raw_documents")
    assert sorted(docs_before) == ["2025-08", "2025-09"]

    daily_ingest(config_path=str(config), db_path=str(db), demo_port=port, today=TODAY)
    second = read_manifest(out)
    assert second["export_id"] != first["export_id"]
    docs_after = _files(out, "raw_documents")
    # The incremental run landed September days only: August's file is the same file.
    assert docs_after["2025-08"] == docs_before["2025-08"]
    assert docs_after["2025-09"] != docs_before["2025-09"]
    august = first["tables"]["doc_sentiment"]["partitions"]["2025-08"]["files"]
    assert _files(out, "doc_sentiment")["2025-08"] == august

    # The dashboard reads the same numbers from the shared export as from the snapshot.
    filters = Filters()
    with data.read_only(db) as con:
        expected = pages.kpis(con, filters)
        n_docs = con.execute("SELECT count(*) FROM raw_documents").fetchone()[0]
    try:
        data.use_shared_warehouse(db, str(out))
        with data.read_only(db) as con:
            assert pages.kpis(con, filters) == expected
            assert con.execute("SELECT count(*) FROM raw_documents").fetchone() == (n_docs,)
    finally:
        data.use_shared_warehouse(db, None)
        close_parquet_readers()
    assert expected["current"]["n_docs"] > 0
