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


def test_main_page_shows_counts_in_chinese(app: AppTest) -> None:
    assert "客声" in app.title[0].value
    labels = {m.label: m.value for m in app.metric}
    assert int(labels["文档数（去重后）"].replace(",", "")) > 3000
    assert labels["负面预警"] != "0"
    assert [s.value for s in app.subheader] == [
        "每日情感趋势（按来源）",
        "负面预警",
        "主要投诉主题",
        "最新负面反馈",
        "数据源状态",
        "查询",
    ]
    sources = app.dataframe[-1].value  # the query result shows only after 运行查询
    assert set(sources["来源"]) == {"商城评价", "微博", "客服工单"}
    assert (sources["抓取"] > 0).all()


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
    assert health["详情"][0].endswith("HTTP 500 <b>bold</b>")  # shown as text, not HTML


def test_planted_spike_is_listed_with_its_theme_and_verbatims(app: AppTest) -> None:
    alerts = app.dataframe[0].value
    row = alerts[
        (alerts["日期"] == str(EVENT.start))
        & (alerts["来源"] == "微博")
        & (alerts["指标"] == "负面数量")
    ]
    assert len(row) == 1
    index = int(row.index[0])
    app.selectbox(key="alert_choice").select(index).run()
    assert not app.exception
    keywords = app.text[0].value
    assert any(k in keywords for k in EVENT.keywords), keywords
    evidence = app.dataframe[1].value
    assert 1 <= len(evidence) <= 5
    assert any(any(k in t for k in EVENT.keywords) for t in evidence["原文"])


def test_switching_the_trend_metric_keeps_the_page_working(app: AppTest) -> None:
    app.radio(key="trend_metric").set_value("negative_share").run()
    assert not app.exception
    assert app.radio(key="trend_metric").value == "negative_share"


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
        [sys.executable, "-m", "voc.cli", "dashboard", "--db", str(e2e_db), "--port", str(port)],
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
        out, _ = proc.communicate(timeout=30)
    assert f"http://localhost:{port}" in out.decode()


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
        assert int(labels["文档数（去重后）"].replace(",", "")) > 3000
        assert not any("稍后刷新" in i.value for i in at.info)
    finally:
        holder.kill()
        holder.wait()


def test_query_console_runs_a_select_and_refuses_a_write(app: AppTest) -> None:
    app.text_area(key="query_sql").input(
        "SELECT channel, count(*) AS n FROM v_documents GROUP BY channel ORDER BY channel"
    )
    app.button(key="query_run").click().run()
    assert not app.exception
    result = app.dataframe[-1].value
    assert list(result["channel"]) == ["review", "social", "ticket"] and (result["n"] > 0).all()

    app.text_area(key="query_sql").input("DELETE FROM raw_documents")
    app.button(key="query_run").click().run()
    assert not app.exception
    assert any("只读" in e.value or "read-only" in e.value.lower() for e in app.error), [
        e.value for e in app.error
    ]
