-- The last delivery outcome of each alert on each channel. `sent` is final: the alert id
-- stays the same while its spike is open, so a re-run of the daily flow skips the pair.
-- `held` (quiet hours) and `failed` rows are retried by the next delivery run.
CREATE TABLE alert_deliveries (
    alert_id  VARCHAR NOT NULL,
    channel   VARCHAR NOT NULL,
    status    VARCHAR NOT NULL CHECK (status IN ('sent', 'failed', 'held', 'skipped')),
    attempts  INTEGER NOT NULL,
    error     VARCHAR,
    "at"      TIMESTAMPTZ NOT NULL, -- quoted: AT is a keyword in DuckDB
    PRIMARY KEY (alert_id, channel)
);
