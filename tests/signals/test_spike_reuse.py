"""A spike run reads the documents of new and changed episodes only: a closed episode whose
counts, peak and model are unchanged keeps its stored explanation; an open one, or one
whose days got new documents, is explained again (real warehouse, real spike run)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd

from signals.spike_run import update_spikes
from signals.spikes import DetectorParams
from warehouse.db import warehouse

FIRST = date(2025, 3, 1)
DAYS = 60
CLOSED = (30, 31)  # a spike that ended
OPEN = DAYS - 1  # a spike on the newest day
MODEL = "m1"
MARK = 987_654


def _docs(day: int, n: int, n_neg: int, tag: str) -> list[dict]:
    local = FIRST + timedelta(days=day)
    return [
        {
            "id": f"{tag}{day:02d}-{i:03d}",
            "local": local,
            "created": datetime(local.year, local.month, local.day, 1 + i % 20, tzinfo=UTC),
            "negative": i < n_neg,
        }
        for i in range(n)
    ]


def _insert(db: Path, records: list[dict]) -> None:
    with warehouse(db) as con:
        con.register("frame", pd.DataFrame(records))
        con.execute(
            "INSERT INTO raw_documents (id, source, channel, external_id, text, created_at, "
            " local_day, content_hash, first_run_id, last_run_id) "
            "SELECT id, 'helpdesk', 'ticket', id, CASE WHEN negative THEN '物流太慢，一直不到' "
            " ELSE '很好' END || id, created, local, id, 'r', 'r' FROM frame"
        )
        con.execute("INSERT INTO doc_texts SELECT id, '工单' || id, id, NULL FROM frame")
        con.execute(
            "INSERT INTO doc_sentiment SELECT id, $model, CASE WHEN negative THEN 'negative' "
            " ELSE 'positive' END, CASE WHEN negative THEN 0.1 ELSE 0.9 END, now() FROM frame",
            {"model": MODEL},
        )
        con.unregister("frame")


def _run(db: Path, run_id: str) -> dict[str, dict]:
    update_spikes(db, MODEL, DetectorParams(), run_id, "UTC")
    with warehouse(db) as con:
        rows = con.execute(
            "SELECT episode_id, start_period, is_open, explanation FROM spike_episodes "
            "WHERE key_kind = 'source' AND metric = 'negative_volume'"
        ).fetchall()
    return {
        r[0]: {"start": r[1].date(), "open": r[2], "n_spike": json.loads(r[3])["n_spike"]}
        for r in rows
    }


def _mark_stored_explanations(db: Path) -> None:
    """Overwrite every stored explanation's n_spike: a reused one keeps the mark."""
    with warehouse(db) as con:
        for episode_id, text in con.execute(
            "SELECT episode_id, explanation FROM spike_episodes"
        ).fetchall():
            data = json.loads(text)
            data["n_spike"] = MARK
            con.execute(
                "UPDATE spike_episodes SET explanation = ? WHERE episode_id = ?",
                [json.dumps(data, ensure_ascii=False), episode_id],
            )


def test_only_open_and_changed_episodes_are_explained_again(tmp_path: Path) -> None:
    db = tmp_path / "voc.duckdb"
    records = []
    for d in range(DAYS):
        spike = d in CLOSED or d == OPEN
        records += _docs(d, 100, 70 if spike else 20, "a")
    _insert(db, records)

    first = _run(db, "run-1")
    closed = [k for k, e in first.items() if e["start"] == FIRST + timedelta(days=CLOSED[0])]
    opened = [k for k, e in first.items() if e["open"]]
    assert len(closed) == 1 and len(opened) == 1
    assert not first[closed[0]]["open"] and first[closed[0]]["n_spike"] > 0

    _mark_stored_explanations(db)
    second = _run(db, "run-2")
    assert second.keys() == first.keys()
    # Nothing changed in the closed spike's days: its stored explanation is kept.
    assert second[closed[0]]["n_spike"] == MARK
    # The open spike may still grow: explained again from its documents.
    assert second[opened[0]]["n_spike"] == first[opened[0]]["n_spike"] != MARK

    # Late documents on the closed spike's first day change its counts: explained again.
    _mark_stored_explanations(db)
    _insert(db, _docs(CLOSED[0], 10, 10, "late"))
    third = _run(db, "run-3")
    assert third[closed[0]]["n_spike"] not in (MARK, first[closed[0]]["n_spike"])
    assert third[closed[0]]["n_spike"] == first[closed[0]]["n_spike"] + 10
