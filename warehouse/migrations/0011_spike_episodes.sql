-- Spikes v2 (nlp.spikes): one row per episode (one open alert per spike), any series key.
CREATE TABLE spike_episodes (
    episode_id      VARCHAR PRIMARY KEY,      -- stable across re-runs (key, metric, start)
    key_kind        VARCHAR NOT NULL,         -- source | product | category | theme | aspect
    key_value       VARCHAR NOT NULL,
    granularity     VARCHAR NOT NULL,         -- day | hour
    metric          VARCHAR NOT NULL,         -- negative_volume | negative_share
    start_period    TIMESTAMP NOT NULL,       -- local time (a day starts at 00:00)
    end_period      TIMESTAMP NOT NULL,
    peak_period     TIMESTAMP NOT NULL,
    observed        DOUBLE NOT NULL,
    expected        DOUBLE NOT NULL,
    ratio           DOUBLE NOT NULL,
    statistic       DOUBLE NOT NULL,
    p_value         DOUBLE NOT NULL,
    baseline_start  TIMESTAMP NOT NULL,
    baseline_end    TIMESTAMP NOT NULL,
    severity        VARCHAR NOT NULL,
    is_open         BOOLEAN NOT NULL,
    n_alerts        INTEGER NOT NULL,
    explanation     JSON NOT NULL,            -- drivers and verbatims (nlp.explain)
    run_id          VARCHAR NOT NULL
);
