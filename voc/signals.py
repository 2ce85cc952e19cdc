"""Records of the signals over many documents: the count series spikes are detected on,
alerts and episodes, what explains them, and tracked themes. Shared by the detectors
(`signals/`) and the warehouse that stores them, so neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Granularity = Literal["day", "hour"]
Period = date | datetime
#: A theme centre: term → weight (L2-normalised).
Vector = dict[str, float]


#: Series keyed by a customer segment: ("segment", "高价值"), and a segment crossed with a
#: category or aspect: ("segment_category", "高价值 · 物流"), ("segment_aspect", ...).
SEGMENT_KINDS = ("segment", "segment_category", "segment_aspect")
SEGMENT_SEP = " · "


def segment_key(kind: str, segment: str, other: str | None = None) -> tuple[str, str]:
    """The series key of a segment, or of a segment crossed with a category or aspect."""
    return (kind, segment if other is None else f"{segment}{SEGMENT_SEP}{other}")


def split_segment_key(key: tuple[str, str]) -> tuple[str, str | None] | None:
    """(segment, category or aspect or None) of a segment key; None for other keys."""
    kind, value = key
    if kind not in SEGMENT_KINDS:
        return None
    if kind == "segment":
        return value, None
    segment, _, other = value.partition(SEGMENT_SEP)
    return segment, other


@dataclass(frozen=True, slots=True)
class Series:
    """Documents and negative documents of one key over time.

    Attributes:
        key: What the series counts, as (kind, value): ("source", "demo_weibo"),
            ("product", "10023"), ("category", "物流"), ("theme", "t3"), ("segment",
            "高价值"), ("segment_category", "高价值 · 物流") (`segment_key`)...
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
class ExplainDoc:
    """One document of a spike or baseline window.

    Attributes:
        doc_id: The document id.
        text: Its (normalised) text.
        theme: Its theme label, if it has one.
        categories: Taxonomy categories.
        aspects: (aspect, polarity) pairs.
        tokens: Segmented words; empty to use character n-grams of `text`.
        group_id: Near-duplicate group id (None: a group of its own).
        group_size: Documents in that group (reposts and copies included).
    """

    doc_id: str
    text: str
    theme: str | None = None
    categories: tuple[str, ...] = ()
    aspects: tuple[tuple[str, str], ...] = ()
    tokens: tuple[str, ...] = ()
    group_id: str | None = None
    group_size: int = 1


@dataclass(frozen=True, slots=True)
class Driver:
    """A feature that grew in the spike window.

    Attributes:
        kind: "theme", "category", "aspect" or "phrase".
        value: The theme label, category, "aspect|polarity" or phrase.
        spike_docs, baseline_docs: Documents carrying it in each window.
        spike_share, baseline_share: Those as shares of each window's documents.
        z: Log-odds ratio over its standard deviation (informative Dirichlet prior).
    """

    kind: str
    value: str
    spike_docs: int
    baseline_docs: int
    spike_share: float
    baseline_share: float
    z: float


@dataclass(frozen=True, slots=True)
class Verbatim:
    """A representative document of the spike."""

    doc_id: str
    text: str
    group_id: str
    group_size: int
    typicality: float


@dataclass(frozen=True, slots=True)
class Explanation:
    """What drove a spike, kind by kind, best first, and who said it."""

    themes: tuple[Driver, ...]
    categories: tuple[Driver, ...]
    aspects: tuple[Driver, ...]
    phrases: tuple[Driver, ...]
    verbatims: tuple[Verbatim, ...]
    n_spike: int
    n_baseline: int


@dataclass(frozen=True)
class TrackedTheme:
    """A theme as stored between runs.

    Attributes:
        theme_id: Stable id, given at birth.
        centroid: term → weight (L2-normalised).
        n_members: Documents assigned so far (the weight of the running mean).
        keywords: Top centroid terms.
        born_run_id: Run that created it.
    """

    theme_id: str
    centroid: Vector
    n_members: int
    keywords: tuple[str, ...]
    born_run_id: str


@dataclass(frozen=True)
class ThemeEvent:
    """``born``; ``merged`` (theme_id into other_theme_id); ``split`` (theme_id, new, from
    other_theme_id)."""

    event: str
    theme_id: str
    other_theme_id: str | None
    n_docs: int


@dataclass
class TrackResult:
    """Themes after the run, this run's new assignments (doc → (theme, similarity)),
    the reassignments a merge implies (old theme → new theme) and the events."""

    themes: list[TrackedTheme]
    assignments: dict[str, tuple[str, float]] = field(default_factory=dict)
    merged: dict[str, str] = field(default_factory=dict)
    events: list[ThemeEvent] = field(default_factory=list)
