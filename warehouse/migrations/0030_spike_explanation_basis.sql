-- What each stored episode's explanation was computed from (`signals.spike_run.
-- episode_basis`): a later run reuses the stored explanation of a closed episode whose
-- basis is unchanged instead of reading its documents again, so the cost of a run follows
-- the new data, not the warehouse's history. Rewritten with spike_episodes.
CREATE TABLE spike_explanation_basis (
    episode_id  VARCHAR PRIMARY KEY,   -- spike_episodes.episode_id
    basis       VARCHAR NOT NULL
);
