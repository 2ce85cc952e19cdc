"""NPS / CSAT arithmetic and intervals against hand-computed values, the minimum-n guard,
the period-difference test, period buckets and key drivers on a small planted set
(`voc.satisfaction`)."""

from __future__ import annotations

from datetime import date

import pytest

from voc.satisfaction import (
    INSUFFICIENT,
    Respondent,
    compare,
    csat_score,
    driver_dict,
    key_drivers,
    nps_of,
    nps_score,
    period_label,
    period_start,
)


def test_nps_and_its_multinomial_interval_by_hand() -> None:
    # 50 promoters, 30 passives, 20 detractors: NPS = 50 % − 20 % = 30.
    # var = (0.5 + 0.2 − 0.3²) / 100 = 0.0061, se = 0.078102 → 7.8102 points.
    s = nps_score(50, 30, 20)
    assert s.n == 100 and s.value == pytest.approx(30.0)
    assert s.se == pytest.approx(7.8102, abs=1e-4)
    assert s.low == pytest.approx(30 - 1.959964 * 7.8102, abs=1e-3)  # 14.692
    assert s.high == pytest.approx(45.308, abs=1e-3)
    assert s.enough and s.display() == "30.0"


def test_nps_extremes_have_zero_width() -> None:
    s = nps_score(40, 0, 0)
    assert s.value == 100.0 and s.se == 0.0 and s.low == s.high == 100.0
    assert nps_score(0, 0, 0).value is None


def test_csat_wilson_interval_by_hand() -> None:
    # 40 of 50 satisfied: Wilson 95 % = (0.6696, 0.8876), not the Wald 0.8 ± 0.111.
    s = csat_score(40, 50)
    assert s.value == pytest.approx(80.0)
    assert s.low == pytest.approx(66.96, abs=0.01)
    assert s.high == pytest.approx(88.76, abs=0.01)
    assert s.display() == "80.0%"
    # All satisfied: the Wilson interval still has width (the Wald one would not).
    full = csat_score(30, 30)
    assert full.high == pytest.approx(100.0) and full.low == pytest.approx(88.65, abs=0.01)


def test_minimum_n_guard_shows_insufficient_sample() -> None:
    few = nps_score(3, 1, 2)  # 6 answers
    assert few.value == pytest.approx(16.667, abs=1e-3)
    assert not few.enough and few.display() == INSUFFICIENT == "样本不足"
    assert nps_score(3, 1, 2, min_n=5).enough
    assert not csat_score(20, 29).enough and csat_score(20, 30).enough


def test_counts_from_answers_and_bad_answers() -> None:
    assert nps_of([10, 9, 8, 7, 6, 0]) == (2, 2, 2)
    with pytest.raises(ValueError, match="outside 0–10"):
        nps_of([11])
    with pytest.raises(ValueError):
        csat_score(5, 4)


def test_period_difference_two_sample_z_by_hand() -> None:
    now, before = nps_score(30, 30, 40), nps_score(50, 30, 20)  # −10 vs 30
    c = compare(now, before)
    assert c is not None
    # se² = 69 + 61 = 130 → se 11.4018; z = −40 / 11.4018 = −3.5082; p = 0.000451.
    assert c.difference == pytest.approx(-40.0)
    assert c.z == pytest.approx(-3.5082, abs=1e-4)
    assert c.p_value == pytest.approx(0.000451, abs=2e-6)
    assert c.low == pytest.approx(-40 - 1.959964 * 11.4018, abs=1e-3)
    assert c.significant()
    same = compare(nps_score(50, 30, 20), nps_score(50, 30, 20))
    assert same is not None and same.p_value == pytest.approx(1.0) and not same.significant()
    # Not tested when a period has too few answers.
    assert compare(nps_score(3, 1, 2), before) is None
    with pytest.raises(ValueError):
        compare(now, csat_score(1, 40))


def test_period_buckets() -> None:
    day = date(2025, 3, 5)  # a Wednesday
    assert period_start(day, "week") == date(2025, 3, 3)
    assert period_start(day, "month") == date(2025, 3, 1)
    assert period_start(date(2025, 8, 31), "quarter") == date(2025, 7, 1)
    assert period_label(date(2025, 3, 3), "week") == "2025-W10"
    assert period_label(date(2025, 3, 1), "month") == "2025-03"
    assert period_label(date(2025, 7, 1), "quarter") == "2025-Q3"
    with pytest.raises(ValueError, match="granularity"):
        period_start(day, "year")  # type: ignore[arg-type]


def _planted() -> list[Respondent]:
    """40 respondents mention 物流慢 (10 promoters, 30 detractors: NPS −50), 60 do not
    (40 promoters, 20 passives: NPS 66.7); 20 of the 60 also mention 包装 and score like
    the rest of them."""
    out = []
    for i in range(40):
        out.append(Respondent(f"m{i}", 10 if i < 10 else 3, 4, frozenset({("theme", "物流慢")})))
    for i in range(60):
        mentions = frozenset({("aspect", "包装")}) if i < 20 else frozenset()
        out.append(Respondent(f"o{i}", 9 if i < 40 else 8, 5 if i % 2 else 2, mentions))
    return out


def test_key_drivers_on_a_planted_set() -> None:
    drivers = key_drivers(_planted(), min_n=20)
    top = drivers[0]
    assert (top.kind, top.value) == ("theme", "物流慢")
    assert top.n_mention == 40 and top.n_other == 60
    assert top.nps_mention.value == pytest.approx(-50.0)  # 25 % − 75 %
    assert top.nps_other.value == pytest.approx(200 / 3)  # 66.7 % − 0 %
    diff = top.nps_difference
    assert diff is not None and diff.difference == pytest.approx(-50 - 200 / 3)
    assert diff.high < 0 and diff.significant()
    # Every detractor mentions 物流慢; it costs 40 % × 116.7 = 46.7 NPS points overall.
    assert top.detractor_share == pytest.approx(1.0)
    assert top.impact == pytest.approx(0.4 * (200 / 3 + 50))
    # CSAT: all 40 mentioners gave 4 (100 %); the others half 5, half 2 (50 %).
    assert top.csat_mention.value == pytest.approx(100.0)
    assert top.csat_other.value == pytest.approx(50.0)
    packing = drivers[1]
    assert (packing.kind, packing.value) == ("aspect", "包装")
    assert packing.detractor_share == 0.0 and packing.impact < 0  # its mentioners score higher
    assert packing.enough


def test_drivers_with_few_mentions_rank_last() -> None:
    invoice = frozenset({("category", "发票")})
    people = _planted() + [Respondent(f"x{i}", 0, 1, invoice) for i in range(15)]
    drivers = key_drivers(people, min_n=20)
    # 15 mentions < 20: ranked after 包装 although it costs more points than 包装 does.
    assert [d.value for d in drivers] == ["物流慢", "包装", "发票"]
    assert not drivers[-1].enough and drivers[-1].impact > drivers[1].impact
    assert "发票" not in {d.value for d in key_drivers(people, min_n=20, min_mentions=16)}
    row = driver_dict(drivers[0], {("theme", "物流慢"): "物流太慢"})
    assert row["label"] == "物流太慢"
    assert row["nps_difference"] == pytest.approx(-83.3)  # −50 against 33.3
    assert row["detractor_share"] == pytest.approx(30 / 45, abs=1e-4) and row["enough"]
