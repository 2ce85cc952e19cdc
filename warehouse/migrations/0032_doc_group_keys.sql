-- Lookup keys of the near-duplicate groups (`nlp.neardup.index_keys`): a run of the group
-- stage reads only the stored documents that share a key with its new documents instead
-- of rebuilding the index from every signature of the history window (at 300k documents
-- that rebuild was two thirds of the stage's time). Per document: slot 0 its signature's
-- 64-bit digest, slot 1 + b the key of LSH band b. Written with doc_groups; documents
-- grouped before this migration get theirs on the next run (computing a key needs the
-- seeded hash functions, which SQL does not have).
CREATE TABLE doc_group_keys (
    doc_id  VARCHAR NOT NULL,     -- doc_groups.doc_id
    slot    SMALLINT NOT NULL,
    key     UBIGINT NOT NULL
);
