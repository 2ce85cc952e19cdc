"""Alert deliveries: which alert reached which channel, and which are still pending.

One row per (alert id, channel) holding the last outcome. A ``sent`` row is never
overwritten, so saving a re-run's ``skipped: already sent`` changes nothing; a ``held`` or
``failed`` row becomes ``sent`` when a later run delivers it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import duckdb

from warehouse.db import transaction


class DeliveryRecord(Protocol):
    """What `save_deliveries` needs of a delivery (``notify.deliver.Delivery`` fits)."""

    alert_id: str
    channel: str
    status: str
    attempts: int
    error: str | None
    at: datetime


@dataclass(frozen=True)
class StoredDelivery:
    """A row of ``alert_deliveries``."""

    alert_id: str
    channel: str
    status: str
    attempts: int
    error: str | None
    at: datetime


_PRECEDENCE = {"sent": 3, "failed": 2, "held": 1, "skipped": 0}


def _rank(delivery: DeliveryRecord) -> int:
    # An unknown status ranks lowest here; the table's CHECK constraint refuses it.
    return _PRECEDENCE.get(delivery.status, -1)


def delivered_pairs(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(alert id, channel) pairs already sent: pass them to ``notify.deliver.deliver``."""
    rows = con.execute(
        "SELECT alert_id, channel FROM alert_deliveries WHERE status = ?", ["sent"]
    ).fetchall()
    return {(alert_id, channel) for alert_id, channel in rows}


def held_or_failed(con: duckdb.DuckDBPyConnection) -> list[StoredDelivery]:
    """Deliveries still pending (held in quiet hours or failed), oldest first.

    The next delivery run rebuilds these alerts' messages and delivers them again.
    """
    rows = con.execute(
        'SELECT alert_id, channel, status, attempts, error, "at" FROM alert_deliveries'
        ' WHERE status IN (?, ?) ORDER BY "at", alert_id, channel',
        ["held", "failed"],
    ).fetchall()
    return [StoredDelivery(*row) for row in rows]


def save_deliveries(con: duckdb.DuckDBPyConnection, deliveries: Iterable[DeliveryRecord]) -> None:
    """Upsert delivery outcomes in one transaction; a stored ``sent`` is never replaced.

    A batch naming a pair twice keeps the weightiest outcome (sent, failed, held, skipped;
    then the latest), since DuckDB refuses to update one row twice in a statement.

    Args:
        con: Writable connection.
        deliveries: Outcomes of a delivery run.
    """
    best: dict[tuple[str, str], DeliveryRecord] = {}
    for d in deliveries:
        key = (d.alert_id, d.channel)
        kept = best.get(key)
        if kept is None or (_rank(d), d.at) > (_rank(kept), kept.at):
            best[key] = d
    if not best:
        return
    with transaction(con):
        con.executemany(
            'INSERT INTO alert_deliveries (alert_id, channel, status, attempts, error, "at")'
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (alert_id, channel) DO UPDATE SET status = excluded.status,"
            ' attempts = excluded.attempts, error = excluded.error, "at" = excluded."at"'
            " WHERE alert_deliveries.status <> 'sent'",
            [[d.alert_id, d.channel, d.status, d.attempts, d.error, d.at] for d in best.values()],
        )
