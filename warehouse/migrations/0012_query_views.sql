-- Documented views for the 查询 Query page (warehouse.sql_console): product teams query
-- these, not the tables, so the tables can change underneath without breaking saved SQL.
-- Every column here is listed in warehouse.sql_console.SCHEMA_REFERENCE (a test checks).

-- One row per document with its newest enrichments. Sentiment is the model version that
-- scored most recently (as the dashboard shows it); an exact duplicate, which is never
-- scored itself, shows the sentiment of the document it duplicates.
CREATE VIEW v_documents AS
WITH current_model AS (
    SELECT model_version FROM doc_sentiment ORDER BY scored_at DESC, model_version LIMIT 1
),
categories AS (
    SELECT doc_id, list(category ORDER BY category) AS categories
    FROM doc_categories
    GROUP BY doc_id
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
    coalesce(c.categories, []::VARCHAR[])                 AS categories
FROM raw_documents r
LEFT JOIN doc_texts t ON t.doc_id = r.id
LEFT JOIN doc_sentiment s
    ON s.doc_id = coalesce(t.duplicate_of, r.id)
    AND s.model_version = (SELECT model_version FROM current_model)
LEFT JOIN doc_themes d ON d.doc_id = r.id
LEFT JOIN tracked_themes tt ON tt.theme_id = d.theme_id
LEFT JOIN complaint_themes ct ON ct.theme_id = d.theme_id
LEFT JOIN categories c ON c.doc_id = r.id;

-- Documents and negative documents per day and source (recomputed each run).
CREATE VIEW v_daily AS
SELECT local_day, source, channel, n_docs, n_negative, n_positive, negative_share
FROM daily_source_stats;

-- Live complaint themes (v2, ids stable across runs); themes merged into another are left out.
CREATE VIEW v_themes AS
SELECT
    theme_id, label, keywords, key_phrases, n_docs, n_negative, negativity,
    first_seen, last_seen, state
FROM tracked_themes
WHERE merged_into IS NULL;

-- Aspect-level sentiment of the aspect model that read the most documents (one model's
-- view, not a mix), with the document's day and source for grouping.
CREATE VIEW v_aspects AS
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
    a.clause
FROM doc_aspects a
JOIN raw_documents r ON r.id = a.doc_id
WHERE a.model_version = (SELECT model_version FROM current_model);
