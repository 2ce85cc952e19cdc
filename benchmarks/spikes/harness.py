"""Background series, injected spikes, three detectors and their scores.

Backgrounds
    demo    The demo corpus's three sources (`demo.data.build_corpus`), daily documents and
            negative documents with the planted event's posts removed.
    shared  Synthetic series whose labels are drawn from the labelled corpora in
            /work/shared/data (one series per product category of online_shopping_9_cats,
            waimai_10k, and the Weibo emotion sets with angry/sad/fear/disgust as negative):
            daily volumes follow one of the demo sources' weekday patterns with gamma-Poisson
            (overdispersed) noise and a slow trend; hourly series also follow the demo's
            hour-of-day profile. Skipped when the folder is absent.

Spikes of `size` × the background's expected negative count are added for `duration`
periods (extra negative documents: volume and share both rise). One spike per run; each
detector sees the same runs. A detector's alerted periods (either metric) are merged into
incidents (daily: a quiet day may sit inside one; hourly: three quiet hours); an incident
overlapping the spike is a true one, any other a false alert.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from benchmarks.spikes.shesd import shesd_flags
from benchmarks.spikes.v1 import DayCount, detect_spikes
from signals.spikes import Series, detect_alerts

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
DAY0 = date(2025, 6, 2)  # a Monday
_NEGATIVE_EMOTIONS = {"angry", "sad", "fear", "anger", "sadness", "disgust"}


@dataclass(frozen=True)
class Background:
    """A spike-free series and its true expected negatives per period."""

    name: str
    origin: str  # "demo" or "shared"
    granularity: str  # "day" or "hour"
    start: date
    docs: np.ndarray
    neg: np.ndarray
    expected_neg: np.ndarray


@dataclass(frozen=True)
class Trial:
    """One spike injected into one background."""

    background: Background
    start: int
    duration: int
    size: float


@dataclass
class Score:
    """What one detector achieved on a set of trials."""

    runs: int = 0
    detected: int = 0
    true_incidents: int = 0
    false_incidents: int = 0
    quiet_periods: int = 0
    delays: list[int] = field(default_factory=list)


Detector = Callable[[Background, np.ndarray, np.ndarray], set[int]]


def _calendar(start: date, n: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def demo_backgrounds() -> tuple[list[Background], list[np.ndarray], np.ndarray]:
    """The demo sources as daily backgrounds, their weekday factors and hour-of-day profile."""
    from demo.data import build_corpus, demo_days

    corpus = build_corpus()
    days = demo_days()
    index = {d: i for i, d in enumerate(days)}
    stamps = {
        "demo_shop": [(r.created_at, r.label) for r in corpus.reviews],
        "demo_weibo": [(p.created_at, p.label) for p in corpus.posts if not p.planted],
        "demo_helpdesk": [(t.created_at, t.label) for t in corpus.tickets],
    }
    backgrounds, patterns = [], []
    hours = np.zeros(24)
    for name, rows in stamps.items():
        docs, neg = np.zeros(len(days), dtype=int), np.zeros(len(days), dtype=int)
        for stamp, label in rows:
            i = index.get(stamp.date())
            if i is not None:
                docs[i] += 1
                neg[i] += label == "negative"
            hours[stamp.hour] += 1
        weekday = np.array([d.weekday() for d in days])
        by_day = np.array([neg[weekday == w].mean() for w in range(7)])
        docs_by_day = np.array([docs[weekday == w].mean() for w in range(7)])
        patterns.append(docs_by_day / docs_by_day.mean())
        expected = by_day[weekday]
        backgrounds.append(Background(name, "demo", "day", days[0], docs, neg, expected))
    return backgrounds, patterns, hours / hours.sum()


def shared_label_pools(root: Path = SHARED) -> dict[str, np.ndarray]:
    """Negative flags (1 = negative) of each labelled corpus slice; empty when absent."""
    if not root.is_dir():
        return {}
    pools: dict[str, list[int]] = {}
    with open(root / "sentiment" / "online_shopping_9_cats.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            pools.setdefault(f"shop/{row['cat']}", []).append(row["label"] == "0")
    with open(root / "sentiment" / "waimai_10k.csv", encoding="utf-8") as f:
        pools["waimai"] = [row["label"] == "0" for row in csv.DictReader(f)]
    for path in sorted((root / "emotion").glob("weibo_*.csv")):
        with open(path, encoding="utf-8") as f:
            labels = [row["label"] in _NEGATIVE_EMOTIONS for row in csv.DictReader(f)]
        pools.setdefault("weibo_emotion", []).extend(labels)
    return {k: np.array(v, dtype=np.int8) for k, v in pools.items() if len(v) >= 300}


def synthetic_background(
    rng: np.random.Generator,
    name: str,
    labels: np.ndarray,
    *,
    docs_per_day: float,
    weekday: np.ndarray,
    days: int,
    hour_profile: np.ndarray | None = None,
) -> Background:
    """A series with demo-like calendar patterns and labels drawn from a labelled corpus."""
    trend = np.linspace(1.0, rng.uniform(0.8, 1.25), days)
    per_day = 1 if hour_profile is None else 24
    n = days * per_day
    day_of = np.arange(n) // per_day
    mu = docs_per_day * trend[day_of] * weekday[day_of % 7]
    if hour_profile is not None:
        mu = mu * hour_profile[np.arange(n) % 24]
    # Gamma-Poisson: real daily volumes vary more than Poisson (CV of the rate ~0.18).
    docs = rng.poisson(mu * rng.gamma(30.0, 1 / 30.0, size=n))
    neg = np.array([labels[rng.integers(0, len(labels), size=k)].sum() for k in docs])
    granularity = "day" if hour_profile is None else "hour"
    return Background(name, "shared", granularity, DAY0, docs, neg, mu * labels.mean())


def inject(trial: Trial) -> tuple[np.ndarray, np.ndarray]:
    """The background's docs and negatives with the trial's extra negative documents."""
    bg = trial.background
    docs, neg = bg.docs.copy(), bg.neg.copy()
    window = slice(trial.start, trial.start + trial.duration)
    extra = np.round((trial.size - 1) * bg.expected_neg[window]).astype(int)
    docs[window] += extra
    neg[window] += extra
    return docs, neg


def _periods(bg: Background) -> list[date] | list[datetime]:
    if bg.granularity == "day":
        return _calendar(bg.start, len(bg.docs))
    start = datetime.combine(bg.start, datetime.min.time())
    return [start + timedelta(hours=i) for i in range(len(bg.docs))]


def detect_v2(bg: Background, docs: np.ndarray, neg: np.ndarray) -> set[int]:
    """Alerted periods of spikes v2 (signals.spikes.detect_alerts, default parameters)."""
    periods = _periods(bg)
    points = [(p, int(d), int(k)) for p, d, k in zip(periods, docs, neg, strict=True)]
    index = {p: i for i, p in enumerate(periods)}
    series = Series(("bench", bg.name), bg.granularity, points)  # type: ignore[arg-type]
    return {index[a.period_start] for a in detect_alerts(series)}


def detect_v1(bg: Background, docs: np.ndarray, neg: np.ndarray) -> set[int]:
    """Alerted periods of spikes v1 (hourly series are fed to it as if each hour were a day)."""
    days = _calendar(bg.start, len(docs))
    counts = [DayCount(bg.name, d, int(n), int(k)) for d, n, k in zip(days, docs, neg, strict=True)]
    first = days[0].toordinal()
    return {s.day.toordinal() - first for s in detect_spikes(counts)}


def detect_shesd(bg: Background, docs: np.ndarray, neg: np.ndarray) -> set[int]:
    """Alerted periods of online S-H-ESD on the negative counts (4-week / 7-day window)."""
    period, window = (7, 28) if bg.granularity == "day" else (24, 7 * 24)
    return set(np.flatnonzero(shesd_flags(neg, period, window)).tolist())


DETECTORS: dict[str, Detector] = {"v2": detect_v2, "v1": detect_v1, "S-H-ESD": detect_shesd}


def incidents(alerted: set[int], gap: int) -> list[tuple[int, int]]:
    """Alerted periods merged into (first, last) runs with at most `gap` quiet periods inside."""
    runs: list[list[int]] = []
    for i in sorted(alerted):
        if runs and i - runs[-1][1] <= gap + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return [(a, b) for a, b in runs]


def score_trial(trial: Trial, alerted: set[int], warmup: int, gap: int, score: Score) -> None:
    """Add one trial's outcome to `score`."""
    lo, hi = trial.start, trial.start + trial.duration - 1
    hits = sorted(i for i in alerted if lo <= i <= hi)
    score.runs += 1
    if hits:
        score.detected += 1
        score.delays.append(hits[0] - lo)
    for a, b in incidents({i for i in alerted if i >= warmup}, gap):
        if b >= lo and a <= hi:
            score.true_incidents += 1
        else:
            score.false_incidents += 1
    score.quiet_periods += len(trial.background.docs) - warmup - trial.duration


def trials(
    rng: np.random.Generator,
    backgrounds: list[Background],
    sizes: tuple[float, ...],
    durations: tuple[int, ...],
    per_combo: int,
    earliest: int,
) -> Iterator[Trial]:
    """`per_combo` spikes per background, size and duration, at random periods after `earliest`.

    Hourly spikes start at an hour drawn from the series' activity profile (complaints
    surge when people are awake), on a random day.
    """
    for bg in backgrounds:
        per_day = 24 if bg.granularity == "hour" else 1
        for size in sizes:
            for duration in durations:
                for _ in range(per_combo):
                    last = len(bg.docs) - duration
                    if per_day == 1:
                        start = int(rng.integers(earliest, last + 1))
                    else:
                        profile = bg.expected_neg[:24] / bg.expected_neg[:24].sum()
                        day = int(rng.integers(earliest // 24, last // 24))
                        start = min(day * 24 + int(rng.choice(24, p=profile)), last)
                    yield Trial(bg, start, duration, size)
