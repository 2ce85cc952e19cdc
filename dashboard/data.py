"""Cached data access for the dashboard: short read-only connections to the newest published
snapshot, through `warehouse.pages` (one function per page panel).

Every loader takes the snapshot's stamp, so a finished ingestion (a new snapshot) refreshes
the cached frames.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
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


@st.cache_data(ttl=600, show_spinner=False)
def low_confidence_texts(db_path: str, stamp: float, filters: pages.Filters, limit: int = 50):
    """The newest low-confidence predictions in the filters' last 7 days: the texts most
    worth a human look on the Quality page."""
    with read_only(db_path) as con:
        version = queries.current_model_version(con)
        end = filters.end or con.execute("SELECT max(local_day) FROM raw_documents").fetchone()[0]
        if end is None:
            return pd.DataFrame(columns=["id", "created_at", "source", "text", "sentiment"])
        clauses, params = ["r.local_day BETWEEN ? AND ?"], [end - timedelta(days=6), end]
        for column, values in (
            ("r.source", filters.sources),
            ("r.channel", filters.channels),
            ("r.product", filters.products),
            ("r.brand", filters.brands),
        ):
            if values:
                clauses.append(f"{column} IN (SELECT unnest(?::VARCHAR[]))")
                params.append(list(values))
        where = " AND ".join(clauses)  # fixed strings; values are bound
        return con.execute(
            "SELECT r.id, r.created_at, r.source, t.text_norm AS text, s.label AS sentiment,"
            " s.score FROM raw_documents r JOIN doc_texts t ON t.doc_id = r.id"
            " JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = ?"
            f" WHERE {where} AND t.duplicate_of IS NULL AND abs(s.score - 0.5) < ?"
            " ORDER BY r.created_at DESC, r.id LIMIT ?",
            [version, *params, pages.LOW_CONFIDENCE_MARGIN, limit],
        ).df()


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
    }
)
