-- Near-duplicate groups (nlp.neardup): reposts and copy-paste campaigns are one voice.
-- group_id is the doc id of the group's first member, so it is stable across runs;
-- signature is the MinHash signature (or a short text's hash) the index is rebuilt from.
CREATE TABLE doc_groups (
    doc_id      VARCHAR PRIMARY KEY,
    group_id    VARCHAR NOT NULL,
    similarity  DOUBLE NOT NULL,          -- estimated Jaccard to the closest earlier member
    signature   BLOB NOT NULL,
    grouped_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX doc_groups_group ON doc_groups (group_id);

-- One row per voice: how many documents say it, since when, from how many sources.
CREATE VIEW doc_voices AS
SELECT
    g.group_id,
    count(*)                                            AS size,
    first(r.id ORDER BY r.created_at, r.id)             AS first_doc_id,
    min(r.local_day)                                    AS first_day,
    max(r.local_day)                                    AS last_day,
    count(DISTINCT r.source)                            AS n_sources,
    count(DISTINCT r.author_hash)                       AS n_authors
FROM doc_groups g
JOIN raw_documents r ON r.id = g.doc_id
GROUP BY g.group_id;
