"""The dashboard benchmark's customers at small scale (`benchmarks.customer_data`): plausible
sizes, voices attributed to the segment of their day, and the 客户 page's benchmark run
returning data for every filter set."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import customer_data
from benchmarks import dashboard as bench
from benchmarks.dashboard_data import generate_warehouse
from warehouse import customer_aggregates, customer_voices, satisfaction
from warehouse.db import open_warehouse, read_only
from warehouse.snapshot import publish_snapshot, snapshot_path


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("bench") / "dashboard.duckdb"
    generate_warehouse(db, 20_000)
    con = open_warehouse(db)
    try:
        sizes = customer_data.add_customers(con, 5_000)
        assert customer_data.has_customers(con)
        customer_aggregates.refresh_customer_aggregates(con)
    finally:
        con.close()
    publish_snapshot(db)
    assert sizes["customers"] == 5_000
    assert 0.35 < sizes["doc_customers"] / 20_000 < 0.45
    assert 0.03 < sizes["survey_responses"] / 20_000 < 0.05
    return snapshot_path(db)


def test_voices_carry_the_segment_of_their_day(snapshot: Path) -> None:
    with read_only(snapshot) as con:
        wrong = con.execute(
            "SELECT count(*) FROM doc_customers d JOIN raw_documents r ON r.id = d.doc_id "
            "JOIN customer_segments s ON s.customer_id = d.customer_id "
            " AND (s.valid_from IS NULL OR s.valid_from <= r.local_day) "
            " AND (s.valid_to IS NULL OR r.local_day < s.valid_to) "
            "WHERE s.segment IS DISTINCT FROM d.segment"
        ).fetchone()[0]
        moved = con.execute(
            "SELECT count(DISTINCT customer_id) FROM customer_segments WHERE valid_to IS NOT NULL"
        ).fetchone()[0]
        series = satisfaction.satisfaction_series(con, satisfaction.CustomerFilters(), "quarter")
        top = customer_voices.negative_customers(con, satisfaction.CustomerFilters(), limit=1)
        assert customer_aggregates.customer_relations(con).aggregated
    assert wrong == 0 and 300 < moved < 700
    assert len(series) == 8 and series["nps_enough"].all()
    # Skewed links: the most negative customer has several negative voices.
    assert top["n_negative"].iloc[0] >= 3


def test_customers_page_benchmark_runs_on_every_filter_set(snapshot: Path) -> None:
    results = bench.measure(snapshot, runs=5, baseline_runs=0, only=("客户",))
    assert [r["page"] for r in results] == ["客户 Customers"]
    assert results[0]["p95"] > 0
    with read_only(snapshot) as con:
        drivers = satisfaction.satisfaction_drivers(con, satisfaction.CustomerFilters())
    assert len(drivers) > 20 and drivers["enough"].iloc[0]
