"""Cached data access for the dashboard: short read-only connections through warehouse.queries."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from warehouse import queries
from warehouse.db import read_only as _read_only
from warehouse.snapshot import readable_path


def read_only(db_path: str | Path):
    """A short read-only connection to the newest published snapshot of the warehouse
    (so an ingestion writing the warehouse never blocks the page, nor the page it)."""
    return _read_only(readable_path(db_path))


def _stamp(db_path: Path) -> float:
    # Cache key part: a new snapshot (a finished ingestion) refreshes the cached frames.
    path = readable_path(db_path)
    return path.stat().st_mtime if path.exists() else 0.0


@st.cache_data(ttl=300, show_spinner=False)
def load_overview(db_path: str, stamp: float) -> dict[str, pd.DataFrame | dict]:
    """Everything the main page shows, read in one short read-only connection."""
    with read_only(db_path) as con:
        themes = queries.top_complaint_themes(con, limit=10)
        example_ids = [i for ids in themes["example_ids"] for i in ids]
        return {
            "summary": queries.warehouse_summary(con),
            "daily": queries.daily_sentiment_by_source(con),
            "alerts": queries.spike_alerts(con),
            "themes": themes,
            "examples": queries.documents_by_ids(con, example_ids),
            "recent_negative": queries.recent_negative_documents(con, limit=50),
        }


@st.cache_data(ttl=300, show_spinner=False)
def load_alert_evidence(
    db_path: str, stamp: float, theme_id: str, source: str, day: str
) -> pd.DataFrame:
    """Verbatims behind one spike alert."""
    with read_only(db_path) as con:
        return queries.theme_documents_on_day(
            con, theme_id, source, pd.Timestamp(day).date(), limit=5
        )


def stamp(db_path: Path) -> float:
    """Modification stamp used to invalidate cached frames."""
    return _stamp(db_path)
