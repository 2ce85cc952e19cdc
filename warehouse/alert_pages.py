"""The data behind the dashboard's 预警 Alerts page and the trend's spike markers: spike
episodes overlapping the range, with their labels and drivers (`signals.explain` wrote them)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from voc.signals import SEGMENT_KINDS, SEGMENT_SEP
from warehouse.aggregate_reader import PageReader, page_reader
from warehouse.page_filters import Filters, filter_sql, resolve_with


def _episode_filter(r: PageReader, f: Filters) -> tuple[str, dict[str, Any]]:
    """Episodes overlapping the range; a source episode only when its source passes the
    source and channel filters, a product episode only when the product filter names it, a
    segment episode only when the segment filter names its segment."""
    clauses = ["e.start_period < $after AND e.end_period >= $first"]
    params: dict[str, Any] = {
        "first": datetime.combine(f.start, datetime.min.time()),
        "after": datetime.combine(f.end + timedelta(days=1), datetime.min.time()),
    }
    if f.sources or f.channels:
        where, extra = filter_sql(Filters(sources=f.sources, channels=f.channels), dates=False)
        wanted = [
            s
            for (s,) in r.rows(f"SELECT DISTINCT source FROM raw_documents WHERE {where}", **extra)
        ]
        clauses.append("(e.key_kind <> 'source' OR list_contains($wanted::VARCHAR[], e.key_value))")
        params["wanted"] = wanted
    if f.products:
        clauses.append(
            "(e.key_kind <> 'product' OR list_contains($products::VARCHAR[], e.key_value))"
        )
        params["products"] = list(f.products)
    if f.segments:
        clauses.append(
            "(NOT list_contains($segment_kinds::VARCHAR[], e.key_kind) "
            " OR list_contains($segments::VARCHAR[], "
            "  CASE WHEN e.key_kind = 'segment' THEN e.key_value "
            "  ELSE split_part(e.key_value, $segment_sep, 1) END))"
        )
        params.update(
            segment_kinds=list(SEGMENT_KINDS), segments=list(f.segments), segment_sep=SEGMENT_SEP
        )
    return " AND ".join(clauses), params


def spike_markers(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Spike episodes the trend can mark: source episodes (product episodes when a product
    filter is set) overlapping the range."""
    r = page_reader(con)
    f = resolve_with(r, f)
    columns = (
        "episode_id, key_kind, key_value, granularity, metric, start_period, end_period, "
        "peak_period, severity, ratio"
    )
    if f.start is None:
        return pd.DataFrame(columns=[c.strip() for c in columns.split(",")])
    where, params = _episode_filter(r, f)
    kind = "product" if f.products else "source"
    return r.df(
        f"SELECT {columns} FROM spike_episodes e WHERE {where} AND e.key_kind = $kind "
        "ORDER BY start_period, episode_id",
        kind=kind,
        **params,
    )


def _drivers(explanation: dict, limit: int = 3) -> str:
    """The `limit` strongest drivers of any kind, as short Chinese text."""
    drivers = [
        d
        for kind in ("themes", "categories", "aspects", "phrases")
        for d in explanation.get(kind) or ()
    ]
    names: list[str] = []
    for d in sorted(drivers, key=lambda d: -float(d.get("z") or 0)):
        if d["value"] not in names:
            names.append(d["value"])
    return "、".join(names[:limit])


def alert_list(
    con: duckdb.DuckDBPyConnection, f: Filters, kinds: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Spike episodes overlapping the range, newest first, with their key's label (a
    theme's label) and their top three drivers. `kinds` keeps those key kinds (source,
    product, category, theme, aspect, segment, segment_category, segment_aspect); source,
    product and segment episodes follow those filters."""
    r = page_reader(con)
    f = resolve_with(r, f)
    out = [
        "episode_id", "key_kind", "key_value", "key_label", "granularity", "metric",
        "start_period", "end_period", "peak_period", "observed", "expected", "ratio",
        "p_value", "severity", "is_open", "drivers",
    ]  # fmt: skip
    if f.start is None:
        return pd.DataFrame(columns=out)
    where, params = _episode_filter(r, f)
    if kinds:
        where += " AND list_contains($kinds::VARCHAR[], e.key_kind)"
        params["kinds"] = list(kinds)
    frame = r.df(
        "SELECT e.*, CASE WHEN e.key_kind = 'theme' THEN coalesce(t.label, e.key_value) "
        "ELSE e.key_value END AS key_label FROM spike_episodes e "
        "LEFT JOIN tracked_themes t ON e.key_kind = 'theme' AND t.theme_id = e.key_value "
        f"WHERE {where} ORDER BY e.end_period DESC, e.start_period DESC, e.episode_id",
        **params,
    )
    frame["drivers"] = [_drivers(json.loads(x)) for x in frame["explanation"]]
    return frame[out]


def alert_detail(con: duckdb.DuckDBPyConnection, episode_id: str) -> dict[str, Any] | None:
    """One episode: every stored column, key_label, and ``explanation`` parsed (drivers by
    kind and verbatims, as `signals.explain` wrote them); None when there is no such episode."""
    cursor = con.execute(
        "SELECT e.*, CASE WHEN e.key_kind = 'theme' THEN coalesce(t.label, e.key_value) "
        "ELSE e.key_value END AS key_label FROM spike_episodes e "
        "LEFT JOIN tracked_themes t ON e.key_kind = 'theme' AND t.theme_id = e.key_value "
        "WHERE e.episode_id = ?",
        [episode_id],
    )
    row = cursor.fetchone()
    if row is None:
        return None
    item = dict(zip([d[0] for d in cursor.description], row, strict=True))
    item["explanation"] = json.loads(item["explanation"])
    return item
