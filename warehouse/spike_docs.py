"""The documents a spike explanation reads: the negative documents of a series key in a
period, with their text, tokens, theme, categories, aspects and near-duplicate group.

Every episode wants two windows (the spike and its baseline), and a run explains up to a few
hundred episodes. Each query scans the text, token and group tables, whatever the window,
so `explain_docs_many` answers many windows with one query per `CHUNK` of them: the
windows' hits are found together (one join per key kind), and the details are read once for
the union of their documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import duckdb

from voc.signals import ExplainDoc, split_segment_key

#: Windows answered by one query: bounds the documents held at once (each window keeps at
#: most `limit` of its newest documents).
CHUNK = 64

# A document counts once per aspect, whatever the aspect models that scored it.
_NEG_ASPECTS = "(SELECT DISTINCT doc_id, aspect FROM doc_aspects WHERE polarity = 'negative')"
# How a window's key picks its documents, per key kind: `q` is the window, `n` the negative
# documents (`id`, `source`, `product`). `q.v1` is the value, or the segment of a segment
# key; `q.v2` the category or aspect of a segment × category / aspect key.
_MATCH = {
    "source": "JOIN neg n ON n.source = q.v1",
    "product": "JOIN neg n ON n.product = q.v1",
    "category": "JOIN doc_categories c ON c.category = q.v1 JOIN neg n ON n.id = c.doc_id",
    "theme": "JOIN doc_themes d ON d.theme_id = q.v1 JOIN neg n ON n.id = d.doc_id",
    "aspect": f"JOIN {_NEG_ASPECTS} a ON a.aspect = q.v1 JOIN neg n ON n.id = a.doc_id",
    "segment": "JOIN doc_customers dc ON dc.segment = q.v1 JOIN neg n ON n.id = dc.doc_id",
    "segment_category": "JOIN doc_customers dc ON dc.segment = q.v1 "
    "JOIN doc_categories c ON c.category = q.v2 AND c.doc_id = dc.doc_id "
    "JOIN neg n ON n.id = dc.doc_id",
    "segment_aspect": "JOIN doc_customers dc ON dc.segment = q.v1 "
    f"JOIN {_NEG_ASPECTS} a ON a.aspect = q.v2 AND a.doc_id = dc.doc_id "
    "JOIN neg n ON n.id = dc.doc_id",
}


@dataclass(frozen=True)
class Window:
    """One window to read: a series key (kind, value) and a day or hour range, inclusive."""

    key: tuple[str, str]
    start: date | datetime
    end: date | datetime


def _bounds(start: date | datetime, end: date | datetime) -> tuple[datetime, datetime]:
    """[first, after-last) local timestamps of a day or hour range."""
    if isinstance(start, datetime):
        return start, end + timedelta(hours=1)  # type: ignore[operator]
    return datetime.combine(start, time()), datetime.combine(end, time()) + timedelta(days=1)


def explain_docs(
    con: duckdb.DuckDBPyConnection,
    key: tuple[str, str],
    start: date | datetime,
    end: date | datetime,
    model_version: str,
    timezone: str,
    limit: int = 5000,
) -> list[ExplainDoc]:
    """The negative documents of a series key in a period (newest first, at most `limit`)."""
    return explain_docs_many(con, [Window(key, start, end)], model_version, timezone, limit)[0]


def explain_docs_many(
    con: duckdb.DuckDBPyConnection,
    windows: Sequence[Window],
    model_version: str,
    timezone: str,
    limit: int = 5000,
) -> list[list[ExplainDoc]]:
    """For each window, its negative documents, newest first (then by id), at most `limit`.

    The same as asking for each window alone, in `CHUNK` windows per query.
    """
    out: list[list[ExplainDoc]] = []
    for at in range(0, len(windows), CHUNK):
        out += _chunk(con, windows[at : at + CHUNK], model_version, timezone, limit)
    return out


def _row(w: int, window: Window) -> tuple:
    kind, value = window.key
    if kind not in _MATCH:
        raise ValueError(f"no spike series of kind {kind!r}")
    v1, v2 = split_segment_key(window.key) or (value, None)
    first, after = _bounds(window.start, window.end)
    # local_day (the load's time zone) is within two days of the local time in any zone:
    # a range DuckDB prunes by, where the time zone expression reads every row.
    lo, hi = first.date() - timedelta(days=2), after.date() + timedelta(days=2)
    return (w, kind, v1, v2, lo, hi, first, after)


def _chunk(
    con: duckdb.DuckDBPyConnection,
    windows: Sequence[Window],
    model_version: str,
    timezone: str,
    limit: int,
) -> list[list[ExplainDoc]]:
    if not windows:
        return []
    rows = [_row(w, window) for w, window in enumerate(windows)]
    cur = con.cursor()
    try:
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _explain_windows (w INTEGER, kind VARCHAR, "
            "v1 VARCHAR, v2 VARCHAR, lo DATE, hi DATE, first TIMESTAMP, after TIMESTAMP)"
        )
        cur.executemany("INSERT INTO _explain_windows VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        kinds = sorted({r[1] for r in rows})
        # One join per key kind present; every branch reads the same negative documents
        # of the chunk's day span, read once.
        branches = " UNION ALL ".join(
            f"SELECT q.w, n.id, n.created_at FROM _explain_windows q {_MATCH[kind]} "
            "WHERE q.kind = ? AND n.local_day BETWEEN q.lo AND q.hi "
            "AND timezone(?, n.created_at) >= q.first AND timezone(?, n.created_at) < q.after"
            for kind in kinds
        )
        result = cur.execute(
            "WITH neg AS MATERIALIZED ("
            " SELECT r.id, r.source, r.product, r.created_at, r.local_day "
            " FROM raw_documents r JOIN doc_texts t ON t.doc_id = r.id "
            " JOIN doc_sentiment s ON s.doc_id = r.id AND s.model_version = ? "
            " WHERE s.label = 'negative' "
            " AND r.local_day BETWEEN (SELECT min(lo) FROM _explain_windows) "
            " AND (SELECT max(hi) FROM _explain_windows)), "
            f"matched AS ({branches}), "
            "hits AS MATERIALIZED (SELECT w, id, created_at FROM matched "
            " QUALIFY row_number() OVER (PARTITION BY w ORDER BY created_at DESC, id) <= ?), "
            "ids AS MATERIALIZED (SELECT DISTINCT id FROM hits), "
            "groups AS MATERIALIZED (SELECT doc_id, group_id FROM doc_groups "
            " WHERE doc_id IN (SELECT id FROM ids)), "
            # doc_voices.size, for these groups only.
            "sizes AS (SELECT g.group_id, count(*) AS size FROM doc_groups g "
            " JOIN raw_documents r ON r.id = g.doc_id "
            " WHERE g.group_id IN (SELECT group_id FROM groups) GROUP BY g.group_id), "
            "cats AS (SELECT doc_id, list(category ORDER BY category) AS categories "
            " FROM doc_categories WHERE doc_id IN (SELECT id FROM ids) GROUP BY doc_id), "
            "asps AS (SELECT doc_id, list([aspect, polarity] ORDER BY aspect) AS aspects "
            " FROM doc_aspects WHERE doc_id IN (SELECT id FROM ids) GROUP BY doc_id), "
            "details AS (SELECT i.id, t.text_norm, th.label, c.categories, a.aspects, "
            " k.tokens, g.group_id, v.size FROM ids i JOIN doc_texts t ON t.doc_id = i.id "
            " LEFT JOIN doc_tokens k ON k.doc_id = i.id "
            " LEFT JOIN doc_themes d ON d.doc_id = i.id "
            " LEFT JOIN tracked_themes th ON th.theme_id = d.theme_id "
            " LEFT JOIN groups g ON g.doc_id = i.id "
            " LEFT JOIN sizes v ON v.group_id = g.group_id "
            " LEFT JOIN cats c ON c.doc_id = i.id "
            " LEFT JOIN asps a ON a.doc_id = i.id) "
            "SELECT h.w, d.* FROM hits h JOIN details d ON d.id = h.id "
            "ORDER BY h.w, h.created_at DESC, h.id",
            [model_version, *(v for kind in kinds for v in (kind, timezone, timezone)), limit],
        ).fetchall()
    finally:
        cur.execute("DROP TABLE IF EXISTS _explain_windows")
        cur.close()
    docs: dict[str, ExplainDoc] = {}
    out: list[list[ExplainDoc]] = [[] for _ in windows]
    for w, *r in result:
        doc = docs.get(r[0])
        if doc is None:
            doc = docs[r[0]] = ExplainDoc(
                doc_id=r[0],
                text=r[1],
                theme=r[2],
                categories=tuple(r[3] or ()),
                aspects=tuple((a[0], a[1]) for a in (r[4] or ())),
                tokens=tuple(r[5] or ()),
                group_id=r[6],
                group_size=int(r[7] or 1),
            )
        out[w].append(doc)
    return out
