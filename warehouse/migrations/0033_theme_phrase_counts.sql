-- Theme key phrases kept up to date run by run (`warehouse.theme_phrases`): the phrases
-- each themed document was counted with, and their sums per theme, so a run reads the
-- documents whose theme or tokens changed instead of every member's tokens. Empty here:
-- the first run after this migration counts every themed document once.
CREATE TABLE theme_doc_phrases (
    doc_id       VARCHAR PRIMARY KEY,  -- doc_themes.doc_id
    theme_id     VARCHAR NOT NULL,     -- its theme when counted
    tokens_hash  UBIGINT NOT NULL,     -- hash() of its doc_tokens.tokens when counted
    phrases      VARCHAR[] NOT NULL
);
CREATE TABLE theme_phrase_counts (
    theme_id     VARCHAR NOT NULL,
    phrase       VARCHAR NOT NULL,
    n_docs       INTEGER NOT NULL,     -- documents of the theme with the phrase (> 0)
    PRIMARY KEY (theme_id, phrase)
);
-- What the counts were made with (the words a phrase may not contain): another basis
-- counts everything again.
CREATE TABLE theme_phrase_basis (
    basis        VARCHAR NOT NULL
);
