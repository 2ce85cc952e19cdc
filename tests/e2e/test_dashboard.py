"""Streamlit AppTest of the main page against the e2e demo warehouse."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from demo.events import PLANTED_EVENTS
from tests.e2e.conftest import free_port

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
EVENT = PLANTED_EVENTS[0]
pytestmark = pytest.mark.e2e


@pytest.fixture()
def app(e2e_db: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("VOC_DB", str(e2e_db))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_overview_shows_counts_in_chinese(app: AppTest) -> None:
    assert "客声" in app.title[0].value
    assert [h.value for h in app.header] == ["总览"]
    labels = {m.label: m.value for m in app.metric}
    # The default view is the last 30 days of the demo window.
    assert int(labels["文档数"].replace(",", "")) > 1000
    assert labels["负面占比"].endswith("%")
    assert app.radio(key="nav_page").options == [
        "总览",
        "预警",
        "工单",
        "回访",
        "主题",
        "客户",
        "成效",
        "检索",
        "查询",
        "数据源",
        "质量",
    ]


def test_a_broken_source_is_flagged_above_the_numbers(
    e2e_db: Path, tmp_path: Path, monkeypatch
) -> None:
    import shutil
    from datetime import date

    from warehouse.db import warehouse
    from warehouse.sources import SourceRun, record_source_run

    db = tmp_path / "copy.duckdb"
    shutil.copy(e2e_db, db)
    with warehouse(db) as con:
        record_source_run(
            con,
            "broken-run",
            SourceRun(
                "demo_weibo",
                "microblog",
                date(2025, 9, 30),
                date(2025, 9, 30),
                "incremental",
                errors=3,
                last_error="demo_weibo: could not fetch http://x/api: HTTP 500 <b>bold</b>",
            ),
        )
    monkeypatch.setenv("VOC_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    assert "数据源异常 1 项" in at.error[0].value
    health = at.dataframe[0].value
    assert list(health["来源"]) == ["微博"] and "抓取失败" in health["检查项"][0]
    assert "HTTP 500 <b>bold</b> (this run: " in health["详情"][0]  # as text, not HTML
    assert "fix: read the error" in health["详情"][0]  # the worst problem leads, with its fix


def test_planted_spike_is_listed_with_its_drivers_and_verbatims(app: AppTest) -> None:
    app.radio(key="nav_page").set_value("alerts").run()
    assert not app.exception
    listing = next(d.value for d in app.dataframe if "驱动因素" in d.value.columns)
    weibo = listing[(listing["对象"] == "微博") & (listing["开始"] == str(EVENT.start))]
    assert len(weibo) >= 1
    index = int(weibo.index[0])
    app.selectbox(key="alert").select_index(index).run()
    assert not app.exception
    drivers = next(d.value for d in app.dataframe if "显著性 z" in d.value.columns)
    assert any(any(k in name for k in EVENT.keywords) for name in drivers["名称"]), drivers
    verbatims = next(d.value for d in app.dataframe if "同声数" in d.value.columns)
    assert 3 <= len(verbatims) <= 5
    assert any(any(k in text for k in EVENT.keywords) for text in verbatims["原文"])


def test_switching_the_trend_metric_keeps_the_page_working(app: AppTest) -> None:
    app.radio(key="ov_metric").set_value("negative_share").run()
    assert not app.exception
    assert app.radio(key="ov_metric").value == "negative_share"


def test_missing_warehouse_shows_a_hint_not_a_crash(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VOC_DB", str(tmp_path / "none.duckdb"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert "暂无数据" in at.warning[0].value


def test_voc_dashboard_serves_the_app_until_interrupted(e2e_db: Path, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "dashboard", "--db", str(e2e_db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "CI": "true"},
    )
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and status != 200:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as r:
                    status = r.status
            except OSError:
                time.sleep(0.5)
        assert status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        # The command gives Streamlit 10 s after SIGTERM, then kills it.
        out, _ = proc.communicate(timeout=60)
    assert f"http://localhost:{port}" in out.decode()
    assert proc.returncode == 0


def test_warehouse_locked_by_an_ingestion_still_shows_the_last_snapshot(
    e2e_db: Path, monkeypatch
) -> None:
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('locked', flush=True); time.sleep(60)",
            str(e2e_db),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"locked"
        monkeypatch.setenv("VOC_DB", str(e2e_db))
        st.cache_data.clear()  # a cached page would (rightly) still show the last data
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        assert not at.exception
        # The page reads the published snapshot, not the locked warehouse.
        labels = {m.label: m.value for m in at.metric}
        assert int(labels["文档数"].replace(",", "")) > 1000
        assert not any("稍后刷新" in i.value for i in at.info)
    finally:
        holder.kill()
        holder.wait()


def test_query_console_runs_a_select_and_refuses_a_write(app: AppTest) -> None:
    app.radio(key="nav_page").set_value("query").run()
    app.text_area(key="query_sql").input(
        "SELECT channel, count(*) AS n FROM v_documents GROUP BY channel ORDER BY channel"
    )
    app.button(key="query_run").click().run()
    assert not app.exception
    result = app.dataframe[-1].value
    assert (
        list(result["channel"]) == ["review", "social", "survey", "ticket"]
        and (result["n"] > 0).all()
    )

    app.text_area(key="query_sql").input("DELETE FROM raw_documents")
    app.button(key="query_run").click().run()
    assert not app.exception
    assert any("只读" in e.value or "read-only" in e.value.lower() for e in app.error), [
        e.value for e in app.error
    ]


def test_a_server_that_ignores_sigterm_is_killed_after_the_grace_period() -> None:
    import subprocess
    import sys
    import time

    from cli.dashboard import stop_child

    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('up', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
    )
    assert stubborn.stdout.readline().strip() == b"up"
    start = time.monotonic()
    stop_child(stubborn, grace=1.0)
    assert stubborn.returncode == -9  # SIGKILL, after SIGTERM was ignored
    assert time.monotonic() - start < 30
