"""A dashboard replica on the shared Parquet warehouse: AppTest of the pages with
``shared_parquet_dir`` set and no warehouse file at all where the replica runs (another
machine): the same numbers as the dashboard on the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.seed import build_seed_warehouse
from tests.dashboard.test_pages import APP, N_DOCS, N_NEGATIVE, metrics
from warehouse.parquet_export import export_parquet
from warehouse.parquet_reader import close_parquet_readers


@pytest.fixture(scope="module")
def share(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shared-pages")
    db = build_seed_warehouse(root / "writer" / "voc.duckdb")
    out = root / "share"
    export_parquet(db, out)
    yield out
    close_parquet_readers()


def _replica(share: Path, tmp_path: Path, monkeypatch, page: str) -> AppTest:
    replica_db = tmp_path / "replica" / "voc.duckdb"  # never created
    monkeypatch.setenv("VOC_DB", str(replica_db))
    monkeypatch.setenv("VOC_SHARED_PARQUET_DIR", str(share))
    monkeypatch.delenv("VOC_DASHBOARD_PASSWORD", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["page"] = page
    at.run()
    assert not at.exception, at.exception
    assert not replica_db.exists()
    return at


def test_a_replica_without_the_warehouse_file_shows_the_overview(
    share: Path, tmp_path: Path, monkeypatch
) -> None:
    at = _replica(share, tmp_path, monkeypatch, "overview")
    numbers = metrics(at)
    assert numbers["文档数"] == f"{N_DOCS:,}"
    assert numbers["负面占比"] == f"{N_NEGATIVE / N_DOCS:.1%}"
    assert [h.value for h in at.header] == ["总览"]


@pytest.mark.parametrize("page", ["themes", "alerts", "sources", "quality", "explore"])
def test_a_replica_renders_the_warehouse_pages(
    page: str, share: Path, tmp_path: Path, monkeypatch
) -> None:
    at = _replica(share, tmp_path, monkeypatch, page)
    assert at.header and not at.warning, [w.value for w in at.warning]


def test_a_replica_before_the_first_export_says_so(tmp_path: Path, monkeypatch) -> None:
    at = _replica(tmp_path / "empty-share", tmp_path, monkeypatch, "overview")
    assert any("voc warehouse export-parquet" in w.value for w in at.warning)
