"""Per-source state on a real warehouse file: incremental windows, cursors, run counts and
source-health alerts raised and resolved."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from warehouse.db import open_warehouse
from warehouse.queries import source_health_alerts, source_status
from warehouse.sources import SourceRun, check_health, fetch_window, record_source_run

TZ = timezone(timedelta(hours=8))
TODAY = date(2025, 9, 30)


@pytest.fixture()
def con(tmp_path: Path, new_warehouse):
    c = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    yield c
    c.close()


def _run(**kw) -> SourceRun:
    values = dict(source="shop", kind="shop_reviews", since=TODAY, until=TODAY, mode="incremental")
    values.update(kw)
    return SourceRun(**values)


def test_window_starts_at_the_watermark_minus_lookback_or_backfills(con) -> None:
    assert fetch_window(con, "shop", TODAY, "Asia/Shanghai", 2, 30) == (
        date(2025, 8, 31),
        TODAY,
    )
    # 2025-09-27 23:30 in Shanghai is 15:30 UTC: the local day counts.
    newest = datetime(2025, 9, 27, 23, 30, tzinfo=TZ)
    record_source_run(con, "r1", _run(fetched=5, new=5, watermark=newest))
    assert fetch_window(con, "shop", TODAY, "Asia/Shanghai", 2, 30) == (date(2025, 9, 25), TODAY)
    # The watermark never moves back (a backfill of older days lands older documents).
    record_source_run(con, "r2", _run(fetched=1, watermark=newest - timedelta(days=20)))
    assert fetch_window(con, "shop", TODAY, "Asia/Shanghai", 2, 30)[0] == date(2025, 9, 25)


def test_cursor_is_kept_until_a_run_returns_a_new_one(con) -> None:
    record_source_run(con, "r1", _run(source="desk", kind="helpdesk_api", cursor="cursor:a1"))
    record_source_run(con, "r2", _run(source="desk", kind="helpdesk_api", cursor=None))
    row = con.execute("SELECT cursor FROM source_state WHERE source = 'desk'").fetchone()
    assert row == ("cursor:a1",)
    record_source_run(con, "r3", _run(source="desk", kind="helpdesk_api", cursor="cursor:b2"))
    row = con.execute("SELECT cursor FROM source_state WHERE source = 'desk'").fetchone()
    assert row == ("cursor:b2",)


def test_health_rules() -> None:
    assert check_health(_run(fetched=10), [10, 12]) == []
    zero = check_health(_run(fetched=0), [10, 12, 0])
    assert [(i.check, i.observed, i.expected) for i in zero] == [("zero_items", 0, 10)]
    # A source that was quiet anyway is not alarming when it yields nothing.
    assert check_health(_run(fetched=0), [0, 1, 2]) == []
    assert check_health(_run(fetched=0), []) == []
    failed = check_health(_run(errors=2, last_error="shop: HTTP 500"), [10])
    assert [(i.check, i.message) for i in failed] == [("failed", "shop: HTTP 500")]
    empty = check_health(_run(fetched=6, empty_text=4), [10])
    assert [i.check for i in empty] == ["empty_text"]
    assert check_health(_run(fetched=60, empty_text=1), [10]) == []
    layout = check_health(_run(fetched=3, layout_changed=2, errors=2, last_error="x"), [10])
    assert [i.check for i in layout] == ["layout_changed"]
    blocked = check_health(_run(fetched=0, blocked=1, errors=1, last_error="w: login"), [9])
    assert [i.check for i in blocked] == ["failed", "blocked"]


def test_alerts_open_once_per_check_and_resolve_on_a_healthy_run(con) -> None:
    for n in range(3):
        record_source_run(con, f"ok{n}", _run(fetched=20, new=20))
    record_source_run(con, "bad1", _run(fetched=0))
    record_source_run(con, "bad2", _run(fetched=0))
    alerts = source_health_alerts(con)
    assert [(a["source"], a["check"], a["run_id"]) for a in alerts] == [
        ("shop", "zero_items", "bad2")
    ]
    status = source_status(con)
    assert status[0]["open_health_alerts"] == 1 and status[0]["fetched"] == 0

    record_source_run(con, "good", _run(fetched=15, new=15))
    assert source_health_alerts(con) == []
    resolved = source_health_alerts(con, include_resolved=True)
    assert [(a["check"], a["resolved_run_id"]) for a in resolved] == [("zero_items", "good")]


def test_a_failed_run_counts_consecutive_failures_and_keeps_the_last_success(con) -> None:
    record_source_run(con, "r1", _run(fetched=4))
    failing = _run(errors=1, last_error="shop: could not fetch http://x/: HTTP 500")
    record_source_run(con, "r2", failing)
    record_source_run(con, "r3", replace(failing, last_error="shop: timed out"))
    state = source_status(con)[0]
    assert state["status"] == "failed" and state["consecutive_failures"] == 2
    assert state["last_error"] == "shop: timed out" and state["last_success_at"] is not None
    record_source_run(con, "r4", _run(fetched=4))
    assert source_status(con)[0]["consecutive_failures"] == 0
