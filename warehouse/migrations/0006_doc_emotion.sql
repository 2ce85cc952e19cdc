-- Emotion of a document (nlp.emotion): the most probable of anger, sadness, fear, joy,
-- surprise, neutral; score is that label's probability and anger the probability of
-- anger whatever the label, so anger can be averaged or thresholded later.
CREATE TABLE doc_emotion (
    doc_id        VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    label         VARCHAR NOT NULL,
    score         DOUBLE NOT NULL,
    anger         DOUBLE NOT NULL,
    scored_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (doc_id, model_version)
);
