"""S-H-ESD (seasonal hybrid ESD, Twitter's AnomalyDetection) as a reference spike detector.

Per Hochenbaum, Vallis & Kejariwal (2017) and Twitter's R package: the window's seasonal
component (STL with a periodic seasonal) and its median are removed, then the generalised
ESD test is run on the residuals with the median and MAD in place of the mean and sd,
one-sided (positive anomalies), `max_anoms` = 10 % of the window, alpha = 0.05.

Run online the way the package's `only_last` mode is used for monitoring: each period is
judged in a trailing window of `window` periods plus itself, and alerted when the test marks
that last point. The STL here is approximated by a centred moving average for the trend and
per-phase medians of the detrended values for the seasonal component (STL's periodic
seasonal smoother reduces to a per-phase average; the median is its robust form).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import stats


@functools.lru_cache(maxsize=100_000)
def _critical(n: int, i: int, alpha: float) -> float:
    p = 1 - alpha / (n - i + 1)
    t = float(stats.t.ppf(p, n - i - 1))
    return t * (n - i) / np.sqrt((n - i - 1 + t * t) * (n - i + 1))


def _seasonal(x: np.ndarray, period: int) -> np.ndarray:
    kernel = np.ones(period) / period
    pad = period // 2
    padded = np.concatenate([np.full(pad, x[:period].mean()), x, np.full(pad, x[-period:].mean())])
    trend = np.convolve(padded, kernel, mode="valid")[: len(x)]
    cycles = -(-len(x) // period)
    table = np.full(cycles * period, np.nan)
    table[: len(x)] = x - trend
    medians = np.nanmedian(table.reshape(cycles, period), axis=0)
    return np.resize(medians - medians.mean(), len(x))


def last_is_anomaly(
    x: np.ndarray, period: int, alpha: float = 0.05, max_anoms: float = 0.1
) -> bool:
    """Whether S-H-ESD marks the last point of `x` as a positive anomaly.

    ESD removes points in descending order of residual (re-centring on the median shifts
    every residual alike), so the last point is an anomaly iff it is among the first
    `max_anoms` × n removed, at step j, and some step i ≥ j has R_i > λ_i.
    """
    n = len(x)
    k = max(1, int(n * max_anoms))
    resid = x - _seasonal(x, period) - np.median(x)
    order = np.argsort(-resid, kind="stable")
    j = int(np.flatnonzero(order == n - 1)[0]) + 1
    if j > k:
        return False
    for i in range(1, k + 1):
        rest = resid[order[i - 1 :]]
        centre = np.median(rest)
        sigma = 1.4826 * np.median(np.abs(rest - centre))
        if sigma == 0:
            return False
        if i >= j and (rest[0] - centre) / sigma > _critical(n, i, alpha):
            return True
    return False


def shesd_flags(values: np.ndarray, period: int, window: int) -> np.ndarray:
    """Online S-H-ESD over a series: flag[t] when period t is anomalous in its trailing window."""
    flags = np.zeros(len(values), dtype=bool)
    for t in range(window, len(values)):
        flags[t] = last_is_anomaly(values[t - window : t + 1].astype(float), period)
    return flags
