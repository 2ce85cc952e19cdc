-- Whole-history totals of the 客户 page, refreshed with agg_customer_voices: per customer
-- (attributes of their latest voice) and per customer and segment at the time of the
-- voices. A period that covers all history reads these instead of grouping every
-- customer's days (about a second at a million customers).
CREATE TABLE agg_customer_totals (
    customer_id  VARCHAR NOT NULL,
    segment      VARCHAR,
    province     VARCHAR,
    city         VARCHAR,
    acquisition  VARCHAR,
    owner        VARCHAR,
    n_voices     INTEGER NOT NULL,
    n_negative   INTEGER NOT NULL,
    n_scored     INTEGER NOT NULL,
    last_day     DATE NOT NULL,
    last_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE agg_customer_segment_totals (
    customer_id  VARCHAR NOT NULL,
    segment      VARCHAR,
    province     VARCHAR,
    city         VARCHAR,
    acquisition  VARCHAR,
    owner        VARCHAR,
    n_voices     INTEGER NOT NULL,
    n_negative   INTEGER NOT NULL,
    n_scored     INTEGER NOT NULL,
    last_day     DATE NOT NULL,
    last_at      TIMESTAMPTZ NOT NULL
);

-- Each customer's documents by time (sorted by customer, so one customer's rows sit in
-- one or two row groups): the newest voices of a customer without reading all documents.
CREATE TABLE agg_customer_docs (
    customer_id  VARCHAR NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    doc_id       VARCHAR NOT NULL,
    segment      VARCHAR
);

-- The new tables are empty: the page reads the base tables until the next refresh.
DELETE FROM agg_customer_state;
