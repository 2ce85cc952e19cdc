"""Run the spike benchmark and print recall, precision, false alerts and delay per spike size.

    python -m benchmarks.spikes [--quick] [--seed N] [--no-hourly]

Targets (spikes v2): recall ≥ 0.9 for spikes ≥ 3× lasting ≥ 1 day, ≤ 1 false alert per
series per 90 days, median delay ≤ 1 day (≤ 2 hours hourly). v1 and S-H-ESD are run on
the same trials in the same run as baselines.
"""

from __future__ import annotations

import argparse
import os
import time
from statistics import median

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from benchmarks.spikes.harness import (
    DETECTORS,
    Background,
    Score,
    Trial,
    demo_backgrounds,
    incidents,
    score_trial,
    shared_label_pools,
    synthetic_background,
    trials,
)

SIZES = (1.5, 2.0, 3.0, 5.0)
DAY_DURATIONS = (1, 2, 3)
HOUR_DURATIONS = (2, 4, 6)
DAY_DOCS = (15, 30, 60, 120, 240)
HOUR_DOCS = (300, 600, 1200, 2400)


def _p90(values: list[int]) -> float:
    return float(np.percentile(values, 90)) if values else float("nan")


def _cell(s: Score, per_90: float) -> str:
    recall = s.detected / s.runs if s.runs else float("nan")
    alerts = s.true_incidents + s.false_incidents
    precision = s.true_incidents / alerts if alerts else float("nan")
    fa = s.false_incidents / s.quiet_periods * per_90 if s.quiet_periods else float("nan")
    med = median(s.delays) if s.delays else float("nan")
    return f"{recall:5.2f} {precision:5.2f} {fa:5.2f} {med:4.1f} {_p90(s.delays):4.1f}"


def _clean_fa(backgrounds: list[Background], warmup: int, gap: int, per_90: float) -> dict:
    out = {}
    for name, detect in DETECTORS.items():
        false = quiet = 0
        for bg in backgrounds:
            alerted = {i for i in detect(bg, bg.docs, bg.neg) if i >= warmup}
            false += len(incidents(alerted, gap))
            quiet += len(bg.docs) - warmup
        out[name] = false / quiet * per_90
    return out


def run_granularity(
    label: str,
    backgrounds: list[Background],
    durations: tuple[int, ...],
    *,
    per_combo: int,
    warmup: int,
    gap: int,
    rng: np.random.Generator,
) -> dict:
    """Score every detector on the same trials; print the table; return the scores."""
    per_day = 24 if label == "hour" else 1
    per_90 = 90 * per_day
    scores: dict[tuple[str, float, int], Score] = {}
    timing = dict.fromkeys(DETECTORS, 0.0)
    all_trials: list[Trial] = list(
        trials(rng, backgrounds, SIZES, durations, per_combo, warmup + per_day)
    )
    from benchmarks.spikes.harness import inject

    for trial in all_trials:
        docs, neg = inject(trial)
        for name, detect in DETECTORS.items():
            started = time.perf_counter()
            alerted = detect(trial.background, docs, neg)
            timing[name] += time.perf_counter() - started
            key = (name, trial.size, trial.duration)
            score_trial(trial, alerted, warmup, gap, scores.setdefault(key, Score()))
            if trial.background.origin == "demo":
                origin_key = (f"{name}@demo", trial.size, trial.duration)
                score_trial(trial, alerted, warmup, gap, scores.setdefault(origin_key, Score()))
    clean = _clean_fa(backgrounds, warmup, gap, per_90)
    origins = sorted({bg.origin for bg in backgrounds})
    unit, title = ("days", "daily") if label == "day" else ("hours", "hourly")
    print(
        f"\n== {title}: {len(backgrounds)} series ({', '.join(origins)}), "
        f"{per_combo} spikes per series × size × duration, {len(all_trials)} runs; "
        f"delays in {unit}"
    )
    head = " | ".join(f"{n:^28}" for n in DETECTORS)
    print(f"{'size':>4} {'dur':>3} | {head}")
    sub = " | ".join(f"{'rec':>5} {'prec':>5} {'FA90':>5} {'med':>4} {'p90':>4}" for _ in DETECTORS)
    print(f"{'':>8} | {sub}")
    for size in SIZES:
        for duration in durations:
            cells = " | ".join(_cell(scores[(n, size, duration)], per_90) for n in DETECTORS)
            print(f"{size:4.1f} {duration:3d} | {cells}")
    print(
        "false alerts per series per 90 days on the spike-free backgrounds: "
        + ", ".join(f"{n} {v:.2f}" for n, v in clean.items())
    )
    print(
        "seconds per series run: "
        + ", ".join(f"{n} {t / max(len(all_trials), 1):.3f}" for n, t in timing.items())
    )
    return {"scores": scores, "clean": clean, "per_90": per_90}


def _targets(label: str, result: dict, durations: tuple[int, ...], max_delay: float) -> None:
    scores, clean = result["scores"], result["clean"]
    for name in DETECTORS:
        big = [scores[(name, s, d)] for s in SIZES if s >= 3 for d in durations]
        recall = sum(s.detected for s in big) / sum(s.runs for s in big)
        delays = [x for s in big for x in s.delays]
        med = median(delays) if delays else float("inf")
        ok = [recall >= 0.9, clean[name] <= 1.0, med <= max_delay]
        verdict = (
            "all met"
            if all(ok)
            else "NOT met: "
            + ", ".join(
                t
                for t, good in zip(("recall", "false alerts", "delay"), ok, strict=True)
                if not good
            )
        )
        print(
            f"  {label} {name:8}: recall(≥3×) {recall:.3f} [≥0.9], false alerts/90d "
            f"{clean[name]:.2f} [≤1], median delay(≥3×) {med:.1f} [≤{max_delay:g}] → {verdict}"
        )


def main(argv: list[str] | None = None) -> int:
    """Build the backgrounds, run every detector on the same injected spikes, print tables."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spikes", description=__doc__)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="fewer series and trials")
    parser.add_argument("--no-hourly", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    demo, patterns, hour_profile = demo_backgrounds()
    pools = shared_label_pools()
    realizations = 1 if args.quick else 2
    daily = list(demo)
    if not pools:
        print("shared data absent (/work/shared/data): demo series only")
    for r in range(realizations):
        for i, (name, labels) in enumerate(sorted(pools.items())):
            j = i + r * len(pools)
            daily.append(
                synthetic_background(
                    rng,
                    f"{name}#{r}",
                    labels,
                    docs_per_day=DAY_DOCS[j % len(DAY_DOCS)],
                    weekday=patterns[j % len(patterns)],
                    days=120,
                )
            )
    day = run_granularity(
        "day",
        daily,
        DAY_DURATIONS,
        per_combo=2 if args.quick else 3,
        warmup=28,
        gap=1,
        rng=rng,
    )
    hour = None
    if not args.no_hourly:
        # Hourly monitoring is for busy streams; the demo's sources (under one negative
        # document an hour) are too quiet for it, so hourly series borrow their labels from
        # the shared corpora, or from the demo's own mix when those are absent.
        hourly_pools = sorted(pools.items())[:: max(1, len(pools) // 4)][:4] or [
            ("demo_mix", (demo[1].neg.sum() > np.arange(demo[1].docs.sum())).astype(np.int8))
        ]
        hourly = [
            synthetic_background(
                rng,
                f"{name}@hour",
                labels,
                docs_per_day=HOUR_DOCS[i % len(HOUR_DOCS)],
                weekday=patterns[i % len(patterns)],
                days=42,
                hour_profile=hour_profile,
            )
            for i, (name, labels) in enumerate(hourly_pools)
        ]
        hour = run_granularity(
            "hour",
            hourly,
            HOUR_DURATIONS,
            per_combo=1 if args.quick else 2,
            warmup=14 * 24,
            gap=3,
            rng=rng,
        )
    print("\nTargets:")
    _targets("daily ", day, DAY_DURATIONS, 1)
    if hour is not None:
        _targets("hourly", hour, HOUR_DURATIONS, 2)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
