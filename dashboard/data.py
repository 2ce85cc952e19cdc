"""Cached data access for the dashboard: read-only cursors on the newest published snapshot
(`warehouse.db.shared_read_only`), through the warehouse page queries (one function per
page panel).

Every loader takes the snapshot's stamp, so a finished ingestion (a new snapshot) refreshes
the cached frames. With ``[warehouse] shared_parquet_dir`` set, the pages read the shared
Parquet warehouse there instead (`warehouse.parquet_reader`: any number of dashboard
replicas read one directory), and its export's publication time is the stamp.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from warehouse import (
    alert_pages,
    customer_voices,
    page_filters,
    pages,
    queries,
    satisfaction,
    theme_pages,
)
from warehouse.db import read_only as _read_only
from warehouse.db import shared_read_only
from warehouse.parquet_reader import share_stamp, shared_parquet_reader
from warehouse.snapshot import readable_path, snapshot_path

#: Warehouse file -> the shared Parquet directory its pages read (`use_shared_warehouse`).
_SHARED: dict[str, str] = {}


def use_shared_warehouse(db_path: str | Path, location: str | None) -> None:
    """Read the pages of the warehouse at `db_path` from the shared Parquet directory
    `location` (the settings' ``shared_parquet_dir``); None reads its snapshot again."""
    if location:
        _SHARED[str(db_path)] = str(location)
    else:
        _SHARED.pop(str(db_path), None)


def read_only(db_path: str | Path):
    """A read-only connection to the newest published snapshot of the warehouse (so an
    ingestion writing the warehouse never blocks the page, nor the page it): a cursor on
    the process's kept connection to that snapshot, or, before the first snapshot, a short
    connection to the warehouse itself; with a shared warehouse configured, a cursor on
    its current Parquet export."""
    shared = _SHARED.get(str(db_path))
    if shared:
        return shared_parquet_reader(shared)
    path = readable_path(db_path)
    if path == snapshot_path(db_path):
        return shared_read_only(path)
    return _read_only(path)


def stamp(db_path: Path) -> float:
    """Modification time of the snapshot the page reads: the cache key of every loader."""
    shared = _SHARED.get(str(db_path))
    if shared:
        return share_stamp(shared)
    path = readable_path(db_path)
    return path.stat().st_mtime if path.exists() else 0.0


def _run(db_path: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with read_only(db_path) as con:
        return fn(con, *args, **kwargs)


@st.cache_data(ttl=600, show_spinner=False)
def frame(db_path: str, stamp: float, name: str, *args: Any, **kwargs: Any) -> Any:
    """The page query `name` (`warehouse.pages`, `alert_pages`, `theme_pages`,
    `page_filters`) as ``fn(con, *args, **kwargs)`` on the snapshot, cached per stamp."""
    if name not in _PAGE_QUERIES:
        raise ValueError(f"unknown page query {name!r}")
    return _run(db_path, _PAGE_QUERIES[name], *args, **kwargs)


@st.cache_data(ttl=600, show_spinner=False)
def model_version(db_path: str, stamp: float) -> str | None:
    """The sentiment model version the pages show."""
    return _run(db_path, queries.current_model_version)


#: The page queries `frame` runs, by name.
_PAGE_QUERIES: dict[str, Callable[..., Any]] = {
    fn.__name__: fn
    for fn in (
        page_filters.filter_options,
        page_filters.resolve,
        pages.kpis,
        pages.daily_trend,
        pages.hourly_trend,
        alert_pages.spike_markers,
        alert_pages.alert_list,
        alert_pages.alert_detail,
        theme_pages.theme_ranking,
        theme_pages.theme_detail,
        pages.category_overview,
        pages.source_overview,
        pages.source_linking,
        pages.low_confidence_by_day,
        pages.low_confidence_texts,
        satisfaction.satisfaction_series,
        satisfaction.satisfaction_drivers,
        satisfaction.driver_verbatims,
        customer_voices.customer_options,
        customer_voices.segment_overview,
        customer_voices.negative_customers,
        customer_voices.customer_timeline,
    )
}
