"""Satisfaction arithmetic (满意度测评): NPS and CSAT with confidence intervals, the
minimum-sample guard, whether a period differs from the one before, period buckets and key
drivers. Pure Python on counts, shared by the warehouse's read functions, ``voc stats`` and
the 客户 page (it sits in ``voc/`` because the dashboard and the CLI may not import
``signals/``).

Method (all intervals two-sided, normal approximation unless said otherwise):

- **NPS** = %promoters (9–10) − %detractors (0–6), in points from −100 to 100. Each answer
  is a draw of +1 / 0 / −1 (multinomial), so with shares p+ and p− the variance of the mean
  is ``(p+ + p− − (p+ − p−)²) / n``; the interval is NPS ± z·√var.
- **CSAT** = % of answers 4–5 on the 1–5 scale, in percent. Its interval is Wilson's score
  interval (good near 0 % and 100 % and for small n, where the Wald interval is not).
- **Minimum n**: below ``min_n`` answers (default 30) a score is "样本不足" (insufficient
  sample), not a number: an NPS from 6 answers swings by ±60 points.
- **Period difference**: two-sample z test on the difference of the two periods' values,
  ``z = (v1 − v0) / √(se1² + se0²)`` with each period's own (unpooled) standard error (the
  multinomial one for NPS, ``√(p(1 − p)/n)`` for CSAT), two-sided p-value; only tested when
  both periods have enough answers.
- **Key drivers**: for each theme / aspect / category mentioned in a respondent's open
  answers, the NPS (and CSAT) of the respondents who mention it against those who do not,
  the difference with its interval (as above), the share of all detractors who mention it,
  and its **impact**: ``n_mention / n × (NPS_other − NPS_mention)``, the NPS points the whole
  sample loses to it (what the score would gain if those respondents scored like the
  others). Drivers are ranked by impact, those with too few mentions last.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

#: Default minimum answers before a score is shown as a number.
MIN_N = 30
#: What a score with too few answers shows instead of a number.
INSUFFICIENT = "样本不足"
#: z of a two-sided 95 % interval.
Z95 = 1.959963984540054

Metric = Literal["nps", "csat"]
Granularity = Literal["week", "month", "quarter"]
GRANULARITIES: tuple[Granularity, ...] = ("week", "month", "quarter")


@dataclass(frozen=True, slots=True)
class Score:
    """An NPS (points, −100…100) or CSAT (percent, 0…100) over `n` answers.

    Attributes:
        metric: ``nps`` or ``csat``.
        n: Answers counted.
        value: The score; None when there are no answers.
        low: Lower end of the interval (None without answers).
        high: Upper end.
        se: Standard error in the score's unit (for comparisons).
        enough: ``n >= min_n``: show the number; else show `INSUFFICIENT`.
    """

    metric: Metric
    n: int
    value: float | None
    low: float | None
    high: float | None
    se: float | None
    enough: bool

    def display(self, digits: int = 1) -> str:
        """The value as text, or "样本不足" when there are too few answers."""
        if not self.enough or self.value is None:
            return INSUFFICIENT
        suffix = "%" if self.metric == "csat" else ""
        return f"{self.value:.{digits}f}{suffix}"


@dataclass(frozen=True, slots=True)
class Comparison:
    """The difference of two scores (``current − other``) and its two-sample z test."""

    difference: float
    low: float
    high: float
    z: float
    p_value: float

    def significant(self, alpha: float = 0.05) -> bool:
        """Whether the difference is significant at `alpha` (two-sided)."""
        return self.p_value < alpha


def nps_score(promoters: int, passives: int, detractors: int, min_n: int = MIN_N) -> Score:
    """NPS from counts of promoters (9–10), passives (7–8) and detractors (0–6).

    Raises:
        ValueError: a negative count.
    """
    if min(promoters, passives, detractors) < 0:
        raise ValueError("counts must not be negative")
    n = promoters + passives + detractors
    if n == 0:
        return Score("nps", 0, None, None, None, None, False)
    p_plus, p_minus = promoters / n, detractors / n
    nps = p_plus - p_minus
    var = max(p_plus + p_minus - nps * nps, 0.0) / n
    se = math.sqrt(var) * 100
    value = nps * 100
    return Score("nps", n, value, value - Z95 * se, value + Z95 * se, se, n >= min_n)


def csat_score(satisfied: int, n: int, min_n: int = MIN_N) -> Score:
    """CSAT: `satisfied` answers of 4–5 out of `n` answers, with Wilson's interval.

    Raises:
        ValueError: counts out of order.
    """
    if satisfied < 0 or satisfied > n:
        raise ValueError("need 0 <= satisfied <= n")
    if n == 0:
        return Score("csat", 0, None, None, None, None, False)
    p = satisfied / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    se = math.sqrt(p * (1 - p) / n) * 100
    return Score("csat", n, p * 100, (centre - half) * 100, (centre + half) * 100, se, n >= min_n)


def nps_of(scores: Iterable[int]) -> tuple[int, int, int]:
    """(promoters, passives, detractors) of 0–10 answers.

    Raises:
        ValueError: an answer outside 0–10.
    """
    counts = [0, 0, 0]
    for s in scores:
        if not 0 <= s <= 10:
            raise ValueError(f"NPS answer {s} is outside 0–10")
        counts[0 if s >= 9 else 1 if s >= 7 else 2] += 1
    return counts[0], counts[1], counts[2]


def compare(current: Score, other: Score) -> Comparison | None:
    """Two-sample z test of ``current − other`` (same metric); None unless both have
    enough answers."""
    if current.metric != other.metric:
        raise ValueError("cannot compare an NPS with a CSAT")
    if not (current.enough and other.enough) or current.value is None or other.value is None:
        return None
    diff = current.value - other.value
    se = math.sqrt((current.se or 0.0) ** 2 + (other.se or 0.0) ** 2)
    if se == 0:
        z = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        p = 1.0 if diff == 0 else 0.0
    else:
        z = diff / se
        p = math.erfc(abs(z) / math.sqrt(2))
    return Comparison(diff, diff - Z95 * se, diff + Z95 * se, z, p)


def period_start(day: date, granularity: Granularity) -> date:
    """First day of the week (Monday), month or quarter holding `day`."""
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    if granularity == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    raise ValueError(f"unknown granularity {granularity!r}; one of {', '.join(GRANULARITIES)}")


def period_label(start: date, granularity: Granularity) -> str:
    """``2025-W09`` (ISO week), ``2025-03`` or ``2025-Q1``."""
    if granularity == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if granularity == "month":
        return f"{start:%Y-%m}"
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


@dataclass(frozen=True, slots=True)
class Respondent:
    """One survey response: its scores and what its open answers mention.

    Attributes:
        nps: 0–10 answer or None.
        csat: 1–5 answer or None.
        mentions: (kind, value) pairs: ("theme", id), ("aspect", "物流"), ("category", …).
    """

    response_id: str
    nps: int | None
    csat: int | None
    mentions: frozenset[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Driver:
    """One theme / aspect / category against NPS and CSAT (see the module's method).

    Attributes:
        impact: NPS points the whole sample loses to it (None without two NPS groups).
        detractor_share: Share of all detractors who mention it (None without detractors).
        enough: Both groups have enough NPS answers for the difference to be shown.
    """

    kind: str
    value: str
    n_mention: int
    n_other: int
    nps_mention: Score
    nps_other: Score
    nps_difference: Comparison | None
    csat_mention: Score
    csat_other: Score
    csat_difference: Comparison | None
    detractor_share: float | None
    impact: float | None
    enough: bool


@dataclass(frozen=True, slots=True)
class Tally:
    """Answers of a group: NPS promoters / passives / detractors, CSAT satisfied / answers."""

    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    satisfied: int = 0
    csat_n: int = 0

    def add(self, r: Respondent) -> Tally:
        p, m, d = self.promoters, self.passives, self.detractors
        if r.nps is not None:
            if not 0 <= r.nps <= 10:
                raise ValueError(f"NPS answer {r.nps} is outside 0–10")
            p, m, d = (
                (p + 1, m, d) if r.nps >= 9 else (p, m + 1, d) if r.nps >= 7 else (p, m, d + 1)
            )
        s, n = self.satisfied, self.csat_n
        if r.csat is not None:
            s, n = s + (r.csat >= 4), n + 1
        return Tally(p, m, d, s, n)

    def minus(self, o: Tally) -> Tally:
        return Tally(
            self.promoters - o.promoters,
            self.passives - o.passives,
            self.detractors - o.detractors,
            self.satisfied - o.satisfied,
            self.csat_n - o.csat_n,
        )

    def scores(self, min_n: int) -> tuple[Score, Score]:
        return (
            nps_score(self.promoters, self.passives, self.detractors, min_n),
            csat_score(self.satisfied, self.csat_n, min_n),
        )


def _difference(a: Score, b: Score) -> Comparison | None:
    # A driver's groups always show their difference once both have answers; `enough`
    # says whether to trust it (the guard applies to the ranking, not the arithmetic).
    return compare(
        Score(a.metric, a.n, a.value, a.low, a.high, a.se, a.n > 0),
        Score(b.metric, b.n, b.value, b.low, b.high, b.se, b.n > 0),
    )


#: On a tie (the same respondents), a theme is named before an aspect, then a category.
_KIND_ORDER = {"theme": 0, "aspect": 1, "category": 2}


def key_drivers(
    respondents: Iterable[Respondent], min_n: int = MIN_N, min_mentions: int = 1
) -> list[Driver]:
    """Every mentioned (kind, value) as a `Driver`, ranked (see `drivers_from_tallies`).

    Args:
        respondents: The responses in scope (each once).
        min_n: Answers both groups need for `Driver.enough`.
        min_mentions: Leave out what fewer respondents mention.
    """
    total, n_respondents = Tally(), 0
    by_key: dict[tuple[str, str], tuple[Tally, int]] = {}
    for r in respondents:
        total, n_respondents = total.add(r), n_respondents + 1
        for key in r.mentions:
            tally, n = by_key.get(key, (Tally(), 0))
            by_key[key] = (tally.add(r), n + 1)
    return drivers_from_tallies(total, n_respondents, by_key, min_n, min_mentions)


def drivers_from_tallies(
    total: Tally,
    n_respondents: int,
    by_key: Mapping[tuple[str, str], tuple[Tally, int]],
    min_n: int = MIN_N,
    min_mentions: int = 1,
) -> list[Driver]:
    """Drivers from counts: everyone's `Tally` and, per (kind, value), the tally and number
    of the respondents who mention it (the others are the difference). Ranked: enough
    answers first, then by impact (largest NPS cost first), then by mentions."""
    n_nps = total.promoters + total.passives + total.detractors
    drivers = []
    for (kind, value), (mention, n_mention) in by_key.items():
        if n_mention < min_mentions:
            continue
        nps_m, csat_m = mention.scores(min_n)
        nps_o, csat_o = total.minus(mention).scores(min_n)
        impact = None
        if nps_m.value is not None and nps_o.value is not None:
            impact = nps_m.n / n_nps * (nps_o.value - nps_m.value)
        drivers.append(
            Driver(
                kind=kind,
                value=value,
                n_mention=n_mention,
                n_other=n_respondents - n_mention,
                nps_mention=nps_m,
                nps_other=nps_o,
                nps_difference=_difference(nps_m, nps_o),
                csat_mention=csat_m,
                csat_other=csat_o,
                csat_difference=_difference(csat_m, csat_o),
                detractor_share=(
                    mention.detractors / total.detractors if total.detractors else None
                ),
                impact=impact,
                enough=nps_m.enough and nps_o.enough,
            )
        )
    drivers.sort(
        key=lambda d: (
            not d.enough,
            -(d.impact if d.impact is not None else -math.inf),
            -d.n_mention,
            _KIND_ORDER.get(d.kind, len(_KIND_ORDER)),
            d.kind,
            d.value,
        )
    )
    return drivers


def driver_dict(d: Driver, labels: Mapping[tuple[str, str], str] | None = None) -> dict:
    """JSON-ready form of a driver (scores rounded to 0.1 point)."""

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 1)

    diff = d.nps_difference
    return {
        "kind": d.kind,
        "value": d.value,
        "label": (labels or {}).get((d.kind, d.value), d.value),
        "n_mention": d.n_mention,
        "n_other": d.n_other,
        "nps_mention": r(d.nps_mention.value),
        "nps_other": r(d.nps_other.value),
        "nps_difference": r(diff.difference) if diff else None,
        "nps_difference_low": r(diff.low) if diff else None,
        "nps_difference_high": r(diff.high) if diff else None,
        "p_value": diff.p_value if diff else None,
        "detractor_share": None if d.detractor_share is None else round(d.detractor_share, 4),
        "impact": r(d.impact),
        "enough": d.enough,
    }
