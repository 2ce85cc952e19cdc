"""The 工单 page benchmark at small scale, on the test's case store (SQLite and
PostgreSQL): the store filled through open_cases with the planned mix, every filter set
returning what it names, and a whole page run drawing the queue."""

from __future__ import annotations

import json
from collections import Counter

from benchmarks import cases_page as bench
from voc.cases import OPEN_STATUSES
from warehouse.case_store import CaseFilters, CaseStore


def test_fill_and_measure_on_a_small_store(case_engine, monkeypatch, capsys) -> None:
    store = CaseStore(case_engine)
    filled = bench.fill(store, 400)
    assert filled == {"reused": False, "cases": 400, "open_s": filled["open_s"], "moved": 8}
    assert bench.fill(store, 400)["reused"]  # a second run reuses it
    cases = store.list_cases(CaseFilters(), limit=1000)
    assert len(cases) == 400 and all(c.status in OPEN_STATUSES for c in cases)
    assert Counter(c.status for c in cases)["new"] == 392
    priorities = Counter(c.priority for c in cases)
    assert set(priorities) == {"P1", "P2", "P3", "P4"} and priorities["P3"] > priorities["P1"]
    for name, filters, _ in bench.filter_sets():
        shown = store.list_cases(filters, limit=1000)
        assert shown, name
        if filters.teams:
            assert {c.team for c in shown} == set(filters.teams)
        if filters.owners:
            assert {c.owner for c in shown} == set(filters.owners)
    parts = {r["part"]: r for r in bench.measure(store, 6)}
    assert set(parts) == {"queue", "sla", "detail", "page data"}
    assert all(0 < r["p50_s"] <= r["p95_s"] <= r["max_s"] for r in parts.values())
    url = case_engine.url.render_as_string(hide_password=False)
    # measure_page sets these for its AppTest: monkeypatched so they are restored after.
    monkeypatch.setenv("VOC_CASES_DATABASE_URL", url)
    monkeypatch.setenv("VOC_DB", "unset")
    monkeypatch.delenv("VOC_DASHBOARD_PASSWORD", raising=False)
    page = bench.measure_page(url, 2)  # raises when the page draws no queue
    assert page["part"] == "whole page (AppTest)" and page["p95_s"] > 0


def test_main_reports_json(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'bench.sqlite'}"
    assert (
        bench.main(["--cases", "200", "--runs", "3", "--page-runs", "0", "--url", url, "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["open_cases"] == 200 and out["meets_target"] is True
