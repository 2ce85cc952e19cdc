"""Spikes: periods whose negative volume or negative share is significantly above normal.

Spikes v2 judges any keyed series (a source, a product, a taxonomy category, a theme),
daily or hourly, one period at a time using only the periods before it, so a re-run over
more data never changes an earlier verdict.

Method
    1. Calendar: the series is laid out on a gapless day or hour index; a missing period
       counts as zero documents.
    2. Seasonality: multiplicative day-of-week factors (daily), or hour-of-day × day-of-week
       factors (hourly), from the negative counts of the last `season_periods` (8 weeks;
       4 weeks hourly): a phase's factor is its mean over the overall mean, shrunk towards 1
       by empirical Bayes (by the share of its Poisson sampling variance in the spread of
       all factors), so a quiet series' chance weekday pattern cannot swing the baseline.
       History is first clipped at level + 3 sd, so a past spike does not teach the
       calendar that it recurs. Hourly factors are refitted once a day.
    3. Robust level: the last `level_periods` (28 days; 7 days hourly) are deseasonalised
       and clipped at median + `clip_sigmas` × max(1.4826 × MAD, sqrt(median), 1), and
       their mean is the level (a mean rather than a median: the median of small counts is
       biased low and jumps between integers). Expected negatives = level × factor, at
       least `min_expected`.
    4. Overdispersion: negative counts are taken as negative binomial, variance = μ + c·μ²
       (a busy hour is noisier than Poisson in proportion to its size, a quiet one is
       nearly Poisson); c solves "1.4826 × MAD of the standardised residuals = 1" over the
       level periods expecting ≥ 5 documents, and stays 0 unless the Poisson residuals'
       spread exceeds 1 by more than its own standard error. The share's overdispersion φ
       is the squared robust scale of its binomial Pearson residuals (≤ 5). The tests are
       quasi-Poisson / quasi-binomial: counts and expectation are divided by the scale
       (predictive variance / Poisson or binomial variance, as in Farrington's outbreak
       detection): 1 + c·Σμ²/Σμ + Σμ·(1/level-window negatives + 1/same-weekday negatives
       [+ 1/same-hour negatives]) for the volume of a window — the last term is the
       baseline's own estimation error — and φ + window documents / baseline documents for
       the share.
    5. Tests: for each window of `windows` periods ending at the judged period (1-2 days;
       1, 2, 3, 6 hours), the exact one-sided Poisson tail P(X ≥ observed | expected) of the
       window's negative count (volume), and the exact binomial tail P(X ≥ negatives |
       documents, baseline share) of its negative share, the share being the smoothed
       pooled share of the level periods with each period's negatives clipped at +3 sd.
       The judged period itself must be at or above its expectation and a multi-period
       window must be more significant with it than without it, so a spike that has ended
       does not keep a longer window alerting.
    6. Alert: p ≤ `alpha` (per series per day; alpha / 24 per hour) split over the windows,
       at least `min_count` negative documents in the window, and observed ≥ `min_ratio` ×
       expected (volume) or ≥ `min_share_ratio` × the baseline share (share). The window with
       the smallest p is reported, with observed, expected, ratio, z statistic, p-value,
       the baseline periods, dispersion and severity: critical when p ≤ `critical_p` and
       ratio ≥ `critical_ratio`, warning when p ≤ `warning_p` and ratio ≥ `warning_ratio`,
       else info.
    7. Episodes: alerts of one key and metric at most `merge_gap` quiet periods apart are one
       episode, whose id hashes key, granularity, metric and first period: it stays the same
       when later runs extend the episode. An episode ending on the series' last period is
       open.

`benchmarks/spikes` measures recall, precision, false alerts per series per 90 days and
detection delay against spikes v1 and S-H-ESD (Twitter's seasonal hybrid ESD) on series
built from the demo corpus and the labelled corpora, with spikes of known size injected.

Spikes v1, the benchmark's baseline, lives in `benchmarks.spikes.v1`.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

import numpy as np

from nlp.pvalues import binom_sf, poisson_sf

__all__ = [
    "Alert",
    "DetectorParams",
    "Episode",
    "Series",
    "binom_sf",
    "detect_alerts",
    "detect_episodes",
    "episode_id",
    "merge_episodes",
    "poisson_sf",
]

Granularity = Literal["day", "hour"]
Period = date | datetime
VOLUME, SHARE = "negative_volume", "negative_share"
SEVERITIES = ("info", "warning", "critical")
_CHI2_1_MEDIAN = 0.45493642311957283  # median of chi-square with one degree of freedom


@dataclass(frozen=True, slots=True)
class Series:
    """Documents and negative documents of one key over time.

    Attributes:
        key: What the series counts, as (kind, value): ("source", "demo_weibo"),
            ("product", "10023"), ("category", "物流"), ("theme", "t3")...
        granularity: "day" (points keyed by `date`) or "hour" (points keyed by the
            `datetime` an hour starts at, in the series' local time).
        points: (period_start, n_docs, n_negative) triples in any order; a period missing
            between the first and the last counts as zero documents.
    """

    key: tuple[str, str]
    granularity: Granularity
    points: tuple[tuple[Period, int, int], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", tuple(tuple(p) for p in self.points))


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
class Alert:
    """One period whose negative volume or share is significantly above its baseline.

    Attributes:
        key, granularity: The series.
        metric: "negative_volume" or "negative_share".
        period_start: The judged period.
        window_start: First period of the tested window (== period_start for one period).
        observed, expected: Negative documents (volume) or negative share (share) in the
            window, and what the baseline expected.
        ratio: observed / expected.
        statistic: (observed - expected) / sd, sd from the dispersion-scaled Poisson or
            binomial variance.
        p_value: Exact one-sided Poisson (volume) or binomial (share) tail probability.
        n_docs, n_negative: Documents and negative documents in the window.
        baseline_start, baseline_end: The periods the baseline was estimated from.
        dispersion: Scale the test divided counts by: overdispersion plus the baseline's
            own estimation error (1 = pure Poisson / binomial with a known baseline).
        severity: "info", "warning" or "critical".
    """

    key: tuple[str, str]
    granularity: Granularity
    metric: str
    period_start: Period
    window_start: Period
    observed: float
    expected: float
    ratio: float
    statistic: float
    p_value: float
    n_docs: int
    n_negative: int
    baseline_start: Period
    baseline_end: Period
    dispersion: float
    severity: str


@dataclass(frozen=True, slots=True)
class Episode:
    """Consecutive alert periods of one key and metric: one open alert per spike.

    Attributes:
        episode_id: Hash of key, granularity, metric and start: stable across re-runs.
        start, end: First and last alerted period.
        peak: The alert with the smallest p-value.
        severity: The highest severity of its alerts.
        alerts: Every alert of the episode, in time order.
        is_open: The last alert is on the series' last period (the spike may go on).
    """

    episode_id: str
    key: tuple[str, str]
    granularity: Granularity
    metric: str
    start: Period
    end: Period
    peak: Alert
    severity: str
    alerts: tuple[Alert, ...]
    is_open: bool


@dataclass(frozen=True, slots=True)
class _Calendar:
    """A series laid out on a gapless period index."""

    first: int
    docs: np.ndarray
    neg: np.ndarray
    weekday: np.ndarray
    hour: np.ndarray | None
    tzinfo: object


def _period_index(p: Period, granularity: Granularity) -> int:
    if granularity == "day":
        if isinstance(p, datetime):
            raise ValueError(f"daily series got a datetime period {p}")
        return p.toordinal()
    if not isinstance(p, datetime):
        raise ValueError(f"hourly series got a date period {p}; pass the hour's datetime")
    return p.date().toordinal() * 24 + p.hour


def _period_at(cal: _Calendar, i: int, granularity: Granularity) -> Period:
    index = cal.first + i
    if granularity == "day":
        return date.fromordinal(index)
    day = date.fromordinal(index // 24)
    return datetime.combine(day, time(index % 24), tzinfo=cal.tzinfo)  # type: ignore[arg-type]


def _lay_out(series: Series) -> _Calendar:
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
        i = _period_index(period, series.granularity)
        if i in cells:
            raise ValueError(f"series {series.key}: period {period} appears twice")
        cells[i] = (n_docs, n_neg)
        tzinfo = getattr(period, "tzinfo", None)
    if not cells:
        empty = np.zeros(0)
        return _Calendar(0, empty, empty, empty.astype(int), None, None)
    first, last = min(cells), max(cells)
    docs = np.zeros(last - first + 1)
    neg = np.zeros(last - first + 1)
    for i, (n_docs, n_neg) in cells.items():
        docs[i - first], neg[i - first] = n_docs, n_neg
    index = np.arange(first, last + 1)
    if series.granularity == "day":
        return _Calendar(first, docs, neg, (index - 1) % 7, None, tzinfo)
    return _Calendar(first, docs, neg, (index // 24 - 1) % 7, index % 24, tzinfo)


_Tables = tuple[np.ndarray, np.ndarray | None]  # (weekday factors, hour-of-day factors)


@dataclass(frozen=True, slots=True)
class _Baseline:
    """One-step-ahead expectations: each period's values fitted on earlier periods only."""

    expected: np.ndarray
    dispersion: np.ndarray
    share: np.ndarray
    share_dispersion: np.ndarray
    rel_var: np.ndarray  # relative variance of the expected count's own estimate
    share_n: np.ndarray  # documents the baseline share was estimated from
    start: np.ndarray


def _factors(values: np.ndarray, phase: np.ndarray, n_phases: int) -> np.ndarray:
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


def _season(cal: _Calendar, lo: int, t: int, values: np.ndarray) -> _Tables:
    """Seasonal factor tables fitted on the values of periods [lo, t)."""
    wd = cal.weekday[lo:t]
    if cal.hour is None:
        return _factors(values, wd, 7), None
    hr = cal.hour[lo:t]
    f_hour = _factors(values, hr, 24)
    return _factors(values / f_hour[hr], wd, 7), f_hour


def _apply(cal: _Calendar, tables: _Tables, lo: int, hi: int) -> np.ndarray:
    f_day, f_hour = tables
    f = f_day[cal.weekday[lo:hi]]
    return f if f_hour is None or cal.hour is None else f * f_hour[cal.hour[lo:hi]]


def _robust_dispersion(resid: np.ndarray, means: np.ndarray) -> float:
    # Pearson residuals behave like N(0, φ) only where counts are not tiny; the MAD keeps
    # past spikes out of the estimate. A squared MAD from n residuals has a relative
    # standard error of about sqrt(3.7 / n); only the excess beyond one standard error is
    # kept, so Poisson noise in the estimate does not make every series look overdispersed.
    r = resid[means >= 5]
    if len(r) < 7:
        return 1.0
    phi = (1.4826 * float(np.median(np.abs(r - np.median(r))))) ** 2
    return 1.0 + max(0.0, phi - 1.0 - phi * math.sqrt(3.7 / len(r)))


def _extra_variance(x: np.ndarray, mu: np.ndarray, max_c: float) -> float:
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


def _fit_baseline(cal: _Calendar, p: DetectorParams) -> _Baseline:
    n = len(cal.neg)
    expected, disp = np.full(n, np.nan), np.ones(n)
    share, share_disp = np.full(n, np.nan), np.ones(n)
    start = np.zeros(n, dtype=int)
    rel_var, share_n = np.zeros(n), np.ones(n)
    tables: _Tables | None = None
    t_c = 0.0
    for t in range(p.min_history, n):
        lo = max(0, t - p.season_periods)
        hist = cal.neg[lo:t]
        # Hourly factors move slowly: refit them once a day rather than every hour.
        refit = tables is None or cal.hour is None or (cal.first + t) % 24 == 0
        if refit:
            tables = _season(cal, lo, t, hist)
            d = hist / _apply(cal, tables, lo, t)
            m = float(np.median(d[-p.level_periods :]))
            mad = float(np.median(np.abs(d[-p.level_periods :] - m)))
            cap = _apply(cal, tables, lo, t) * (
                m + p.clip_sigmas * max(1.4826 * mad, math.sqrt(m), 1.0)
            )
            tables = _season(cal, lo, t, np.minimum(hist, cap))
        f_all = _apply(cal, tables, lo, t + 1)
        f_hist, f_now = f_all[:-1], f_all[-1]
        recent = slice(max(0, len(hist) - p.level_periods), len(hist))
        d = hist[recent] / f_hist[recent]
        m = float(np.median(d))
        mad = float(np.median(np.abs(d - m)))
        clipped = np.minimum(d, m + p.clip_sigmas * max(1.4826 * mad, math.sqrt(m), 1.0))
        level = float(clipped.mean())
        means = np.maximum(level * f_hist[recent], p.min_expected)
        if refit:
            t_c = _extra_variance(hist[recent], means, p.max_extra_variance)
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
        phi_s = _robust_dispersion(
            (k - docs * p0) / np.sqrt(var), np.minimum(docs * p0, docs - docs * p0)
        )
        share[t] = p0
        share_disp[t] = min(max(phi_s, 1.0), p.max_share_dispersion)
        share_n[t] = max(docs.sum(), 1)
    return _Baseline(expected, disp, share, share_disp, rel_var, share_n, start)


def _severity(p_value: float, ratio: float, p: DetectorParams) -> str:
    if p_value <= p.critical_p and ratio >= p.critical_ratio:
        return "critical"
    if p_value <= p.warning_p and ratio >= p.warning_ratio:
        return "warning"
    return "info"


_Finding = tuple[float, int, float, float, float, float]  # p, window start, obs, exp, z, φ


def _volume_p(cal: _Calendar, base: _Baseline, s: int, t: int) -> tuple[float, float, float]:
    obs = float(cal.neg[s : t + 1].sum())
    exp = float(base.expected[s : t + 1].sum())
    phi = _volume_scale(base, s, t)
    return poisson_sf(obs / phi, exp / phi), obs, exp


def _volume_scale(base: _Baseline, s: int, t: int) -> float:
    # Predictive variance / Poisson variance of the window's count: negative-binomial
    # overdispersion (hours independent) plus the baseline's own estimation error.
    mu = base.expected[s : t + 1]
    total = float(mu.sum())
    nb = float(base.dispersion[t]) * float((mu * mu).sum()) / total
    return 1.0 + nb + total * float(base.rel_var[t])


def _judge_volume(
    cal: _Calendar, base: _Baseline, s: int, t: int, p: DetectorParams
) -> _Finding | None:
    pv, obs, exp = _volume_p(cal, base, s, t)
    if cal.neg[t] < base.expected[t] or obs < p.min_ratio * exp:
        return None
    # The judged period must add evidence: once a spike is over, a multi-period window
    # still holding it must not keep alerting on ordinary periods.
    if s < t and pv >= _volume_p(cal, base, s, t - 1)[0]:
        return None
    phi = _volume_scale(base, s, t)
    return pv, s, obs, exp, (obs - exp) / math.sqrt(phi * exp), phi


def _share_p(cal: _Calendar, base: _Baseline, s: int, t: int) -> tuple[float, float, float]:
    k = float(cal.neg[s : t + 1].sum())
    n = float(cal.docs[s : t + 1].sum())
    phi = float(base.share_dispersion[t]) + n / float(base.share_n[t])
    return binom_sf(k / phi, n / phi, float(base.share[t])), k, n


def _judge_share(
    cal: _Calendar, base: _Baseline, s: int, t: int, p: DetectorParams
) -> _Finding | None:
    p0 = float(base.share[t])
    if not cal.docs[t] or cal.neg[t] / cal.docs[t] < p0:
        return None
    pv, k, n = _share_p(cal, base, s, t)
    if k / n < p.min_share_ratio * p0:
        return None
    if s < t and pv >= _share_p(cal, base, s, t - 1)[0]:
        return None
    phi = float(base.share_dispersion[t]) + n / float(base.share_n[t])
    return pv, s, k / n, p0, (k - n * p0) / math.sqrt(phi * n * p0 * (1 - p0)), phi


def detect_alerts(series: Series, params: DetectorParams | None = None) -> list[Alert]:
    """Judge every period of one series against its seasonal baseline (spikes v2).

    Args:
        series: The keyed counts.
        params: Thresholds; by default `DetectorParams()` for daily series and
            `DetectorParams.hourly()` for hourly ones.

    Returns:
        Alerts in time order, volume before share within a period.

    Raises:
        ValueError: A point has more negative than total documents, a negative count, a
            period of the wrong type for the granularity, or a period twice.
    """
    p = params or (DetectorParams.hourly() if series.granularity == "hour" else DetectorParams())
    cal = _lay_out(series)
    base = _fit_baseline(cal, p)
    per_day = 24 if series.granularity == "hour" else 1
    level = p.alpha / per_day / len(p.windows)
    at = functools.partial(_period_at, cal, granularity=series.granularity)
    alerts: list[Alert] = []
    for t in range(p.min_history, len(cal.neg)):
        best: dict[str, _Finding] = {}
        for w in p.windows:
            if t - w + 1 < p.min_history or cal.neg[t - w + 1 : t + 1].sum() < p.min_count:
                continue
            for metric, judge in ((VOLUME, _judge_volume), (SHARE, _judge_share)):
                found = judge(cal, base, t - w + 1, t, p)
                if found and found[0] <= level and (metric not in best or found < best[metric]):
                    best[metric] = found
        for metric in (VOLUME, SHARE):
            if metric not in best:
                continue
            pv, s, observed, expected, z, phi = best[metric]
            ratio = observed / expected
            alerts.append(
                Alert(
                    key=series.key,
                    granularity=series.granularity,
                    metric=metric,
                    period_start=at(t),
                    window_start=at(s),
                    observed=observed,
                    expected=expected,
                    ratio=ratio,
                    statistic=z,
                    p_value=pv,
                    n_docs=int(cal.docs[s : t + 1].sum()),
                    n_negative=int(cal.neg[s : t + 1].sum()),
                    baseline_start=at(int(base.start[s])),
                    baseline_end=at(t - 1),
                    dispersion=phi,
                    severity=_severity(pv, ratio, p),
                )
            )
    return alerts


def episode_id(key: tuple[str, str], granularity: str, metric: str, start: Period) -> str:
    """Stable id of the episode of `key` and `metric` that started at `start`."""
    raw = "\x1f".join((*key, granularity, metric, start.isoformat()))
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]


def merge_episodes(
    alerts: Sequence[Alert],
    merge_gap: int = 1,
    last_periods: Mapping[tuple[str, str], Period] | None = None,
) -> list[Episode]:
    """Merge alerts of one key and metric at most `merge_gap` quiet periods apart.

    Args:
        alerts: Alerts of any keys and metrics.
        merge_gap: Quiet periods an episode may contain.
        last_periods: Each key's last period; an episode ending there is open.

    Returns:
        Episodes ordered by key, metric and start.
    """
    groups: dict[tuple[tuple[str, str], str, str], list[Alert]] = {}
    for a in alerts:
        groups.setdefault((a.key, a.granularity, a.metric), []).append(a)
    episodes: list[Episode] = []
    for (key, granularity, metric), group in sorted(groups.items()):
        group.sort(key=lambda a: _period_index(a.period_start, a.granularity))
        runs: list[list[Alert]] = []
        last_i: int | None = None
        for a in group:
            i = _period_index(a.period_start, granularity)  # type: ignore[arg-type]
            if last_i is None or i - last_i > merge_gap + 1:
                runs.append([])
            runs[-1].append(a)
            last_i = i
        last = (last_periods or {}).get(key)
        for run in runs:
            peak = min(run, key=lambda a: a.p_value)
            episodes.append(
                Episode(
                    episode_id=episode_id(key, granularity, metric, run[0].period_start),
                    key=key,
                    granularity=granularity,  # type: ignore[arg-type]
                    metric=metric,
                    start=run[0].period_start,
                    end=run[-1].period_start,
                    peak=peak,
                    severity=max((a.severity for a in run), key=SEVERITIES.index),
                    alerts=tuple(run),
                    is_open=last is not None and run[-1].period_start == last,
                )
            )
    return episodes


def detect_episodes(
    series: Iterable[Series], params: DetectorParams | None = None
) -> list[Episode]:
    """Alerts of every series (spikes v2), merged into episodes; see `detect_alerts`."""
    alerts: list[Alert] = []
    last: dict[tuple[str, str], Period] = {}
    gaps: dict[str, int] = {}
    for s in series:
        p = params or (DetectorParams.hourly() if s.granularity == "hour" else DetectorParams())
        alerts.extend(detect_alerts(s, p))
        gaps[s.granularity] = p.merge_gap
        if s.points:
            last[s.key] = max(pt[0] for pt in s.points)  # type: ignore[type-var]
    episodes = []
    for granularity, gap in gaps.items():
        episodes += merge_episodes([a for a in alerts if a.granularity == granularity], gap, last)
    return episodes
