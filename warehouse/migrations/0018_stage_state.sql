-- One invalidation rule for every enrichment stage (voc.stages, warehouse.enrichment): a
-- document's result is current while its content hash and the stage's fingerprint (version
-- plus the fingerprints of the stages it reads) are the ones recorded here.
CREATE TABLE doc_stage_state (
    stage         VARCHAR NOT NULL,
    doc_id        VARCHAR NOT NULL,
    content_hash  VARCHAR NOT NULL,       -- raw_documents.content_hash the result was made from
    version       VARCHAR NOT NULL,       -- the stage's own version (model, taxonomy…)
    fingerprint   VARCHAR NOT NULL,       -- version + upstream fingerprints
    n_records     INTEGER NOT NULL,       -- rows the stage wrote for the document
    done_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (stage, doc_id)
);

-- Segmentation has its own table (it shared doc_texts with normalisation).
CREATE TABLE doc_tokens (
    doc_id        VARCHAR PRIMARY KEY,
    tokens        VARCHAR[] NOT NULL
);
INSERT INTO doc_tokens SELECT doc_id, tokens FROM doc_texts WHERE tokens IS NOT NULL;
-- DuckDB cannot drop a column of a table with an index.
DROP INDEX doc_texts_hash;
ALTER TABLE doc_texts DROP COLUMN tokens;
CREATE INDEX doc_texts_hash ON doc_texts (norm_hash);

-- The per-stage bookkeeping tables become views over the one state table. Earlier states
-- are carried over with an empty fingerprint: current results stay readable, and the next
-- run recomputes them under the common rule.
INSERT INTO doc_stage_state
SELECT 'taxonomy', c.doc_id, r.content_hash, c.taxonomy_version, '', c.n_categories, c.tagged_at
FROM doc_categorisations c JOIN raw_documents r ON r.id = c.doc_id;
INSERT INTO doc_stage_state
SELECT 'aspects', a.doc_id, r.content_hash, a.model_version, '', a.n_aspects, a.scored_at
FROM (SELECT * FROM doc_aspects_scored QUALIFY row_number() OVER (
        PARTITION BY doc_id ORDER BY scored_at DESC, model_version) = 1) a
JOIN raw_documents r ON r.id = a.doc_id;
DROP VIEW v_aspects;
DROP TABLE doc_categorisations;
DROP TABLE doc_aspects_scored;

CREATE VIEW doc_categorisations AS
SELECT doc_id, version AS taxonomy_version, n_records AS n_categories, done_at AS tagged_at
FROM doc_stage_state WHERE stage = 'taxonomy';

CREATE VIEW doc_aspects_scored AS
SELECT doc_id, version AS model_version, n_records AS n_aspects, done_at AS scored_at
FROM doc_stage_state WHERE stage = 'aspects';

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
