-- Curated complaint categories (nlp.taxonomy): a document may have several. Every row
-- carries the taxonomy version that produced it; a new version re-tags all history.
CREATE TABLE doc_categories (
    doc_id            VARCHAR NOT NULL,
    category          VARCHAR NOT NULL,
    matched_by        VARCHAR NOT NULL,     -- keyword | regex | example
    evidence          VARCHAR NOT NULL,     -- the keywords / regex match / example sentence
    score             DOUBLE NOT NULL,      -- 1.0, or the example's cosine similarity
    taxonomy_version  VARCHAR NOT NULL,
    PRIMARY KEY (doc_id, category)
);
CREATE INDEX doc_categories_category ON doc_categories (category);

-- Which documents were tagged, by which version, from which normalised text: a document
-- that matched no category has no doc_categories row but is still tagged, and a rewritten
-- text (new norm_hash) is tagged again.
CREATE TABLE doc_categorisations (
    doc_id            VARCHAR PRIMARY KEY,
    taxonomy_version  VARCHAR NOT NULL,
    norm_hash         VARCHAR NOT NULL,
    n_categories      INTEGER NOT NULL,
    tagged_at         TIMESTAMPTZ NOT NULL
);
