"""Alert deliveries on a real warehouse file: idempotent upserts, a sent row is final,
held and failed rows are pending until sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from warehouse.db import open_warehouse
from warehouse.deliveries import delivered_pairs, held_or_failed, save_deliveries

T0 = datetime(2025, 9, 30, 23, 0, tzinfo=timezone(timedelta(hours=8)))


@dataclass(frozen=True)
class _Delivery:
    alert_id: str
    channel: str
    status: str
    attempts: int = 1
    error: str | None = None
    at: datetime = T0


@pytest.fixture()
def con(tmp_path: Path, new_warehouse):
    c = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    yield c
    c.close()


def _rows(con) -> list[tuple]:
    return con.execute(
        "SELECT alert_id, channel, status, attempts, error FROM alert_deliveries ORDER BY 1, 2"
    ).fetchall()


def test_saving_twice_changes_nothing(con) -> None:
    batch = [
        _Delivery("a1", "wecom", "sent"),
        _Delivery("a1", "mail", "failed", 3, "HTTP 500"),
        _Delivery("a2", "wecom", "held", 0, "quiet hours"),
    ]
    save_deliveries(con, batch)
    first = _rows(con)
    save_deliveries(con, batch)
    assert (
        _rows(con)
        == first
        == [
            ("a1", "mail", "failed", 3, "HTTP 500"),
            ("a1", "wecom", "sent", 1, None),
            ("a2", "wecom", "held", 0, "quiet hours"),
        ]
    )
    assert delivered_pairs(con) == {("a1", "wecom")}
    pending = held_or_failed(con)
    assert [(d.alert_id, d.channel, d.status) for d in pending] == [
        ("a1", "mail", "failed"),
        ("a2", "wecom", "held"),
    ]
    assert pending[0].at == T0


def test_held_and_failed_become_sent_but_sent_is_final(con) -> None:
    save_deliveries(con, [_Delivery("a1", "wecom", "held", 0), _Delivery("a1", "mail", "sent")])
    later = T0 + timedelta(hours=9)
    save_deliveries(
        con,
        [
            _Delivery("a1", "wecom", "sent", 2, at=later),
            _Delivery("a1", "mail", "skipped", 0, "already sent", at=later),
        ],
    )
    assert _rows(con) == [("a1", "mail", "sent", 1, None), ("a1", "wecom", "sent", 2, None)]
    save_deliveries(con, [_Delivery("a1", "wecom", "failed", 3, "HTTP 500", at=later)])
    assert _rows(con)[1] == ("a1", "wecom", "sent", 2, None)
    assert held_or_failed(con) == []


def test_a_batch_naming_a_pair_twice_keeps_the_weightiest(con) -> None:
    save_deliveries(
        con,
        [
            _Delivery("a1", "wecom", "failed", 3, "timeout"),
            _Delivery("a1", "wecom", "sent", 1),
            _Delivery("a1", "wecom", "skipped", 0, "already sent"),
            _Delivery("a2", "wecom", "held", 0, "old", at=T0),
            _Delivery("a2", "wecom", "held", 0, "new", at=T0 + timedelta(minutes=5)),
        ],
    )
    assert _rows(con) == [("a1", "wecom", "sent", 1, None), ("a2", "wecom", "held", 0, "new")]


def test_an_unknown_status_is_refused_and_nothing_half_written(con) -> None:
    with pytest.raises(duckdb.ConstraintException):
        save_deliveries(con, [_Delivery("a1", "wecom", "sent"), _Delivery("a2", "x", "lost")])
    assert _rows(con) == []
