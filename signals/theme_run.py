"""Theme tracking over the warehouse: assign new documents, let themes be born, split and
merge, then refresh every theme's statistics."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
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
from voc.signals import ThemeEvent, TrackedTheme
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

#: A theme is checked for a split again once it has grown by this share since its last
#: check: its 2-means halves change little before that, and checking every theme that took
#: a document re-clustered nearly all themed history every day (128 s of a 20k-document
#: day on a 200k-document warehouse).
RESPLIT_GROWTH = 0.1

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
            live = themes.load_tracked_themes(con)
            due = split_due(live, grown, set(result.merged.values()), themes.split_check_sizes(con))
            members = themes.theme_members(con, due)
        split = split_themes(live, members, run_id, exclude=exclude, df=df)
        update.events += result.events + split.events
        born = {e.theme_id for e in split.events}
        checked = {t.theme_id: t.n_members for t in split.themes if t.theme_id in due | born}
        with warehouse(db_path) as con:
            if split.events:
                themes.save_tracking(con, split, run_id, TRACKER_VERSION, THEME_SPEC, prints)
            themes.record_split_checks(con, checked, run_id)
        if not split.events:
            break
    with warehouse(db_path) as con:
        update.n_live = refresh_theme_stats(con, model_version, run_id, exclude)
    return update


def split_due(
    live: Sequence[TrackedTheme],
    grown: Collection[str],
    merged_into: Collection[str],
    checked: Mapping[str, int],
) -> set[str]:
    """The themes to check for a split: those that took documents and have grown by
    `RESPLIT_GROWTH` since their last check (or were never checked), and every theme that
    absorbed another."""
    return {
        t.theme_id
        for t in live
        if t.theme_id in merged_into
        or (
            t.theme_id in grown
            and (
                t.theme_id not in checked
                or t.n_members >= round(checked[t.theme_id] * (1 + RESPLIT_GROWTH), 6)
            )
        )
    }


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
