-- Customers (客户细分) and satisfaction surveys (满意度测评). No raw key (member id, phone,
-- e-mail, uid, name) is stored anywhere: keys are salted hashes (voc.customers).

-- The hashed customer key a source gave for a voice (requester e-mail, member id, a phone
-- number in the text before masking); NULL when the source has none.
ALTER TABLE raw_documents ADD COLUMN customer_key VARCHAR;

-- One row per customer: the latest imported attributes.
CREATE TABLE customers (
    customer_id   VARCHAR PRIMARY KEY,    -- hash of the primary key (first key column given)
    segment       VARCHAR,                -- tier: 高价值 / 高贡献 / 一般 / 休眠 …
    province      VARCHAR,
    city          VARCHAR,
    acquisition   VARCHAR,                -- CALL IN / 自主开发 / 广告 / 老客户推荐 …
    owner         VARCHAR,                -- account manager
    first_order   DATE,
    last_order    DATE,
    order_count   INTEGER,
    spend         DOUBLE,
    first_import  VARCHAR NOT NULL,
    last_import   VARCHAR NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

-- Every hashed key of a customer (member id, mobile, e-mail, platform uid) → the customer.
CREATE TABLE customer_keys (
    key_hash      VARCHAR PRIMARY KEY,
    customer_id   VARCHAR NOT NULL,
    key_type      VARCHAR NOT NULL,       -- member_id / mobile / email / uid
    import_id     VARCHAR NOT NULL
);
CREATE INDEX customer_keys_customer ON customer_keys (customer_id);

-- Segment history: a voice is attributed to the segment its customer had on the voice's
-- local day: valid_from <= local_day AND (valid_to IS NULL OR local_day < valid_to).
-- The first known row of a customer has valid_from = NULL (it holds for all earlier days).
CREATE TABLE customer_segments (
    customer_id   VARCHAR NOT NULL,
    valid_from    DATE,                   -- inclusive; NULL = since ever
    valid_to      DATE,                   -- exclusive; NULL = current
    segment       VARCHAR,
    province      VARCHAR,
    city          VARCHAR,
    acquisition   VARCHAR,
    owner         VARCHAR,
    import_id     VARCHAR NOT NULL
);
CREATE INDEX customer_segments_customer ON customer_segments (customer_id);

-- One row per import of a customer file (or a uid mapping file).
CREATE TABLE customer_imports (
    import_id     VARCHAR PRIMARY KEY,
    kind          VARCHAR NOT NULL,       -- customers / uids
    file_name     VARCHAR NOT NULL,
    file_sha256   VARCHAR NOT NULL,
    as_of         DATE NOT NULL,
    n_rows        INTEGER NOT NULL,
    n_new         INTEGER NOT NULL,
    n_changed     INTEGER NOT NULL,
    n_unchanged   INTEGER NOT NULL,
    n_skipped     INTEGER NOT NULL,
    n_conflicts   INTEGER NOT NULL,
    imported_at   TIMESTAMPTZ NOT NULL
);

-- Each voice's customer and that customer's segment on the day it was written (rebuilt
-- by warehouse.customers when documents or customers change). No row = not linked.
CREATE TABLE doc_customers (
    doc_id        VARCHAR PRIMARY KEY,
    customer_id   VARCHAR NOT NULL,
    via           VARCHAR NOT NULL,       -- key (the source's customer key) / uid (author)
    segment       VARCHAR,
    province      VARCHAR,
    city          VARCHAR,
    acquisition   VARCHAR,
    owner         VARCHAR
);
CREATE INDEX doc_customers_customer ON doc_customers (customer_id);

-- Survey responses' scores; their open answers are documents (channel 'survey').
CREATE TABLE survey_responses (
    response_id   VARCHAR PRIMARY KEY,    -- voc.records.document_id(source, external_id)
    source        VARCHAR NOT NULL,
    external_id   VARCHAR NOT NULL,
    customer_key  VARCHAR,                -- hashed respondent key
    submitted_at  TIMESTAMPTZ NOT NULL,
    local_day     DATE NOT NULL,
    nps           SMALLINT,               -- 0..10
    csat          SMALLINT,               -- 1..5
    first_run_id  VARCHAR NOT NULL,
    last_run_id   VARCHAR NOT NULL,
    UNIQUE (source, external_id)
);
CREATE INDEX survey_responses_day ON survey_responses (local_day);

-- Which documents are a response's open answers, and to which question.
CREATE TABLE survey_answers (
    doc_id        VARCHAR PRIMARY KEY,
    response_id   VARCHAR NOT NULL,
    question      VARCHAR NOT NULL
);
CREATE INDEX survey_answers_response ON survey_answers (response_id);
