-- v_sentiment_corrections (same columns as in 0014): a withdrawn correction (its latest row
-- has the model's own label again, `warehouse.actions.withdraw_correction`) is left out.
CREATE OR REPLACE VIEW v_sentiment_corrections AS
SELECT
    c.doc_id,
    d.local_day,
    d.source,
    c.text,
    c.model_version,
    c.predicted_label,
    c.corrected_label,
    c.who,
    c.note,
    c.corrected_at
FROM sentiment_corrections c
LEFT JOIN raw_documents d ON d.id = c.doc_id
QUALIFY row_number() OVER (PARTITION BY c.doc_id ORDER BY c.correction_id DESC) = 1
    AND c.corrected_label <> c.predicted_label;
