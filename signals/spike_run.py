"""Spike detection over the warehouse: every source, product, category, theme, aspect and
customer segment, and segment × category / aspect (daily; social sources also hourly), all
through the same detector and thresholds, each episode explained by what grew against its
baseline, and the per-day alerts the dashboard's trend marks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from signals.explain import Explanation, explain_spike
from signals.spikes import DetectorParams, Episode, detect_episodes
from voc.records import document_id
from warehouse import loaders, themes
from warehouse import spikes as spikes_store
from warehouse.db import warehouse


@dataclass
class SpikeUpdate:
    """What `update_spikes` did: series read, episodes explained."""

    n_series: int
    explained: list[tuple[Episode, Explanation]]


def update_spikes(
    db_path: Path, model_version: str, params: DetectorParams, run_id: str, timezone: str
) -> SpikeUpdate:
    """Detect, explain and store every episode; replace the day alerts."""
    with warehouse(db_path) as con:
        loaders.refresh_daily_source_stats(con, model_version)
        series = spikes_store.daily_series(con, model_version)
        hourly = spikes_store.hourly_series(con, model_version, timezone)
    episodes = detect_episodes(series, params) + detect_episodes(hourly)
    points = {(s.key, s.granularity): s.points for s in series + hourly}
    explained = []
    bases = {}
    with warehouse(db_path) as con:
        stored = spikes_store.stored_explanations(con)
        for ep in episodes:
            basis = episode_basis(ep, points.get((ep.key, ep.granularity), ()), model_version)
            bases[ep.episode_id] = basis
            kept = stored.get(ep.episode_id)
            if kept is not None and kept[0] == basis and not ep.is_open:
                explained.append((ep, kept[1]))
                continue
            peak = ep.peak
            spike = spikes_store.explain_docs(
                con, ep.key, ep.start, ep.end, model_version, timezone
            )
            base = spikes_store.explain_docs(
                con, ep.key, peak.baseline_start, peak.baseline_end, model_version, timezone
            )
            explained.append((ep, explain_spike(spike, base)))
        spikes_store.save_episodes(con, explained, run_id, bases)
        labels = themes.live_theme_keywords(con)
        loaders.replace_spike_alerts(con, day_alerts(explained, labels, params), run_id)
    return SpikeUpdate(len(series) + len(hourly), explained)


def episode_basis(ep: Episode, points: Iterable[tuple], model_version: str) -> str:
    """What an episode's explanation depends on: the episode (period, peak, alerts), the
    model, and its series' counts from the peak's baseline start to the episode's end. A
    closed episode with the same basis in a later run keeps its stored explanation (it reads
    the same documents); an open one, whose days may still grow, is always explained again.
    """
    first = min(ep.peak.baseline_start, ep.start)
    window = sorted(p for p in points if first <= p[0] <= ep.end)
    text = repr((ep.episode_id, ep.start, ep.end, ep.peak, ep.alerts, model_version, window))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def day_alerts(
    explained: list[tuple[Episode, Explanation]],
    labels: dict[str, tuple[str, list[str]]],
    params: DetectorParams,
) -> list[dict]:
    """The per-day rows of `spike_alerts` (what the dashboard's trend marks): each alerted
    day of a daily source episode, named by the theme that grew most.

    Args:
        explained: Episodes with their explanations.
        labels: Live theme label → (theme id, keywords).
        params: The detector's parameters (its baseline length is recorded).
    """
    rows = []
    for ep, explanation in explained:
        if ep.key[0] != "source" or ep.granularity != "day":
            continue
        driver = explanation.themes[0] if explanation.themes else None
        theme_id, keywords = labels.get(driver.value, (None, [])) if driver else (None, [])
        for alert in ep.alerts:
            rows.append(
                {
                    "alert_id": document_id(ep.key[1], f"{alert.period_start}|{ep.metric}"),
                    "source": ep.key[1],
                    "local_day": alert.period_start,
                    "metric": ep.metric,
                    "observed": alert.observed,
                    "expected": alert.expected,
                    "ratio": alert.ratio,
                    "z_score": alert.statistic,
                    "baseline_days": params.level_periods,
                    "theme_id": theme_id,
                    "theme_label": driver.value if driver else None,
                    "theme_keywords": keywords or None,
                    "theme_doc_count": driver.spike_docs if driver else None,
                }
            )
    return rows
