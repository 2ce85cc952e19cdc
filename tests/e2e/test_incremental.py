"""Incremental daily runs on the demo sources: each source starts at its watermark minus the
look-back, lands only what is new, and a repeated day adds nothing."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from demo.customers import build_customers
from demo.data import build_corpus

pytestmark = pytest.mark.e2e
BACKFILL = (date(2025, 9, 1), date(2025, 9, 27))
TODAY = date(2025, 9, 30)


def _days(corpus, source: str) -> list[date]:
    if source == "demo_shop":
        return [r.created_at.date() for r in corpus.reviews if not r.broken_date]
    if source == "demo_weibo":
        return [p.created_at.date() for p in corpus.posts]
    if source == "demo_survey":  # one document per non-empty open answer
        return [
            r.submitted_at.date()
            for r in build_customers(corpus.seed).responses
            for answer in (r.reason, r.suggestion)
            if answer
        ]
    return [t.created_at.date() for t in corpus.tickets if t.description.strip()]


def _runs(db: Path, run_id: str) -> dict[str, tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT source, mode, since, until, fetched, new, updated, unchanged "
            "FROM source_runs WHERE run_id = ?",
            [run_id],
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_incremental_runs_fetch_from_the_watermark_and_land_only_new_documents(
    prefect_harness, e2e_server, tmp_path: Path
) -> None:
    from flows.daily import daily_ingest

    db = tmp_path / "w.duckdb"
    port = e2e_server.port
    daily_ingest(since=BACKFILL[0], until=BACKFILL[1], db_path=str(db), demo_port=port)
    with duckdb.connect(str(db), read_only=True) as con:
        watermarks = dict(
            con.execute(
                "SELECT source, (watermark AT TIME ZONE 'Asia/Shanghai')::DATE FROM source_state"
            ).fetchall()
        )

    result = daily_ingest(db_path=str(db), demo_port=port, today=TODAY)
    assert result["mode"] == "incremental"
    corpus = build_corpus()
    runs = _runs(db, result["run_id"])
    assert set(runs) == {"demo_shop", "demo_weibo", "demo_helpdesk", "demo_survey"}
    for source, (mode, since, until, fetched, new, updated, unchanged) in runs.items():
        assert mode == "incremental" and until == TODAY, source
        # The look-back (2 days) re-reads the last days already landed.
        assert since == watermarks[source] - timedelta(days=2), source
        days = _days(corpus, source)
        assert new == sum(BACKFILL[1] < d <= TODAY for d in days), source
        assert unchanged == sum(since <= d <= BACKFILL[1] for d in days), source
        assert fetched == new + unchanged and updated == 0, source

    with duckdb.connect(str(db), read_only=True) as con:
        landed = dict(
            con.execute("SELECT source, count(*) FROM raw_documents GROUP BY 1").fetchall()
        )
    for source in runs:
        assert landed[source] == sum(BACKFILL[0] <= d <= TODAY for d in _days(corpus, source))

    again = daily_ingest(db_path=str(db), demo_port=port, today=TODAY)
    assert all(r[4] == 0 and r[5] == 0 for r in _runs(db, again["run_id"]).values())
