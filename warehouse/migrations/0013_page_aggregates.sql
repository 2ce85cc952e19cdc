-- Daily aggregates behind the dashboard's pages (warehouse.pages), refreshed by the flow
-- (warehouse.aggregates) after themes and emotion are written. Counts leave exact duplicates
-- out and use one sentiment model (agg_state.sentiment_model); a page reads them only while
-- agg_state matches the warehouse's current models, else it counts from the base tables.
-- product and brand are dimensions everywhere so their filters stay on the fast path.

-- Documents per day, source, product and brand.
CREATE TABLE agg_daily_docs (
    local_day        DATE NOT NULL,
    source           VARCHAR NOT NULL,
    channel          VARCHAR NOT NULL,
    product          VARCHAR,
    brand            VARCHAR,
    n_docs           INTEGER NOT NULL,
    n_negative       INTEGER NOT NULL,
    n_neutral        INTEGER NOT NULL,
    n_positive       INTEGER NOT NULL,
    n_low_confidence INTEGER NOT NULL,        -- abs(score - 0.5) < agg_state.low_confidence_margin
    n_emotion        INTEGER NOT NULL,        -- with an emotion of agg_state.emotion_model
    n_anger          INTEGER NOT NULL,        -- of those, labelled anger
    n_social         INTEGER NOT NULL
);

-- Theme members per day (doc_themes), with their negatives.
CREATE TABLE agg_daily_themes (
    local_day   DATE NOT NULL,
    theme_id    VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    channel     VARCHAR NOT NULL,
    product     VARCHAR,
    brand       VARCHAR,
    n_docs      INTEGER NOT NULL,
    n_negative  INTEGER NOT NULL
);

-- Curated categories per day (doc_categories; a document counts once per category).
CREATE TABLE agg_daily_categories (
    local_day   DATE NOT NULL,
    category    VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    channel     VARCHAR NOT NULL,
    product     VARCHAR,
    brand       VARCHAR,
    n_docs      INTEGER NOT NULL,
    n_negative  INTEGER NOT NULL
);

-- Aspect polarity of theme members per day (agg_state.aspect_model, as v_aspects shows).
CREATE TABLE agg_daily_theme_aspects (
    local_day   DATE NOT NULL,
    theme_id    VARCHAR NOT NULL,
    aspect      VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    channel     VARCHAR NOT NULL,
    product     VARCHAR,
    brand       VARCHAR,
    n_positive  INTEGER NOT NULL,
    n_neutral   INTEGER NOT NULL,
    n_negative  INTEGER NOT NULL
);

-- Social documents per local hour (agg_state.timezone).
CREATE TABLE agg_hourly_social (
    local_day   DATE NOT NULL,
    hour        TIMESTAMP NOT NULL,
    source      VARCHAR NOT NULL,
    channel     VARCHAR NOT NULL,
    product     VARCHAR,
    brand       VARCHAR,
    n_docs      INTEGER NOT NULL,
    n_negative  INTEGER NOT NULL
);

-- Per day, a fingerprint of what the aggregates were computed from: a day whose
-- fingerprint changes (a document added, edited, moved, re-themed, newly duplicated) is
-- recomputed by the next refresh.
CREATE TABLE agg_day_fingerprints (
    local_day    DATE PRIMARY KEY,
    n_rows       BIGINT NOT NULL,
    fingerprint  HUGEINT NOT NULL
);

-- What the aggregates were computed with; one row.
CREATE TABLE agg_state (
    id                     INTEGER PRIMARY KEY CHECK (id = 1),
    sentiment_model        VARCHAR,
    emotion_model          VARCHAR,
    aspect_model           VARCHAR,
    timezone               VARCHAR NOT NULL,
    low_confidence_margin  DOUBLE NOT NULL,
    refreshed_at           TIMESTAMPTZ NOT NULL,
    watermark              TIMESTAMPTZ NOT NULL,  -- enrichments scored after it are new
    base_rows              JSON NOT NULL,         -- row counts of the base tables then
    n_days_refreshed       INTEGER NOT NULL,
    full_rebuild           BOOLEAN NOT NULL,
    seconds                DOUBLE NOT NULL
);
