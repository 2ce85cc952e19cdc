"""Negative-share spikes per customer segment, on a real warehouse through the real spike
run: a rise among 高价值 customers that the brand-wide series cannot see is found on the
segment series (and segment × category), titled and routed by its segment; a handful of
documents of a tiny segment is never a spike."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from notify.spikes import event_message, group_events
from signals.spike_run import update_spikes
from signals.spikes import DetectorParams
from voc.alert_settings import parse_alert_config
from warehouse import spikes as spikes_store
from warehouse.db import warehouse

FIRST = date(2025, 5, 1)
DAYS = 60
SPIKE = (DAYS - 2, DAYS - 1)  # the last two days
MODEL = "m1"


def _plan() -> list[tuple[int, str | None, int, int]]:
    """(day, segment, documents, negatives): the brand-wide negatives stay 41 a day."""
    rows = []
    for d in range(DAYS):
        spike = d in SPIKE
        rows += [
            (d, "高价值", 10, 7 if spike else 1),  # 10 % → 70 %
            # The same day's fewer negatives elsewhere keep the brand-wide count flat.
            (d, "一般", 100, 14 if spike else 18 if d == 40 else 20),
            (d, None, 100, 20),  # not linked to a customer
            (d, "休眠", 2, 2 if d == 40 else 0),  # a tiny segment's 0 → 100 %
        ]
    return rows


def _seed(db: Path) -> None:
    records = []
    for d, segment, n, n_neg in _plan():
        day = FIRST + timedelta(days=d)
        for i in range(n):
            records.append(
                {
                    "id": f"{d:02d}-{segment or 'none'}-{i:03d}",
                    "local": day,
                    "created": datetime(day.year, day.month, day.day, 2 + i % 12, tzinfo=UTC),
                    "segment": segment,
                    "negative": i < n_neg,
                }
            )
    with warehouse(db) as con:
        con.register("frame", pd.DataFrame(records))
        con.execute(
            "INSERT INTO raw_documents (id, source, channel, external_id, text, created_at, "
            " local_day, content_hash, first_run_id, last_run_id) "
            "SELECT id, 'helpdesk', 'ticket', id, CASE WHEN negative THEN '物流太慢' ELSE '很好' "
            " END || id, created, local, id, 'r', 'r' FROM frame"
        )
        con.execute("INSERT INTO doc_texts SELECT id, '工单' || id, id, NULL FROM frame")
        con.execute(
            "INSERT INTO doc_sentiment SELECT id, $model, CASE WHEN negative THEN 'negative' "
            " ELSE 'positive' END, CASE WHEN negative THEN 0.1 ELSE 0.9 END, now() FROM frame",
            {"model": MODEL},
        )
        con.execute(
            "INSERT INTO doc_categories SELECT id, '物流', 'keyword', '物流', 1.0, 'x1' "
            "FROM frame WHERE negative"
        )
        con.execute(
            "INSERT INTO doc_customers SELECT id, 'c-' || segment, 'key', segment, '浙江', "
            " '杭州', NULL, NULL FROM frame WHERE segment IS NOT NULL"
        )


@pytest.fixture(scope="module")
def spiked(tmp_path_factory, warehouse_template: Path):
    import shutil

    db = tmp_path_factory.mktemp("segspikes") / "w.duckdb"
    shutil.copyfile(warehouse_template, db)
    _seed(db)
    update = update_spikes(db, MODEL, DetectorParams(), "run-1", "Asia/Shanghai")
    with warehouse(db) as con:
        episodes = spikes_store.spike_episodes(con, limit=1000)
    return db, update, episodes


def test_the_segment_series_count_each_segments_documents(spiked) -> None:
    db, _, _ = spiked
    with warehouse(db) as con:
        series = {s.key: s for s in spikes_store.daily_series(con, MODEL)}
    vip = {p[0]: p[1:] for p in series[("segment", "高价值")].points}
    assert vip[FIRST] == (10, 1) and vip[FIRST + timedelta(days=SPIKE[1])] == (10, 7)
    crossed = {p[0]: p[1:] for p in series[("segment_category", "高价值 · 物流")].points}
    assert crossed[FIRST + timedelta(days=SPIKE[0])] == (7, 7)
    brand = {p[0]: p[1:] for p in series[("source", "helpdesk")].points}
    assert set(brand.values()) == {(212, 41)}, "brand-wide: flat by construction"
    assert ("segment", "None") not in series  # unlinked documents have no segment series


def test_a_rise_among_one_segment_is_found_there_and_not_brand_wide(spiked) -> None:
    _, _, episodes = spiked
    found = {(e["key_kind"], e["key_value"], e["metric"]) for e in episodes}
    assert ("segment", "高价值", "negative_share") in found
    spike_days = {(FIRST + timedelta(days=d)).isoformat() for d in SPIKE}
    share = next(
        e
        for e in episodes
        if (e["key_kind"], e["key_value"], e["metric"]) == ("segment", "高价值", "negative_share")
    )
    assert share["start"][:10] in spike_days and share["is_open"]
    assert share["expected"] == pytest.approx(0.1, abs=0.03)  # the baseline share
    # Nothing brand-wide, nothing in the other segments, the tiny one included.
    assert not [e for e in episodes if e["key_kind"] in ("source", "category")]
    assert not [e for e in episodes if e["key_value"].startswith(("一般", "休眠"))]
    # The explanation read the segment's own negative documents.
    assert share["explanation"]["n_spike"] >= 7


def test_the_alert_names_the_segment_and_routes_on_it(spiked) -> None:
    _, _, episodes = spiked
    (event,) = group_events(episodes)
    msg = event_message(event, {})
    assert msg.title.startswith("高价值 客户") and "负面" in msg.title and "激增" in msg.title
    assert msg.segments == ("高价值",)
    assert "高价值 客户" in msg.scope
    config = parse_alert_config(
        {
            "channels": {
                "vip_team": {"kind": "webhook", "url": "http://127.0.0.1:9/vip"},
                "ops": {"kind": "webhook", "url": "http://127.0.0.1:9/ops"},
            },
            "routes": [
                {"segment": ["高价值", "VIP*"], "channels": ["vip_team"]},
                {"channels": ["ops"]},
            ],
        },
        "test.toml",
    )
    assert config.channels_for(msg) == ("vip_team",)
    from dataclasses import replace

    assert config.channels_for(replace(msg, segments=())) == ("ops",)
    assert config.channels_for(replace(msg, segments=("一般",))) == ("ops",)
