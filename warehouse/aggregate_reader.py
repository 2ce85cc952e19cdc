"""Reading the page aggregates while they hold, else the base tables they are summed from.

The dashboard pages (`warehouse.pages`, `warehouse.alert_pages`, `warehouse.theme_pages`)
and search (`warehouse.search`) read through a `PageReader`: `page_reader(con)` finds out,
once per published snapshot, whether the daily aggregates (`warehouse.aggregates`) were
computed with the warehouse's current models from the rows the base tables hold now, and
`reader.rel(agg)` is then the aggregate table or the same rows summed on the fly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from warehouse import queries
from warehouse.aggregates import (
    LOW_CONFIDENCE_MARGIN,
    Aggregate,
    aggregate_state,
    base_row_counts,
    bind,
    current_aspect_model,
)
from warehouse.db import snapshot_key
from warehouse.emotion import latest_emotion_model_version

_BASE_ONLY: ContextVar[bool] = ContextVar("pages_base_only", default=False)


@contextmanager
def from_base_tables() -> Iterator[None]:
    """Within the block, pages count from the base tables, never the aggregates."""
    token = _BASE_ONLY.set(True)
    try:
        yield
    finally:
        _BASE_ONLY.reset(token)


@dataclass(frozen=True)
class PageReader:
    """A connection, the current models as bound parameters, and whether to read the
    aggregates (`rel` gives the relation either way)."""

    con: duckdb.DuckDBPyConnection
    params: dict[str, Any]
    aggregated: bool
    timezone: str | None  # of the hourly aggregate

    def rel(self, agg: Aggregate) -> str:
        return agg.table if self.aggregated else f"({agg.rows_sql})"

    def df(self, sql: str, **extra: Any) -> pd.DataFrame:
        return self.con.execute(sql, bind(sql, {**self.params, **extra})).df()

    def rows(self, sql: str, **extra: Any) -> list[tuple]:
        return self.con.execute(sql, bind(sql, {**self.params, **extra})).fetchall()


def page_reader(con: duckdb.DuckDBPyConnection) -> PageReader:
    """The reader of `con`: the aggregates when they hold (and `from_base_tables` is not
    in force), else the base tables."""
    key = snapshot_key(con)
    found = _READERS.get(key) if key else None
    if found is None:
        found = _check_aggregates(con)
        if key:
            if len(_READERS) >= 8:
                _READERS.clear()
            _READERS[key] = found
    params, fresh, timezone = found
    return PageReader(con, dict(params), fresh and not _BASE_ONLY.get(), timezone)


# Per read-only file (path, inode, size, mtime, and its write-ahead log's): the models and
# whether the aggregates hold, which cost a few scans of the large tables to find out. A
# published snapshot never changes in place (a new one replaces the file).
_READERS: dict[tuple, tuple[dict[str, Any], bool, str | None]] = {}


def _check_aggregates(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, Any], bool, str | None]:
    """The current models, and whether the aggregates were computed with them from the
    rows the base tables hold now."""
    params = {
        "model": queries.current_model_version(con),
        "emotion_model": latest_emotion_model_version(con),
        "aspect_model": current_aspect_model(con),
        "margin": LOW_CONFIDENCE_MARGIN,
    }
    state = aggregate_state(con)
    fresh = (
        state is not None
        and (
            state.sentiment_model,
            state.emotion_model,
            state.aspect_model,
            state.low_confidence_margin,
        )
        == (params["model"], params["emotion_model"], params["aspect_model"], LOW_CONFIDENCE_MARGIN)
        and state.base_rows == base_row_counts(con)
    )
    return params, fresh, state.timezone if state else None
