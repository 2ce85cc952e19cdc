"""Spikes v1, the spike benchmark's baseline: a day whose negative volume or negative share
departs from its recent baseline.

Superseded by spikes v2 (`signals.spikes.detect_episodes`, what the daily flow runs); kept here
beside S-H-ESD (`benchmarks.spikes.shesd`) as the detector v2 is measured against.

For each source and day, the baseline is the previous `baseline_days` days (at least
`min_history` of them). Negative volume: expected = median of the baseline counts, spread
= max(1.4826 × MAD, sqrt(expected), 1) so small counts are judged on a Poisson scale; an
alert needs observed ≥ `min_count`, observed/expected ≥ `ratio` and z ≥ `z`. Negative
share: expected = pooled share over the baseline; z is the binomial z-score of the day's
share; an alert needs z ≥ `z` and the share at least `ratio_share` × expected.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np


@dataclass(frozen=True, slots=True)
class DayCount:
    """One source's documents and negative documents on one day."""

    source: str
    day: date
    n_docs: int
    n_negative: int


@dataclass(frozen=True, slots=True)
class SpikeParams:
    """Detection thresholds (see module docstring)."""

    baseline_days: int = 28
    min_history: int = 7
    min_count: int = 8
    ratio: float = 2.5
    z: float = 4.0
    ratio_share: float = 1.6


@dataclass(frozen=True, slots=True)
class Spike:
    """A day that departs from its baseline on one metric."""

    source: str
    day: date
    metric: str  # "negative_volume" or "negative_share"
    observed: float
    expected: float
    ratio: float
    z_score: float
    baseline_days: int


def detect_spikes(counts: Sequence[DayCount], params: SpikeParams = SpikeParams()) -> list[Spike]:
    """Find spike days in daily per-source counts.

    Days missing from `counts` count as zero documents. Results are ordered by source, day
    and metric.
    """
    by_source: dict[str, dict[date, DayCount]] = {}
    for c in counts:
        by_source.setdefault(c.source, {})[c.day] = c
    spikes: list[Spike] = []
    for source in sorted(by_source):
        days = by_source[source]
        first, last = min(days), max(days)
        calendar = [date.fromordinal(o) for o in range(first.toordinal(), last.toordinal() + 1)]
        docs = np.array([days[d].n_docs if d in days else 0 for d in calendar], dtype=float)
        neg = np.array([days[d].n_negative if d in days else 0 for d in calendar], dtype=float)
        for i, day in enumerate(calendar):
            lo = max(0, i - params.baseline_days)
            if i - lo < params.min_history or day not in days:
                continue
            spikes.extend(_check_day(source, day, neg[i], docs[i], neg[lo:i], docs[lo:i], params))
    return spikes


def _check_day(
    source: str,
    day: date,
    neg: float,
    docs: float,
    base_neg: np.ndarray,
    base_docs: np.ndarray,
    p: SpikeParams,
) -> list[Spike]:
    found = []
    expected = float(np.median(base_neg))
    mad = float(np.median(np.abs(base_neg - expected)))
    spread = max(1.4826 * mad, math.sqrt(expected), 1.0)
    z = (neg - expected) / spread
    ratio = neg / max(expected, 0.5)
    if neg >= p.min_count and ratio >= p.ratio and z >= p.z:
        found.append(Spike(source, day, "negative_volume", neg, expected, ratio, z, len(base_neg)))
    if docs > 0 and base_docs.sum() > 0:
        share_exp = float(base_neg.sum() / base_docs.sum())
        share = neg / docs
        se = math.sqrt(max(share_exp * (1 - share_exp), 1e-6) / docs)
        z_share = (share - share_exp) / se
        ratio_share = share / max(share_exp, 1e-6)
        if neg >= p.min_count and z_share >= p.z and ratio_share >= p.ratio_share:
            found.append(
                Spike(
                    source,
                    day,
                    "negative_share",
                    share,
                    share_exp,
                    ratio_share,
                    z_share,
                    len(base_neg),
                )
            )
    return found
