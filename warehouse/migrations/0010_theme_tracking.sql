-- Complaint themes v2 (nlp.theme_tracker): themes keep their id across runs.
CREATE TABLE tracked_themes (
    theme_id       VARCHAR PRIMARY KEY,
    centroid       JSON NOT NULL,             -- term -> weight, the theme's stable centre
    n_members      INTEGER NOT NULL,          -- documents assigned so far
    keywords       VARCHAR[] NOT NULL,
    key_phrases    VARCHAR[] NOT NULL,
    label          VARCHAR NOT NULL,
    n_docs         INTEGER NOT NULL,          -- documents now in the theme
    n_negative     INTEGER NOT NULL,
    negativity     DOUBLE NOT NULL,           -- share of its documents scored negative
    first_seen     DATE,
    last_seen      DATE,
    state          VARCHAR NOT NULL,          -- new | growing | recurring | fading | resolved
    born_run_id    VARCHAR NOT NULL,
    updated_run_id VARCHAR NOT NULL,
    merged_into    VARCHAR                    -- set when a merge retired this theme
);

-- Births and merges, per run.
CREATE TABLE theme_events (
    run_id          VARCHAR NOT NULL,
    event           VARCHAR NOT NULL,         -- born | merged
    theme_id        VARCHAR NOT NULL,
    other_theme_id  VARCHAR,
    n_docs          INTEGER NOT NULL,
    happened_at     TIMESTAMPTZ NOT NULL
);

ALTER TABLE doc_themes ADD COLUMN similarity DOUBLE;
