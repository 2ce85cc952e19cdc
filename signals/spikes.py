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

from signals.baseline import (
    Baseline,
    Calendar,
    DetectorParams,
    fit_baseline,
    lay_out,
    period_at,
    period_index,
)
from signals.pvalues import binom_sf, poisson_sf
from voc.signals import Alert, Episode, Period, Series

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

VOLUME, SHARE = "negative_volume", "negative_share"
SEVERITIES = ("info", "warning", "critical")
_CHI2_1_MEDIAN = 0.45493642311957283  # median of chi-square with one degree of freedom


def _severity(p_value: float, ratio: float, p: DetectorParams) -> str:
    if p_value <= p.critical_p and ratio >= p.critical_ratio:
        return "critical"
    if p_value <= p.warning_p and ratio >= p.warning_ratio:
        return "warning"
    return "info"


_Finding = tuple[float, int, float, float, float, float]  # p, window start, obs, exp, z, φ


def _volume_p(cal: Calendar, base: Baseline, s: int, t: int) -> tuple[float, float, float]:
    obs = float(cal.neg[s : t + 1].sum())
    exp = float(base.expected[s : t + 1].sum())
    phi = _volume_scale(base, s, t)
    return poisson_sf(obs / phi, exp / phi), obs, exp


def _volume_scale(base: Baseline, s: int, t: int) -> float:
    # Predictive variance / Poisson variance of the window's count: negative-binomial
    # overdispersion (hours independent) plus the baseline's own estimation error.
    mu = base.expected[s : t + 1]
    total = float(mu.sum())
    nb = float(base.dispersion[t]) * float((mu * mu).sum()) / total
    return 1.0 + nb + total * float(base.rel_var[t])


def _judge_volume(
    cal: Calendar, base: Baseline, s: int, t: int, p: DetectorParams
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


def _share_p(cal: Calendar, base: Baseline, s: int, t: int) -> tuple[float, float, float]:
    k = float(cal.neg[s : t + 1].sum())
    n = float(cal.docs[s : t + 1].sum())
    phi = float(base.share_dispersion[t]) + n / float(base.share_n[t])
    return binom_sf(k / phi, n / phi, float(base.share[t])), k, n


def _judge_share(
    cal: Calendar, base: Baseline, s: int, t: int, p: DetectorParams
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


def detect_alerts(
    series: Series, params: DetectorParams | None = None, since: Period | None = None
) -> list[Alert]:
    """Judge every period of one series against its seasonal baseline (spikes v2).

    Args:
        series: The keyed counts.
        params: Thresholds; by default `DetectorParams()` for daily series and
            `DetectorParams.hourly()` for hourly ones.
        since: Judge only this period and later ones: their alerts are exactly those of
            a run over the whole series (a verdict reads only the periods before it), at
            the cost of the periods judged.

    Returns:
        Alerts in time order, volume before share within a period.

    Raises:
        ValueError: A point has more negative than total documents, a negative count, a
            period of the wrong type for the granularity, or a period twice.
    """
    p = params or (DetectorParams.hourly() if series.granularity == "hour" else DetectorParams())
    cal = lay_out(series)
    first = 0 if since is None else max(0, period_index(since, series.granularity) - cal.first)
    # A window ending at `first` reads the baselines of the periods it spans.
    base = fit_baseline(cal, p, first - max(p.windows) + 1)
    per_day = 24 if series.granularity == "hour" else 1
    level = p.alpha / per_day / len(p.windows)
    at = functools.partial(period_at, cal, granularity=series.granularity)
    alerts: list[Alert] = []
    for t in range(max(p.min_history, first), len(cal.neg)):
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
        group.sort(key=lambda a: period_index(a.period_start, a.granularity))
        runs: list[list[Alert]] = []
        last_i: int | None = None
        for a in group:
            i = period_index(a.period_start, granularity)  # type: ignore[arg-type]
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
