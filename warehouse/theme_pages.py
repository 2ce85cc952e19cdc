"""The data behind the dashboard's 主题 Themes page: live themes ranked, and one theme's
days, aspects, verbatims and events."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from warehouse.aggregate_reader import PageReader, page_reader
from warehouse.aggregates import THEME_ASPECTS, THEMES
from warehouse.page_filters import Filters, filter_sql, previous_period, resolve_with

#: Orders `theme_ranking` offers.
THEME_SORTS = {
    "volume": "n_docs DESC, theme_id",
    "growth": "growth DESC, n_docs DESC, theme_id",
    "negativity": "negativity DESC NULLS LAST, n_docs DESC, theme_id",
}

# The customer's own words for display: markup removed (microblogs embed <a> and <br>).
_VERBATIM = (
    "trim(regexp_replace(regexp_replace(r.text, '<br\\s*/?>', ' ', 'gi'), '<[^<>]*>', '', 'g'))"
    " AS text"
)


def theme_ranking(con: duckdb.DuckDBPyConnection, f: Filters, sort: str = "volume") -> pd.DataFrame:
    """Live themes with documents in the range or the period before, ranked.

    Args:
        sort: ``volume`` (documents in range), ``growth`` ((n - n_prev) / max(n_prev, 1))
            or ``negativity`` (negative share in range).

    Raises:
        ValueError: an unknown sort.
    """
    if sort not in THEME_SORTS:
        raise ValueError(f"unknown sort {sort!r}; one of {', '.join(THEME_SORTS)}")
    r = page_reader(con)
    f = resolve_with(r, f)
    columns = [
        "theme_id", "label", "state", "key_phrases", "keywords", "n_docs", "n_negative",
        "negativity", "n_prev", "growth", "first_seen", "last_seen",
    ]  # fmt: skip
    if f.start is None:
        return pd.DataFrame(columns=columns)
    where, params = filter_sql(replace(f, start=previous_period(f).start))
    return r.df(
        "WITH c AS (SELECT theme_id, "
        " coalesce(sum(n_docs) FILTER (WHERE local_day >= $current), 0)::BIGINT AS n_docs, "
        " coalesce(sum(n_negative) FILTER (WHERE local_day >= $current), 0)::BIGINT AS n_negative,"
        " coalesce(sum(n_docs) FILTER (WHERE local_day < $current), 0)::BIGINT AS n_prev "
        f" FROM {r.rel(THEMES)} WHERE {where} GROUP BY theme_id) "
        "SELECT t.theme_id, t.label, t.state, t.key_phrases, t.keywords, c.n_docs, c.n_negative, "
        " CASE WHEN c.n_docs > 0 THEN c.n_negative / c.n_docs END AS negativity, c.n_prev, "
        " (c.n_docs - c.n_prev) / greatest(c.n_prev, 1) AS growth, t.first_seen, t.last_seen "
        "FROM tracked_themes t JOIN c USING (theme_id) "
        "WHERE t.merged_into IS NULL AND (c.n_docs > 0 OR c.n_prev > 0) "
        f"ORDER BY {THEME_SORTS[sort]}",
        current=f.start,
        **params,
    )


def theme_detail(
    con: duckdb.DuckDBPyConnection, theme_id: str, f: Filters
) -> dict[str, Any] | None:
    """One theme over the range: its row (without the tracker's centroid), daily counts,
    aspect polarity of its documents, up to 20 verbatims (most negative first, one per
    near-duplicate voice) and its events; None when there is no such theme."""
    cursor = con.execute(
        "SELECT * EXCLUDE (centroid) FROM tracked_themes WHERE theme_id = ?", [theme_id]
    )
    row = cursor.fetchone()
    if row is None:
        return None
    theme = dict(zip([d[0] for d in cursor.description], row, strict=True))
    r = page_reader(con)
    f = resolve_with(r, f)
    if f.start is None:
        f = replace(f, start=date.min, end=date.max)
    where, params = filter_sql(f)
    params["theme"] = theme_id
    daily = r.df(
        "SELECT local_day, sum(n_docs)::BIGINT AS n_docs, sum(n_negative)::BIGINT AS n_negative "
        f"FROM {r.rel(THEMES)} WHERE theme_id = $theme AND {where} GROUP BY local_day "
        "ORDER BY local_day",
        **params,
    )
    aspects = r.df(
        "SELECT aspect, sum(n_positive)::BIGINT AS n_positive, "
        "sum(n_neutral)::BIGINT AS n_neutral, sum(n_negative)::BIGINT AS n_negative "
        f"FROM {r.rel(THEME_ASPECTS)} WHERE theme_id = $theme AND {where} GROUP BY aspect "
        "ORDER BY sum(n_negative) DESC, sum(n_positive) + sum(n_neutral) + sum(n_negative) DESC, "
        "aspect",
        **params,
    )
    events = con.execute(
        "SELECT * FROM theme_events WHERE theme_id = ? OR other_theme_id = ? "
        "ORDER BY happened_at DESC, event",
        [theme_id, theme_id],
    ).df()
    return {
        "theme": theme,
        "daily": daily,
        "aspects": aspects,
        "verbatims": _theme_verbatims(r, f, theme_id),
        "events": events,
    }


def _theme_verbatims(r: PageReader, f: Filters, theme_id: str, limit: int = 20) -> pd.DataFrame:
    """The most negative documents of a theme in the range, one per voice."""
    where, params = filter_sql(f, alias="r.", customer_alias="dc.")
    # Texts are read for the chosen rows only: the ranking reads ids, scores and voices.
    picked = (
        "SELECT r.id, r.created_at, s.label AS sentiment, s.score, "
        "coalesce(g.group_id, r.id) AS voice "
        "FROM doc_themes d JOIN raw_documents r ON r.id = d.doc_id "
        "JOIN doc_texts t ON t.doc_id = d.doc_id "
        "JOIN doc_sentiment s ON s.doc_id = d.doc_id AND s.model_version = $model "
        "LEFT JOIN doc_groups g ON g.doc_id = d.doc_id "
        "LEFT JOIN doc_customers dc ON dc.doc_id = d.doc_id "
        f"WHERE d.theme_id = $theme AND t.duplicate_of IS NULL AND {where} "
        "QUALIFY row_number() OVER "
        " (PARTITION BY voice ORDER BY s.score, r.created_at DESC, r.id) = 1 "
        "ORDER BY s.score, r.created_at DESC, r.id LIMIT $limit"
    )
    return r.df(
        "WITH p AS (" + picked + "), "
        "sizes AS (SELECT group_id, count(*) AS size FROM doc_groups "
        " WHERE group_id IN (SELECT voice FROM p) GROUP BY group_id) "
        "SELECT p.id, p.created_at, r.source, r.channel, " + _VERBATIM + ", p.sentiment, "
        "p.score, r.url, coalesce(sizes.size, 1)::BIGINT AS voice_size FROM p "
        "JOIN raw_documents r ON r.id = p.id "
        "LEFT JOIN sizes ON sizes.group_id = p.voice ORDER BY p.score, p.created_at DESC, p.id",
        theme=theme_id,
        limit=limit,
        **params,
    )
