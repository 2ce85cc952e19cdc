-- Source-specific fields (a complaint's status, a comment's parent post...), JSON scalars.
ALTER TABLE raw_documents ADD COLUMN attributes JSON;

-- Where each source's next incremental run starts.
CREATE TABLE source_state (
    source            VARCHAR PRIMARY KEY,
    watermark         TIMESTAMPTZ,          -- newest created_at landed so far
    cursor            VARCHAR,              -- a connector's resume point (helpdesk, IMAP)
    last_run_id       VARCHAR,
    last_attempt_at   TIMESTAMPTZ,
    last_success_at   TIMESTAMPTZ,
    last_error        VARCHAR,
    last_error_at     TIMESTAMPTZ,
    consecutive_failures INTEGER NOT NULL DEFAULT 0
);

-- One row per source per run: what it fetched and what landing it did.
CREATE TABLE source_runs (
    run_id          VARCHAR NOT NULL,
    source          VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,
    since           DATE,
    until           DATE,
    mode            VARCHAR NOT NULL,       -- incremental | backfill
    fetched         INTEGER NOT NULL,
    new             INTEGER NOT NULL,
    updated         INTEGER NOT NULL,
    unchanged       INTEGER NOT NULL,
    skipped         INTEGER NOT NULL,
    errors          INTEGER NOT NULL,
    empty_text      INTEGER NOT NULL,
    layout_changed  INTEGER NOT NULL,
    status          VARCHAR NOT NULL,       -- ok | partial | failed
    last_error      VARCHAR,
    seconds         DOUBLE NOT NULL,
    finished_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, source)
);

-- A source that broke: failed, suddenly yields nothing, empty texts, selectors stopped
-- matching. Open until a later healthy run of the source resolves it.
CREATE TABLE source_health_alerts (
    alert_id        VARCHAR PRIMARY KEY,
    source          VARCHAR NOT NULL,
    check_name      VARCHAR NOT NULL,       -- failed | zero_items | empty_text | layout_changed
    message         VARCHAR NOT NULL,
    observed        DOUBLE,
    expected        DOUBLE,
    run_id          VARCHAR NOT NULL,
    raised_at       TIMESTAMPTZ NOT NULL,
    resolved_run_id VARCHAR,
    resolved_at     TIMESTAMPTZ
);

-- The unmasked text of documents whose text had personal data masked, only when the
-- operator turns keep_raw_text on; kept apart so access to it can be restricted.
CREATE TABLE raw_texts_unmasked (
    doc_id      VARCHAR PRIMARY KEY,
    text        VARCHAR NOT NULL,
    stored_at   TIMESTAMPTZ NOT NULL
);
