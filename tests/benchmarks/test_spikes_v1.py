"""Spikes v1, the spike benchmark's baseline (`benchmarks.spikes.v1`)."""

from datetime import date, timedelta

from benchmarks.spikes.v1 import DayCount, SpikeParams, detect_spikes

START = date(2025, 6, 1)


def _series(neg: list[int], docs: int = 60, source: str = "s") -> list[DayCount]:
    return [DayCount(source, START + timedelta(days=i), docs + n, n) for i, n in enumerate(neg)]


def test_a_five_fold_day_is_alerted_with_observed_and_expected() -> None:
    neg = [10, 12, 9, 11, 10, 13, 8, 10, 11, 12] * 4
    neg[35] = 55
    spikes = detect_spikes(_series(neg))
    volume = [s for s in spikes if s.metric == "negative_volume"]
    assert [s.day for s in volume] == [START + timedelta(days=35)]
    assert volume[0].observed == 55
    assert 9 <= volume[0].expected <= 12
    assert {s.day for s in spikes} == {START + timedelta(days=35)}


def test_ordinary_noise_and_small_counts_raise_nothing() -> None:
    assert detect_spikes(_series([10, 12, 9, 11, 10, 13, 8, 14, 11, 12] * 6)) == []
    # 0 → 5 is a big ratio but too few documents to matter.
    assert detect_spikes(_series([0, 1, 0, 0, 1, 0, 0, 0, 1, 0] * 3 + [5], docs=5)) == []


def test_days_before_enough_history_are_not_judged() -> None:
    assert detect_spikes(_series([10, 10, 60]), SpikeParams(min_history=7)) == []
