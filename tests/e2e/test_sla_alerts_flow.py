"""The daily flow sends SLA alerts: real Prefect runs (test harness) over a warehouse of
ticket voices, the real models, the SQLite case store, a real local webhook receiver as
the team's channel. A clock starts when its case is opened; with a one-minute first
response target (warned over its whole length), the first run warns, a run a minute later
reports the breach, and a third run sends nothing: once per case, clock and state."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from flows.daily import daily_ingest
from tests.notify.conftest import Receiver, make_receiver, receiver  # noqa: F401 (fixtures)
from voc.records import make_document
from warehouse import loaders
from warehouse.case_db import connect_store, store_url
from warehouse.case_store import CaseFilters, CaseStore
from warehouse.db import warehouse

pytestmark = pytest.mark.e2e
SALT = "sla-flow-salt"
DAY = date(2025, 5, 20)
CHINA = timezone(timedelta(hours=8))
COMPLAINTS = (
    "快递太慢了，等了一个星期还没到，打客服电话也没人接，太失望了，要投诉",
    "收到的包装破损严重，商品也摔坏了，要求退款，差评",
)


def _sla_messages(got: Receiver) -> list[str]:
    """The texts of the SLA alerts the receiver got (spike alerts may come too)."""
    texts = [json.dumps(r.json, ensure_ascii=False) for r in got.requests]
    return [t for t in texts if "工单 #" in t]


def test_breached_clocks_reach_the_team_once(
    prefect_harness,
    tmp_path: Path,
    monkeypatch,
    receiver: Receiver,  # noqa: F811
) -> None:
    monkeypatch.setenv("VOC_AUTHOR_SALT", SALT)
    monkeypatch.delenv("VOC_CASES_DATABASE_URL", raising=False)
    team = receiver
    db = tmp_path / "w.duckdb"
    exports = tmp_path / "exports"
    exports.mkdir()
    config = tmp_path / "voc.toml"
    config.write_text(
        f'[sources.helpdesk]\nkind = "ticket_export"\nurl = "{exports}"\n\n'
        f'[alerts.channels.cx]\nkind = "webhook"\nurl = "{team.url}/hook"\n\n'
        '[cases.teams."客服组"]\nchannels = ["cx"]\n\n'
        '[[cases.routing]]\nteam = "客服组"\n\n'
        "[cases.sla]\n[[cases.sla.policies]]\n"
        'name = "工单"\nchannel = "ticket"\nfirst_response = 1\nresolution = "30d"\n'
        'due_soon = "100%"\ntime = "calendar"\n',
        encoding="utf-8",
    )
    with warehouse(db) as con:
        loaders.upsert_documents(
            con,
            [
                make_document(source="helpdesk", channel="ticket", external_id=str(i), text=text,
                              created_at=datetime(2025, 5, 20, 9 + i, tzinfo=CHINA),
                              author_salt=SALT)
                for i, text in enumerate(COMPLAINTS)
            ],
            "seed",
        )  # fmt: skip
    daily_ingest(since=DAY, until=DAY, config_path=str(config), db_path=str(db))
    engine = connect_store(store_url(db, env={}))
    try:
        cases = CaseStore(engine).list_cases(CaseFilters(), limit=100)
    finally:
        engine.dispose()
    assert cases and all(c.team == "客服组" for c in cases)
    # The policy warns over each target's whole length: both clocks are due soon at once.
    warned = _sla_messages(team)
    assert len(warned) == 2 * len(cases)
    assert sum("首次响应即将超时" in t for t in warned) == len(cases)
    # A minute after the openings the first response is late: one breach per case, and the
    # resolution warning already sent is not sent again.
    opened = min(c.opened_at for c in cases)
    time.sleep(max(0.0, 62 - (datetime.now(UTC) - opened).total_seconds()))
    daily_ingest(since=DAY, until=DAY, config_path=str(config), db_path=str(db))
    sent = _sla_messages(team)
    breached = sent[len(warned) :]
    assert len(breached) == len(cases) and all("首次响应已超时" in t for t in breached)
    for case in cases:
        assert sum(f"工单 #{case.case_id} " in t for t in sent) == 3
    daily_ingest(since=DAY, until=DAY, config_path=str(config), db_path=str(db))
    assert len(_sla_messages(team)) == len(sent)  # nothing is sent twice
