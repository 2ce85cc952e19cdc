"""Themes v2 in the warehouse: tracked themes, incremental document assignment, events, and
the per-theme statistics (label, negativity, first/last seen, lifecycle state) the
dashboard, spikes and `voc stats` read.

`complaint_themes` stays as the projection of the live themes that older readers use.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd
import pyarrow as pa

from voc.signals import TrackedTheme, TrackResult
from voc.stages import StageSpec
from warehouse.db import register_frame, transaction
from warehouse.enrichment import mark_current, select_pending


def load_tracked_themes(con: duckdb.DuckDBPyConnection) -> list[TrackedTheme]:
    """The live themes (not merged away), as the theme tracker needs them."""
    rows = con.execute(
        "SELECT theme_id, centroid, n_members, keywords, born_run_id FROM tracked_themes "
        "WHERE merged_into IS NULL ORDER BY theme_id"
    ).fetchall()
    return [TrackedTheme(r[0], json.loads(r[1]), r[2], tuple(r[3]), r[4]) for r in rows]


def select_theme_candidates(
    con: duckdb.DuckDBPyConnection,
    spec: StageSpec,
    prints: Mapping[str, str],
    model_version: str,
    window_days: int,
    limit: int,
) -> list[tuple[str, list[str], bool]]:
    """(doc_id, tokens, is_negative) of distinct documents with no current theme
    assignment (new, or rewritten since: `warehouse.enrichment`'s rule), from the last
    `window_days` days of data, newest `limit` first (then oldest first within)."""
    docs = select_pending(con, spec, prints, limit, window_days=window_days, newest_first=True)
    if not docs:
        return []
    labels = dict(
        con.execute(
            "SELECT doc_id, label = 'negative' FROM doc_sentiment "
            "WHERE model_version = ? AND doc_id IN (SELECT unnest(?::VARCHAR[]))",
            [model_version, [d.doc_id for d in docs]],
        ).fetchall()
    )
    return [(d.doc_id, list(d.tokens or ()), bool(labels.get(d.doc_id))) for d in docs]


def theme_members(
    con: duckdb.DuckDBPyConnection, theme_ids: Collection[str] | None = None
) -> dict[str, list[tuple[str, list[str]]]]:
    """theme_id → (doc_id, tokens) of every document of each live theme (of `theme_ids`
    only, when given)."""
    rows = con.execute(
        "SELECT d.theme_id, d.doc_id, t.tokens FROM doc_themes d "
        "JOIN doc_tokens t ON t.doc_id = d.doc_id "
        "JOIN tracked_themes th ON th.theme_id = d.theme_id AND th.merged_into IS NULL "
        "WHERE t.tokens IS NOT NULL "
        "AND ($ids::VARCHAR[] IS NULL OR list_contains($ids, d.theme_id)) "
        "ORDER BY d.theme_id, d.doc_id",
        {"ids": sorted(theme_ids) if theme_ids is not None else None},
    ).fetchall()
    members: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for theme_id, doc_id, tokens in rows:
        members[theme_id].append((doc_id, list(tokens)))
    return dict(members)


def split_check_sizes(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """theme_id → its size when it was last checked for a split."""
    return dict(con.execute("SELECT theme_id, n_members FROM theme_split_checks").fetchall())


def record_split_checks(
    con: duckdb.DuckDBPyConnection, sizes: Mapping[str, int], run_id: str
) -> None:
    """Remember the size of each theme just checked for a split (or born of one)."""
    if not sizes:
        return
    ids = sorted(sizes)
    con.execute(
        "INSERT OR REPLACE INTO theme_split_checks SELECT unnest($ids), unnest($sizes), $run",
        {"ids": ids, "sizes": [sizes[i] for i in ids], "run": run_id},
    )


def recent_token_lists(con: duckdb.DuckDBPyConnection, limit: int = 20000) -> list[list[str]]:
    """Tokens of the newest `limit` distinct documents (what IDF weights are taken from)."""
    rows = con.execute(
        "SELECT k.tokens FROM doc_texts t JOIN doc_tokens k ON k.doc_id = t.doc_id "
        "JOIN raw_documents r ON r.id = t.doc_id WHERE t.duplicate_of IS NULL "
        "ORDER BY r.created_at DESC, t.doc_id LIMIT ?",
        [limit],
    ).fetchall()
    return [list(r[0]) for r in rows]


def save_tracking(
    con: duckdb.DuckDBPyConnection,
    result: TrackResult,
    run_id: str,
    version: str,
    spec: StageSpec | None = None,
    prints: Mapping[str, str] | None = None,
) -> None:
    """Store a tracking run in one transaction: themes, merges, new links (of tracker
    `version`), events; with `spec`, newly linked documents are recorded as current."""
    with transaction(con):
        if result.themes:
            _upsert_themes(con, result.themes, run_id)
        for old, new in result.merged.items():
            con.execute("UPDATE doc_themes SET theme_id = ? WHERE theme_id = ?", [new, old])
            con.execute(
                "UPDATE tracked_themes SET merged_into = ?, updated_run_id = ? WHERE theme_id = ?",
                [new, run_id, old],
            )
        if result.assignments:
            links = pd.DataFrame(
                [(d, t, s) for d, (t, s) in sorted(result.assignments.items())],
                columns=["doc_id", "theme_id", "similarity"],
            )
            con.execute("SELECT 1").fetchall()
            con.register("incoming_links", links)
            try:
                con.execute(
                    "INSERT OR REPLACE INTO doc_themes (doc_id, theme_id, model_version, "
                    "similarity) SELECT doc_id, theme_id, ?, similarity FROM incoming_links",
                    [version],
                )
            finally:
                con.unregister("incoming_links")
            if spec is not None and prints is not None:
                mark_current(con, spec, prints, dict.fromkeys(result.assignments, 1))
        for e in result.events:
            con.execute(
                "INSERT INTO theme_events VALUES (?, ?, ?, ?, ?, now())",
                [run_id, e.event, e.theme_id, e.other_theme_id, e.n_docs],
            )


def _upsert_themes(
    con: duckdb.DuckDBPyConnection, tracked: Sequence[TrackedTheme], run_id: str
) -> None:
    # One statement for all themes: one INSERT per theme cost ~5 ms each, 7 s a run at
    # 200 themes (every theme is written after every pass).
    frame = pa.table(
        {
            "theme_id": [t.theme_id for t in tracked],
            "centroid": [json.dumps(t.centroid, ensure_ascii=False) for t in tracked],
            "n_members": pa.array([t.n_members for t in tracked], pa.int64()),
            "keywords": pa.array([list(t.keywords) for t in tracked], pa.list_(pa.string())),
            "label": ["/".join(t.keywords[:3]) for t in tracked],
            "born_run_id": [t.born_run_id for t in tracked],
        }
    )
    register_frame(con, "incoming_themes", frame)
    try:
        con.execute(
            "INSERT INTO tracked_themes (theme_id, centroid, n_members, keywords, "
            "key_phrases, label, n_docs, n_negative, negativity, state, born_run_id, "
            "updated_run_id) SELECT theme_id, centroid, n_members, keywords, [], label, 0, 0, "
            "0, 'new', born_run_id, ? FROM incoming_themes "
            "ON CONFLICT (theme_id) DO UPDATE SET centroid = excluded.centroid, "
            "n_members = excluded.n_members, keywords = excluded.keywords, "
            "updated_run_id = excluded.updated_run_id",
            [run_id],
        )
    finally:
        con.unregister("incoming_themes")


@dataclass(frozen=True, slots=True)
class ThemeMembers:
    """What theme statistics are computed from (`theme_members_for_stats`).

    Attributes:
        live: Ids of the themes not merged away.
        rows: (theme_id, tokens, local_day, is_negative, doc_id, similarity) per themed
            document (tokens empty when it has none).
        keywords: Theme id → its centroid's top terms.
        newest: The newest local day of any document (None: no documents).
    """

    live: list[str]
    rows: list[tuple]
    keywords: dict[str, list[str]]
    newest: date | None


def theme_members_for_stats(con: duckdb.DuckDBPyConnection, model_version: str) -> ThemeMembers:
    """Every themed document with what the statistics need (negative by `model_version`):
    the from-scratch input of `signals.theme_stats.theme_stats`, which a run's
    `theme_days` and phrase counts must agree with."""
    live = [
        r[0]
        for r in con.execute(
            "SELECT theme_id FROM tracked_themes WHERE merged_into IS NULL"
        ).fetchall()
    ]
    rows = con.execute(
        "SELECT d.theme_id, coalesce(t.tokens, []), r.local_day, s.label = 'negative', "
        "d.doc_id, d.similarity FROM doc_themes d LEFT JOIN doc_tokens t ON t.doc_id = d.doc_id "
        "JOIN raw_documents r ON r.id = d.doc_id "
        "LEFT JOIN doc_sentiment s ON s.doc_id = d.doc_id AND s.model_version = ?",
        [model_version],
    ).fetchall()
    newest = con.execute("SELECT max(local_day) FROM raw_documents").fetchone()[0]
    keywords = {
        k: list(v)
        for k, v in con.execute("SELECT theme_id, keywords FROM tracked_themes").fetchall()
    }
    return ThemeMembers(live, rows, keywords, newest)


@dataclass(frozen=True, slots=True)
class ThemeDays:
    """Per-theme sums the statistics are computed from (`theme_days`): one grouped scan of
    the theme links, no member's tokens.

    Attributes:
        live: Ids of the themes not merged away.
        daily: theme_id → local day → its documents that day.
        negatives: theme_id → its negative documents.
        examples: theme_id → its example document ids, nearest the centre first
            (negative ones first among equals).
        keywords: Theme id → its centroid's top terms.
        newest: The newest local day of any document (None: no documents).
    """

    live: list[str]
    daily: dict[str, dict[date, int]]
    negatives: dict[str, int]
    examples: dict[str, list[str]]
    keywords: dict[str, list[str]]
    newest: date | None


def theme_days(
    con: duckdb.DuckDBPyConnection, model_version: str, n_examples: int = 5
) -> ThemeDays:
    """Each theme's documents per day, negatives (by `model_version`) and example ids, as
    `signals.theme_stats.theme_stats` computes them from every member's row."""
    live = [
        r[0]
        for r in con.execute(
            "SELECT theme_id FROM tracked_themes WHERE merged_into IS NULL"
        ).fetchall()
    ]
    linked = (
        "FROM doc_themes d JOIN raw_documents r ON r.id = d.doc_id "
        "LEFT JOIN doc_sentiment s ON s.doc_id = d.doc_id AND s.model_version = ? "
    )
    daily: dict[str, dict[date, int]] = defaultdict(dict)
    negatives: dict[str, int] = defaultdict(int)
    for theme_id, day, n, n_negative in con.execute(
        "SELECT d.theme_id, r.local_day, count(*), count(*) FILTER (WHERE s.label = 'negative') "
        + linked
        + "GROUP BY ALL",
        [model_version],
    ).fetchall():
        daily[theme_id][day] = n
        negatives[theme_id] += n_negative
    examples: dict[str, list[str]] = defaultdict(list)
    # The order of `theme_stats`' sort key (-(similarity or 0), not negative, doc_id).
    for theme_id, doc_id in con.execute(
        "SELECT d.theme_id, d.doc_id "
        + linked
        + "QUALIFY row_number() OVER (PARTITION BY d.theme_id ORDER BY "
        "coalesce(d.similarity, 0) DESC, coalesce(s.label = 'negative', false) DESC, "
        "d.doc_id) <= ? ORDER BY d.theme_id, coalesce(d.similarity, 0) DESC, "
        "coalesce(s.label = 'negative', false) DESC, d.doc_id",
        [model_version, n_examples],
    ).fetchall():
        examples[theme_id].append(doc_id)
    newest = con.execute("SELECT max(local_day) FROM raw_documents").fetchone()[0]
    keywords = {
        k: list(v)
        for k, v in con.execute("SELECT theme_id, keywords FROM tracked_themes").fetchall()
    }
    return ThemeDays(live, dict(daily), dict(negatives), dict(examples), keywords, newest)


def save_theme_stats(
    con: duckdb.DuckDBPyConnection, stats: Sequence[Mapping], version: str, run_id: str
) -> None:
    """Write each live theme's label, key phrases, size, negativity, first/last seen and
    state, and rewrite `complaint_themes` (themes with negative documents), in one
    transaction.

    Args:
        con: Writable warehouse connection.
        stats: One mapping per live theme: theme_id, label, key_phrases, n_docs,
            n_negative, negativity, first_seen, last_seen, state, example_ids.
        version: The tracker version recorded in `complaint_themes`.
        run_id: The run.
    """
    if not stats:
        con.execute("DELETE FROM complaint_themes")
        return
    register_frame(con, "theme_stats", pd.DataFrame(list(stats)))
    try:
        with transaction(con):
            con.execute(
                "UPDATE tracked_themes t SET label = s.label, key_phrases = s.key_phrases, "
                "n_docs = s.n_docs, n_negative = s.n_negative, negativity = s.negativity, "
                "first_seen = s.first_seen, last_seen = s.last_seen, state = s.state "
                "FROM theme_stats s WHERE t.theme_id = s.theme_id"
            )
            con.execute("DELETE FROM complaint_themes")
            con.execute(
                "INSERT INTO complaint_themes SELECT t.theme_id, s.label, t.keywords, "
                "s.n_negative, s.example_ids, ?, ? FROM tracked_themes t "
                "JOIN theme_stats s USING (theme_id) WHERE s.n_negative > 0",
                [version, run_id],
            )
    finally:
        con.unregister("theme_stats")


def theme_overview(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Live themes with label, key phrases, size, negativity, first/last seen and state,
    largest first (the shape `voc stats --json` prints under ``themes``)."""
    rows = con.execute(
        "SELECT theme_id, label, keywords, key_phrases, n_docs, n_negative, negativity, "
        "first_seen, last_seen, state FROM tracked_themes WHERE merged_into IS NULL "
        "ORDER BY n_negative DESC, theme_id"
    ).fetchall()
    return [
        {
            "theme_id": r[0],
            "label": r[1],
            "keywords": list(r[2]),
            "key_phrases": list(r[3]),
            "size": r[5],
            "n_docs": r[4],
            "negativity": round(r[6], 4),
            "first_seen": str(r[7]) if r[7] else None,
            "last_seen": str(r[8]) if r[8] else None,
            "state": r[9],
        }
        for r in rows
    ]


def unchanged_share(before: dict[str, str], after: dict[str, str]) -> float:
    """Share of documents themed in `before` whose theme id is the same in `after`."""
    common = [d for d in before if d in after]
    return sum(before[d] == after[d] for d in common) / len(common) if common else 1.0


def live_theme_keywords(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, list[str]]]:
    """Live theme label → (theme id, keywords)."""
    rows = con.execute(
        "SELECT theme_id, label, keywords FROM tracked_themes WHERE merged_into IS NULL"
    ).fetchall()
    return {label: (theme_id, list(keywords)) for theme_id, label, keywords in rows}


def theme_labels(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Theme id → label, merged themes included (old alerts name them)."""
    return dict(con.execute("SELECT theme_id, label FROM tracked_themes").fetchall())
