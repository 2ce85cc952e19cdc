"""Exact one-sided tail probabilities of the Poisson and binomial distributions.

Pure Python (no scipy at run time): the regularised incomplete gamma and beta functions by
series and Lentz's continued fraction (Numerical Recipes 6.2, 6.4), computed in log space
so a tail of 1e-300 is as accurate as one of 0.3. They also accept non-integer counts,
which the quasi-Poisson / quasi-binomial scaling of an overdispersed series needs.
"""

from __future__ import annotations

import math


def poisson_sf(k: float, mu: float) -> float:
    """P(X ≥ k) for X ~ Poisson(mu); for non-integer k the regularised gamma P(k, mu).

    Exact for integer k: P(X ≥ k) equals the regularised lower incomplete gamma P(k, mu).
    """
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    return _gamma_p(k, mu)


def binom_sf(k: float, n: float, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p); for non-integer k, n the regularised beta I_p(k, n-k+1)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    return _beta_i(k, n - k + 1, p)


def _gamma_p(a: float, x: float) -> float:
    # Series where it converges fast (and keeps tiny upper tails accurate), else Lentz's
    # continued fraction for the complement (Numerical Recipes 6.2).
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(100_000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return min(1.0, total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return max(0.0, 1.0 - math.exp(log_front) * h)


def _beta_i(a: float, b: float, x: float) -> float:
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return min(1.0, math.exp(log_front) * _beta_cf(a, b, x) / a)
    return max(0.0, 1.0 - math.exp(log_front) * _beta_cf(b, a, 1 - x) / b)


def _beta_cf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (tiny if abs(d) < tiny else d)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1 + aa * d
            d = 1 / (tiny if abs(d) < tiny else d)
            c = 1 + aa / c
            c = tiny if abs(c) < tiny else c
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h
