"""An incremental spike run judges only the periods whose counts changed, and its episodes,
day alerts and stored verdicts are those of a run from scratch over the same documents
(real warehouses, real spike runs: history, then a new day with late documents)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd

from signals.spike_run import update_spikes
from signals.spikes import DetectorParams
from warehouse.db import warehouse

FIRST = date(2025, 3, 1)
DAYS = 60
MODEL = "m1"
MARK = 98765.0
SPIKES = {"helpdesk": (20, 41, 59), "weibo": (33, 59), "shop": (12, 60)}
SOURCES = {"helpdesk": "ticket", "weibo": "social", "shop": "review"}


def _day(source: str, day: int, tag: str = "") -> list[dict]:
    rng = random.Random(f"{source}{day}{tag}")
    n = rng.randint(60, 90) if not tag else 12
    spike = day in SPIKES[source] and not tag
    n_neg = rng.randint(50, 70) if spike else rng.randint(8, 20)
    n_neg = min(n_neg, n) if not tag else 9
    local = FIRST + timedelta(days=day)
    hour = 14 if spike else None  # a social spike is one busy hour
    return [
        {
            "id": f"{source}-{tag}{day:02d}-{i:03d}",
            "source": source,
            "channel": SOURCES[source],
            "product": "p1" if i % 3 else "p2",
            "local": local,
            "created": datetime(
                local.year, local.month, local.day, hour or rng.randint(0, 23), i % 60, tzinfo=UTC
            ),
            "negative": i < n_neg,
        }
        for i in range(n)
    ]


def _insert(db: Path, records: list[dict]) -> None:
    with warehouse(db) as con:
        con.register("frame", pd.DataFrame(records))
        con.execute(
            "INSERT INTO raw_documents (id, source, channel, external_id, text, created_at, "
            " local_day, product, content_hash, first_run_id, last_run_id) "
            "SELECT id, source, channel, id, CASE WHEN negative THEN '物流太慢，一直不到' "
            " ELSE '很好' END || id, created, local, product, id, 'r', 'r' FROM frame"
        )
        con.execute("INSERT INTO doc_texts SELECT id, '工单' || id, id, NULL FROM frame")
        con.execute(
            "INSERT INTO doc_sentiment SELECT id, $model, CASE WHEN negative THEN 'negative' "
            " ELSE 'positive' END, CASE WHEN negative THEN 0.1 ELSE 0.9 END, now() FROM frame",
            {"model": MODEL},
        )
        con.unregister("frame")


def _history(days: range) -> list[dict]:
    return [doc for s in SOURCES for d in days for doc in _day(s, d)]


def _new_day() -> list[dict]:
    # The new day, and late documents of two earlier days of one source.
    late = _day("helpdesk", DAYS - 3, "late") + _day("helpdesk", DAYS - 20, "late")
    return [doc for s in SOURCES for doc in _day(s, DAYS)] + late


_TABLES = {
    "spike_alerts": "SELECT * EXCLUDE (run_id) FROM spike_alerts ORDER BY ALL",
    "spike_episodes": "SELECT * EXCLUDE (run_id) FROM spike_episodes ORDER BY ALL",
    "spike_explanation_basis": "SELECT * FROM spike_explanation_basis ORDER BY ALL",
    "spike_period_alerts": "SELECT * FROM spike_period_alerts ORDER BY ALL",
    "spike_scored_counts": "SELECT * FROM spike_scored_counts ORDER BY ALL",
}


def _tables(db: Path) -> dict[str, list[tuple]]:
    with warehouse(db) as con:
        return {name: con.execute(sql).fetchall() for name, sql in _TABLES.items()}


def _run(db: Path, run_id: str, **kwargs: object):
    return update_spikes(db, MODEL, DetectorParams(), run_id, "Asia/Shanghai", **kwargs)


def test_incremental_day_matches_a_run_from_scratch(tmp_path: Path) -> None:
    incremental, scratch = tmp_path / "incremental.duckdb", tmp_path / "scratch.duckdb"
    _insert(incremental, _history(range(DAYS)))
    first = _run(incremental, "run-1")
    assert first.from_scratch and first.n_rescored == first.n_series
    _insert(incremental, _new_day())
    second = _run(incremental, "run-2")

    _insert(scratch, _history(range(DAYS)) + _new_day())
    full = _run(scratch, "run-1")

    assert not second.from_scratch and full.from_scratch
    assert second.n_series == full.n_series
    got, want = _tables(incremental), _tables(scratch)
    assert want["spike_alerts"] and want["spike_period_alerts"]
    # Daily and hourly episodes, closed and open, before and on the new day.
    episodes = want["spike_episodes"]
    assert {e[3] for e in episodes} == {"day", "hour"} and {e[16] for e in episodes} == {
        True,
        False,
    }
    assert any(e[6].date() == FIRST + timedelta(days=DAYS) for e in episodes)
    for name in _TABLES:
        assert got[name] == want[name], name


def _tamper_early_alert(db: Path) -> datetime:
    """Overwrite the stored verdict of the first alerted day: a run that keeps it as is
    keeps the mark, a run that judges it again restores it."""
    with warehouse(db) as con:
        period = con.execute(
            "SELECT min(period_start) FROM spike_period_alerts WHERE granularity = 'day'"
        ).fetchone()[0]
        con.execute(
            "UPDATE spike_period_alerts SET dispersion = ? WHERE period_start = ?",
            [MARK, period],
        )
    return period


def _dispersions(db: Path, period: datetime) -> set[float]:
    with warehouse(db) as con:
        rows = con.execute(
            "SELECT dispersion FROM spike_period_alerts WHERE period_start = ?", [period]
        ).fetchall()
    return {r[0] for r in rows}


def test_only_changed_periods_are_judged_again(tmp_path: Path) -> None:
    db = tmp_path / "voc.duckdb"
    _insert(db, _history(range(DAYS)))
    _run(db, "run-1")
    period = _tamper_early_alert(db)
    assert period.date() < FIRST + timedelta(days=DAYS - 20)

    unchanged = _run(db, "run-2")
    assert unchanged.n_rescored == 0 and not unchanged.from_scratch
    _insert(db, _new_day())
    grown = _run(db, "run-3")
    # Every series grew by a day; only the late documents' source is judged from earlier.
    assert grown.n_rescored == grown.n_series
    assert _dispersions(db, period) == {MARK}


def test_a_new_fingerprint_or_full_judges_every_period_again(tmp_path: Path) -> None:
    db = tmp_path / "voc.duckdb"
    _insert(db, _history(range(DAYS)))
    _run(db, "run-1")
    period = _tamper_early_alert(db)

    forced = _run(db, "run-2", full=True)
    assert forced.from_scratch and MARK not in _dispersions(db, period)

    _tamper_early_alert(db)
    # New detector parameters (or a new model, or time zone) make stored verdicts stale.
    other = update_spikes(db, MODEL, DetectorParams(min_count=6), "run-3", "Asia/Shanghai")
    assert other.from_scratch and MARK not in _dispersions(db, period)
    again = update_spikes(db, MODEL, DetectorParams(min_count=6), "run-4", "Asia/Shanghai")
    assert not again.from_scratch and again.n_rescored == 0
