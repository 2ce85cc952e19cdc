"""Spikes v2 in the warehouse: the series the detector judges, the documents an explanation
reads, and the episodes it stores."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, datetime, time

import duckdb

from voc.signals import (
    SEGMENT_KINDS,
    SEGMENT_SEP,
    Driver,
    Episode,
    Explanation,
    Series,
    Verbatim,
)
from warehouse.db import transaction

#: Key kinds with daily series; social sources also get hourly ones.
KEY_KINDS = ("source", "product", "category", "theme", "aspect", *SEGMENT_KINDS)

# The customer's segment on the document's day (doc_customers); unlinked documents have none.
_SEGMENTED = "JOIN doc_customers dc ON dc.doc_id = r.id AND dc.segment IS NOT NULL "


def daily_series(con: duckdb.DuckDBPyConnection, model_version: str) -> list[Series]:
    """Daily (documents, negative documents) per source, product, category, theme, aspect,
    customer segment, and segment × category and segment × aspect (`voc.signals.segment_key`
    values)."""
    queries = {
        "source": (
            "SELECT r.source, r.local_day, count(*), count(*) FILTER (s.label = 'negative') "
            "FROM raw_documents r JOIN doc_texts t ON t.doc_id = r.id "
            "JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = ? "
            "WHERE t.duplicate_of IS NULL GROUP BY ALL"
        ),
        "product": (
            "SELECT r.product, r.local_day, count(*), count(*) FILTER (s.label = 'negative') "
            "FROM raw_documents r JOIN doc_texts t ON t.doc_id = r.id "
            "JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = ? "
            "WHERE t.duplicate_of IS NULL AND r.product IS NOT NULL GROUP BY ALL"
        ),
        "category": (
            "SELECT c.category, r.local_day, count(*), count(*) FILTER (s.label = 'negative') "
            "FROM doc_categories c JOIN raw_documents r ON r.id = c.doc_id "
            "JOIN doc_sentiment s ON s.doc_id = c.doc_id AND s.model_version = ? GROUP BY ALL"
        ),
        "theme": (
            "SELECT d.theme_id, r.local_day, count(*), count(*) FILTER (s.label = 'negative') "
            "FROM doc_themes d JOIN raw_documents r ON r.id = d.doc_id "
            "JOIN doc_sentiment s ON s.doc_id = d.doc_id AND s.model_version = ? GROUP BY ALL"
        ),
        # An aspect's documents are those naming it; negative = judged negative on it.
        "aspect": (
            "SELECT a.aspect, r.local_day, count(*), count(*) FILTER (a.polarity = 'negative') "
            "FROM doc_aspects a JOIN raw_documents r ON r.id = a.doc_id "
            "WHERE ? IS NOT NULL GROUP BY ALL"
        ),
        # A segment counts like a source: its distinct scored documents.
        "segment": (
            "SELECT dc.segment, r.local_day, count(*), count(*) FILTER (s.label = 'negative') "
            "FROM raw_documents r JOIN doc_texts t ON t.doc_id = r.id "
            "JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = ? "
            + _SEGMENTED
            + "WHERE t.duplicate_of IS NULL GROUP BY ALL"
        ),
        "segment_category": (
            "SELECT concat_ws(?, dc.segment, c.category), r.local_day, count(*), "
            "count(*) FILTER (s.label = 'negative') "
            "FROM doc_categories c JOIN raw_documents r ON r.id = c.doc_id "
            "JOIN doc_sentiment s ON s.doc_id = c.doc_id AND s.model_version = ? "
            + _SEGMENTED
            + "GROUP BY ALL"
        ),
        "segment_aspect": (
            "SELECT concat_ws(?, dc.segment, a.aspect), r.local_day, count(*), "
            "count(*) FILTER (a.polarity = 'negative') "
            "FROM doc_aspects a JOIN raw_documents r ON r.id = a.doc_id "
            + _SEGMENTED
            + "WHERE ? IS NOT NULL GROUP BY ALL"
        ),
    }
    series = []
    for kind, sql in queries.items():
        points: dict[str, list[tuple[date, int, int]]] = defaultdict(list)
        # A crossed key's value joins segment and category (or aspect) with SEGMENT_SEP.
        params = [SEGMENT_SEP, model_version] if kind in SEGMENT_KINDS[1:] else [model_version]
        for value, day, n, n_neg in con.execute(sql, params).fetchall():
            points[str(value)].append((day, int(n), int(n_neg)))
        series += [Series((kind, v), "day", tuple(p)) for v, p in sorted(points.items())]
    return series


def hourly_series(
    con: duckdb.DuckDBPyConnection, model_version: str, timezone: str
) -> list[Series]:
    """Hourly (documents, negative documents) per social source, in local time."""
    rows = con.execute(
        "SELECT r.source, date_trunc('hour', timezone(?, r.created_at)) AS h, count(*), "
        "count(*) FILTER (s.label = 'negative') FROM raw_documents r "
        "JOIN doc_texts t ON t.doc_id = r.id "
        "JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = ? "
        "WHERE t.duplicate_of IS NULL AND r.channel = 'social' GROUP BY ALL",
        [timezone, model_version],
    ).fetchall()
    points: dict[str, list[tuple[datetime, int, int]]] = defaultdict(list)
    for source, hour, n, n_neg in rows:
        points[source].append((hour, int(n), int(n_neg)))
    return [Series(("source", s), "hour", tuple(p)) for s, p in sorted(points.items())]


def _stamp(p: date | datetime) -> datetime:
    return p if isinstance(p, datetime) else datetime.combine(p, time())


def explanation_json(explanation: Explanation) -> dict:
    """An explanation as JSON (drivers by kind, verbatims)."""
    data = asdict(explanation)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def explanation_from_json(data: dict) -> Explanation:
    """The inverse of `explanation_json`."""
    drivers = {
        kind: tuple(Driver(**d) for d in data.get(kind, ()))
        for kind in ("themes", "categories", "aspects", "phrases")
    }
    return Explanation(
        **drivers,
        verbatims=tuple(Verbatim(**v) for v in data.get("verbatims", ())),
        n_spike=int(data["n_spike"]),
        n_baseline=int(data["n_baseline"]),
    )


def stored_explanations(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, Explanation]]:
    """Stored episodes' explanations with the basis they were computed from: episode id →
    (basis, explanation)."""
    rows = con.execute(
        "SELECT e.episode_id, b.basis, e.explanation FROM spike_episodes e "
        "JOIN spike_explanation_basis b USING (episode_id)"
    ).fetchall()
    return {r[0]: (r[1], explanation_from_json(json.loads(r[2]))) for r in rows}


def save_episodes(
    con: duckdb.DuckDBPyConnection,
    episodes: list[tuple[Episode, Explanation]],
    run_id: str,
    bases: Mapping[str, str] | None = None,
) -> int:
    """Replace the stored episodes with this run's (each run holds every episode, from kept
    and new verdicts, and an episode keeps its id when a later run extends it); `bases`
    (episode id → basis) is what each explanation was computed from
    (`stored_explanations`)."""
    with transaction(con):
        con.execute("DELETE FROM spike_episodes")
        con.execute("DELETE FROM spike_explanation_basis")
        if bases:
            con.executemany(
                "INSERT INTO spike_explanation_basis VALUES (?, ?)", sorted(bases.items())
            )
        for ep, explanation in episodes:
            peak = ep.peak
            con.execute(
                "INSERT INTO spike_episodes VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    ep.episode_id,
                    ep.key[0],
                    ep.key[1],
                    ep.granularity,
                    ep.metric,
                    _stamp(ep.start),
                    _stamp(ep.end),
                    _stamp(peak.period_start),
                    peak.observed,
                    peak.expected,
                    peak.ratio,
                    peak.statistic,
                    peak.p_value,
                    _stamp(peak.baseline_start),
                    _stamp(peak.baseline_end),
                    ep.severity,
                    ep.is_open,
                    len(ep.alerts),
                    json.dumps(explanation_json(explanation), ensure_ascii=False, default=str),
                    run_id,
                ],
            )
    return len(episodes)


def spike_episodes(con: duckdb.DuckDBPyConnection, limit: int = 200) -> list[dict]:
    """Stored episodes, newest first, with their explanation (for stats and alerts)."""
    rows = con.execute(
        "SELECT episode_id, key_kind, key_value, granularity, metric, start_period, "
        "end_period, peak_period, observed, expected, ratio, statistic, p_value, "
        "baseline_start, baseline_end, severity, is_open, n_alerts, explanation "
        "FROM spike_episodes ORDER BY end_period DESC, episode_id LIMIT ?",
        [limit],
    ).fetchall()
    keys = [
        "episode_id",
        "key_kind",
        "key_value",
        "granularity",
        "metric",
        "start",
        "end",
        "peak",
        "observed",
        "expected",
        "ratio",
        "statistic",
        "p_value",
        "baseline_start",
        "baseline_end",
        "severity",
        "is_open",
        "n_alerts",
        "explanation",
    ]
    out = []
    for row in rows:
        item = dict(zip(keys, row, strict=True))
        for k in ("start", "end", "peak", "baseline_start", "baseline_end"):
            item[k] = item[k].isoformat()
        item["explanation"] = json.loads(item["explanation"])
        out.append(item)
    return out
