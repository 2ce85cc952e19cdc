"""SLA alerts through the real delivery path: local webhook receivers on real ports, the
warehouse's ``alert_deliveries`` table for de-duplication, quiet hours, team routing; and
over a real case store (SQLite file and PostgreSQL) with `deliver_case_alerts`.

Working hours 09:00–12:00 and 13:00–18:00; a ticket opened Tue 2025-09-30 16:00 has 120
working minutes that day, then none until Thu 10-09 (国庆): its four-hour first response
is due Thu 11:00, and due soon (the last 25%, 60 minutes) from Thu 10:00.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from notify.deliver import Delivery
from signals.case_alerts import (
    CaseAlert,
    alert_id,
    case_message,
    deliver_case_alerts,
    send_case_alerts,
    sla_alerts,
)
from tests.notify.conftest import Receiver, make_receiver, receiver  # noqa: F401 (fixtures)
from voc.alert_settings import AlertConfig, parse_alert_config
from voc.business_time import parse_calendar_config
from voc.case_config import TeamConfig
from voc.cases import OPEN_STATUSES, Case, CaseEvent, CaseOpening, CaseVoice
from voc.sla import SlaConfig, case_sla, parse_sla_config
from warehouse.case_db import StoreUnavailable, connect_store
from warehouse.case_store import CaseFilters, CaseStore
from warehouse.db import open_warehouse
from warehouse.deliveries import delivered_pairs, held_or_failed, save_deliveries

CST = timezone(timedelta(hours=8))
SLA = """
[cases.calendar]
working_hours = ["09:00-12:00", "13:00-18:00"]

[cases.sla]

[[cases.sla.policies]]
name = "工单"
channel = "ticket"
first_response = "4h"
resolution = "2d"

[[cases.sla.policies]]
name = "社媒"
channel = "social"
first_response = "1h"
resolution = "24h"
time = "calendar"
due_soon = "15m"
"""


def at(day: str, hm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}:00").replace(tzinfo=CST)


@pytest.fixture(scope="module")
def sla() -> SlaConfig:
    raw, now = tomllib.loads(SLA)["cases"], at("2025-09-29", "09:00")
    calendar = parse_calendar_config(raw["calendar"], "voc.toml", now)
    return parse_sla_config(raw["sla"], "voc.toml", calendar=calendar, now=now)


def alert_config(channels: dict[str, Receiver], **alerts: Any) -> AlertConfig:
    table = {"retry_attempts": 2, "retry_base_delay": 0.001, "timeout": 5, **alerts}
    table["channels"] = {
        name: {"kind": "webhook", "url": r.url + "/hook"} for name, r in channels.items()
    }
    return parse_alert_config(table, "voc.toml")


def make_case(case_id: int, opened: datetime, status: str = "new", **kw: Any) -> Case:
    values: dict[str, Any] = dict(
        case_id=case_id,
        merge_key=f"doc:d{case_id}",
        rule="negative_ticket",
        title="下单三天未发货",
        status=status,
        priority="P3",
        team="售后",
        owner="张三",
        customer_id=None,
        segment="高价值",
        province=None,
        source="demo_helpdesk",
        channel="ticket",
        theme_id="t1",
        theme_label="物流慢",
        aspect="物流",
        category="物流",
        severity={},
        opened_at=opened.astimezone(UTC),
        updated_at=opened.astimezone(UTC),
        version=1,
        n_voices=1,
        first_response_at=None,
        resolved_at=None,
        closed_at=None,
    )
    values.update(kw)
    return Case(**values)


def opened_event(case: Case) -> CaseEvent:
    return CaseEvent(case.case_id, 1, case.opened_at, "system", "open", None, "new", "", {})


def with_events(*cases: Case, moves: dict[int, list[tuple[datetime, str]]] | None = None):
    out = []
    for case in cases:
        events = [opened_event(case)]
        status = "new"
        for moment, to in (moves or {}).get(case.case_id, []):
            events.append(
                CaseEvent(
                    case.case_id, len(events) + 1, moment, "张三", "status", status, to, "", {}
                )
            )
            status = to
        out.append((case, events))
    return out


def summary(results: list[Delivery]) -> list[tuple[str, str, str]]:
    return [(d.alert_id, d.channel, d.status) for d in results]


def run(alerts: list[CaseAlert], config: AlertConfig, teams, con, now: datetime):
    results = send_case_alerts(alerts, config, teams, delivered_pairs(con), now, env={})
    save_deliveries(con, results)
    return results


def test_due_soon_then_breached_each_sent_once_to_the_owners_team(
    make_receiver: Callable[[], Receiver],  # noqa: F811
    sla: SlaConfig,
    tmp_path: Path,
) -> None:
    aftersales, ops = make_receiver(), make_receiver()
    config = alert_config(
        {"aftersales": aftersales, "ops": ops},
        routes=[{"kind": "sla", "channels": ["ops"]}],
        dashboard_url="http://dash.example:8501",
    )
    teams = {"售后": TeamConfig("售后", ("aftersales",)), "物流": TeamConfig("物流")}
    opened = at("2025-09-30", "16:00")
    cases = with_events(
        make_case(7, opened),  # 售后: its team's channel
        make_case(8, opened, team="物流", priority="P1"),  # no channels: by the routes
        make_case(9, opened, "closed", priority="P1"),  # closed unanswered: no alert
        make_case(10, opened, "waiting_customer"),  # waiting on the customer: paused
        moves={
            9: [(at("2025-10-09", "09:05"), "closed")],
            10: [
                (at("2025-10-09", "09:10"), "acknowledged"),
                (at("2025-10-09", "09:20"), "waiting_customer"),
            ],
        },
    )
    con = open_warehouse(tmp_path / "w.duckdb")
    try:
        alerts, problems = sla_alerts(cases, sla, at("2025-10-09", "10:00"), config.dashboard_url)
        assert problems == []
        # The P1 case first among equals; case 10 was answered (acknowledged), then paused.
        assert [(a.case_id, a.clock, a.state) for a in alerts] == [
            (8, "first_response", "due_soon"),
            (7, "first_response", "due_soon"),
        ]
        first = run(alerts, config, teams, con, at("2025-10-09", "10:00"))
        assert sorted(summary(first)) == [
            ("sla:7:first_response:due_soon", "aftersales", "sent"),
            ("sla:8:first_response:due_soon", "ops", "sent"),
        ]
        (due_soon,) = aftersales.requests
        payload = due_soon.json
        assert payload["kind"] == "sla" and payload["severity"] == "warning"
        assert payload["title"] == "工单 #7 首次响应即将超时（P3）：下单三天未发货"
        assert payload["window"] == "首次响应截止 2025-10-09 11:00"
        assert payload["scope"] == "工单 #7 · 负责人 张三 · 团队 售后"
        assert (payload["observed"], payload["expected"]) == (180, 240)
        assert payload["statistic"] == "剩余 1 小时（工作时间），策略 工单"
        assert payload["segments"] == ["高价值"] and payload["themes"] == ["物流慢"]
        assert payload["link"] == "http://dash.example:8501/?page=cases&case=7"

        # Half an hour later the same states: nothing is sent again.
        alerts, _ = sla_alerts(cases, sla, at("2025-10-09", "10:30"))
        again = run(alerts, config, teams, con, at("2025-10-09", "10:30"))
        assert {d.status for d in again} == {"skipped"}
        assert len(aftersales.requests) == 1 and len(ops.requests) == 1

        # Past 11:00 both breach: one more message each, P1 critical.
        alerts, _ = sla_alerts(cases, sla, at("2025-10-09", "11:30"))
        breached = run(alerts, config, teams, con, at("2025-10-09", "11:30"))
        assert sorted(summary(breached)) == [
            ("sla:7:first_response:breached", "aftersales", "sent"),
            ("sla:8:first_response:breached", "ops", "sent"),
        ]
        assert [r.json["severity"] for r in ops.requests] == ["warning", "critical"]
        late = aftersales.requests[-1].json
        assert late["statistic"] == "已超时 30 分钟（工作时间），策略 工单"
        assert late["window"] == "首次响应截止 2025-10-09 11:00"

        alerts, _ = sla_alerts(cases, sla, at("2025-10-09", "14:00"))
        assert {d.status for d in run(alerts, config, teams, con, at("2025-10-09", "14:00"))} == {
            "skipped"
        }
        assert len(aftersales.requests) == 2 and len(ops.requests) == 2
        rows = con.execute(
            "SELECT alert_id, channel, status FROM alert_deliveries ORDER BY 1"
        ).fetchall()
        assert rows == [
            ("sla:7:first_response:breached", "aftersales", "sent"),
            ("sla:7:first_response:due_soon", "aftersales", "sent"),
            ("sla:8:first_response:breached", "ops", "sent"),
            ("sla:8:first_response:due_soon", "ops", "sent"),
        ]
    finally:
        con.close()


def test_quiet_hours_hold_a_warning_and_let_a_p1_breach_through(
    make_receiver: Callable[[], Receiver],  # noqa: F811
    sla: SlaConfig,
    tmp_path: Path,
) -> None:
    hook = make_receiver()
    config = alert_config({"hook": hook}, quiet_hours="22:00-08:00", timezone="Asia/Shanghai")
    social = {"channel": "social", "source": "demo_weibo", "team": None}
    cases = with_events(
        make_case(20, at("2025-10-01", "23:30"), **social),  # P3: first response due 00:30
        make_case(21, at("2025-10-01", "23:00"), priority="P1", **social),  # due 00:00
    )
    con = open_warehouse(tmp_path / "w.duckdb")
    try:
        night = at("2025-10-02", "00:20")
        alerts, _ = sla_alerts(cases, sla, night)
        assert summary(run(alerts, config, {}, con, night)) == [
            ("sla:21:first_response:breached", "hook", "sent"),
            ("sla:20:first_response:due_soon", "hook", "held"),
        ]
        assert [r.json["alert_id"] for r in hook.requests] == ["sla:21:first_response:breached"]
        assert [d.alert_id for d in held_or_failed(con)] == ["sla:20:first_response:due_soon"]

        # By 08:00 case 20 has breached: that is what is sent; the P1 breach is not repeated.
        morning = at("2025-10-02", "08:00")
        alerts, _ = sla_alerts(cases, sla, morning)
        assert summary(run(alerts, config, {}, con, morning)) == [
            ("sla:21:first_response:breached", "hook", "skipped"),
            ("sla:20:first_response:breached", "hook", "sent"),
        ]
        assert [r.json["alert_id"] for r in hook.requests] == [
            "sla:21:first_response:breached",
            "sla:20:first_response:breached",
        ]
        assert hook.requests[1].json["statistic"] == "已超时 7 小时 30 分钟（自然时间），策略 社媒"
    finally:
        con.close()


def test_a_warning_held_overnight_goes_out_in_the_morning(
    make_receiver: Callable[[], Receiver],  # noqa: F811
    sla: SlaConfig,
    tmp_path: Path,
) -> None:
    # Opened Thu 10-09 14:30: by 18:00 it has used 210 of its 240 working minutes, and the
    # business clock stands still overnight, so it stays due soon until Friday 09:00.
    hook = make_receiver()
    config = alert_config({"hook": hook}, quiet_hours="22:00-08:00", timezone="Asia/Shanghai")
    cases = with_events(make_case(50, at("2025-10-09", "14:30"), team=None))
    con = open_warehouse(tmp_path / "w.duckdb")
    try:
        for now, status in (
            (at("2025-10-09", "23:00"), "held"),
            (at("2025-10-10", "07:30"), "held"),
            (at("2025-10-10", "08:30"), "sent"),
            (at("2025-10-10", "08:45"), "skipped"),
        ):
            alerts, _ = sla_alerts(cases, sla, now)
            assert summary(run(alerts, config, {}, con, now)) == [
                ("sla:50:first_response:due_soon", "hook", status)
            ], now
        assert [r.json["statistic"] for r in hook.requests] == [
            "剩余 30 分钟（工作时间），策略 工单"
        ]
    finally:
        con.close()


def test_a_case_in_an_unknown_year_is_a_problem_not_a_stop(sla: SlaConfig) -> None:
    cases = with_events(
        make_case(30, at("2003-06-02", "10:00")),  # before the package's first year
        make_case(31, at("2025-09-30", "16:00")),
    )
    alerts, problems = sla_alerts(cases, sla, at("2025-10-09", "11:30"))
    assert [a.message.alert_id for a in alerts] == [alert_id(31, "first_response", "breached")]
    assert len(problems) == 1 and problems[0].startswith("工单 #30: ")
    assert "2003" in problems[0]


def test_message_for_a_paused_clock_has_no_due_time(sla: SlaConfig) -> None:
    case = make_case(40, at("2025-09-30", "16:00"), status="waiting_customer", owner=None)
    (item,) = with_events(
        case,
        moves={
            40: [
                (at("2025-10-09", "09:10"), "acknowledged"),
                (at("2025-10-09", "09:20"), "waiting_customer"),
            ]
        },
    )
    status = case_sla(sla, *item, at("2025-10-09", "15:00"))
    clock = status.clock("resolution")
    message = case_message(case, status, clock, "due_soon", "Asia/Shanghai")
    assert message.window == "解决已暂停"
    assert message.scope == "工单 #40 · 负责人 未分配 · 团队 售后"


def test_deliver_case_alerts_over_a_real_store(
    case_engine,
    make_receiver: Callable[[], Receiver],  # noqa: F811
    sla: SlaConfig,
    tmp_path: Path,
) -> None:
    aftersales, ops = make_receiver(), make_receiver()
    config = alert_config(
        {"aftersales": aftersales, "ops": ops}, routes=[{"kind": "sla", "channels": ["ops"]}]
    )
    teams = {"售后": TeamConfig("售后", ("aftersales",)), "物流": TeamConfig("物流")}
    store = CaseStore(case_engine)
    opened = at("2025-09-30", "16:00").astimezone(UTC)

    def opening(doc: str, team: str, priority: str) -> CaseOpening:
        voice = CaseVoice(doc, "demo_helpdesk", "ticket", opened, f"{doc}：快递三天没到，客服不回")
        return CaseOpening(
            f"doc:{doc}", "negative_ticket", f"物流慢 {doc}", (voice,), priority,
            team=team, channel="ticket", source="demo_helpdesk",
        )  # fmt: skip

    store.open_cases(
        [opening("d1", "售后", "P3"), opening("d2", "物流", "P1"), opening("d3", "售后", "P3")],
        opened,
    )
    ids = {c.title: c.case_id for c in store.list_cases(_open_filter())}
    paused = store.get(ids["物流慢 d3"])
    paused = store.move(
        paused.case_id, "acknowledged", "张三", paused.version, at=at("2025-10-09", "09:10")
    )
    store.move(
        paused.case_id, "waiting_customer", "张三", paused.version, at=at("2025-10-09", "09:20")
    )
    db = tmp_path / "w.duckdb"

    def send(now: datetime, **kw: Any):
        return deliver_case_alerts(store, db, config, sla, teams, now=now, env={}, **kw)

    first = send(at("2025-10-09", "10:00"), max_alerts=1)
    assert (first.n_open, first.n_alerts, first.n_deferred) == (3, 2, 1)
    assert first.counts["sent"] == 1 and first.problems == []
    (request,) = ops.requests  # the P1 case first
    assert request.json["alert_id"] == f"sla:{ids['物流慢 d2']}:first_response:due_soon"
    assert [v["text"] for v in request.json["verbatims"]] == ["d2：快递三天没到，客服不回"]

    second = send(at("2025-10-09", "10:05"), max_alerts=1)
    assert second.n_deferred == 0 and second.counts["sent"] == 1
    assert [r.json["alert_id"] for r in aftersales.requests] == [
        f"sla:{ids['物流慢 d1']}:first_response:due_soon"
    ]

    breached = send(at("2025-10-09", "11:30"))
    assert breached.counts["sent"] == 2
    again = send(at("2025-10-09", "11:45"))
    assert again.counts["sent"] == 0 and again.counts["skipped"] == 2
    assert [r.json["alert_id"].rsplit(":", 1)[1] for r in ops.requests] == ["due_soon", "breached"]
    assert len(aftersales.requests) == 2

    # A reply stops the first-response clock: the case is no longer alerted.
    case = store.get(ids["物流慢 d1"])
    store.record_reply(case.case_id, "张三", case.version, at=at("2025-10-09", "11:50"))
    later = send(at("2025-10-09", "12:00"))
    assert later.n_alerts == 1 and later.counts["skipped"] == 1


def _open_filter() -> CaseFilters:
    return CaseFilters(statuses=OPEN_STATUSES)


def test_an_unreachable_store_raises_and_records_nothing(
    receiver: Receiver,  # noqa: F811
    sla: SlaConfig,
    tmp_path: Path,
) -> None:
    # Port 1 on localhost refuses at once: the PostgreSQL server is down.
    store = CaseStore(connect_store("postgresql+psycopg://voc@127.0.0.1:1/voc"))
    config = alert_config({"hook": receiver})
    db = tmp_path / "w.duckdb"
    with pytest.raises(StoreUnavailable):
        deliver_case_alerts(store, db, config, sla, {}, now=at("2025-10-09", "10:00"), env={})
    assert receiver.requests == [] and not db.exists()
