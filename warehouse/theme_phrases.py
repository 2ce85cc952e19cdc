"""Per-theme phrase counts, kept in step with `doc_themes` run by run.

Each themed document's phrases are stored with the theme and tokens they were counted
with; a refresh subtracts the documents whose theme or tokens changed (or that are gone),
adds the new ones, and leaves the rest alone. Key phrases are then ranked from the counts
(`signals.theme_phrases.rank_key_phrases`) without reading any member's tokens.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from warehouse.db import register_frame, transaction

# The themed documents as the statistics count them, with what their phrases depend on.
_CURRENT = (
    "SELECT d.doc_id, d.theme_id, hash(coalesce(t.tokens, []::VARCHAR[])) AS tokens_hash "
    "FROM doc_themes d JOIN raw_documents r ON r.id = d.doc_id "
    "LEFT JOIN doc_tokens t ON t.doc_id = d.doc_id"
)
_SAME = "c.doc_id = l.doc_id AND c.theme_id = l.theme_id AND c.tokens_hash = l.tokens_hash"


@dataclass(frozen=True, slots=True)
class PhraseCounts:
    """What key phrases are ranked from.

    Attributes:
        counts: theme_id → phrase → documents, phrases in at least `min_count` documents.
        totals: theme_id → the sum of all its phrase counts.
        spread: phrase (of `counts`) → themes with it in at least one document.
        n_themes: Themes with at least one counted document.
    """

    counts: dict[str, dict[str, int]]
    totals: dict[str, int]
    spread: dict[str, int]
    n_themes: int


def refresh_phrase_counts(
    con: duckdb.DuckDBPyConnection,
    phrases_of: Callable[[Sequence[str]], Collection[str]],
    basis: str,
) -> int:
    """Bring `theme_phrase_counts` in line with `doc_themes`, in one transaction.

    Args:
        con: Writable warehouse connection.
        phrases_of: One document's phrases from its tokens.
        basis: Names what `phrases_of` depends on (excluded words); a different basis
            from the stored one counts every document again.

    Returns:
        Documents counted by this call.
    """
    with transaction(con):
        stored = con.execute("SELECT basis FROM theme_phrase_basis").fetchone()
        if stored is None or stored[0] != basis:
            for table in ("theme_doc_phrases", "theme_phrase_counts", "theme_phrase_basis"):
                con.execute(f"DELETE FROM {table}")
            con.execute("INSERT INTO theme_phrase_basis VALUES (?)", [basis])
        con.execute(f"CREATE OR REPLACE TEMP TABLE current_theme_docs AS {_CURRENT}")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE phrase_deltas AS SELECT l.theme_id, "
            "unnest(l.phrases) AS phrase, -1 AS delta FROM theme_doc_phrases l "
            f"WHERE NOT EXISTS (SELECT 1 FROM current_theme_docs c WHERE {_SAME})"
        )
        con.execute(
            "DELETE FROM theme_doc_phrases l "
            f"WHERE NOT EXISTS (SELECT 1 FROM current_theme_docs c WHERE {_SAME})"
        )
        fresh = con.execute(
            "SELECT c.doc_id, c.theme_id, c.tokens_hash, coalesce(t.tokens, []::VARCHAR[]) "
            "FROM current_theme_docs c LEFT JOIN doc_tokens t ON t.doc_id = c.doc_id "
            "WHERE c.doc_id NOT IN (SELECT doc_id FROM theme_doc_phrases) ORDER BY c.doc_id"
        ).fetchall()
        if fresh:
            frame = pa.table(
                {
                    "doc_id": [d for d, *_ in fresh],
                    "theme_id": [t for _, t, *_ in fresh],
                    "tokens_hash": pa.array([h for *_, h, _ in fresh], pa.uint64()),
                    "phrases": pa.array(
                        [sorted(phrases_of(tokens)) for *_, tokens in fresh],
                        pa.list_(pa.string()),
                    ),
                }
            )
            register_frame(con, "fresh_doc_phrases", frame)
            try:
                con.execute("INSERT INTO theme_doc_phrases SELECT * FROM fresh_doc_phrases")
                con.execute(
                    "INSERT INTO phrase_deltas SELECT theme_id, unnest(phrases), 1 "
                    "FROM fresh_doc_phrases"
                )
            finally:
                con.unregister("fresh_doc_phrases")
        _apply_deltas(con)
    return len(fresh)


def _apply_deltas(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE phrase_sums AS SELECT theme_id, phrase, "
        "sum(delta)::INTEGER AS delta FROM phrase_deltas GROUP BY theme_id, phrase "
        "HAVING sum(delta) <> 0"
    )
    con.execute(
        "UPDATE theme_phrase_counts p SET n_docs = p.n_docs + s.delta FROM phrase_sums s "
        "WHERE p.theme_id = s.theme_id AND p.phrase = s.phrase"
    )
    con.execute(
        "INSERT INTO theme_phrase_counts SELECT s.theme_id, s.phrase, s.delta FROM phrase_sums s "
        "ANTI JOIN theme_phrase_counts p ON p.theme_id = s.theme_id AND p.phrase = s.phrase"
    )
    con.execute("DELETE FROM theme_phrase_counts WHERE n_docs <= 0")
    for table in ("phrase_sums", "phrase_deltas", "current_theme_docs"):
        con.execute(f"DROP TABLE {table}")


def load_phrase_counts(con: duckdb.DuckDBPyConnection, min_count: int = 2) -> PhraseCounts:
    """The counts key phrases are ranked from (phrases in fewer than `min_count` documents
    of a theme count towards its total and their spread only)."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for theme_id, phrase, n in con.execute(
        "SELECT theme_id, phrase, n_docs FROM theme_phrase_counts WHERE n_docs >= ?", [min_count]
    ).fetchall():
        counts[theme_id][phrase] = n
    totals = dict(
        con.execute(
            "SELECT theme_id, sum(n_docs)::BIGINT FROM theme_phrase_counts GROUP BY theme_id"
        ).fetchall()
    )
    spread = dict(
        con.execute(
            "SELECT phrase, count(*) FROM theme_phrase_counts WHERE phrase IN "
            "(SELECT phrase FROM theme_phrase_counts WHERE n_docs >= ?) GROUP BY phrase",
            [min_count],
        ).fetchall()
    )
    n_themes = con.execute(
        "SELECT count(DISTINCT d.theme_id) FROM doc_themes d "
        "JOIN raw_documents r ON r.id = d.doc_id"
    ).fetchone()[0]
    return PhraseCounts(dict(counts), totals, spread, n_themes)
