-- The size each theme had when it was last checked for a split (`signals.theme_run`): a
-- theme is checked again once it has grown by `RESPLIT_GROWTH` since, not every time it
-- takes a document (re-clustering every member of every grown theme each day made the
-- themes step grow with the history). Empty here: every grown theme is checked once.
CREATE TABLE theme_split_checks (
    theme_id     VARCHAR PRIMARY KEY,  -- tracked_themes.theme_id
    n_members    INTEGER NOT NULL,     -- its size after that check
    run_id       VARCHAR NOT NULL
);
