-- Escalation threats (nlp.stages.escalation): one row per document and kind (regulator,
-- media, legal, compensation) with the words that matched.
CREATE TABLE doc_escalation (
    doc_id        VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    evidence      VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    scored_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (doc_id, kind)
);
