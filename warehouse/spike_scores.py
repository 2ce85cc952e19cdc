"""What the last spike run judged (`signals.spike_delta`): each series' counts by period,
every alert, and the fingerprint of the scoring, so the next run judges only what changed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

import duckdb
import pandas as pd

from voc.signals import Alert, Period
from warehouse.db import register_frame, transaction

SeriesId = tuple[str, str, str]  # key kind, key value, granularity
_EPOCH = datetime(1970, 1, 1)  # before any period: a gone series loses all its rows

_ALERT_COLUMNS = (
    "key_kind, key_value, granularity, metric, period_start, window_start, observed, "
    "expected, ratio, statistic, p_value, n_docs, n_negative, baseline_start, baseline_end, "
    "dispersion, severity"
)


@dataclass(frozen=True, slots=True)
class JudgedSeries:
    """One series' part of a spike run to store.

    Attributes:
        series: Key kind, key value, granularity.
        since: First period judged by this run; the stored counts and alerts from it on
            are replaced (earlier ones are kept as they are).
        counts: The series' counts from `since` on: (period, documents, negatives).
        alerts: The series' alerts from `since` on.
    """

    series: SeriesId
    since: Period
    counts: Sequence[tuple[Period, int, int]]
    alerts: Sequence[Alert]


def _stamp(p: Period) -> datetime:
    return p if isinstance(p, datetime) else datetime.combine(p, time())


def _period(value: datetime, granularity: str) -> Period:
    return value.date() if granularity == "day" else value


def scoring_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    """The fingerprint of the scoring the stored counts and alerts come from (None: none)."""
    row = con.execute("SELECT fingerprint FROM spike_scoring_state").fetchone()
    return row[0] if row else None


def scored_counts(
    con: duckdb.DuckDBPyConnection,
) -> dict[SeriesId, dict[Period, tuple[int, int]]]:
    """Series → period → (documents, negatives), as the last run judged them."""
    rows = con.execute(
        "SELECT key_kind, key_value, granularity, period, n_docs, n_negative "
        "FROM spike_scored_counts"
    ).fetchall()
    out: dict[SeriesId, dict[Period, tuple[int, int]]] = defaultdict(dict)
    for kind, value, granularity, period, n, k in rows:
        out[(kind, value, granularity)][_period(period, granularity)] = (n, k)
    return dict(out)


def period_alerts(con: duckdb.DuckDBPyConnection) -> dict[SeriesId, list[Alert]]:
    """Series → the alerts the last run found, in time order (volume before share)."""
    rows = con.execute(
        f"SELECT {_ALERT_COLUMNS} FROM spike_period_alerts "
        "ORDER BY key_kind, key_value, granularity, period_start, metric DESC"
    ).fetchall()
    out: dict[SeriesId, list[Alert]] = defaultdict(list)
    for r in rows:
        kind, value, g = r[0], r[1], r[2]
        out[(kind, value, g)].append(
            Alert(
                key=(kind, value),
                granularity=g,
                metric=r[3],
                period_start=_period(r[4], g),
                window_start=_period(r[5], g),
                observed=r[6],
                expected=r[7],
                ratio=r[8],
                statistic=r[9],
                p_value=r[10],
                n_docs=r[11],
                n_negative=r[12],
                baseline_start=_period(r[13], g),
                baseline_end=_period(r[14], g),
                dispersion=r[15],
                severity=r[16],
            )
        )
    return dict(out)


def save_scores(
    con: duckdb.DuckDBPyConnection,
    judged: Sequence[JudgedSeries],
    gone: Sequence[SeriesId],
    fingerprint: str,
    run_id: str,
    *,
    from_scratch: bool = False,
) -> None:
    """Record what a run judged, in one transaction: each judged series' counts and alerts
    from its `since` on replace the stored ones, series that have no documents any more
    lose theirs, and `from_scratch` first forgets everything (a new fingerprint)."""
    cuts = pd.DataFrame(
        [(*j.series, _stamp(j.since)) for j in judged] + [(*g, _EPOCH) for g in gone],
        columns=["key_kind", "key_value", "granularity", "since"],
    )
    counts = pd.DataFrame(
        [(*j.series, _stamp(p), int(n), int(k)) for j in judged for p, n, k in j.counts],
        columns=["key_kind", "key_value", "granularity", "period", "n_docs", "n_negative"],
    )
    alerts = pd.DataFrame(
        [
            (
                *a.key,
                a.granularity,
                a.metric,
                _stamp(a.period_start),
                _stamp(a.window_start),
                a.observed,
                a.expected,
                a.ratio,
                a.statistic,
                a.p_value,
                a.n_docs,
                a.n_negative,
                _stamp(a.baseline_start),
                _stamp(a.baseline_end),
                a.dispersion,
                a.severity,
            )
            for j in judged
            for a in j.alerts
        ],
        columns=[c.strip() for c in _ALERT_COLUMNS.split(",")],
    )
    frames = {"judged_cuts": cuts, "judged_counts": counts, "judged_alerts": alerts}
    for name, frame in frames.items():
        register_frame(con, name, frame)
    try:
        with transaction(con):
            if from_scratch:
                con.execute("DELETE FROM spike_scored_counts")
                con.execute("DELETE FROM spike_period_alerts")
            con.execute(
                "DELETE FROM spike_scored_counts s USING judged_cuts c "
                "WHERE s.key_kind = c.key_kind AND s.key_value = c.key_value "
                "AND s.granularity = c.granularity AND s.period >= c.since::TIMESTAMP"
            )
            con.execute(
                "DELETE FROM spike_period_alerts s USING judged_cuts c "
                "WHERE s.key_kind = c.key_kind AND s.key_value = c.key_value "
                "AND s.granularity = c.granularity AND s.period_start >= c.since::TIMESTAMP"
            )
            if not counts.empty:
                con.execute(
                    "INSERT INTO spike_scored_counts SELECT key_kind, key_value, granularity, "
                    "period::TIMESTAMP, n_docs::INTEGER, n_negative::INTEGER FROM judged_counts"
                )
            if not alerts.empty:
                con.execute(
                    f"INSERT INTO spike_period_alerts SELECT {_ALERT_COLUMNS} FROM judged_alerts"
                )
            con.execute("DELETE FROM spike_scoring_state")
            con.execute(
                "INSERT INTO spike_scoring_state VALUES (?, ?, now())", [fingerprint, run_id]
            )
    finally:
        for name in frames:
            con.unregister(name)
