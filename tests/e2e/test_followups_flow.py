"""The 回访 flow in a real Prefect run: it plans the day's follow-ups from a resolved case
and an order, sends each owner's list once to a real local webhook, plans and sends
nothing new when run again, and carries on (reporting it) when the case store is down."""

from __future__ import annotations

import http.server
import json
from datetime import date
from pathlib import Path

import pytest

from tests.followup_seed import add_customer, open_case, utc, walk
from tests.localserver import serve, url_of
from voc.alert_settings import AlertConfig, ChannelConfig
from voc.followup_rules import FollowupsConfig
from voc.settings import Settings
from warehouse.case_db import connect_store, create_schema
from warehouse.db import warehouse
from warehouse.followup_store import FollowupStore

NOW = utc(2025, 10, 14, 1)  # Tuesday 09:00 in Shanghai


class _Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.bodies.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hook():
    with serve(_Hook, bodies=[]) as server:
        yield server


def test_followups_flow_plans_and_sends_once(
    prefect_harness, new_warehouse, tmp_path: Path, hook
) -> None:
    from flows.followup_tasks import followups_flow

    db = new_warehouse(tmp_path / "voc.duckdb")
    with warehouse(db) as con:
        add_customer(con, "K1", "一般", "李经理", last_order=date(2025, 10, 9))  # day 5 = 10-14
    url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    engine = connect_store(url)
    create_schema(engine)
    case = open_case(engine, "d1", "K2", utc(2025, 10, 10))
    walk(engine, case, [("in_progress", utc(2025, 10, 11)), ("follow_up", utc(2025, 10, 13))])
    alerts = AlertConfig(channels=(ChannelConfig("hook", "webhook", url=url_of(hook) + "/x"),))
    settings = Settings(db_path=db, alerts=alerts)
    rules = FollowupsConfig(default_owner="值班")

    planned, sent = followups_flow(settings, rules, url, NOW)
    assert (planned.n_out, planned.n_errors) == (2, 0)
    assert (sent.n_in, sent.n_out) == (2, 2)
    titles = sorted(b["title"] for b in hook.bodies)
    assert titles == ["李经理 今日回访 1 个（逾期 0 个）", "王五 今日回访 1 个（逾期 0 个）"]
    due = FollowupStore(engine).due(date(2025, 10, 14))
    assert sorted((f.reason, f.owner) for f in due) == [
        ("case_resolved", "王五"),
        ("order_day5", "李经理"),
    ]

    planned, sent = followups_flow(settings, rules, url, NOW)
    # Nothing new; the order is asked for again (known), the case event is not read again.
    assert (planned.n_out, planned.n_skipped) == (0, 1)
    assert sent.n_out == 0 and len(hook.bodies) == 2  # each owner's list once a day
    engine.dispose()


def test_followups_flow_carries_on_without_the_case_store(
    prefect_harness, new_warehouse, tmp_path: Path
) -> None:
    from flows.followup_tasks import followups_flow

    db = new_warehouse(tmp_path / "voc.duckdb")
    down = "postgresql+psycopg://voc@127.0.0.1:9/cases"
    planned, sent = followups_flow(Settings(db_path=db), FollowupsConfig(), down, NOW)
    assert planned.n_errors == 1 and "工单库无法连接" in planned.problems[0]
    assert sent.n_errors == 1
