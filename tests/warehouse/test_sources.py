"""Per-source state on a real warehouse file: incremental windows, cursors, run counts and
source-health alerts raised and resolved."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from scrapers.fetch import problem_examples
from warehouse.db import open_warehouse
from warehouse.queries import source_health_alerts, source_status
from warehouse.sources import (
    SourceRun,
    check_health,
    fetch_window,
    headline_problem,
    record_source_run,
)

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
    assert [i.check for i in failed] == ["failed"]
    assert failed[0].message.startswith("shop: HTTP 500 (this run: 2 other; fix: read the error")
    empty = check_health(_run(fetched=6, empty_text=4), [10])
    assert [i.check for i in empty] == ["empty_text"]
    assert check_health(_run(fetched=60, empty_text=1), [10]) == []
    layout = check_health(_run(fetched=3, layout_changed=2, errors=2, last_error="x"), [10])
    assert [i.check for i in layout] == ["layout_changed"]
    # Every page refused: blocked, not failed (the fix is to slow down, not to debug).
    blocked = check_health(_run(fetched=0, blocked=1, errors=1, last_error="w: login"), [9])
    assert [i.check for i in blocked] == ["blocked"]
    # Refused pages and a real error besides: failed leads, blocked follows.
    both = check_health(_run(fetched=0, blocked=1, errors=2, last_error="w: login"), [9])
    assert [i.check for i in both] == ["failed", "blocked"]


def test_health_names_the_worst_problem_quotes_each_kind_and_counts_them() -> None:
    """A run with a captcha page, two pages of a changed layout and a parse error: the
    alerts quote the first message of their own kind (not the run's last problem), the
    worst kind leads with its fix and every kind's count."""
    run = _run(
        fetched=40,
        errors=4,
        skipped=1,
        blocked=1,
        layout_changed=2,
        last_error="weibo: post 7: no id",
        examples={
            "blocked": "weibo: …: the site wants a verification (captcha) first",
            "layout_changed": "weibo: …: no data.cards in the payload",
        },
    )
    issues = check_health(run, [40])
    assert [i.check for i in issues] == ["blocked", "layout_changed"]
    head, layout = issues
    assert "first: weibo: …: the site wants a verification (captcha) first" in head.message
    assert "this run: 1 blocked · 2 layout changed · 1 skipped · 1 other" in head.message
    assert "fix: slow down" in head.message and "post 7" not in head.message
    assert layout.message == (
        "shop: 2 page(s) no longer match the parser; first: weibo: …: no data.cards in the payload"
    )
    assert headline_problem(run.examples, ["a", "weibo: post 7: no id"]) == run.examples["blocked"]
    assert headline_problem({}, ["a", "b"]) == "b" and headline_problem({}, []) is None


def test_crawl_stats_keep_the_first_message_of_each_kind() -> None:
    stats = {
        "voc/first/voc/login_required": "w: login wall",
        "voc/first/voc/blocked": "w: rate limit",
        "voc/first/voc/layout_changed": "w: no data.cards",
        "voc/first/voc/parse_error": "w: post 7: no id",
    }
    assert problem_examples(stats) == {
        "blocked": "w: rate limit",
        "layout_changed": "w: no data.cards",
    }
    assert problem_examples({}) == {}


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
