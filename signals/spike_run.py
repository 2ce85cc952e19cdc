"""Spike detection over the warehouse: every source, product, category, theme, aspect and
customer segment, and segment × category / aspect (daily; social sources also hourly), all
through the same detector and thresholds, each episode explained by what grew against its
baseline, and the per-day alerts the dashboard's trend marks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from signals.baseline import period_index
from signals.explain import Explanation, explain_spike
from signals.spike_delta import Rescore, rescore
from signals.spikes import DetectorParams, Episode, merge_episodes
from voc.records import document_id
from voc.signals import Series
from warehouse import loaders, spike_scores, themes
from warehouse import spikes as spikes_store
from warehouse.db import warehouse
from warehouse.spike_docs import Window, explain_docs_many
from warehouse.spike_scores import JudgedSeries, SeriesId

#: The scoring's own version, part of its fingerprint: bump it when the detector or the
#: series it reads change, and the next run judges every period again.
SCORING_VERSION = "spikes-v2"


@dataclass
class SpikeUpdate:
    """What `update_spikes` did: series read, episodes explained, series judged again
    (their counts changed) and whether every period was judged (`from_scratch`)."""

    n_series: int
    explained: list[tuple[Episode, Explanation]]
    n_rescored: int = 0
    from_scratch: bool = True


def scoring_fingerprint(model_version: str, params: DetectorParams, timezone: str) -> str:
    """What stored verdicts depend on besides the counts: the detector, its daily and
    hourly parameters, the sentiment model and the time zone of the hourly series."""
    text = repr((SCORING_VERSION, model_version, params, DetectorParams.hourly(), timezone))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _series_id(series: Series) -> SeriesId:
    return (series.key[0], series.key[1], series.granularity)


def _episodes(rescored: list[Rescore], params: DetectorParams) -> list[Episode]:
    # As `detect_episodes`: daily then hourly, an episode open when it ends on the last
    # period of its series.
    episodes: list[Episode] = []
    for granularity, p in (("day", params), ("hour", DetectorParams.hourly())):
        part = [r for r in rescored if r.series.granularity == granularity]
        last = {r.series.key: max(pt[0] for pt in r.series.points) for r in part}
        alerts = [a for r in part for a in r.alerts]
        episodes += merge_episodes(alerts, p.merge_gap, last)  # type: ignore[arg-type]
    return episodes


def _judged(r: Rescore) -> JudgedSeries:
    g = r.series.granularity
    cut = period_index(r.since, g)  # type: ignore[arg-type]
    return JudgedSeries(
        _series_id(r.series),
        r.since,  # type: ignore[arg-type]
        [pt for pt in r.series.points if period_index(pt[0], g) >= cut],
        [a for a in r.alerts if period_index(a.period_start, g) >= cut],
    )


def update_spikes(
    db_path: Path,
    model_version: str,
    params: DetectorParams,
    run_id: str,
    timezone: str,
    *,
    full: bool = False,
) -> SpikeUpdate:
    """Detect, explain and store every episode; replace the day alerts.

    Only the periods from each series' first changed count on are judged again
    (`signals.spike_delta`); the alerts are those of judging the whole history. Every
    period is judged when `full` is set or the scoring fingerprint (model, parameters,
    time zone, `SCORING_VERSION`) differs from the stored one.
    """
    fingerprint = scoring_fingerprint(model_version, params, timezone)
    with warehouse(db_path) as con:
        loaders.refresh_daily_source_stats(con, model_version)
        series = spikes_store.daily_series(con, model_version)
        hourly = spikes_store.hourly_series(con, model_version, timezone)
        from_scratch = full or spike_scores.scoring_fingerprint(con) != fingerprint
        judged = {} if from_scratch else spike_scores.scored_counts(con)
        kept = {} if from_scratch else spike_scores.period_alerts(con)
    hourly_params = DetectorParams.hourly()
    rescored = [
        rescore(
            s,
            params if s.granularity == "day" else hourly_params,
            judged.get(_series_id(s), {}),
            kept.get(_series_id(s), ()),
        )
        for s in series + hourly
    ]
    episodes = _episodes(rescored, params)
    points = {(s.key, s.granularity): s.points for s in series + hourly}
    explanations: dict[str, Explanation] = {}
    bases = {}
    with warehouse(db_path) as con:
        stored = spikes_store.stored_explanations(con)
        todo = []
        for ep in episodes:
            basis = episode_basis(ep, points.get((ep.key, ep.granularity), ()), model_version)
            bases[ep.episode_id] = basis
            kept_explanation = stored.get(ep.episode_id)
            if kept_explanation is not None and kept_explanation[0] == basis and not ep.is_open:
                explanations[ep.episode_id] = kept_explanation[1]
            else:
                todo.append(ep)
        # Every window read together: one scan of the documents per chunk of windows, not
        # two queries per episode.
        windows = [
            w
            for ep in todo
            for w in (
                Window(ep.key, ep.start, ep.end),
                Window(ep.key, ep.peak.baseline_start, ep.peak.baseline_end),
            )
        ]
        docs = explain_docs_many(con, windows, model_version, timezone)
        for i, ep in enumerate(todo):
            explanations[ep.episode_id] = explain_spike(docs[2 * i], docs[2 * i + 1])
        explained = [(ep, explanations[ep.episode_id]) for ep in episodes]
        spikes_store.save_episodes(con, explained, run_id, bases)
        labels = themes.live_theme_keywords(con)
        loaders.replace_spike_alerts(con, day_alerts(explained, labels, params), run_id)
        # Last: should anything above fail, the next run judges the same periods again.
        current = {_series_id(s) for s in series + hourly}
        spike_scores.save_scores(
            con,
            [_judged(r) for r in rescored if r.since is not None],
            sorted(set(judged) - current),
            fingerprint,
            run_id,
            from_scratch=from_scratch,
        )
    n_rescored = sum(r.since is not None for r in rescored)
    return SpikeUpdate(len(series) + len(hourly), explained, n_rescored, from_scratch)


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
