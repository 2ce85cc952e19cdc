"""Alert delivery over the warehouse: each recent spike event sent once per routed
channel; what was sent, held or failed is recorded, failures are retried next run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from notify.deliver import count_statuses, deliver
from notify.spikes import event_message, recent_events
from voc.alert_settings import AlertConfig
from warehouse import deliveries, loaders, themes
from warehouse import spikes as spikes_store
from warehouse.db import warehouse


@dataclass
class AlertUpdate:
    """What `deliver_events` did: events, deliveries by status, failures."""

    n_events: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    failed: list = field(default_factory=list)


def deliver_events(db_path: Path, config: AlertConfig, max_age_days: int = 3) -> AlertUpdate:
    """Send the events of the last `max_age_days` days of data not yet sent."""
    if not config.channels:
        return AlertUpdate()
    with warehouse(db_path) as con:
        episodes = spikes_store.spike_episodes(con, limit=1000)
        newest = loaders.newest_day(con)
        labels = themes.theme_labels(con)
        sent = deliveries.delivered_pairs(con)
    if newest is None:
        return AlertUpdate()
    events = recent_events(episodes, datetime.combine(newest, datetime.min.time()), max_age_days)
    messages = [event_message(g, labels, config.dashboard_url) for g in events]
    results = deliver(messages, config, sent, datetime.now(UTC))
    with warehouse(db_path) as con:
        deliveries.save_deliveries(con, results)
    return AlertUpdate(
        len(messages), dict(count_statuses(results)), [r for r in results if r.status == "failed"]
    )
