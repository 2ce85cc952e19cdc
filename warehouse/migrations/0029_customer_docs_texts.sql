-- A customer's timeline from one table: each linked document with what the timeline
-- shows (time, source, channel, the segment then, the current model's label, the stored
-- text and link), sorted by customer. Reading the base tables by id costs a key-index
-- load on every new read-only connection (a few hundred milliseconds at millions of
-- documents); one customer's rows here sit in one or two row groups.
DROP TABLE agg_customer_docs;
CREATE TABLE agg_customer_docs (
    customer_id  VARCHAR NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    doc_id       VARCHAR NOT NULL,
    segment      VARCHAR,
    local_day    DATE NOT NULL,
    source       VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,
    sentiment    VARCHAR,                -- agg_customer_state.sentiment_model's label
    text         VARCHAR NOT NULL,
    url          VARCHAR
);

-- The timeline no longer reads labels by id: the index an earlier build made for that
-- only slowed every label write.
DROP INDEX IF EXISTS doc_sentiment_doc;

-- Empty until the next refresh: the page reads the base tables meanwhile.
DELETE FROM agg_customer_state;
