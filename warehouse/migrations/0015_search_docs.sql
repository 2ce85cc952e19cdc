-- Explore's search table (warehouse.aggregates.SEARCH): one row per distinct document with
-- everything a search filters, sorts and shows, so a search over millions of documents is
-- one scan of one table instead of joins of four. Refreshed with the other aggregates (only
-- the days that changed); read only while agg_state matches the current models.
CREATE TABLE agg_search_docs (
    local_day   DATE NOT NULL,
    doc_id      VARCHAR NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    source      VARCHAR NOT NULL,
    channel     VARCHAR NOT NULL,
    product     VARCHAR,
    brand       VARCHAR,
    text        VARCHAR NOT NULL,             -- doc_texts.text_norm
    sentiment   VARCHAR,                      -- agg_state.sentiment_model's label
    score       DOUBLE,
    url         VARCHAR,
    n_docs      INTEGER NOT NULL              -- always 1 (the aggregates' measure)
);

-- Rebuild every aggregate at the next refresh, so the new table is filled.
DELETE FROM agg_state;

-- v_documents without grouping every category row first: the categories of a document
-- are looked up for the rows a query keeps (same columns as in 0012).
CREATE OR REPLACE VIEW v_documents AS
WITH current_model AS (
    SELECT model_version FROM doc_sentiment ORDER BY scored_at DESC, model_version LIMIT 1
)
SELECT
    r.id,
    r.source,
    r.channel,
    r.local_day,
    r.created_at,
    r.text,
    r.rating,
    r.product,
    r.brand,
    t.duplicate_of,
    s.label                                               AS sentiment,
    s.score                                               AS sentiment_score,
    d.theme_id,
    coalesce(tt.label, ct.label)                          AS theme,
    coalesce(
        (SELECT list(c.category ORDER BY c.category) FROM doc_categories c WHERE c.doc_id = r.id),
        []::VARCHAR[]
    )                                                     AS categories
FROM raw_documents r
LEFT JOIN doc_texts t ON t.doc_id = r.id
LEFT JOIN doc_sentiment s
    ON s.doc_id = coalesce(t.duplicate_of, r.id)
    AND s.model_version = (SELECT model_version FROM current_model)
LEFT JOIN doc_themes d ON d.doc_id = r.id
LEFT JOIN tracked_themes tt ON tt.theme_id = d.theme_id
LEFT JOIN complaint_themes ct ON ct.theme_id = d.theme_id;
