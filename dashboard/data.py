"""Cached data access for the dashboard: short read-only connections to the newest published
snapshot, through `warehouse.pages` (one function per page panel).

Every loader takes the snapshot's stamp, so a finished ingestion (a new snapshot) refreshes
the cached frames.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from warehouse import pages, queries
from warehouse.db import read_only as _read_only
from warehouse.snapshot import readable_path


def read_only(db_path: str | Path):
    """A short read-only connection to the newest published snapshot of the warehouse
    (so an ingestion writing the warehouse never blocks the page, nor the page it)."""
    return _read_only(readable_path(db_path))


def stamp(db_path: Path) -> float:
    """Modification time of the snapshot the page reads: the cache key of every loader."""
    path = readable_path(db_path)
    return path.stat().st_mtime if path.exists() else 0.0


def _run(db_path: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with read_only(db_path) as con:
        return fn(con, *args, **kwargs)


@st.cache_data(ttl=600, show_spinner=False)
def frame(db_path: str, stamp: float, name: str, *args: Any, **kwargs: Any) -> Any:
    """`warehouse.pages.<name>(con, *args, **kwargs)` on the snapshot, cached per stamp."""
    if name not in _ALLOWED:
        raise ValueError(f"unknown page query {name!r}")
    return _run(db_path, getattr(pages, name), *args, **kwargs)


@st.cache_data(ttl=600, show_spinner=False)
def model_version(db_path: str, stamp: float) -> str | None:
    """The sentiment model version the pages show."""
    return _run(db_path, queries.current_model_version)


_ALLOWED = frozenset(
    {
        "filter_options",
        "resolve",
        "kpis",
        "daily_trend",
        "hourly_trend",
        "spike_markers",
        "alert_list",
        "alert_detail",
        "theme_ranking",
        "theme_detail",
        "category_overview",
        "source_overview",
        "low_confidence_by_day",
        "low_confidence_texts",
    }
)
