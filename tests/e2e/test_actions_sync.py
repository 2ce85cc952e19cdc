"""What readers do on the dashboard (alert statuses, sentiment corrections) lands in the
warehouse and its snapshot at the next ingestion, so the query page and training see it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from warehouse import action_store, actions, corrections
from warehouse.snapshot import snapshot_path

pytestmark = pytest.mark.e2e
DAY = date(2025, 8, 1)


def test_the_next_run_copies_dashboard_actions_into_warehouse_and_snapshot(
    prefect_harness, e2e_server, tmp_path: Path
) -> None:
    from flows.daily import daily_ingest

    db = tmp_path / "w.duckdb"
    args = dict(db_path=str(db), demo_port=e2e_server.port)
    # No dashboard action yet (the run's case store shares the file): nothing to copy, and
    # the run is unaffected.
    daily_ingest(since=DAY, until=DAY, **args)
    with action_store.store_reader(db) as store:
        assert store is None
    with duckdb.connect(str(db), read_only=True) as con:
        doc_id, text, label, version = con.execute(
            "SELECT r.id, t.text_norm, s.label, s.model_version FROM raw_documents r"
            " JOIN doc_texts t ON t.doc_id = r.id JOIN doc_sentiment s ON s.doc_id = r.id"
            " WHERE s.label = 'positive' ORDER BY r.id LIMIT 1"
        ).fetchone()
    actions.set_alert_status(db, "episode-x", "acknowledged", "王小明", "已转物流组")
    corrections.add_correction(db, doc_id, text, version, label, "negative", "质检员", "反讽")

    daily_ingest(since=DAY, until=DAY, **args)
    for path in (db, snapshot_path(db)):
        with duckdb.connect(str(path), read_only=True) as con:
            assert con.execute(
                "SELECT episode_id, status, who, note FROM alert_actions"
            ).fetchall() == [("episode-x", "acknowledged", "王小明", "已转物流组")]
            assert con.execute(
                "SELECT doc_id, predicted_label, corrected_label FROM sentiment_corrections"
            ).fetchall() == [(doc_id, "positive", "negative")]
