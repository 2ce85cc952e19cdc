"""The dashboard never blocks ingestion and is never blocked by it: an ingestion in another
process writes the warehouse while dashboard queries run against the published snapshot,
one of them holding its connection open the whole time; both succeed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboard.data import read_only
from tests.e2e.conftest import E2E_UNTIL
from warehouse import pages, queries
from warehouse.page_filters import Filters
from warehouse.snapshot import snapshot_path

pytestmark = pytest.mark.e2e


def _config(tmp_path: Path, base: str) -> Path:
    config = tmp_path / "voc.toml"
    config.write_text(
        f'[sources.demo_shop]\nkind = "shop_reviews"\nurl = "{base}/shop/"\n'
        f'[sources.demo_weibo]\nkind = "microblog"\nurl = "{base}/api/search"\n'
        'query = "客声优选"\n',
        encoding="utf-8",
    )
    return config


def _ingest(config: Path, db: Path, since, until) -> subprocess.Popen:
    args = ["ingest", "--config", str(config), "--db", str(db)]
    args += ["--since", str(since), "--until", str(until)]
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        env=os.environ.copy(),  # the test harness's Prefect API
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_ingestion_and_dashboard_queries_run_side_by_side(
    prefect_harness, e2e_server, tmp_path: Path
) -> None:
    config = _config(tmp_path, e2e_server.base_url)
    db = tmp_path / "voc.duckdb"
    first = _ingest(config, db, E2E_UNTIL, E2E_UNTIL)
    assert first.wait(timeout=600) == 0, first.stdout.read().decode()
    assert snapshot_path(db).exists()
    with read_only(db) as con:
        before = queries.warehouse_summary(con)["documents"]["total"]

    since = E2E_UNTIL.replace(day=1)
    with read_only(db) as held:  # a page that keeps its connection open throughout
        run = _ingest(config, db, since, E2E_UNTIL)
        served, errors = 0, []
        while run.poll() is None:
            try:
                with read_only(db) as con:
                    queries.warehouse_summary(con)
                    pages.daily_trend(con, Filters())
                served += 1
            except Exception as exc:  # every failure is a finding
                errors.append(repr(exc))
            time.sleep(0.2)
        assert held.execute("SELECT count(*) FROM raw_documents").fetchone()[0] == before
    output = run.stdout.read().decode()
    assert run.returncode == 0, output
    assert errors == [] and served >= 3
    with read_only(db) as con:
        assert queries.warehouse_summary(con)["documents"]["total"] > before
