"""Response times through the real daily flow (Prefect test harness, local HTTP servers,
a DuckDB file): a Zendesk export with metric_sets, a support mailbox with our replies and a
complaint platform land in doc_response_times during the normal ingestion; the snapshot
answers the analytics; a second run changes nothing."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from scrapers.parsers import CHINA_TZ
from tests.localserver import serve, url_of
from tests.scrapers.test_response_sources import FIXTURES, _Complaints, _Zendesk
from warehouse.db import read_only
from warehouse.response_times import response_time_summary
from warehouse.snapshot import snapshot_path

pytestmark = pytest.mark.e2e

CONFIG = """\
[sources.zendesk]
kind = "helpdesk_api"
url = "{zendesk}"

[sources.support_mail]
kind = "mailbox"
url = "{mail}"
our_domains = ["kesheng.cn"]

[sources.heimao]
kind = "complaints"
url = "{heimao}"
keywords = "某某快递"
"""
MARCH = (date(2024, 3, 1), date(2024, 3, 31))


def _table(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_sources_response_times_land_during_ingestion_and_a_rerun_changes_nothing(
    prefect_harness, tmp_path: Path
) -> None:
    from flows.daily import daily_ingest

    mail = tmp_path / "mail"
    mail.mkdir()
    shutil.copy(FIXTURES / "support_thread_2024-03.mbox", mail)
    db = tmp_path / "w.duckdb"
    with serve(_Zendesk, queries=[]) as zendesk, serve(_Complaints) as heimao:
        config = tmp_path / "voc.toml"
        config.write_text(
            CONFIG.format(zendesk=url_of(zendesk), mail=mail, heimao=url_of(heimao)),
            encoding="utf-8",
        )
        first = daily_ingest(*MARCH, config_path=str(config), db_path=str(db))
        # The saved list page has one complaint without a time: named, nothing else wrong.
        assert first["status"] == "partial"
        errors = _table(db, "SELECT source, message FROM run_errors")
        assert errors and all(s == "heimao" and "complaint #3" in m for s, m in errors), errors
        sql = (
            "SELECT origin, count(*), count(first_response_at), count(resolved_at) "
            "FROM doc_response_times GROUP BY origin ORDER BY origin"
        )
        rows = _table(db, sql)
        # 2 complaints (both answered and completed), 3 customer mails (2 answered, no
        # resolution in mail), 4 tickets (3 answered, 1 solved).
        assert rows == [
            ("complaint_steps", 2, 2, 2),
            ("mail_thread", 3, 2, 0),
            ("zendesk_metrics", 4, 3, 1),
        ]
        assert _table(db, "SELECT count(*) FROM mail_replies") == [(2,)]
        snapshot = _table(db, "SELECT * FROM doc_response_times ORDER BY doc_id")
        second = daily_ingest(*MARCH, config_path=str(config), db_path=str(db))
        assert second["status"] == "partial"
        assert _table(db, "SELECT * FROM doc_response_times ORDER BY doc_id") == snapshot
    # The dashboard's read-only snapshot answers the analytics.
    with read_only(snapshot_path(db)) as con:
        summary = response_time_summary(
            con, "origin", now=datetime(2024, 4, 1, tzinfo=CHINA_TZ)
        ).set_index("origin")
    assert summary.loc["zendesk_metrics", "n_answered"] == 3
    assert summary.loc["mail_thread", "first_response_median"] == pytest.approx((390 + 1920) / 2)
    # Complaints answered after 21 h 50 and 89 h 10: one breach of 24 h.
    assert summary.loc["complaint_steps", "n_breached"] == 1
