"""Spikes v2 (`signals.spikes`): alerts, episodes and the p-values they rest on."""

import math
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from benchmarks.spikes.v1 import DayCount, detect_spikes
from signals.spikes import (
    DetectorParams,
    Series,
    binom_sf,
    detect_alerts,
    detect_episodes,
    episode_id,
    poisson_sf,
)

MONDAY = date(2025, 6, 2)


def _daily(neg: list[int], docs: list[int] | None = None, key=("source", "s")) -> Series:
    docs = docs or [3 * n + 20 for n in neg]
    points = [
        (MONDAY + timedelta(days=i), d, n) for i, (d, n) in enumerate(zip(docs, neg, strict=True))
    ]
    return Series(key, "day", points)


def _poisson_days(rng: np.random.Generator, means: list[float]) -> list[int]:
    return [int(x) for x in rng.poisson(means)]


@pytest.mark.parametrize(
    ("k", "mu"), [(1, 0.5), (5, 1.2), (8, 3.0), (30, 9.6), (60, 20.5), (3, 10.0), (1000, 900)]
)
def test_poisson_tail_matches_scipy(k: int, mu: float) -> None:
    assert math.isclose(poisson_sf(k, mu), stats.poisson.sf(k - 1, mu), rel_tol=1e-9)


@pytest.mark.parametrize(
    ("k", "n", "p"), [(5, 10, 0.3), (30, 50, 0.3), (400, 1000, 0.3), (2, 5, 0.9), (1, 1, 0.2)]
)
def test_binomial_tail_matches_scipy(k: int, n: int, p: float) -> None:
    assert math.isclose(binom_sf(k, n, p), stats.binom.sf(k - 1, n, p), rel_tol=1e-9)


def test_tails_at_the_edges() -> None:
    assert poisson_sf(0, 3.0) == 1.0 and poisson_sf(2, 0.0) == 0.0
    assert binom_sf(11, 10, 0.5) == 0.0 and binom_sf(0, 10, 0.5) == 1.0
    assert poisson_sf(200, 20.0) < 1e-100  # deep tails stay positive and tiny, not 0 or 1


def test_small_count_spike_is_found_on_its_day_with_its_numbers() -> None:
    rng = np.random.default_rng(1)
    neg = _poisson_days(rng, [3.0] * 60)
    neg[45] = 16
    alerts = detect_alerts(_daily(neg))
    volume = [a for a in alerts if a.metric == "negative_volume"]
    assert [a.period_start for a in volume] == [MONDAY + timedelta(days=45)]
    a = volume[0]
    assert a.observed == 16 and 2.0 <= a.expected <= 4.5
    assert a.ratio == pytest.approx(a.observed / a.expected)
    assert a.p_value == pytest.approx(poisson_sf(16 / a.dispersion, a.expected / a.dispersion))
    assert a.p_value < 1e-4 and a.statistic > 4
    assert a.baseline_end == MONDAY + timedelta(days=44)
    assert a.baseline_start == MONDAY + timedelta(days=45 - 28)
    assert {x.period_start for x in alerts} == {a.period_start}


def test_a_few_documents_are_not_a_spike_however_large_the_ratio() -> None:
    neg = [0, 0, 1, 0, 0, 0, 0] * 8 + [4]
    assert detect_alerts(_daily(neg, docs=[10] * len(neg))) == []


@pytest.mark.parametrize("weekend", [3.0, 0.25])
def test_weekly_peaks_and_dips_raise_no_alert(weekend: float) -> None:
    rng = np.random.default_rng(5)
    means = [(8.0 * weekend if (i % 7) >= 5 else 8.0) for i in range(120)]
    neg = _poisson_days(rng, means)
    docs = [n + int(x) for n, x in zip(neg, rng.poisson([m * 2 for m in means]), strict=True)]
    assert detect_alerts(_daily(neg, docs)) == []
    if weekend > 1:
        # The same series fools v1, which has no notion of a weekday.
        v1 = [
            DayCount("s", MONDAY + timedelta(days=i), d, n)
            for i, (d, n) in enumerate(zip(docs, neg, strict=False))
        ]
        assert detect_spikes(v1)


def test_a_spike_on_a_busy_weekday_is_judged_against_that_weekday() -> None:
    rng = np.random.default_rng(8)
    means = [(30.0 if (i % 7) == 5 else 8.0) for i in range(84)]
    neg = _poisson_days(rng, means)
    neg[79] = 30  # a Wednesday at a normal Saturday's level: a spike for a Wednesday
    days = {a.period_start for a in detect_alerts(_daily(neg))}
    assert days == {MONDAY + timedelta(days=79)}


def test_share_spike_without_more_negative_documents() -> None:
    neg = [30] * 50
    docs = [100] * 50
    docs[40] = 45  # fewer documents, as many complaints: the share doubles
    alerts = detect_alerts(_daily(neg, docs))
    assert [(a.metric, a.period_start) for a in alerts] == [
        ("negative_share", MONDAY + timedelta(days=40))
    ]
    share = alerts[0]
    assert share.observed == pytest.approx(30 / 45) and share.expected == pytest.approx(
        0.3, abs=0.01
    )
    phi = share.dispersion  # baseline share estimated from 28 × 100 documents: scale > 1
    assert 1 < phi < 1.1
    assert share.p_value == pytest.approx(binom_sf(30 / phi, 45 / phi, share.expected), rel=1e-9)


def test_consecutive_alert_days_are_one_episode_with_an_id_stable_across_reruns() -> None:
    rng = np.random.default_rng(3)
    neg = _poisson_days(rng, [10.0] * 70)
    for day in (50, 51, 52):
        neg[day] = 45
    key = ("theme", "logistics")
    during = detect_episodes([_daily(neg[:52], key=key)])
    after = detect_episodes([_daily(neg, key=key)])
    volume = [e for e in after if e.metric == "negative_volume"]
    assert len(volume) == 1
    ep = volume[0]
    assert (ep.start, ep.end) == (MONDAY + timedelta(days=50), MONDAY + timedelta(days=52))
    assert len(ep.alerts) == 3 and not ep.is_open and ep.severity == "critical"
    assert ep.peak.p_value == min(a.p_value for a in ep.alerts)
    assert ep.episode_id == episode_id(key, "day", "negative_volume", ep.start)
    ongoing = next(e for e in during if e.metric == "negative_volume")
    assert ongoing.is_open and ongoing.episode_id == ep.episode_id
    # Another key's spike on the same day is another episode.
    other = detect_episodes([_daily(neg, key=("source", "x"))])
    assert other[0].episode_id != ep.episode_id


def test_a_one_day_lull_inside_a_spike_does_not_split_the_episode() -> None:
    rng = np.random.default_rng(4)
    neg = _poisson_days(rng, [10.0] * 60)
    neg[50], neg[51], neg[52] = 45, 10, 45
    volume = [e for e in detect_episodes([_daily(neg)]) if e.metric == "negative_volume"]
    assert len(volume) == 1 and len(volume[0].alerts) == 2


def test_severity_grows_with_the_spike() -> None:
    rng = np.random.default_rng(6)
    base = _poisson_days(rng, [20.0] * 50)
    severities = []
    for peak in (50, 60, 100):
        neg = [*base]
        neg[45] = peak
        found = [a for a in detect_alerts(_daily(neg)) if a.metric == "negative_volume"]
        severities.append(found[0].severity)
    assert severities == ["info", "warning", "critical"]


def test_hourly_spike_is_found_within_two_hours_without_false_alerts() -> None:
    rng = np.random.default_rng(2)
    profile = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.2, 2, 2.6, 2.8, 2.8] * 2)
    profile[12:] = [3.2, 2.8, 2.6, 2.6, 2.6, 2.8, 3, 3.4, 3.8, 4, 3.4, 2.2]
    hours = 21 * 24
    means = 4.0 * profile[np.arange(hours) % 24]
    neg = rng.poisson(means)
    start = 18 * 24 + 19  # 19:00 on the 19th day, four hours long
    neg[start : start + 4] += np.round(2.0 * means[start : start + 4]).astype(int)
    docs = neg + rng.poisson(2 * means)
    t0 = datetime(2025, 6, 2, 0, 0)
    points = [
        (t0 + timedelta(hours=i), int(d), int(n))
        for i, (d, n) in enumerate(zip(docs, neg, strict=True))
    ]
    alerts = detect_alerts(Series(("source", "s"), "hour", points))
    hit = {int((a.period_start - t0).total_seconds() // 3600) for a in alerts}
    assert hit and min(hit) - start <= 2
    assert hit <= set(range(start, start + 5))
    assert all(a.granularity == "hour" for a in alerts)
    episodes = detect_episodes([Series(("source", "s"), "hour", points)])
    assert len({e.metric for e in episodes}) == len(episodes)  # one episode per metric


def test_hourly_defaults_spread_alpha_over_the_hours() -> None:
    daily, hourly = DetectorParams(), DetectorParams.hourly()
    assert hourly.windows == (1, 2, 3, 6) and hourly.level_periods == 7 * 24
    assert hourly.alpha == daily.alpha  # per day; detect_alerts divides by 24 per hour


def test_bad_points_are_named_by_key_and_period() -> None:
    bad = Series(("source", "shop"), "day", [(MONDAY, 3, 5)])
    with pytest.raises(ValueError, match=r"'shop'.*2025-06-02.*5 of 3"):
        detect_alerts(bad)
    with pytest.raises(ValueError, match="datetime"):
        detect_alerts(Series(("source", "shop"), "hour", [(MONDAY, 3, 1)]))
    with pytest.raises(ValueError, match="twice"):
        detect_alerts(Series(("source", "shop"), "day", [(MONDAY, 3, 1), (MONDAY, 4, 1)]))
    assert detect_alerts(Series(("source", "empty"), "day", [])) == []
