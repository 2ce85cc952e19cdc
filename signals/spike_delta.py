"""Incremental spike scoring: which periods of a series a run must judge again, given the
counts the previous run judged, and the alerts it can keep.

A verdict on period t reads only the counts of the `season_periods` before it and its own
(`signals.spikes`), so after new data arrives every period before the series' first changed
count keeps its verdict: a run judges the periods from that change on, and the alerts are
exactly those of a run over the whole history. A day appended to every series costs one
daily period (24 hourly ones) per series however long the history is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from signals.baseline import period_index
from signals.spikes import Alert, DetectorParams, detect_alerts
from voc.signals import Granularity, Period, Series

#: A series' counts by period: (documents, negative documents).
Counts = Mapping[Period, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Rescore:
    """One series' part of an incremental run.

    Attributes:
        series: The series as it is now.
        since: First period judged again (None: the counts are unchanged, nothing is).
        alerts: Every alert of the series: the kept ones before `since`, then the new.
    """

    series: Series
    since: Period | None
    alerts: tuple[Alert, ...]


def period_of(index: int, granularity: Granularity) -> Period:
    """The period of a `signals.baseline.period_index` (hours naive, as the warehouse's)."""
    if granularity == "day":
        return date.fromordinal(index)
    return datetime.combine(date.fromordinal(index // 24), time(index % 24))


def first_change(series: Series, judged: Counts) -> Period | None:
    """The first period whose verdict may differ from the run that judged `judged`: the
    first period whose counts differ (new, changed or gone), or the first period after the
    judged ones when the series has grown (the days between count as zero). None when
    nothing changed.
    """
    g = series.granularity
    now = {period_index(p, g): (int(n), int(k)) for p, n, k in series.points}
    before = {period_index(p, g): (int(n), int(k)) for p, (n, k) in judged.items()}
    if not before:
        return period_of(min(now), g) if now else None
    changed = [i for i in now.keys() | before.keys() if now.get(i) != before.get(i)]
    if now and max(now) > max(before):
        changed.append(max(before) + 1)
    return period_of(min(changed), g) if changed else None


def rescore(
    series: Series,
    params: DetectorParams,
    judged: Counts,
    kept: Sequence[Alert],
) -> Rescore:
    """Judge the periods of `series` that may have changed since the run that judged the
    counts `judged` and found the alerts `kept`; keep that run's earlier alerts."""
    since = first_change(series, judged)
    if since is None:
        return Rescore(series, None, tuple(kept))
    g = series.granularity
    cut = period_index(since, g)
    earlier = [a for a in kept if period_index(a.period_start, g) < cut]
    return Rescore(series, since, (*earlier, *detect_alerts(series, params, since)))
