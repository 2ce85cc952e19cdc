"""The daily flow links voices to customers: a real Prefect run (test harness) over a
warehouse with an imported customer file; the `customers` stage is in the run log."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from cli.main import main
from flows.daily import daily_ingest
from voc.records import make_document
from warehouse import loaders
from warehouse.db import warehouse

pytestmark = pytest.mark.e2e
SALT = "flow-salt"
DAY = date(2025, 5, 20)


def test_the_daily_run_links_new_voices_to_customers(
    prefect_harness, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("VOC_AUTHOR_SALT", SALT)
    db = tmp_path / "w.duckdb"
    exports = tmp_path / "exports"
    exports.mkdir()
    config = tmp_path / "voc.toml"
    config.write_text(
        f'[sources.helpdesk]\nkind = "ticket_export"\nurl = "{exports}"\n', encoding="utf-8"
    )
    buf = io.StringIO()
    csv.writer(buf).writerows(
        [["会员号", "手机", "客户等级"], ["M001", "13800138000", "高价值"], ["M002", "", "一般"]]
    )
    crm = tmp_path / "crm.csv"
    crm.write_bytes(buf.getvalue().encode("gbk"))
    assert main(["customers", "import", str(crm), "--db", str(db), "--as-of", "2025-05-01"]) == 0
    china = timezone(timedelta(hours=8))
    with warehouse(db) as con:
        loaders.upsert_documents(
            con,
            [
                make_document(source="helpdesk", channel="ticket", external_id=str(i),
                              text=text, created_at=datetime(2025, 5, 19, 9, tzinfo=china),
                              author_salt=SALT, customer=key)
                for i, (text, key) in enumerate(
                    [("快递太慢了，等了一周", "138 0013 8000"), ("客服态度很好", "M002"),
                     ("包装破损", None)]
                )
            ],
            "seed",
        )  # fmt: skip
    capsys.readouterr()
    result = daily_ingest(since=DAY, until=DAY, config_path=str(config), db_path=str(db))
    with duckdb.connect(str(db), read_only=True) as con:
        linked = con.execute(
            "SELECT r.external_id, c.segment, c.via FROM doc_customers c "
            "JOIN raw_documents r ON r.id = c.doc_id ORDER BY 1"
        ).fetchall()
        stage = con.execute(
            "SELECT n_in, n_out FROM run_stages WHERE run_id = ? AND stage = 'customers'",
            [result["run_id"]],
        ).fetchone()
        sentiment = con.execute("SELECT count(*) FROM doc_sentiment").fetchone()[0]
    assert linked == [("0", "高价值", "key"), ("1", "一般", "key")]
    # The import linked nothing (no voices yet); the run links the two new keyed voices.
    assert stage == (3, 2)
    assert sentiment == 3  # the unlinked voice is kept and enriched like the others
