-- Segment as a dimension everywhere (客户细分): the segment attributes a voice's customer
-- had on its local day (doc_customers, migration 0020) reach the page aggregates, Explore's
-- search table and the query views. NULL = the document is not linked to a customer.

-- Segment, province, city and owner are dimensions of every daily aggregate (at 5 M
-- documents, 30 % linked: agg_daily_docs 2.28 M → 3.18 M rows; warehouse.aggregates).
ALTER TABLE agg_daily_docs ADD COLUMN segment VARCHAR;
ALTER TABLE agg_daily_docs ADD COLUMN province VARCHAR;
ALTER TABLE agg_daily_docs ADD COLUMN city VARCHAR;
ALTER TABLE agg_daily_docs ADD COLUMN owner VARCHAR;
ALTER TABLE agg_daily_themes ADD COLUMN segment VARCHAR;
ALTER TABLE agg_daily_themes ADD COLUMN province VARCHAR;
ALTER TABLE agg_daily_themes ADD COLUMN city VARCHAR;
ALTER TABLE agg_daily_themes ADD COLUMN owner VARCHAR;
ALTER TABLE agg_daily_categories ADD COLUMN segment VARCHAR;
ALTER TABLE agg_daily_categories ADD COLUMN province VARCHAR;
ALTER TABLE agg_daily_categories ADD COLUMN city VARCHAR;
ALTER TABLE agg_daily_categories ADD COLUMN owner VARCHAR;
ALTER TABLE agg_daily_theme_aspects ADD COLUMN segment VARCHAR;
ALTER TABLE agg_daily_theme_aspects ADD COLUMN province VARCHAR;
ALTER TABLE agg_daily_theme_aspects ADD COLUMN city VARCHAR;
ALTER TABLE agg_daily_theme_aspects ADD COLUMN owner VARCHAR;
ALTER TABLE agg_hourly_social ADD COLUMN segment VARCHAR;
ALTER TABLE agg_hourly_social ADD COLUMN province VARCHAR;
ALTER TABLE agg_hourly_social ADD COLUMN city VARCHAR;
ALTER TABLE agg_hourly_social ADD COLUMN owner VARCHAR;

-- One row per document: every customer column costs no rows here.
ALTER TABLE agg_search_docs ADD COLUMN customer_id VARCHAR;
ALTER TABLE agg_search_docs ADD COLUMN segment VARCHAR;
ALTER TABLE agg_search_docs ADD COLUMN province VARCHAR;
ALTER TABLE agg_search_docs ADD COLUMN city VARCHAR;
ALTER TABLE agg_search_docs ADD COLUMN acquisition VARCHAR;
ALTER TABLE agg_search_docs ADD COLUMN owner VARCHAR;

-- Rebuild every aggregate at the next refresh, so the new columns are filled.
DELETE FROM agg_state;

-- v_documents v4 (the columns of 0016, then the customer's): the hashed customer id and
-- the segment attributes on the document's local day; NULL when not linked.
CREATE OR REPLACE VIEW v_documents AS
WITH current_sentiment AS (
    SELECT doc_id, label, score
    FROM doc_sentiment
    WHERE model_version = (
        SELECT model_version FROM doc_sentiment ORDER BY scored_at DESC, model_version LIMIT 1
    )
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
    )                                                     AS categories,
    dc.customer_id,
    dc.segment,
    dc.province,
    dc.city,
    dc.acquisition,
    dc.owner
FROM raw_documents r
LEFT JOIN doc_texts t ON t.doc_id = r.id
LEFT JOIN current_sentiment s ON s.doc_id = coalesce(t.duplicate_of, r.id)
LEFT JOIN doc_themes d ON d.doc_id = r.id
LEFT JOIN tracked_themes tt ON tt.theme_id = d.theme_id
LEFT JOIN complaint_themes ct ON ct.theme_id = d.theme_id
LEFT JOIN doc_customers dc ON dc.doc_id = r.id;

-- v_aspects v2 (the columns of 0012, then the customer's segment attributes).
CREATE OR REPLACE VIEW v_aspects AS
WITH current_model AS (
    SELECT model_version FROM doc_aspects_scored
    GROUP BY model_version ORDER BY count(*) DESC, model_version LIMIT 1
)
SELECT
    a.doc_id,
    r.local_day,
    r.source,
    a.aspect,
    a.polarity,
    a.score,
    a.clause,
    dc.segment,
    dc.province,
    dc.city,
    dc.owner
FROM doc_aspects a
JOIN raw_documents r ON r.id = a.doc_id
LEFT JOIN doc_customers dc ON dc.doc_id = a.doc_id
WHERE a.model_version = (SELECT model_version FROM current_model);
