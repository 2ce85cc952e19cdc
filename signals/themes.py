"""Theme tracking over the warehouse: assign new documents, let themes be born, split and
merge, then refresh every theme's statistics."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nlp.theme_tracker import TRACKER_VERSION, ThemeEvent, split_themes, track_themes
from nlp.themes import default_theme_stopwords
from voc.stages import StageSpec
from warehouse import themes
from warehouse.db import warehouse

#: Theme assignment keeps per-document results under the stages' rule: a document whose
#: tokens or sentiment changed is assigned again.
THEME_SPEC = StageSpec("themes", TRACKER_VERSION, after=("segment", "sentiment"))

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
    exclude = default_theme_stopwords() | {b.lower() for b in brands}
    with warehouse(db_path) as con:
        df = themes.idf_sample(con)
    update = ThemeUpdate()
    # Track, then split; a split theme may take documents nothing took before, so track
    # again until no split happens: a re-run of the same data then has nothing to do.
    for _ in range(3):
        with warehouse(db_path) as con:
            existing = themes.load_tracked_themes(con)
            candidates = themes.select_theme_candidates(
                con, THEME_SPEC, prints, model_version, WINDOW_DAYS, max_docs
            )
        result = track_themes(existing, candidates, [], run_id, exclude=exclude, df=df)
        update.n_candidates = max(update.n_candidates, len(candidates))
        update.n_assigned += len(result.assignments)
        with warehouse(db_path) as con:
            themes.save_tracking(con, result, run_id, THEME_SPEC, prints)
            members = themes.theme_members(con)
            live = themes.load_tracked_themes(con)
        split = split_themes(live, members, run_id, exclude=exclude, df=df)
        update.events += result.events + split.events
        if not split.events:
            break
        with warehouse(db_path) as con:
            themes.save_tracking(con, split, run_id)
    with warehouse(db_path) as con:
        update.n_live = themes.refresh_theme_stats(con, model_version, run_id, exclude=exclude)
    return update
