"""Fixtures of the 工单 and 回访 page tests: the customer seed warehouse and a case store
(`case_engine`: SQLite and PostgreSQL) seeded with six open cases, its URL in the
environment the dashboard reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.customer_seed import build_customer_warehouse, cid
from tests.dashboard.case_pages import HOSTILE_TITLE, NOW, opening
from warehouse.case_store import CaseStore


@pytest.fixture(scope="module")
def warehouse_db(tmp_path_factory) -> Path:
    return build_customer_warehouse(tmp_path_factory.mktemp("cases") / "voc.duckdb")


@pytest.fixture()
def store(case_engine, monkeypatch) -> CaseStore:
    """The store, with 6 open cases: 2 P1 (one a 高价值 customer's), 4 P3 (one social)."""
    from warehouse.case_db import create_schema

    create_schema(case_engine)
    monkeypatch.setenv(
        "VOC_CASES_DATABASE_URL", case_engine.url.render_as_string(hide_password=False)
    )
    cases = CaseStore(case_engine)
    openings = [
        opening(0, priority="P1", customer=cid("H01")),
        opening(1, priority="P1"),
        opening(2, priority="P3"),
        opening(3, priority="P3"),
        opening(4, priority="P3", channel="social"),
        opening(5, priority="P3", title=HOSTILE_TITLE),
    ]
    result = cases.open_cases(openings, NOW)
    assert result.n_opened == 6
    return cases
