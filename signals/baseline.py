"""The baseline spikes v2 judges a period against: the series laid out on a calendar,
seasonal factors (day of week, hour of day) shrunk towards 1 for small counts, the recent
deseasonalised level with past spikes clipped out, and the overdispersion of the counts
(method: `signals.spikes`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time

import numpy as np

from voc.signals import Granularity, Period, Series


@dataclass(frozen=True, slots=True)
class DetectorParams:
    """Spikes v2 parameters (see the module docstring for the method).

    Attributes:
        alpha: Significance per series per day; an hourly test uses alpha / 24. Split
            (Bonferroni) over the tested `windows`.
        min_count: Fewest negative documents in the tested window for an alert.
        min_ratio: Fewest times the expected negative volume for a volume alert.
        min_share_ratio: Fewest times the expected negative share for a share alert.
        level_periods: Periods whose deseasonalised mean is the recent level.
        season_periods: Periods the seasonal factors are estimated from.
        min_history: Periods of history before the first judged period.
        clip_sigmas: History above level + clip_sigmas × sd is clipped (past spikes).
        max_extra_variance: Cap on the negative-binomial overdispersion c of the negative
            counts (variance = mean + c·mean²; c = 1 is a coefficient of variation of 100 %).
        max_share_dispersion: Cap on the share's overdispersion (variance / binomial variance).
        windows: Window lengths (in periods) tested, each ending at the judged period.
        merge_gap: Quiet periods allowed inside one episode.
        min_expected: Floor on the expected negative count of one period.
        warning_p, critical_p: p-value at or below which an alert is a warning / critical,
            together with a ratio of at least `warning_ratio` / `critical_ratio`.
    """

    alpha: float = 1e-3
    min_count: int = 5
    min_ratio: float = 1.5
    min_share_ratio: float = 1.3
    level_periods: int = 28
    season_periods: int = 56
    min_history: int = 14
    clip_sigmas: float = 3.0
    max_extra_variance: float = 1.0
    max_share_dispersion: float = 5.0
    windows: tuple[int, ...] = (1, 2)
    merge_gap: int = 1
    min_expected: float = 0.5
    warning_p: float = 1e-5
    warning_ratio: float = 2.0
    critical_p: float = 1e-8
    critical_ratio: float = 3.0

    @classmethod
    def hourly(cls) -> DetectorParams:
        """Defaults for hourly series: a week's level, four weeks' seasonality, 1-6 h windows."""
        return cls(
            level_periods=7 * 24,
            season_periods=28 * 24,
            min_history=7 * 24,
            windows=(1, 2, 3, 6),
            merge_gap=3,
            min_expected=0.05,
        )


@dataclass(frozen=True, slots=True)
class Calendar:
    """A series laid out on a gapless period index."""

    first: int
    docs: np.ndarray
    neg: np.ndarray
    weekday: np.ndarray
    hour: np.ndarray | None
    tzinfo: object


def period_index(p: Period, granularity: Granularity) -> int:
    if granularity == "day":
        if isinstance(p, datetime):
            raise ValueError(f"daily series got a datetime period {p}")
        return p.toordinal()
    if not isinstance(p, datetime):
        raise ValueError(f"hourly series got a date period {p}; pass the hour's datetime")
    return p.date().toordinal() * 24 + p.hour


def period_at(cal: Calendar, i: int, granularity: Granularity) -> Period:
    index = cal.first + i
    if granularity == "day":
        return date.fromordinal(index)
    day = date.fromordinal(index // 24)
    return datetime.combine(day, time(index % 24), tzinfo=cal.tzinfo)  # type: ignore[arg-type]


def lay_out(series: Series) -> Calendar:
    if series.granularity not in ("day", "hour"):
        raise ValueError(f"series {series.key}: granularity must be 'day' or 'hour'")
    cells: dict[int, tuple[int, int]] = {}
    tzinfo = None
    for period, n_docs, n_neg in series.points:
        if n_docs < 0 or n_neg < 0 or n_neg > n_docs:
            raise ValueError(
                f"series {series.key} at {period}: need 0 ≤ n_negative ≤ n_docs, "
                f"got {n_neg} of {n_docs}"
            )
        i = period_index(period, series.granularity)
        if i in cells:
            raise ValueError(f"series {series.key}: period {period} appears twice")
        cells[i] = (n_docs, n_neg)
        tzinfo = getattr(period, "tzinfo", None)
    if not cells:
        empty = np.zeros(0)
        return Calendar(0, empty, empty, empty.astype(int), None, None)
    first, last = min(cells), max(cells)
    docs = np.zeros(last - first + 1)
    neg = np.zeros(last - first + 1)
    for i, (n_docs, n_neg) in cells.items():
        docs[i - first], neg[i - first] = n_docs, n_neg
    index = np.arange(first, last + 1)
    if series.granularity == "day":
        return Calendar(first, docs, neg, (index - 1) % 7, None, tzinfo)
    return Calendar(first, docs, neg, (index // 24 - 1) % 7, index % 24, tzinfo)


SeasonTables = tuple[np.ndarray, np.ndarray | None]  # (weekday factors, hour-of-day factors)


@dataclass(frozen=True, slots=True)
class Baseline:
    """One-step-ahead expectations: each period's values fitted on earlier periods only."""

    expected: np.ndarray
    dispersion: np.ndarray
    share: np.ndarray
    share_dispersion: np.ndarray
    rel_var: np.ndarray  # relative variance of the expected count's own estimate
    share_n: np.ndarray  # documents the baseline share was estimated from
    start: np.ndarray


def factors(values: np.ndarray, phase: np.ndarray, n_phases: int) -> np.ndarray:
    """Multiplicative seasonal factors, shrunk towards 1 by empirical Bayes.

    Each phase's raw factor (its mean over the overall mean) has a Poisson sampling variance
    of about 1 / (periods × mean); the spread of the raw factors beyond that is the real
    seasonality τ². A factor keeps τ² / (τ² + its variance) of its departure from 1, so
    a weekday seen twice at two documents a day cannot swing the baseline, while a busy
    source's weekend dip is kept whole.
    """
    mean = values.mean() if len(values) else 0.0
    counts = np.bincount(phase, minlength=n_phases)
    if mean <= 0 or (counts > 0).sum() < 2:
        return np.ones(n_phases)
    seen = counts > 0
    raw = np.ones(n_phases)
    raw[seen] = np.bincount(phase, weights=values, minlength=n_phases)[seen] / counts[seen] / mean
    noise = np.where(seen, 1 / (np.maximum(counts, 1) * mean), np.inf)
    tau2 = max(0.0, float(np.var(raw[seen]) - noise[seen].mean()))
    f = 1 + (raw - 1) * tau2 / (tau2 + noise)
    return f / (np.dot(counts, f) / counts.sum())


def season(cal: Calendar, lo: int, t: int, values: np.ndarray) -> SeasonTables:
    """Seasonal factor tables fitted on the values of periods [lo, t)."""
    wd = cal.weekday[lo:t]
    if cal.hour is None:
        return factors(values, wd, 7), None
    hr = cal.hour[lo:t]
    f_hour = factors(values, hr, 24)
    return factors(values / f_hour[hr], wd, 7), f_hour


def apply(cal: Calendar, tables: SeasonTables, lo: int, hi: int) -> np.ndarray:
    f_day, f_hour = tables
    f = f_day[cal.weekday[lo:hi]]
    return f if f_hour is None or cal.hour is None else f * f_hour[cal.hour[lo:hi]]


def robust_dispersion(resid: np.ndarray, means: np.ndarray) -> float:
    # Pearson residuals behave like N(0, φ) only where counts are not tiny; the MAD keeps
    # past spikes out of the estimate. A squared MAD from n residuals has a relative
    # standard error of about sqrt(3.7 / n); only the excess beyond one standard error is
    # kept, so Poisson noise in the estimate does not make every series look overdispersed.
    r = resid[means >= 5]
    if len(r) < 7:
        return 1.0
    phi = (1.4826 * float(np.median(np.abs(r - np.median(r))))) ** 2
    return 1.0 + max(0.0, phi - 1.0 - phi * math.sqrt(3.7 / len(r)))


def extra_variance(x: np.ndarray, mu: np.ndarray, max_c: float) -> float:
    """Negative-binomial overdispersion c (variance = mu + c·mu²), robustly estimated.

    c solves "1.4826 × MAD of (x - mu) / sqrt(mu (1 + c mu)) = 1" over periods expecting ≥ 5
    documents (bisection); it stays 0 unless the Poisson residuals' squared MAD exceeds 1 by
    more than one standard error of that estimate (about sqrt(3.7 / n)), so sampling noise
    alone does not make a series look overdispersed.
    """
    keep = mu >= 5
    x, mu = x[keep], mu[keep]
    if len(x) < 7:
        return 0.0

    def scale(c: float) -> float:
        r = (x - mu) / np.sqrt(mu * (1 + c * mu))
        return (1.4826 * float(np.median(np.abs(r - np.median(r))))) ** 2

    s0 = scale(0.0)
    if s0 <= 1 + s0 * math.sqrt(3.7 / len(x)):
        return 0.0
    lo, hi = 0.0, max_c
    if scale(hi) > 1:
        return max_c
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if scale(mid) > 1 else (lo, mid)
    return (lo + hi) / 2


def first_fitted(cal: Calendar, p: DetectorParams, since: int) -> int:
    """The period from which `fit_baseline` must fit for periods `since` onwards to come out
    as in a fit of the whole calendar: hourly seasonal factors are refitted only at
    midnight (and at the first judged period), so an hourly fit starts at the midnight at
    or before `since`."""
    if cal.hour is None:
        return max(p.min_history, since)
    midnight = since - (cal.first + since) % 24
    return midnight if midnight >= p.min_history else p.min_history


def fit_baseline(cal: Calendar, p: DetectorParams, since: int = 0) -> Baseline:
    """One-step-ahead baselines of every period from `since` on (earlier periods are left
    unfitted); a period's values depend only on the `season_periods` before it."""
    n = len(cal.neg)
    expected, disp = np.full(n, np.nan), np.ones(n)
    share, share_disp = np.full(n, np.nan), np.ones(n)
    start = np.zeros(n, dtype=int)
    rel_var, share_n = np.zeros(n), np.ones(n)
    tables: SeasonTables | None = None
    t_c = 0.0
    for t in range(first_fitted(cal, p, since), n):
        lo = max(0, t - p.season_periods)
        hist = cal.neg[lo:t]
        # Hourly factors move slowly: refit them once a day rather than every hour.
        refit = tables is None or cal.hour is None or (cal.first + t) % 24 == 0
        if refit:
            tables = season(cal, lo, t, hist)
            d = hist / apply(cal, tables, lo, t)
            m = float(np.median(d[-p.level_periods :]))
            mad = float(np.median(np.abs(d[-p.level_periods :] - m)))
            cap = apply(cal, tables, lo, t) * (
                m + p.clip_sigmas * max(1.4826 * mad, math.sqrt(m), 1.0)
            )
            tables = season(cal, lo, t, np.minimum(hist, cap))
        f_all = apply(cal, tables, lo, t + 1)
        f_hist, f_now = f_all[:-1], f_all[-1]
        recent = slice(max(0, len(hist) - p.level_periods), len(hist))
        d = hist[recent] / f_hist[recent]
        m = float(np.median(d))
        mad = float(np.median(np.abs(d - m)))
        clipped = np.minimum(d, m + p.clip_sigmas * max(1.4826 * mad, math.sqrt(m), 1.0))
        level = float(clipped.mean())
        means = np.maximum(level * f_hist[recent], p.min_expected)
        if refit:
            t_c = extra_variance(hist[recent], means, p.max_extra_variance)
        expected[t] = max(level * f_now, p.min_expected)
        disp[t] = t_c
        start[t] = lo + recent.start
        # The level is a mean of the recent counts and a factor a ratio of phase totals:
        # each has a Poisson relative variance of about 1 / (documents behind it).
        same_day = cal.weekday[lo:t] == cal.weekday[t]
        rv = 1 / max(hist[recent].sum(), 1) + 1 / max(hist[same_day].sum(), 1)
        if cal.hour is not None:
            rv += 1 / max(hist[cal.hour[lo:t] == cal.hour[t]].sum(), 1)
        rel_var[t] = rv

        k, docs = cal.neg[lo:t][recent], cal.docs[lo:t][recent]
        p_raw = (k.sum() + 1) / (docs.sum() + 2)
        k_cap = docs * p_raw + p.clip_sigmas * np.sqrt(docs * p_raw * (1 - p_raw)) + 1
        p0 = (np.minimum(k, k_cap).sum() + 1) / (docs.sum() + 2)
        var = np.maximum(docs * p0 * (1 - p0), 1e-9)
        phi_s = robust_dispersion(
            (k - docs * p0) / np.sqrt(var), np.minimum(docs * p0, docs - docs * p0)
        )
        share[t] = p0
        share_disp[t] = min(max(phi_s, 1.0), p.max_share_dispersion)
        share_n[t] = max(docs.sum(), 1)
    return Baseline(expected, disp, share, share_disp, rel_var, share_n, start)
