"""The daily flow opens cases: real Prefect runs (test harness) over a warehouse of ticket
voices, the real models, the SQLite case store beside the warehouse. Re-running the day
opens nothing; with the store unreachable the run carries on, the openings are spooled,
and the next run opens them."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from flows.daily import daily_ingest
from voc.records import make_document
from warehouse import loaders
from warehouse.case_db import connect_store, store_url
from warehouse.case_spool import pending_spools
from warehouse.case_store import CaseFilters, CaseStore
from warehouse.db import warehouse

pytestmark = pytest.mark.e2e
SALT = "flow-salt"
DAY = date(2025, 5, 20)
CHINA = timezone(timedelta(hours=8))
TEXTS = (
    "快递太慢了，等了一个星期还没到，打客服电话也没人接，太失望了，要投诉",
    "客服态度很好，问题很快就解决了，非常满意",
    "收到的包装破损严重，商品也摔坏了，要求退款，差评",
)
DOWN_URL = "postgresql+psycopg://voc@127.0.0.1:9/voc"  # nothing listens on port 9


def _add(db: Path, texts, first: int, day: date) -> None:
    with warehouse(db) as con:
        loaders.upsert_documents(
            con,
            [
                make_document(source="helpdesk", channel="ticket", external_id=str(first + i),
                              text=text, created_at=datetime(day.year, day.month, day.day, 9 + i,
                                                             tzinfo=CHINA),
                              author_salt=SALT)
                for i, text in enumerate(texts)
            ],
            "seed",
        )  # fmt: skip


def _negative_ids(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT s.doc_id FROM doc_sentiment s WHERE s.label = 'negative' AND "
            "s.model_version = (SELECT model_version FROM doc_sentiment "
            "ORDER BY scored_at DESC LIMIT 1)"
        ).fetchall()
    return {r[0] for r in rows}


def _stage(db: Path, run_id: str) -> tuple[int, int, int, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT n_in, n_out, n_skipped, n_errors FROM run_stages "
            "WHERE run_id = ? AND stage = 'cases'",
            [run_id],
        ).fetchone()


def _cases(db: Path) -> dict[str, tuple[str, str]]:
    """doc id → (rule, priority) of every voice in a case."""
    engine = connect_store(store_url(db, env={}))  # the SQLite side store
    try:
        store = CaseStore(engine)
        return {
            v.doc_id: (case.rule, case.priority)
            for case in store.list_cases(CaseFilters(), limit=1000)
            for v in store.voices(case.case_id)
        }
    finally:
        engine.dispose()


def test_the_daily_run_opens_cases_once_and_spools_them_while_the_store_is_down(
    prefect_harness, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("VOC_AUTHOR_SALT", SALT)
    monkeypatch.delenv("VOC_CASES_DATABASE_URL", raising=False)
    db = tmp_path / "w.duckdb"
    exports = tmp_path / "exports"
    exports.mkdir()
    config = tmp_path / "voc.toml"
    config.write_text(
        f'[sources.helpdesk]\nkind = "ticket_export"\nurl = "{exports}"\n', encoding="utf-8"
    )
    _add(db, TEXTS, 0, DAY)
    first = daily_ingest(since=DAY, until=DAY, config_path=str(config), db_path=str(db))
    negative = _negative_ids(db)
    assert negative, "the model found no negative ticket among the planted complaints"
    cases = _cases(db)
    # The default rules: every negative ticket opens a case (negative_ticket), no other.
    assert set(cases) == negative
    assert {rule for rule, _ in cases.values()} == {"negative_ticket"}
    assert all(priority in ("P1", "P2", "P3", "P4") for _, priority in cases.values())
    n_in, n_out, n_skipped, n_errors = _stage(db, first["run_id"])
    assert (n_out, n_skipped, n_errors) == (len(negative), 0, 0)

    again = daily_ingest(since=DAY, until=DAY, config_path=str(config), db_path=str(db))
    assert _cases(db) == cases
    assert _stage(db, again["run_id"]) == (n_in, 0, len(negative), 0)

    # The store goes away: the run still completes; the new complaint waits in the spool.
    later = DAY + timedelta(days=1)
    _add(db, ["订单超时一周没发货，客服一直推脱，非常生气，要去12315投诉"], 10, later)
    monkeypatch.setenv("VOC_CASES_DATABASE_URL", DOWN_URL)
    down = daily_ingest(since=later, until=later, config_path=str(config), db_path=str(db))
    assert down["status"] == "ok"
    new = _negative_ids(db) - negative
    assert len(new) == 1
    runs = tmp_path / "runs"
    assert len(pending_spools(runs)) == 1
    with duckdb.connect(str(db), read_only=True) as con:
        errors = [r[0] for r in con.execute(
            "SELECT message FROM run_errors WHERE run_id = ? AND stage = 'cases'",
            [down["run_id"]],
        ).fetchall()]  # fmt: skip
    assert len(errors) == 1 and "127.0.0.1:9" in errors[0] and "暂存" in errors[0]
    assert _stage(db, down["run_id"])[3] == 1
    assert set(_cases(db)) == negative  # nothing reached the store

    # Back again: the next run replays the spool; the spooled voice is in a case once.
    monkeypatch.delenv("VOC_CASES_DATABASE_URL")
    back = daily_ingest(since=later, until=later, config_path=str(config), db_path=str(db))
    assert pending_spools(runs) == []
    assert set(_cases(db)) == negative | new
    assert _stage(db, back["run_id"])[1:] == (1, 1, 0)  # replayed 1; today's voice known
