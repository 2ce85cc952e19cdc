-- What the last spike run judged, so the next one judges only what changed
-- (`signals.spike_delta`): each series' counts by period as judged, every alert found, and
-- the fingerprint of the scoring (model, detector parameters, time zone). A run whose
-- fingerprint differs starts from scratch.
CREATE TABLE spike_scored_counts (
    key_kind    VARCHAR NOT NULL,
    key_value   VARCHAR NOT NULL,
    granularity VARCHAR NOT NULL,      -- 'day' | 'hour'
    period      TIMESTAMP NOT NULL,    -- the day at midnight, or the local hour
    n_docs      INTEGER NOT NULL,
    n_negative  INTEGER NOT NULL
);

CREATE TABLE spike_period_alerts (
    key_kind       VARCHAR NOT NULL,
    key_value      VARCHAR NOT NULL,
    granularity    VARCHAR NOT NULL,
    metric         VARCHAR NOT NULL,
    period_start   TIMESTAMP NOT NULL,
    window_start   TIMESTAMP NOT NULL,
    observed       DOUBLE NOT NULL,
    expected       DOUBLE NOT NULL,
    ratio          DOUBLE NOT NULL,
    statistic      DOUBLE NOT NULL,
    p_value        DOUBLE NOT NULL,
    n_docs         INTEGER NOT NULL,
    n_negative     INTEGER NOT NULL,
    baseline_start TIMESTAMP NOT NULL,
    baseline_end   TIMESTAMP NOT NULL,
    dispersion     DOUBLE NOT NULL,
    severity       VARCHAR NOT NULL
);

CREATE TABLE spike_scoring_state (
    fingerprint VARCHAR NOT NULL,
    run_id      VARCHAR NOT NULL,
    scored_at   TIMESTAMPTZ NOT NULL
);
