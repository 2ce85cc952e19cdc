-- What dashboard users did, copied from the SQLite side store (warehouse.actions, the
-- source of truth) by each flow run: whole logs, replaced in one transaction.

-- Alert handling log: one row per status change or comment, in the order they were made.
CREATE TABLE alert_actions (
    action_id   BIGINT PRIMARY KEY,   -- order of the actions in the side store
    episode_id  VARCHAR NOT NULL,     -- spike_episodes.episode_id
    status      VARCHAR NOT NULL,     -- new | acknowledged | resolved
    who         VARCHAR NOT NULL,
    note        VARCHAR NOT NULL,
    acted_at    TIMESTAMPTZ NOT NULL
);

-- Sentiment corrections log; the latest per document is the one that counts.
CREATE TABLE sentiment_corrections (
    correction_id   BIGINT PRIMARY KEY,
    doc_id          VARCHAR NOT NULL,
    text            VARCHAR NOT NULL,  -- the (masked) text the user saw
    model_version   VARCHAR NOT NULL,  -- the model whose label was wrong
    predicted_label VARCHAR NOT NULL,
    corrected_label VARCHAR NOT NULL,
    who             VARCHAR NOT NULL,
    note            VARCHAR NOT NULL,
    corrected_at    TIMESTAMPTZ NOT NULL
);

-- Every spike episode with its current handling status: 'new' until someone acts on it.
CREATE VIEW v_alert_status AS
WITH ranked AS (
    SELECT
        episode_id, status, who, note, acted_at,
        row_number() OVER (PARTITION BY episode_id ORDER BY action_id DESC) AS newest,
        count(*) OVER (PARTITION BY episode_id)                              AS n_actions,
        min(acted_at) OVER (PARTITION BY episode_id)                         AS first_action_at
    FROM alert_actions
)
SELECT
    e.episode_id,
    e.key_kind,
    e.key_value,
    e.metric,
    e.severity,
    e.start_period,
    e.end_period,
    e.is_open,
    coalesce(r.status, 'new')     AS status,
    r.who                         AS status_by,
    r.note                        AS status_note,
    r.acted_at                    AS status_at,
    r.first_action_at,
    coalesce(r.n_actions, 0)      AS n_actions
FROM spike_episodes e
LEFT JOIN ranked r ON r.episode_id = e.episode_id AND r.newest = 1;

-- The latest correction per document, with the document's day and source when it exists.
CREATE VIEW v_sentiment_corrections AS
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
QUALIFY row_number() OVER (PARTITION BY c.doc_id ORDER BY c.correction_id DESC) = 1;
