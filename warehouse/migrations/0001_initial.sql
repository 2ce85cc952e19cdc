-- Sources land here unchanged; one row per (source, external_id).
CREATE TABLE raw_documents (
    id            VARCHAR PRIMARY KEY,
    source        VARCHAR NOT NULL,
    channel       VARCHAR NOT NULL,
    external_id   VARCHAR NOT NULL,
    author_hash   VARCHAR,
    text          VARCHAR NOT NULL,
    rating        DOUBLE,
    created_at    TIMESTAMPTZ NOT NULL,
    local_day     DATE NOT NULL,
    url           VARCHAR,
    product       VARCHAR,
    brand         VARCHAR,
    content_hash  VARCHAR NOT NULL,
    repost_count  INTEGER,
    comment_count INTEGER,
    first_run_id  VARCHAR NOT NULL,
    last_run_id   VARCHAR NOT NULL,
    UNIQUE (source, external_id)
);
CREATE INDEX raw_documents_day ON raw_documents (local_day);

-- Normalised text; duplicate_of points at the earliest document with the same normalised text.
CREATE TABLE doc_texts (
    doc_id        VARCHAR PRIMARY KEY,
    text_norm     VARCHAR NOT NULL,
    norm_hash     VARCHAR NOT NULL,
    duplicate_of  VARCHAR,
    tokens        VARCHAR[]
);
CREATE INDEX doc_texts_hash ON doc_texts (norm_hash);

CREATE TABLE doc_sentiment (
    doc_id        VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    label         VARCHAR NOT NULL,
    score         DOUBLE NOT NULL,
    scored_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (doc_id, model_version)
);

-- Themes v1 are rediscovered each run over the negative documents (full refresh).
CREATE TABLE complaint_themes (
    theme_id      VARCHAR PRIMARY KEY,
    label         VARCHAR NOT NULL,
    keywords      VARCHAR[] NOT NULL,
    size          INTEGER NOT NULL,
    example_ids   VARCHAR[] NOT NULL,
    model_version VARCHAR NOT NULL,
    run_id        VARCHAR NOT NULL
);

CREATE TABLE doc_themes (
    doc_id        VARCHAR PRIMARY KEY,
    theme_id      VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL
);

CREATE TABLE daily_source_stats (
    local_day     DATE NOT NULL,
    source        VARCHAR NOT NULL,
    channel       VARCHAR NOT NULL,
    n_docs        INTEGER NOT NULL,
    n_negative    INTEGER NOT NULL,
    n_positive    INTEGER NOT NULL,
    negative_share DOUBLE NOT NULL,
    PRIMARY KEY (local_day, source)
);

CREATE TABLE spike_alerts (
    alert_id      VARCHAR PRIMARY KEY,
    source        VARCHAR NOT NULL,
    local_day     DATE NOT NULL,
    metric        VARCHAR NOT NULL,
    observed      DOUBLE NOT NULL,
    expected      DOUBLE NOT NULL,
    ratio         DOUBLE NOT NULL,
    z_score       DOUBLE NOT NULL,
    baseline_days INTEGER NOT NULL,
    theme_id      VARCHAR,
    theme_label   VARCHAR,
    theme_keywords VARCHAR[],
    theme_doc_count INTEGER,
    run_id        VARCHAR NOT NULL,
    UNIQUE (source, local_day, metric)
);

CREATE TABLE run_log (
    run_id        VARCHAR PRIMARY KEY,
    flow          VARCHAR NOT NULL,
    since         DATE,
    until         DATE,
    started_at    TIMESTAMPTZ NOT NULL,
    ended_at      TIMESTAMPTZ,
    status        VARCHAR NOT NULL
);

CREATE TABLE run_stages (
    run_id        VARCHAR NOT NULL,
    stage         VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    n_in          INTEGER NOT NULL,
    n_out         INTEGER NOT NULL,
    n_skipped     INTEGER NOT NULL,
    n_errors      INTEGER NOT NULL,
    seconds       DOUBLE NOT NULL,
    PRIMARY KEY (run_id, stage, source)
);

CREATE TABLE run_errors (
    run_id        VARCHAR NOT NULL,
    stage         VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    message       VARCHAR NOT NULL,
    logged_at     TIMESTAMPTZ NOT NULL
);
