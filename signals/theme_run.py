"""Theme tracking over the warehouse: assign new documents, let themes be born, split and
merge, then refresh every theme's statistics."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from threadpoolctl import threadpool_limits

from signals.theme_discovery import default_theme_stopwords
from signals.theme_phrases import doc_phrases, rank_key_phrases
from signals.theme_stats import summarise_themes
from signals.theme_tracker import (
    TRACKER_VERSION,
    document_frequencies,
    split_themes,
    track_themes,
)
from voc.signals import ThemeEvent
from voc.stages import StageSpec
from warehouse import theme_phrases, themes
from warehouse.db import Connection, warehouse

#: Theme assignment keeps per-document results under the stages' rule: a document whose
#: tokens or sentiment changed is assigned again.
THEME_SPEC = StageSpec("themes", TRACKER_VERSION, after=("segment", "sentiment"))

#: Tracking passes per run (each but the last followed by a split check).
TRACK_PASSES = 4

#: The rule of `signals.theme_phrases.doc_phrases`: another version counts every themed
#: document's phrases again.
PHRASES_VERSION = "phrases-v1"

#: Days of data new documents are drawn from.
WINDOW_DAYS = 180


@dataclass
class ThemeUpdate:
    """What `update_themes` did."""

    n_candidates: int = 0
    n_assigned: int = 0
    n_live: int = 0
    events: list[ThemeEvent] = field(default_factory=list)


def update_themes(
    db_path: Path,
    prints: Mapping[str, str],
    model_version: str,
    max_docs: int,
    run_id: str,
    brands: Collection[str] = (),
) -> ThemeUpdate:
    """Assign new documents to the tracked themes, let new themes be born, merge close
    ones, and refresh every theme's label, size, negativity and lifecycle state.

    Args:
        db_path: The warehouse.
        prints: Stage fingerprints, `THEME_SPEC` included.
        model_version: The sentiment model whose labels count.
        max_docs: Newest candidate documents read per pass.
        run_id: Recorded with births, merges and splits.
        brands: Brand names, never a theme's key phrase.
    """
    # Birth and split clustering factor matrices of a few thousand rows, one per theme: with
    # two BLAS/OpenMP threads on two busy cores the threads wait on each other (the SVD of
    # a 1,721-member theme: 7.7 s, on one thread 0.72 s). The BLAS thread count changes the
    # last bits of an SVD, so a theme of under ~100 members (nearly every component kept)
    # may halve differently than on two threads, as it already does between machines.
    with threadpool_limits(limits=1):
        return _update_themes(db_path, prints, model_version, max_docs, run_id, brands)


def _update_themes(
    db_path: Path,
    prints: Mapping[str, str],
    model_version: str,
    max_docs: int,
    run_id: str,
    brands: Collection[str],
) -> ThemeUpdate:
    exclude = default_theme_stopwords() | {b.lower() for b in brands}
    with warehouse(db_path) as con:
        counts, n = document_frequencies(themes.recent_token_lists(con))
    df = (dict(counts), n)
    update = ThemeUpdate()
    # Track, then split; a split theme may take documents nothing took before, so track
    # again until no split happens. The last pass only tracks: a run never ends on a split
    # whose documents are left for the next run (a re-run of the same data has nothing to do).
    for done in range(1, TRACK_PASSES + 1):
        with warehouse(db_path) as con:
            existing = themes.load_tracked_themes(con)
            candidates = themes.select_theme_candidates(
                con, THEME_SPEC, prints, model_version, WINDOW_DAYS, max_docs
            )
        result = track_themes(existing, candidates, [], run_id, exclude=exclude, df=df)
        update.n_candidates = max(update.n_candidates, len(candidates))
        update.n_assigned += len(result.assignments)
        with warehouse(db_path) as con:
            themes.save_tracking(con, result, run_id, TRACKER_VERSION, THEME_SPEC, prints)
            if done == TRACK_PASSES:
                update.events += result.events
                break
            # Only themes that took documents in this pass can have become two topics:
            # the rest were checked when they last grew (a day's run reads what it added).
            grown = {theme_id for theme_id, _ in result.assignments.values()}
            members = themes.theme_members(con, grown | set(result.merged.values()))
            live = themes.load_tracked_themes(con)
        split = split_themes(live, members, run_id, exclude=exclude, df=df)
        update.events += result.events + split.events
        if not split.events:
            break
        with warehouse(db_path) as con:
            themes.save_tracking(con, split, run_id, TRACKER_VERSION, THEME_SPEC, prints)
    with warehouse(db_path) as con:
        update.n_live = refresh_theme_stats(con, model_version, run_id, exclude)
    return update


def refresh_theme_stats(
    con: Connection,
    model_version: str,
    run_id: str,
    exclude: Collection[str] = frozenset(),
) -> int:
    """Recompute every live theme's label, key phrases, size, negativity, first/last seen
    and lifecycle state (as of the newest day of data), and rewrite `complaint_themes`.
    Words in `exclude` (brand names) never appear in key phrases.

    Only the documents whose theme or tokens changed since the last run are read: key
    phrases come from per-theme phrase counts kept in step with the theme links, the rest
    from one grouped scan of the links; the result is `theme_stats` over every member.

    Returns:
        The number of live themes.
    """
    excluded = frozenset(exclude)
    theme_phrases.refresh_phrase_counts(
        con, lambda tokens: doc_phrases(tokens, excluded), _phrase_basis(excluded)
    )
    counts = theme_phrases.load_phrase_counts(con)
    phrases = rank_key_phrases(counts.counts, counts.totals, counts.spread, counts.n_themes)
    days = themes.theme_days(con, model_version)
    stats = summarise_themes(
        days.live, days.daily, days.negatives, days.examples, phrases, days.keywords, days.newest
    )
    themes.save_theme_stats(con, stats, TRACKER_VERSION, run_id)
    return len(days.live)


def _phrase_basis(exclude: Collection[str]) -> str:
    words = "\n".join(sorted(exclude))
    return f"{PHRASES_VERSION}:{hashlib.sha1(words.encode()).hexdigest()}"
