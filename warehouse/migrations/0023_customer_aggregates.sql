-- The 客户 page's aggregates (warehouse.customer_aggregates), rebuilt by the flow after the
-- page aggregates. A page reads them only while agg_customer_state matches the warehouse's
-- current models and base row counts, else it computes the same rows from the base tables.

-- Voices per local day and customer, with the segment attributes of that day: distinct
-- documents only, sentiment of agg_customer_state.sentiment_model.
CREATE TABLE agg_customer_voices (
    local_day    DATE NOT NULL,
    customer_id  VARCHAR NOT NULL,
    segment      VARCHAR,
    province     VARCHAR,
    city         VARCHAR,
    acquisition  VARCHAR,
    owner        VARCHAR,
    n_voices     INTEGER NOT NULL,
    n_negative   INTEGER NOT NULL,
    n_scored     INTEGER NOT NULL,        -- with a sentiment (the negative share's base)
    last_at      TIMESTAMPTZ NOT NULL
);

-- What each survey answer mentions: its theme, its negatively judged aspects (of
-- agg_customer_state.aspect_model) and its categories (an exact duplicate reads its
-- original's).
CREATE TABLE agg_survey_mentions (
    response_id  VARCHAR NOT NULL,
    doc_id       VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,        -- theme | aspect | category
    value        VARCHAR NOT NULL
);

-- What the two tables were computed with; one row.
CREATE TABLE agg_customer_state (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    sentiment_model  VARCHAR,
    aspect_model     VARCHAR,
    base_rows        JSON NOT NULL,
    refreshed_at     TIMESTAMPTZ NOT NULL,
    seconds          DOUBLE NOT NULL
);
