"""Delivery runs against real local receivers and a real warehouse file: retries, a failing
channel that does not stop the others, de-duplication across runs, quiet hours, routing
and severity floors."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from notify.deliver import Delivery, count_statuses, deliver
from tests.notify.conftest import Receiver, make_message
from voc.alert_settings import AlertConfig, parse_alert_config
from warehouse.db import open_warehouse
from warehouse.deliveries import delivered_pairs, held_or_failed, save_deliveries

SHANGHAI = timezone(timedelta(hours=8))
NOON = datetime(2025, 9, 30, 12, 0, tzinfo=SHANGHAI)


def _config(channels: dict[str, dict[str, Any]], **alerts: Any) -> AlertConfig:
    table = {"retry_attempts": 3, "retry_base_delay": 0.001, "timeout": 5, **alerts}
    table["channels"] = channels
    return parse_alert_config(table, "test.toml")


def _hook(receiver: Receiver, **kw: Any) -> dict[str, Any]:
    return {"kind": "webhook", "url": receiver.url + "/hook", **kw}


def _summary(deliveries: list[Delivery]) -> list[tuple[str, str, str, int]]:
    return [(d.alert_id, d.channel, d.status, d.attempts) for d in deliveries]


def test_http_500_then_success_is_sent_after_a_retry(receiver: Receiver) -> None:
    receiver.answers = [(500, b"upstream down")]
    result = deliver([make_message()], _config({"hook": _hook(receiver)}), set(), NOON, env={})
    assert _summary(result) == [("a1", "hook", "sent", 2)]
    assert result[0].error is None
    assert len(receiver.requests) == 2


def test_a_failing_channel_is_recorded_and_the_others_still_delivered(
    make_receiver: Callable[[], Receiver],
) -> None:
    broken, ok = make_receiver(), make_receiver()
    broken.default = (500, b"internal error")
    config = _config({"broken": _hook(broken), "ok": _hook(ok)}, retry_base_delay=0.05)
    started = time.monotonic()
    result = deliver([make_message("a1"), make_message("a2")], config, set(), NOON, env={})
    elapsed = time.monotonic() - started
    assert _summary(result) == [
        ("a1", "broken", "failed", 3),
        ("a1", "ok", "sent", 1),
        ("a2", "broken", "failed", 3),
        ("a2", "ok", "sent", 1),
    ]
    assert result[0].error == "HTTP 500: internal error"
    assert len(broken.requests) == 6 and len(ok.requests) == 2
    # Backoff doubles: 0.05 s then 0.1 s before the second and third attempts, per alert.
    assert elapsed >= 2 * (0.05 + 0.1)


def test_wecom_errcode_fails_without_retry_and_the_key_is_scrubbed(receiver: Receiver) -> None:
    receiver.default = (200, b'{"errcode": 93000, "errmsg": "invalid key SECRETKEY123"}')
    config = _config(
        {"wx": {"kind": "wecom", "key_env": "WX_KEY", "base_url": receiver.url + "/send"}}
    )
    (result,) = deliver([make_message()], config, set(), NOON, env={"WX_KEY": "SECRETKEY123"})
    assert (result.status, result.attempts) == ("failed", 1)
    assert result.error == "wecom error 93000: invalid key ***"


def test_missing_secret_fails_that_channel_only(receiver: Receiver) -> None:
    config = _config(
        {"slack": {"kind": "slack", "url_env": "VOC_SLACK_URL"}, "hook": _hook(receiver)}
    )
    result = deliver([make_message()], config, set(), NOON, env={})
    assert _summary(result) == [("a1", "slack", "failed", 0), ("a1", "hook", "sent", 1)]
    assert result[0].error == "channel 'slack': environment variable VOC_SLACK_URL is not set"


def test_a_second_run_sends_nothing_new(receiver: Receiver, tmp_path: Path) -> None:
    config = _config({"hook": _hook(receiver)})
    messages = [make_message("a1"), make_message("a2"), make_message("a1")]
    con = open_warehouse(tmp_path / "w.duckdb")
    try:
        first = deliver(messages, config, delivered_pairs(con), NOON, env={})
        save_deliveries(con, first)
        assert count_statuses(first) == {"sent": 2, "failed": 0, "held": 0, "skipped": 0}
        assert len(receiver.requests) == 2  # a1 given twice is sent once
        later = NOON + timedelta(hours=1)
        second = deliver(messages, config, delivered_pairs(con), later, env={})
        save_deliveries(con, second)
        assert [(d.status, d.error) for d in second] == [("skipped", "already sent")] * 2
        assert len(receiver.requests) == 2
        rows = con.execute(
            'SELECT alert_id, status, "at" FROM alert_deliveries ORDER BY 1'
        ).fetchall()
        assert [(a, s) for a, s, _ in rows] == [("a1", "sent"), ("a2", "sent")]
        assert all(at == NOON for _, _, at in rows)  # the sent record is kept as it was
    finally:
        con.close()


def test_quiet_hours_hold_all_but_critical_until_the_window_ends(
    receiver: Receiver, tmp_path: Path
) -> None:
    config = _config({"hook": _hook(receiver)}, quiet_hours="22:00-08:00", timezone="Asia/Shanghai")
    messages = [make_message("warn", "warning"), make_message("crit", "critical")]
    # 23:30 in Shanghai, given in UTC: the zone conversion decides, not the caller's zone.
    night = datetime(2025, 9, 30, 15, 30, tzinfo=UTC)
    con = open_warehouse(tmp_path / "w.duckdb")
    try:
        first = deliver(messages, config, delivered_pairs(con), night, env={})
        save_deliveries(con, first)
        assert _summary(first) == [("warn", "hook", "held", 0), ("crit", "hook", "sent", 1)]
        assert first[0].error == "quiet hours 22:00-08:00 (Asia/Shanghai)"
        assert [(d.alert_id, d.status) for d in held_or_failed(con)] == [("warn", "held")]
        assert [r.json["alert_id"] for r in receiver.requests] == ["crit"]

        still_night = datetime(2025, 10, 1, 7, 59, tzinfo=SHANGHAI)
        assert (
            deliver(messages[:1], config, delivered_pairs(con), still_night, env={})[0].status
            == "held"
        )

        morning = datetime(2025, 10, 1, 8, 0, tzinfo=SHANGHAI)
        second = deliver(messages, config, delivered_pairs(con), morning, env={})
        save_deliveries(con, second)
        assert _summary(second) == [("warn", "hook", "sent", 1), ("crit", "hook", "skipped", 0)]
        assert [r.json["alert_id"] for r in receiver.requests] == ["crit", "warn"]
        assert held_or_failed(con) == []
    finally:
        con.close()


def test_routes_first_match_severity_floors_and_disabled_channels(
    make_receiver: Callable[[], Receiver],
) -> None:
    oncall, group, mail = make_receiver(), make_receiver(), make_receiver()
    config = _config(
        {
            "oncall": _hook(oncall),
            "group": _hook(group, min_severity="warning"),
            "mail": _hook(mail, enabled=False),
        },
        min_severity="info",
        routes=[
            {"severity": ["critical"], "channels": ["oncall", "group"]},
            {"kind": "source_health", "channels": []},
            {"category": "售后*", "channels": ["mail"]},
            {"source": "demo_*", "scope": "主题 *", "channels": ["group"]},
        ],
    )
    messages = [
        make_message("crit", "critical"),
        make_message("theme-info", "info"),
        make_message("theme-warn", "warning"),
        make_message("health", "warning", kind="source_health"),
        make_message("refund", "warning", categories=["物流", "售后退款"], scope="类别 售后退款"),
        make_message("other", "warning", source="app_store", scope="来源 app_store"),
    ]
    result = deliver(messages, config, set(), NOON, env={})
    assert _summary(result) == [
        ("crit", "oncall", "sent", 1),
        ("crit", "group", "sent", 1),
        ("theme-info", "group", "skipped", 0),
        ("theme-warn", "group", "sent", 1),
        ("refund", "mail", "skipped", 0),
        ("other", "oncall", "sent", 1),
        ("other", "group", "sent", 1),
        ("other", "mail", "skipped", 0),
    ]
    assert result[2].error == "below the channel's min_severity warning"
    assert result[4].error == result[7].error == "channel disabled"
    assert mail.requests == []
    assert [r.json["alert_id"] for r in oncall.requests] == ["crit", "other"]


def test_global_min_severity_and_naive_time(receiver: Receiver) -> None:
    config = _config({"hook": _hook(receiver)}, min_severity="warning")
    (result,) = deliver([make_message(severity="info")], config, set(), NOON, env={})
    assert (result.status, result.error) == ("skipped", "below min_severity warning")
    assert receiver.requests == []
    with pytest.raises(ValueError, match="timezone-aware"):
        deliver([make_message()], config, set(), datetime(2025, 9, 30, 12), env={})
