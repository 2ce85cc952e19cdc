-- Aspect-level sentiment (nlp.aspects): one row per document, aspect and model. A document
-- naming an aspect in several clauses keeps one mention (nlp.aspects.strongest_by_aspect):
-- a negative one if any, else positive, else neutral, the most confident of those; clause
-- is the one it was read from. score = P(positive) + 0.5 P(neutral), as in doc_sentiment.
CREATE TABLE doc_aspects (
    doc_id        VARCHAR NOT NULL,
    aspect        VARCHAR NOT NULL,
    polarity      VARCHAR NOT NULL,
    score         DOUBLE NOT NULL,
    confidence    DOUBLE NOT NULL,
    clause        VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    scored_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (doc_id, aspect, model_version)
);
CREATE INDEX doc_aspects_aspect ON doc_aspects (aspect);

-- Which documents a model has read, aspects found or not, and the normalised text it read
-- (by hash): a rewritten text no longer matches and is read again.
CREATE TABLE doc_aspects_scored (
    doc_id        VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    norm_hash     VARCHAR NOT NULL,
    n_aspects     INTEGER NOT NULL,
    scored_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (doc_id, model_version)
);
